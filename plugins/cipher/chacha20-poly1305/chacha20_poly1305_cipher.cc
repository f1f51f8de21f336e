// The chacha20-poly1305 cipher: ChaCha20-Poly1305 (RFC 8439, OpenSSL EVP)
// under keys from a keyring file, a fresh random 96-bit nonce per seal,
// 128-bit tags. Fast without AES instructions. The sealed format, key
// handling and nonce policy are those of keyring/aead_cipher.h and
// docs/security.md.
#include <cairn/sdk/cipher.hpp>

#include "aead_cipher.h"

namespace cairn::chacha {

inline constexpr keyring::AeadAlgorithm kChaCha20Poly1305 = {
    "chacha20-poly1305", &EVP_chacha20_poly1305, &sdk::LogWarn};

class ChaCha20Poly1305Cipher : public keyring::AeadCipher {
 public:
  // Options: keyring = PATH (required), max-seals-per-key = N (default
  // 2^32).
  static sdk::Status Open(const sdk::Options& options,
                          std::unique_ptr<ChaCha20Poly1305Cipher>* out) {
    std::unique_ptr<ChaCha20Poly1305Cipher> cipher(
        new ChaCha20Poly1305Cipher());
    sdk::Status status = cipher->LoadKeyring(options);
    if (!status.ok()) return status;
    *out = std::move(cipher);
    return sdk::Status::Ok();
  }

 private:
  ChaCha20Poly1305Cipher() : AeadCipher(kChaCha20Poly1305) {}
};

}  // namespace cairn::chacha

CAIRN_CIPHER_PLUGIN(cairn::chacha::ChaCha20Poly1305Cipher, "chacha20-poly1305",
                    "1.0.0",
                    "ChaCha20-Poly1305 authenticated encryption, keys from a "
                    "rotating keyring file",
                    CAIRN_CAP_KEY_ROTATION, CAIRN_KEYRING_CIPHER_OPTIONS)
