#include <cairn/status.h>

#include <cairn/sdk/absl_status.hpp>

#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/cord.h"

namespace cairn {
namespace {

constexpr char kPayloadUrl[] = "cairn.dev/status";
constexpr char kLeaderUrl[] = "cairn.dev/leader";

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
    case CAIRN_E_NOT_LEADER:
      return absl::StatusCode::kFailedPrecondition;
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
    if (value >= CAIRN_OK && value <= CAIRN_STATUS_LAST) {
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
    case CAIRN_E_NOT_LEADER:
      return "NotLeader";
  }
  return "Unknown";
}

absl::Status NotLeaderError(std::string_view message,
                            const LeaderInfo& leader) {
  absl::Status status = MakeStatus(CAIRN_E_NOT_LEADER, message);
  // role NUL epoch NUL known NUL node NUL address: node ids and addresses
  // are C strings at the ABI, so they hold no NUL.
  std::string payload = std::to_string(static_cast<int>(leader.role));
  payload.push_back('\0');
  payload += std::to_string(leader.epoch);
  payload.push_back('\0');
  payload.push_back(leader.known ? '1' : '0');
  payload.push_back('\0');
  payload += leader.node;
  payload.push_back('\0');
  payload += leader.address;
  status.SetPayload(kLeaderUrl, absl::Cord(payload));
  return status;
}

std::optional<LeaderInfo> NotLeaderOf(const absl::Status& status) {
  if (CodeOf(status) != CAIRN_E_NOT_LEADER) return std::nullopt;
  LeaderInfo info;
  absl::optional<absl::Cord> payload = status.GetPayload(kLeaderUrl);
  if (!payload.has_value()) return info;  // NOT_LEADER naming nobody
  std::string text(*payload);
  std::vector<std::string> parts;
  size_t start = 0;
  for (int i = 0; i < 4; ++i) {
    size_t end = text.find('\0', start);
    if (end == std::string::npos) return info;
    parts.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  parts.push_back(text.substr(start));
  info.role = static_cast<cairn_replication_role>(
      std::strtoul(parts[0].c_str(), nullptr, 10));
  info.epoch = std::strtoull(parts[1].c_str(), nullptr, 10);
  info.known = parts[2] == "1";
  info.node = parts[3];
  info.address = parts[4];
  return info;
}

}  // namespace cairn
