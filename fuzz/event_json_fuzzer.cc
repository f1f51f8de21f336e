// libFuzzer target: the CLI's event JSON (hosts/cairn/event_json.cc), one
// line and a stream of lines. No crash, no hang; errors are statuses. An
// event that parses, printed as `cairn read --json` prints it, parses back
// to the same type, data, metadata, tags and writer (the promise that lets
// read --json be piped into append).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>

#include "event_json.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  std::istringstream lines(text);
  (void)cairn::cli::ParseEventLines(lines, "fuzz");
  auto event = cairn::cli::ParseEventJson(text);
  if (!event.ok()) return 0;
  cairn::RecordedEvent recorded;
  recorded.stream = "s";
  recorded.revision = 1;
  recorded.position = 1;
  recorded.type = event->type;
  recorded.data = event->data;
  recorded.metadata = event->metadata;
  recorded.tags = event->tags;
  recorded.writer = event->writer;
  recorded.timestamp_us = event->timestamp_us;
  const std::string json = cairn::cli::RecordedEventToJson(recorded);
  auto again = cairn::cli::ParseEventJson(json);
  if (!again.ok() || again->type != event->type || again->data != event->data ||
      again->metadata != event->metadata || again->tags != event->tags ||
      again->writer != event->writer) {
    std::fprintf(stderr, "event_json_fuzzer: %s does not parse back to the same event (%s)\n",
                 json.c_str(),
                 again.ok() ? "fields differ" : std::string(again.status().message()).c_str());
    std::abort();
  }
  return 0;
}
