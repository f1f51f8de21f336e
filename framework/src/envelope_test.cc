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
  Envelope in{"zstd", "aes-gcm", 0xA1B2C3D4u, true};
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
  EXPECT_EQ(payload, "payload");
}

TEST(Envelope, TruncatedOrForeignBytesAreCorruptionNamingTheEvent) {
  std::string_view payload;
  for (std::string bad : {std::string(""), std::string("\x01"), std::string("\x02\x00", 2),
                          std::string("\x01\x08", 2), std::string("\x01\x01\x05zs", 5),
                          std::string("\x01\x02\x03" "aes\x01", 7)}) {
    absl::StatusOr<Envelope> out = ReadEnvelope(bad, &payload, "stream 'orders' revision 7");
    ASSERT_FALSE(out.ok()) << "accepted " << bad.size() << " bytes";
    EXPECT_TRUE(IsCorruption(out.status()));
    EXPECT_THAT(out.status().message(), HasSubstr("stream 'orders' revision 7"));
  }
}

TEST(Envelope, AssociatedDataHasItsDocumentedBytes) {
  // "cairn/1", part, revision u64 LE, stream length u32 LE, stream, type
  // length u32 LE, type: sealed data depends on these bytes never changing.
  const std::string expected =
      std::string("cairn/1\x02\x08\x07\x06\x05\x04\x03\x02\x01", 16) +
      std::string("\x06\0\0\0", 4) + "orders" + std::string("\x0b\0\0\0", 4) +
      "OrderPlaced";
  EXPECT_EQ(AssociatedData(SealedPart::kSnapshot, "orders", 0x0102030405060708ull,
                           "OrderPlaced"),
            expected);
  std::string reused = "left over from a longer stream name and type";
  AssociatedData(SealedPart::kSnapshot, "orders", 0x0102030405060708ull, "OrderPlaced",
                 &reused);
  EXPECT_EQ(reused, expected);
}

TEST(Envelope, AssociatedDataDiffersByPartStreamRevisionAndType) {
  std::string base = AssociatedData(SealedPart::kData, "s", 1, "T");
  EXPECT_NE(base, AssociatedData(SealedPart::kMetadata, "s", 1, "T"));
  EXPECT_NE(base, AssociatedData(SealedPart::kData, "t", 1, "T"));
  EXPECT_NE(base, AssociatedData(SealedPart::kData, "s", 2, "T"));
  EXPECT_NE(base, AssociatedData(SealedPart::kData, "s", 1, "U"));
  // Length prefixes keep "ab"+"c" apart from "a"+"bc".
  EXPECT_NE(AssociatedData(SealedPart::kData, "ab", 1, "c"),
            AssociatedData(SealedPart::kData, "a", 1, "bc"));
}

}  // namespace
}  // namespace cairn
