#include "frame.h"

#include <sys/socket.h>

#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

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

absl::Status Connection::WriteRaw(std::string_view bytes) {
  std::lock_guard<std::mutex> lock(write_mutex_);
  boost::system::error_code error;
  asio::write(socket_, asio::buffer(bytes.data(), bytes.size()), error);
  if (error) {
    return absl::UnavailableError(
        absl::StrCat("connection to ", peer_name_,
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
  asio::read(socket_, asio::buffer(header, sizeof(header)), error);
  if (error) {
    return absl::UnavailableError(
        absl::StrCat("connection to ", peer_name_,
                     error == asio::error::eof ? " closed by the peer"
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
  asio::read(socket_, asio::buffer(body.data(), body.size()), error);
  if (error) {
    return absl::UnavailableError(
        absl::StrCat("connection to ", peer_name_, " broke inside a frame of ",
                     *length, " bytes: ", error.message()));
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
