#include "event_json.h"

#include <cairn/names.h>
#include <cairn/status.h>

#include <algorithm>
#include <optional>
#include <set>
#include <tuple>
#include <vector>

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

// Decodes `value`, the value of field `field`, which must be a base64 string.
absl::Status DecodeBase64(const Json& value, const std::string& field, std::string* bytes) {
  if (!value.is_string()) return Invalid(absl::StrCat("'", field, "' must be a base64 string"));
  const std::string& text = value.get_ref<const std::string&>();
  if (!absl::Base64Unescape(absl::string_view(text.data(), text.size()), bytes)) {
    return Invalid(absl::StrCat("'", field, "' is not valid base64"));
  }
  return absl::OkStatus();
}

enum class PlainField {
  kAnyValue,  // any JSON value, stored as its compact JSON text (data, metadata)
  kString,    // a JSON string (type, writer)
};

// Fills `bytes` from field `name` or from `name`_base64 (a base64 string,
// for binary payloads and for texts that are not valid UTF-8). Both at once
// is an error.
absl::Status TakeBytes(const Json& object, const std::string& name, PlainField kind,
                       std::string* bytes) {
  const std::string base64_name = name + "_base64";
  auto plain = object.find(name);
  auto base64 = object.find(base64_name);
  if (plain != object.end() && base64 != object.end()) {
    return Invalid(absl::StrCat("give '", name, "' or '", base64_name, "', not both"));
  }
  if (base64 != object.end()) return DecodeBase64(*base64, base64_name, bytes);
  if (plain == object.end()) return absl::OkStatus();
  if (kind == PlainField::kAnyValue) {
    *bytes = Dump(*plain);
  } else if (plain->is_string()) {
    *bytes = plain->get<std::string>();
  } else {
    return Invalid(absl::StrCat("'", name, "' must be a string, not ", plain->type_name()));
  }
  return absl::OkStatus();
}

