#include "bench/stats.h"

#include <gtest/gtest.h>

namespace cairn::bench {
namespace {

TEST(BenchStats, PercentileIsNearestRank) {
  std::vector<double> samples;
  for (int i = 100; i >= 1; --i) samples.push_back(i);
  EXPECT_EQ(Percentile(samples, 50), 50);
  EXPECT_EQ(Percentile(samples, 99), 99);
  EXPECT_EQ(Percentile(samples, 99.9), 100);
  EXPECT_EQ(Percentile(samples, 1), 1);
}

TEST(BenchStats, SummaryOfEmptyIsZero) {
  std::vector<double> none;
  LatencySummary summary = Summarize(none);
  EXPECT_EQ(summary.samples, 0u);
  EXPECT_EQ(summary.p99_us, 0);
}

TEST(BenchStats, MedianOfOddAndEvenCounts) {
  EXPECT_EQ(Median({5, 1, 3}), 3);
  EXPECT_EQ(Median({4, 1, 3, 2}), 2.5);
  EXPECT_EQ(Median({}), 0);
}

}  // namespace
}  // namespace cairn::bench
