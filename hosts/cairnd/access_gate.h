// The server's one door for requests: checks each request against the
// access policy and records the decision (and, for admin requests, the
// outcome) in the audit log before the request's answer leaves.
//
// Used by connections: Decide on the connection's thread, then, wherever
// the request runs, AwaitRecorded before answering (or executing), and
// RecordOutcome after an admin request ran. Thread-safe.
#ifndef CAIRN_HOSTS_CAIRND_ACCESS_GATE_H_
#define CAIRN_HOSTS_CAIRND_ACCESS_GATE_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "access_control.h"
#include "audit_log.h"
#include "cairn/v1/client.pb.h"

namespace cairn::cairnd {

class AccessGate {
 public:
  AccessGate(AccessPolicy policy, AuditOptions audit)
      : policy_(std::move(policy)), audit_options_(std::move(audit)) {}

  // Opens the audit log, if [audit] path is set. Call once, before serving.
  absl::Status Open();

  struct Decision {
    absl::Status status;        // OK or PERMISSION_DENIED
    Requirement requirement;
    uint64_t audit_seq = 0;     // 0: nothing was logged
  };

  // Checks `request` for `identity` and queues the decision's audit line
  // (not for requests that need no right: hello, credit, cancel). Does not
  // wait for the disk.
  Decision Decide(const Identity& identity, const std::string& peer,
                  const v1::Request& request) const;

  // Waits until the decision's line is written. An error means the audit
  // log is broken: the request must not run (fail closed).
  absl::Status AwaitRecorded(const Decision& decision) const;

  // After an admin request ran: logs its outcome ("ok" or the error code's
  // name) and waits for the line. Does nothing for other requests.
  absl::Status RecordOutcome(const Decision& decision, const Identity& identity,
                             const std::string& peer,
                             const v1::Response& response) const;

  // A connection refused before it made a request: writes an access line
  // (op `stage`: "tls_handshake", "plain_tcp" or "hello"; result
  // "denied"; `identity` as far as it is known) before the connection
  // closes, on its I/O thread as for other refusals. The server log says
  // why; a line that cannot be written fails the audit log as for any
  // request (later requests are refused).
  void RecordRefusedConnection(std::string_view identity,
                               const std::string& peer,
                               std::string_view stage) const;

  const AccessPolicy& policy() const { return policy_; }
  bool auditing() const { return audit_ != nullptr; }

 private:
  const AccessPolicy policy_;
  const AuditOptions audit_options_;
  std::unique_ptr<AuditLog> audit_;
};

}  // namespace cairn::cairnd

#endif  // CAIRN_HOSTS_CAIRND_ACCESS_GATE_H_
