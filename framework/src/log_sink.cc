#include <cairn/log_sink.h>

#include <cstdio>
#include <mutex>
#include <shared_mutex>
#include <string>

#include <nlohmann/json.hpp>

namespace cairn {
namespace {

// Readers (HostLog) hold the lock shared for the whole call, so SetLogSink,
// which takes it exclusively, returns only once no call into the old sink
// is in flight.
struct SinkSlot {
  std::shared_mutex mutex;
  LogSink sink;  // empty: DefaultLogSink
};

SinkSlot& Slot() {
  static SinkSlot* slot = new SinkSlot();  // never destroyed: logs at exit work
  return *slot;
}

// `text` as a JSON string (nlohmann-json's escaping; bytes that are not
// UTF-8 become U+FFFD, so the line stays JSON).
std::string JsonString(std::string_view text) {
  return nlohmann::json(text).dump(-1, ' ', false,
                                   nlohmann::json::error_handler_t::replace);
}

}  // namespace

const char* LogLevelName(cairn_log_level level) {
  switch (level) {
    case CAIRN_LOG_DEBUG:
      return "debug";
    case CAIRN_LOG_INFO:
      return "info";
    case CAIRN_LOG_WARN:
      return "warn";
    case CAIRN_LOG_ERROR:
      return "error";
  }
  return "info";
}

void DefaultLogSink(cairn_log_level level, std::string_view source,
                    std::string_view message) {
  if (level < CAIRN_LOG_INFO) return;
  const std::string line = std::string("{\"level\":\"") + LogLevelName(level) +
                           "\",\"plugin\":" + JsonString(source) +
                           ",\"msg\":" + JsonString(message) + "}\n";
  // One write, so lines from concurrent threads stay whole.
  std::fwrite(line.data(), 1, line.size(), stderr);
}

LogSink SetLogSink(LogSink sink) {
  SinkSlot& slot = Slot();
  std::unique_lock lock(slot.mutex);
  std::swap(slot.sink, sink);
  return sink;
}

void HostLog(cairn_log_level level, const char* source, const char* message) {
  const std::string_view s = source ? source : "";
  const std::string_view m = message ? message : "";
  SinkSlot& slot = Slot();
  std::shared_lock lock(slot.mutex);
  try {
    if (slot.sink) {
      slot.sink(level, s, m);
    } else {
      DefaultLogSink(level, s, m);
    }
  } catch (...) {
    // A line is lost rather than an exception thrown into a plugin's C code.
  }
}

void HostLogCallback(void*, cairn_log_level level, const char* plugin,
                     const char* message) {
  HostLog(level, plugin, message);
}

}  // namespace cairn
