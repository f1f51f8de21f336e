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

TEST(BenchStats, HistogramPercentilesAreWithinOnePercent) {
  LatencyHistogram histogram;
  for (int i = 1; i <= 10000; ++i) histogram.Record(i);  // 1 us .. 10 ms
  EXPECT_EQ(histogram.count(), 10000u);
  EXPECT_NEAR(histogram.Percentile(50), 5000, 50);
  EXPECT_NEAR(histogram.Percentile(99), 9900, 99);
  EXPECT_NEAR(histogram.Percentile(99.9), 9990, 100);
}

TEST(BenchStats, HistogramKeepsSubMicrosecondAndMergesCounts) {
  LatencyHistogram fast, slow;
  for (int i = 0; i < 90; ++i) fast.Record(0.25);
  for (int i = 0; i < 10; ++i) slow.Record(2e6);  // 2 s
  fast.Merge(slow);
  EXPECT_EQ(fast.count(), 100u);
  EXPECT_NEAR(fast.Percentile(50), 0.25, 0.01);
  EXPECT_NEAR(fast.Percentile(99), 2e6, 2e4);
  EXPECT_EQ(LatencyHistogram().Percentile(50), 0);
}

}  // namespace
}  // namespace cairn::bench
