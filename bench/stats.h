// Percentiles and medians for the harness's figures.
#ifndef CAIRN_BENCH_STATS_H_
#define CAIRN_BENCH_STATS_H_

#include <cstddef>
#include <cstdint>
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

// Latencies in a fixed amount of memory (about 16 KiB, however many are
// recorded), so an engine that does more operations is not charged more
// memory by the harness. Buckets: 10 ns wide below 1 us, then 1% wide up to
// 100 s; a percentile is accurate to within half a bucket. Not thread-safe:
// one per thread, then Merge.
class LatencyHistogram {
 public:
  LatencyHistogram();
  void Record(double micros);
  void Merge(const LatencyHistogram& other);
  uint64_t count() const { return count_; }
  // Nearest-rank percentile (0 < percent <= 100), the middle of its bucket;
  // 0 if empty.
  double Percentile(double percent) const;
  LatencySummary Summary() const;

 private:
  static size_t BucketOf(double micros);
  static double MiddleOf(size_t bucket);
  std::vector<uint64_t> buckets_;
  uint64_t count_ = 0;
};

// The median of `values` (mean of the middle two for an even count); 0 if
// empty.
double Median(std::vector<double> values);

}  // namespace cairn::bench

#endif  // CAIRN_BENCH_STATS_H_
