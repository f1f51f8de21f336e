#include <cairn/builtins.h>
#include <cairn/plugin_registry.h>
#include <cairn/status.h>
#include <cairn/store.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cairn {
namespace {

using ::testing::HasSubstr;

OptionInfo Option(std::string key, uint32_t type,
                  std::vector<std::string> allowed = {}, uint32_t flags = 0) {
  OptionInfo o;
  o.key = std::move(key);
  o.type = type;
  o.allowed = std::move(allowed);
  o.flags = flags;
  return o;
}

std::string Error(const OptionInfo& option, std::string_view value) {
  absl::Status s = CheckOptionValue("codec", option, value);
  return s.ok() ? "" : std::string(s.message());
}

TEST(CheckOptionValueTest, UintTakesDecimalDigitsOnly) {
  OptionInfo level = Option("level", CAIRN_OPT_UINT);
  EXPECT_EQ(Error(level, "0"), "");
  EXPECT_EQ(Error(level, "18446744073709551615"), "");
  EXPECT_THAT(Error(level, "fast"),
              HasSubstr("[codec] level = 'fast': not an unsigned integer"));
  EXPECT_THAT(Error(level, "-1"), HasSubstr("not an unsigned integer"));
  EXPECT_THAT(Error(level, ""), HasSubstr("not an unsigned integer"));
  EXPECT_THAT(Error(level, "18446744073709551616"),
              HasSubstr("not an unsigned integer"));
}

TEST(CheckOptionValueTest, SizeTakesWhatTheSdkParses) {
  OptionInfo size = Option("segment-size", CAIRN_OPT_SIZE);
  EXPECT_EQ(Error(size, "4096"), "");
  EXPECT_EQ(Error(size, "64KiB"), "");
  EXPECT_EQ(Error(size, "1GiB"), "");
  EXPECT_THAT(Error(size, "big"),
              HasSubstr("[codec] segment-size = 'big': not a size"));
  EXPECT_THAT(Error(size, "12parsecs"), HasSubstr("not a size"));
}

TEST(CheckOptionValueTest, BoolIsTrueOrFalse) {
  OptionInfo b = Option("repair", CAIRN_OPT_BOOL);
  EXPECT_EQ(Error(b, "true"), "");
  EXPECT_EQ(Error(b, "false"), "");
  EXPECT_THAT(Error(b, "yes"),
              HasSubstr("[codec] repair = 'yes': allowed: true, false"));
}

TEST(CheckOptionValueTest, EnumListsTheAllowedValues) {
  OptionInfo e =
      Option("zero-fill", CAIRN_OPT_ENUM, {"auto", "always", "never"});
  EXPECT_EQ(Error(e, "always"), "");
  absl::Status s = CheckOptionValue("storage", e, "sometimes");
  EXPECT_EQ(CodeOf(s), CAIRN_E_INVALID_ARGUMENT);
  EXPECT_EQ(s.message(),
            "[storage] zero-fill = 'sometimes': allowed: auto, always, never");
}

TEST(CheckOptionValueTest, DurationIsANumberWithAUnit) {
  OptionInfo d = Option("interval", CAIRN_OPT_DURATION);
  for (const char* ok : {"250", "250ms", "5s", "2m", "1h"})
    EXPECT_EQ(Error(d, ok), "") << ok;
  for (const char* bad : {"", "ms", "5 s", "5d", "1.5s", "-5s"}) {
    EXPECT_THAT(Error(d, bad), HasSubstr("not a duration")) << bad;
  }
}

TEST(CheckOptionValueTest, PathMustNotBeEmptyAndStringTakesAnything) {
  EXPECT_EQ(Error(Option("keyring", CAIRN_OPT_PATH), "/etc/keys"), "");
  EXPECT_THAT(Error(Option("keyring", CAIRN_OPT_PATH), ""),
              HasSubstr("[codec] keyring = '': not a path"));
  EXPECT_EQ(Error(Option("fsync", CAIRN_OPT_STRING), ""), "");
  EXPECT_EQ(Error(Option("fsync", CAIRN_OPT_STRING), "interval:5"), "");
}

TEST(CheckOptionValueTest, ASecretValueIsNeverPrinted) {
  OptionInfo secret =
      Option("passphrase-size", CAIRN_OPT_UINT, {}, CAIRN_OPT_SECRET);
  std::string e = Error(secret, "hunter2");
  EXPECT_THAT(
      e, HasSubstr("[codec] passphrase-size = '***': not an unsigned integer"));
  EXPECT_THAT(e, ::testing::Not(HasSubstr("hunter2")));
}

TEST(CheckOptionsTest, UnknownKeysAndMissingRequiredOptionsAreRefused) {
  std::vector<OptionInfo> described = {
      Option("keyring", CAIRN_OPT_PATH, {}, CAIRN_OPT_REQUIRED),
      Option("path", CAIRN_OPT_PATH, {},
             CAIRN_OPT_REQUIRED | CAIRN_OPT_HOST_DEFINED),
      Option("max-seals", CAIRN_OPT_UINT)};
  EXPECT_TRUE(
      CheckOptions("cipher", "aes-gcm", described, {{"keyring", "/k"}}).ok());
  absl::Status missing =
      CheckOptions("cipher", "aes-gcm", described, {{"max-seals", "9"}});
  EXPECT_EQ(CodeOf(missing), CAIRN_E_INVALID_ARGUMENT);
  EXPECT_THAT(missing.message(),
              HasSubstr("[cipher] keyring is required by cipher plugin "
                        "'aes-gcm'"));
  absl::Status unknown = CheckOptions("cipher", "aes-gcm", described,
                                      {{"keyring", "/k"}, {"colour", "red"}});
  EXPECT_THAT(unknown.message(),
              HasSubstr("[cipher] 'colour' is not an option of cipher "
                        "plugin 'aes-gcm' (it accepts: keyring, path, "
                        "max-seals)"));
  EXPECT_THAT(
      CheckOptions("cipher", "aes-gcm", described,
                   {{"keyring", "/k"}, {"max-seals", "many"}})
          .message(),
      HasSubstr("[cipher] max-seals = 'many': not an unsigned integer"));
}

TEST(OptionTypeNameTest, NamesEveryType) {
  EXPECT_STREQ(OptionTypeName(CAIRN_OPT_STRING), "string");
  EXPECT_STREQ(OptionTypeName(CAIRN_OPT_UINT), "uint");
  EXPECT_STREQ(OptionTypeName(CAIRN_OPT_SIZE), "size");
  EXPECT_STREQ(OptionTypeName(CAIRN_OPT_BOOL), "bool");
  EXPECT_STREQ(OptionTypeName(CAIRN_OPT_ENUM), "enum");
  EXPECT_STREQ(OptionTypeName(CAIRN_OPT_DURATION), "duration");
  EXPECT_STREQ(OptionTypeName(CAIRN_OPT_PATH), "path");
}

// Store::Open applies the descriptors to real plugins before opening any.
class StoreOptionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(RegisterBuiltinPlugins(registry_).ok());
    config_.storage.plugin = "mmaplog";
    config_.path = "/nonexistent/cairn-option-test";
  }
  std::string OpenError() {
    absl::StatusOr<std::unique_ptr<Store>> store =
        Store::Open(config_, registry_);
    return store.ok() ? "" : std::string(store.status().message());
  }
  PluginRegistry registry_;
  SiteConfig config_;
};

