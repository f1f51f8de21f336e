// POSIX (Linux) implementation of FileSystem: mmap, fdatasync, flock.
#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <utility>

#include "file_system.h"

namespace cairn::mmaplog {
namespace {

absl::Status OsError(const std::string& what, const std::string& path) {
  return absl::UnavailableError(what + " '" + path +
                                "' failed: " + std::strerror(errno));
}

absl::Status AllocateRange(int fd, const std::string& path, size_t offset,
                           size_t length, FileFill fill);

class PosixMappedFile : public MappedFile {
 public:
  PosixMappedFile(std::string path, int fd, uint8_t* data, size_t size)
      : path_(std::move(path)), fd_(fd), data_(data), size_(size) {}
  ~PosixMappedFile() override {
    if (data_ != nullptr) munmap(data_, size_);
    if (fd_ >= 0) close(fd_);
  }
  uint8_t* data() const override { return data_; }
  size_t size() const override { return size_; }
  const std::string& path() const override { return path_; }

  absl::Status Sync(size_t offset, size_t length) override {
    if (offset == 0 && length >= size_) {
      // fdatasync writes back the dirty pages of shared mappings of the file
      // too, and only what is dirty.
      if (fdatasync(fd_) != 0) return OsError("fdatasync", path_);
      return absl::OkStatus();
    }
    // Part of the file (a segment header): msync(MS_SYNC) writes back and
    // waits for the dirty pages of that range only, then flushes like
    // fdatasync (Linux: vfs_fsync_range). fdatasync here would write back,
    // and so write-protect, every dirty page of a segment appenders are
    // filling: one TLB-shootdown IPI per page.
    const auto [start, end] = PageSpan(offset, length);
    if (end <= start) return absl::OkStatus();
    if (msync(data_ + start, end - start, MS_SYNC) != 0) {
      return OsError("msync", path_);
    }
    return absl::OkStatus();
  }

  absl::Status Prefault(size_t offset, size_t length) override {
    if (Touch(offset, length) != 0) {
      return absl::DataLossError("new segment '" + path_ +
                                 "' is not zero-filled");
    }
    return absl::OkStatus();
  }

  absl::Status Allocate(size_t offset, size_t length, FileFill fill,
                        bool sync) override {
    const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    const auto [from, end] = PageSpan(offset, length);
    // Whole pages: the last one up to its end (clamped to the file).
    const size_t to = std::min(size_, (end + page - 1) / page * page);
    if (from >= to) return absl::OkStatus();
    absl::Status s = AllocateRange(fd_, path_, from, to - from, fill);
    if (!s.ok()) return s;
    if (sync) {
      // The range's pages and the extent metadata the allocation changed
      // (vfs_fsync_range commits the journal): an appender's first sync in
      // the range then writes only its data.
      s = Sync(from, to - from);
      if (!s.ok()) return s;
    }
    return absl::OkStatus();
  }

  void Populate(size_t offset, size_t length) override {
#ifdef MADV_POPULATE_READ
    const auto [from, to] = PageSpan(offset, length);
    if (from >= to) return;
    // The kernel faults the pages in (as a read would: mapped read-only,
    // not dirtied), without a trap per page and without this process
    // reading memory other threads may be storing to. EINVAL from a kernel
    // that lacks it leaves the pages to the stores.
    (void)madvise(data_ + from, to - from, MADV_POPULATE_READ);
#else
    (void)offset;
    (void)length;
#endif
  }

  absl::Status Discard(size_t offset, size_t length) override {
    const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    size_t from = (offset + page - 1) / page * page;
    size_t to = std::min(size_, offset + length) / page * page;
    if (from >= to) return absl::OkStatus();
    // Punching a hole drops the pages from every mapping of the file too;
    // reads of them then see zeros.
    if (fallocate(fd_, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                  static_cast<off_t>(from), static_cast<off_t>(to - from)) != 0) {
      return OsError("punch a hole in", path_);
    }
    return absl::OkStatus();
  }

