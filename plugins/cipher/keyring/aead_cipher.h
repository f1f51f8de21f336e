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
// Seal limit: every seal is counted against its key in the keyring's usage
// file (seal_usage.h); once a key has made `max-seals-per-key` seals
// (default 2^32, NIST SP 800-38D's limit for random 96-bit nonces) sealing
// fails until the key is rotated. Opening never touches the usage file.
//
// Speed: each thread keeps one EVP_CIPHER_CTX per key and direction with
// the key schedule loaded, so a seal only sets the nonce. Those contexts are
// freed (and their key schedules wiped) when the instance closes.
#ifndef CAIRN_PLUGINS_CIPHER_KEYRING_AEAD_CIPHER_H_
#define CAIRN_PLUGINS_CIPHER_KEYRING_AEAD_CIPHER_H_

#include <cairn/sdk/cipher.hpp>
#include <cairn/sdk/thread_cache.hpp>
#include <openssl/evp.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "keyring.h"
#include "seal_usage.h"

namespace cairn::keyring {

inline constexpr size_t kNonceBytes = 12;  // 96-bit nonces
inline constexpr size_t kTagBytes = 16;    // 128-bit tags
// Plaintexts up to this size are decrypted into per-thread scratch memory.
inline constexpr size_t kOpenScratchBytes = size_t{1} << 20;

struct AeadAlgorithm {
  const char* plugin_name;           // "aes-gcm": used in messages
  const EVP_CIPHER* (*evp_cipher)();  // EVP_aes_256_gcm, ...
  // The plugin's own warning log (sdk::LogWarn of the plugin's translation
  // unit, so the line carries the plugin's name); may be null.
  SealBudget::WarnFn log_warn;
};

// A plugin derives from this class, passing its algorithm, and calls
// LoadKeyring from its static Open (the SDK's factory).
class AeadCipher : public sdk::Cipher {
 public:
  ~AeadCipher() override;

  // Thread-safe, also concurrently with Rotate. Fails with
  // ResourceExhausted naming the key id once the active key has made
  // max-seals-per-key seals, and with the usage file's error if that file
  // cannot be read or written; nothing is output then.
  sdk::Status Seal(std::string_view associated, std::string_view plaintext,
                   sdk::BufferWriter& output, uint32_t* key_id) override;
  // Thread-safe. Unknown key id: NotFound naming it. Anything else wrong
  // (bytes, associated data, key): Integrity; nothing is written to
  // `output` (it decrypts into scratch memory and copies once the tag
  // checked out).
  sdk::Status Open(uint32_t key_id, std::string_view associated,
                   std::string_view sealed, sdk::BufferWriter& output) override;
  // Adds a fresh key to the keyring file (see RotateKeyringFile) and makes
  // it active here. Keys other processes added meanwhile become known too.
  sdk::Status Rotate(uint32_t* key_id) override;

  struct ThreadContexts;  // per thread: EVP contexts of this instance

 protected:
  explicit AeadCipher(const AeadAlgorithm& algorithm);

  // Loads the keyring named by option `keyring` (required) and reads option
  // `max-seals-per-key` (1..2^64-1, default 2^32). Fails with the keyring's
  // refusal (see Keyring::Load), or InvalidArgument if `keyring` is missing
  // or `max-seals-per-key` is not a positive integer, or Unsupported if this
  // OpenSSL lacks the algorithm.
  sdk::Status LoadKeyring(const sdk::Options& options);

 private:

  // A budget for sealing with `key_id`, owned by this instance. Caller
  // holds mutex_.
  SealBudget* NewBudget(uint32_t key_id);
  // Gives this thread's unused seals of another budget back and takes a
  // batch of seals from `budget` into `contexts`.
  sdk::Status TakeSeals(ThreadContexts& contexts, SealBudget* budget);

  // This thread's context for `key_id` (created on first use). Sets
  // *context, or fails with NotFound for an unknown key.
  sdk::Status Context(ThreadContexts& contexts, uint32_t key_id, bool seal,
                      EVP_CIPHER_CTX** context);
  ThreadContexts& ThisThread();

  const AeadAlgorithm algorithm_;
  std::string keyring_path_;
  // This instance's contexts on each thread that used it lately.
  sdk::ThreadCache<ThreadContexts, 8> per_thread_;
  uint64_t max_seals_per_key_ = kDefaultMaxSealsPerKey;
  // The active key's budget; its key_id() is the active key id.
  std::atomic<SealBudget*> active_budget_;
  std::mutex mutex_;  // guards keyring_, threads_ and budgets_
  Keyring keyring_;
  std::vector<std::weak_ptr<ThreadContexts>> threads_;
  // Every budget this instance made (the active one last); destroying them
  // gives unused reservations back to the usage file.
  // (Threads' contexts share them, to give their unused seals back when the
  // thread ends.)
  std::vector<std::shared_ptr<SealBudget>> budgets_;
};

}  // namespace cairn::keyring

// The options every keyring cipher (aes-gcm, chacha20-poly1305) accepts, for
// its CAIRN_CIPHER_PLUGIN declaration.
#define CAIRN_KEYRING_CIPHER_OPTIONS                                     \
  ::cairn::sdk::OptionDesc("keyring", CAIRN_OPT_PATH, nullptr,           \
                           "the keyring file (cairn keys new)", nullptr, \
                           CAIRN_OPT_REQUIRED),                          \
      ::cairn::sdk::OptionDesc("max-seals-per-key", CAIRN_OPT_UINT,      \
                               "4294967296",                             \
                               "seals under one key before it must rotate")

#endif  // CAIRN_PLUGINS_CIPHER_KEYRING_AEAD_CIPHER_H_
