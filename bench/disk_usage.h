// Bytes a folder occupies on disk.
#ifndef CAIRN_BENCH_DISK_USAGE_H_
#define CAIRN_BENCH_DISK_USAGE_H_

#include <cstdint>
#include <string>

namespace cairn::bench {

// What the files under a folder take on disk.
struct DiskBytes {
  // Allocated blocks (st_blocks * 512): what the filesystem has given the
  // files, preallocated space included; a sparse hole counts nothing.
  uint64_t allocated = 0;
  // The allocated blocks that hold written data: `allocated` less extents
  // that are preallocated but never written (fallocate's "unwritten"
  // extents, as FIEMAP reports them after syncing the file). Equal to
  // `allocated` for a file that preallocates nothing, and where FIEMAP is
  // not supported (tmpfs, for one).
  uint64_t written = 0;
};

// DiskBytes of every regular file under `dir`; zeros if absent. Syncs each
// file first (FIEMAP_FLAG_SYNC), so delayed allocations are counted.
DiskBytes MeasureDisk(const std::string& dir);

// Allocated bytes only (MeasureDisk(dir).allocated, without the syncs).
uint64_t AllocatedBytes(const std::string& dir);

// Removes `dir` and everything in it; quiet if absent.
void RemoveTree(const std::string& dir);

}  // namespace cairn::bench

#endif  // CAIRN_BENCH_DISK_USAGE_H_
