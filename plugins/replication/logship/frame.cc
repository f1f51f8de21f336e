#include "frame.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <cerrno>
#include <future>
#include <optional>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "tls_context.h"

namespace cairn::logship {

namespace asio = boost::asio;

absl::StatusOr<std::string> EncodeFrame(const v1::Frame& frame,
                                        uint64_t max_frame_size) {
  const size_t body = frame.ByteSizeLong();
  if (body > max_frame_size || body > UINT32_MAX) {
    return absl::ResourceExhaustedError(
        absl::StrCat("a ", FrameName(frame), " frame of ", body,
                     " bytes exceeds max-frame-size ", max_frame_size));
  }
  std::string out(kFrameHeaderBytes + body, '\0');
  out[0] = static_cast<char>((body >> 24) & 0xff);
  out[1] = static_cast<char>((body >> 16) & 0xff);
  out[2] = static_cast<char>((body >> 8) & 0xff);
  out[3] = static_cast<char>(body & 0xff);
  if (!frame.SerializeToArray(out.data() + kFrameHeaderBytes,
                              static_cast<int>(body))) {
    return absl::InternalError(
        absl::StrCat("could not serialize a ", FrameName(frame), " frame"));
  }
  return out;
}

absl::StatusOr<uint32_t> DecodeFrameLength(const uint8_t header[4],
                                           uint64_t max_frame_size) {
  const uint32_t length = (uint32_t{header[0]} << 24) |
                          (uint32_t{header[1]} << 16) |
                          (uint32_t{header[2]} << 8) | uint32_t{header[3]};
  if (length == 0) {
    return absl::InvalidArgumentError(
        "frame header announces an empty frame (length 0)");
  }
  if (length > max_frame_size) {
    return absl::InvalidArgumentError(
        absl::StrCat("frame header announces ", length,
                     " bytes, above max-frame-size ", max_frame_size));
  }
  return length;
}

absl::StatusOr<v1::Frame> DecodeFrameBody(std::string_view body) {
  v1::Frame frame;
  if (!frame.ParseFromArray(body.data(), static_cast<int>(body.size()))) {
    return absl::InvalidArgumentError(absl::StrCat(
        "a frame of ", body.size(), " bytes is not a cairn.logship.v1.Frame"));
  }
  if (frame.body_case() == v1::Frame::BODY_NOT_SET) {
    return absl::InvalidArgumentError(absl::StrCat(
        "a frame of ", body.size(), " bytes carries no known message"));
  }
  return frame;
}

const char* FrameName(const v1::Frame& frame) {
  switch (frame.body_case()) {
    case v1::Frame::kHello:
      return "hello";
    case v1::Frame::kStart:
      return "start";
    case v1::Frame::kRecords:
      return "records";
    case v1::Frame::kAck:
      return "ack";
    case v1::Frame::kRefusal:
      return "refusal";
    case v1::Frame::kPositionQuery:
      return "position query";
    case v1::Frame::BODY_NOT_SET:
      break;
  }
  return "empty";
}

absl::Status ConnectWithin(asio::ip::tcp::socket& socket,
                           const std::string& host, uint16_t port,
                           std::chrono::milliseconds timeout,
                           const std::function<bool()>& cancelled,
                           const std::string& peer_name) {
  using Clock = std::chrono::steady_clock;
  auto failed = [&](const std::string& why) {
    boost::system::error_code ignored;
    socket.close(ignored);
    return absl::UnavailableError(
        absl::StrCat("cannot connect to ", peer_name, ": ", why));
  };
  boost::system::error_code error;
  asio::ip::tcp::resolver resolver(socket.get_executor());
  const auto endpoints = resolver.resolve(host, std::to_string(port), error);
  if (error) return failed("cannot resolve: " + error.message());
  std::string why = "no address";
  bool timed_out = false;
  for (const auto& entry : endpoints) {
    const asio::ip::tcp::endpoint endpoint = entry.endpoint();
    boost::system::error_code ignored;
    socket.close(ignored);
    socket.open(endpoint.protocol(), error);
    if (error) {
      why = error.message();
      continue;
    }
    // Asio's own connect polls without a bound even on a non-blocking
    // socket: connect on the descriptor and poll here.
    socket.non_blocking(true, error);
    if (!error && ::connect(socket.native_handle(), endpoint.data(),
                            static_cast<socklen_t>(endpoint.size())) != 0) {
      error =
          boost::system::error_code(errno, boost::system::system_category());
    }
    if (error == asio::error::in_progress ||
        error == asio::error::would_block) {
      const Clock::time_point deadline = Clock::now() + timeout;
      error = asio::error::timed_out;
      while (Clock::now() < deadline && !cancelled()) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - Clock::now());
        pollfd fd{socket.native_handle(), POLLOUT, 0};
        const int ready = ::poll(
            &fd, 1, static_cast<int>(std::clamp<int64_t>(left.count(), 1, 50)));
        if (ready < 0 && errno != EINTR) {
          error = boost::system::error_code(errno,
                                            boost::system::system_category());
          break;
        }
        if (ready > 0) {
          int so_error = 0;
          socklen_t length = sizeof so_error;
          ::getsockopt(socket.native_handle(), SOL_SOCKET, SO_ERROR, &so_error,
                       &length);
          error = so_error == 0
                      ? boost::system::error_code()
                      : boost::system::error_code(
                            so_error, boost::system::system_category());
          break;
        }
      }
      if (error == asio::error::timed_out && cancelled()) {
        return failed("closing");
      }
      if (error == asio::error::timed_out) {
        why = absl::StrCat("no answer within ", timeout.count(), "ms");
        timed_out = true;
        continue;
      }
    }
    if (error) {
      why = error.message();
      continue;
    }
    socket.non_blocking(false, error);
    if (error) return failed(error.message());
    return absl::OkStatus();
  }
  absl::Status status = failed(why);
  if (timed_out) return absl::DeadlineExceededError(status.message());
  return status;
}

