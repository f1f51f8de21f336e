#include "bench/record_format.h"

#include <gtest/gtest.h>

namespace cairn::bench {
namespace {

TEST(RecordFormat, EventRoundTrips) {
  EventData event;
  event.type = "OrderPlaced";
  event.data = std::string("a\0b", 3);
  event.metadata = "m";
  event.tags = {"x", "y"};
  std::string bytes;
  EncodeEventRecord("orders-7", 42, event, 123456, &bytes);
  auto record = DecodeEventRecord(bytes);
  ASSERT_TRUE(record.ok()) << record.status();
  EXPECT_EQ(record->stream, "orders-7");
  EXPECT_EQ(record->revision, 42u);
  EXPECT_EQ(record->timestamp_us, 123456);
  EXPECT_EQ(record->type, "OrderPlaced");
  EXPECT_EQ(record->data, std::string_view("a\0b", 3));
  EXPECT_EQ(record->tags, std::string_view("x\0y", 3));
}

TEST(RecordFormat, TruncatedRecordIsDataLoss) {
  EventData event;
  event.data = "payload";
  std::string bytes;
  EncodeEventRecord("s", 1, event, 0, &bytes);
  bytes.pop_back();
  auto record = DecodeEventRecord(bytes);
  ASSERT_FALSE(record.ok());
  EXPECT_EQ(record.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_FALSE(DecodeEventRecord("short").ok());
}

TEST(RecordFormat, KeysSortNumericallyWithinOneName) {
  EXPECT_LT(PositionKey(255), PositionKey(256));
  EXPECT_LT(StreamKey("s", 9), StreamKey("s", 10));
  EXPECT_LT(TagKey("t", 1), TagKey("t", 1u << 20));
  // A name's keys never interleave with a longer name it prefixes.
  EXPECT_LT(StreamKey("s", UINT64_MAX), StreamKey("s1", 0));
  EXPECT_EQ(GetBigEndian64(PositionKey(0x0102030405060708).data()), 0x0102030405060708u);
}

}  // namespace
}  // namespace cairn::bench