  void DropPageTables() override {
    // On a shared file mapping MADV_DONTNEED only zaps the page tables (in
    // batches, with one TLB flush per batch); the page cache keeps the data.
    (void)madvise(data_, size_, MADV_DONTNEED);
  }

  std::pair<size_t, size_t> NextData(size_t offset) const override {
    if (offset >= size_) return {size_, size_};
    // Neither call reads or moves anything the file's other users rely on:
    // mmaplog never reads or writes through the descriptor's offset.
    off_t data = lseek(fd_, static_cast<off_t>(offset), SEEK_DATA);
    if (data < 0) {
      if (errno == ENXIO) return {size_, size_};  // only holes from here on
      return {offset, size_};                     // cannot tell: all of it
    }
    off_t hole = lseek(fd_, data, SEEK_HOLE);
    size_t start = std::min(static_cast<size_t>(data), size_);
    if (hole < 0) return {start, size_};
    return {start, std::max(start, std::min(static_cast<size_t>(hole), size_))};
  }

 private:
  // The part of the file [offset, offset + length) lies on: from the start
  // of its first page to its end, clamped to the file.
  std::pair<size_t, size_t> PageSpan(size_t offset, size_t length) const {
    const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    return {offset / page * page,
            std::min(size_, offset + std::min(length, size_))};
  }

  // Reads the first byte of every page of the range; returns their sum.
  uint64_t Touch(size_t offset, size_t length) const {
    const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    const auto [start, end] = PageSpan(offset, length);
    uint64_t sum = 0;
    for (size_t off = start; off < end; off += page) {
      // A read brings the (zero) page into the page cache and maps it, so a
      // later store takes only a cheap write-enable fault instead of
      // allocating and zeroing a page. Reading, not writing, keeps the pages
      // clean: a sync then writes only what appenders wrote.
      sum += *static_cast<volatile uint8_t*>(data_ + off);
    }
    return sum;
  }

  std::string path_;
  int fd_;
  uint8_t* data_;
  size_t size_;
};

class PosixLock : public DirectoryLock {
 public:
  explicit PosixLock(int fd) : fd_(fd) {}
  ~PosixLock() override {
    flock(fd_, LOCK_UN);
    close(fd_);
  }