// Sets `name` to `text` when it is valid UTF-8, else `name`_base64 to its
// bytes in base64, so JSON output stays valid and loses no byte. (Control
// characters are valid UTF-8; the JSON writer escapes them.)
void PutText(Json& object, const std::string& name, const std::string& text) {
  if (IsValidUtf8(text)) {
    object[name] = text;
  } else {
    object[name + "_base64"] = absl::Base64Escape(absl::string_view(text.data(), text.size()));
  }
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
  // nlohmann's parser takes a NUL byte for the end of the input and would
  // ignore whatever follows it; JSON text never holds one.
  if (size_t nul = line.find('\0'); nul != std::string_view::npos) {
    return Invalid(absl::StrCat("a NUL byte at byte ", nul,
                                "; a line holds one JSON object and nothing else"));
  }
  // A key given twice in one object would silently keep one of the values.
  std::vector<std::set<std::string>> keys_of_open_objects;
  std::optional<std::string> duplicate;
  Json::parser_callback_t check_keys = [&](int, Json::parse_event_t event, Json& parsed) {
    if (event == Json::parse_event_t::object_start) {
      keys_of_open_objects.emplace_back();
    } else if (event == Json::parse_event_t::object_end && !keys_of_open_objects.empty()) {
      keys_of_open_objects.pop_back();
    } else if (event == Json::parse_event_t::key && !duplicate &&
               !keys_of_open_objects.back().insert(parsed.get<std::string>()).second) {
      duplicate = parsed.get<std::string>();
    }
    return true;
  };
  Json object;
  try {
    object = Json::parse(line.begin(), line.end(), check_keys);
  } catch (const Json::exception& e) {
    return Invalid(absl::StrCat("not valid JSON: ", CleanJsonMessage(e.what())));
  }
  if (duplicate) {
    return Invalid(absl::StrCat("duplicate key '", *duplicate,
                                "' in an object; give each key once"));
  }
  if (!object.is_object()) {
    return Invalid(absl::StrCat("expected a JSON object such as {\"type\": \"OrderPlaced\", "
                                "\"data\": {...}}, got ",
                                object.type_name()));
  }
  static const std::set<std::string> kInputFields = {
      "type", "type_base64", "data", "data_base64", "metadata", "metadata_base64",
      "tags", "tags_base64", "writer", "writer_base64", "timestamp_us"};
  // Written by `cairn read --json`; ignored so its output can be appended.
  static const std::set<std::string> kReadOnlyFields = {
      "stream", "stream_base64", "revision", "position", "time", "codec", "cipher", "key_id"};
  for (const auto& [key, value] : object.items()) {
    if (!kInputFields.count(key) && !kReadOnlyFields.count(key)) {
      return Invalid(absl::StrCat("unknown field '", key, "' (known: ",
                                  absl::StrJoin(kInputFields, ", "), ")"));
    }
  }
  EventData event;
  for (auto [name, kind, bytes] :
       {std::tuple{"type", PlainField::kString, &event.type},
        std::tuple{"writer", PlainField::kString, &event.writer},
        std::tuple{"data", PlainField::kAnyValue, &event.data},
        std::tuple{"metadata", PlainField::kAnyValue, &event.metadata}}) {
    if (absl::Status s = TakeBytes(object, name, kind, bytes); !s.ok()) return s;
  }
  auto tags = object.find("tags");
  auto tags_base64 = object.find("tags_base64");
  if (tags != object.end() && tags_base64 != object.end()) {
    return Invalid("give 'tags' or 'tags_base64', not both");
  }
  if (tags != object.end()) {
    if (!tags->is_array()) return Invalid("'tags' must be an array of strings");
    for (const Json& tag : *tags) {
      if (!tag.is_string()) return Invalid("'tags' must be an array of strings");
      event.tags.push_back(tag.get<std::string>());
    }
  } else if (tags_base64 != object.end()) {
    if (!tags_base64->is_array()) return Invalid("'tags_base64' must be an array of strings");
    for (const Json& tag : *tags_base64) {
      if (absl::Status s = DecodeBase64(tag, "tags_base64", &event.tags.emplace_back());
          !s.ok()) {
        return s;
      }
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
  PutText(object, "stream", event.stream);
  object["revision"] = event.revision;
  object["position"] = event.position;
  PutText(object, "type", event.type);
  object["time"] = FormatTimestamp(event.timestamp_us);
  object["timestamp_us"] = event.timestamp_us;
  if (!event.writer.empty()) PutText(object, "writer", event.writer);
  if (std::all_of(event.tags.begin(), event.tags.end(), IsValidUtf8)) {
    if (!event.tags.empty()) object["tags"] = event.tags;
  } else {
    Json& tags = object["tags_base64"] = Json::array();
    for (const std::string& tag : event.tags) {
      tags.push_back(absl::Base64Escape(absl::string_view(tag.data(), tag.size())));
    }
  }
  PutPayload(object, "data", event.data);
  PutPayload(object, "metadata", event.metadata);
  object["codec"] = event.codec.empty() ? "identity" : event.codec;
  object["cipher"] = event.cipher.empty() ? "none" : event.cipher;
  object["key_id"] = event.key_id;
  return Dump(object);
}

std::string StreamInfoToJson(const StreamInfo& info) {
  Json object = Json::object();
  PutText(object, "stream", info.name);
  object["ordinal"] = info.ordinal;
  object["head_revision"] = info.head_revision;
  object["deleted_to"] = info.deleted_to;
  return Dump(object);
}

std::string RecordedEventToText(const RecordedEvent& event) {
  std::string line = absl::StrCat("#", event.revision, " @", event.position, " ",
                                  FormatTimestamp(event.timestamp_us), " ",
                                  event.type.empty() ? "-" : EscapeForTerminal(event.type));
  if (!event.tags.empty()) {
    absl::StrAppend(&line, " [",
                    absl::StrJoin(event.tags, ",",
                                  [](std::string* out, const std::string& tag) {
                                    out->append(EscapeForTerminal(tag));
                                  }),
                    "]");
  }
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
