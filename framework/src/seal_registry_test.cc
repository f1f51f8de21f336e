#include "seal_registry.h"

#include <cairn/status.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cairn {
namespace {

using ::testing::HasSubstr;

TEST(SealRegistry, RoundTripsEveryEntry) {
  std::vector<SealKey> keys = {{"aes-gcm", 1, std::string("\x00\xff\x10", 3), 1700000000000000},
                               {"chacha20-poly1305", 4294967295u, "sealed", -5}};
  absl::StatusOr<std::vector<SealKey>> parsed =
      ParseSealRegistry(FormatSealRegistry(keys), "registry");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  ASSERT_EQ(parsed->size(), 2u);
  for (size_t i = 0; i < keys.size(); ++i) {
    EXPECT_EQ((*parsed)[i].cipher, keys[i].cipher);
    EXPECT_EQ((*parsed)[i].key_id, keys[i].key_id);
    EXPECT_EQ((*parsed)[i].check_value, keys[i].check_value);
    EXPECT_EQ((*parsed)[i].recorded_us, keys[i].recorded_us);
  }
}

TEST(SealRegistry, AMalformedLineIsCorruptionNamingIt) {
  for (std::string bad : {"key aes-gcm 0 00 1", "key aes-gcm 1 0g 1", "key aes-gcm 1 000 1",
                          "key aes-gcm 1 00", "seal aes-gcm 1 00 1", "key aes-gcm x 00 1"}) {
    absl::StatusOr<std::vector<SealKey>> parsed =
        ParseSealRegistry("# comment\n" + bad + "\n", "the registry");
    ASSERT_FALSE(parsed.ok()) << bad;
    EXPECT_TRUE(IsCorruption(parsed.status()));
    EXPECT_THAT(parsed.status().message(), HasSubstr("the registry line 2"));
  }
}

TEST(SealRegistry, ReservedNamesAreThoseUnderTheStorePrefix) {
  EXPECT_TRUE(IsReservedStreamName(kSealRegistryStream));
  EXPECT_TRUE(IsReservedStreamName("$cairn/anything"));
  EXPECT_FALSE(IsReservedStreamName("$cairn"));
  EXPECT_FALSE(IsReservedStreamName("orders"));
}

}  // namespace
}  // namespace cairn
