#include "keyring.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>

#include <cairn/sdk/secret_file.hpp>

#include "atomic_file.h"
#include "directive_text.h"

namespace cairn::keyring {
namespace {

constexpr char kHexDigits[] = "0123456789abcdef";

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Wipes a std::string's bytes (used for texts holding keys).
void Wipe(std::string& text) {
  if (!text.empty()) OPENSSL_cleanse(text.data(), text.size());
  text.clear();
}

std::string Where(const std::string& origin, size_t line) {
  return "keyring " + origin + " line " + std::to_string(line) + ": ";
}

}  // namespace

Keyring::~Keyring() { Clear(); }

Keyring::Keyring(Keyring&& other) noexcept
    : keys_(std::move(other.keys_)), active_id_(other.active_id_) {
  other.keys_.clear();
  other.active_id_ = 0;
}

Keyring& Keyring::operator=(Keyring&& other) noexcept {
  if (this != &other) {
    Clear();
    keys_ = std::move(other.keys_);
    active_id_ = other.active_id_;
    other.keys_.clear();
    other.active_id_ = 0;
  }
  return *this;
}

void Keyring::Clear() {
  for (auto& [id, key] : keys_) OPENSSL_cleanse(key.data(), key.size());
  keys_.clear();
  active_id_ = 0;
}

sdk::Status Keyring::Parse(std::string_view text, const std::string& origin,
                           Keyring* out) {
  out->Clear();
  Keyring parsed;
  std::map<uint32_t, size_t> line_of_id;
  size_t active_line = 0;
  size_t line_count = 0;
  auto directive = [&](size_t line_number,
                       const std::vector<std::string_view>& words)
      -> sdk::Status {
    const std::string where = Where(origin, line_number);
    if (words[0] != "key") {
      return sdk::InvalidArgument(
          where + "unknown directive; expected 'key <id> <64 hex digits> "
                  "[active]' or a '#' comment");
    }
    if (words.size() < 3 || words.size() > 4) {
      return sdk::InvalidArgument(
          where + "expected 'key <id> <64 hex digits> [active]' (" +
          std::to_string(words.size()) + " words)");
    }
    uint64_t id = 0;
    if (!ParseDecimal(words[1], std::numeric_limits<uint32_t>::max(), &id) ||
        id == 0) {
      return sdk::InvalidArgument(
          where + "key id must be a decimal number from 1 to 4294967295");
    }
    std::string_view hex = words[2];
    if (hex.size() < 2 * kKeyBytes) {
      return sdk::InvalidArgument(
          where + "short key: " + std::to_string(hex.size()) +
          " hex digits, a 256-bit key needs " + std::to_string(2 * kKeyBytes));
    }
    if (hex.size() > 2 * kKeyBytes) {
      return sdk::InvalidArgument(
          where + "long key: " + std::to_string(hex.size()) +
          " hex digits, a 256-bit key needs " + std::to_string(2 * kKeyBytes));
    }
    KeyBytes key;
    bool hex_ok = true;
    for (size_t i = 0; i < kKeyBytes; ++i) {
      int high = HexValue(hex[2 * i]);
      int low = HexValue(hex[2 * i + 1]);
      if (high < 0 || low < 0) {
        hex_ok = false;
        break;
      }
      key[i] = static_cast<uint8_t>(high << 4 | low);
    }
    if (!hex_ok) {
      OPENSSL_cleanse(key.data(), key.size());
      return sdk::InvalidArgument(where +
                                  "key is not hexadecimal (0-9, a-f only)");
    }
    bool active = false;
    if (words.size() == 4) {
      if (words[3] != "active") {
        OPENSSL_cleanse(key.data(), key.size());
        return sdk::InvalidArgument(
            where + "the only word allowed after the key is 'active'");
      }
      active = true;
    }
    auto previous = line_of_id.find(static_cast<uint32_t>(id));
    if (previous != line_of_id.end()) {
      OPENSSL_cleanse(key.data(), key.size());
      return sdk::InvalidArgument(where + "duplicate key id " +
                                  std::to_string(id) + " (first on line " +
                                  std::to_string(previous->second) + ")");
    }
    if (active && active_line != 0) {
      OPENSSL_cleanse(key.data(), key.size());
      return sdk::InvalidArgument(where + "a second key marked active (line " +
                                  std::to_string(active_line) +
                                  " is active already); mark exactly one");
    }
    line_of_id[static_cast<uint32_t>(id)] = line_number;
    if (active) active_line = line_number;
    parsed.keys_[static_cast<uint32_t>(id)] = key;
    OPENSSL_cleanse(key.data(), key.size());
    if (active) parsed.active_id_ = static_cast<uint32_t>(id);
    return sdk::Status::Ok();
  };
  sdk::Status status = ForEachDirective(text, directive, &line_count);
  if (!status.ok()) return status;
  if (parsed.keys_.empty()) {
    return sdk::InvalidArgument(
        "keyring " + origin +
        ": holds no key and so no active key; create one with 'cairn keys "
        "new --keyring " + origin + "'");
  }
  if (parsed.active_id_ == 0) {
    return sdk::InvalidArgument(
        "keyring " + origin + ": no active key (lines 1-" +
        std::to_string(line_count) +
        " mark none); add the word 'active' after one key");
  }
  *out = std::move(parsed);
  return sdk::Status::Ok();
}

sdk::Status Keyring::Load(const std::string& path, Keyring* out) {
  out->Clear();
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int e = errno;
    if (e == ENOENT) {
      return sdk::NotFound("keyring " + path +
                           " does not exist; create it with 'cairn keys new "
                           "--keyring " + path + "'");
    }
    return sdk::IoError("keyring " + path + ": cannot open: " + ErrnoText(e));
  }
  struct stat info;
  if (::fstat(fd, &info) != 0) {
    int e = errno;
    ::close(fd);
    return sdk::IoError("keyring " + path + ": cannot stat: " + ErrnoText(e));
  }
  std::string problem = sdk::SecretFileProblem(info, ::geteuid(), "keyring " + path, path);
  if (!problem.empty()) {
    ::close(fd);
    return sdk::InvalidArgument(problem);
  }
  std::string text;
  sdk::Status status = ReadWholeFile(fd, "keyring", path, &text);
  ::close(fd);
  if (status.ok()) status = Parse(text, path, out);
  Wipe(text);
  return status;
}

