#include "aead_cipher.h"

#include <openssl/crypto.h>
#include <openssl/err.h>

#include <climits>
#include <cstring>
#include <memory>
#include <new>

#include "nonce_source.h"

namespace cairn::keyring {

// One EVP context per key and direction, with the key schedule loaded, and
// the seals this thread took from the active key's budget and has not used
// yet (so that most seals only decrement a thread-local counter).
struct AeadCipher::ThreadContexts {
  struct Entry {
    uint32_t key_id = 0;
    EVP_CIPHER_CTX* seal = nullptr;
    EVP_CIPHER_CTX* open = nullptr;
  };
  std::vector<Entry> entries;
  // Where Open decrypts before the tag is verified, for plaintexts up to
  // kOpenScratchBytes (larger ones get a buffer of their own): a failed open
  // leaves the caller's buffer untouched, spare capacity included.
  std::unique_ptr<uint8_t[]> open_scratch;
  std::shared_ptr<SealBudget> budget;  // where seals_left came from
  uint64_t seals_left = 0;
  uint64_t generation = 0;  // ForkGeneration() when seals_left was taken

  void GiveBackSeals() {
    if (budget != nullptr) budget->GiveBack(seals_left, generation);
    seals_left = 0;
    budget.reset();
  }
  // Frees every context (EVP_CIPHER_CTX_free wipes the key schedule) and
  // gives unused seals back.
  void Clear() {
    for (Entry& entry : entries) {
      EVP_CIPHER_CTX_free(entry.seal);
      EVP_CIPHER_CTX_free(entry.open);
    }
    entries.clear();
    GiveBackSeals();
  }
  ~ThreadContexts() { Clear(); }
};

namespace {

// Seals a thread takes from its key's budget at once.
constexpr uint64_t kThreadBatch = 64;

sdk::Status OpenSslFailure(const char* plugin, const char* step) {
  unsigned long code = ERR_get_error();
  ERR_clear_error();
  char reason[256] = "no OpenSSL error recorded";
  if (code != 0) ERR_error_string_n(code, reason, sizeof(reason));
  return sdk::Internal(std::string(plugin) + ": OpenSSL " + step +
                       " failed: " + reason);
}

}  // namespace

AeadCipher::AeadCipher(const AeadAlgorithm& algorithm)
    : algorithm_(algorithm), active_budget_(nullptr) {}

AeadCipher::~AeadCipher() {
  std::lock_guard<std::mutex> lock(mutex_);
  for (std::weak_ptr<ThreadContexts>& weak : threads_) {
    if (std::shared_ptr<ThreadContexts> contexts = weak.lock()) {
      contexts->Clear();
    }
  }
  threads_.clear();
}

sdk::Status AeadCipher::LoadKeyring(const sdk::Options& options) {
  if (!options.Has("keyring") || options.Get("keyring").empty()) {
    return sdk::InvalidArgument(
        std::string("cipher '") + algorithm_.plugin_name +
        "' needs option 'keyring = PATH' naming a keyring file (create one "
        "with 'cairn keys new --keyring PATH')");
  }
  if (algorithm_.evp_cipher() == nullptr) {
    return sdk::Unsupported(std::string("cipher '") + algorithm_.plugin_name +
                            "': this OpenSSL build does not offer it");
  }
  sdk::Status status = options.GetUint(
      "max-seals-per-key", kDefaultMaxSealsPerKey, &max_seals_per_key_);
  if (!status.ok() || max_seals_per_key_ == 0) {
    return sdk::InvalidArgument(
        std::string("cipher '") + algorithm_.plugin_name +
        "': option 'max-seals-per-key' must be a whole number of seals from "
        "1 to 18446744073709551615 (default 4294967296, NIST's limit for "
        "random 96-bit nonces); got '" + options.Get("max-seals-per-key") +
        "'");
  }
  keyring_path_ = options.Get("keyring");
  std::lock_guard<std::mutex> lock(mutex_);
  status = Keyring::Load(keyring_path_, &keyring_);
  if (!status.ok()) return status;
  active_budget_.store(NewBudget(keyring_.active_id()),
                       std::memory_order_release);
  return sdk::Status::Ok();
}

SealBudget* AeadCipher::NewBudget(uint32_t key_id) {
  budgets_.push_back(std::make_shared<SealBudget>(
      algorithm_.plugin_name, keyring_path_, key_id, max_seals_per_key_,
      algorithm_.log_warn));
  return budgets_.back().get();
}

// A closed instance's contexts age out of a thread's cache, already freed
// (the keys wiped) by the instance's destructor through threads_.
AeadCipher::ThreadContexts& AeadCipher::ThisThread() {
  if (ThreadContexts* found = per_thread_.Find()) return *found;
  auto contexts = std::make_shared<ThreadContexts>();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    std::erase_if(threads_, [](const std::weak_ptr<ThreadContexts>& weak) {
      return weak.expired();
    });
    threads_.push_back(contexts);
  }
  return *per_thread_.Keep(std::move(contexts));
}

