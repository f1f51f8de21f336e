#include <cairn/sdk/size.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <optional>
#include <string>

namespace cairn::sdk {
namespace {

using ::testing::HasSubstr;

std::optional<uint64_t> Parse(const std::string& text) {
  return ParseByteSize(text);
}

std::string ErrorOf(const std::string& text) {
  std::string error;
  EXPECT_FALSE(ParseByteSize(text, &error).has_value()) << text;
  return error;
}

TEST(ByteSize, PlainNumbersAndBAreBytes) {
  EXPECT_EQ(Parse("0"), 0u);
  EXPECT_EQ(Parse("4096"), 4096u);
  EXPECT_EQ(Parse("4096B"), 4096u);
  EXPECT_EQ(Parse("18446744073709551615"), UINT64_MAX);
}

TEST(ByteSize, BinaryUnitsArePowersOf1024) {
  EXPECT_EQ(Parse("64KiB"), 64u << 10);
  EXPECT_EQ(Parse("256MiB"), 256u << 20);
  EXPECT_EQ(Parse("1GiB"), 1u << 30);
  EXPECT_EQ(Parse("1TiB"), uint64_t{1} << 40);
  EXPECT_EQ(Parse("4 MiB"), 4u << 20);
}

TEST(ByteSize, DecimalUnitsArePowersOf1000) {
  EXPECT_EQ(Parse("10k"), 10000u);
  EXPECT_EQ(Parse("10M"), 10000000u);
  EXPECT_EQ(Parse("2G"), 2000000000u);
  EXPECT_EQ(Parse("3T"), 3000000000000u);
}

TEST(ByteSize, AmbiguousUnitsAreRefusedWithBothSpellings) {
  for (const char* text : {"64kb", "64KB", "64kB", "64K", "64Kb"}) {
    const std::string error = ErrorOf(text);
    EXPECT_THAT(error, HasSubstr(std::string("'") + text + "'"));
    EXPECT_THAT(error, HasSubstr("ambiguous"));
    EXPECT_THAT(error, HasSubstr("64KiB (65536 bytes)"));
    EXPECT_THAT(error, HasSubstr("64k (64000 bytes)"));
  }
  EXPECT_THAT(ErrorOf("5mb"), HasSubstr("5MiB"));
  EXPECT_THAT(ErrorOf("5m"), HasSubstr("5M (5000000 bytes)"));
  EXPECT_THAT(ErrorOf("1GB"), HasSubstr("1GiB"));
  EXPECT_THAT(ErrorOf("1g"), HasSubstr("1G"));
}

TEST(ByteSize, MalformedTextIsRefusedSayingWhy) {
  EXPECT_THAT(ErrorOf(""), HasSubstr("not a size"));
  EXPECT_THAT(ErrorOf("MiB"), HasSubstr("not a size"));
  EXPECT_THAT(ErrorOf("-1"), HasSubstr("not a size"));
  EXPECT_THAT(ErrorOf(" 5"), HasSubstr("not a size"));
  EXPECT_THAT(ErrorOf("1.5GiB"), HasSubstr("fractions"));
  EXPECT_THAT(ErrorOf("5 parsecs"), HasSubstr("unknown unit 'parsecs'"));
  EXPECT_THAT(ErrorOf("5kib"), HasSubstr("unknown unit 'kib'"));
  EXPECT_THAT(ErrorOf("5MiB "), HasSubstr("unknown unit"));
}

TEST(ByteSize, OverflowIsRefused) {
  EXPECT_THAT(ErrorOf("18446744073709551616"), HasSubstr("too large"));
  EXPECT_THAT(ErrorOf("16777216TiB"), HasSubstr("too large"));
  EXPECT_THAT(ErrorOf("99999999999999999999999"), HasSubstr("too large"));
}

TEST(ByteSize, NoErrorTextIsNeeded) {
  EXPECT_FALSE(ParseByteSize("x").has_value());
  EXPECT_EQ(ParseByteSize("1k"), 1000u);
}

}  // namespace
}  // namespace cairn::sdk
