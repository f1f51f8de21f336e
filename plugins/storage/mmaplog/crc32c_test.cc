#include "crc32c.h"

#include <gtest/gtest.h>

#include <string>

namespace cairn::mmaplog {
namespace {

TEST(Crc32c, MatchesTheStandardCheckValue) {
  // The CRC-32C check value of "123456789" (RFC 3720 / iSCSI).
  EXPECT_EQ(Crc32c(0, "123456789", 9), 0xE3069283u);
  EXPECT_EQ(Crc32cPortable(0, "123456789", 9), 0xE3069283u);
}

TEST(Crc32c, HardwareAndPortableAgreeOnEveryLengthAndAlignment) {
  std::string s;
  for (int i = 0; i < 300; ++i) s.push_back(static_cast<char>(i * 7 + 3));
  for (size_t start = 0; start < 9; ++start) {
    for (size_t n = 0; start + n <= s.size(); n += 13) {
      ASSERT_EQ(Crc32c(0, s.data() + start, n),
                Crc32cPortable(0, s.data() + start, n))
          << start << " " << n;
    }
  }
}

TEST(Crc32c, ExtendingEqualsOneShot) {
  std::string s = "the quick brown fox jumps over the lazy dog";
  uint32_t part = Crc32c(0, s.data(), 10);
  EXPECT_EQ(Crc32c(part, s.data() + 10, s.size() - 10),
            Crc32c(0, s.data(), s.size()));
}

}  // namespace
}  // namespace cairn::mmaplog
