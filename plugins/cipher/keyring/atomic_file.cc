#include "atomic_file.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace cairn::keyring {
namespace {

sdk::Status WriteAllFd(int fd, const std::string& label,
                       const std::string& path, std::string_view text) {
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return sdk::IoError(label + " " + path + ": cannot write: " +
                          ErrnoText(errno));
    }
    done += static_cast<size_t>(n);
  }
  return sdk::Status::Ok();
}

std::string FolderOf(const std::string& path) {
  size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

}  // namespace

std::string ErrnoText(int error_number) { return std::strerror(error_number); }

sdk::Status ReadWholeFile(int fd, const std::string& label,
                          const std::string& path, std::string* text) {
  char chunk[4096];
  for (;;) {
    ssize_t n = ::read(fd, chunk, sizeof(chunk));
    if (n < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      OPENSSL_cleanse(chunk, sizeof(chunk));
      return sdk::IoError(label + " " + path + ": cannot read: " +
                          ErrnoText(e));
    }
    if (n == 0) break;
    text->append(chunk, static_cast<size_t>(n));
  }
  OPENSSL_cleanse(chunk, sizeof(chunk));
  return sdk::Status::Ok();
}

sdk::Status ReplaceFileAtomically(const std::string& label,
                                  const std::string& path,
                                  std::string_view text, bool create) {
  const std::string where = label + " " + path;
  std::string temp = path + ".tmp." + std::to_string(::getpid());
  int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    return sdk::IoError(where + ": cannot create " + temp + ": " +
                        ErrnoText(errno));
  }
  sdk::Status status;
  // The umask may have narrowed the mode further but never widened it;
  // fchmod makes it exactly 0600.
  if (::fchmod(fd, 0600) != 0) {
    status = sdk::IoError(where + ": cannot chmod " + temp + ": " +
                          ErrnoText(errno));
  }
  if (status.ok()) status = WriteAllFd(fd, label, path, text);
  if (status.ok() && ::fsync(fd) != 0) {
    status = sdk::IoError(where + ": cannot fsync " + temp + ": " +
                          ErrnoText(errno));
  }
  if (::close(fd) != 0 && status.ok()) {
    status = sdk::IoError(where + ": cannot close " + temp + ": " +
                          ErrnoText(errno));
  }
  if (status.ok() && create) {
    if (::link(temp.c_str(), path.c_str()) != 0) {
      int e = errno;
      status = e == EEXIST ? sdk::FailedPrecondition(where + " exists already")
                           : sdk::IoError(where + ": cannot create: " +
                                          ErrnoText(e));
    }
    ::unlink(temp.c_str());
  } else if (status.ok() && ::rename(temp.c_str(), path.c_str()) != 0) {
    status = sdk::IoError(where + ": cannot rename " + temp + " over it: " +
                          ErrnoText(errno));
  }
  if (!status.ok()) {
    ::unlink(temp.c_str());
    return status;
  }
  int dir = ::open(FolderOf(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
  return sdk::Status::Ok();
}

ExclusiveFileLock::~ExclusiveFileLock() {
  if (fd_ >= 0) ::close(fd_);  // releases the lock
}

sdk::Status ExclusiveFileLock::Acquire(const std::string& label,
                                       const std::string& path,
                                       const std::string& lock_path) {
  int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    return sdk::IoError(label + " " + path + ": cannot open lock file " +
                        lock_path + ": " + ErrnoText(errno));
  }
  while (::flock(fd, LOCK_EX) != 0) {
    if (errno != EINTR) {
      int e = errno;
      ::close(fd);
      return sdk::IoError(label + " " + path + ": cannot lock " + lock_path +
                          ": " + ErrnoText(e));
    }
  }
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
  return sdk::Status::Ok();
}

}  // namespace cairn::keyring
