#include "log.h"

#include <cairn/log_sink.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

namespace cairn::cairnd {
namespace {

using ::testing::HasSubstr;

// Logs one line at info through the JSON logger and returns what reached
// stderr.
std::string LogOneLine(std::string_view message,
                       std::initializer_list<LogField> fields) {
  spdlog::drop("cairnd");
  InitJsonLogging(spdlog::level::info);
  testing::internal::CaptureStderr();
  Log(spdlog::level::info, message, fields);
  return testing::internal::GetCapturedStderr();
}

TEST(JsonLog, ALineIsOneJsonObjectWithMessageAndFieldsInOrder) {
  const std::string line =
      LogOneLine("said \"hi\"\n", {{"peer", "a\\b"}, {"tab", "x\ty"}});
  ASSERT_FALSE(line.empty());
  EXPECT_EQ(line.back(), '\n');
  EXPECT_EQ(line.find('\n'), line.size() - 1) << "one line: " << line;
  const nlohmann::ordered_json object = nlohmann::ordered_json::parse(line);
  EXPECT_EQ(object.at("level"), "info");
  EXPECT_EQ(object.at("msg"), "said \"hi\"\n");
  EXPECT_EQ(object.at("peer"), "a\\b");
  EXPECT_EQ(object.at("tab"), "x\ty");
  std::vector<std::string> keys;
  for (const auto& item : object.items()) keys.push_back(item.key());
  EXPECT_EQ(keys,
            (std::vector<std::string>{"time", "level", "msg", "peer", "tab"}));
}

// Bytes that are not UTF-8 (a client's stream name, a file name) must not
// make the line unreadable to a JSON log collector.
TEST(JsonLog, BytesThatAreNotUtf8BecomeReplacementCharacters) {
  const std::string line = LogOneLine("bad \xff byte", {{"name", "s\xc3"}});
  nlohmann::json object;
  ASSERT_NO_THROW(object = nlohmann::json::parse(line)) << line;
  EXPECT_EQ(object.at("msg"), "bad \xef\xbf\xbd byte");
  EXPECT_EQ(object.at("name"), "s\xef\xbf\xbd");
}

TEST(JsonLog, JsonEscapeGivesTheInsideOfAJsonString) {
  EXPECT_EQ(JsonEscape("a\"b\\c\n\x01"), "a\\\"b\\\\c\\n\\u0001");
  EXPECT_EQ(JsonEscape("caf\xc3\xa9"), "caf\xc3\xa9");
}

// A plugin's line (through the framework's sink) becomes a line of this
// log: time, the plugin's level, msg, and the plugin's name.
TEST(JsonLog, PluginLinesBecomeLinesWithAPluginField) {
  spdlog::drop("cairnd");
  InitJsonLogging(spdlog::level::info);
  RoutePluginLogs();
  testing::internal::CaptureStderr();
  HostLog(CAIRN_LOG_ERROR, "mmaplog", "segment 3 \"torn\"");
  HostLog(CAIRN_LOG_DEBUG, "mmaplog", "below --log-level");
  const std::string line = testing::internal::GetCapturedStderr();
  SetLogSink(nullptr);
  ASSERT_EQ(line.find('\n'), line.size() - 1) << "one line: " << line;
  const nlohmann::ordered_json object = nlohmann::ordered_json::parse(line);
  EXPECT_EQ(object.at("level"), "error");
  EXPECT_EQ(object.at("msg"), "segment 3 \"torn\"");
  EXPECT_EQ(object.at("plugin"), "mmaplog");
  EXPECT_TRUE(object.contains("time"));
}

TEST(LogLevel, TakesTheFourDocumentedNames) {
  EXPECT_EQ(*ParseLogLevel("debug"), spdlog::level::debug);
  EXPECT_EQ(*ParseLogLevel("info"), spdlog::level::info);
  EXPECT_EQ(*ParseLogLevel("warn"), spdlog::level::warn);
  EXPECT_EQ(*ParseLogLevel("error"), spdlog::level::err);
}

TEST(LogLevel, RefusesAnythingElseNamingTheAllowedValues) {
  for (const char* text :
       {"loud", "", "INFO", "warning", "err", "trace", "off"}) {
    absl::StatusOr<spdlog::level::level_enum> level = ParseLogLevel(text);
    ASSERT_FALSE(level.ok()) << text;
    EXPECT_THAT(level.status().message(),
                HasSubstr(std::string("'") + text + "'"));
    EXPECT_THAT(level.status().message(),
                HasSubstr("debug | info | warn | error"));
  }
}

}  // namespace
}  // namespace cairn::cairnd
