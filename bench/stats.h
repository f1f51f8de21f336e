// Percentiles and medians for the harness's figures.
#ifndef CAIRN_BENCH_STATS_H_
#define CAIRN_BENCH_STATS_H_

#include <cstddef>
#include <vector>

namespace cairn::bench {

struct LatencySummary {
  double p50_us = 0;
  double p99_us = 0;
  double p999_us = 0;
  size_t samples = 0;
};

// Nearest-rank percentile (0 < percent <= 100) of `samples`; 0 if empty.
// Sorts `samples` in place.
double Percentile(std::vector<double>& samples, double percent);

// p50, p99 and p99.9 of `samples` (sorted in place).
LatencySummary Summarize(std::vector<double>& samples);

// The median of `values` (mean of the middle two for an even count); 0 if
// empty.
double Median(std::vector<double> values);

}  // namespace cairn::bench

#endif  // CAIRN_BENCH_STATS_H_