sdk::Status AeadCipher::Context(ThreadContexts& contexts, uint32_t key_id,
                                bool seal, EVP_CIPHER_CTX** context) {
  ThreadContexts::Entry* entry = nullptr;
  for (ThreadContexts::Entry& candidate : contexts.entries) {
    if (candidate.key_id == key_id) {
      entry = &candidate;
      break;
    }
  }
  EVP_CIPHER_CTX* found =
      entry == nullptr ? nullptr : (seal ? entry->seal : entry->open);
  if (found != nullptr) {
    *context = found;
    return sdk::Status::Ok();
  }
  EVP_CIPHER_CTX* created = EVP_CIPHER_CTX_new();
  if (created == nullptr) {
    return sdk::ResourceExhausted(std::string(algorithm_.plugin_name) +
                                  ": cannot allocate an EVP_CIPHER_CTX");
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    const KeyBytes* key = keyring_.Find(key_id);
    if (key == nullptr) {
      EVP_CIPHER_CTX_free(created);
      std::vector<uint32_t> ids = keyring_.ids();
      return sdk::NotFound(
          std::string(algorithm_.plugin_name) + ": key id " +
          std::to_string(key_id) + " is not in keyring " + keyring_path_ +
          " (it holds " + std::to_string(ids.size()) + " key(s), ids " +
          std::to_string(ids.front()) + ".." + std::to_string(ids.back()) +
          "); configure the keyring that sealed this event");
    }
    int ok = seal ? EVP_EncryptInit_ex(created, algorithm_.evp_cipher(),
                                       nullptr, key->data(), nullptr)
                  : EVP_DecryptInit_ex(created, algorithm_.evp_cipher(),
                                       nullptr, key->data(), nullptr);
    if (ok != 1) {
      EVP_CIPHER_CTX_free(created);
      return OpenSslFailure(algorithm_.plugin_name, "key setup");
    }
  }
  if (entry == nullptr) {
    contexts.entries.push_back(ThreadContexts::Entry{key_id, nullptr, nullptr});
    entry = &contexts.entries.back();
  }
  (seal ? entry->seal : entry->open) = created;
  *context = created;
  return sdk::Status::Ok();
}

sdk::Status AeadCipher::TakeSeals(ThreadContexts& contexts,
                                  SealBudget* budget) {
  if (contexts.generation != ForkGeneration()) {
    // Forked since these were taken: they are the parent's to use.
    contexts.seals_left = 0;
    contexts.generation = ForkGeneration();
  }
  if (contexts.budget.get() != budget) {
    contexts.GiveBackSeals();
    std::lock_guard<std::mutex> lock(mutex_);
    for (const std::shared_ptr<SealBudget>& owned : budgets_) {
      if (owned.get() == budget) contexts.budget = owned;
    }
  }
  return budget->Take(kThreadBatch, &contexts.seals_left);
}

