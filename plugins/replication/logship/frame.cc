#include "frame.h"

#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <cerrno>

#include "absl/strings/str_cat.h"

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

Connection::Connection(asio::ip::tcp::socket socket, uint64_t max_frame_size,
                       std::string peer_name)
    : socket_(std::move(socket)),
      max_frame_size_(max_frame_size),
      peer_name_(std::move(peer_name)) {
  boost::system::error_code ignored;
  socket_.set_option(asio::ip::tcp::no_delay(true), ignored);
}

Connection::~Connection() {
  boost::system::error_code ignored;
  socket_.close(ignored);
}

void Connection::Shutdown() {
  // ::shutdown on the descriptor wakes a read or write blocked on another
  // thread; closing the Asio socket there would race with it.
  ::shutdown(socket_.native_handle(), SHUT_RDWR);
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
      sent += socket_.write_some(
          asio::buffer(bytes.data() + sent, bytes.size() - sent), error);
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
  asio::read(socket_, asio::buffer(header, sizeof(header)), error);
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
    received += socket_.read_some(
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
