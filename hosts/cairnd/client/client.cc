#include "cairn/client.h"

#include <openssl/ssl.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <charconv>
#include <condition_variable>
#include <deque>
#include <limits>
#include <mutex>
#include <optional>
#include <random>
#include <thread>
#include <unordered_map>

#include "absl/strings/str_cat.h"
#include "protocol/busy_poll.h"
#include "protocol/convert.h"
#include "protocol/frame.h"

namespace cairn {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using TlsStream = asio::ssl::stream<tcp::socket>;
using ResponseOr = absl::StatusOr<v1::Response>;
using ResponsePromise = std::promise<ResponseOr>;

// A count for the wire: 0 asks for "up to the server's page limit".
int64_t WireCount(uint64_t remaining) {
  if (remaining >= static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    return 0;
  }
  return static_cast<int64_t>(remaining);
}

}  // namespace

struct RemoteSubscription::State {
  std::mutex mutex;
  std::condition_variable changed;
  std::deque<RecordedEvent> queue;  // at most `window` events (credit)
  bool ended = false;
  bool cancelled = false;
  absl::Status error;
  uint64_t id = 0;
  uint32_t window = 0;
  uint64_t consumed = 0;  // taken by Next since the last credit grant
  uint64_t cursor = 0;
  bool by_revision = false;
  std::weak_ptr<Client::Impl> client;
};

struct Client::Impl {
  explicit Impl(ClientOptions options)
      : options(std::move(options)),
        name(absl::StrCat(this->options.host, ":", this->options.port)),
        work(asio::make_work_guard(io)),
        socket(io),
        decoder(this->options.max_response_frame) {}

  ~Impl() { Close(); }

  absl::Status Open();
  void Close();

  // Queues `request` (its id assigned here). With `reply`, the response (or
  // the transport's failure) fulfils it. With `subscription`, the request
  // opens it and later frames with its id feed it.
  void Submit(v1::Request request, std::shared_ptr<ResponsePromise> reply,
              std::shared_ptr<RemoteSubscription::State> subscription);

  template <class F>
  void WithStream(F&& f) {
    if (tls) {
      f(*tls);
    } else {
      f(socket);
    }
  }
  tcp::socket& Lowest() { return tls ? tls->next_layer() : socket; }

  void ReadMore();
  void OnResponse(v1::Response response);
  void Enqueue(std::string frames);
  void StartWrite();
  void Fail(const absl::Status& status);  // io thread
  static void EndSubscription(RemoteSubscription::State& state,
                              absl::Status error);

  const ClientOptions options;
  const std::string name;
  asio::io_context io;
  asio::executor_work_guard<asio::io_context::executor_type> work;
  std::optional<asio::ssl::context> tls_context;
  std::unique_ptr<TlsStream> tls;
  tcp::socket socket;
  std::thread thread;
  std::atomic<uint64_t> next_id{1};
  v1::HelloResponse hello;
  bool closed = false;

  // Direct sends: on plain TCP a caller's thread writes its request frame to
  // the socket itself when nothing is queued for the io thread, so a
  // synchronous call costs one thread hand-off (the answer) instead of two.
  // Frames keep their submission order: a direct send happens only when
  // every earlier frame is already in the socket. `send_mutex` guards these
  // fields and `pending`, and is held across the direct ::send and across
  // posting a frame to the io thread (so posts keep the order of the lock).
  std::mutex send_mutex;
  bool direct_closed = false;  // Fail ran: the socket is closed or closing
  size_t queued = 0;           // frames posted to the io thread, not enqueued
  bool io_writing = false;     // the io thread has frames to write or writing
  std::unordered_map<uint64_t, std::shared_ptr<ResponsePromise>> pending;

  // The io thread's own state.
  protocol::FrameDecoder decoder;
  std::array<char, 64 * 1024> read_buffer;
  std::string write_pending;
  std::string write_active;
  bool writing = false;
  absl::Status broken;  // set once: every later call fails with it
  absl::Status server_said;  // a closing error the server sent
  bool received_any = false;  // the server has sent at least one byte
  std::unordered_map<uint64_t, std::shared_ptr<RemoteSubscription::State>>
      subscriptions;
};

absl::Status ParseServerAddress(std::string_view address, std::string* host,
                                uint16_t* port) {
  size_t colon = address.rfind(':');
  if (colon == std::string_view::npos || colon == 0 ||
      colon + 1 == address.size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "server address '", std::string(address),
        "' is not HOST:PORT (e.g. 127.0.0.1:7600 or [::1]:7600)"));
  }
  std::string_view host_part = address.substr(0, colon);
  if (host_part.front() == '[' && host_part.back() == ']') {
    host_part = host_part.substr(1, host_part.size() - 2);
  }
  std::string_view port_part = address.substr(colon + 1);
  unsigned value = 0;
  auto [ptr, ec] = std::from_chars(port_part.data(),
                                   port_part.data() + port_part.size(), value);
  if (ec != std::errc() || ptr != port_part.data() + port_part.size() ||
      value == 0 || value > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("server address '", std::string(address), "': port '",
                     std::string(port_part), "' is not 1..65535"));
  }
  *host = std::string(host_part);
  *port = static_cast<uint16_t>(value);
  return absl::OkStatus();
}

