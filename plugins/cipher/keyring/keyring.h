// The keyring shared by the AEAD cipher plugins (aes-gcm, chacha20-poly1305)
// and by `cairn keys`: key id -> 256-bit key, one key active for new seals,
// older keys kept so that events sealed with them still open.
//
// File format (docs/security.md has the long form), one directive a line:
//
//   # comment lines and blank lines are ignored
//   key 1 <64 hex digits>
//   key 2 <64 hex digits> active
//
// Key ids are decimal 1..4294967295 (0 is reserved for "no cipher"). Exactly
// one key is marked `active`. The file must be a regular file with no
// permission bits for group or others (mode 0600 or 0400).
//
// No message produced here ever contains key bytes or a line's text: a
// malformed line is named by its number only.
#ifndef CAIRN_PLUGINS_CIPHER_KEYRING_KEYRING_H_
#define CAIRN_PLUGINS_CIPHER_KEYRING_KEYRING_H_

#include <cairn/sdk/common.hpp>

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace cairn::keyring {

inline constexpr size_t kKeyBytes = 32;  // 256-bit keys
using KeyBytes = std::array<uint8_t, kKeyBytes>;

// An in-memory keyring. Key bytes are wiped (OPENSSL_cleanse) when the
// keyring is destroyed or cleared. Not thread-safe; callers lock.
class Keyring {
 public:
  Keyring() = default;
  ~Keyring();
  Keyring(Keyring&& other) noexcept;
  Keyring& operator=(Keyring&& other) noexcept;
  Keyring(const Keyring&) = delete;
  Keyring& operator=(const Keyring&) = delete;

  // Parses keyring text. `origin` names the file in messages. Fails with
  // InvalidArgument naming origin and line for: an unknown directive, a
  // malformed id, a key that is not 64 hex digits (short, long or not hex),
  // a duplicate id, a second active key; and naming origin for no active
  // key. On failure *out is left empty.
  static sdk::Status Parse(std::string_view text, const std::string& origin,
                           Keyring* out);

  // Reads `path` and parses it. Refuses, naming the file: a missing file
  // (NotFound), a file that is not a regular file, a file with any
  // permission bit for group or others (InvalidArgument, with the mode and
  // the chmod that fixes it), an unreadable file (IoError).
  static sdk::Status Load(const std::string& path, Keyring* out);

  // The file text for this keyring (contains the keys: handle with care).
  std::string Serialize() const;

  bool empty() const { return keys_.empty(); }
  uint32_t active_id() const { return active_id_; }
  // Every key id, ascending.
  std::vector<uint32_t> ids() const;
  // The key with `id`, or nullptr.
  const KeyBytes* Find(uint32_t id) const;

  // Adds `key` under `id` (refusing id 0 or an id already present); makes
  // it active if `active`.
  sdk::Status Add(uint32_t id, const KeyBytes& key, bool active);
  // Adds a fresh random key (RAND_bytes) with id = highest id + 1 and makes
  // it active. Sets *id. Fails when the ids are exhausted or the random
  // generator fails.
  sdk::Status AddRandomKey(uint32_t* id);

  // A short public fingerprint of key `id` (16 hex digits of
  // SHA-256("cairn-keyring-fingerprint-v1" || key)), so two sites can
  // compare keys without showing them. Empty if there is no such key.
  std::string Fingerprint(uint32_t id) const;

  void Clear();

 private:
  std::map<uint32_t, KeyBytes> keys_;
  uint32_t active_id_ = 0;
};

// Writes `keyring` to `path` atomically: a temporary file in the same
// folder, created with mode 0600, written, fsynced, renamed over `path`, and
// the folder fsynced. Readers see the old file or the new one, never a mix.
sdk::Status WriteKeyringFile(const std::string& path, const Keyring& keyring);

// Creates a keyring file at `path` holding one fresh active key (id 1).
// Refuses (FailedPrecondition) if `path` exists. Sets *id.
sdk::Status CreateKeyringFile(const std::string& path, uint32_t* id);

// Adds a fresh key to the keyring file at `path` and makes it active. Holds
// an exclusive lock on `path`.lock while it re-reads the file, adds the key
// and writes the file back, so concurrent rotations by several processes
// never lose a key. Sets *id to the new key and, if `result` is not null,
// *result to the keyring as written.
sdk::Status RotateKeyringFile(const std::string& path, uint32_t* id,
                              Keyring* result);

}  // namespace cairn::keyring

#endif  // CAIRN_PLUGINS_CIPHER_KEYRING_KEYRING_H_
