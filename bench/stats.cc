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

double Median(std::vector<double> values) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  size_t middle = values.size() / 2;
  if (values.size() % 2 == 1) return values[middle];
  return (values[middle - 1] + values[middle]) / 2;
}

}  // namespace cairn::bench