absl::Status Client::Impl::Open() {
  if (options.tls) {
    tls_context.emplace(asio::ssl::context::tls_client);
    boost::system::error_code ec;
    tls_context->set_options(asio::ssl::context::default_workarounds |
                                 asio::ssl::context::no_sslv2 |
                                 asio::ssl::context::no_sslv3 |
                                 asio::ssl::context::no_tlsv1 |
                                 asio::ssl::context::no_tlsv1_1,
                             ec);
    if (options.verify_server) {
      if (options.ca_file.empty()) {
        tls_context->set_default_verify_paths(ec);
      } else {
        tls_context->load_verify_file(options.ca_file, ec);
      }
      if (ec) {
        return absl::InvalidArgumentError(absl::StrCat(
            "TLS CA file '", options.ca_file, "': ", ec.message()));
      }
      tls_context->set_verify_mode(asio::ssl::verify_peer, ec);
      tls_context->set_verify_callback(asio::ssl::host_name_verification(
          options.server_name.empty() ? options.host : options.server_name));
    } else {
      tls_context->set_verify_mode(asio::ssl::verify_none, ec);
    }
    if (!options.cert_file.empty()) {
      tls_context->use_certificate_chain_file(options.cert_file, ec);
      if (ec) {
        return absl::InvalidArgumentError(absl::StrCat(
            "client certificate '", options.cert_file, "': ", ec.message()));
      }
      tls_context->use_private_key_file(options.key_file,
                                        asio::ssl::context::pem, ec);
      if (ec) {
        return absl::InvalidArgumentError(absl::StrCat(
            "client key '", options.key_file, "': ", ec.message()));
      }
    }
    tls = std::make_unique<TlsStream>(io, *tls_context);
    const std::string sni =
        options.server_name.empty() ? options.host : options.server_name;
    boost::system::error_code ip_ec;
    asio::ip::make_address(sni, ip_ec);
    if (ip_ec) SSL_set_tlsext_host_name(tls->native_handle(), sni.c_str());
  }

  thread = std::thread(
      [this] { protocol::RunWithBusyPoll(io, options.busy_poll); });

  auto connected = std::make_shared<std::promise<absl::Status>>();
  auto done = connected->get_future();
  auto settled = std::make_shared<bool>(false);
  auto resolver = std::make_shared<tcp::resolver>(io);
  auto timer = std::make_shared<asio::steady_timer>(io);
  auto settle = [this, connected, settled, timer](absl::Status status) {
    if (*settled) return;
    *settled = true;
    timer->cancel();
    connected->set_value(std::move(status));
  };
  asio::post(io, [this, resolver, timer, settle, settled]() {
    timer->expires_after(options.connect_timeout);
    timer->async_wait([this, settle](boost::system::error_code ec) {
      if (ec) return;
      boost::system::error_code ignored;
      Lowest().close(ignored);
      settle(absl::DeadlineExceededError(absl::StrCat(
          "connecting to cairnd at ", name, " took longer than ",
          options.connect_timeout.count(), " ms")));
    });
    resolver->async_resolve(
        options.host, std::to_string(options.port),
        [this, resolver, settle](boost::system::error_code ec,
                                 tcp::resolver::results_type results) {
          if (ec) {
            settle(absl::UnavailableError(absl::StrCat(
                "cannot resolve cairnd host '", options.host, "': ",
                ec.message())));
            return;
          }
          asio::async_connect(
              Lowest(), results,
              [this, settle](boost::system::error_code ec, const tcp::endpoint&) {
                if (ec) {
                  settle(absl::UnavailableError(absl::StrCat(
                      "cannot connect to cairnd at ", name, ": ",
                      ec.message())));
                  return;
                }
                boost::system::error_code ignored;
                Lowest().set_option(tcp::no_delay(true), ignored);
                if (!tls) {
                  ReadMore();
                  settle(absl::OkStatus());
                  return;
                }
                tls->async_handshake(
                    asio::ssl::stream_base::client,
                    [this, settle](boost::system::error_code ec) {
                      if (ec) {
                        settle(absl::UnavailableError(absl::StrCat(
                            "TLS handshake with cairnd at ", name,
                            " failed: ", ec.message())));
                        return;
                      }
                      ReadMore();
                      settle(absl::OkStatus());
                    });
              });
        });
  });
  if (done.wait_for(options.connect_timeout + std::chrono::seconds(1)) !=
      std::future_status::ready) {
    return absl::DeadlineExceededError(
        absl::StrCat("connecting to cairnd at ", name, " timed out"));
  }
  if (absl::Status s = done.get(); !s.ok()) return s;

  v1::Request request;
  auto* out = request.mutable_hello();
  out->set_protocol_major(1);
  out->set_protocol_minor(2);  // 1: backup_begin, read_log; 2: append epoch
  out->set_client_name(options.client_name);
  auto reply = std::make_shared<ResponsePromise>();
  auto answer = reply->get_future();
  Submit(std::move(request), reply, nullptr);
  if (answer.wait_for(options.connect_timeout) != std::future_status::ready) {
    return absl::DeadlineExceededError(absl::StrCat(
        "cairnd at ", name, " did not answer hello within ",
        options.connect_timeout.count(), " ms"));
  }
  ResponseOr response = answer.get();
  if (!response.ok()) return response.status();
  if (response->has_error()) {
    return protocol::ErrorToStatus(response->error());
  }
  if (!response->has_hello()) {
    return absl::DataLossError(absl::StrCat(
        "cairnd at ", name, " answered hello with another message"));
  }
  hello = response->hello();
  return absl::OkStatus();
}

