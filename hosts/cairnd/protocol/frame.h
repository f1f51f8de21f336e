// Framing of the cairnd protocol: a 4-byte big-endian length N, then N bytes
// of one protobuf message (cairn.v1.Request from a client, cairn.v1.Response
// from the server). Shared by the server, the client library and the fuzzer.
#ifndef CAIRN_HOSTS_CAIRND_PROTOCOL_FRAME_H_
#define CAIRN_HOSTS_CAIRND_PROTOCOL_FRAME_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "google/protobuf/message_lite.h"

namespace cairn::protocol {

inline constexpr size_t kFrameHeaderBytes = 4;
inline constexpr uint32_t kDefaultMaxFrame = 4u << 20;  // 4 MiB

// Appends the frame for `message` (header and body) to `out`.
void AppendFrame(const google::protobuf::MessageLite& message,
                 std::string* out);

// Splits a byte stream into frame payloads. Feed it bytes as they arrive,
// then call Next until it stops returning kFrame. Memory stays within
// max_frame + kFrameHeaderBytes + the largest single Append. Not thread-safe.
class FrameDecoder {
 public:
  enum class Result {
    kFrame,     // *payload holds one frame's body
    kNeedMore,  // no complete frame buffered yet
    kError,     // the stream is unusable; *error says why; stays in error
  };

  explicit FrameDecoder(uint32_t max_frame = kDefaultMaxFrame)
      : max_frame_(max_frame) {}

  void Append(const char* bytes, size_t size);

  // On kFrame, *payload stays valid until the next Append or Next.
  // A zero length or one above max_frame is kError (a zero-length frame
  // cannot hold a request; an oversize one is refused before its body is
  // read, so a hostile prefix never makes the decoder buffer it).
  Result Next(std::string_view* payload, std::string* error);

  // Bytes received but not yet returned as frames.
  size_t buffered() const { return buffer_.size() - start_; }
  // The length prefix that caused the last kError for an oversize frame, or 0.
  uint64_t oversize_length() const { return oversize_length_; }
  uint32_t max_frame() const { return max_frame_; }

 private:
  uint32_t max_frame_;
  std::string buffer_;
  size_t start_ = 0;
  bool failed_ = false;
  std::string failure_;
  uint64_t oversize_length_ = 0;
};

}  // namespace cairn::protocol

#endif  // CAIRN_HOSTS_CAIRND_PROTOCOL_FRAME_H_