std::string Keyring::Serialize() const {
  std::string text =
      "# Cairn keyring: key <id> <256-bit key in hex> [active]\n"
      "# Keep this file mode 0600. Never delete a key that sealed events.\n";
  for (const auto& [id, key] : keys_) {
    text += "key " + std::to_string(id) + " ";
    for (uint8_t byte : key) {
      text += kHexDigits[byte >> 4];
      text += kHexDigits[byte & 0x0f];
    }
    if (id == active_id_) text += " active";
    text += '\n';
  }
  return text;
}

std::vector<uint32_t> Keyring::ids() const {
  std::vector<uint32_t> ids;
  ids.reserve(keys_.size());
  for (const auto& entry : keys_) ids.push_back(entry.first);
  return ids;
}

const KeyBytes* Keyring::Find(uint32_t id) const {
  auto it = keys_.find(id);
  return it == keys_.end() ? nullptr : &it->second;
}

sdk::Status Keyring::Add(uint32_t id, const KeyBytes& key, bool active) {
  if (id == 0) return sdk::InvalidArgument("key id 0 is reserved");
  if (keys_.count(id) != 0) {
    return sdk::InvalidArgument("key id " + std::to_string(id) +
                                " is already in the keyring");
  }
  keys_[id] = key;
  if (active) active_id_ = id;
  return sdk::Status::Ok();
}

