#include "log.h"

#include <cstdio>

#include "absl/strings/str_cat.h"
#include "spdlog/pattern_formatter.h"
#include "spdlog/sinks/stdout_sinks.h"

namespace cairn::cairnd {

std::string JsonEscape(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 8);
  for (char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buffer[8];
          std::snprintf(buffer, sizeof(buffer), "\\u%04x",
                        static_cast<unsigned>(static_cast<unsigned char>(c)));
          out += buffer;
        } else {
          out.push_back(c);
        }
    }
  }
  return out;
}

const char kLogLevels[] = "debug | info | warn | error";

absl::StatusOr<spdlog::level::level_enum> ParseLogLevel(const std::string& text) {
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

void Log(spdlog::level::level_enum level, std::string_view message,
         std::initializer_list<LogField> fields) {
  auto logger = spdlog::default_logger_raw();
  if (!logger->should_log(level)) return;
  std::string line = "\"msg\":\"" + JsonEscape(message) + "\"";
  for (const auto& [key, value] : fields) {
    line += ",\"";
    line += JsonEscape(key);
    line += "\":\"";
    line += JsonEscape(value);
    line += "\"";
  }
  logger->log(level, "{}", line);
}

}  // namespace cairn::cairnd
