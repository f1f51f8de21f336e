#include "event_json.h"

#include <cairn/status.h>

#include <set>

#include <nlohmann/json.hpp>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"

namespace cairn::cli {
namespace {

using Json = nlohmann::ordered_json;  // keeps the writer's key order

absl::Status Invalid(std::string_view message) {
  return MakeStatus(CAIRN_E_INVALID_ARGUMENT, message);
}

// nlohmann's messages start with "[json.exception.parse_error.101] ".
std::string CleanJsonMessage(const std::string& what) {
  size_t close = what.find("] ");
  if (!what.empty() && what[0] == '[' && close != std::string::npos) {
    return what.substr(close + 2);
  }
  return what;
}

std::string Dump(const Json& value) {
  return value.dump(-1, ' ', /*ensure_ascii=*/false,
                    Json::error_handler_t::replace);
}

// Fills `bytes` from field `name` (any JSON value, stored as compact JSON
// text) or `name`_base64 (a base64 string). Both at once is an error.
absl::Status TakePayload(const Json& object, const std::string& name,
                         std::string* bytes) {
  const std::string base64_name = name + "_base64";
  auto plain = object.find(name);
  auto base64 = object.find(base64_name);
  if (plain != object.end() && base64 != object.end()) {
    return Invalid(absl::StrCat("give '", name, "' or '", base64_name,
                                "', not both"));
  }
  if (plain != object.end()) {
    *bytes = Dump(*plain);
  } else if (base64 != object.end()) {
    if (!base64->is_string()) {
      return Invalid(absl::StrCat("'", base64_name, "' must be a base64 string"));
    }
    const std::string& text = base64->get_ref<const std::string&>();
    if (!absl::Base64Unescape(absl::string_view(text.data(), text.size()), bytes)) {
      return Invalid(absl::StrCat("'", base64_name, "' is not valid base64"));
    }
  }
  return absl::OkStatus();
}

absl::Status TakeString(const Json& object, const char* name, std::string* out) {
  auto it = object.find(name);
  if (it == object.end()) return absl::OkStatus();
  if (!it->is_string()) {
    return Invalid(absl::StrCat("'", name, "' must be a string, not ", it->type_name()));
  }
  *out = it->get<std::string>();
  return absl::OkStatus();
}

// True if `bytes` is valid UTF-8 with no control characters.
bool IsPrintableUtf8(std::string_view bytes) {
  size_t i = 0;
  while (i < bytes.size()) {
    unsigned char c = static_cast<unsigned char>(bytes[i]);
    if (c < 0x80) {
      if (c < 0x20 || c == 0x7f) return false;
      ++i;
      continue;
    }
    int extra = (c & 0xe0) == 0xc0 ? 1 : (c & 0xf0) == 0xe0 ? 2 : (c & 0xf8) == 0xf0 ? 3 : -1;
    if (extra < 0 || (extra == 1 && c < 0xc2) || (extra == 3 && c > 0xf4)) return false;
    if (i + extra >= bytes.size()) return false;  // truncated sequence
    uint32_t code = c & (0x3f >> extra);
    for (int k = 1; k <= extra; ++k) {
      unsigned char next = static_cast<unsigned char>(bytes[i + k]);
      if ((next & 0xc0) != 0x80) return false;
      code = (code << 6) | (next & 0x3f);
    }
    if ((extra == 2 && (code < 0x800 || (code >= 0xd800 && code <= 0xdfff))) ||
        (extra == 3 && (code < 0x10000 || code > 0x10ffff))) {
      return false;
    }
    i += extra + 1;
  }
  return true;
}

// Sets `name` (when `bytes` is exactly the compact JSON text of a value) or
// `name`_base64. Empty bytes are left out.
void PutPayload(Json& object, const std::string& name, const std::string& bytes) {
  if (bytes.empty()) return;
  Json value = Json::parse(bytes, nullptr, /*allow_exceptions=*/false);
  if (!value.is_discarded() && Dump(value) == bytes) {
    object[name] = std::move(value);
  } else {
    object[name + "_base64"] = absl::Base64Escape(absl::string_view(bytes.data(), bytes.size()));
  }
}

}  // namespace

absl::StatusOr<EventData> ParseEventJson(std::string_view line) {
  Json object;
  try {
    object = Json::parse(line.begin(), line.end());
  } catch (const Json::exception& e) {
    return Invalid(absl::StrCat("not valid JSON: ", CleanJsonMessage(e.what())));
  }
  if (!object.is_object()) {
    return Invalid(absl::StrCat("expected a JSON object such as {\"type\": \"OrderPlaced\", "
                                "\"data\": {...}}, got ",
                                object.type_name()));
  }
  static const std::set<std::string> kInputFields = {
      "type", "data", "data_base64", "metadata", "metadata_base64",
      "tags", "writer", "timestamp_us"};
  // Written by `cairn read --json`; ignored so its output can be appended.
  static const std::set<std::string> kReadOnlyFields = {
      "stream", "revision", "position", "time", "codec", "cipher", "key_id"};
  for (const auto& [key, value] : object.items()) {
    if (!kInputFields.count(key) && !kReadOnlyFields.count(key)) {
      return Invalid(absl::StrCat("unknown field '", key, "' (known: ",
                                  absl::StrJoin(kInputFields, ", "), ")"));
    }
  }
  EventData event;
  if (absl::Status s = TakeString(object, "type", &event.type); !s.ok()) return s;
  if (absl::Status s = TakeString(object, "writer", &event.writer); !s.ok()) return s;
  if (absl::Status s = TakePayload(object, "data", &event.data); !s.ok()) return s;
  if (absl::Status s = TakePayload(object, "metadata", &event.metadata); !s.ok()) return s;
  if (auto tags = object.find("tags"); tags != object.end()) {
    if (!tags->is_array()) return Invalid("'tags' must be an array of strings");
    for (const Json& tag : *tags) {
      if (!tag.is_string()) return Invalid("'tags' must be an array of strings");
      event.tags.push_back(tag.get<std::string>());
    }
  }
  if (auto ts = object.find("timestamp_us"); ts != object.end()) {
    if (ts->is_number_integer() &&
        (!ts->is_number_unsigned() ||
         ts->get<uint64_t>() <= static_cast<uint64_t>(INT64_MAX))) {
      event.timestamp_us = ts->get<int64_t>();
    } else {
      return Invalid("'timestamp_us' must be an integer (microseconds since the Unix epoch)");
    }
  }
  return event;
}

absl::StatusOr<std::vector<EventData>> ParseEventLines(std::istream& in,
                                                       const std::string& origin) {
  std::vector<EventData> events;
  std::string line;
  for (size_t number = 1; std::getline(in, line); ++number) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    absl::StatusOr<EventData> event = ParseEventJson(line);
    if (!event.ok()) {
      return Invalid(absl::StrCat(origin, " line ", number, ": ", std::string(event.status().message())));
    }
    events.push_back(*std::move(event));
  }
  if (in.bad()) {
    return MakeStatus(CAIRN_E_IO, absl::StrCat("cannot read ", origin));
  }
  return events;
}

