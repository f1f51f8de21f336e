// "chacha-example": an authenticated cipher, written as a third party would
// write a Cairn cipher plugin: ChaCha20-Poly1305 (OpenSSL's EVP) under one
// 256-bit key read from a file.
//
// Sealed value:  nonce (12 random bytes) | ciphertext | tag (16 bytes)
// The associated data the host passes (stream, revision, type) is
// authenticated with it, so a value moved to another event fails to open.
//
// Option "key-file" (required): a file of exactly 32 bytes, mode 0600 or
// stricter, e.g.  head -c 32 /dev/urandom > key && chmod 600 key
// The key's id is 1. There is no rotation (no CAIRN_CAP_KEY_ROTATION): a
// site that needs it uses the shipped aes-gcm or chacha20-poly1305 ciphers,
// whose keyrings hold many keys (docs/security.md).
#include <cairn/sdk/cipher.hpp>

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <string_view>

namespace chacha_example {

constexpr size_t kKeySize = 32;
constexpr size_t kNonceSize = 12;
constexpr size_t kTagSize = 16;
constexpr uint32_t kKeyId = 1;

// One EVP context per call: nothing is shared between threads.
struct ContextFree {
  void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
};
using Context = std::unique_ptr<EVP_CIPHER_CTX, ContextFree>;

class ChaChaCipher : public cairn::sdk::Cipher {
 public:
  static cairn::sdk::Status Open(const cairn::sdk::Options& options,
                                 std::unique_ptr<ChaChaCipher>* out) {
    const std::string path = options.Get("key-file");
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) {
      return cairn::sdk::InvalidArgument("chacha-example: key-file '" + path +
                                         "' cannot be read");
    }
    if ((st.st_mode & 077) != 0) {
      return cairn::sdk::InvalidArgument(
          "chacha-example: key-file '" + path +
          "' may be read by others; chmod 600 it");
    }
    std::ifstream in(path, std::ios::binary);
    std::string key((std::istreambuf_iterator<char>(in)),
                    std::istreambuf_iterator<char>());
    if (key.size() != kKeySize) {
      return cairn::sdk::InvalidArgument(
          "chacha-example: key-file '" + path + "' holds " +
          std::to_string(key.size()) + " bytes, not " +
          std::to_string(kKeySize));
    }
    auto cipher = std::make_unique<ChaChaCipher>();
    std::copy(key.begin(), key.end(), cipher->key_.begin());
    *out = std::move(cipher);
    return cairn::sdk::Status::Ok();
  }

  cairn::sdk::Status Seal(std::string_view associated,
                          std::string_view plaintext,
                          cairn::sdk::BufferWriter& output,
                          uint32_t* key_id) override {
    const size_t total = kNonceSize + plaintext.size() + kTagSize;
    uint8_t* out = output.Reserve(total);
    if (out == nullptr) {
      return cairn::sdk::ResourceExhausted(
          "chacha-example: output buffer could not grow");
    }
    if (RAND_bytes(out, kNonceSize) != 1) {
      return cairn::sdk::Internal("chacha-example: no random nonce");
    }
    Context ctx(EVP_CIPHER_CTX_new());
    int n = 0;
    if (!ctx ||
        EVP_EncryptInit_ex(ctx.get(), EVP_chacha20_poly1305(), nullptr,
                           key_.data(), out) != 1 ||
        !Update(ctx.get(), nullptr, &n, associated, true) ||
        !Update(ctx.get(), out + kNonceSize, &n, plaintext, true) ||
        EVP_EncryptFinal_ex(ctx.get(), out + kNonceSize + n, &n) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_AEAD_GET_TAG, kTagSize,
                            out + kNonceSize + plaintext.size()) != 1) {
      return cairn::sdk::Internal("chacha-example: encryption failed");
    }
    output.Commit(total);
    *key_id = kKeyId;
    return cairn::sdk::Status::Ok();
  }

  cairn::sdk::Status Open(uint32_t key_id, std::string_view associated,
                          std::string_view sealed,
                          cairn::sdk::BufferWriter& output) override {
    if (key_id != kKeyId) {
      return cairn::sdk::NotFound("chacha-example: key id " +
                                  std::to_string(key_id) +
                                  " is not known (this cipher has key 1)");
    }
    if (sealed.size() < kNonceSize + kTagSize) {
      return cairn::sdk::Integrity(
          "chacha-example: " + std::to_string(sealed.size()) +
          " bytes are too few for a sealed value");
    }
    const auto* in = reinterpret_cast<const uint8_t*>(sealed.data());
    const std::string_view ciphertext =
        sealed.substr(kNonceSize, sealed.size() - kNonceSize - kTagSize);
    // Decrypt into memory of our own: the caller's buffer gets nothing
    // unless the tag checks out.
    std::string plain(ciphertext.size(), '\0');
    std::array<uint8_t, kTagSize> tag{};
    std::copy(in + sealed.size() - kTagSize, in + sealed.size(), tag.begin());
    Context ctx(EVP_CIPHER_CTX_new());
    int n = 0;
    if (!ctx ||
        EVP_DecryptInit_ex(ctx.get(), EVP_chacha20_poly1305(), nullptr,
                           key_.data(), in) != 1 ||
        !Update(ctx.get(), nullptr, &n, associated, false) ||
        !Update(ctx.get(), reinterpret_cast<uint8_t*>(plain.data()), &n,
                ciphertext, false) ||
        EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_AEAD_SET_TAG, kTagSize,
                            tag.data()) != 1 ||
        EVP_DecryptFinal_ex(
            ctx.get(), reinterpret_cast<uint8_t*>(plain.data()) + n, &n) != 1) {
      return cairn::sdk::Integrity(
          "chacha-example: the sealed value, its associated data or the key "
          "do not match (authentication failed)");
    }
    return output.Append(plain.data(), plain.size());
  }

 private:
  // EVP_*Update over `in` (any size; int-sized steps); `out` null for
  // associated data.
  static bool Update(EVP_CIPHER_CTX* ctx, uint8_t* out, int* written,
                     std::string_view in, bool encrypt) {
    *written = 0;
    size_t done = 0;
    do {
      const int step =
          static_cast<int>(std::min<size_t>(in.size() - done, 1 << 30));
      int n = 0;
      const auto* from = reinterpret_cast<const uint8_t*>(in.data()) + done;
      uint8_t* to = out == nullptr ? nullptr : out + done;
      const int ok = encrypt ? EVP_EncryptUpdate(ctx, to, &n, from, step)
                             : EVP_DecryptUpdate(ctx, to, &n, from, step);
      if (ok != 1) return false;
      done += static_cast<size_t>(step);
      *written += n;
    } while (done < in.size());
    return true;
  }

  std::array<uint8_t, kKeySize> key_{};
};

}  // namespace chacha_example

CAIRN_CIPHER_PLUGIN(
    chacha_example::ChaChaCipher, "chacha-example", "1.0.0",
    "ChaCha20-Poly1305 under one key from a file (an example)", 0,
    cairn::sdk::OptionDesc("key-file", CAIRN_OPT_PATH, nullptr,
                           "file of 32 key bytes, mode 0600", nullptr,
                           CAIRN_OPT_REQUIRED | CAIRN_OPT_SECRET))
