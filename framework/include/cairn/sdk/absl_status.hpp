// For plugins written with Abseil: an absl::Status as the SDK's Status, by
// the one mapping the framework also uses (cairn/status.h CodeOf, for a
// status that carries no cairn code of its own). Include it only where
// Abseil is linked; the rest of the SDK does not need it.
#ifndef CAIRN_SDK_ABSL_STATUS_HPP_
#define CAIRN_SDK_ABSL_STATUS_HPP_

#include <cairn/sdk/common.hpp>

#include <string>

#include "absl/status/status.h"

namespace cairn::sdk {

// The cairn_status for an absl code: kAborted is a wrong expected revision,
// kDataLoss corruption, kUnavailable I/O, kCancelled a closed instance,
// kOutOfRange an invalid argument; a code with no counterpart is internal.
inline cairn_status CodeFromAbsl(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kOk:
      return CAIRN_OK;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kOutOfRange:
      return CAIRN_E_INVALID_ARGUMENT;
    case absl::StatusCode::kNotFound:
      return CAIRN_E_NOT_FOUND;
    case absl::StatusCode::kAborted:
      return CAIRN_E_WRONG_EXPECTED_REVISION;
    case absl::StatusCode::kDataLoss:
      return CAIRN_E_CORRUPTION;
    case absl::StatusCode::kUnavailable:
      return CAIRN_E_IO;
    case absl::StatusCode::kUnimplemented:
      return CAIRN_E_UNSUPPORTED;
    case absl::StatusCode::kCancelled:
      return CAIRN_E_CLOSED;
    case absl::StatusCode::kResourceExhausted:
      return CAIRN_E_RESOURCE_EXHAUSTED;
    case absl::StatusCode::kDeadlineExceeded:
      return CAIRN_E_TIMEOUT;
    case absl::StatusCode::kFailedPrecondition:
      return CAIRN_E_FAILED_PRECONDITION;
    default:
      return CAIRN_E_INTERNAL;
  }
}

// `status` with its message, its code mapped by CodeFromAbsl.
inline Status FromAbsl(const absl::Status& status) {
  if (status.ok()) return Status::Ok();
  return Status(CodeFromAbsl(status.code()), std::string(status.message()));
}

}  // namespace cairn::sdk

#endif  // CAIRN_SDK_ABSL_STATUS_HPP_
