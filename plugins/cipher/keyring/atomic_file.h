// Small file primitives shared by the keyring file and the seal usage file:
// read a whole descriptor, replace a file atomically, hold an flock.
//
// Every message starts with `label` and the path ("keyring /etc/cairn/keys:
// cannot fsync ..."), so the caller decides how the file is named.
#ifndef CAIRN_PLUGINS_CIPHER_KEYRING_ATOMIC_FILE_H_
#define CAIRN_PLUGINS_CIPHER_KEYRING_ATOMIC_FILE_H_

#include <cairn/sdk/common.hpp>

#include <string>
#include <string_view>

namespace cairn::keyring {

// Appends everything readable from `fd` to *text. The stack buffer used on
// the way is wiped (the file may hold keys). Fails with IoError.
sdk::Status ReadWholeFile(int fd, const std::string& label,
                          const std::string& path, std::string* text);

// Writes `text` to a temporary file beside `path` (mode exactly 0600),
// fsyncs it, then moves it to `path` with rename() (replacing it) or, if
// `create`, with link() (failing with FailedPrecondition "<label> <path>
// exists already" if `path` appeared meanwhile), and fsyncs the folder.
// Readers see the old file or the new one, never a mix. The caller wipes
// `text` if it is secret.
sdk::Status ReplaceFileAtomically(const std::string& label,
                                  const std::string& path,
                                  std::string_view text, bool create);

// An exclusive flock(2) on a lock file (created mode 0600 if missing), held
// until the object is destroyed. flock locks belong to the open file, so
// this serializes threads of one process as well as processes.
class ExclusiveFileLock {
 public:
  ExclusiveFileLock() = default;
  ~ExclusiveFileLock();
  ExclusiveFileLock(const ExclusiveFileLock&) = delete;
  ExclusiveFileLock& operator=(const ExclusiveFileLock&) = delete;

  // Blocks until the lock on `lock_path` is held. Fails with IoError naming
  // `label`, `path` (the file the lock protects) and the lock file.
  sdk::Status Acquire(const std::string& label, const std::string& path,
                      const std::string& lock_path);

 private:
  int fd_ = -1;
};

std::string ErrnoText(int error_number);

}  // namespace cairn::keyring

#endif  // CAIRN_PLUGINS_CIPHER_KEYRING_ATOMIC_FILE_H_
