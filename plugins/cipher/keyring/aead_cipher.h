// The AEAD cipher behind the aes-gcm and chacha20-poly1305 plugins: both are
// this class with a different OpenSSL EVP cipher.
//
// Sealed format: nonce (12 bytes, fresh and random per seal) || ciphertext
// (as long as the plaintext) || tag (16 bytes). The associated data the
// caller gives (the Store passes stream, revision and event type) is
// authenticated, not stored: opening with other associated data fails.
//
// Keys come from the keyring file named by option `keyring` (see
// keyring.h); seal uses the active key and reports its id; open uses the key
// id it is given. Rotate adds a fresh key to the file and makes it active.
//
// Speed: each thread keeps one EVP_CIPHER_CTX per key and direction with
// the key schedule loaded, so a seal only sets the nonce. Those contexts are
// freed (and their key schedules wiped) when the instance closes.
#ifndef CAIRN_PLUGINS_CIPHER_KEYRING_AEAD_CIPHER_H_
#define CAIRN_PLUGINS_CIPHER_KEYRING_AEAD_CIPHER_H_

#include <cairn/sdk/cipher.hpp>
#include <openssl/evp.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "keyring.h"

namespace cairn::keyring {

inline constexpr size_t kNonceBytes = 12;  // 96-bit nonces
inline constexpr size_t kTagBytes = 16;    // 128-bit tags

struct AeadAlgorithm {
  const char* plugin_name;           // "aes-gcm": used in messages
  const EVP_CIPHER* (*evp_cipher)();  // EVP_aes_256_gcm, ...
};

// A plugin derives from this class, passing its algorithm, and calls
// LoadKeyring from its static Open (the SDK's factory).
class AeadCipher : public sdk::Cipher {
 public:
  ~AeadCipher() override;

  // Thread-safe, also concurrently with Rotate.
  sdk::Status Seal(std::string_view associated, std::string_view plaintext,
                   sdk::BufferWriter& output, uint32_t* key_id) override;
  // Thread-safe. Unknown key id: NotFound naming it. Anything else wrong
  // (bytes, associated data, key): Integrity; no plaintext is output.
  sdk::Status Open(uint32_t key_id, std::string_view associated,
                   std::string_view sealed, sdk::BufferWriter& output) override;
  // Adds a fresh key to the keyring file (see RotateKeyringFile) and makes
  // it active here. Keys other processes added meanwhile become known too.
  sdk::Status Rotate(uint32_t* key_id) override;

  struct ThreadContexts;  // per thread: EVP contexts of this instance

 protected:
  explicit AeadCipher(const AeadAlgorithm& algorithm);

  // Loads the keyring named by option `keyring` (required). Fails with the
  // keyring's refusal (see Keyring::Load), or InvalidArgument if the option
  // is missing, or Unsupported if this OpenSSL lacks the algorithm.
  sdk::Status LoadKeyring(const sdk::Options& options);

 private:

  // This thread's contexts for `key_id` (created on first use). Sets
  // *context, or fails with NotFound for an unknown key.
  sdk::Status Context(uint32_t key_id, bool seal, EVP_CIPHER_CTX** context);
  ThreadContexts& ThisThread();

  const AeadAlgorithm algorithm_;
  std::string keyring_path_;
  const uint64_t instance_id_;  // unique per process, never reused
  std::atomic<uint32_t> active_id_;
  std::mutex mutex_;  // guards keyring_ and threads_
  Keyring keyring_;
  std::vector<std::weak_ptr<ThreadContexts>> threads_;
};

}  // namespace cairn::keyring

#endif  // CAIRN_PLUGINS_CIPHER_KEYRING_AEAD_CIPHER_H_