void Client::Impl::Close() {
  if (closed) return;
  closed = true;
  if (thread.joinable()) {
    asio::post(io, [this] {
      Fail(absl::UnavailableError(
          absl::StrCat("the client's connection to ", name, " is closed")));
    });
    work.reset();
    // Fail closes the socket, so run() runs out of work and returns.
    thread.join();
  }
}

void Client::Impl::Submit(
    v1::Request request, std::shared_ptr<ResponsePromise> reply,
    std::shared_ptr<RemoteSubscription::State> subscription) {
  const uint64_t id = next_id.fetch_add(1);
  request.set_request_id(id);
  std::string frame;
  protocol::AppendFrame(request, &frame);
  std::lock_guard<std::mutex> lock(send_mutex);
  if (!tls && !subscription && !direct_closed && queued == 0 && !io_writing) {
    if (reply) pending[id] = reply;
    const ssize_t sent =
        ::send(socket.native_handle(), frame.data(), frame.size(),
               MSG_NOSIGNAL | MSG_DONTWAIT);
    if (sent == static_cast<ssize_t>(frame.size())) return;
    if (sent < 0 && errno != EAGAIN && errno != EWOULDBLOCK &&
        errno != EINTR) {
      // The io thread owns failing the connection; it answers `reply`.
      const std::string error = std::strerror(errno);
      asio::post(io, [this, error] {
        Fail(absl::UnavailableError(absl::StrCat(
            "cannot send to cairnd at ", name, ": ", error)));
      });
      return;
    }
    // The socket is full: the rest goes out through the io thread, ahead of
    // any later frame.
    frame.erase(0, sent > 0 ? static_cast<size_t>(sent) : 0);
    reply = nullptr;  // already pending
  }
  ++queued;
  asio::post(io, [this, id, frame = std::move(frame), reply,
                  subscription]() mutable {
    {
      std::lock_guard<std::mutex> lock(send_mutex);
      --queued;
      if (broken.ok()) {
        io_writing = true;
        if (reply) pending[id] = reply;
      }
    }
    if (!broken.ok()) {
      if (reply) reply->set_value(broken);
      if (subscription) EndSubscription(*subscription, broken);
      return;
    }
    if (subscription) {
      subscription->id = id;
      subscriptions[id] = subscription;
    }
    Enqueue(std::move(frame));
  });
}

void Client::Impl::ReadMore() {
  WithStream([this](auto& stream) {
    stream.async_read_some(
        asio::buffer(read_buffer),
        [this](boost::system::error_code ec, size_t bytes) {
          if (ec) {
            Fail(server_said.ok()
                     ? absl::UnavailableError(absl::StrCat(
                           "connection to cairnd at ", name,
                           " closed: ", ec.message()))
                     : server_said);
            return;
          }
          if (!tls && !received_any && bytes >= 2 &&
              (read_buffer[0] == 0x15 || read_buffer[0] == 0x16) &&
              read_buffer[1] == 0x03) {
            // A TLS alert or handshake record, not a cairn.v1 frame (whose
            // first byte, a length's high byte, is 0 below 16 MiB).
            Fail(absl::UnavailableError(absl::StrCat(
                "the server at ", name, " answered with TLS records: it wants "
                "TLS; connect with TLS (cairn: --tls-ca FILE, and "
                "--tls-cert/--tls-key when it asks for a client certificate)")));
            return;
          }
          received_any = true;
          decoder.Append(read_buffer.data(), bytes);
          while (true) {
            std::string_view payload;
            std::string error;
            auto result = decoder.Next(&payload, &error);
            if (result == protocol::FrameDecoder::Result::kNeedMore) break;
            if (result == protocol::FrameDecoder::Result::kError) {
              Fail(absl::DataLossError(absl::StrCat(
                  "cairnd at ", name, " sent a bad frame: ", error)));
              return;
            }
            v1::Response response;
            if (!response.ParseFromArray(payload.data(),
                                         static_cast<int>(payload.size()))) {
              Fail(absl::DataLossError(absl::StrCat(
                  "cairnd at ", name,
                  " sent a frame that is not a cairn.v1.Response")));
              return;
            }
            OnResponse(std::move(response));
            if (!broken.ok()) return;
          }
          ReadMore();
        });
  });
}

void Client::Impl::OnResponse(v1::Response response) {
  const uint64_t id = response.request_id();
  if (response.closing() && response.has_error()) {
    server_said = absl::UnavailableError(absl::StrCat(
        "cairnd at ", name, " closed the connection: ",
        protocol::ErrorToStatus(response.error()).message()));
  }
  if (auto it = subscriptions.find(id); it != subscriptions.end()) {
    auto state = it->second;
    if (response.has_events()) {
      std::lock_guard<std::mutex> lock(state->mutex);
      for (const auto& event : response.events().events()) {
        state->queue.push_back(protocol::FromProto(event));
      }
      state->changed.notify_all();
    }
    if (response.has_ended() ||
        (response.has_error() && !response.has_subscribed())) {
      EndSubscription(*state, response.has_error()
                                  ? protocol::ErrorToStatus(response.error())
                                  : absl::OkStatus());
      subscriptions.erase(it);
    }
  }
  std::shared_ptr<ResponsePromise> reply;
  {
    std::lock_guard<std::mutex> lock(send_mutex);
    if (auto it = pending.find(id); it != pending.end()) {
      reply = std::move(it->second);
      pending.erase(it);
    }
  }
  if (reply) reply->set_value(std::move(response));
}

