// The named suites: which workloads, with which parameters, how many runs.
#ifndef CAIRN_BENCH_SUITE_H_
#define CAIRN_BENCH_SUITE_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "bench/workload.h"

namespace cairn::bench {

struct Suite {
  std::string name;
  int runs = 3;  // each figure is the median of this many runs
  // Cairn site overrides the suite applies before the user's own
  // (--cairn-option), e.g. smaller segments for the quick suite.
  std::vector<std::string> cairn_overrides;
  std::vector<WorkloadSpec> workloads;
};

// "standard": every workload at the sizes docs/benchmarks.md reports, three
// runs each; finishes in under 10 minutes on a 2-core machine.
// "quick": the same workloads, small and short, one run, 16 MiB segments
// (Cairn preallocates a segment at open); under a minute.
absl::StatusOr<Suite> MakeSuite(const std::string& name);

// The workloads of `suite` whose name is in `names` (comma-separated), in
// the suite's order; fails naming any name the suite lacks.
absl::StatusOr<std::vector<WorkloadSpec>> SelectWorkloads(const Suite& suite,
                                                          const std::string& names);

}  // namespace cairn::bench

#endif  // CAIRN_BENCH_SUITE_H_
