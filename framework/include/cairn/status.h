// Errors: absl::Status with the plugin ABI's cairn_status attached, so a
// caller can tell a concurrency conflict from corruption from bad input.
#ifndef CAIRN_STATUS_H_
#define CAIRN_STATUS_H_

#include <cairn/plugin.h>

#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace cairn {

// Makes a Status from an ABI code and message. The absl code is the closest
// match (kAborted for WrongExpectedRevision, kDataLoss for corruption and
// integrity failures, ...); the exact cairn_status travels as a payload.
absl::Status MakeStatus(cairn_status code, std::string_view message);

// The cairn_status behind `status` (CAIRN_OK for OK; for a status not made
// by MakeStatus, the closest code).
cairn_status CodeOf(const absl::Status& status);

inline bool IsWrongExpectedRevision(const absl::Status& s) {
  return CodeOf(s) == CAIRN_E_WRONG_EXPECTED_REVISION;
}
inline bool IsIntegrityError(const absl::Status& s) {
  return CodeOf(s) == CAIRN_E_INTEGRITY;
}
inline bool IsCorruption(const absl::Status& s) {
  return CodeOf(s) == CAIRN_E_CORRUPTION;
}

// Who leads a replica group, as a node knows it (cairn_leader_info).
struct LeaderInfo {
  cairn_replication_role role = CAIRN_ROLE_STANDALONE;  // this node's
  uint64_t epoch = 0;   // newest epoch known; 0: none began
  bool known = false;   // a leader is known
  std::string node;     // its node id (empty: a standalone node itself)
  std::string address;  // its client-facing address; empty: unknown
};

// A CAIRN_E_NOT_LEADER status naming `leader` (carried as a payload, so it
// survives copies and wrapping that keep payloads).
absl::Status NotLeaderError(std::string_view message, const LeaderInfo& leader);
// The leader a NOT_LEADER status names; nullopt for any other status.
std::optional<LeaderInfo> NotLeaderOf(const absl::Status& status);
inline bool IsNotLeader(const absl::Status& s) {
  return CodeOf(s) == CAIRN_E_NOT_LEADER;
}

// A stable name for a code: "WrongExpectedRevision", "Corruption", ...
const char* CodeName(cairn_status code);

}  // namespace cairn

#endif  // CAIRN_STATUS_H_
