#include "record.h"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "crc32c.h"
#include "test_util.h"

namespace cairn::mmaplog {
namespace {

using testing::OwnedEvent;
using testing::Str;

std::vector<uint8_t> Encode(OwnedEvent& ev, uint64_t position,
                            uint64_t revision) {
  cairn_event e = ev.View();
  size_t n = RecordSize("orders-1", e);
  std::vector<uint8_t> buf(n + 64, 0);
  EncodeRecord(buf.data(), "orders-1", e, position, revision, 1, 0,
               static_cast<uint32_t>(n));
  PublishLength(buf.data(), static_cast<uint32_t>(n));
  return buf;
}

TEST(MmapLogRecord, RoundTripsEveryField) {
  OwnedEvent ev;
  ev.type = "OrderPlaced";
  ev.data = "payload";
  ev.metadata = "meta";
  ev.writer = "node-a";
  ev.tags = {"red", "blue"};
  std::vector<uint8_t> buf = Encode(ev, 42, 7);
  RecordHeader h;
  ASSERT_EQ(CheckRecord(buf.data(), buf.size(), &h), RecordCheck::kOk);
  EXPECT_EQ(h.length % 8, 0u);
  cairn_event out;
  cairn_bytes tags[2];
  DecodeRecord(buf.data(), h, &out, tags);
  EXPECT_EQ(Str(out.stream), "orders-1");
  EXPECT_EQ(out.position, 42u);
  EXPECT_EQ(out.revision, 7u);
  EXPECT_EQ(Str(out.type), "OrderPlaced");
  EXPECT_EQ(Str(out.data), "payload");
  EXPECT_EQ(Str(out.metadata), "meta");
  EXPECT_EQ(Str(out.writer), "node-a");
  EXPECT_EQ(out.timestamp_us, ev.timestamp_us);
  ASSERT_EQ(out.tag_count, 2u);
  EXPECT_EQ(Str(out.tags[0]), "red");
  EXPECT_EQ(Str(out.tags[1]), "blue");
}

TEST(MmapLogRecord, FlippedBodyByteIsABodyChecksumFailure) {
  OwnedEvent ev;
  ev.data = "0123456789";
  std::vector<uint8_t> buf = Encode(ev, 1, 1);
  RecordHeader h;
  ASSERT_EQ(CheckRecord(buf.data(), buf.size(), &h), RecordCheck::kOk);
  buf[h.length - 9] ^= 0x40;  // inside the data
  EXPECT_EQ(CheckRecord(buf.data(), buf.size(), &h), RecordCheck::kBadBody);
  EXPECT_EQ(h.position, 1u);  // the header still reads
}

TEST(MmapLogRecord, FlippedHeaderByteIsAHeaderChecksumFailure) {
  OwnedEvent ev;
  std::vector<uint8_t> buf = Encode(ev, 1, 1);
  buf[24] ^= 1;  // the revision
  RecordHeader h;
  EXPECT_EQ(CheckRecord(buf.data(), buf.size(), &h), RecordCheck::kBadHeader);
}

TEST(MmapLogRecord, LengthBeyondTheSegmentIsRejected) {
  OwnedEvent ev;
  std::vector<uint8_t> buf = Encode(ev, 1, 1);
  RecordHeader h;
  EXPECT_EQ(CheckRecord(buf.data(), 64, &h), RecordCheck::kBadLength);
  PublishLength(buf.data(), 13);
  EXPECT_EQ(CheckRecord(buf.data(), buf.size(), &h), RecordCheck::kBadLength);
  PublishLength(buf.data(), 0);
  EXPECT_EQ(CheckRecord(buf.data(), buf.size(), &h), RecordCheck::kEmpty);
}

TEST(MmapLogRecord, AKeyRoundTripsAfterTheTagsUnderTheBodyChecksum) {
  OwnedEvent ev;
  ev.data = "payload";
  ev.tags = {"red"};
  cairn_event e = ev.View();
  const std::string key = "0123456789abcdef";
  const size_t n = KeyedRecordSize("orders-1", e, key);
  EXPECT_GT(n, RecordSize("orders-1", e)) << "a key takes room";
  EXPECT_EQ(n % 8, 0u);
  std::vector<uint8_t> buf(n + 64, 0);
  EncodeKeyedRecord(buf.data(), "orders-1", e, 3, 1, 2, 0,
                    static_cast<uint32_t>(n), key);
  PublishLength(buf.data(), static_cast<uint32_t>(n));
  RecordHeader h;
  ASSERT_EQ(CheckRecord(buf.data(), buf.size(), &h), RecordCheck::kOk);
  EXPECT_EQ(h.flags, kRecordHasKey);
  EXPECT_EQ(h.Key(buf.data()), key);
  cairn_event out;
  cairn_bytes tags[1];
  DecodeRecord(buf.data(), h, &out, tags);
  EXPECT_EQ(Str(out.data), "payload");
  ASSERT_EQ(out.tag_count, 1u);
  EXPECT_EQ(Str(out.tags[0]), "red");
  // The key's bytes are under the body checksum.
  buf[h.key_offset + 3] ^= 1;
  EXPECT_EQ(CheckRecord(buf.data(), buf.size(), &h), RecordCheck::kBadBody);
  // A record without a key reads no key.
  std::vector<uint8_t> plain = Encode(ev, 1, 1);
  ASSERT_EQ(CheckRecord(plain.data(), plain.size(), &h), RecordCheck::kOk);
  EXPECT_EQ(h.Key(plain.data()), "");
}

TEST(MmapLogRecord, AKeyOnlyOnABatchsFirstEventAndNoUnknownFlags) {
  OwnedEvent ev;
  ev.data = "x";
  cairn_event e = ev.View();
  const size_t n = KeyedRecordSize("s", e, "k");
  std::vector<uint8_t> buf(n + 64, 0);
  RecordHeader h;
  // A key on the second event of a batch: a header no writer makes.
  EncodeKeyedRecord(buf.data(), "s", e, 2, 2, 2, 1, static_cast<uint32_t>(n),
                    "k");
  PublishLength(buf.data(), static_cast<uint32_t>(n));
  EXPECT_EQ(CheckRecord(buf.data(), buf.size(), &h), RecordCheck::kBadHeader);
  // An unknown flag bit, with a header checksum that matches it.
  std::vector<uint8_t> plain = Encode(ev, 1, 1);
  plain[55] = 2;
  const uint32_t crc = Crc32c(0, plain.data() + 8, kRecordHeaderSize - 8 + 8);
  std::memcpy(plain.data() + 4, &crc, 4);
  EXPECT_EQ(CheckRecord(plain.data(), plain.size(), &h),
            RecordCheck::kBadHeader);
  plain[55] = 0;
  const uint32_t fixed = Crc32c(0, plain.data() + 8, kRecordHeaderSize - 8 + 8);
  std::memcpy(plain.data() + 4, &fixed, 4);
  EXPECT_EQ(CheckRecord(plain.data(), plain.size(), &h), RecordCheck::kOk)
      << "the same record without the flag";
}

TEST(MmapLogRecord, SegmentHeaderRoundTripsAndDetectsDamage) {
  uint8_t buf[kSegmentHeaderSize] = {};
  SegmentHeader h;
  h.flags = kSegmentInUse;
  h.number = 3;
  h.base_position = 1000;
  h.size = 1 << 20;
  h.EncodeTo(buf);
  SegmentHeader back;
  ASSERT_TRUE(back.DecodeFrom(buf));
  EXPECT_EQ(back.number, 3u);
  EXPECT_EQ(back.base_position, 1000u);
  EXPECT_EQ(back.flags, kSegmentInUse);
  buf[20] ^= 1;
  EXPECT_FALSE(back.DecodeFrom(buf));
  EXPECT_EQ(SegmentFileName(7), "00000007.log");
}

}  // namespace
}  // namespace cairn::mmaplog