namespace {
int64_t NowNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Marks `since` for the life of a blocking call: the time the peer last
// moved a byte of it.
class Waiting {
 public:
  explicit Waiting(std::atomic<int64_t>& since) : since_(since) {
    since_.store(NowNanos());
  }
  ~Waiting() { since_.store(0); }
  // Bytes moved: the wait starts again.
  void Progress() { since_.store(NowNanos()); }
  Waiting(const Waiting&) = delete;
  Waiting& operator=(const Waiting&) = delete;

 private:
  std::atomic<int64_t>& since_;
};
}  // namespace

// A TLS connection's stream and the I/O thread that runs its operations.
struct Connection::Tls {
  asio::io_context io{1};
  asio::executor_work_guard<asio::io_context::executor_type> work{
      io.get_executor()};
  std::optional<asio::ssl::stream<asio::ip::tcp::socket>> stream;
  std::thread runner;

  ~Tls() {
    // Only once no Read or Write waits (the connection is being destroyed).
    work.reset();
    io.stop();
    if (runner.joinable()) runner.join();
  }

  // Runs `start(handler)` on the I/O thread and waits for the handler.
  template <typename Start>
  size_t Run(Start start, boost::system::error_code& error) {
    std::promise<std::pair<boost::system::error_code, size_t>> done;
    std::future<std::pair<boost::system::error_code, size_t>> result =
        done.get_future();
    asio::post(io, [&start, &done] {
      start([&done](const boost::system::error_code& e, size_t n) {
        done.set_value({e, n});
      });
    });
    auto [e, n] = result.get();
    error = e;
    return n;
  }
};

Connection::Connection(asio::ip::tcp::socket socket, uint64_t max_frame_size,
                       std::string peer_name)
    : socket_(std::move(socket)),
      fd_(socket_.native_handle()),
      max_frame_size_(max_frame_size),
      peer_name_(std::move(peer_name)) {
  boost::system::error_code ignored;
  socket_.set_option(asio::ip::tcp::no_delay(true), ignored);
}

