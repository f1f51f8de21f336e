#include "bench/stats.h"

#include <algorithm>
#include <cmath>

namespace cairn::bench {

double Percentile(std::vector<double>& samples, double percent) {
  if (samples.empty()) return 0;
  std::sort(samples.begin(), samples.end());
  double rank = std::ceil(percent / 100.0 * static_cast<double>(samples.size()));
  size_t index = rank < 1 ? 0 : static_cast<size_t>(rank) - 1;
  return samples[std::min(index, samples.size() - 1)];
}

LatencySummary Summarize(std::vector<double>& samples) {
  LatencySummary summary;
  summary.samples = samples.size();
  summary.p50_us = Percentile(samples, 50);
  summary.p99_us = Percentile(samples, 99);
  summary.p999_us = Percentile(samples, 99.9);
  return summary;
}

namespace {
constexpr size_t kLinearBuckets = 100;  // [0, 1) us in 10 ns steps
constexpr double kRatio = 1.01;         // then 1% wide buckets
constexpr double kMaxMicros = 1e8;      // 100 s; larger values land in the last
const size_t kLogBuckets =
    static_cast<size_t>(std::ceil(std::log(kMaxMicros) / std::log(kRatio))) + 1;
}  // namespace

LatencyHistogram::LatencyHistogram() : buckets_(kLinearBuckets + kLogBuckets, 0) {}

size_t LatencyHistogram::BucketOf(double micros) {
  if (!(micros > 0)) return 0;
  if (micros < 1) return static_cast<size_t>(micros * kLinearBuckets);
  size_t log_bucket = static_cast<size_t>(std::log(micros) / std::log(kRatio));
  return kLinearBuckets + std::min(log_bucket, kLogBuckets - 1);
}

double LatencyHistogram::MiddleOf(size_t bucket) {
  if (bucket < kLinearBuckets) return (static_cast<double>(bucket) + 0.5) / kLinearBuckets;
  double low = std::pow(kRatio, static_cast<double>(bucket - kLinearBuckets));
  return low * std::sqrt(kRatio);
}

void LatencyHistogram::Record(double micros) {
  ++buckets_[BucketOf(micros)];
  ++count_;
}

void LatencyHistogram::Merge(const LatencyHistogram& other) {
  for (size_t i = 0; i < buckets_.size(); ++i) buckets_[i] += other.buckets_[i];
  count_ += other.count_;
}

double LatencyHistogram::Percentile(double percent) const {
  if (count_ == 0) return 0;
  double rank = std::ceil(percent / 100.0 * static_cast<double>(count_));
  uint64_t wanted = rank < 1 ? 1 : static_cast<uint64_t>(rank);
  uint64_t seen = 0;
  for (size_t i = 0; i < buckets_.size(); ++i) {
    seen += buckets_[i];
    if (seen >= wanted) return MiddleOf(i);
  }
  return MiddleOf(buckets_.size() - 1);
}

LatencySummary LatencyHistogram::Summary() const {
  LatencySummary summary;
  summary.samples = count_;
  summary.p50_us = Percentile(50);
  summary.p99_us = Percentile(99);
  summary.p999_us = Percentile(99.9);
  return summary;
}

double Median(std::vector<double> values) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  size_t middle = values.size() / 2;
  if (values.size() % 2 == 1) return values[middle];
  return (values[middle - 1] + values[middle]) / 2;
}

}  // namespace cairn::bench