sdk::Status Keyring::AddRandomKey(uint32_t* id) {
  uint32_t next = keys_.empty() ? 1 : keys_.rbegin()->first + 1;
  if (next == 0) {
    return sdk::ResourceExhausted(
        "keyring has used every key id up to 4294967295");
  }
  KeyBytes key;
  if (RAND_bytes(key.data(), static_cast<int>(key.size())) != 1) {
    return sdk::Internal("the random generator (RAND_bytes) failed");
  }
  sdk::Status status = Add(next, key, /*active=*/true);
  OPENSSL_cleanse(key.data(), key.size());
  if (status.ok()) *id = next;
  return status;
}

std::string Keyring::Fingerprint(uint32_t id) const {
  const KeyBytes* key = Find(id);
  if (key == nullptr) return "";
  static constexpr char kLabel[] = "cairn-keyring-fingerprint-v1";
  uint8_t digest[EVP_MAX_MD_SIZE];
  unsigned int digest_size = 0;
  EVP_MD_CTX* context = EVP_MD_CTX_new();
  bool ok = context != nullptr &&
            EVP_DigestInit_ex(context, EVP_sha256(), nullptr) == 1 &&
            EVP_DigestUpdate(context, kLabel, sizeof(kLabel) - 1) == 1 &&
            EVP_DigestUpdate(context, key->data(), key->size()) == 1 &&
            EVP_DigestFinal_ex(context, digest, &digest_size) == 1;
  EVP_MD_CTX_free(context);
  if (!ok) return "";
  std::string text;
  for (size_t i = 0; i < 8 && i < digest_size; ++i) {
    text += kHexDigits[digest[i] >> 4];
    text += kHexDigits[digest[i] & 0x0f];
  }
  return text;
}

namespace {

// Writes the keyring to a temporary file and moves it to `path`: with
// rename() (replacing) or, if `create`, with link() (failing if `path`
// appeared meanwhile).
sdk::Status PublishKeyringFile(const std::string& path, const Keyring& keyring,
                               bool create) {
  if (keyring.empty() || keyring.active_id() == 0) {
    return sdk::InvalidArgument("keyring " + path +
                                ": refusing to write a keyring with no active key");
  }
  std::string text = keyring.Serialize();
  sdk::Status status = ReplaceFileAtomically("keyring", path, text, create);
  Wipe(text);
  if (status.code() == CAIRN_E_FAILED_PRECONDITION) {
    return sdk::FailedPrecondition(
        status.message() + "; use 'cairn keys rotate' to add a key to it");
  }
  return status;
}

}  // namespace

sdk::Status WriteKeyringFile(const std::string& path, const Keyring& keyring) {
  return PublishKeyringFile(path, keyring, /*create=*/false);
}

sdk::Status CreateKeyringFile(const std::string& path, uint32_t* id) {
  struct stat info;
  if (::lstat(path.c_str(), &info) == 0) {
    return sdk::FailedPrecondition(
        "keyring " + path +
        " exists already; use 'cairn keys rotate' to add a key to it");
  }
  Keyring keyring;
  sdk::Status status = keyring.AddRandomKey(id);
  if (!status.ok()) return status;
  return PublishKeyringFile(path, keyring, /*create=*/true);
}

sdk::Status RotateKeyringFile(const std::string& path, uint32_t* id,
                              Keyring* result) {
  ExclusiveFileLock lock;
  sdk::Status status = lock.Acquire("keyring", path, path + ".lock");
  if (!status.ok()) return status;
  Keyring keyring;
  status = Keyring::Load(path, &keyring);
  if (!status.ok()) return status;
  uint32_t new_id = 0;
  status = keyring.AddRandomKey(&new_id);
  if (!status.ok()) return status;
  status = WriteKeyringFile(path, keyring);
  if (!status.ok()) return status;
  *id = new_id;
  if (result != nullptr) *result = std::move(keyring);
  return sdk::Status::Ok();
}

}  // namespace cairn::keyring
