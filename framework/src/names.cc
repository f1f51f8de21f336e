#include <cairn/event.h>
#include <cairn/names.h>
#include <cairn/status.h>

#include <cstdint>
#include <cstdio>

#include "absl/strings/str_cat.h"

namespace cairn {
namespace {

constexpr int32_t kInvalid = -1;

// One character of `text` at `offset`: its code point, or kInvalid for a
// byte that does not start valid UTF-8 (overlong, surrogate, above
// U+10FFFF, truncated or a stray continuation byte), and its length in
// bytes (1 for an invalid byte, so a caller moves on by one byte).
struct Decoded {
  int32_t code_point;
  size_t length;
};

Decoded DecodeAt(std::string_view text, size_t offset) {
  const auto lead = static_cast<unsigned char>(text[offset]);
  if (lead < 0x80) return {lead, 1};
  size_t extra;
  int32_t min;
  if (lead >= 0xc2 && lead <= 0xdf) {
    extra = 1, min = 0x80;
  } else if (lead >= 0xe0 && lead <= 0xef) {
    extra = 2, min = 0x800;
  } else if (lead >= 0xf0 && lead <= 0xf4) {
    extra = 3, min = 0x10000;
  } else {
    return {kInvalid, 1};  // continuation byte, 0xc0/0xc1 (overlong), > 0xf4
  }
  if (offset + extra >= text.size()) return {kInvalid, 1};  // truncated
  int32_t code_point = lead & (0x3f >> extra);
  for (size_t k = 1; k <= extra; ++k) {
    const auto next = static_cast<unsigned char>(text[offset + k]);
    if ((next & 0xc0) != 0x80) return {kInvalid, 1};
    code_point = (code_point << 6) | (next & 0x3f);
  }
  if (code_point < min || code_point > 0x10ffff ||
      (code_point >= 0xd800 && code_point <= 0xdfff)) {
    return {kInvalid, 1};
  }
  return {code_point, extra + 1};
}

bool IsControl(int32_t code_point) {
  return code_point < 0x20 || (code_point >= 0x7f && code_point <= 0x9f);
}

const char* KindText(NameKind kind) {
  switch (kind) {
    case NameKind::kStream: return "stream name";
    case NameKind::kTag: return "tag";
    case NameKind::kEventType: return "event type";
  }
  return "name";
}

std::string CodePointText(int32_t code_point) {
  char text[16];
  std::snprintf(text, sizeof(text), "U+%04X", static_cast<unsigned>(code_point));
  return text;
}

}  // namespace

std::optional<std::string> NameProblem(NameKind kind, std::string_view name) {
  // Every append checks its stream, types and tags: a valid name costs one
  // pass over its bytes and no allocation; the texts are built for a
  // problem only.
  auto what = [kind] { return std::string(KindText(kind)); };
  auto rule = [kind, &what] {
    return absl::StrCat(kind == NameKind::kEventType ? "an " : "a ", what(),
                        " is ", kind == NameKind::kEventType ? 0 : 1, "..",
                        kMaxNameBytes,
                        " bytes of UTF-8 without control characters");
  };
  if (name.empty()) {
    if (kind == NameKind::kEventType) return std::nullopt;
    return absl::StrCat(what(), " is empty; ", rule());
  }
  if (name.size() > kMaxNameBytes) {
    return absl::StrCat(what(), " \"", EscapeForTerminal(name.substr(0, 32)),
                        "...\" is ", name.size(), " bytes; ", rule());
  }
  for (size_t offset = 0; offset < name.size();) {
    const auto byte = static_cast<unsigned char>(name[offset]);
    if (byte >= 0x20 && byte < 0x7f) {  // printable ASCII, the common case
      ++offset;
      continue;
    }
    const Decoded d = DecodeAt(name, offset);
    if (d.code_point == kInvalid) {
      return absl::StrCat(what(), " \"", EscapeForTerminal(name),
                          "\" is not valid UTF-8 at byte ", offset, "; ",
                          rule());
    }
    if (IsControl(d.code_point)) {
      return absl::StrCat(
          what(), " \"", EscapeForTerminal(name), "\" has control character ",
          CodePointText(d.code_point), " at byte ", offset, "; ", rule());
    }
    offset += d.length;
  }
  return std::nullopt;
}

absl::Status ValidateName(NameKind kind, std::string_view name) {
  std::optional<std::string> problem = NameProblem(kind, name);
  if (!problem) return absl::OkStatus();
  return MakeStatus(CAIRN_E_INVALID_ARGUMENT, *problem);
}

absl::Status ValidateAppendNames(std::string_view stream,
                                 absl::Span<const EventData> events) {
  absl::Status s = ValidateName(NameKind::kStream, stream);
  if (!s.ok()) return s;
  for (size_t i = 0; i < events.size(); ++i) {
    std::optional<std::string> problem = NameProblem(NameKind::kEventType, events[i].type);
    for (size_t t = 0; !problem && t < events[i].tags.size(); ++t) {
      problem = NameProblem(NameKind::kTag, events[i].tags[t]);
    }
    if (problem) {
      return MakeStatus(CAIRN_E_INVALID_ARGUMENT, absl::StrCat("event ", i, ": ", *problem));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateRecordNames(const cairn_log_record& record) {
  auto view = [](cairn_bytes b) {
    return std::string_view(reinterpret_cast<const char*>(b.data), b.size);
  };
  std::optional<std::string> problem;
  switch (record.kind) {
    case CAIRN_RECORD_EVENT:
      if (record.event == nullptr) break;
      problem = NameProblem(NameKind::kStream, view(record.event->stream));
      if (!problem) {
        problem = NameProblem(NameKind::kEventType, view(record.event->type));
      }
      for (uint32_t t = 0; !problem && t < record.event->tag_count; ++t) {
        problem = NameProblem(NameKind::kTag, view(record.event->tags[t]));
      }
      break;
    case CAIRN_RECORD_DELETE_TO:
    case CAIRN_RECORD_SNAPSHOT_SAVE:
    case CAIRN_RECORD_SNAPSHOT_DELETE:
      problem = NameProblem(NameKind::kStream, view(record.stream));
      break;
    default:
      break;
  }
  if (!problem) return absl::OkStatus();
  return MakeStatus(
      CAIRN_E_INVALID_ARGUMENT,
      absl::StrCat("the record at position ", record.position, ": ", *problem));
}

bool IsValidUtf8(std::string_view text) {
  for (size_t offset = 0; offset < text.size();) {
    const Decoded d = DecodeAt(text, offset);
    if (d.code_point == kInvalid) return false;
    offset += d.length;
  }
  return true;
}

bool IsPrintableUtf8(std::string_view text) {
  for (size_t offset = 0; offset < text.size();) {
    const Decoded d = DecodeAt(text, offset);
    if (d.code_point == kInvalid || IsControl(d.code_point)) return false;
    offset += d.length;
  }
  return true;
}

std::string EscapeForTerminal(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  char escape[8];
  for (size_t offset = 0; offset < text.size();) {
    const Decoded d = DecodeAt(text, offset);
    if (d.code_point == '\t') {
      out += "\\t";
    } else if (d.code_point == '\n') {
      out += "\\n";
    } else if (d.code_point == '\r') {
      out += "\\r";
    } else if (d.code_point == kInvalid || d.code_point < 0x20 || d.code_point == 0x7f) {
      std::snprintf(escape, sizeof(escape), "\\x%02x",
                    static_cast<unsigned>(static_cast<unsigned char>(text[offset])));
      out += escape;
    } else if (IsControl(d.code_point)) {
      std::snprintf(escape, sizeof(escape), "\\u%04x", static_cast<unsigned>(d.code_point));
      out += escape;
    } else {
      out.append(text.substr(offset, d.length));
    }
    offset += d.length;
  }
  return out;
}

}  // namespace cairn
