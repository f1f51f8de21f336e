// Events as JSON lines: what `cairn append` reads and `cairn read --json`
// writes.
//
// Input, one object a line:
//   {"type": "OrderPlaced", "data": {...}, "metadata": {...},
//    "tags": ["order"], "writer": "w-1", "timestamp_us": 1700000000000000}
// Every field is optional. "data" and "metadata" may be any JSON value and
// are stored as its compact JSON text; "data_base64" / "metadata_base64"
// carry binary bytes instead (one of the pair at most); likewise
// "type_base64", "writer_base64" and "tags_base64" (an array) carry the
// exact bytes RecordedEventToJson writes for texts that are not valid
// UTF-8. The fields that RecordedEventToJson adds (stream, stream_base64,
// revision, position, time, codec, cipher, key_id) are accepted and
// ignored, so `cairn read --json A | cairn append B` copies a stream. Any
// other field is an error, and so are a NUL byte anywhere in the line and a
// key given twice in one object (at any depth).
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
// stream, type, writer and tags are JSON strings when they are valid UTF-8
// (control characters escaped by JSON), else "stream_base64",
// "type_base64", "writer_base64", "tags_base64" (an array) carry their
// exact bytes, so the output is always valid JSON and loses nothing.
std::string RecordedEventToJson(const RecordedEvent& event);

// One JSON object, no newline, for `cairn streams --json`: stream,
// ordinal, head_revision, deleted_to.
std::string StreamInfoToJson(const StreamInfo& info);

// One human line: "#<revision> @<position> <time> <type> [tags] <data>",
// with data shown as text when it is printable UTF-8, else as its size;
// type and tags are shown through EscapeForTerminal (cairn/names.h).
std::string RecordedEventToText(const RecordedEvent& event);

// RFC 3339 in UTC with microseconds: "2026-11-25T19:30:00.123456Z".
std::string FormatTimestamp(int64_t timestamp_us);

}  // namespace cairn::cli

#endif  // CAIRN_HOSTS_CAIRN_EVENT_JSON_H_
