#include "envelope.h"

#include <cairn/status.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cairn {
namespace {

using ::testing::HasSubstr;

TEST(Envelope, PlainEventsCostTwoBytes) {
  std::string out;
  WriteEnvelope(Envelope{}, &out);
  EXPECT_EQ(out.size(), 2u);
}

TEST(Envelope, RoundTripsCodecCipherKeyAndPayload) {
  Envelope in{"zstd", "aes-gcm", 0xA1B2C3D4u, true, 0};
  std::string stored;
  WriteEnvelope(in, &stored);
  stored += "payload";
  std::string_view payload;
  absl::StatusOr<Envelope> out = ReadEnvelope(stored, &payload, "stream 's' revision 1");
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->codec, "zstd");
  EXPECT_EQ(out->cipher, "aes-gcm");
  EXPECT_EQ(out->key_id, 0xA1B2C3D4u);
  EXPECT_TRUE(out->metadata_inside);
  EXPECT_EQ(out->version, kEnvelopeVersion);
  EXPECT_EQ(payload, "payload");
}

TEST(Envelope, OnlySealedRecordsTakeVersionTwo) {
  std::string plain, sealed;
  WriteEnvelope(Envelope{"zstd", "", 0, true, 0}, &plain);
  WriteEnvelope(Envelope{"", "aes-gcm", 1, true, 0}, &sealed);
  EXPECT_EQ(plain[0], '\x01');
  EXPECT_EQ(sealed[0], '\x02');
}

TEST(Envelope, VersionOneStillReadsAndSaysSo) {
  std::string stored = std::string("\x01\x06\x07" "aes-gcm", 10) + std::string("\x03\0\0\0", 4);
  std::string_view payload;
  absl::StatusOr<Envelope> out = ReadEnvelope(stored, &payload, "stream 's' revision 1");
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->version, kLegacyEnvelopeVersion);
  EXPECT_EQ(out->cipher, "aes-gcm");
  EXPECT_EQ(out->key_id, 3u);
}

TEST(Envelope, TruncatedOrForeignBytesAreCorruptionNamingTheEvent) {
  std::string_view payload;
  for (std::string bad : {std::string(""), std::string("\x01"), std::string("\x03\x00", 2), std::string("\x00\x00", 2),
                          std::string("\x01\x08", 2), std::string("\x01\x01\x05zs", 5),
                          std::string("\x01\x02\x03" "aes\x01", 7)}) {
    absl::StatusOr<Envelope> out = ReadEnvelope(bad, &payload, "stream 'orders' revision 7");
    ASSERT_FALSE(out.ok()) << "accepted " << bad.size() << " bytes";
    EXPECT_TRUE(IsCorruption(out.status()));
    EXPECT_THAT(out.status().message(), HasSubstr("stream 'orders' revision 7"));
  }
}

SealedFields Fields(SealedPart part, std::string_view stream, uint64_t revision,
                    std::string_view type) {
  SealedFields fields;
  fields.part = part;
  fields.stream = stream;
  fields.revision = revision;
  fields.type = type;
  return fields;
}

TEST(Envelope, LegacyAssociatedDataHasItsDocumentedBytes) {
  // "cairn/1", part, revision u64 LE, stream length u32 LE, stream, type
  // length u32 LE, type: events sealed by older builds depend on these bytes.
  const std::string expected =
      std::string("cairn/1\x02\x08\x07\x06\x05\x04\x03\x02\x01", 16) +
      std::string("\x06\0\0\0", 4) + "orders" + std::string("\x0b\0\0\0", 4) +
      "OrderPlaced";
  SealedFields fields =
      Fields(SealedPart::kSnapshot, "orders", 0x0102030405060708ull, "OrderPlaced");
  fields.timestamp_us = 99;  // not bound by v1
  fields.writer = "w";
  EXPECT_EQ(AssociatedData(kLegacyEnvelopeVersion, fields), expected);
  std::string reused = "left over from a longer stream name and type";
  AssociatedData(kLegacyEnvelopeVersion, fields, &reused);
  EXPECT_EQ(reused, expected);
}

TEST(Envelope, AssociatedDataHasItsDocumentedBytes) {
  // "cairn/2", part, revision u64 LE, timestamp i64 LE, then stream, type,
  // writer as u32 LE length + bytes, tag count u32 LE, each tag likewise.
  const std::string expected =
      std::string("cairn/2\x00\x08\x07\x06\x05\x04\x03\x02\x01", 16) +
      std::string("\x10\x0f\x0e\x0d\x0c\x0b\x0a\x09", 8) + std::string("\x06\0\0\0", 4) +
      "orders" + std::string("\x0b\0\0\0", 4) + "OrderPlaced" +
      std::string("\x02\0\0\0", 4) + "w1" + std::string("\x02\0\0\0", 4) +
      std::string("\x01\0\0\0", 4) + "a" + std::string("\x02\0\0\0", 4) + "bc";
  std::vector<std::string> tags = {"a", "bc"};
  SealedFields fields = Fields(SealedPart::kData, "orders", 0x0102030405060708ull, "OrderPlaced");
  fields.timestamp_us = 0x090a0b0c0d0e0f10ll;
  fields.writer = "w1";
  fields.tags = tags;
  EXPECT_EQ(AssociatedData(kEnvelopeVersion, fields), expected);
  std::string reused = "left over from a longer stream name and type";
  AssociatedData(kEnvelopeVersion, fields, &reused);
  EXPECT_EQ(reused, expected);
}

TEST(Envelope, AssociatedDataDiffersByEveryStoredField) {
  std::vector<std::string> tags = {"t"}, other_tags = {"u"}, no_tags;
  SealedFields base = Fields(SealedPart::kData, "s", 1, "T");
  base.timestamp_us = 5;
  base.writer = "w";
  base.tags = tags;
  const std::string aad = AssociatedData(kEnvelopeVersion, base);
  auto differs = [&](SealedFields changed) {
    return AssociatedData(kEnvelopeVersion, changed) != aad;
  };
  SealedFields f = base;
  f.part = SealedPart::kMetadata;
  EXPECT_TRUE(differs(f));
  f = base, f.stream = "t";
  EXPECT_TRUE(differs(f));
  f = base, f.revision = 2;
  EXPECT_TRUE(differs(f));
  f = base, f.type = "U";
  EXPECT_TRUE(differs(f));
  f = base, f.timestamp_us = 6;
  EXPECT_TRUE(differs(f));
  f = base, f.writer = "x";
  EXPECT_TRUE(differs(f));
  f = base, f.tags = other_tags;
  EXPECT_TRUE(differs(f));
  f = base, f.tags = no_tags;
  EXPECT_TRUE(differs(f));
  // Length prefixes keep "ab"+"c" apart from "a"+"bc".
  EXPECT_NE(AssociatedData(kEnvelopeVersion, Fields(SealedPart::kData, "ab", 1, "c")),
            AssociatedData(kEnvelopeVersion, Fields(SealedPart::kData, "a", 1, "bc")));
}

}  // namespace
}  // namespace cairn
