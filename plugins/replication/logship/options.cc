#include "options.h"

#include <boost/asio/ip/address.hpp>
#include <set>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace cairn::logship {

absl::StatusOr<std::chrono::milliseconds> ParseDuration(
    const std::string& key, const std::string& text) {
  size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') {
    ++digits;
  }
  std::string unit = text.substr(digits);
  uint64_t value = 0;
  uint64_t scale = 0;
  if (unit.empty() || unit == "ms") scale = 1;
  if (unit == "s") scale = 1000;
  if (unit == "m") scale = 60'000;
  if (unit == "h") scale = 3'600'000;
  if (digits == 0 || scale == 0 ||
      !absl::SimpleAtoi(text.substr(0, digits), &value) ||
      value > (uint64_t{1} << 40) / scale) {
    return absl::InvalidArgumentError(
        absl::StrCat("option '", key, "': '", text,
                     "' is not a duration (examples: 250ms, 5s, 2m, 1h)"));
  }
  return std::chrono::milliseconds(value * scale);
}

absl::StatusOr<Endpoint> ParseEndpoint(const std::string& key,
                                       const std::string& text) {
  const size_t colon = text.rfind(':');
  uint32_t port = 0;
  Endpoint endpoint;
  if (colon != std::string::npos) {
    endpoint.host = text.substr(0, colon);
    // [::1]:7000
    if (endpoint.host.size() >= 2 && endpoint.host.front() == '[' &&
        endpoint.host.back() == ']') {
      endpoint.host = endpoint.host.substr(1, endpoint.host.size() - 2);
    }
  }
  if (colon == std::string::npos || endpoint.host.empty() ||
      !absl::SimpleAtoi(text.substr(colon + 1), &port) || port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat(
        "option '", key, "': '", text,
        "' is not host:port (examples: 127.0.0.1:7401, [::1]:7401)"));
  }
  endpoint.port = static_cast<uint16_t>(port);
  return endpoint;
}