Connection::~Connection() {
  tls_.reset();  // joins its I/O thread, then closes the socket
  boost::system::error_code ignored;
  socket_.close(ignored);
}

void Connection::Shutdown() {
  // ::shutdown on the descriptor wakes a read or write blocked on another
  // thread (or an asynchronous one on the TLS I/O thread); closing the Asio
  // socket there would race with it.
  ::shutdown(fd_, SHUT_RDWR);
}

namespace {
// What failed in a TLS handshake, as OpenSSL says it: the certificate
// verification result when there is one, else the error's message.
std::string HandshakeFailure(SSL* ssl, const boost::system::error_code& e) {
  std::string verify = CertificateVerifyFailure(ssl);
  if (!verify.empty()) return verify;
  std::string message = e.message();
  if (e == asio::ssl::error::stream_truncated || e == asio::error::eof) {
    message =
        "the peer closed the connection (does it speak TLS, and does "
        "it accept this node's certificate?)";
  } else if (e.category() == asio::error::get_ssl_category() &&
             ERR_GET_REASON(static_cast<unsigned long>(e.value())) ==
                 SSL_R_WRONG_VERSION_NUMBER) {
    message += " (the peer does not speak TLS: is option 'tls' on there?)";
  }
  return message;
}
}  // namespace

absl::Status Connection::StartTls(asio::ssl::context& context, bool client,
                                  const std::string& verify_host) {
  auto tls = std::make_unique<Tls>();
  boost::system::error_code error;
  const asio::ip::tcp protocol = socket_.local_endpoint(error).protocol();
  asio::ip::tcp::socket moved(tls->io);
  if (!error) {
    const int fd = socket_.release(error);
    if (!error) moved.assign(protocol, fd, error);
  }
  if (error) {
    return Broken(absl::StrCat("connection to ", peer_name_,
                               ": cannot start TLS: ", error.message()));
  }
  tls->stream.emplace(std::move(moved), context);
  SSL* ssl = tls->stream->native_handle();
  if (client) {
    boost::system::error_code not_ip;
    asio::ip::make_address(verify_host, not_ip);
    // Server name indication for a name (never for an address literal).
    if (not_ip) SSL_set_tlsext_host_name(ssl, verify_host.c_str());
    tls->stream->set_verify_callback(
        asio::ssl::host_name_verification(verify_host));
  }
  Tls* raw = tls.get();
  tls->runner = std::thread([raw] { raw->io.run(); });
  tls_ = std::move(tls);
  {
    Waiting waiting(read_since_);
    tls_->Run(
        [raw, client](auto handler) {
          raw->stream->async_handshake(
              client ? asio::ssl::stream_base::client
                     : asio::ssl::stream_base::server,
              [handler](const boost::system::error_code& e) { handler(e, 0); });
        },
        error);
  }
  if (!error) return absl::OkStatus();
  Shutdown();
  absl::Status broken =
      Broken(absl::StrCat("TLS handshake with ", peer_name_,
                          " failed: ", HandshakeFailure(ssl, error)));
  if (error.category() == asio::error::get_ssl_category() ||
      !CertificateVerifyFailure(ssl).empty()) {
    return absl::UnauthenticatedError(broken.message());
  }
  return broken;
}

bool Connection::PeerCertificateNames(const std::string& host) const {
  if (tls_ == nullptr) return false;
  X509* cert = SSL_get1_peer_certificate(tls_->stream->native_handle());
  if (cert == nullptr) return false;
  boost::system::error_code not_ip;
  asio::ip::make_address(host, not_ip);
  const bool names =
      not_ip ? X509_check_host(cert, host.data(), host.size(), 0, nullptr) == 1
             : X509_check_ip_asc(cert, host.c_str(), 0) == 1;
  X509_free(cert);
  return names;
}

