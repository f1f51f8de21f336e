#include "log.h"

#include <cairn/log_sink.h>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "spdlog/pattern_formatter.h"
#include "spdlog/sinks/stdout_sinks.h"

namespace cairn::cairnd {

namespace {

// `value` as JSON text: nlohmann-json's escaping, with bytes that are not
// UTF-8 replaced by U+FFFD so the line stays JSON.
template <typename Json>
std::string Dump(const Json& value) {
  return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

std::string JsonEscape(std::string_view text) {
  const std::string quoted = Dump(nlohmann::json(text));
  return quoted.substr(1, quoted.size() - 2);
}

const char kLogLevels[] = "debug | info | warn | error";

absl::StatusOr<spdlog::level::level_enum> ParseLogLevel(
    const std::string& text) {
  if (text == "debug") return spdlog::level::debug;
  if (text == "info") return spdlog::level::info;
  if (text == "warn") return spdlog::level::warn;
  if (text == "error") return spdlog::level::err;
  return absl::InvalidArgumentError(
      absl::StrCat("--log-level '", text, "' is not one of ", kLogLevels));
}

void InitJsonLogging(spdlog::level::level_enum level) {
  auto logger = spdlog::stderr_logger_mt("cairnd");
  logger->set_formatter(std::make_unique<spdlog::pattern_formatter>(
      R"({"time":"%Y-%m-%dT%H:%M:%S.%fZ","level":"%l",%v})",
      spdlog::pattern_time_type::utc, "\n"));
  logger->set_level(level);
  logger->flush_on(spdlog::level::trace);
  spdlog::set_default_logger(logger);
}

void RoutePluginLogs() {
  SetLogSink([](cairn_log_level level, std::string_view plugin,
                std::string_view message) {
    spdlog::level::level_enum to = spdlog::level::info;
    switch (level) {
      case CAIRN_LOG_DEBUG:
        to = spdlog::level::debug;
        break;
      case CAIRN_LOG_INFO:
        to = spdlog::level::info;
        break;
      case CAIRN_LOG_WARN:
        to = spdlog::level::warn;
        break;
      case CAIRN_LOG_ERROR:
        to = spdlog::level::err;
        break;
    }
    Log(to, message, {{"plugin", std::string(plugin)}});
  });
}

void Log(spdlog::level::level_enum level, std::string_view message,
         std::initializer_list<LogField> fields) {
  auto logger = spdlog::default_logger_raw();
  if (!logger->should_log(level)) return;
  // In order: "msg" first, then the fields as given. The pattern
  // (InitJsonLogging) puts time and level before them, inside the braces.
  nlohmann::ordered_json line;
  line["msg"] = message;
  for (const auto& [key, value] : fields) line[std::string(key)] = value;
  const std::string object = Dump(line);
  logger->log(level, "{}",
              std::string_view(object).substr(1, object.size() - 2));
}

}  // namespace cairn::cairnd
