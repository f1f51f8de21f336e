// Events as JSON lines: what `cairn append` reads and `cairn read --json`
// writes.
//
// Input, one object a line:
//   {"type": "OrderPlaced", "data": {...}, "metadata": {...},
//    "tags": ["order"], "writer": "w-1", "timestamp_us": 1700000000000000}
// Every field is optional. "data" and "metadata" may be any JSON value and
// are stored as its compact JSON text; "data_base64" / "metadata_base64"
// carry binary bytes instead (one of the pair at most). The fields that
// ReadEventToJson adds (stream, revision, position, time, codec, cipher,
// key_id) are accepted and ignored, so `cairn read --json A | cairn append B`
// copies a stream. Any other field is an error.
#ifndef CAIRN_HOSTS_CAIRN_EVENT_JSON_H_
#define CAIRN_HOSTS_CAIRN_EVENT_JSON_H_

#include <cairn/event.h>

#include <istream>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace cairn::cli {

// Parses one JSON line into an event. Errors are kInvalidArgument and say
// what is wrong ("'tags' must be an array of strings"), without a line
// number; ParseEventLines adds it.
absl::StatusOr<EventData> ParseEventJson(std::string_view line);

// Reads every line of `in`, skipping blank ones. The first bad line fails
// the whole read with "<origin> line N: <reason>" (N is 1-based and counts
// blank lines too).
absl::StatusOr<std::vector<EventData>> ParseEventLines(
    std::istream& in, const std::string& origin);

// One JSON object, no newline: stream, revision, position, type, time (RFC
// 3339, UTC), timestamp_us, writer, tags, data or data_base64, metadata or
// metadata_base64, codec, cipher, key_id. "data" is used when the bytes are
// exactly the compact JSON text of a value (so ParseEventJson gives the same
// bytes back), else "data_base64". Empty data and metadata are left out.
std::string RecordedEventToJson(const RecordedEvent& event);

// One human line: "#<revision> @<position> <time> <type> [tags] <data>",
// with data shown as text when it is printable UTF-8, else as its size.
std::string RecordedEventToText(const RecordedEvent& event);

// RFC 3339 in UTC with microseconds: "2026-11-25T19:30:00.123456Z".
std::string FormatTimestamp(int64_t timestamp_us);

}  // namespace cairn::cli

#endif  // CAIRN_HOSTS_CAIRN_EVENT_JSON_H_
