#include "protocol/frame.h"

#include <cstring>

#include "absl/strings/str_cat.h"

namespace cairn::protocol {

void AppendFrame(const google::protobuf::MessageLite& message,
                 std::string* out) {
  const size_t size = message.ByteSizeLong();
  const size_t offset = out->size();
  out->resize(offset + kFrameHeaderBytes + size);
  auto* header = reinterpret_cast<unsigned char*>(out->data() + offset);
  header[0] = static_cast<unsigned char>(size >> 24);
  header[1] = static_cast<unsigned char>(size >> 16);
  header[2] = static_cast<unsigned char>(size >> 8);
  header[3] = static_cast<unsigned char>(size);
  message.SerializeWithCachedSizesToArray(
      reinterpret_cast<uint8_t*>(header + kFrameHeaderBytes));
}

void FrameDecoder::Append(const char* bytes, size_t size) {
  if (failed_ || size == 0) return;
  // Drop consumed bytes before growing, so the buffer never holds more than
  // one partial frame plus this chunk.
  if (start_ > 0 && (start_ == buffer_.size() || start_ >= buffer_.size() / 2)) {
    buffer_.erase(0, start_);
    start_ = 0;
  }
  buffer_.append(bytes, size);
}

FrameDecoder::Result FrameDecoder::Next(std::string_view* payload,
                                        std::string* error) {
  if (failed_) {
    *error = failure_;
    return Result::kError;
  }
  if (buffered() < kFrameHeaderBytes) return Result::kNeedMore;
  const auto* header =
      reinterpret_cast<const unsigned char*>(buffer_.data() + start_);
  const uint32_t length = (uint32_t{header[0]} << 24) |
                          (uint32_t{header[1]} << 16) |
                          (uint32_t{header[2]} << 8) | uint32_t{header[3]};
  if (length == 0) {
    failed_ = true;
    failure_ =
        "frame length prefix is 0; a frame is a 4-byte big-endian length "
        "N (1..max-frame) followed by N bytes of one protobuf message";
  } else if (length > max_frame_) {
    failed_ = true;
    oversize_length_ = length;
    failure_ = absl::StrCat("frame length prefix ", length,
                            " exceeds the server's max-frame of ", max_frame_,
                            " bytes; split the batch or raise [limits] "
                            "max-frame");
  }
  if (failed_) {
    buffer_.clear();
    start_ = 0;
    *error = failure_;
    return Result::kError;
  }
  if (buffered() < kFrameHeaderBytes + length) return Result::kNeedMore;
  *payload = std::string_view(buffer_.data() + start_ + kFrameHeaderBytes,
                              length);
  start_ += kFrameHeaderBytes + length;
  return Result::kFrame;
}

}  // namespace cairn::protocol
