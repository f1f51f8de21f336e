#include <cairn/status.h>

#include <cairn/sdk/absl_status.hpp>

#include <string>

#include "absl/strings/cord.h"

namespace cairn {
namespace {

constexpr char kPayloadUrl[] = "cairn.dev/status";

absl::StatusCode AbslCode(cairn_status code) {
  switch (code) {
    case CAIRN_OK: return absl::StatusCode::kOk;
    case CAIRN_E_INVALID_ARGUMENT: return absl::StatusCode::kInvalidArgument;
    case CAIRN_E_NOT_FOUND: return absl::StatusCode::kNotFound;
    case CAIRN_E_WRONG_EXPECTED_REVISION: return absl::StatusCode::kAborted;
    case CAIRN_E_CORRUPTION: return absl::StatusCode::kDataLoss;
    case CAIRN_E_INTEGRITY: return absl::StatusCode::kDataLoss;
    case CAIRN_E_IO: return absl::StatusCode::kUnavailable;
    case CAIRN_E_UNSUPPORTED: return absl::StatusCode::kUnimplemented;
    case CAIRN_E_CLOSED: return absl::StatusCode::kCancelled;
    case CAIRN_E_RESOURCE_EXHAUSTED:
      return absl::StatusCode::kResourceExhausted;
    case CAIRN_E_TIMEOUT: return absl::StatusCode::kDeadlineExceeded;
    case CAIRN_E_FAILED_PRECONDITION:
      return absl::StatusCode::kFailedPrecondition;
    case CAIRN_E_INTERNAL: return absl::StatusCode::kInternal;
  }
  return absl::StatusCode::kUnknown;
}

}  // namespace

absl::Status MakeStatus(cairn_status code, std::string_view message) {
  if (code == CAIRN_OK) return absl::OkStatus();
  absl::Status status(AbslCode(code), absl::string_view(message.data(), message.size()));
  status.SetPayload(kPayloadUrl, absl::Cord(std::to_string(static_cast<int>(code))));
  return status;
}

cairn_status CodeOf(const absl::Status& status) {
  if (status.ok()) return CAIRN_OK;
  absl::optional<absl::Cord> payload = status.GetPayload(kPayloadUrl);
  if (payload.has_value()) {
    int value = std::stoi(std::string(*payload));
    if (value >= CAIRN_OK && value <= CAIRN_E_INTERNAL) {
      return static_cast<cairn_status>(value);
    }
  }
  return sdk::CodeFromAbsl(status.code());
}

const char* CodeName(cairn_status code) {
  switch (code) {
    case CAIRN_OK: return "Ok";
    case CAIRN_E_INVALID_ARGUMENT: return "InvalidArgument";
    case CAIRN_E_NOT_FOUND: return "NotFound";
    case CAIRN_E_WRONG_EXPECTED_REVISION: return "WrongExpectedRevision";
    case CAIRN_E_CORRUPTION: return "Corruption";
    case CAIRN_E_INTEGRITY: return "Integrity";
    case CAIRN_E_IO: return "IoError";
    case CAIRN_E_UNSUPPORTED: return "Unsupported";
    case CAIRN_E_CLOSED: return "Closed";
    case CAIRN_E_RESOURCE_EXHAUSTED: return "ResourceExhausted";
    case CAIRN_E_TIMEOUT: return "Timeout";
    case CAIRN_E_FAILED_PRECONDITION: return "FailedPrecondition";
    case CAIRN_E_INTERNAL: return "Internal";
  }
  return "Unknown";
}

}  // namespace cairn
