// The logship plugin's options (docs/replication.md, "Options"), parsed and
// checked once at open. Every error names the option and what is allowed.
#ifndef CAIRN_LOGSHIP_OPTIONS_H_
#define CAIRN_LOGSHIP_OPTIONS_H_

#include <cairn/sdk/common.hpp>

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace cairn::logship {

enum class AckRule { kAsync, kSync, kQuorum };
// Option `ack`'s values, in AckRule's order, ending with nullptr (the
// option descriptor's list of choices).
inline constexpr const char* kAckRuleNames[] = {"async", "sync", "quorum",
                                                nullptr};
// "async", "sync" or "quorum", as option `ack` spells it.
inline const char* AckRuleName(AckRule rule) {
  return kAckRuleNames[static_cast<int>(rule)];
}
enum class StaticRole { kPrimary, kReplica };
enum class CoordinatorKind { kStatic, kEtcd };

struct Endpoint {
  std::string host;
  uint16_t port = 0;
};

struct Peer {
  std::string node_id;
  Endpoint address;
};

struct LogshipOptions {
  std::string node_id;
  Endpoint listen;
  // Every other member of the group (an entry naming this node is dropped,
  // so one `peers` line can serve every node).
  std::vector<Peer> peers;
  CoordinatorKind coordinator = CoordinatorKind::kStatic;
  // coordinator = static only (etcd elects the primary and ignores it).
  StaticRole role = StaticRole::kReplica;
  // coordinator = etcd: "host:port" of each etcd member's client URL, the
  // group's name (its keys live under /cairn/<group>/), the TTL of this
  // node's leases and the bound on each call to etcd.
  std::vector<std::string> etcd_endpoints;
  std::string etcd_group = "cairn";
  std::chrono::seconds lease_ttl{5};
  std::chrono::milliseconds etcd_timeout{1000};
  // coordinator = etcd: TLS to etcd's client URLs (etcd-tls-ca-file turns it
  // on; a client certificate, both or neither, for --client-cert-auth).
  std::string etcd_tls_ca_file;
  std::string etcd_tls_cert_file;
  std::string etcd_tls_key_file;
  AckRule ack = AckRule::kQuorum;
  // Node ids, each this node or one of `peers`; as primary, this node's own
  // entry is moot (the primary holds what it appends).
  std::vector<std::string> sync_set;
  // Node id -> the client-facing address of that node's server, for
  // leader() (hosts send clients there). May be empty (embedded use).
  std::map<std::string, std::string> client_addresses;
  std::string state_dir;
  std::chrono::milliseconds ack_timeout{30000};  // 0: wait until close
  std::chrono::milliseconds heartbeat_interval{100};
  // A connection on which a Read or Write has waited this long for the peer
  // is closed (at least twice heartbeat_interval): the primary sends a
  // frame at least every heartbeat_interval and the replica acks each one.
  std::chrono::milliseconds peer_timeout{3000};
  std::chrono::milliseconds reconnect_interval{200};
  // coordinator = etcd, ack = sync: a member, connected or not, that has
  // held an append back this long leaves the sync set (0: only for want of
  // a session, after peer_timeout).
  std::chrono::milliseconds slow_member_timeout{5000};
  // coordinator = etcd, ack = sync: the primary never takes a member out of
  // the sync set if that would leave fewer than this many replicas in it;
  // appends wait for the member instead (up to ack_timeout). 0: the set
  // may shrink to the primary alone.
  uint64_t min_sync_replicas = 0;
  // coordinator = etcd, ack = sync: a member that leaves the sync set for
  // holding appends back while connected, again before it has stayed in
  // it for the cap (this doubled kRejoinBackoffDoublings times: 32 times
  // this) since it rejoined, is held out for this long before it may
  // rejoin, doubling with each such leave up to that cap (its first leave
  // is not held). 0: it rejoins as soon as it has caught up, however often
  // it leaves.
  std::chrono::milliseconds rejoin_backoff{10000};
  static constexpr int kRejoinBackoffDoublings = 5;
  // How long promote and an etcd candidate wait for the peers' answers to
  // their position query; a peer that has not answered counts as
  // unreachable.
  std::chrono::milliseconds position_query_timeout{2000};
  uint64_t max_frame_size = 16u << 20;
  uint64_t max_batch_records = 4096;
  // auto: from storage's instance capabilities (appends that may block wait
  // for a sync); syncs | never: as the operator says.
  enum class DurablePolicy {
    kAuto,
    kSyncs,
    kNever
  } durable_policy = DurablePolicy::kAuto;
  // Mutual TLS between nodes (tls.h), resolved from `tls = auto | on | off`:
  // auto is on when a certificate is set, off when none is and the listen
  // address and every peer are loopback, and an error otherwise.
  bool tls = false;
  std::string tls_cert_file;
  std::string tls_key_file;
  std::string tls_ca_file;
};

// "250ms", "5s", "2m", "1h"; a plain number is milliseconds.
absl::StatusOr<std::chrono::milliseconds> ParseDuration(
    const std::string& key, const std::string& text);
// "host:port"; host is an IPv4/IPv6 literal or a name, port 0..65535.
absl::StatusOr<Endpoint> ParseEndpoint(const std::string& key,
                                       const std::string& text);

// Checks and converts every option. InvalidArgument naming the option on a
// missing required one, a malformed value, a peer listed twice, a sync-set
// member that is not a peer, ack = sync without a sync set, coordinator =
// etcd without etcd-endpoints, an etcd option out of its bounds, TLS on
// without all three of its files (or off with one of them), or `tls = auto`
// with no certificate for a group that reaches beyond loopback.
absl::StatusOr<LogshipOptions> ParseOptions(const sdk::Options& options);

}  // namespace cairn::logship

#endif  // CAIRN_LOGSHIP_OPTIONS_H_
