// Frames on a logship connection: a 4-byte big-endian length, then that many
// bytes of one serialized cairn.logship.v1.Frame
// (schemas/cairn/logship/v1/logship.proto).
#ifndef CAIRN_LOGSHIP_FRAME_H_
#define CAIRN_LOGSHIP_FRAME_H_

#include <boost/asio/ip/tcp.hpp>

#include <cstdint>
#include <mutex>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "cairn/logship/v1/logship.pb.h"

namespace cairn::logship {

inline constexpr size_t kFrameHeaderBytes = 4;

// The 4-byte header followed by `frame`. ResourceExhausted if the frame is
// larger than max_frame_size.
absl::StatusOr<std::string> EncodeFrame(const v1::Frame& frame,
                                        uint64_t max_frame_size);

// The body length a header announces. InvalidArgument naming both sizes if
// it is 0 or above max_frame_size.
absl::StatusOr<uint32_t> DecodeFrameLength(const uint8_t header[4],
                                           uint64_t max_frame_size);

// The frame a body holds. InvalidArgument if it does not parse or carries no
// body (an empty oneof).
absl::StatusOr<v1::Frame> DecodeFrameBody(std::string_view body);

// A name for a frame's body, for messages ("hello", "records", ...).
const char* FrameName(const v1::Frame& frame);

// One TCP connection carrying frames. Write and Read may run on two
// threads at once (one each); Shutdown may be called from any thread and
// makes a blocked Read or Write return. Exceptions from Asio stay inside.
class Connection {
 public:
  Connection(boost::asio::ip::tcp::socket socket, uint64_t max_frame_size,
             std::string peer_name);
  ~Connection();

  // Sends one frame. Unavailable (naming the peer) if the connection broke.
  absl::Status Write(const v1::Frame& frame);
  // Receives one frame. Unavailable if the peer closed or the connection
  // broke; InvalidArgument (naming the peer and what was wrong) for an
  // oversized or malformed frame, after which the connection is shut down.
  absl::StatusOr<v1::Frame> Read();
  // Sends raw bytes as they are (tests of the receiver's checks).
  absl::Status WriteRaw(std::string_view bytes);
  void Shutdown();

  const std::string& peer_name() const { return peer_name_; }

 private:
  boost::asio::ip::tcp::socket socket_;
  const uint64_t max_frame_size_;
  const std::string peer_name_;
  std::mutex write_mutex_;
};

}  // namespace cairn::logship

#endif  // CAIRN_LOGSHIP_FRAME_H_
