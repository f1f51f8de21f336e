#include "access_gate.h"

#include "absl/strings/str_cat.h"

namespace cairn::cairnd {
namespace {

AuditEntry EntryFor(std::string_view kind, const Identity& identity,
                    const std::string& peer, const Requirement& requirement,
                    std::string_view result) {
  AuditEntry entry;
  entry.kind = kind;
  entry.identity = identity.name;
  entry.peer = peer;
  entry.operation = requirement.operation;
  entry.stream = requirement.stream;
  entry.right = RightName(requirement.right);
  entry.result = result;
  return entry;
}

}  // namespace

absl::Status AccessGate::Open() {
  if (audit_options_.path.empty() || audit_ != nullptr) return absl::OkStatus();
  auto log = AuditLog::Open(audit_options_);
  if (!log.ok()) return log.status();
  audit_ = *std::move(log);
  return absl::OkStatus();
}

AccessGate::Decision AccessGate::Decide(const Identity& identity,
                                        const std::string& peer,
                                        const v1::Request& request) const {
  Decision decision;
  decision.requirement = RequirementFor(request);
  decision.status = policy_.Check(identity, decision.requirement);
  if (audit_ != nullptr &&
      decision.requirement.scope != Requirement::Scope::kNone) {
    decision.audit_seq = audit_->Add(
        EntryFor("access", identity, peer, decision.requirement,
                 decision.status.ok() ? "allowed" : "denied"));
  }
  return decision;
}

void AccessGate::RecordRefusedConnection(std::string_view identity,
                                         const std::string& peer,
                                         std::string_view stage) const {
  if (audit_ == nullptr) return;
  AuditEntry entry;
  entry.kind = "access";
  entry.identity = identity;
  entry.peer = peer;
  entry.operation = stage;
  entry.result = "denied";
  // A failure is logged by the audit log and fails it for what follows.
  audit_->Write(entry).IgnoreError();
}

absl::Status AccessGate::AwaitRecorded(const Decision& decision) const {
  if (audit_ == nullptr || decision.audit_seq == 0) return absl::OkStatus();
  absl::Status written = audit_->WaitWritten(decision.audit_seq);
  if (written.ok()) return written;
  return absl::InternalError(absl::StrCat(
      "the server cannot write its audit log, so it refuses requests: ",
      written.message()));
}

absl::Status AccessGate::RecordOutcome(const Decision& decision,
                                       const Identity& identity,
                                       const std::string& peer,
                                       const v1::Response& response) const {
  if (audit_ == nullptr || decision.requirement.right != Right::kAdmin ||
      !decision.requirement.record_outcome) {
    return absl::OkStatus();
  }
  const std::string result =
      response.has_error() ? v1::ErrorCode_Name(response.error().code()) : "ok";
  absl::Status written = audit_->Write(
      EntryFor("action", identity, peer, decision.requirement, result));
  if (written.ok()) return written;
  return absl::InternalError(absl::StrCat(
      "the action ran but the server cannot write its audit log: ",
      written.message()));
}

}  // namespace cairn::cairnd
