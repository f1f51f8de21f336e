#include "metrics.h"

#include <gtest/gtest.h>

namespace cairn::cairnd {
namespace {

// Only the name says "total": the host lists no plugin's stats, so a
// plugin's monotonic stat without the suffix is exported as a gauge.
TEST(StoreStatMetric, OnlyATotalSuffixMakesACounter) {
  auto fsyncs = StoreStatMetricFor("storage.fsyncs_total");
  EXPECT_EQ(fsyncs.name, "cairn_storage_fsyncs_total");
  EXPECT_TRUE(fsyncs.counter);
  for (const char* key :
       {"storage.fsyncs", "storage.segments_removed", "storage.total_bytes"}) {
    const StoreStatMetric metric = StoreStatMetricFor(key);
    EXPECT_FALSE(metric.counter) << key;
    EXPECT_EQ(metric.name.find("_total", metric.name.size() - 6),
              std::string::npos)
        << key;
  }
}

TEST(StoreStatMetric, TotalSuffixMakesACounterWithoutDoublingIt) {
  auto total = StoreStatMetricFor("replication.shipped_bytes_total");
  EXPECT_EQ(total.name, "cairn_replication_shipped_bytes_total");
  EXPECT_TRUE(total.counter);
}

TEST(StoreStatMetric, OtherStatsAreGauges) {
  for (const char* key :
       {"storage.segments", "storage.head_position", "storage.index_heap_bytes",
        "storage.recovery_scan_seconds", "storage.fsyncs_pending"}) {
    EXPECT_FALSE(StoreStatMetricFor(key).counter) << key;
  }
  EXPECT_EQ(StoreStatMetricFor("storage.segments").name,
            "cairn_storage_segments");
}

TEST(StoreStatMetric, NameKeepsOnlyPrometheusCharacters) {
  EXPECT_EQ(StoreStatMetricFor("storage.odd-key/x").name,
            "cairn_storage_odd_key_x");
}

TEST(ServerMetrics, RenderTypesStoreStatsByTheRule) {
  ServerMetrics metrics;
  const std::string text = metrics.Render(
      {{"storage.fsync_seconds_total", 1.5}, {"storage.segments", 2}}, {});
  EXPECT_NE(text.find("# TYPE cairn_storage_fsync_seconds_total counter\n"
                      "cairn_storage_fsync_seconds_total 1.5\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("# TYPE cairn_storage_segments gauge\n"
                      "cairn_storage_segments 2\n"),
            std::string::npos)
      << text;
}

}  // namespace
}  // namespace cairn::cairnd