 private:
  int fd_;
};

// Files and folders of a store are the owner's alone, whatever the umask
// (which open(2) and mkdir(2) apply to the mode they are given).
constexpr mode_t kFileMode = 0600;
constexpr mode_t kDirectoryMode = 0700;

// open(2) with O_CREAT, then the store's file mode forced with fchmod: the
// umask may only take bits away, and a umask of 0277 would leave 0400.
int OpenPrivate(const std::string& path, int flags) {
  int fd = open(path.c_str(), flags | O_CREAT | O_CLOEXEC, kFileMode);
  if (fd >= 0 && fchmod(fd, kFileMode) != 0) {
    int saved = errno;
    close(fd);
    errno = saved;
    return -1;
  }
  return fd;
}

// The LOCK file names its holder, "pid N NAME\n" (NAME from
// /proc/self/comm where there is one), written once the lock is taken. The
// lock, not this text, is what excludes: the text only helps a refused
// opener say who holds the store, and goes stale harmlessly (the next
// holder rewrites it).
void WriteLockHolder(int fd) {
  std::string text = "pid " + std::to_string(getpid());
  if (FILE* comm = std::fopen("/proc/self/comm", "r")) {
    char name[64] = "";
    if (std::fgets(name, sizeof name, comm) != nullptr) {
      std::string n(name);
      while (!n.empty() && (n.back() == '\n' || n.back() == '\r')) n.pop_back();
      if (!n.empty()) text += " " + n;
    }
    std::fclose(comm);
  }
  text += "\n";
  // Best effort: a holder that cannot say who it is still holds the lock.
  if (ftruncate(fd, 0) == 0) {
    [[maybe_unused]] ssize_t written = pwrite(fd, text.data(), text.size(), 0);
  }
}

// "pid N, NAME; " from a LOCK file WriteLockHolder wrote, or "" when it
// holds nothing readable (an older store, or a holder still writing it).
std::string LockHolder(int fd) {
  char buffer[128];
  const ssize_t n = pread(fd, buffer, sizeof buffer - 1, 0);
  if (n <= 4) return "";
  std::string text(buffer, static_cast<size_t>(n));
  const size_t end = text.find('\n');
  if (end == std::string::npos || text.compare(0, 4, "pid ") != 0) return "";
  text.resize(end);
  for (char& c : text) {
    if (c < 0x20 || c > 0x7e) c = '?';  // the name is another process's
  }
  const size_t space = text.find(' ', 4);
  if (space == std::string::npos) return text + "; ";
  return text.substr(0, space) + ", " + text.substr(space + 1) + "; ";
}

std::string DirOf(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? "." : path.substr(0, slash);
}

absl::Status WriteAll(int fd, const std::string& path, const char* p,
                      size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return OsError("write", path);
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
  return absl::OkStatus();
}

// Writes `size` zero bytes from `offset` one page per write(2): the page
// cache then holds order-0 pages (one large write would get large folios,
// and a later 256-byte store would dirty, and a sync write back, a whole
// folio), and the file's extents are written ones. Every kWritebackChunk is
// sent to the disk and waited for before the next is written, so the disk
// queue never holds more than that of zeros ahead of an appender's sync.
absl::Status WriteZeros(int fd, const std::string& path, size_t offset,
                        size_t size) {
  constexpr size_t kWritebackChunk = 1u << 20;
  static const char kZeroPage[4096] = {};
  const size_t end = offset + size;
  size_t off = offset;
  size_t chunk_start = offset;
  while (off < end) {
    size_t n = std::min(sizeof kZeroPage, end - off);
    ssize_t w = pwrite(fd, kZeroPage, n, static_cast<off_t>(off));
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      if (w == 0) errno = ENOSPC;
      return OsError("write zeros to", path);
    }
    off += static_cast<size_t>(w);
    if (off - chunk_start >= kWritebackChunk || off == end) {
      if (sync_file_range(fd, static_cast<off_t>(chunk_start),
                          static_cast<off_t>(off - chunk_start),
                          SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE |
                              SYNC_FILE_RANGE_WAIT_AFTER) != 0) {
        return OsError("write back zeros of", path);
      }
      chunk_start = off;
    }
  }
  return absl::OkStatus();
}

// Gives blocks to [offset, offset + length) of `fd` as `fill` says. Without
// fallocate (EOPNOTSUPP, EINVAL) a kAllocate range stays sparse.
absl::Status AllocateRange(int fd, const std::string& path, size_t offset,
                           size_t length, FileFill fill) {
  if (length == 0) return absl::OkStatus();
  if (fill == FileFill::kWriteZeros)
    return WriteZeros(fd, path, offset, length);
  int rc = posix_fallocate(fd, static_cast<off_t>(offset),
                           static_cast<off_t>(length));
  if (rc == 0 || rc == EOPNOTSUPP || rc == EINVAL) return absl::OkStatus();
  errno = rc;
  return OsError("allocate space for", path);
}

class PosixFileSystem : public FileSystem {
 public:
  absl::StatusOr<std::unique_ptr<MappedFile>> CreateMapped(
      const std::string& path, size_t size, bool durable, Fill fill,
      size_t allocate) override {
    int fd = OpenPrivate(path, O_RDWR | O_EXCL);
    if (fd < 0) return OsError("create", path);
    // The size first: a crash then leaves a file of `size` zeros (or an
    // empty one), never a short file with blocks.
    const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    const size_t blocks = std::min(
        size, allocate >= size ? size : (allocate + page - 1) / page * page);
    absl::Status s;
    if (ftruncate(fd, static_cast<off_t>(size)) != 0) {
      s = OsError("resize", path);
    } else {
      s = AllocateRange(fd, path, 0, blocks, fill);
    }
    if (!s.ok()) {
      close(fd);
      unlink(path.c_str());
      return s;
    }
    if (!durable) return MapFd(path, fd, size);
    if (fsync(fd) != 0) {
      absl::Status s = OsError("fsync", path);
      close(fd);
      return s;
    }
    absl::Status ds = SyncDirectory(DirOf(path));
    if (!ds.ok()) {
      close(fd);
      return ds;
    }
    return MapFd(path, fd, size);
  }