void Client::Impl::EndSubscription(RemoteSubscription::State& state,
                                   absl::Status error) {
  std::lock_guard<std::mutex> lock(state.mutex);
  if (state.ended) return;
  state.ended = true;
  if (!state.cancelled) state.error = std::move(error);
  state.changed.notify_all();
}

void Client::Impl::Enqueue(std::string frames) {
  write_pending += frames;
  StartWrite();
}

void Client::Impl::StartWrite() {
  if (writing || write_pending.empty() || !broken.ok()) return;
  writing = true;
  write_active.swap(write_pending);
  write_pending.clear();
  WithStream([this](auto& stream) {
    asio::async_write(stream, asio::buffer(write_active),
                      [this](boost::system::error_code ec, size_t) {
                        writing = false;
                        write_active.clear();
                        if (ec) {
                          Fail(absl::UnavailableError(absl::StrCat(
                              "cannot send to cairnd at ", name, ": ",
                              ec.message())));
                          return;
                        }
                        StartWrite();
                        if (!writing) {
                          // All written: callers may send directly again
                          // once nothing is posted behind this.
                          std::lock_guard<std::mutex> lock(send_mutex);
                          io_writing = false;
                        }
                      });
  });
}

void Client::Impl::Fail(const absl::Status& status) {
  if (!broken.ok()) return;
  broken = status;
  std::unordered_map<uint64_t, std::shared_ptr<ResponsePromise>> failed;
  {
    // Closed under the lock, so no direct send can use the descriptor
    // after (or while) it is closed and perhaps reused.
    std::lock_guard<std::mutex> lock(send_mutex);
    direct_closed = true;
    failed.swap(pending);
    boost::system::error_code ignored;
    Lowest().shutdown(tcp::socket::shutdown_both, ignored);
    Lowest().close(ignored);
  }
  for (auto& [id, reply] : failed) reply->set_value(status);
  for (auto& [id, state] : subscriptions) EndSubscription(*state, status);
  subscriptions.clear();
}

// ------------------------------------------------------------ Client --

