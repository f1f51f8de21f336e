#include "connection.h"

#include <array>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "log.h"
#include "protocol/convert.h"
#include "protocol/frame.h"
#include "protocol/request_check.h"
#include "stream_order.h"

namespace cairn::cairnd {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using TlsStream = asio::ssl::stream<tcp::socket>;

constexpr size_t kReadChunk = 64 * 1024;
constexpr auto kLinger = std::chrono::seconds(1);
// A closing connection whose client does not read its last frames is cut
// off after this, so it cannot pin its buffers forever.
constexpr auto kCloseDeadline = std::chrono::seconds(10);

// One open subscription. Lives on the connection's strand, except `cursor`,
// which one worker at a time uses while `busy`.
struct OpenSubscription {
  uint64_t id = 0;
  std::unique_ptr<Subscription> cursor;
  uint64_t credit = 0;
  bool busy = false;     // a worker is pulling
  bool waiting = false;  // caught up; watching for the next commit
  bool ended = false;
};

// A request that passed its access check, with the decision its audit
// line belongs to: what a connection queues behind a busy stream.
struct PendingRequest {
  v1::Request request;
  AccessGate::Decision decision;
};
const v1::Request& RequestOf(const PendingRequest& pending) { return pending.request; }

template <class Stream>
class StreamConnection final
    : public Connection,
      public std::enable_shared_from_this<StreamConnection<Stream>> {
 public:
  static constexpr bool kTls = std::is_same_v<Stream, TlsStream>;

  StreamConnection(ServerContext* context, Stream stream)
      : context_(context),
        limits_(context->options.limits),
        stream_(std::move(stream)),
        decoder_(limits_.max_frame),
        idle_timer_(stream_.get_executor()),
        handshake_timer_(stream_.get_executor()),
        high_water_(std::max<size_t>(8u << 20, 2 * size_t{limits_.max_frame})) {
    boost::system::error_code ec;
    auto endpoint = Lowest().remote_endpoint(ec);
    peer_ = ec ? std::string("unknown")
               : absl::StrCat(endpoint.address().to_string(), ":",
                              endpoint.port());
    peer_address_ = ec ? std::string("unknown") : endpoint.address().to_string();
    identity_ = IdentityOf(nullptr, peer_address_);
    context_->metrics->connections_total.fetch_add(1);
    context_->metrics->connections_active.fetch_add(1);
  }

  ~StreamConnection() override {
    // A restore this connection began and did not end is taken back.
    context_->executor.EndSession(this);
    context_->metrics->connections_active.fetch_sub(1);
    if (authenticated_) context_->authenticated.fetch_sub(1);
    std::lock_guard<std::mutex> lock(context_->mutex);
    context_->connections.erase(this);
    UnlistPendingLocked();
  }

  // Server side of Register: puts this connection on the pending list.
  // Caller holds context_->mutex.
  void ListPendingLocked() {
    pending_entry_ = context_->pending.insert(
        context_->pending.end(),
        ServerContext::PendingEntry{this->weak_from_this(), &pending_listed_});
    pending_listed_ = true;
    context_->metrics->connections_pending.fetch_add(1);
  }

  void Evict() override {
    asio::post(stream_.get_executor(), [self = Self()] {
      if (self->hello_done_ || self->aborted_) return;
      self->context_->metrics->connections_evicted_total.fetch_add(1);
      self->RecordRefused(self->handshake_done_ ? "hello" : "tls_handshake");
      Log(spdlog::level::debug, "pending connection evicted",
          {{"peer", self->peer_}});
      self->Abort();
    });
  }

  void Start() override {
    asio::post(stream_.get_executor(), [self = Self()] { self->Begin(); });
  }

  void Drain() override {
    asio::post(stream_.get_executor(), [self = Self()] {
      if (self->closing_) return;
      if (!self->serving_) {
        // Still in the TLS handshake: nothing to answer yet.
        self->Abort();
        return;
      }
      self->EndAllSubscriptions(v1::SHUTTING_DOWN, "the server is shutting down");
      self->SendError(0, v1::SHUTTING_DOWN,
                      "the server is shutting down; reconnect to another "
                      "node or retry later",
                      /*closing=*/true);
    });
  }

 private:
  std::shared_ptr<StreamConnection> Self() { return this->shared_from_this(); }

  // Caller holds context_->mutex.
  void UnlistPendingLocked() {
    if (!pending_listed_) return;
    context_->pending.erase(pending_entry_);
    pending_listed_ = false;
    context_->metrics->connections_pending.fetch_sub(1);
  }

  tcp::socket& Lowest() {
    if constexpr (kTls) {
      return stream_.next_layer();
    } else {
      return stream_;
    }
  }

  // The audit line of a connection refused before any request (`stage`:
  // tls_handshake, plain_tcp or hello), with the identity known so far
  // (anonymous@ADDRESS until a client certificate was verified).
  void RecordRefused(std::string_view stage) {
    context_->gate.RecordRefusedConnection(identity_.name, peer_, stage);
  }

  void Begin() {
    if (aborted_) return;  // evicted before it started
    // One deadline from accept to hello, the TLS handshake included, so a
    // socket that never authenticates cannot hold a place for long.
    handshake_timer_.expires_after(limits_.handshake_timeout);
    handshake_timer_.async_wait([self = Self()](boost::system::error_code ec) {
      if (ec || self->hello_done_ || self->closing_) return;
      if (!self->handshake_done_) {
        // The handshake's own handler sees the abort and must not count
        // this failure again.
        self->context_->metrics->tls_handshake_failures_total.fetch_add(1);
        Log(spdlog::level::info, "TLS handshake timed out",
            {{"peer", self->peer_}});
        self->RecordRefused("tls_handshake");
        self->Abort();
        return;
      }
      self->context_->metrics->hello_timeouts_total.fetch_add(1);
      self->RecordRefused("hello");
      self->SendError(0, v1::HELLO_REQUIRED,
                      absl::StrCat("no hello within ",
                                   self->limits_.handshake_timeout.count(),
                                   " ms (the server's handshake-timeout)"),
                      /*closing=*/true);
    });
    if constexpr (kTls) {
      // A TLS client's first byte is 0x16 (a handshake record); a cairn.v1
      // frame's is 0x00 (its length's high byte). Answer plain TCP with a
      // plain TLS_REQUIRED frame, not a silent close.
      Lowest().async_receive(
          asio::buffer(first_byte_), tcp::socket::message_peek,
          [self = Self()](boost::system::error_code ec, size_t bytes) {
            if (ec || bytes == 0 || self->aborted_) {
              self->Abort();
            } else if (static_cast<unsigned char>(self->first_byte_[0]) != 0x16) {
              self->RefusePlainTcp();
            } else {
              self->Handshake();
            }
          });
    } else {
      handshake_done_ = true;
      Serve();
    }
  }

  void Handshake() {
    if constexpr (kTls) {
      stream_.async_handshake(
          asio::ssl::stream_base::server,
          [self = Self()](boost::system::error_code ec) {
            self->handshake_done_ = true;
            // Aborted (timed out, evicted, drained): already dealt with.
            if (self->aborted_) return;
            if (ec) {
              self->context_->metrics->tls_handshake_failures_total.fetch_add(1);
              Log(spdlog::level::info, "TLS handshake refused",
                  {{"peer", self->peer_}, {"error", ec.message()}});
              self->RecordRefused("tls_handshake");
              self->Abort();
              return;
            }
            self->identity_ = IdentityOfTls(self->stream_.native_handle(),
                                            self->peer_address_);
            self->Serve();
          });
    }
  }

  void RefusePlainTcp() {
    handshake_done_ = true;
    handshake_timer_.cancel();
    closing_ = true;
    context_->metrics->tls_handshake_failures_total.fetch_add(1);
    context_->metrics->CountError(v1::TLS_REQUIRED);
    Log(spdlog::level::info, "plain TCP on the TLS port refused",
        {{"peer", peer_}});
    RecordRefused("plain_tcp");
    v1::Response response;
    response.set_closing(true);
    response.mutable_error()->set_code(v1::TLS_REQUIRED);
    response.mutable_error()->set_message(
        "this cairnd port speaks TLS only; connect with TLS (cairn: --tls-ca "
        "FILE, and --tls-cert/--tls-key when the server asks for a client "
        "certificate)");
    write_active_.clear();
    protocol::AppendFrame(response, &write_active_);
    writing_ = true;
    asio::async_write(Lowest(), asio::buffer(write_active_),
                      [self = Self()](boost::system::error_code, size_t) {
                        self->writing_ = false;
                        self->MaybeFinishClose();
                      });
  }

  void Serve() {
    if (aborted_) return;
    serving_ = true;
    last_activity_ = Clock::now();
    ArmIdleTimer(limits_.idle_timeout);
    ReadMore();
  }

  // ---------------------------------------------------------- reading --

  void ReadMore() {
    if (reading_ || closing_) return;
    reading_ = true;
    stream_.async_read_some(
        asio::buffer(read_buffer_),
        [self = Self()](boost::system::error_code ec, size_t bytes) {
          self->reading_ = false;
          if (PeerClosedItsSide(ec) && !self->closing_) {
            // The client half-closed (shutdown(SHUT_WR); over TLS a
            // close_notify, or a bare FIN): it may still be reading. Handle
            // the frames already received, answer them, then close
            // (ProcessFrames, FinishInput).
            self->peer_eof_ = true;
            self->peer_close_notify_ = kTls && ec == asio::error::eof;
            self->ProcessFrames();
            return;
          }
          if (ec) {
            // A reset, or EOF while closing: the client is gone; answers in
            // flight are dropped.
            self->Abort();
            return;
          }
          self->context_->metrics->bytes_received_total.fetch_add(bytes);
          self->decoder_.Append(self->read_buffer_.data(), bytes);
          self->ProcessFrames();
        });
  }

  // Whether a read's `ec` says the client closed its sending side and no
  // more bytes will come. Over TLS, a FIN without close_notify is
  // stream_truncated: a truncation attack could only end the request
  // stream early, and the requests received are whole (the decoder drops a
  // partial frame), so it is answered like a close_notify.
  static bool PeerClosedItsSide(const boost::system::error_code& ec) {
    if (ec == asio::error::eof) return true;
    if constexpr (kTls) {
      return ec == asio::ssl::error::stream_truncated;
    } else {
      return false;
    }
  }

  bool Congested() const {
    return write_pending_.size() + write_active_.size() > high_water_;
  }

  // Handles buffered frames while the connection has room for more work;
  // reads when it has handled them all. Called again when room frees up.
  void ProcessFrames() {
    ProcessBufferedFrames();
    RunInlineBatch();
  }

  void ProcessBufferedFrames() {
    while (!closing_) {
      if (inflight_ >= limits_.max_inflight || Congested()) return;
      std::string_view payload;
      std::string error;
      switch (decoder_.Next(&payload, &error)) {
        case protocol::FrameDecoder::Result::kNeedMore:
          if (peer_eof_) {
            FinishInput();
            return;
          }
          ReadMore();
          return;
        case protocol::FrameDecoder::Result::kError:
          SendError(0,
                    decoder_.oversize_length() > 0 ? v1::FRAME_TOO_LARGE
                                                   : v1::MALFORMED_FRAME,
                    error, /*closing=*/true);
          return;
        case protocol::FrameDecoder::Result::kFrame:
          HandleFrame(payload);
          break;
      }
    }
  }

  void HandleFrame(std::string_view payload) {
    last_activity_ = Clock::now();
    context_->metrics->requests_total.fetch_add(1, std::memory_order_relaxed);
    v1::Request request;
    if (!request.ParseFromArray(payload.data(),
                                static_cast<int>(payload.size()))) {
      SendError(0, v1::MALFORMED_FRAME,
                absl::StrCat("a frame of ", payload.size(),
                             " bytes is not a cairn.v1.Request protobuf "
                             "message (or has a string field that is not "
                             "UTF-8)"),
                /*closing=*/true);
      return;
    }
    const uint64_t id = request.request_id();
    if (!hello_done_) {
      if (request.body_case() != v1::Request::kHello) {
        SendError(id, v1::HELLO_REQUIRED,
                  absl::StrCat("the first request must be hello (with "
                               "protocol_major 1), not ",
                               protocol::RequestName(request)),
                  /*closing=*/true);
        return;
      }
      Hello(request);
      return;
    }
    if (context_->draining.load()) {
      SendError(id, v1::SHUTTING_DOWN,
                "the server is shutting down and takes no new requests",
                /*closing=*/true);
      return;
    }
    protocol::RequestLimits request_limits{limits_.max_batch,
                                           limits_.max_credit};
    if (auto bad = protocol::CheckRequest(request, request_limits)) {
      SendError(id, bad->code, bad->message,
                /*closing=*/bad->code == v1::LIMIT_EXCEEDED);
      return;
    }
    AccessGate::Decision decision =
        context_->gate.Decide(identity_, peer_, request);
    if (!decision.status.ok()) {
      const absl::Status recorded = context_->gate.AwaitRecorded(decision);
      SendError(id, recorded.ok() ? v1::PERMISSION_DENIED : v1::INTERNAL,
                std::string(recorded.ok() ? decision.status.message()
                                          : recorded.message()),
                /*closing=*/false);
      return;
    }
    switch (request.body_case()) {
      case v1::Request::kHello:
        SendError(id, v1::INVALID_ARGUMENT,
                  "hello was already received on this connection",
                  /*closing=*/false);
        return;
      case v1::Request::kSubscribe:
        if (auto s = context_->gate.AwaitRecorded(decision); !s.ok()) {
          SendError(id, v1::INTERNAL, std::string(s.message()), false);
          return;
        }
        Subscribe(request);
        return;
      case v1::Request::kCredit:
        Credit(request);
        return;
      case v1::Request::kCancel:
        Cancel(request);
        return;
      case v1::Request::kAppend:
      case v1::Request::kHead:
        if (context_->options.inline_appends &&
            !order_.Busy(OrderedStream(request))) {
          RunInline(std::move(request), std::move(decision));
          return;
        }
        Dispatch(std::move(request), std::move(decision));
        return;
      default:
        Dispatch(std::move(request), std::move(decision));
        return;
    }
  }

  void Hello(const v1::Request& request) {
    const auto& hello = request.hello();
    if (hello.protocol_major() != v1::PROTOCOL_MAJOR) {
      RecordRefused("hello");
      SendError(request.request_id(), v1::UNSUPPORTED_VERSION,
                absl::StrCat("protocol major version ", hello.protocol_major(),
                             " is not supported; this server speaks cairn.v1 "
                             "(major 1, minor ",
                             kProtocolMinor, ")"),
                /*closing=*/true);
      return;
    }
    // max-connections counts connections past hello only, so sockets that
    // never authenticate cannot fill it.
    if (context_->authenticated.fetch_add(1) >=
        static_cast<int64_t>(limits_.max_connections)) {
      context_->authenticated.fetch_sub(1);
      context_->metrics->connections_refused_total.fetch_add(1);
      RecordRefused("hello");
      SendError(request.request_id(), v1::TOO_MANY_CONNECTIONS,
                absl::StrCat("the server already has its max-connections (",
                             limits_.max_connections,
                             ") clients; retry later"),
                /*closing=*/true);
      return;
    }
    authenticated_ = true;
    hello_done_ = true;
    handshake_timer_.cancel();
    {
      std::lock_guard<std::mutex> lock(context_->mutex);
      UnlistPendingLocked();
    }
    client_name_ = hello.client_name();
    v1::Response response;
    response.set_request_id(request.request_id());
    auto* out = response.mutable_hello();
    out->set_protocol_major(1);
    out->set_protocol_minor(kProtocolMinor);
    out->set_server_version(kServerVersion);
    out->set_max_frame(limits_.max_frame);
    out->set_max_batch(limits_.max_batch);
    out->set_max_inflight(limits_.max_inflight);
    Send(response);
    Log(spdlog::level::debug, "client connected",
        {{"peer", peer_}, {"client", client_name_}});
  }

  // Runs the request on the worker pool, after any earlier request of its
  // stream on this connection (StreamOrder); inline requests still waiting
  // for their audit line (RunInlineBatch) came first, so they run first. The
  // answer comes back to the strand. A held request counts as in flight
  // (limits, drain).
  void Dispatch(v1::Request request, AccessGate::Decision decision) {
    RunInlineBatch();
    ++inflight_;
    PendingRequest pending{std::move(request), std::move(decision)};
    if (order_.Admit(&pending)) RunOnWorker(std::move(pending));
  }

  void RunOnWorker(PendingRequest pending) {
    context_->inflight.fetch_add(1);
    asio::thread_pool* pool = MayWaitForReplication(pending.request)
                                  ? context_->write_workers
                                  : context_->workers;
    asio::post(*pool, [self = Self(), pending = std::move(pending)]() {
      v1::Response response;
      try {
        self->ExecuteAudited(pending.request, pending.decision, &response);
      } catch (const std::exception& e) {
        // Out of memory or descriptors under the store call: this request
        // fails; the worker thread (and the process) goes on.
        response.Clear();
        response.set_request_id(pending.request.request_id());
        response.mutable_error()->set_code(v1::INTERNAL);
        response.mutable_error()->set_message(
            absl::StrCat("the server failed running this request: ", e.what()));
      }
      std::string frame;
      protocol::AppendFrame(response, &frame);
      asio::post(self->stream_.get_executor(),
                 [self, frame = std::move(frame),
                  stream = std::string(OrderedStream(pending.request))]() mutable {
                   self->Executed(std::move(frame), stream);
                 });
    });
  }

  // [server] inline-appends: the store call runs here, on the strand.
  // With an audit log, inline requests wait until ProcessFrames has read
  // every buffered frame, so one audit write covers the burst
  // (RunInlineBatch); without one they run at once.
  void RunInline(v1::Request request, AccessGate::Decision decision) {
    if (decision.audit_seq != 0) {
      inline_batch_.emplace_back(std::move(request), std::move(decision));
      return;
    }
    v1::Response response;
    ExecuteAudited(request, decision, &response);
    Send(response);
  }

  // Waits once for the newest held request's audit line (every earlier line
  // is written by then), then runs the held requests in order.
  void RunInlineBatch() {
    if (inline_batch_.empty()) return;
    std::vector<std::pair<v1::Request, AccessGate::Decision>> batch;
    batch.swap(inline_batch_);
    const absl::Status recorded =
        context_->gate.AwaitRecorded(batch.back().second);
    for (const auto& [request, decision] : batch) {
      v1::Response response;
      if (recorded.ok()) {
        context_->executor.Execute(request, &response);
      } else {
        response.set_request_id(request.request_id());
        protocol::StatusToError(recorded, response.mutable_error());
      }
      Send(response);
    }
  }

  // Runs the request once its audit line is written; an admin request's
  // outcome is logged before the answer goes out. Any thread: identity_ and
  // peer_ do not change once serving.
  void ExecuteAudited(const v1::Request& request,
                      const AccessGate::Decision& decision,
                      v1::Response* response) const {
    absl::Status recorded = context_->gate.AwaitRecorded(decision);
    if (recorded.ok()) {
      context_->executor.Execute(request, response, this);
      recorded = context_->gate.RecordOutcome(decision, identity_, peer_,
                                              *response);
    }
    if (!recorded.ok()) {
      response->Clear();
      response->set_request_id(request.request_id());
      protocol::StatusToError(recorded, response->mutable_error());
    }
  }

  void Executed(std::string frame, std::string_view stream) {
    --inflight_;
    context_->inflight.fetch_sub(1);
    if (!aborted_) Enqueue(frame);
    if (auto next = order_.Done(stream)) RunOnWorker(std::move(*next));
    ProcessFrames();
    MaybeFinishClose();
  }

  // ---------------------------------------------------- subscriptions --

  void Subscribe(const v1::Request& request) {
    const uint64_t id = request.request_id();
    if (subscriptions_.size() >= limits_.max_subscriptions) {
      SendError(id, v1::LIMIT_EXCEEDED,
                absl::StrCat("this connection already has ",
                             subscriptions_.size(),
                             " subscriptions, the server's max-subscriptions; "
                             "cancel one first"),
                /*closing=*/true);
      return;
    }
    if (context_->executor.RestoreUnderWay()) {
      SendError(id, v1::FAILED_PRECONDITION,
                "a restore through the server is under way; subscribe when "
                "it has ended",
                /*closing=*/false);
      return;
    }
    if (subscriptions_.count(id) > 0) {
      SendError(id, v1::INVALID_ARGUMENT,
                absl::StrCat("request id ", id,
                             " is already an open subscription on this "
                             "connection; use a fresh request id"),
                /*closing=*/false);
      return;
    }
    auto subscription = std::make_shared<OpenSubscription>();
    subscription->id = id;
    subscription->credit = request.subscribe().initial_credit();
    subscription->cursor = context_->store->Subscribe(
        protocol::FilterFromProto(request.subscribe()));
    subscriptions_[id] = subscription;
    context_->metrics->subscriptions_active.fetch_add(1);
    context_->metrics->subscriptions_total.fetch_add(1);
    v1::Response response;
    response.set_request_id(id);
    response.mutable_subscribed();
    Send(response);
    Pump(subscription);
  }

  void Credit(const v1::Request& request) {
    const auto& credit = request.credit();
    auto it = subscriptions_.find(credit.subscription_id());
    if (it == subscriptions_.end()) {
      // Not fatal: the subscription may have ended while the credit was on
      // its way.
      SendError(request.request_id(), v1::UNKNOWN_SUBSCRIPTION,
                absl::StrCat("no open subscription has id ",
                             credit.subscription_id()),
                /*closing=*/false);
      return;
    }
    auto subscription = it->second;
    if (subscription->credit + credit.credit() > limits_.max_credit) {
      SendError(request.request_id(), v1::LIMIT_EXCEEDED,
                absl::StrCat("subscription ", subscription->id, " would hold ",
                             subscription->credit + credit.credit(),
                             " credit; the server's max-credit is ",
                             limits_.max_credit),
                /*closing=*/true);
      return;
    }
    subscription->credit += credit.credit();
    Pump(subscription);
  }

  void Cancel(const v1::Request& request) {
    const uint64_t target = request.cancel().subscription_id();
    auto it = subscriptions_.find(target);
    if (it == subscriptions_.end()) {
      SendError(request.request_id(), v1::UNKNOWN_SUBSCRIPTION,
                absl::StrCat("no open subscription has id ", target),
                /*closing=*/false);
      return;
    }
    EndSubscription(it->second, v1::OK, "");
    v1::Response response;
    response.set_request_id(request.request_id());
    response.mutable_done();
    Send(response);
  }

  // By value: erasing the map entry must not free it under our feet.
  void EndSubscription(std::shared_ptr<OpenSubscription> subscription,
                       v1::ErrorCode code, const std::string& message) {
    if (subscription->ended) return;
    subscription->ended = true;
    subscription->cursor->Cancel();
    subscriptions_.erase(subscription->id);
    context_->metrics->subscriptions_active.fetch_sub(1);
    v1::Response response;
    response.set_request_id(subscription->id);
    response.mutable_ended();
    if (code != v1::OK) {
      response.mutable_error()->set_code(code);
      response.mutable_error()->set_message(message);
      context_->metrics->CountError(code);
    }
    Send(response);
  }

  void EndAllSubscriptions(v1::ErrorCode code, const std::string& message) {
    auto open = subscriptions_;
    for (auto& [id, subscription] : open) {
      EndSubscription(subscription, code, message);
    }
  }

  // Pulls from the subscription on a worker when it has credit, is not
  // already pulling or waiting, and the connection's write queue has room.
  void Pump(const std::shared_ptr<OpenSubscription>& subscription) {
    if (subscription->ended || subscription->busy || subscription->waiting ||
        subscription->credit == 0 || closing_ || Congested()) {
      return;
    }
    subscription->busy = true;
    const uint64_t generation = context_->notifier->generation();
    const size_t max_events = static_cast<size_t>(std::min<uint64_t>(
        subscription->credit, limits_.max_read_events));
    asio::post(*context_->workers, [self = Self(), subscription, generation,
                                    max_events]() {
      std::string frames;
      auto pulled = self->context_->executor.PullSubscription(
          subscription->cursor.get(), subscription->id, max_events, &frames);
      asio::post(self->stream_.get_executor(),
                 [self, subscription, generation, pulled = std::move(pulled),
                  frames = std::move(frames)]() {
                   self->Pulled(subscription, generation, pulled, frames);
                 });
    });
  }

  void Pulled(const std::shared_ptr<OpenSubscription>& subscription,
              uint64_t generation, const absl::StatusOr<size_t>& pulled,
              const std::string& frames) {
    subscription->busy = false;
    if (subscription->ended || aborted_) return;
    if (!pulled.ok()) {
      v1::Error error;
      protocol::StatusToError(pulled.status(), &error);
      EndSubscription(subscription, error.code(), error.message());
      return;
    }
    if (*pulled > 0) {
      subscription->credit -= std::min<uint64_t>(*pulled, subscription->credit);
      Enqueue(frames);
      Pump(subscription);
      return;
    }
    // Caught up: wait for the next commit without holding a thread.
    subscription->waiting = true;
    std::weak_ptr<StreamConnection> weak = Self();
    context_->notifier->Watch(generation, [weak, subscription] {
      auto self = weak.lock();
      if (!self) return;
      asio::post(self->stream_.get_executor(), [self, subscription] {
        subscription->waiting = false;
        self->Pump(subscription);
      });
    });
  }

  // ---------------------------------------------------------- writing --

  void Send(const v1::Response& response) {
    std::string frame;
    protocol::AppendFrame(response, &frame);
    Enqueue(frame);
  }

  void SendError(uint64_t request_id, v1::ErrorCode code,
                 const std::string& message, bool closing) {
    context_->metrics->CountError(code);
    v1::Response response;
    response.set_request_id(request_id);
    response.mutable_error()->set_code(code);
    response.mutable_error()->set_message(message);
    response.set_closing(closing);
    Send(response);
    if (closing) {
      // A drain closes every connection; the server logs that once.
      Log(code == v1::SHUTTING_DOWN ? spdlog::level::debug
                                    : spdlog::level::info,
          "closing connection",
          {{"peer", peer_},
           {"code", v1::ErrorCode_Name(code)},
           {"reason", message}});
      BeginClose();
    }
  }

  void Enqueue(const std::string& frames) {
    if (aborted_ || frames.empty()) return;
    write_pending_ += frames;
    StartWrite();
  }

  void StartWrite() {
    if (writing_ || write_pending_.empty() || aborted_) return;
    writing_ = true;
    write_active_.swap(write_pending_);
    write_pending_.clear();
    asio::async_write(
        stream_, asio::buffer(write_active_),
        [self = Self()](boost::system::error_code ec, size_t bytes) {
          self->writing_ = false;
          self->write_active_.clear();
          if (ec) {
            self->Abort();
            return;
          }
          self->context_->metrics->bytes_sent_total.fetch_add(bytes);
          self->StartWrite();
          if (!self->closing_ && !self->Congested()) {
            for (auto& [id, subscription] : self->subscriptions_) {
              self->Pump(subscription);
            }
            self->ProcessFrames();
          }
          self->MaybeFinishClose();
        });
  }

  // ---------------------------------------------------------- closing --

  void ArmIdleTimer(std::chrono::milliseconds after) {
    idle_timer_.expires_after(after);
    idle_timer_.async_wait([self = Self()](boost::system::error_code ec) {
      if (ec || self->closing_) return;
      const auto idle = Clock::now() - self->last_activity_;
      const auto limit = self->limits_.idle_timeout;
      if (idle < limit || self->inflight_ > 0 || !self->subscriptions_.empty()) {
        // Not idle: a request arrived, one is running, or a subscription is
        // open (a subscriber may wait quietly for events).
        self->ArmIdleTimer(idle < limit
                               ? std::chrono::duration_cast<
                                     std::chrono::milliseconds>(limit - idle) +
                                     std::chrono::milliseconds(1)
                               : limit);
        return;
      }
      self->SendError(0, v1::IDLE_TIMEOUT,
                      absl::StrCat("no request for ", limit.count(),
                                   " ms (the server's idle-timeout)"),
                      /*closing=*/true);
    });
  }

  // The client half-closed and every frame it sent is handled: close once
  // the answers are written. Subscriptions end (`ended`, CLOSED): nothing
  // could cancel or credit them any more.
  void FinishInput() {
    Log(spdlog::level::debug, "client closed its side; answering and closing",
        {{"peer", peer_}, {"inflight", std::to_string(inflight_)}});
    BeginClose();
  }

  // Stops taking requests; the socket closes once in-flight answers and the
  // last frame are written.
  void BeginClose() {
    if (closing_) return;
    closing_ = true;
    EndAllSubscriptions(v1::CLOSED, "the connection is closing");
    idle_timer_.cancel();
    // The handshake timer is free once serving; it now bounds the close.
    handshake_timer_.expires_after(kCloseDeadline);
    handshake_timer_.async_wait([self = Self()](boost::system::error_code ec) {
      if (!ec) self->Abort();
    });
    MaybeFinishClose();
  }

  void MaybeFinishClose() {
    if (!closing_ || aborted_ || lingering_ || inflight_ > 0 || writing_ ||
        !write_pending_.empty()) {
      return;
    }
    lingering_ = true;
    if constexpr (kTls) {
      if (peer_close_notify_) {
        // The client closed its side with a close_notify and has every
        // answer: close ours with one too, so a client that checks for
        // truncation sees a complete stream. Its close_notify is in, so
        // this only writes ours (kCloseDeadline bounds it). A client that
        // sent a bare FIN gets a bare FIN, below.
        stream_.async_shutdown(
            [self = Self()](boost::system::error_code) { self->Abort(); });
        return;
      }
    }
    // Half-close and read what the client still sends, so closing with
    // unread input does not reset the connection before the client has read
    // our last frame.
    boost::system::error_code ignored;
    Lowest().shutdown(tcp::socket::shutdown_send, ignored);
    if (peer_eof_) {
      // The client already closed its side: nothing more will come.
      Abort();
      return;
    }
    idle_timer_.expires_after(kLinger);
    idle_timer_.async_wait([self = Self()](boost::system::error_code ec) {
      if (!ec) self->Abort();
    });
    Discard();
  }

  void Discard() {
    Lowest().async_read_some(
        asio::buffer(read_buffer_),
        [self = Self()](boost::system::error_code ec, size_t) {
          if (ec) {
            self->Abort();
            return;
          }
          self->Discard();
        });
  }

  void Abort() {
    if (aborted_) return;
    aborted_ = true;
    closing_ = true;
    EndAllSubscriptionsQuietly();
    idle_timer_.cancel();
    handshake_timer_.cancel();
    boost::system::error_code ignored;
    Lowest().shutdown(tcp::socket::shutdown_both, ignored);
    Lowest().close(ignored);
  }

  void EndAllSubscriptionsQuietly() {
    for (auto& [id, subscription] : subscriptions_) {
      subscription->ended = true;
      subscription->cursor->Cancel();
      context_->metrics->subscriptions_active.fetch_sub(1);
    }
    subscriptions_.clear();
  }

  ServerContext* context_;
  const Limits limits_;
  Stream stream_;
  std::string peer_;          // "ADDRESS:PORT"
  std::string peer_address_;  // "ADDRESS"
  Identity identity_;         // set before serving; constant after
  std::string client_name_;
  protocol::FrameDecoder decoder_;
  std::array<char, kReadChunk> read_buffer_;
  std::array<char, 1> first_byte_{};  // peeked on a TLS port
  asio::steady_timer idle_timer_;
  asio::steady_timer handshake_timer_;
  const size_t high_water_;
  Clock::time_point last_activity_ = Clock::now();

  bool handshake_done_ = false;
  bool serving_ = false;  // past the handshake; frames may be written
  bool hello_done_ = false;
  bool authenticated_ = false;  // counted in context_->authenticated
  bool peer_eof_ = false;       // the client half-closed
  bool peer_close_notify_ = false;  // ... with a TLS close_notify
  // On context_->pending while listed (both guarded by context_->mutex).
  bool pending_listed_ = false;
  std::list<ServerContext::PendingEntry>::iterator pending_entry_;
  bool reading_ = false;
  bool writing_ = false;
  bool closing_ = false;
  bool lingering_ = false;
  bool aborted_ = false;
  uint32_t inflight_ = 0;  // on workers or held by order_
  StreamOrder<PendingRequest> order_;
  std::string write_pending_;
  std::string write_active_;
  std::unordered_map<uint64_t, std::shared_ptr<OpenSubscription>>
      subscriptions_;
  // Inline requests (appends, heads) waiting for RunInlineBatch.
  std::vector<std::pair<v1::Request, AccessGate::Decision>> inline_batch_;
};

template <class Stream>
std::shared_ptr<Connection> Register(
    ServerContext* context, std::shared_ptr<StreamConnection<Stream>> made) {
  std::weak_ptr<Connection> evict;
  {
    std::lock_guard<std::mutex> lock(context->mutex);
    context->connections[made.get()] = made;
    made->ListPendingLocked();
    if (context->pending.size() >
        context->options.limits.max_pending_connections) {
      // Full of connections that have not said hello: the oldest goes, so a
      // flood of silent sockets delays a real client by at most its own
      // handshake instead of locking it out.
      auto& oldest = context->pending.front();
      *oldest.listed = false;
      evict = oldest.connection;
      context->pending.pop_front();
      context->metrics->connections_pending.fetch_sub(1);
    }
  }
  if (auto victim = evict.lock()) victim->Evict();
  return made;
}

}  // namespace

std::shared_ptr<Connection> MakePlainConnection(ServerContext* context,
                                                tcp::socket socket) {
  boost::system::error_code ignored;
  socket.set_option(tcp::no_delay(true), ignored);
  return Register(context, std::make_shared<StreamConnection<tcp::socket>>(
                               context, std::move(socket)));
}

std::shared_ptr<Connection> MakeTlsConnection(ServerContext* context,
                                              tcp::socket socket,
                                              asio::ssl::context& tls) {
  boost::system::error_code ignored;
  socket.set_option(tcp::no_delay(true), ignored);
  return Register(context, std::make_shared<StreamConnection<TlsStream>>(
                               context, TlsStream(std::move(socket), tls)));
}

}  // namespace cairn::cairnd
