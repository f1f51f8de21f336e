// Bytes a folder occupies on disk.
#ifndef CAIRN_BENCH_DISK_USAGE_H_
#define CAIRN_BENCH_DISK_USAGE_H_

#include <cstdint>
#include <string>

namespace cairn::bench {

// Sum of allocated blocks (st_blocks * 512) of every file under `dir`, so a
// preallocated or sparse file counts what it really takes. 0 if absent.
uint64_t AllocatedBytes(const std::string& dir);

// Removes `dir` and everything in it; quiet if absent.
void RemoveTree(const std::string& dir);

}  // namespace cairn::bench

#endif  // CAIRN_BENCH_DISK_USAGE_H_