namespace {

bool IsNodeId(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  for (size_t i = 0; i < id.size(); ++i) {
    const char c = id[i];
    const bool ok =
        (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (i > 0 && c == '-');
    if (!ok) return false;
  }
  return true;
}

absl::Status Invalid(absl::string_view key, absl::string_view text,
                     absl::string_view what) {
  return absl::InvalidArgumentError(
      absl::StrCat("option '", key, "': '", text, "' ", what));
}

bool IsGroupName(std::string_view name) {
  if (name.empty() || name.size() > 128) return false;
  for (const char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                    (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

// etcd-endpoints, etcd-group, lease-ttl and etcd-timeout: required or
// defaulted under coordinator = etcd, refused under static (a site file
// that names etcd endpoints but elects nothing is a mistake).
absl::Status ParseEtcdOptions(const sdk::Options& options,
                              LogshipOptions* out) {
  const std::string endpoints = options.Get("etcd-endpoints");
  out->etcd_tls_ca_file = options.Get("etcd-tls-ca-file");
  out->etcd_tls_cert_file = options.Get("etcd-tls-cert-file");
  out->etcd_tls_key_file = options.Get("etcd-tls-key-file");
  if (out->coordinator == CoordinatorKind::kStatic) {
    for (const auto& [key, value] :
         {std::pair<const char*, const std::string*>{"etcd-endpoints",
                                                     &endpoints},
          {"etcd-tls-ca-file", &out->etcd_tls_ca_file},
          {"etcd-tls-cert-file", &out->etcd_tls_cert_file},
          {"etcd-tls-key-file", &out->etcd_tls_key_file}}) {
      if (!value->empty()) {
        return Invalid(key, *value,
                       "is set but coordinator = static; set coordinator = "
                       "etcd or remove it");
      }
    }
    return absl::OkStatus();
  }
  if (out->etcd_tls_cert_file.empty() != out->etcd_tls_key_file.empty()) {
    return absl::InvalidArgumentError(
        "options 'etcd-tls-cert-file' and 'etcd-tls-key-file' go together: "
        "give both (a client certificate for etcd) or neither");
  }
  if (!out->etcd_tls_cert_file.empty() && out->etcd_tls_ca_file.empty()) {
    return absl::InvalidArgumentError(
        "option 'etcd-tls-cert-file' is set without 'etcd-tls-ca-file', the "
        "CA that turns TLS to etcd on");
  }
  for (absl::string_view entry :
       absl::StrSplit(endpoints, ',', absl::SkipWhitespace())) {
    entry = absl::StripAsciiWhitespace(entry);
    absl::StatusOr<Endpoint> endpoint =
        ParseEndpoint("etcd-endpoints", std::string(entry));
    if (!endpoint.ok()) return endpoint.status();
    out->etcd_endpoints.emplace_back(entry);
  }
  if (out->etcd_endpoints.empty()) {
    return absl::InvalidArgumentError(
        "option 'etcd-endpoints' is required by coordinator = etcd: "
        "host:port,... of the etcd members' client URLs");
  }
  out->etcd_group = options.Get("etcd-group", "cairn");
  if (!IsGroupName(out->etcd_group)) {
    return Invalid("etcd-group", out->etcd_group,
                   "is not a group name ([A-Za-z0-9._-]+, at most 128)");
  }
  const std::string ttl_text = options.Get("lease-ttl", "5s");
  absl::StatusOr<std::chrono::milliseconds> ttl =
      ParseDuration("lease-ttl", ttl_text);
  if (!ttl.ok()) return ttl.status();
  if (ttl->count() % 1000 != 0 || *ttl < std::chrono::seconds(2) ||
      *ttl > std::chrono::seconds(300)) {
    return Invalid("lease-ttl", ttl_text,
                   "must be whole seconds from 2s to 300s (etcd leases "
                   "count in seconds)");
  }
  out->lease_ttl = std::chrono::duration_cast<std::chrono::seconds>(*ttl);
  const std::string timeout_text = options.Get("etcd-timeout", "1s");
  absl::StatusOr<std::chrono::milliseconds> timeout =
      ParseDuration("etcd-timeout", timeout_text);
  if (!timeout.ok()) return timeout.status();
  if (*timeout < std::chrono::milliseconds(50) || *timeout >= *ttl) {
    return Invalid("etcd-timeout", timeout_text,
                   "must be at least 50ms and shorter than lease-ttl (a "
                   "renewal must fit in the lease)");
  }
  out->etcd_timeout = *timeout;
  return absl::OkStatus();
}

bool IsLoopback(const std::string& host) {
  if (host == "localhost") return true;
  boost::system::error_code error;
  const boost::asio::ip::address address =
      boost::asio::ip::make_address(host, error);
  return !error && address.is_loopback();
}

// tls, tls-cert-file, tls-key-file, tls-ca-file, after listen and peers.
absl::Status ParseTls(const sdk::Options& options, LogshipOptions& out) {
  const std::string mode = options.Get("tls", "auto");
  if (mode != "auto" && mode != "on" && mode != "off") {
    return Invalid("tls", mode, "is not one of: auto, on, off");
  }
  out.tls_cert_file = options.Get("tls-cert-file");
  out.tls_key_file = options.Get("tls-key-file");
  out.tls_ca_file = options.Get("tls-ca-file");
  const bool any_file = !out.tls_cert_file.empty() ||
                        !out.tls_key_file.empty() || !out.tls_ca_file.empty();
  if (mode == "off") {
    if (any_file) {
      return absl::InvalidArgumentError(
          "option 'tls' = off, yet tls-cert-file, tls-key-file or "
          "tls-ca-file is set: remove them or turn TLS on");
    }
    return absl::OkStatus();
  }
  if (mode == "on" || any_file) {
    for (const auto& [key, value] : {std::pair<const char*, const std::string*>{
                                         "tls-cert-file", &out.tls_cert_file},
                                     {"tls-key-file", &out.tls_key_file},
                                     {"tls-ca-file", &out.tls_ca_file}}) {
      if (value->empty()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "option '", key,
            "' is missing: TLS between nodes needs tls-cert-file, "
            "tls-key-file and tls-ca-file (every node presents its "
            "certificate and checks the other's against the CA)"));
      }
    }
    out.tls = true;
    return absl::OkStatus();
  }
  // auto without a certificate: plain TCP only where nothing leaves the host.
  std::string beyond;
  if (!IsLoopback(out.listen.host)) {
    beyond = absl::StrCat("listen = ", out.listen.host);
  }
  for (const Peer& peer : out.peers) {
    if (beyond.empty() && !IsLoopback(peer.address.host)) {
      beyond = absl::StrCat("peer '", peer.node_id, "' at ", peer.address.host);
    }
  }
  if (!beyond.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "option 'tls': the group reaches beyond loopback (", beyond,
        ") and no certificate is set; set tls-cert-file, tls-key-file and "
        "tls-ca-file for mutual TLS between nodes, or tls = off to replicate "
        "in plain TCP over a network you trust"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<LogshipOptions> ParseOptions(const sdk::Options& options) {
  LogshipOptions out;
  for (const char* required : {"node-id", "listen", "state-dir"}) {
    if (!options.Has(required) || options.Get(required).empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "option '", required, "' is required by replication 'logship'"));
    }
  }
  out.node_id = options.Get("node-id");
  if (!IsNodeId(out.node_id)) {
    return Invalid("node-id", out.node_id,
                   "is not a node id ([a-z0-9][a-z0-9-]*, at most 64)");
  }
  absl::StatusOr<Endpoint> listen =
      ParseEndpoint("listen", options.Get("listen"));
  if (!listen.ok()) return listen.status();
  out.listen = *listen;
  out.state_dir = options.Get("state-dir");

  const std::string peers = options.Get("peers");
  std::set<std::string> peer_ids;
  for (absl::string_view entry :
       absl::StrSplit(peers, ',', absl::SkipWhitespace())) {
    entry = absl::StripAsciiWhitespace(entry);
    const size_t eq = entry.find('=');
    if (eq == absl::string_view::npos) {
      return Invalid("peers", std::string(entry),
                     "is not id=host:port (example: "
                     "peers = a=127.0.0.1:7401,b=127.0.0.1:7402)");
    }
    Peer peer;
    peer.node_id = std::string(entry.substr(0, eq));
    if (!IsNodeId(peer.node_id)) {
      return Invalid("peers", std::string(entry),
                     "does not start with a node id ([a-z0-9][a-z0-9-]*)");
    }
    absl::StatusOr<Endpoint> address =
        ParseEndpoint("peers", std::string(entry.substr(eq + 1)));
    if (!address.ok()) return address.status();
    peer.address = *address;
    if (!peer_ids.insert(peer.node_id).second) {
      return Invalid("peers", peers,
                     absl::StrCat("names node '", peer.node_id, "' twice"));
    }
    if (peer.node_id == out.node_id) continue;  // this node's own entry
    out.peers.push_back(std::move(peer));
  }

  const std::string coordinator = options.Get("coordinator", "static");
  if (coordinator == "etcd") {
    out.coordinator = CoordinatorKind::kEtcd;
  } else if (coordinator == "static") {
    out.coordinator = CoordinatorKind::kStatic;
  } else {
    return Invalid("coordinator", coordinator, "is not one of: static, etcd");
  }
  absl::Status etcd = ParseEtcdOptions(options, &out);
  if (!etcd.ok()) return etcd;
  const std::string role = options.Get("role", "replica");
  if (role == "primary") {
    out.role = StaticRole::kPrimary;
  } else if (role == "replica") {
    out.role = StaticRole::kReplica;
  } else {
    return Invalid("role", role, "is not one of: primary, replica");
  }
  const std::string ack = options.Get("ack", "quorum");
  for (AckRule rule : {AckRule::kAsync, AckRule::kSync, AckRule::kQuorum}) {
    if (ack == AckRuleName(rule)) out.ack = rule;
  }
  if (ack != AckRuleName(out.ack)) {
    return Invalid("ack", ack, "is not one of: async, sync, quorum");
  }
  const std::string sync_set = options.Get("sync-set");
  for (absl::string_view id :
       absl::StrSplit(sync_set, ',', absl::SkipWhitespace())) {
    id = absl::StripAsciiWhitespace(id);
    if (id != out.node_id && peer_ids.count(std::string(id)) == 0) {
      return Invalid("sync-set", std::string(id),
                     "is not a node of option 'peers'");
    }
    out.sync_set.emplace_back(id);
  }
  if (out.ack == AckRule::kSync && out.sync_set.empty()) {
    return absl::InvalidArgumentError(
        "option 'sync-set': ack = sync needs at least one replica in "
        "sync-set (or use ack = async)");
  }

  const std::string clients = options.Get("client-addresses");
  for (absl::string_view entry :
       absl::StrSplit(clients, ',', absl::SkipWhitespace())) {
    entry = absl::StripAsciiWhitespace(entry);
    const size_t eq = entry.find('=');
    const std::string id(entry.substr(0, eq));
    if (eq == absl::string_view::npos ||
        (id != out.node_id && peer_ids.count(id) == 0)) {
      return Invalid("client-addresses", std::string(entry),
                     "is not id=host:port of this node or one of 'peers'");
    }
    absl::StatusOr<Endpoint> address =
        ParseEndpoint("client-addresses", std::string(entry.substr(eq + 1)));
    if (!address.ok()) return address.status();
    out.client_addresses[id] = std::string(entry.substr(eq + 1));
  }

  struct DurationOption {
    const char* key;
    const char* fallback;
    std::chrono::milliseconds* out;
  };
  for (const DurationOption& d :
       {DurationOption{"ack-timeout", "30s", &out.ack_timeout},
        DurationOption{"heartbeat-interval", "100ms", &out.heartbeat_interval},
        DurationOption{"peer-timeout", "3s", &out.peer_timeout},
        DurationOption{"reconnect-interval", "200ms", &out.reconnect_interval},
        DurationOption{"rejoin-backoff", "10s", &out.rejoin_backoff},
        DurationOption{"position-query-timeout", "2s",
                       &out.position_query_timeout}}) {
    absl::StatusOr<std::chrono::milliseconds> value =
        ParseDuration(d.key, options.Get(d.key, d.fallback));
    if (!value.ok()) return value.status();
    *d.out = *value;
  }
  // The sync set changes only through etcd: under static every member is
  // always waited for (a slow one up to ack-timeout), so the options that
  // say when it changes are refused there.
  for (const char* key :
       {"slow-member-timeout", "min-sync-replicas", "rejoin-backoff"}) {
    const std::string value = options.Get(key);
    if (!value.empty() && out.coordinator == CoordinatorKind::kStatic) {
      return Invalid(key, value,
                     "is set but coordinator = static, whose sync set never "
                     "changes (every member is always waited for); set "
                     "coordinator = etcd or remove it");
    }
  }
  const std::string slow = options.Get("slow-member-timeout", "5s");
  absl::StatusOr<std::chrono::milliseconds> slow_timeout =
      ParseDuration("slow-member-timeout", slow);
  if (!slow_timeout.ok()) return slow_timeout.status();
  out.slow_member_timeout = *slow_timeout;
  if (out.coordinator == CoordinatorKind::kEtcd && out.ack == AckRule::kSync &&
      out.ack_timeout.count() > 0 &&
      out.slow_member_timeout >= out.ack_timeout) {
    return Invalid("slow-member-timeout", slow,
                   absl::StrCat("must be shorter than ack-timeout (",
                                out.ack_timeout.count(),
                                "ms): appends would fail before a slow member "
                                "leaves the sync set"));
  }
  const std::string min_sync = options.Get("min-sync-replicas");
  sdk::Status min_sync_status = options.GetUint(
      "min-sync-replicas", out.min_sync_replicas, &out.min_sync_replicas);
  if (!min_sync_status.ok()) {
    return absl::InvalidArgumentError(min_sync_status.message());
  }
  // Only a member leads, so the set holds the primary and at most
  // |sync-set| - 1 replicas.
  if (out.ack == AckRule::kSync &&
      out.min_sync_replicas + 1 > out.sync_set.size()) {
    return Invalid(
        "min-sync-replicas", min_sync,
        absl::StrCat("leaves no room in sync-set [",
                     absl::StrJoin(out.sync_set, ","),
                     "]: the primary is one of its members, so at most ",
                     out.sync_set.size() - 1, " replica(s) can be in it"));
  }
  if (out.position_query_timeout.count() == 0 ||
      out.position_query_timeout > std::chrono::seconds(60)) {
    return Invalid("position-query-timeout",
                   options.Get("position-query-timeout", "2s"),
                   "must be from 1ms to 60s");
  }
  if (out.heartbeat_interval.count() == 0) {
    return Invalid("heartbeat-interval", "0", "must be at least 1ms");
  }
  if (out.peer_timeout < 2 * out.heartbeat_interval) {
    return Invalid("peer-timeout", options.Get("peer-timeout", "3s"),
                   absl::StrCat("must be at least twice heartbeat-interval (",
                                out.heartbeat_interval.count(), "ms)"));
  }
  sdk::Status s = options.GetSize("max-frame-size", out.max_frame_size,
                                  &out.max_frame_size);
  if (!s.ok()) return absl::InvalidArgumentError(s.message());
  if (out.max_frame_size < 4096 || out.max_frame_size > (uint64_t{1} << 30)) {
    return Invalid("max-frame-size", options.Get("max-frame-size"),
                   "must be between 4KiB and 1GiB");
  }
  s = options.GetUint("max-batch-records", out.max_batch_records,
                      &out.max_batch_records);
  if (!s.ok()) return absl::InvalidArgumentError(s.message());
  if (out.max_batch_records == 0) {
    return Invalid("max-batch-records", "0", "must be at least 1");
  }
  const std::string policy = options.Get("durable-policy", "auto");
  if (policy == "auto") {
    out.durable_policy = LogshipOptions::DurablePolicy::kAuto;
  } else if (policy == "syncs") {
    out.durable_policy = LogshipOptions::DurablePolicy::kSyncs;
  } else if (policy == "never") {
    out.durable_policy = LogshipOptions::DurablePolicy::kNever;
  } else {
    return Invalid("durable-policy", policy,
                   "is not one of: auto, syncs, never");
  }
  absl::Status tls = ParseTls(options, out);
  if (!tls.ok()) return tls;
  return out;
}

}  // namespace cairn::logship
