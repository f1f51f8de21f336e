// Who a client is and what it may do: identities (from the mutual-TLS
// certificate, or anonymous@ADDRESS), the rights read < write < admin on
// stream-name prefixes granted by the site file's [access] section, and the
// right each cairn.v1 request needs. docs/security.md, "Access control",
// describes the grammar and the defaults.
#ifndef CAIRN_HOSTS_CAIRND_ACCESS_CONTROL_H_
#define CAIRN_HOSTS_CAIRND_ACCESS_CONTROL_H_

#include <openssl/ssl.h>

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "cairn/v1/client.pb.h"

namespace cairn::cairnd {

// Rights are ordered: a right includes every lower one.
enum class Right { kNone = 0, kRead = 1, kWrite = 2, kAdmin = 3 };
const char* RightName(Right right);

// A connected client.
struct Identity {
  // "CN=<common name>" of a verified client certificate, or
  // "anonymous@<peer address>" without one.
  std::string name;
  bool authenticated = false;  // a certificate the server's CA verified
  bool loopback = false;       // the peer address is a loopback address
};

// The identity of a client at `peer_address` (an IP, no port) that showed
// `certificate` (nullptr: none, or not verified).
Identity IdentityOf(X509* certificate, const std::string& peer_address);
// The same for a TLS connection after its handshake: the peer's certificate
// counts only if it was verified against the server's CA.
Identity IdentityOfTls(SSL* ssl, const std::string& peer_address);

// What a request needs: `right` on `stream` (kStream), on every stream
// (kEveryStream: reads by position, listings, tags, stats), or on at least
// one prefix (kAnyStream: flush, the store's head position). kNone: nothing
// (hello, credit and cancel act on the connection's own state).
struct Requirement {
  enum class Scope { kNone, kStream, kEveryStream, kAnyStream };
  Scope scope = Scope::kNone;
  Right right = Right::kNone;
  std::string stream;           // kStream only
  const char* operation = "";   // "append", "read_all", ...
  // For an admin request: whether its outcome is an audit line of its own
  // (kind "action"). read_log pages are not: the backup they serve is, as
  // its backup_begin, and every page still has its access line.
  bool record_outcome = true;
};
Requirement RequirementFor(const v1::Request& request);

// One [access] line: `label = IDENTITY: RIGHT PREFIX [PREFIX...]`.
struct AccessRule {
  std::string label;     // the key
  std::string identity;  // "*", "anonymous", "anonymous@ADDR" or exact name
  Right right = Right::kNone;
  std::vector<std::string> prefixes;  // "" = every stream (written "*")
};

class AccessPolicy {
 public:
  // The default without an [access] section: clients on a loopback address
  // and clients with a verified certificate have every right; anonymous
  // clients from other addresses have none.
  AccessPolicy() = default;

  // Parses the [access] section (key -> value). Errors name the section,
  // the key and the value, and say what is wrong in it.
  static absl::StatusOr<AccessPolicy> FromSection(
      const std::map<std::string, std::string>& section);

  // OK, or PERMISSION_DENIED with a message naming the identity, the
  // missing right, the stream (or "every stream") and the operation.
  absl::Status Check(const Identity& identity,
                     const Requirement& requirement) const;

  bool has_rules() const { return configured_; }
  const std::vector<AccessRule>& rules() const { return rules_; }

 private:
  bool configured_ = false;  // an [access] section was given
  std::vector<AccessRule> rules_;
};

}  // namespace cairn::cairnd

#endif  // CAIRN_HOSTS_CAIRND_ACCESS_CONTROL_H_