Client::Client(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

Client::~Client() { impl_->Close(); }

absl::StatusOr<std::unique_ptr<Client>> Client::Connect(
    const ClientOptions& options) {
  auto impl = std::make_shared<Impl>(options);
  if (absl::Status s = impl->Open(); !s.ok()) {
    impl->Close();
    return s;
  }
  return std::unique_ptr<Client>(new Client(std::move(impl)));
}

std::future<absl::StatusOr<v1::Response>> Client::Call(v1::Request request) {
  auto reply = std::make_shared<ResponsePromise>();
  auto future = reply->get_future();
  impl_->Submit(std::move(request), std::move(reply), nullptr);
  return future;
}

absl::StatusOr<v1::Response> Client::CallAndWait(v1::Request request) {
  return Await(Call(std::move(request)));
}

absl::StatusOr<v1::Response> Client::Await(
    std::future<absl::StatusOr<v1::Response>> future,
    std::chrono::milliseconds timeout) {
  if (timeout.count() == 0) timeout = impl_->options.request_timeout;
  if (!protocol::WaitWithBusyPoll(future, impl_->options.busy_poll, timeout)) {
    return absl::DeadlineExceededError(absl::StrCat("cairnd at ", impl_->name,
                                                    " did not answer within ",
                                                    timeout.count(), " ms"));
  }
  ResponseOr response = future.get();
  if (!response.ok()) return response.status();
  if (response->has_error()) return protocol::ErrorToStatus(response->error());
  return response;
}

const v1::HelloResponse& Client::hello() const { return impl_->hello; }

absl::StatusOr<v1::BackupBeginResponse> Client::BackupBegin(
    uint64_t after_position, uint64_t at_position) {
  if (impl_->hello.protocol_minor() < 1) {
    return absl::UnimplementedError(absl::StrCat(
        "cairnd at ", impl_->name, " speaks cairn.v1 minor ",
        impl_->hello.protocol_minor(),
        " and does not answer backups; a backup through the server needs a "
        "cairnd of protocol minor 1 or later (or run 'cairn backup --data' "
        "with that server stopped)"));
  }
  v1::Request request;
  request.mutable_backup_begin()->set_after_position(after_position);
  request.mutable_backup_begin()->set_at_position(at_position);
  auto response = CallAndWait(std::move(request));
  if (!response.ok()) return response.status();
  if (!response->has_backup_begin()) {
    return absl::DataLossError(absl::StrCat(
        "cairnd at ", impl_->name, " answered backup_begin without its body"));
  }
  return std::move(*response->mutable_backup_begin());
}

absl::Status Client::NeedMinor(uint32_t minor, const char* what) const {
  if (impl_->hello.protocol_minor() >= minor) return absl::OkStatus();
  return absl::UnimplementedError(absl::StrCat(
      "cairnd at ", impl_->name, " speaks cairn.v1 minor ",
      impl_->hello.protocol_minor(), " and does not answer ", what,
      "; that needs a cairnd of protocol minor ", minor, " or later"));
}

absl::StatusOr<Client::VerifyReport> Client::Verify(
    bool deep, std::chrono::milliseconds timeout) {
  if (absl::Status s = NeedMinor(4, "verify"); !s.ok()) return s;
  v1::Request request;
  request.mutable_verify()->set_deep(deep);
  auto response = Await(Call(std::move(request)), timeout);
  if (!response.ok()) return response.status();
  if (!response->has_verify()) {
    return absl::DataLossError(absl::StrCat(
        "cairnd at ", impl_->name, " answered verify without its body"));
  }
  v1::VerifyResponse& verify = *response->mutable_verify();
  VerifyReport report;
  report.problems.assign(
      std::make_move_iterator(verify.mutable_problems()->begin()),
      std::make_move_iterator(verify.mutable_problems()->end()));
  report.problems_total = verify.problems_total();
  if (verify.has_failure()) {
    absl::Status failure = protocol::ErrorToStatus(verify.failure());
    if (failure.ok()) {
      failure = absl::DataLossError(absl::StrCat(
          "cairnd at ", impl_->name,
          " answered verify with a failure that has no error code"));
    }
    report.checked = std::move(failure);
  } else {
    report.checked = verify.checked();
  }
  return report;
}

absl::StatusOr<uint32_t> Client::RotateKey() {
  if (absl::Status s = NeedMinor(4, "rotate_key"); !s.ok()) return s;
  v1::Request request;
  request.mutable_rotate_key();
  auto response = CallAndWait(std::move(request));
  if (!response.ok()) return response.status();
  if (!response->has_rotate_key()) {
    return absl::DataLossError(absl::StrCat(
        "cairnd at ", impl_->name, " answered rotate_key without its body"));
  }
  return response->rotate_key().key_id();
}

absl::StatusOr<std::vector<std::string>> Client::Maintain(
    std::chrono::milliseconds timeout) {
  if (absl::Status s = NeedMinor(5, "maintain"); !s.ok()) return s;
  v1::Request request;
  request.mutable_maintain();
  auto response = Await(Call(std::move(request)), timeout);
  if (!response.ok()) return response.status();
  if (!response->has_maintain()) {
    return absl::DataLossError(absl::StrCat(
        "cairnd at ", impl_->name, " answered maintain without its body"));
  }
  auto& changes = *response->mutable_maintain()->mutable_changes();
  return std::vector<std::string>(std::make_move_iterator(changes.begin()),
                                  std::make_move_iterator(changes.end()));
}

absl::Status Client::RestoreBegin(uint64_t last_position) {
  if (impl_->hello.protocol_minor() < 1) {
    return absl::UnimplementedError(absl::StrCat(
        "cairnd at ", impl_->name, " speaks cairn.v1 minor ",
        impl_->hello.protocol_minor(),
        " and does not take restores; a restore through the server needs a "
        "cairnd of protocol minor 1 or later"));
  }
  v1::Request request;
  request.mutable_restore_begin()->set_last_position(last_position);
  return CallAndWait(std::move(request)).status();
}

absl::Status Client::ApplyLog(const std::vector<log::v1::LogRecord>& records) {
  v1::Request request;
  for (const log::v1::LogRecord& record : records) {
    *request.mutable_apply_log()->add_records() = record;
  }
  request.mutable_apply_log();
  return CallAndWait(std::move(request)).status();
}

absl::StatusOr<uint64_t> Client::RestoreEnd() {
  v1::Request request;
  request.mutable_restore_end();
  auto response = CallAndWait(std::move(request));
  if (!response.ok()) return response.status();
  return response->restore_end().head_position();
}

absl::Status Client::ReadLog(uint64_t after_position, uint64_t to_position,
                             const LogRecordFn& on_record) {
  auto ask = [this, to_position](uint64_t after) {
    v1::Request request;
    request.mutable_read_log()->set_after_position(after);
    request.mutable_read_log()->set_to_position(to_position);
    return Call(std::move(request));
  };
  if (after_position >= to_position) return absl::OkStatus();
  auto pending = ask(after_position);
  while (true) {
    auto response = Await(std::move(pending));
    if (!response.ok()) return response.status();
    const v1::ReadLogResponse& page = response->read_log();
    if (page.records_size() == 0 && !page.end()) {
      return absl::DataLossError(
          absl::StrCat("cairnd at ", impl_->name,
                       " sent an empty read_log page after ", after_position));
    }
    const bool more = !page.end();
    // The next page is read on the server while this one is handled here.
    if (more) pending = ask(page.next_after_position());
    for (const log::v1::LogRecord& record : page.records()) {
      absl::Status s = on_record(record);
      if (!s.ok()) {
        if (more) (void)Await(std::move(pending));
        return s;
      }
    }
    if (!more) return absl::OkStatus();
    after_position = page.next_after_position();
  }
}

namespace {

v1::Request AppendRequest(std::string_view stream, ExpectedRevision expected,
                          absl::Span<const EventData> events) {
  v1::Request request;
  auto* append = request.mutable_append();
  append->set_stream(std::string(stream));
  protocol::ExpectedToProto(expected, append);
  for (const EventData& event : events) {
    protocol::ToProto(event, append->add_events());
  }
  return request;
}

absl::StatusOr<AppendResult> AppendResultOf(const ResponseOr& response) {
  if (!response.ok()) return response.status();
  if (response->has_error()) return protocol::ErrorToStatus(response->error());
  AppendResult result;
  result.first_revision = response->append().first_revision();
  result.last_revision = response->append().last_revision();
  result.first_position = response->append().first_position();
  result.last_position = response->append().last_position();
  result.epoch = response->append().epoch();
  result.repeated = response->append().repeated();
  return result;
}

}  // namespace

namespace {

// 16 random bytes: an append's idempotency key.
std::string NewIdempotencyKey() {
  thread_local std::mt19937_64 random{std::random_device{}()};
  std::string key(16, '\0');
  for (size_t i = 0; i < key.size(); i += 8) {
    const uint64_t bits = random();
    std::memcpy(key.data() + i, &bits, 8);
  }
  return key;
}

// `status` with `note` added to its message, payloads (the cairn code, a
// NOT_LEADER's leader) kept.
absl::Status WithNote(const absl::Status& status, absl::string_view note) {
  absl::Status out(status.code(), absl::StrCat(status.message(), note));
  status.ForEachPayload([&](absl::string_view url, const absl::Cord& payload) {
    out.SetPayload(url, payload);
  });
  return out;
}

}  // namespace

std::shared_ptr<Client::Impl> Client::Writer() {
  std::lock_guard<std::mutex> lock(writer_mutex_);
  return writer_ != nullptr ? writer_ : impl_;
}

absl::StatusOr<AppendResult> Client::Append(std::string_view stream,
                                            ExpectedRevision expected,
                                            absl::Span<const EventData> events,
                                            std::string_view idempotency_key) {
  v1::Request request = AppendRequest(stream, expected, events);
  // AppendRequest.idempotency_key: at most 64 bytes.
  constexpr size_t kMaxKey = 64;
  if (idempotency_key.size() > kMaxKey) {
    return absl::InvalidArgumentError(
        absl::StrCat("append: the idempotency key is ", idempotency_key.size(),
                     " bytes; at most ", kMaxKey));
  }
  request.mutable_append()->set_idempotency_key(
      idempotency_key.empty() ? NewIdempotencyKey()
                              : std::string(idempotency_key));
  const ClientOptions& options = impl_->options;
  const auto give_up =
      std::chrono::steady_clock::now() + options.append_retry_budget;
  std::shared_ptr<Impl> target = Writer();
  for (uint32_t attempt = 0;; ++attempt) {
    auto reply = std::make_shared<ResponsePromise>();
    auto future = reply->get_future();
    target->Submit(request, std::move(reply), nullptr);
    if (!protocol::WaitWithBusyPoll(future, options.busy_poll,
                                    options.request_timeout)) {
      return absl::DeadlineExceededError(absl::StrCat(
          "append: cairnd at ", target->name, " did not answer within ",
          options.request_timeout.count(), " ms"));
    }
    ResponseOr response = future.get();
    absl::StatusOr<AppendResult> result = AppendResultOf(response);
    if (result.ok()) return result;
    // Where to retry: the leader NOT_LEADER names, the same server after a
    // lost connection (it may have written the append: the key tells), or
    // the same server once an election may have ended.
    const bool lost_connection = !response.ok();
    std::optional<LeaderInfo> leader = NotLeaderOf(result.status());
    if (!lost_connection && !leader.has_value()) return result;
    if (attempt >= options.max_append_retries ||
        std::chrono::steady_clock::now() >= give_up) {
      return WithNote(result.status(),
                      absl::StrCat(" (gave up after ", attempt,
                                   attempt == 1 ? " retry" : " retries", ")"));
    }
    ClientOptions next = target->options;
    if (leader.has_value() && leader->known && !leader->address.empty()) {
      if (absl::Status parsed =
              ParseServerAddress(leader->address, &next.host, &next.port);
          !parsed.ok()) {
        return WithNote(
            result.status(),
            absl::StrCat("; the leader's address cannot be followed: ",
                         parsed.message()));
      }
      next.server_name.clear();
    } else if (leader.has_value()) {
      // No leader known (an election): a short pause, bounded by the budget.
      const auto pause = std::min<std::chrono::steady_clock::duration>(
          std::chrono::milliseconds(50) * (1u << std::min(attempt, 5u)),
          give_up - std::chrono::steady_clock::now());
      std::this_thread::sleep_for(pause);
    }
    auto fresh = std::make_shared<Impl>(next);
    if (absl::Status opened = fresh->Open(); !opened.ok()) {
      fresh->Close();
      return WithNote(result.status(),
                      absl::StrCat("; retrying at ", fresh->name,
                                   " failed: ", opened.message()));
    }
    {
      std::lock_guard<std::mutex> lock(writer_mutex_);
      writer_ = fresh;
    }
    target = std::move(fresh);
  }
}

std::future<absl::StatusOr<AppendResult>> Client::AppendAsync(
    std::string_view stream, ExpectedRevision expected,
    absl::Span<const EventData> events) {
  v1::Request request = AppendRequest(stream, expected, events);
  request.mutable_append()->set_idempotency_key(NewIdempotencyKey());
  auto response =
      std::make_shared<std::future<ResponseOr>>(Call(std::move(request)));
  return std::async(std::launch::deferred,
                    [response] { return AppendResultOf(response->get()); });
}

absl::Status Client::ReadStream(std::string_view stream,
                                uint64_t from_revision, uint64_t to_revision,
                                uint64_t max_count, const EventFn& on_event) {
  if (to_revision == 0 || from_revision > to_revision) return absl::OkStatus();
  uint64_t next = std::max<uint64_t>(from_revision, 1);
  uint64_t remaining = max_count;
  while (remaining > 0) {
    v1::Request request;
    auto* read = request.mutable_read_stream();
    read->set_stream(std::string(stream));
    read->set_from_revision(next);
    read->set_to_revision(to_revision == kMaxRevision ? 0 : to_revision);
    read->set_max_count(WireCount(remaining));
    auto response = CallAndWait(std::move(request));
    if (!response.ok()) return response.status();
    for (const auto& event : response->read().events()) {
      if (remaining != kMaxRevision) --remaining;
      if (!on_event(protocol::FromProto(event))) return absl::OkStatus();
    }
    if (response->read().end() || response->read().events_size() == 0) break;
    next = response->read().next_revision();
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<RecordedEvent>> Client::ReadStream(
    std::string_view stream, uint64_t from_revision, uint64_t to_revision,
    uint64_t max_count) {
  std::vector<RecordedEvent> events;
  absl::Status s = ReadStream(stream, from_revision, to_revision, max_count,
                              [&events](const RecordedEvent& event) {
                                events.push_back(event);
                                return true;
                              });
  if (!s.ok()) return s;
  return events;
}

absl::Status Client::ReadTag(std::string_view tag, uint64_t after_position,
                             uint64_t max_count, const EventFn& on_event) {
  return ReadPagesByPosition(
      after_position, max_count,
      [&](uint64_t after, int64_t count) {
        v1::Request request;
        auto* read = request.mutable_read_tag();
        read->set_tag(std::string(tag));
        read->set_after_position(after);
        read->set_max_count(count);
        return request;
      },
      on_event);
}

absl::Status Client::ReadAll(uint64_t after_position, uint64_t max_count,
                             const EventFn& on_event) {
  return ReadPagesByPosition(
      after_position, max_count,
      [](uint64_t after, int64_t count) {
        v1::Request request;
        auto* read = request.mutable_read_all();
        read->set_after_position(after);
        read->set_max_count(count);
        return request;
      },
      on_event);
}

absl::Status Client::ReadPagesByPosition(
    uint64_t after_position, uint64_t max_count,
    const std::function<v1::Request(uint64_t, int64_t)>& make_request,
    const EventFn& on_event) {
  uint64_t after = after_position;
  uint64_t remaining = max_count;
  while (remaining > 0) {
    auto response = CallAndWait(make_request(after, WireCount(remaining)));
    if (!response.ok()) return response.status();
    for (const auto& event : response->read().events()) {
      if (remaining != kMaxRevision) --remaining;
      if (!on_event(protocol::FromProto(event))) return absl::OkStatus();
    }
    if (response->read().end() || response->read().events_size() == 0) break;
    after = response->read().next_after_position();
  }
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> Client::HeadRevision(std::string_view stream) {
  v1::Request request;
  request.mutable_head()->set_stream(std::string(stream));
  auto response = CallAndWait(std::move(request));
  if (!response.ok()) return response.status();
  return response->head().head_revision();
}

absl::StatusOr<uint64_t> Client::HeadPosition() {
  v1::Request request;
  request.mutable_head();
  auto response = CallAndWait(std::move(request));
  if (!response.ok()) return response.status();
  return response->head().head_position();
}

absl::Status Client::DeleteTo(std::string_view stream, uint64_t revision) {
  v1::Request request;
  request.mutable_delete_to()->set_stream(std::string(stream));
  request.mutable_delete_to()->set_revision(revision);
  return CallAndWait(std::move(request)).status();
}

absl::Status Client::SaveSnapshot(const Snapshot& snapshot) {
  v1::Request request;
  protocol::ToProto(snapshot,
                    request.mutable_save_snapshot()->mutable_snapshot());
  return CallAndWait(std::move(request)).status();
}

absl::StatusOr<std::optional<Snapshot>> Client::LoadSnapshot(
    std::string_view stream, const SnapshotCriteria& criteria) {
  v1::Request request;
  request.mutable_load_snapshot()->set_stream(std::string(stream));
  protocol::ToProto(criteria,
                    request.mutable_load_snapshot()->mutable_criteria());
  auto response = CallAndWait(std::move(request));
  if (!response.ok()) return response.status();
  if (!response->snapshot().found()) return std::optional<Snapshot>();
  return std::optional<Snapshot>(
      protocol::FromProto(response->snapshot().snapshot()));
}

absl::Status Client::DeleteSnapshot(std::string_view stream,
                                    uint64_t revision) {
  v1::Request request;
  request.mutable_delete_snapshot()->set_stream(std::string(stream));
  request.mutable_delete_snapshot()->set_revision(revision);
  return CallAndWait(std::move(request)).status();
}

absl::Status Client::DeleteSnapshots(std::string_view stream,
                                     const SnapshotCriteria& criteria) {
  v1::Request request;
  request.mutable_delete_snapshots()->set_stream(std::string(stream));
  protocol::ToProto(criteria,
                    request.mutable_delete_snapshots()->mutable_criteria());
  return CallAndWait(std::move(request)).status();
}

absl::StatusOr<std::vector<StreamInfo>> Client::ListStreams(
    uint64_t after_ordinal, uint64_t max_count) {
  std::vector<StreamInfo> streams;
  uint64_t after = after_ordinal;
  uint64_t remaining = max_count;
  while (remaining > 0) {
    v1::Request request;
    request.mutable_list_streams()->set_after_ordinal(after);
    request.mutable_list_streams()->set_max_count(WireCount(remaining));
    auto response = CallAndWait(std::move(request));
    if (!response.ok()) return response.status();
    for (const auto& info : response->streams().streams()) {
      streams.push_back(protocol::FromProto(info));
      if (remaining != kMaxRevision) --remaining;
      if (remaining == 0) break;
    }
    if (response->streams().end() || response->streams().streams_size() == 0) {
      break;
    }
    after = response->streams().next_after_ordinal();
  }
  return streams;
}

absl::Status Client::Flush() {
  v1::Request request;
  request.mutable_flush();
  return CallAndWait(std::move(request)).status();
}

absl::StatusOr<v1::ServerInfoResponse> Client::ServerInfo() {
  v1::Request request;
  request.mutable_server_info();
  auto response = CallAndWait(std::move(request));
  if (!response.ok()) return response.status();
  return response->server_info();
}

absl::Status Client::Promote() {
  v1::Request request;
  request.mutable_promote();
  return CallAndWait(std::move(request)).status();
}

absl::StatusOr<std::map<std::string, double>> Client::Stats() {
  auto info = ServerInfo();
  if (!info.ok()) return info.status();
  return std::map<std::string, double>(info->stats().begin(),
                                       info->stats().end());
}

absl::StatusOr<std::unique_ptr<RemoteSubscription>> Client::Subscribe(
    SubscriptionFilter filter, uint32_t window) {
  if (window == 0) {
    return absl::InvalidArgumentError(
        "subscription window is 0; the server could never send an event");
  }
  auto state = std::make_shared<RemoteSubscription::State>();
  state->window = window;
  state->cursor = filter.after;
  state->by_revision = filter.kind == SubscriptionFilter::Kind::kStream;
  state->client = impl_;
  v1::Request request;
  protocol::FilterToProto(filter, request.mutable_subscribe());
  request.mutable_subscribe()->set_initial_credit(window);
  auto reply = std::make_shared<ResponsePromise>();
  auto future = reply->get_future();
  impl_->Submit(std::move(request), reply, state);
  if (!protocol::WaitWithBusyPoll(future, impl_->options.busy_poll,
                                   impl_->options.request_timeout)) {
    return absl::DeadlineExceededError(absl::StrCat(
        "subscribe: cairnd at ", impl_->name, " did not answer"));
  }
  ResponseOr response = future.get();
  if (!response.ok()) return response.status();
  if (response->has_error()) return protocol::ErrorToStatus(response->error());
  return std::unique_ptr<RemoteSubscription>(
      new RemoteSubscription(std::move(state), std::move(filter)));
}

// -------------------------------------------------- RemoteSubscription --

RemoteSubscription::RemoteSubscription(std::shared_ptr<State> state,
                                       SubscriptionFilter filter)
    : state_(std::move(state)), filter_(std::move(filter)) {}

RemoteSubscription::~RemoteSubscription() { Cancel(); }

uint64_t RemoteSubscription::cursor() const {
  std::lock_guard<std::mutex> lock(state_->mutex);
  return state_->cursor;
}

absl::StatusOr<std::vector<RecordedEvent>> RemoteSubscription::Next(
    size_t max, std::chrono::milliseconds timeout) {
  std::vector<RecordedEvent> events;
  uint64_t grant = 0;
  {
    std::unique_lock<std::mutex> lock(state_->mutex);
    state_->changed.wait_for(lock, timeout, [this] {
      return !state_->queue.empty() || state_->ended || state_->cancelled;
    });
    if (state_->queue.empty()) {
      if (state_->ended && !state_->error.ok()) return state_->error;
      return events;
    }
    while (!state_->queue.empty() && events.size() < max) {
      events.push_back(std::move(state_->queue.front()));
      state_->queue.pop_front();
    }
    state_->cursor = state_->by_revision ? events.back().revision
                                         : events.back().position;
    state_->consumed += events.size();
    // Grant back in halves of the window, not per event.
    if (!state_->ended && state_->consumed * 2 >= state_->window) {
      grant = state_->consumed;
      state_->consumed = 0;
    }
  }
  if (grant > 0) {
    if (auto client = state_->client.lock()) {
      v1::Request request;
      request.mutable_credit()->set_subscription_id(state_->id);
      request.mutable_credit()->set_credit(grant);
      client->Submit(std::move(request), nullptr, nullptr);
    }
  }
  return events;
}

void RemoteSubscription::Cancel() {
  {
    std::lock_guard<std::mutex> lock(state_->mutex);
    if (state_->cancelled) return;
    state_->cancelled = true;
    state_->changed.notify_all();
    if (state_->ended) return;
  }
  if (auto client = state_->client.lock()) {
    v1::Request request;
    request.mutable_cancel()->set_subscription_id(state_->id);
    client->Submit(std::move(request), nullptr, nullptr);
  }
}

}  // namespace cairn
