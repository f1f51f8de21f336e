#include "metrics.h"

#include <gtest/gtest.h>

namespace cairn::cairnd {
namespace {

TEST(StoreStatMetric, KnownTotalsAreCountersNamedTotal) {
  auto seconds = StoreStatMetricFor("storage.fsync_seconds");
  EXPECT_EQ(seconds.name, "cairn_storage_fsync_seconds_total");
  EXPECT_TRUE(seconds.counter);
  auto fsyncs = StoreStatMetricFor("storage.fsyncs");
  EXPECT_EQ(fsyncs.name, "cairn_storage_fsyncs_total");
  EXPECT_TRUE(fsyncs.counter);
}

// mmaplog's monotonic stats (docs/mmaplog.md, Stats) are counters; its
// sizes and positions stay gauges.
TEST(StoreStatMetric, MmaplogMonotonicStatsAreCounters) {
  for (const char* key :
       {"storage.segments_removed", "storage.checkpoints_written",
        "storage.index_released_bytes"}) {
    const StoreStatMetric metric = StoreStatMetricFor(key);
    EXPECT_TRUE(metric.counter) << key;
    EXPECT_EQ(metric.name.substr(metric.name.size() - 6), "_total") << key;
  }
  EXPECT_EQ(StoreStatMetricFor("storage.segments_removed").name,
            "cairn_storage_segments_removed_total");
  for (const char* key :
       {"storage.bytes_on_disk", "storage.segment_file_bytes",
        "storage.first_position", "storage.recovery_scanned_records"}) {
    EXPECT_FALSE(StoreStatMetricFor(key).counter) << key;
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
      {{"storage.fsync_seconds", 1.5}, {"storage.segments", 2}}, {});
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
