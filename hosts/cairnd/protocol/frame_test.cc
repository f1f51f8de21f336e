#include "protocol/frame.h"

#include <gtest/gtest.h>

#include <string>

#include "cairn/v1/client.pb.h"

namespace cairn::protocol {
namespace {

std::string Frame(const v1::Request& request) {
  std::string out;
  AppendFrame(request, &out);
  return out;
}

TEST(FrameDecoder, SplitsFramesArrivingOneByteAtATime) {
  v1::Request a;
  a.set_request_id(1);
  a.mutable_head()->set_stream("orders-1");
  v1::Request b;
  b.set_request_id(2);
  b.mutable_flush();
  const std::string bytes = Frame(a) + Frame(b);
  FrameDecoder decoder(1024);
  std::vector<uint64_t> ids;
  for (char c : bytes) {
    decoder.Append(&c, 1);
    std::string_view payload;
    std::string error;
    while (decoder.Next(&payload, &error) == FrameDecoder::Result::kFrame) {
      v1::Request parsed;
      ASSERT_TRUE(parsed.ParseFromArray(payload.data(), payload.size()));
      ids.push_back(parsed.request_id());
    }
  }
  EXPECT_EQ(ids, (std::vector<uint64_t>{1, 2}));
  EXPECT_EQ(decoder.buffered(), 0u);
}

TEST(FrameDecoder, LengthPrefixIsFourBytesBigEndian) {
  v1::Request request;
  request.set_request_id(300);
  const std::string frame = Frame(request);
  const size_t body = request.ByteSizeLong();
  ASSERT_EQ(frame.size(), 4 + body);
  EXPECT_EQ(static_cast<unsigned char>(frame[0]), 0);
  EXPECT_EQ(static_cast<unsigned char>(frame[1]), 0);
  EXPECT_EQ(static_cast<unsigned char>(frame[2]), 0);
  EXPECT_EQ(static_cast<unsigned char>(frame[3]), body);
}

TEST(FrameDecoder, OversizePrefixIsRefusedBeforeTheBodyArrives) {
  FrameDecoder decoder(1024);
  const char header[4] = {0x7f, 0x00, 0x00, 0x00};
  decoder.Append(header, 4);
  std::string_view payload;
  std::string error;
  EXPECT_EQ(decoder.Next(&payload, &error), FrameDecoder::Result::kError);
  EXPECT_NE(error.find("exceeds the server's max-frame of 1024"),
            std::string::npos)
      << error;
  EXPECT_EQ(decoder.oversize_length(), 0x7f000000u);
  // Stays failed: later bytes are not taken as frames.
  decoder.Append("abcd", 4);
  EXPECT_EQ(decoder.Next(&payload, &error), FrameDecoder::Result::kError);
}

TEST(FrameDecoder, ZeroLengthFrameIsAnError) {
  FrameDecoder decoder(1024);
  const char header[4] = {0, 0, 0, 0};
  decoder.Append(header, 4);
  std::string_view payload;
  std::string error;
  EXPECT_EQ(decoder.Next(&payload, &error), FrameDecoder::Result::kError);
  EXPECT_NE(error.find("length prefix is 0"), std::string::npos) << error;
}

TEST(FrameDecoder, TruncatedFrameWaitsForMore) {
  v1::Request request;
  request.mutable_append()->set_stream("s");
  const std::string frame = Frame(request);
  FrameDecoder decoder(1024);
  decoder.Append(frame.data(), frame.size() - 1);
  std::string_view payload;
  std::string error;
  EXPECT_EQ(decoder.Next(&payload, &error), FrameDecoder::Result::kNeedMore);
  decoder.Append(frame.data() + frame.size() - 1, 1);
  EXPECT_EQ(decoder.Next(&payload, &error), FrameDecoder::Result::kFrame);
}

}  // namespace
}  // namespace cairn::protocol
