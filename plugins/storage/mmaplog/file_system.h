// The portable seam: every operating-system call mmaplog makes (files,
// mappings, syncs, directory listing, locking) goes through FileSystem, so a
// port to another OS is one more implementation file beside
// file_system_posix.cc.
#ifndef CAIRN_PLUGINS_STORAGE_MMAPLOG_FILE_SYSTEM_H_
#define CAIRN_PLUGINS_STORAGE_MMAPLOG_FILE_SYSTEM_H_

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace cairn::mmaplog {

// How a file's blocks are provided (FileSystem::CreateMapped,
// MappedFile::Allocate).
enum class FileFill {
  // Allocated but not written (fallocate: on ext4 and XFS "unwritten
  // extents"). Cheap to create, but the first sync after storing into a
  // fresh region must also write the file's extent metadata.
  kAllocate,
  // Zeros written through the file one page per write and synced, as WAL
  // recycling does: later syncs write back only the data pages stored to
  // (no extent conversion), and the page cache holds single pages, so a
  // store dirties 4 KiB, not a large folio. Costs one write of the range,
  // so it is for files that are synced often.
  kWriteZeros,
};

// A file mapped read-write and shared, so stores through data() reach the
// file. The mapping stays valid until the object is destroyed. Thread-safe
// except for destruction.
class MappedFile {
 public:
  virtual ~MappedFile() = default;
  virtual uint8_t* data() const = 0;
  virtual size_t size() const = 0;
  virtual const std::string& path() const = 0;
  // Makes bytes [offset, offset + length) durable. The whole file
  // (offset 0, length >= size) is one fdatasync; a part (a segment header)
  // writes back only the pages of that range, so a header sync does not
  // write-protect the pages appenders are filling. Fails with an Unavailable
  // status naming the file if the OS refuses.
  virtual absl::Status Sync(size_t offset, size_t length) = 0;
  // Touches every page (reading) so later stores do not fault in new pages;
  // the file must be all zeros (a fresh segment).
  virtual absl::Status Prefault() { return Prefault(0, size()); }
  // The same for the pages of [offset, offset + length) only.
  virtual absl::Status Prefault(size_t offset, size_t length) = 0;
  // Gives blocks to [offset, offset + length) (whole pages; clamped to the
  // file), which must hold only zeros or holes: nothing of it is stored to
  // before this returns. The file's size stays as it is. A later store
  // into the range then cannot meet SIGBUS on a full disk. With `sync`,
  // also durable (the range and the file's extent metadata are synced, so
  // the next sync of the file writes only data); without it, the file's
  // next sync carries the metadata. A filesystem without fallocate leaves
  // kAllocate ranges sparse (as CreateMapped does). Fails with an
  // Unavailable status naming the file (ENOSPC included). Does not map the
  // pages in: Populate does.
  virtual absl::Status Allocate(size_t offset, size_t length, FileFill fill,
                                bool sync) = 0;
  // Maps the pages of [offset, offset + length) in (read-only, so they stay
  // clean), so that a later store into each takes only a cheap
  // write-enable fault. Unlike Prefault it reads nothing in this process,
  // so it may run while other threads store into the range. Best effort:
  // where the OS cannot (before Linux 5.14, elsewhere) the stores fault the
  // pages in themselves.
  virtual void Populate(size_t /*offset*/, size_t /*length*/) {}
  // Gives back the whole pages inside [offset, offset + length): their
  // memory and disk blocks are freed and they read as zeros afterwards. The
  // default frees nothing (a port without hole punching still works).
  virtual absl::Status Discard(size_t /*offset*/, size_t /*length*/) {
    return absl::OkStatus();
  }
  // Where bytes other than zeros may be, at or after `offset`: the first
  // range [start, end) that the file system does not report as a hole
  // (SEEK_DATA / SEEK_HOLE; ext4 and XFS count an unwritten extent as a
  // hole where no page of it is cached, and cached or dirty pages as data).
  // Holes read as zeros, so a scan for non-zero bytes may skip them, and
  // skipping spares it faulting in and zeroing a page for each: at open,
  // the unused tail of a 256 MiB segment. {size(), size()} when there is no
  // data past `offset`. The default, for a file system that cannot tell, is
  // the rest of the file.
  virtual std::pair<size_t, size_t> NextData(size_t offset) const {
    return {std::min(offset, size()), size()};
  }
  // Drops this mapping's page-table entries; the data stays in the page
  // cache (dirty pages stay dirty) and data() stays valid: an access faults
  // the page back in. Before a sync of a file nobody stores to any more, this
  // spares the sync write-protecting each dirty page with a TLB flush on
  // every CPU running this process (one interrupt per page).
  virtual void DropPageTables() = 0;
};

// Calls fn(offset, end) for each piece of [from, to) of `file` that may hold
// bytes other than zeros (MappedFile::NextData), a page at a time: pieces
// end on 4 KiB boundaries, the first may start inside a page. Holes are
// skipped unread. Stops early when fn returns false.
template <typename Fn>
void ForEachDataPage(const MappedFile& file, size_t from, size_t to, Fn&& fn) {
  size_t pos = from;
  while (pos < to) {
    auto [start, stop] = file.NextData(pos);
    if (start >= to) return;
    pos = std::max(pos, start);
    const size_t page_end = std::min(to, (pos + 4096) & ~size_t{4095});
    stop = std::min(std::max(stop, page_end), to);  // at least a page: progress
    while (pos < stop) {
      const size_t end = std::min(stop, (pos + 4096) & ~size_t{4095});
      if (!fn(pos, end)) return;
      pos = end;
    }
  }
}

// An exclusive lock on a directory, held until destruction.
class DirectoryLock {
 public:
  virtual ~DirectoryLock() = default;
};

// What Stat reports of a path (following symlinks).
struct FileStatus {
  bool exists = false;
  bool directory = false;
  uint32_t mode = 0;   // permission bits (st_mode & 07777)
  uint32_t owner = 0;  // owning user id
};

class FileSystem {
 public:
  virtual ~FileSystem() = default;

  // The implementation for this platform. Never null; lives forever.
  static FileSystem* Default();

  using Fill = FileFill;

  // Creates `path` (must not exist) of exactly `size` bytes, all zero, and
  // maps it. The blocks of the first `allocate` bytes (default: all; rounded
  // up to whole pages) are allocated (see Fill); the rest is a hole that
  // takes no disk until MappedFile::Allocate gives it blocks. The size is
  // set before any block is allocated, so a crash leaves either no file, an
  // empty one, or one of `size` bytes of zeros. If `durable`, syncs the file
  // and its directory first (scratch files such as the index arena skip
  // that).
  virtual absl::StatusOr<std::unique_ptr<MappedFile>> CreateMapped(
      const std::string& path, size_t size, bool durable = true,
      Fill fill = Fill::kAllocate, size_t allocate = SIZE_MAX) = 0;
  // Disk space the file's blocks take (st_blocks * 512): holes and punched
  // pages do not count.
  virtual absl::StatusOr<uint64_t> DiskUsage(const std::string& path) = 0;
  // Maps an existing file at its current size.
  virtual absl::StatusOr<std::unique_ptr<MappedFile>> OpenMapped(
      const std::string& path) = 0;

  // Creates `path` and any missing parent, each new one with mode 0700
  // (whatever the umask); an existing folder is left as it is.
  virtual absl::Status CreateDirectories(const std::string& path) = 0;
  // Files this interface creates get mode 0600 whatever the umask.
  // A missing path is exists = false, not an error.
  virtual absl::StatusOr<FileStatus> Stat(const std::string& path) = 0;
  // Sets the permission bits of `path` (chmod).
  virtual absl::Status SetMode(const std::string& path, uint32_t mode) = 0;
  // The user id this process acts as (the effective uid).
  virtual uint32_t CurrentUser() = 0;
  // Names (not paths) of the entries of `dir`, unsorted.
  virtual absl::StatusOr<std::vector<std::string>> ListDirectory(
      const std::string& dir) = 0;
  virtual bool Exists(const std::string& path) = 0;
  virtual absl::Status Remove(const std::string& path) = 0;
  virtual absl::StatusOr<uint64_t> FileSize(const std::string& path) = 0;
  // Reads the whole file.
  virtual absl::StatusOr<std::string> ReadFile(const std::string& path) = 0;
  // Replaces `path` atomically with `contents`: a temporary file is written
  // and synced, renamed over `path`, and the directory synced.
  virtual absl::Status WriteFileAtomic(const std::string& path,
                                       const std::string& contents) = 0;
  // Appends to `path` (creating it) and, if `sync`, makes the bytes durable.
  virtual absl::Status AppendFile(const std::string& path,
                                  std::string_view contents, bool sync) = 0;
  // Shortens (or extends with zeros) `path` to `size` bytes and syncs it.
  virtual absl::Status Truncate(const std::string& path, uint64_t size) = 0;
  virtual absl::Status SyncDirectory(const std::string& dir) = 0;
  // Renames `from` over `to` atomically and syncs the directory.
  virtual absl::Status Rename(const std::string& from,
                              const std::string& to) = 0;
  // Takes an exclusive lock on `dir` (a LOCK file inside it); fails with
  // FailedPrecondition if another process holds it.
  virtual absl::StatusOr<std::unique_ptr<DirectoryLock>> LockDirectory(
      const std::string& dir) = 0;
};

}  // namespace cairn::mmaplog

#endif  // CAIRN_PLUGINS_STORAGE_MMAPLOG_FILE_SYSTEM_H_
