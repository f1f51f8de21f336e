// Where plugin log lines go: each host installs its own sink (cairnd its
// JSON log, the CLI its stderr conventions); until one does, lines go to the
// default sink. Plugins reach it through cairn_host_offer.log, which the
// registry points at this process-wide sink, so a sink installed after a
// plugin was loaded still receives that plugin's later lines.
#ifndef CAIRN_LOG_SINK_H_
#define CAIRN_LOG_SINK_H_

#include <cairn/plugin.h>

#include <functional>
#include <string_view>
#include <utility>

namespace cairn {

// Receives one log line: `source` is the plugin's name as it gave it (or
// "store" for the framework's own lines), `message` one line of text. Both
// are valid only during the call. Called from any thread, concurrently: the
// sink does its own locking. It must not call SetLogSink or HostLog.
using LogSink = std::function<void(
    cairn_log_level level, std::string_view source, std::string_view message)>;

// The sink a process starts with: info and above as one JSON line
// {"level":"warn","plugin":"mmaplog","msg":"..."} on stderr (text that is not
// UTF-8 becomes U+FFFD); debug lines are dropped.
void DefaultLogSink(cairn_log_level level, std::string_view source,
                    std::string_view message);

// Installs `sink` for every line logged from now on (an empty sink restores
// DefaultLogSink) and returns the sink it replaces. When it returns, no
// thread is still inside the replaced sink, so that sink's state may be
// destroyed. Safe from any thread; install it before opening a store so that
// lines logged at open (recovery warnings) reach it.
LogSink SetLogSink(LogSink sink);

// Installs a sink for its own lifetime and puts the previous one back.
class ScopedLogSink {
 public:
  explicit ScopedLogSink(LogSink sink)
      : previous_(SetLogSink(std::move(sink))) {}
  ~ScopedLogSink() { SetLogSink(std::move(previous_)); }
  ScopedLogSink(const ScopedLogSink&) = delete;
  ScopedLogSink& operator=(const ScopedLogSink&) = delete;

 private:
  LogSink previous_;
};

// Sends one line to the installed sink: the framework's own lines ("store")
// and, through HostLogCallback, every plugin's. Any thread.
void HostLog(cairn_log_level level, const char* source, const char* message);

// The function the registry offers plugins as cairn_host_offer.log (its
// context is unused): forwards to HostLog.
void HostLogCallback(void* context, cairn_log_level level, const char* plugin,
                     const char* message);

// "debug", "info", "warn" or "error" ("info" for a value out of range).
const char* LogLevelName(cairn_log_level level);

}  // namespace cairn

#endif  // CAIRN_LOG_SINK_H_
