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
#ifndef CAIRN_HOSTS_CAIRND_AUDIT_CHAIN_H_
#define CAIRN_HOSTS_CAIRND_AUDIT_CHAIN_H_

#include <cstdint>
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

struct AuditChainSummary {
  uint64_t lines = 0;
  uint64_t first_seq = 0;  // 0 when there were no lines
  uint64_t last_seq = 0;
  bool starts_at_genesis = false;  // the first line has seq 1, prev zeros
};

// Checks the chain across `files`, given oldest first (audit.log.3
// audit.log.2 audit.log.1 audit.log). The first line of the first file is
// taken as it is (older files may have been rotated away); every later line
// must have the next seq and the hash of the line before it as prev. An
// error names the file and line number and says what was found: a changed
// line, removed lines, a cut-off last line (truncation), a line that is not
// an audit line. Reads the files only.
absl::StatusOr<AuditChainSummary> VerifyAuditChain(
    const std::vector<std::string>& files);

}  // namespace cairn::cairnd

#endif  // CAIRN_HOSTS_CAIRND_AUDIT_CHAIN_H_
