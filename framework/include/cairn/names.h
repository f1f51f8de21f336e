// The rule for names — stream names, tags and event types — and how a host
// prints one so that no byte of it can act on a terminal.
//
// The rule (also in plugin.h and docs/architecture.md "Data model"): a name
// is valid UTF-8 (no overlong forms, no surrogates, nothing above U+10FFFF),
// at most kMaxNameBytes (255) bytes, and holds no control character: no C0
// (U+0000..U+001F, so also TAB and newline), no DEL (U+007F), no C1
// (U+0080..U+009F). Stream names and tags are at least 1 byte; an event type
// may be empty ("no type"). Every other character is ordinary, '/' and ".."
// included: no storage plugin in this tree uses a name as a file path
// (mmaplog names snapshot files by a hash of the stream name).
//
// The Store enforces the rule on every write (append, delete-to, snapshot
// save); reads take any name a store already holds, so names written before
// the rule stay readable.
#ifndef CAIRN_NAMES_H_
#define CAIRN_NAMES_H_

#include <cairn/event.h>
#include <cairn/plugin.h>

#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/types/span.h"

namespace cairn {

enum class NameKind {
  kStream,     // "stream name", 1..255 bytes
  kTag,        // "tag", 1..255 bytes
  kEventType,  // "event type", 0..255 bytes
};

// What is wrong with `name` as a `kind`, or nullopt if it keeps the rule.
// The message names the kind, shows the name escaped (EscapeForTerminal),
// says what breaks the rule and at which byte offset, e.g.
//   stream name "x\t999" has control character U+0009 at byte 1; ...
// Pure; safe from any thread.
std::optional<std::string> NameProblem(NameKind kind, std::string_view name);

// OK, or CAIRN_E_INVALID_ARGUMENT (cairn::MakeStatus) with NameProblem's
// message.
absl::Status ValidateName(NameKind kind, std::string_view name);

// ValidateName for an append: `stream`, then each event's type and tags. A
// problem with an event's names is prefixed "event N: " (N 0-based in
// `events`).
absl::Status ValidateAppendNames(std::string_view stream,
                                 absl::Span<const EventData> events);

// ValidateName for a record of the ordered log about to be written with
// apply_log (a restore, from a backup that may have been edited): an
// EVENT's stream, type and tags; a DELETE_TO's or snapshot record's stream.
// A problem is prefixed "the record at position P: ". Appends check names
// before they are written; this keeps a restore from bringing in a name
// the rule refuses.
absl::Status ValidateRecordNames(const cairn_log_record& record);

// True if `text` is valid UTF-8 as the rule defines it (control characters
// allowed).
bool IsValidUtf8(std::string_view text);

// True if `text` is valid UTF-8 (as in the rule) with no control character
// (C0, DEL, C1). Says nothing about length.
bool IsPrintableUtf8(std::string_view text);

// `text` made safe for a terminal or a log line: printable UTF-8 is kept
// as it is (a backslash too), TAB / newline / carriage return become "\t"
// "\n" "\r", other C0 bytes and DEL "\xNN", C1 characters "\u0080".."\u009f",
// and each byte that is not part of valid UTF-8 "\xNN". The output is
// printable UTF-8, and escaping it again changes nothing, so a message that
// quotes an escaped name may be escaped as a whole. (A name holding a
// literal "\t" prints like one holding a TAB; the rule lets only the first
// be written, so the two meet only in names stored before it.)
std::string EscapeForTerminal(std::string_view text);

}  // namespace cairn

#endif  // CAIRN_NAMES_H_
