// Errors: absl::Status with the plugin ABI's cairn_status attached, so a
// caller can tell a concurrency conflict from corruption from bad input.
#ifndef CAIRN_STATUS_H_
#define CAIRN_STATUS_H_

#include <cairn/plugin.h>

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

// A stable name for a code: "WrongExpectedRevision", "Corruption", ...
const char* CodeName(cairn_status code);

}  // namespace cairn

#endif  // CAIRN_STATUS_H_