  absl::StatusOr<std::unique_ptr<MappedFile>> OpenMapped(
      const std::string& path) override {
    int fd = open(path.c_str(), O_RDWR | O_CLOEXEC);
    if (fd < 0) return OsError("open", path);
    struct stat st;
    if (fstat(fd, &st) != 0) {
      absl::Status s = OsError("stat", path);
      close(fd);
      return s;
    }
    return MapFd(path, fd, static_cast<size_t>(st.st_size));
  }

  absl::Status CreateDirectories(const std::string& path) override {
    std::string partial;
    size_t i = 0;
    while (i <= path.size()) {
      size_t slash = path.find('/', i);
      if (slash == std::string::npos) slash = path.size();
      partial = path.substr(0, slash);
      i = slash + 1;
      if (partial.empty()) continue;
      if (mkdir(partial.c_str(), kDirectoryMode) == 0) {
        if (chmod(partial.c_str(), kDirectoryMode) != 0) {
          return OsError("set the mode of", partial);
        }
      } else if (errno != EEXIST) {
        return OsError("create directory", partial);
      }
    }
    struct stat st;
    if (stat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
      return absl::InvalidArgumentError("'" + path + "' is not a directory");
    }
    return absl::OkStatus();
  }

  absl::StatusOr<FileStatus> Stat(const std::string& path) override {
    struct stat st;
    FileStatus status;
    if (stat(path.c_str(), &st) != 0) {
      if (errno == ENOENT || errno == ENOTDIR) return status;
      return OsError("stat", path);
    }
    status.exists = true;
    status.directory = S_ISDIR(st.st_mode);
    status.mode = static_cast<uint32_t>(st.st_mode & 07777);
    status.owner = static_cast<uint32_t>(st.st_uid);
    return status;
  }

  absl::Status SetMode(const std::string& path, uint32_t mode) override {
    if (chmod(path.c_str(), static_cast<mode_t>(mode)) != 0) {
      return OsError("chmod", path);
    }
    return absl::OkStatus();
  }

  uint32_t CurrentUser() override { return static_cast<uint32_t>(geteuid()); }

  absl::StatusOr<std::vector<std::string>> ListDirectory(
      const std::string& dir) override {
    DIR* d = opendir(dir.c_str());
    if (d == nullptr) return OsError("list directory", dir);
    std::vector<std::string> names;
    while (struct dirent* e = readdir(d)) {
      std::string name = e->d_name;
      if (name != "." && name != "..") names.push_back(std::move(name));
    }
    closedir(d);
    return names;
  }

  bool Exists(const std::string& path) override {
    struct stat st;
    return stat(path.c_str(), &st) == 0;
  }

  absl::Status Remove(const std::string& path) override {
    if (unlink(path.c_str()) != 0 && errno != ENOENT) {
      return OsError("remove", path);
    }
    return absl::OkStatus();
  }

  absl::StatusOr<uint64_t> DiskUsage(const std::string& path) override {
    struct stat st;
    if (stat(path.c_str(), &st) != 0) return OsError("stat", path);
    return static_cast<uint64_t>(st.st_blocks) * 512;
  }

  absl::StatusOr<uint64_t> FileSize(const std::string& path) override {
    struct stat st;
    if (stat(path.c_str(), &st) != 0) return OsError("stat", path);
    return static_cast<uint64_t>(st.st_size);
  }

