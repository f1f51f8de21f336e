// Memory for the indexes that lives in memory-mapped files, so the index's
// pages are file-backed: the kernel writes cold pages out and drops them
// under memory pressure, and they do not count against the process's
// anonymous memory. Resident anonymous memory therefore stays bounded (by the
// per-stream headers) however many events the log holds.
#ifndef CAIRN_PLUGINS_STORAGE_MMAPLOG_INDEX_ARENA_H_
#define CAIRN_PLUGINS_STORAGE_MMAPLOG_INDEX_ARENA_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "file_system.h"

namespace cairn::mmaplog {

class IndexArena {
 public:
  // Regions are files <dir>/arena-GGGGGG-NNNNNN.idx, 1 MiB, 2 MiB, ... up
  // to `region_size` bytes (bigger for a bigger allocation), G this open's
  // generation. With a null `fs` the arena uses the heap (for tests). The
  // index is rebuilt at open, so region files of earlier opens are stale:
  // RemoveStale removes them. The destructor removes this open's.
  IndexArena(FileSystem* fs, std::string dir, size_t region_size = 64u << 20);
  ~IndexArena();
  IndexArena(const IndexArena&) = delete;
  IndexArena& operator=(const IndexArena&) = delete;

  // Picks this open's generation, one past every region file in `dir`
  // (legacy arena-NNNNNN.idx files count as generation 0). Removes nothing:
  // after a kill -9 the last open's regions can be hundreds of MiB of dirty
  // page cache, and unlinking them took 94 ms of a 10 M-event open.
  absl::Status Init();

  // Removes the region files of earlier generations (a background pass
  // after the open). Safe beside Allocate. Returns the files removed.
  absl::StatusOr<size_t> RemoveStale();

  // `bytes` of zeroed memory, 64-byte aligned, valid until destruction.
  // Never fails short of running out of memory: if a region file cannot be
  // made (disk full), the heap is used instead. Thread-safe.
  void* Allocate(size_t bytes);

  // Gives back the whole pages of [p, p + bytes), memory from Allocate whose
  // values nobody needs any more: file-backed pages are punched out (they
  // read as zeros afterwards); heap memory is kept. Thread-safe.
  void Release(void* p, size_t bytes);

  uint64_t file_bytes() const;
  uint64_t heap_bytes() const;
  uint64_t released_bytes() const;
  // Bytes handed out by Allocate and not given back by Release (as asked
  // for, rounded to 64): the index structures' own size, kept as a running
  // count so a stats call costs the same however many streams there are.
  uint64_t allocated_bytes() const;

 private:
  FileSystem* const fs_;
  const std::string dir_;
  const size_t region_size_;
  uint64_t generation_ = 1;  // set by Init before any Allocate
  mutable std::mutex mu_;
  std::vector<std::unique_ptr<MappedFile>> regions_;
  std::vector<void*> heap_blocks_;
  uint8_t* cursor_ = nullptr;
  size_t left_ = 0;
  uint64_t file_bytes_ = 0;
  uint64_t heap_bytes_ = 0;
  uint64_t released_bytes_ = 0;
  uint64_t allocated_bytes_ = 0;
};

}  // namespace cairn::mmaplog

#endif  // CAIRN_PLUGINS_STORAGE_MMAPLOG_INDEX_ARENA_H_
