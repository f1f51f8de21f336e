// Runs a plan: every workload on every engine, several times, interleaved
// so drift (page cache, thermal, neighbours) hits all engines alike. Each
// run happens in a child process of its own, so its peak resident memory is
// its own and a crash or hang of one engine cannot take the harness down.
#ifndef CAIRN_BENCH_RUNNER_H_
#define CAIRN_BENCH_RUNNER_H_

#include <functional>
#include <string>
#include <vector>

#include "bench/workload.h"

namespace cairn::bench {

struct Plan {
  std::vector<WorkloadSpec> workloads;
  std::vector<std::string> engines;
  int runs = 3;
  std::string work_dir;  // each run's store lives (briefly) below it
  std::vector<std::string> cairn_overrides;
};

// One workload on one engine: every run, and the median of each figure over
// the runs that succeeded (error set only if none did).
struct Cell {
  std::string workload;
  std::string engine;
  std::vector<RunResult> runs;
  RunResult median;
};

// Called before each run: index (0-based) and total, and what runs.
using ProgressFn = std::function<void(size_t index, size_t total,
                                      const WorkloadSpec& spec,
                                      const std::string& engine, int run)>;

// Asked before each run; true stops the plan (e.g. after Ctrl-C).
using StopFn = std::function<bool()>;

// Rounds: for each run r, for each workload, every engine once, starting
// at a different engine each round. Results in plan order (workload-major);
// after a stop, cells hold the runs made so far.
// Must be called with no other threads running (it forks).
std::vector<Cell> RunPlan(const Plan& plan, const ProgressFn& progress,
                          const StopFn& stop = nullptr);

// Runs one workload on one engine in a child process (peak RSS from the
// kernel's accounting of that child); removes the store afterwards.
RunResult RunInChild(const WorkloadSpec& spec, const std::string& engine,
                     const std::string& dir, const std::vector<std::string>& overrides);

// The medians of the successful runs.
RunResult MedianOf(const std::vector<RunResult>& runs);

// Text form of a result, as a child sends it to its parent.
std::string SerializeResult(const RunResult& result);
RunResult ParseResult(const std::string& text);

}  // namespace cairn::bench

#endif  // CAIRN_BENCH_RUNNER_H_
