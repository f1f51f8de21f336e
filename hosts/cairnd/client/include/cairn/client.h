// cairn::Client: a store on a cairnd server, over the cairn.v1 protocol
// (plain TCP or TLS, optional client certificate). Its calls mirror
// cairn::Store's, with the same arguments, results and error codes
// (IsWrongExpectedRevision etc. work on its statuses), so a host can put
// either behind one small interface.
//
// Threads: every method is safe from any thread; calls from several threads
// are pipelined on the one connection (each waits only for its own answer).
// One internal thread runs the socket. A transport failure fails every
// waiting call with kUnavailable naming the server; the Client does not
// reconnect by itself (make a new one), except that Append retries on a
// new connection, following NOT_LEADER to the leader (ClientOptions).
#ifndef CAIRN_CLIENT_H_
#define CAIRN_CLIENT_H_

#include <cairn/event.h>
#include <cairn/store.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "cairn/log/v1/log.pb.h"
#include "cairn/v1/client.pb.h"

namespace cairn {

struct ClientOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 7600;

  bool tls = false;
  std::string ca_file;      // PEM CA that signed the server's certificate;
                            // empty: the system's default CAs
  bool verify_server = true;  // check the chain and the host name
  std::string server_name;  // name to verify; empty: `host`
  std::string cert_file;    // client certificate (PEM), for mutual TLS
  std::string key_file;     // its private key (PEM)

  std::chrono::milliseconds connect_timeout{5000};   // TCP + TLS + hello
  std::chrono::milliseconds request_timeout{60000};  // each call
  // How long the client's I/O thread, and a caller waiting for an answer,
  // keep polling before they sleep (0: never poll): saves a CPU wake-up per
  // round trip, costly on virtual machines (docs/server.md, Busy polling).
  // Off by default: on two cores a polling client and server take turns.
  std::chrono::microseconds busy_poll{0};
  uint32_t max_response_frame = 64u << 20;           // bytes
  std::string client_name = "cairn-client";

  // Append retries (Append only; AppendAsync sends once). Every append
  // carries a fresh idempotency key, sent again unchanged on a retry, so a
  // server that already wrote it answers the original result instead of
  // writing twice (the server remembers the last 1024 keys per stream; see
  // AppendRequest.idempotency_key). Retried: an answer NOT_LEADER (sent to
  // the leader it names, over a second connection kept for later appends;
  // with no leader known, to the same server after a short pause), and a
  // lost connection (reconnecting to the same server). At most
  // `max_append_retries` retries, none begun after `append_retry_budget`.
  uint32_t max_append_retries = 3;
  std::chrono::milliseconds append_retry_budget{10000};
};

// "HOST:PORT" (or "[v6]:PORT") into host and port, with a message naming the
// text when it is not one.
absl::Status ParseServerAddress(std::string_view address, std::string* host,
                                uint16_t* port);

class Client;

// A subscription on the server: catches up, then goes live. The server
// sends at most `window` events ahead of what Next has returned (credit), so
// a slow reader holds at most that many in memory. One thread at a time
// calls Next; Cancel may be called from any thread.
class RemoteSubscription {
 public:
  ~RemoteSubscription();  // cancels

  // Up to `max` events after the cursor; waits up to `timeout` for the
  // first. Empty on timeout or after Cancel; the server's or the
  // connection's error once the subscription failed.
  absl::StatusOr<std::vector<RecordedEvent>> Next(
      size_t max, std::chrono::milliseconds timeout);

  // The last revision (stream) or position (tag, all) Next returned.
  uint64_t cursor() const;
  const SubscriptionFilter& filter() const { return filter_; }
  void Cancel();

  struct State;

 private:
  friend class Client;
  RemoteSubscription(std::shared_ptr<State> state, SubscriptionFilter filter);
  std::shared_ptr<State> state_;
  SubscriptionFilter filter_;
};

class Client {
 public:
  // Connects, completes TLS (if set) and the protocol hello. Fails with
  // kUnavailable (cannot reach / handshake refused) or the server's refusal.
  static absl::StatusOr<std::unique_ptr<Client>> Connect(
      const ClientOptions& options);
  ~Client();  // closes the connection; waiting calls fail

  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // --- the Store mirror (see cairn/store.h for each call's contract) ---
  // `idempotency_key`: empty for a fresh random one; give the key of an
  // earlier call to retry that append beyond this call's own retries (after
  // it gave up, or from a new client): the server answers it as a repeat
  // (AppendResult::repeated) if it was written.
  absl::StatusOr<AppendResult> Append(std::string_view stream,
                                      ExpectedRevision expected,
                                      absl::Span<const EventData> events,
                                      std::string_view idempotency_key = {});

  using EventFn = Store::EventFn;
  // Reads page by page (the server's page limit) until the range, max_count
  // or the callback ends it.
  absl::Status ReadStream(std::string_view stream, uint64_t from_revision,
                          uint64_t to_revision, uint64_t max_count,
                          const EventFn& on_event);
  absl::StatusOr<std::vector<RecordedEvent>> ReadStream(
      std::string_view stream, uint64_t from_revision = 1,
      uint64_t to_revision = kMaxRevision, uint64_t max_count = kMaxRevision);
  absl::Status ReadTag(std::string_view tag, uint64_t after_position,
                       uint64_t max_count, const EventFn& on_event);
  absl::Status ReadAll(uint64_t after_position, uint64_t max_count,
                       const EventFn& on_event);

  absl::StatusOr<uint64_t> HeadRevision(std::string_view stream);
  absl::StatusOr<uint64_t> HeadPosition();