  absl::StatusOr<std::string> ReadFile(const std::string& path) override {
    int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return OsError("open", path);
    std::string out;
    char buf[1 << 16];
    for (;;) {
      ssize_t r = read(fd, buf, sizeof buf);
      if (r < 0) {
        if (errno == EINTR) continue;
        absl::Status s = OsError("read", path);
        close(fd);
        return s;
      }
      if (r == 0) break;
      out.append(buf, static_cast<size_t>(r));
    }
    close(fd);
    return out;
  }

  absl::Status WriteFileAtomic(const std::string& path,
                               const std::string& contents) override {
    std::string tmp = path + ".tmp";
    int fd = OpenPrivate(tmp, O_WRONLY | O_TRUNC);
    if (fd < 0) return OsError("create", tmp);
    absl::Status s = WriteAll(fd, tmp, contents.data(), contents.size());
    if (s.ok() && fdatasync(fd) != 0) s = OsError("fdatasync", tmp);
    close(fd);
    if (!s.ok()) return s;
    if (rename(tmp.c_str(), path.c_str()) != 0) return OsError("rename", tmp);
    return SyncDirectory(DirOf(path));
  }

  absl::Status AppendFile(const std::string& path, std::string_view contents,
                          bool sync) override {
    bool existed = Exists(path);
    int fd = OpenPrivate(path, O_WRONLY | O_APPEND);
    if (fd < 0) return OsError("open", path);
    absl::Status s = WriteAll(fd, path, contents.data(), contents.size());
    if (s.ok() && sync && fdatasync(fd) != 0) s = OsError("fdatasync", path);
    close(fd);
    if (s.ok() && sync && !existed) s = SyncDirectory(DirOf(path));
    return s;
  }

  absl::Status Truncate(const std::string& path, uint64_t size) override {
    int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) return OsError("open", path);
    absl::Status s;
    if (ftruncate(fd, static_cast<off_t>(size)) != 0) {
      s = OsError("truncate", path);
    } else if (fdatasync(fd) != 0) {
      s = OsError("fdatasync", path);
    }
    close(fd);
    return s;
  }

  absl::Status SyncDirectory(const std::string& dir) override {
    int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return OsError("open directory", dir);
    absl::Status s;
    if (fsync(fd) != 0) s = OsError("fsync directory", dir);
    close(fd);
    return s;
  }

  absl::Status Rename(const std::string& from,
                      const std::string& to) override {
    if (rename(from.c_str(), to.c_str()) != 0) return OsError("rename", from);
    return SyncDirectory(DirOf(to));
  }

  absl::StatusOr<std::unique_ptr<DirectoryLock>> LockDirectory(
      const std::string& dir) override {
    std::string path = dir + "/LOCK";
    int fd = OpenPrivate(path, O_RDWR);
    if (fd < 0) return OsError("open", path);
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
      const std::string holder = LockHolder(fd);
      close(fd);
      return absl::FailedPreconditionError(
          "store '" + dir + "' is open in another process (" + holder +
          "LOCK is held); close it there first, or, if that is a cairnd "
          "serving the store, run the cairn command through it with --server "
          "HOST:PORT instead of --data");
    }
    // So that an open refused by this lock can name who holds it.
    WriteLockHolder(fd);
    return std::unique_ptr<DirectoryLock>(new PosixLock(fd));
  }

 private:
  absl::StatusOr<std::unique_ptr<MappedFile>> MapFd(const std::string& path,
                                                    int fd, size_t size) {
    if (size == 0) {
      close(fd);
      return absl::DataLossError("file '" + path + "' is empty");
    }
    void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) {
      absl::Status s = OsError("mmap", path);
      close(fd);
      return s;
    }
    return std::unique_ptr<MappedFile>(
        new PosixMappedFile(path, fd, static_cast<uint8_t*>(p), size));
  }
};

}  // namespace

FileSystem* FileSystem::Default() {
  static PosixFileSystem* fs = new PosixFileSystem();
  return fs;
}

}  // namespace cairn::mmaplog
