// The machine a run happened on, measured in the same run, so the figures
// can be read against it.
#ifndef CAIRN_BENCH_MACHINE_H_
#define CAIRN_BENCH_MACHINE_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "bench/stats.h"

namespace cairn::bench {

struct MachineProfile {
  unsigned cores = 0;           // online CPUs
  std::string cpu_model;        // /proc/cpuinfo "model name"
  uint64_t memory_bytes = 0;    // MemTotal
  std::string kernel;           // uname -r
  std::string filesystem;       // type of the folder's filesystem
  double fsync_p50_us = 0;      // 4 KiB write + fdatasync, in `dir`
  double fsync_p99_us = 0;
  double memcpy_gb_per_s = 0;   // 64 MiB copies, one thread
  // 1-minute load average when measured: other work on the machine (a
  // shared build box) shows here and in the fsync time.
  double load_average = 0;
};

// The time of a 4 KiB overwrite + fdatasync of a small file in `dir`
// (created, then removed), `rounds` samples.
absl::StatusOr<LatencySummary> MeasureFsync(const std::string& dir, int rounds);

// Measures the machine; the fsync test (MeasureFsync, 200 rounds) writes a
// small file in `dir` and removes it. Takes about a second.
absl::StatusOr<MachineProfile> MeasureMachine(const std::string& dir);

}  // namespace cairn::bench

#endif  // CAIRN_BENCH_MACHINE_H_
