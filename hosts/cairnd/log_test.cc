#include "log.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace cairn::cairnd {
namespace {

using ::testing::HasSubstr;

TEST(LogLevel, TakesTheFourDocumentedNames) {
  EXPECT_EQ(*ParseLogLevel("debug"), spdlog::level::debug);
  EXPECT_EQ(*ParseLogLevel("info"), spdlog::level::info);
  EXPECT_EQ(*ParseLogLevel("warn"), spdlog::level::warn);
  EXPECT_EQ(*ParseLogLevel("error"), spdlog::level::err);
}

TEST(LogLevel, RefusesAnythingElseNamingTheAllowedValues) {
  for (const char* text : {"loud", "", "INFO", "warning", "err", "trace", "off"}) {
    absl::StatusOr<spdlog::level::level_enum> level = ParseLogLevel(text);
    ASSERT_FALSE(level.ok()) << text;
    EXPECT_THAT(level.status().message(), HasSubstr(std::string("'") + text + "'"));
    EXPECT_THAT(level.status().message(), HasSubstr("debug | info | warn | error"));
  }
}

}  // namespace
}  // namespace cairn::cairnd