std::string FormatTimestamp(int64_t timestamp_us) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ", absl::FromUnixMicros(timestamp_us),
                          absl::UTCTimeZone());
}

std::string RecordedEventToJson(const RecordedEvent& event) {
  Json object = Json::object();
  object["stream"] = event.stream;
  object["revision"] = event.revision;
  object["position"] = event.position;
  object["type"] = event.type;
  object["time"] = FormatTimestamp(event.timestamp_us);
  object["timestamp_us"] = event.timestamp_us;
  if (!event.writer.empty()) object["writer"] = event.writer;
  if (!event.tags.empty()) object["tags"] = event.tags;
  PutPayload(object, "data", event.data);
  PutPayload(object, "metadata", event.metadata);
  object["codec"] = event.codec.empty() ? "identity" : event.codec;
  object["cipher"] = event.cipher.empty() ? "none" : event.cipher;
  object["key_id"] = event.key_id;
  return Dump(object);
}

std::string RecordedEventToText(const RecordedEvent& event) {
  std::string line = absl::StrCat("#", event.revision, " @", event.position, " ",
                                  FormatTimestamp(event.timestamp_us), " ",
                                  event.type.empty() ? "-" : event.type);
  if (!event.tags.empty()) absl::StrAppend(&line, " [", absl::StrJoin(event.tags, ","), "]");
  if (event.data.empty()) {
    absl::StrAppend(&line, " (no data)");
  } else if (IsPrintableUtf8(event.data)) {
    absl::StrAppend(&line, " ", event.data);
  } else {
    absl::StrAppend(&line, " (", event.data.size(), " bytes of binary data)");
  }
  return line;
}

}  // namespace cairn::cli
