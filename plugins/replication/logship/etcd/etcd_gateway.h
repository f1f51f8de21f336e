// A small client of etcd's v3 JSON gateway (grpc-gateway, served on each
// member's client URL under /v3/), over HTTP/1.1 with Boost.Beast, or over
// HTTPS (Beast's ssl_stream, OpenSSL) when GatewayOptions names a CA.
//
// Why the gateway and not gRPC: the issue asks for no new client library;
// Beast is already in Boost and the gateway speaks plain JSON. Keys and
// values travel base64-encoded, 64-bit numbers as JSON strings (etcd 3.4
// writes them so; both strings and numbers are accepted on the way in).
//
// Every call opens one connection, sends one request and waits for the
// answer under `call_timeout`; nothing blocks longer. Endpoints are tried in
// turn starting from the last one that answered: a call moves on to the next
// endpoint when it could not reach one (connect refused, connect timeout,
// reset before the request went out). A call whose request may have reached
// etcd is retried on the next endpoint only if it is a read; a write whose
// answer did not come back fails with kUnavailable saying the outcome is
// unknown (the caller re-reads; etcd's revisions tell it what happened).
//
// Thread-safety: all methods may be called from any thread concurrently.
#ifndef CAIRN_PLUGINS_REPLICATION_LOGSHIP_ETCD_ETCD_GATEWAY_H_
#define CAIRN_PLUGINS_REPLICATION_LOGSHIP_ETCD_ETCD_GATEWAY_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace boost::asio::ssl {
class context;
}

namespace cairn::logship::etcd {

struct GatewayOptions {
  // "host:port", "http://host:port" or (with TLS) "https://host:port" of
  // each etcd member's client URL.
  std::vector<std::string> endpoints = {};
  // Bound on each call on one endpoint: connect, TLS handshake, send, and
  // whole answer.
  std::chrono::milliseconds call_timeout{2000};
  // TLS to etcd (members serving https client URLs): set, every connection
  // is TLS 1.2 or newer and a member's certificate must be signed by these
  // CA certificates and name the host of its endpoint. cert_file and
  // key_file (both or neither): a client certificate, for members started
  // with --client-cert-auth; the key file must be private
  // (cairn/sdk/secret_file.hpp).
  std::string tls_ca_file = {};
  std::string tls_cert_file = {};
  std::string tls_key_file = {};
};

// One key as etcd stores it (mvccpb.KeyValue).
struct KeyValue {
  std::string key = {};
  std::string value = {};
  int64_t create_revision = 0;  // revision that created the key; 0: absent
  int64_t mod_revision = 0;     // revision of the last change
  int64_t version = 0;          // number of changes since creation
  int64_t lease = 0;            // lease the key is attached to; 0: none
};

struct RangeResult {
  int64_t revision = 0;  // the store's revision when etcd answered
  std::vector<KeyValue> kvs = {};
};

// One comparison of a transaction: `target` of `key` compared to a number
// (create/mod revision, version) or, for kValue, to `value`.
struct Compare {
  enum class Target { kCreate, kMod, kVersion, kValue };
  enum class Result { kEqual, kNotEqual, kGreater, kLess };
  std::string key = {};
  Target target = Target::kMod;
  Result result = Result::kEqual;
  int64_t number = 0;
  std::string value = {};
};

// One operation of a transaction branch.
struct TxnOp {
  enum class Kind { kPut, kRange, kDelete };
  Kind kind = Kind::kRange;
  std::string key = {};
  std::string value = {};  // kPut
  int64_t lease = 0;       // kPut
};

struct TxnResult {
  bool succeeded = false;  // whether every comparison held
  int64_t revision = 0;    // the store's revision after the transaction
  // One entry per operation of the branch that ran; filled for kRange.
  std::vector<RangeResult> ranges = {};
};

struct Lease {
  int64_t id = 0;
  int64_t ttl_seconds = 0;
};

// One change seen by a watch.
struct WatchEvent {
  enum class Type { kPut, kDelete };
  Type type = Type::kPut;
  KeyValue kv;  // for kDelete: key and mod_revision (the deleting revision)
};

class EtcdGateway {
 public:
  // Fails with kInvalidArgument if there is no endpoint, one does not parse
  // as host:port, one is https without tls_ca_file (or http with it), or a
  // TLS file cannot be loaded (naming it).
  static absl::StatusOr<EtcdGateway> Create(GatewayOptions options);

