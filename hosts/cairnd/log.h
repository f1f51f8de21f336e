// JSON-line logging on stderr through spdlog: one object per line,
// {"time":"...Z","level":"info","msg":"...", <fields>}.
#ifndef CAIRN_HOSTS_CAIRND_LOG_H_
#define CAIRN_HOSTS_CAIRND_LOG_H_

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

#include "absl/status/statusor.h"
#include "spdlog/spdlog.h"

namespace cairn::cairnd {

using LogField = std::pair<std::string_view, std::string>;

// The levels --log-level takes, for messages and help: "debug | info |
// warn | error".
extern const char kLogLevels[];

// "debug", "info", "warn" or "error" as a level; anything else is
// kInvalidArgument naming the text and the four names.
absl::StatusOr<spdlog::level::level_enum> ParseLogLevel(
    const std::string& text);

// Makes the default spdlog logger write JSON lines to stderr at `level`.
void InitJsonLogging(spdlog::level::level_enum level);

// Routes the framework's log lines into this logger: each plugin line
// becomes {"time":...,"level":...,"msg":...,"plugin":<name>} at the plugin's
// level (the framework's own lines carry "plugin":"store"), so --log-level
// and the destination apply to them as to cairnd's own. Call after
// InitJsonLogging and before the store is opened.
void RoutePluginLogs();

// Logs `message` with extra string fields. Safe from any thread.
void Log(spdlog::level::level_enum level, std::string_view message,
         std::initializer_list<LogField> fields = {});

// `text` as the inside of a JSON string (quotes, backslashes, control
// characters escaped; bytes that are not UTF-8 replaced by U+FFFD).
std::string JsonEscape(std::string_view text);

}  // namespace cairn::cairnd

#endif  // CAIRN_HOSTS_CAIRND_LOG_H_