sdk::Status AeadCipher::Seal(std::string_view associated,
                             std::string_view plaintext,
                             sdk::BufferWriter& output, uint32_t* key_id) {
  if (plaintext.size() > static_cast<size_t>(INT_MAX) - kNonceBytes -
                             kTagBytes ||
      associated.size() > static_cast<size_t>(INT_MAX)) {
    return sdk::ResourceExhausted(std::string(algorithm_.plugin_name) +
                                  ": cannot seal more than 2 GiB at once (" +
                                  std::to_string(plaintext.size()) +
                                  " bytes given)");
  }
  SealBudget* budget = active_budget_.load(std::memory_order_acquire);
  const uint32_t id = budget->key_id();
  ThreadContexts& contexts = ThisThread();
  EVP_CIPHER_CTX* context = nullptr;
  sdk::Status status = Context(contexts, id, /*seal=*/true, &context);
  if (!status.ok()) return status;
  // Counted before the nonce is drawn: a seal that fails later only
  // over-counts.
  if (contexts.budget.get() != budget || contexts.seals_left == 0 ||
      contexts.generation != ForkGeneration()) {
    status = TakeSeals(contexts, budget);
    if (!status.ok()) return status;
  }
  --contexts.seals_left;
  const size_t total = kNonceBytes + plaintext.size() + kTagBytes;
  uint8_t* out = output.Reserve(total);
  if (out == nullptr) {
    return sdk::ResourceExhausted(std::string(algorithm_.plugin_name) +
                                  ": output buffer could not grow by " +
                                  std::to_string(total) + " bytes");
  }
  status = FillNonce(out, kNonceBytes);
  if (!status.ok()) return status;
  int length = 0;
  if (EVP_EncryptInit_ex(context, nullptr, nullptr, nullptr, out) != 1) {
    return OpenSslFailure(algorithm_.plugin_name, "nonce setup");
  }
  if (!associated.empty() &&
      EVP_EncryptUpdate(context, nullptr, &length,
                        reinterpret_cast<const uint8_t*>(associated.data()),
                        static_cast<int>(associated.size())) != 1) {
    return OpenSslFailure(algorithm_.plugin_name, "associated data");
  }
  uint8_t* ciphertext = out + kNonceBytes;
  int written = 0;
  if (!plaintext.empty()) {
    if (EVP_EncryptUpdate(context, ciphertext, &written,
                          reinterpret_cast<const uint8_t*>(plaintext.data()),
                          static_cast<int>(plaintext.size())) != 1) {
      return OpenSslFailure(algorithm_.plugin_name, "encryption");
    }
  }
  int final_written = 0;
  if (EVP_EncryptFinal_ex(context, ciphertext + written, &final_written) != 1) {
    return OpenSslFailure(algorithm_.plugin_name, "encryption final");
  }
  if (static_cast<size_t>(written + final_written) != plaintext.size()) {
    return sdk::Internal(std::string(algorithm_.plugin_name) +
                         ": ciphertext length differs from plaintext length");
  }
  if (EVP_CIPHER_CTX_ctrl(context, EVP_CTRL_AEAD_GET_TAG, kTagBytes,
                          ciphertext + plaintext.size()) != 1) {
    return OpenSslFailure(algorithm_.plugin_name, "tag");
  }
  output.Commit(total);
  *key_id = id;
  return sdk::Status::Ok();
}