  EtcdGateway(EtcdGateway&& other) noexcept;
  EtcdGateway& operator=(EtcdGateway&&) = delete;

  // The keys in [key, range_end) (range_end empty: just `key`).
  absl::StatusOr<RangeResult> Range(std::string_view key,
                                    std::string_view range_end = "");
  // Writes `value` at `key` (attached to `lease` unless 0). Returns the
  // revision of the write.
  absl::StatusOr<int64_t> Put(std::string_view key, std::string_view value,
                              int64_t lease = 0);
  // Deletes [key, range_end); returns how many keys went.
  absl::StatusOr<int64_t> DeleteRange(std::string_view key,
                                      std::string_view range_end = "");
  // If every comparison holds, runs `success`, else `failure`, atomically.
  absl::StatusOr<TxnResult> Txn(const std::vector<Compare>& compares,
                                const std::vector<TxnOp>& success,
                                const std::vector<TxnOp>& failure);

  absl::StatusOr<Lease> LeaseGrant(int64_t ttl_seconds);
  // Renews `id` once. Returns the new TTL; kNotFound if the lease expired or
  // was revoked.
  absl::StatusOr<int64_t> LeaseKeepAliveOnce(int64_t id);
  // kNotFound if the lease is already gone.
  absl::Status LeaseRevoke(int64_t id);

  // Watches [key, range_end) from `start_revision` for at most `window`
  // (a bounded long-poll), calling `on_events` for each batch etcd sends.
  // Returns OK when the window ends or `on_events` returns false; kOutOfRange
  // (naming the compact revision) if `start_revision` was compacted away.
  absl::Status Watch(
      std::string_view key, std::string_view range_end, int64_t start_revision,
      std::chrono::milliseconds window,
      const std::function<bool(const std::vector<WatchEvent>&)>& on_events);

  // POSTs `body` to `path` (e.g. "/v3/kv/range") and returns the JSON answer
  // of a 200; any other answer is an error naming the endpoint, the status
  // and etcd's message. `idempotent`: may be retried on the next endpoint
  // after the request went out. Public for tests of odd answers.
  absl::StatusOr<nlohmann::json> Post(std::string_view path,
                                      const nlohmann::json& body,
                                      bool idempotent);

  const std::vector<std::string>& endpoints() const { return endpoint_names_; }

 private:
  struct Endpoint {
    std::string host;
    std::string port;
  };
  EtcdGateway(GatewayOptions options, std::vector<Endpoint> endpoints);

  GatewayOptions options_;
  // TLS to the members (options tls_*), or null: plain HTTP.
  std::shared_ptr<boost::asio::ssl::context> tls_;
  std::vector<Endpoint> endpoints_;
  std::vector<std::string> endpoint_names_;  // "host:port", for messages
  std::atomic<size_t> preferred_{0};         // last endpoint that answered
};

// Whether `status` is a write's "the request went out but no answer came
// back": it may have been applied (now or later).
bool IsOutcomeUnknown(const absl::Status& status);

// Exposed for tests: the smallest key greater than every key starting with
// `prefix` (etcd's "range_end" for a prefix scan).
std::string PrefixRangeEnd(std::string_view prefix);

}  // namespace cairn::logship::etcd

#endif  // CAIRN_PLUGINS_REPLICATION_LOGSHIP_ETCD_ETCD_GATEWAY_H_
