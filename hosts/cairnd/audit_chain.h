// The audit log's line format and its hash chain, shared by the writer in
// cairnd (audit_log.h) and `cairn audit verify`.
//
// Every line is one JSON object that begins with the line's sequence number
// and ends with the SHA-256 of the line before it:
//
//   {"seq":7,"time":"...","kind":"access",...,"prev":"<64 hex digits>"}
//
// `prev` is the lowercase hex SHA-256 of the previous line's bytes (without
// its newline); the first line of a new log has 64 zeros. Rotation does not
// restart the chain: the first line of a new file chains to the last line of
// the file before it. So a changed line breaks the `prev` of the line after
// it, and a removed line leaves a gap in `seq`.
//
// The chain alone cannot show that lines were cut off its end: what is left
// is still a valid chain. So cairnd also keeps the chain's head — the seq
// and hash of the last line written — in a second file, PATH.head, rewritten
// in place after every group write (AuditHead). A log that ends before the
// head's seq, or whose line at that seq has another hash, was truncated or
// rewritten. The head carries a MAC: HMAC-SHA256 with the [audit] key-file
// when there is one, so that only a holder of the key can write a head that
// verifies; without a key a plain SHA-256, which catches a damaged head but
// not one an attacker rewrote along with the log. Neither catches a head
// copied earlier and put back together with the log cut to match it.
#ifndef CAIRN_HOSTS_CAIRND_AUDIT_CHAIN_H_
#define CAIRN_HOSTS_CAIRND_AUDIT_CHAIN_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace cairn::cairnd {

// The `prev` of the first line of a chain.
inline constexpr std::string_view kAuditGenesis =
    "0000000000000000000000000000000000000000000000000000000000000000";

// Lowercase hex SHA-256 of `line` (OpenSSL).
std::string AuditLineHash(std::string_view line);

// The `seq` and `prev` of one audit line, or an error saying which part of
// the format is missing.
struct AuditLink {
  uint64_t seq = 0;
  std::string prev;
};
absl::StatusOr<AuditLink> ParseAuditLink(std::string_view line);

// ------------------------------------------------------------- head --

// The head file of the audit log at `log_path`: log_path + ".head".
std::string AuditHeadPath(std::string_view log_path);

// Every head file is exactly this long (padded with spaces before its
// newline), so rewriting it in place with one pwrite never leaves a tail of
// an older, longer head.
inline constexpr size_t kAuditHeadSize = 256;

// The chain's head: the last line written.
struct AuditHead {
  uint64_t seq = 0;    // 0: nothing written yet
  std::string hash;    // AuditLineHash of line `seq`
  bool keyed = false;  // the MAC is an HMAC (a key-file was used)
};

// Reads the key of [audit] key-file = `path`: the file's bytes as they are,
// at least 32 of them (e.g. 'openssl rand -hex 32'). Refuses a file others
// could read or replace (cairn/sdk/secret_file.hpp), naming the fix.
absl::StatusOr<std::string> ReadAuditKey(const std::string& path);

// The head file's text for (seq, hash), kAuditHeadSize bytes:
//   {"seq":N,"hash":"<64 hex>","mac":"hmac-sha256:<64 hex>"}   (with a key)
//   {"seq":N,"hash":"<64 hex>","mac":"sha256:<64 hex>"}        (without)
// `key` empty: no key.
std::string FormatAuditHead(uint64_t seq, std::string_view hash,
                            std::string_view key);

// Reads and checks the head file `path` with `key` ("" for none):
// std::nullopt when the file does not exist; an error naming the file when
// it is not a head, its MAC does not match, or it is keyed when no key was
// given or unkeyed when one was (a keyed head replaced by an unkeyed one).
absl::StatusOr<std::optional<AuditHead>> ReadAuditHead(const std::string& path,
                                                       std::string_view key);

// ------------------------------------------------------------ verify --

struct AuditChainSummary {
  uint64_t lines = 0;
  uint64_t first_seq = 0;  // 0 when there were no lines
  uint64_t last_seq = 0;
  bool starts_at_genesis = false;  // the first line has seq 1, prev zeros
  // With a head: lines after the head's seq. cairnd writes the head just
  // after each group of lines, so a crash between the two leaves a few.
  uint64_t past_head = 0;
};

// The head a chain is checked against, and the head file's name for
// messages.
struct AuditHeadCheck {
  AuditHead head;
  std::string path;
};

// Checks the chain across `files`, given oldest first (audit.log.3
// audit.log.2 audit.log.1 audit.log). The first line of the first file is
// taken as it is (older files may have been rotated away); every later line
// must have the next seq and the hash of the line before it as prev. With
// `head`, the line at the head's seq must be there with the head's hash: a
// log that ends before it was truncated (the error names the last file, the
// last intact seq and how many lines are missing). An error names the file
// and line number and says what was found: a changed line, removed lines,
// a cut-off last line, a line that is not an audit line, a truncated tail.
// Reads the files only.
absl::StatusOr<AuditChainSummary> VerifyAuditChain(
    const std::vector<std::string>& files,
    const std::optional<AuditHeadCheck>& head = std::nullopt);

// The head check for a log whose last line (at `where`, "FILE:LINE") has
// `seq` and hash `hash`, when seq <= the head's: OK when they are the
// head's line; else the truncation or rewrite error VerifyAuditChain gives.
// `file` names the log in the message. For seq > the head's, the line at
// the head's seq is further back: use VerifyAuditChain.
absl::Status CheckAuditLastLine(const std::string& file, uint64_t seq,
                                std::string_view hash, const std::string& where,
                                const AuditHeadCheck& head);

}  // namespace cairn::cairnd

#endif  // CAIRN_HOSTS_CAIRND_AUDIT_CHAIN_H_