size_t Connection::ReadSome(asio::mutable_buffer buffer,
                            boost::system::error_code& error) {
  if (tls_ == nullptr) return socket_.read_some(buffer, error);
  Tls* tls = tls_.get();
  return tls_->Run(
      [tls, buffer](auto handler) {
        tls->stream->async_read_some(buffer, handler);
      },
      error);
}

size_t Connection::WriteSome(asio::const_buffer buffer,
                             boost::system::error_code& error) {
  if (tls_ == nullptr) return socket_.write_some(buffer, error);
  Tls* tls = tls_.get();
  return tls_->Run(
      [tls, buffer](auto handler) {
        tls->stream->async_write_some(buffer, handler);
      },
      error);
}

std::chrono::milliseconds Connection::StalledFor() const {
  int64_t oldest = 0;
  for (int64_t since : {read_since_.load(), write_since_.load()}) {
    if (since != 0 && (oldest == 0 || since < oldest)) oldest = since;
  }
  if (oldest == 0) return std::chrono::milliseconds(0);
  return std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::nanoseconds(NowNanos() - oldest));
}

bool Connection::Expire(const std::string& why) {
  {
    std::lock_guard<std::mutex> lock(expired_mutex_);
    if (!expired_.empty()) return false;
    expired_ = why;
  }
  Shutdown();
  return true;
}

absl::Status Connection::Broken(std::string what) {
  std::lock_guard<std::mutex> lock(expired_mutex_);
  return absl::UnavailableError(expired_.empty() ? std::move(what) : expired_);
}

absl::Status Connection::WriteRaw(std::string_view bytes) {
  std::lock_guard<std::mutex> lock(write_mutex_);
  boost::system::error_code error;
  {
    Waiting waiting(write_since_);
    size_t sent = 0;
    while (sent < bytes.size() && !error) {
      sent += WriteSome(asio::buffer(bytes.data() + sent, bytes.size() - sent),
                        error);
      waiting.Progress();
    }
  }
  if (error) {
    return Broken(absl::StrCat("connection to ", peer_name_,
                               " broke while sending: ", error.message()));
  }
  return absl::OkStatus();
}

absl::Status Connection::Write(const v1::Frame& frame) {
  absl::StatusOr<std::string> bytes = EncodeFrame(frame, max_frame_size_);
  if (!bytes.ok()) return bytes.status();
  return WriteRaw(*bytes);
}

absl::StatusOr<v1::Frame> Connection::Read() {
  uint8_t header[kFrameHeaderBytes];
  boost::system::error_code error;
  Waiting waiting(read_since_);
  for (size_t got = 0; got < sizeof(header) && !error;) {
    got += ReadSome(asio::buffer(header + got, sizeof(header) - got), error);
  }
  if (error) {
    return Broken(absl::StrCat("connection to ", peer_name_,
                               error == asio::error::eof
                                   ? " closed by the peer"
                                   : " broke: " + error.message()));
  }
  absl::StatusOr<uint32_t> length = DecodeFrameLength(header, max_frame_size_);
  if (!length.ok()) {
    Shutdown();
    return absl::InvalidArgumentError(absl::StrCat("from ", peer_name_, ": ",
                                                   length.status().message(),
                                                   "; connection closed"));
  }
  std::string body(*length, '\0');
  waiting.Progress();
  size_t received = 0;
  while (received < body.size() && !error) {
    received += ReadSome(
        asio::buffer(body.data() + received, body.size() - received), error);
    waiting.Progress();
  }
  if (error) {
    return Broken(absl::StrCat("connection to ", peer_name_,
                               " broke inside a frame of ", *length,
                               " bytes: ", error.message()));
  }
  absl::StatusOr<v1::Frame> frame = DecodeFrameBody(body);
  if (!frame.ok()) {
    Shutdown();
    return absl::InvalidArgumentError(absl::StrCat("from ", peer_name_, ": ",
                                                   frame.status().message(),
                                                   "; connection closed"));
  }
  return frame;
}

}  // namespace cairn::logship
