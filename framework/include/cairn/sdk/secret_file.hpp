// Files that hold secrets — a cipher's keyring, cairnd's TLS private key —
// must be private to the process that reads them. Header-only (POSIX), so
// plugins and hosts share one rule.
#ifndef CAIRN_SDK_SECRET_FILE_HPP_
#define CAIRN_SDK_SECRET_FILE_HPP_

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

namespace cairn::sdk {

// What makes the file `info` describes unfit to hold a secret read by a
// process running as user `user`, or "" if nothing does:
//   - it is not a regular file;
//   - group or others may read or write it (any bit of 077, also execute:
//     the fix is one 'chmod 600');
//   - another user owns it. Root gets no exception: a root process refuses
//     a key file another user owns, because that user can read or replace
//     the secret (the fix is 'chown').
// `name` names the file in the message, e.g. "keyring /etc/cairn/keys" or
// "[tls] key-file = /etc/cairn/tls.key"; `path` is used in the fix.
inline std::string SecretFileProblem(const struct stat& info, uid_t user,
                                     const std::string& name,
                                     const std::string& path) {
  if (!S_ISREG(info.st_mode)) return name + " is not a regular file";
  if ((info.st_mode & 077) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof(mode), "%04o",
                  static_cast<unsigned>(info.st_mode & 07777));
    return name + " is open to group or others (mode " + mode +
           "); it holds secrets and must be private: run 'chmod 600 " + path +
           "'";
  }
  if (info.st_uid != user) {
    return name + " is owned by uid " + std::to_string(info.st_uid) +
           ", not by uid " + std::to_string(user) +
           " that runs this process; another user could read or replace "
           "its secrets: run 'chown " + std::to_string(user) + " " + path +
           "' (or run as its owner)";
  }
  return std::string();
}

// SecretFileProblem for the open file `fd` (checked with fstat, so the file
// checked is the file read) and the process's effective user.
inline std::string SecretFileProblem(int fd, const std::string& name,
                                     const std::string& path) {
  struct stat info;
  if (::fstat(fd, &info) != 0) {
    return name + ": cannot stat: " + std::strerror(errno);
  }
  return SecretFileProblem(info, ::geteuid(), name, path);
}

// Reads the secret file `path` into `*text` after checking, on the open
// file, SecretFileProblem. False with `*error` naming the file (`name`) and
// what was wrong. The text is read straight into a string with room for
// 64 KiB (far more than a PEM key), so no regrowth leaves a copy behind; the
// caller wipes it (OPENSSL_cleanse) once used, and on failure nothing read
// is left in `*text`.
inline bool ReadSecretFile(const std::string& path, const std::string& name,
                           std::string* text, std::string* error) {
  text->clear();
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    *error = name + ": cannot open: " + std::strerror(errno);
    return false;
  }
  *error = SecretFileProblem(fd, name, path);
  if (!error->empty()) {
    ::close(fd);
    return false;
  }
  text->reserve(64 * 1024);
  for (size_t used = 0;;) {
    text->resize(used + 4096);
    ssize_t got = ::read(fd, text->data() + used, 4096);
    if (got > 0) {
      used += static_cast<size_t>(got);
    } else if (got == 0) {
      text->resize(used);
      break;
    } else if (errno != EINTR) {
      const int code = errno;
      ::close(fd);
      for (char& c : *text) *reinterpret_cast<volatile char*>(&c) = 0;
      text->clear();
      *error = name + ": cannot read: " + std::strerror(code);
      return false;
    }
  }
  ::close(fd);
  return true;
}

}  // namespace cairn::sdk

#endif  // CAIRN_SDK_SECRET_FILE_HPP_