TEST_F(StoreOptionTest, AnEnumValueOutsideTheAllowedOnesIsRefusedBeforeOpen) {
  config_.storage.options = {{"zero-fill", "sometimes"}};
  EXPECT_EQ(OpenError(),
            "[storage] zero-fill = 'sometimes': allowed: auto, always, never");
}

TEST_F(StoreOptionTest, ASizeOrUintThatDoesNotParseIsRefusedBeforeOpen) {
  config_.storage.options = {{"segment-size", "huge"}};
  EXPECT_THAT(OpenError(),
              HasSubstr("[storage] segment-size = 'huge': not a size"));
  config_.storage.options = {{"expected-streams", "lots"}};
  EXPECT_THAT(
      OpenError(),
      HasSubstr(
          "[storage] expected-streams = 'lots': not an unsigned integer"));
}

TEST_F(StoreOptionTest,
       ARequiredOptionMissingIsRefusedAndHostDefinedOnesCountAsSet) {
  // mmaplog's "path" is required but host-defined: the error is about the
  // cipher's keyring, not about path.
  config_.cipher.plugin = "aes-gcm";
  EXPECT_THAT(
      OpenError(),
      HasSubstr("[cipher] keyring is required by cipher plugin 'aes-gcm'"));
}

}  // namespace
}  // namespace cairn