sdk::Status AeadCipher::Open(uint32_t key_id, std::string_view associated,
                             std::string_view sealed,
                             sdk::BufferWriter& output) {
  if (sealed.size() < kNonceBytes + kTagBytes) {
    return sdk::Integrity(
        std::string(algorithm_.plugin_name) + ": sealed record of " +
        std::to_string(sealed.size()) + " bytes is shorter than nonce and tag (" +
        std::to_string(kNonceBytes + kTagBytes) +
        " bytes); it is damaged or was not sealed by this cipher");
  }
  if (sealed.size() > static_cast<size_t>(INT_MAX) ||
      associated.size() > static_cast<size_t>(INT_MAX)) {
    return sdk::ResourceExhausted(std::string(algorithm_.plugin_name) +
                                  ": cannot open more than 2 GiB at once");
  }
  EVP_CIPHER_CTX* context = nullptr;
  ThreadContexts& contexts = ThisThread();
  sdk::Status status = Context(contexts, key_id, /*seal=*/false, &context);
  if (!status.ok()) return status;
  const uint8_t* nonce = reinterpret_cast<const uint8_t*>(sealed.data());
  const uint8_t* ciphertext = nonce + kNonceBytes;
  const size_t size = sealed.size() - kNonceBytes - kTagBytes;
  uint8_t tag[kTagBytes];
  std::memcpy(tag, ciphertext + size, kTagBytes);
  // Decrypt into scratch memory; the caller's buffer gets the plaintext only
  // once the tag checked out (cairn/plugin.h, open_sealed).
  uint8_t empty[1];
  std::unique_ptr<uint8_t[]> large;
  uint8_t* out = empty;
  if (size > kOpenScratchBytes) {
    large.reset(new (std::nothrow) uint8_t[size]);
    out = large.get();
  } else if (size != 0) {
    if (contexts.open_scratch == nullptr) {
      contexts.open_scratch.reset(new (std::nothrow)
                                      uint8_t[kOpenScratchBytes]);
    }
    out = contexts.open_scratch.get();
  }
  if (out == nullptr) {
    return sdk::ResourceExhausted(std::string(algorithm_.plugin_name) +
                                  ": cannot allocate " + std::to_string(size) +
                                  " bytes to decrypt into");
  }
  int length = 0;
  if (EVP_DecryptInit_ex(context, nullptr, nullptr, nullptr, nonce) != 1) {
    return OpenSslFailure(algorithm_.plugin_name, "nonce setup");
  }
  if (!associated.empty() &&
      EVP_DecryptUpdate(context, nullptr, &length,
                        reinterpret_cast<const uint8_t*>(associated.data()),
                        static_cast<int>(associated.size())) != 1) {
    return OpenSslFailure(algorithm_.plugin_name, "associated data");
  }
  int written = 0;
  if (size != 0 && EVP_DecryptUpdate(context, out, &written, ciphertext,
                                     static_cast<int>(size)) != 1) {
    OPENSSL_cleanse(out, size);
    return OpenSslFailure(algorithm_.plugin_name, "decryption");
  }
  int final_written = 0;
  if (EVP_CIPHER_CTX_ctrl(context, EVP_CTRL_AEAD_SET_TAG, kTagBytes, tag) != 1) {
    OPENSSL_cleanse(out, size);
    return OpenSslFailure(algorithm_.plugin_name, "tag setup");
  }
  if (EVP_DecryptFinal_ex(context, out + written, &final_written) != 1) {
    ERR_clear_error();
    OPENSSL_cleanse(out, size);
    return sdk::Integrity(
        std::string(algorithm_.plugin_name) +
        ": authentication failed with key id " + std::to_string(key_id) +
        ": the sealed bytes, their associated data (the stored fields the seal "
        "binds: stream, revision, type, and for new seals tags, timestamp and "
        "writer id) or the key differ from those used to seal");
  }
  if (static_cast<size_t>(written + final_written) != size) {
    OPENSSL_cleanse(out, size);
    return sdk::Internal(std::string(algorithm_.plugin_name) +
                         ": plaintext length differs from ciphertext length");
  }
  if (size == 0) return sdk::Status::Ok();
  sdk::Status appended = output.Append(out, size);
  OPENSSL_cleanse(out, size);
  if (!appended.ok()) {
    return sdk::ResourceExhausted(std::string(algorithm_.plugin_name) + ": " +
                                  appended.message());
  }
  return sdk::Status::Ok();
}

sdk::Status AeadCipher::Rotate(uint32_t* key_id) {
  std::lock_guard<std::mutex> lock(mutex_);
  Keyring updated;
  uint32_t new_id = 0;
  sdk::Status status = RotateKeyringFile(keyring_path_, &new_id, &updated);
  if (!status.ok()) return status;
  // Keys the file holds are a superset of ours unless someone edited it by
  // hand; a key we hold under an id the file gives another key would make
  // old events unreadable, so that is refused rather than silently merged.
  for (uint32_t id : keyring_.ids()) {
    const KeyBytes* ours = keyring_.Find(id);
    const KeyBytes* theirs = updated.Find(id);
    if (theirs == nullptr ||
        CRYPTO_memcmp(ours->data(), theirs->data(), kKeyBytes) != 0) {
      return sdk::FailedPrecondition(
          std::string(algorithm_.plugin_name) + ": keyring " + keyring_path_ +
          " no longer holds key id " + std::to_string(id) +
          " as loaded (edited by hand?); the new key " +
          std::to_string(new_id) +
          " was added to the file but this process keeps its old keys; "
          "reopen the store");
    }
  }
  keyring_ = std::move(updated);
  active_budget_.store(NewBudget(new_id), std::memory_order_release);
  *key_id = new_id;
  return sdk::Status::Ok();
}

}  // namespace cairn::keyring