  absl::Status DeleteTo(std::string_view stream, uint64_t revision);

  absl::Status SaveSnapshot(const Snapshot& snapshot);
  absl::StatusOr<std::optional<Snapshot>> LoadSnapshot(
      std::string_view stream, const SnapshotCriteria& criteria = {});
  absl::Status DeleteSnapshot(std::string_view stream, uint64_t revision);
  absl::Status DeleteSnapshots(std::string_view stream,
                               const SnapshotCriteria& criteria);

  absl::StatusOr<std::vector<StreamInfo>> ListStreams(uint64_t after_ordinal,
                                                      uint64_t max_count);

  absl::Status Flush();
  absl::StatusOr<std::map<std::string, double>> Stats();

  // `window`: credit the server may run ahead by (1..server's max-credit).
  absl::StatusOr<std::unique_ptr<RemoteSubscription>> Subscribe(
      SubscriptionFilter filter, uint32_t window = 1024);

  // --- beyond the Store ---
  // Sends an append without waiting: many in flight pipeline on the
  // connection (up to the server's max-inflight run at once; more wait in
  // the socket).
  std::future<absl::StatusOr<AppendResult>> AppendAsync(
      std::string_view stream, ExpectedRevision expected,
      absl::Span<const EventData> events);

  absl::StatusOr<v1::ServerInfoResponse> ServerInfo();
  // Asks the server to make its node the primary of a new epoch
  // (PromoteRequest; the admin right).
  absl::Status Promote();
  // A backup through the server (protocol minor 1; the admin right).
  // Fixes its end: the committed watermark now, or `at_position`
  // (BackupBeginRequest), and checks after_position against the log.
  absl::StatusOr<v1::BackupBeginResponse> BackupBegin(uint64_t after_position,
                                                      uint64_t at_position = 0);
  // The log's records (as stored, sealed) with after_position < position <=
  // to_position, in order, through read_log pages. Flow control: the next
  // page is asked for as soon as one arrives, and handled only after it, so
  // at most two pages are held here and one is being read on the server.
  // Stops at the first error on_record returns.
  using LogRecordFn = std::function<absl::Status(const log::v1::LogRecord&)>;
  absl::Status ReadLog(uint64_t after_position, uint64_t to_position,
                       const LogRecordFn& on_record);
  // A restore into the empty store the server serves (protocol minor 1;
  // the admin right; RestoreBeginRequest): while it runs the server refuses
  // every other request, and if this connection ends before RestoreEnd the
  // server takes the records back. ApplyLog sends records in order, whole
  // atomic batches per call; RestoreEnd returns the head position.
  absl::Status RestoreBegin(uint64_t last_position);
  absl::Status ApplyLog(const std::vector<log::v1::LogRecord>& records);
  absl::StatusOr<uint64_t> RestoreEnd();
  // The store's check, run by the server while it serves (protocol minor
  // 4; the admin right; VerifyRequest). A failed status when the server
  // did not run it (refused, unreachable, no answer within `timeout`: a
  // verify reads the whole store, so it waits that long rather than the
  // client's request_timeout).
  struct VerifyReport {
    std::vector<std::string> problems;  // the first ones found, as sent
    uint64_t problems_total = 0;        // all the server found
    // What was checked, or why the check failed (Corruption, Integrity,
    // or what stopped it).
    absl::StatusOr<std::string> checked;
  };
  absl::StatusOr<VerifyReport> Verify(bool deep,
                                      std::chrono::milliseconds timeout);
  // Makes a fresh key of the server's cipher active (protocol minor 4; the
  // admin right; RotateKeyRequest) and returns its id.
  absl::StatusOr<uint32_t> RotateKey();
  // Runs the server's storage maintenance now (protocol minor 5; the admin
  // right; MaintainRequest) and returns what it changed, a line each.
  // `timeout` 0: the client's request timeout.
  absl::StatusOr<std::vector<std::string>> Maintain(
      std::chrono::milliseconds timeout = std::chrono::milliseconds(0));
  // What the server said in hello (limits, version).
  const v1::HelloResponse& hello() const;
  // Sends any request (request_id is assigned) and returns the response; an
  // error response is returned as a Response, not as a failed status.
  std::future<absl::StatusOr<v1::Response>> Call(v1::Request request);

  struct Impl;

 private:
  explicit Client(std::shared_ptr<Impl> impl);
  absl::StatusOr<v1::Response> CallAndWait(v1::Request request);
  // Waits for `future` up to `timeout` (the options' request_timeout when
  // zero); an error response is a status.
  absl::StatusOr<v1::Response> Await(
      std::future<absl::StatusOr<v1::Response>> future,
      std::chrono::milliseconds timeout = std::chrono::milliseconds(0));
  // Unimplemented, naming `what` and the server's minor, when the server
  // speaks a minor below `minor`.
  absl::Status NeedMinor(uint32_t minor, const char* what) const;
  // Shared by ReadTag and ReadAll: asks page after page, each made by
  // `make_request(after, count)`, until max_count events, the end, or
  // on_event returns false.
  absl::Status ReadPagesByPosition(
      uint64_t after_position, uint64_t max_count,
      const std::function<v1::Request(uint64_t after, int64_t count)>& make_request,
      const EventFn& on_event);
  // Where appends go: the connection NOT_LEADER sent them to (null: impl_).
  std::shared_ptr<Impl> Writer();
  std::shared_ptr<Impl> impl_;
  std::mutex writer_mutex_;
  std::shared_ptr<Impl> writer_;  // under writer_mutex_
};

}  // namespace cairn

#endif  // CAIRN_CLIENT_H_
