// Frames over a real loopback connection: what the receiver accepts and how
// it refuses what it must not (each refusal closes the connection).
#include "frame.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/read.hpp>

#include <memory>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cairn::logship {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using ::testing::HasSubstr;

constexpr uint64_t kMaxFrame = 64 * 1024;

class FrameTest : public ::testing::Test {
 protected:
  void SetUp() override {
    tcp::acceptor acceptor(
        io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    tcp::socket client(io_);
    client.connect(acceptor.local_endpoint());
    tcp::socket server(io_);
    acceptor.accept(server);
    receiver_ = std::make_unique<Connection>(std::move(server), kMaxFrame,
                                             "test sender");
    sender_ = std::make_unique<Connection>(std::move(client), kMaxFrame,
                                           "test receiver");
  }

  // True once the receiver closed its side: the sender reads end-of-file.
  bool SenderSeesClose() {
    absl::StatusOr<v1::Frame> f = sender_->Read();
    return !f.ok() && absl::IsUnavailable(f.status());
  }

  asio::io_context io_;
  std::unique_ptr<Connection> receiver_;
  std::unique_ptr<Connection> sender_;
};

TEST_F(FrameTest, HelloRoundTrips) {
  v1::Frame frame;
  frame.mutable_hello()->set_node_id("b");
  frame.mutable_hello()->set_epoch(3);
  frame.mutable_hello()->set_written(99);
  ASSERT_TRUE(sender_->Write(frame).ok());
  absl::StatusOr<v1::Frame> got = receiver_->Read();
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_TRUE(got->has_hello());
  EXPECT_EQ(got->hello().node_id(), "b");
  EXPECT_EQ(got->hello().written(), 99u);
}

TEST_F(FrameTest, OversizedLengthIsRefusedAndClosesTheConnection) {
  ASSERT_TRUE(sender_->WriteRaw(std::string("\x7f\xff\xff\xff", 4)).ok());
  absl::StatusOr<v1::Frame> got = receiver_->Read();
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(got.status().message(), HasSubstr("above max-frame-size 65536"));
  EXPECT_THAT(got.status().message(), HasSubstr("test sender"));
  EXPECT_TRUE(SenderSeesClose());
}

TEST_F(FrameTest, ZeroLengthIsRefused) {
  ASSERT_TRUE(sender_->WriteRaw(std::string(4, '\0')).ok());
  absl::StatusOr<v1::Frame> got = receiver_->Read();
  ASSERT_FALSE(got.ok());
  EXPECT_THAT(got.status().message(), HasSubstr("empty frame"));
  EXPECT_TRUE(SenderSeesClose());
}

TEST_F(FrameTest, BytesThatAreNotAFrameAreRefused) {
  // Field 1 (hello) as a length-delimited of 200 bytes, but only 3 follow.
  ASSERT_TRUE(
      sender_->WriteRaw(std::string("\0\0\0\x05\x0a\xc8\x01zz", 9)).ok());
  absl::StatusOr<v1::Frame> got = receiver_->Read();
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(got.status().message(),
              HasSubstr("is not a cairn.logship.v1.Frame"));
  EXPECT_TRUE(SenderSeesClose());
}

TEST_F(FrameTest, FrameWithNoKnownMessageIsRefused) {
  // Only an unknown field (15, varint 1): parses, but carries nothing.
  ASSERT_TRUE(sender_->WriteRaw(std::string("\0\0\0\x02\x78\x01", 6)).ok());
  absl::StatusOr<v1::Frame> got = receiver_->Read();
  ASSERT_FALSE(got.ok());
  EXPECT_THAT(got.status().message(), HasSubstr("carries no known message"));
  EXPECT_TRUE(SenderSeesClose());
}

TEST_F(FrameTest, PeerClosingInsideAFrameIsUnavailable) {
  ASSERT_TRUE(sender_->WriteRaw(std::string("\0\0\0\x10\x0a", 5)).ok());
  sender_->Shutdown();
  absl::StatusOr<v1::Frame> got = receiver_->Read();
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(got.status().message(), HasSubstr("inside a frame of 16 bytes"));
}

TEST_F(FrameTest, SenderRefusesAFrameAboveTheLimit) {
  v1::Frame frame;
  frame.mutable_refusal()->set_message(std::string(kMaxFrame, 'x'));
  absl::Status s = sender_->Write(frame);
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(s.message(), HasSubstr("exceeds max-frame-size"));
}

}  // namespace
}  // namespace cairn::logship
