// Hostile and malformed input against a real cairnd: every case gets an
// error response or a closed connection, never a crash, and the store is
// unchanged.
#include <gtest/gtest.h>

#include <random>

#include "cairn/client.h"
#include "protocol/frame.h"
#include "test_server.h"

namespace cairn {
namespace {

using testing::RawConnection;
using testing::TestServer;

std::string Frame(const v1::Request& request) {
  std::string out;
  protocol::AppendFrame(request, &out);
  return out;
}

std::string Prefix(uint32_t length) {
  std::string out(4, '\0');
  out[0] = static_cast<char>(length >> 24);
  out[1] = static_cast<char>(length >> 16);
  out[2] = static_cast<char>(length >> 8);
  out[3] = static_cast<char>(length);
  return out;
}

v1::Request HelloRequest() {
  v1::Request hello;
  hello.set_request_id(1);
  hello.mutable_hello()->set_protocol_major(1);
  return hello;
}

class CairndBadInput : public ::testing::Test {
 protected:
  void SetUp() override {
    auto server = TestServer::Start({"--set", "limits.max-frame=64KiB",
                                     "--set", "limits.max-batch=10"});
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    auto client = server_->Connect();
    ASSERT_TRUE(client.ok()) << client.status();
    observer_ = *std::move(client);
    EventData event;
    event.type = "Seeded";
    event.data = "x";
    ASSERT_TRUE(observer_->Append("seed", ExpectedRevision::NoStream(),
                                  std::vector<EventData>(3, event)).ok());
  }

  void TearDown() override {
    if (!server_) return;
    // The server survived and the store is as it was.
    EXPECT_TRUE(server_->Running()) << server_->Log();
    auto head = observer_->HeadPosition();
    ASSERT_TRUE(head.ok()) << head.status() << "\n" << server_->Log();
    EXPECT_EQ(*head, 3u);
    EXPECT_EQ(*observer_->HeadRevision("seed"), 3u);
    observer_.reset();
    EXPECT_EQ(server_->Terminate(), 0) << server_->Log();
  }

  std::unique_ptr<RawConnection> Raw(bool hello = true) {
    auto raw = RawConnection::Open(server_->port());
    EXPECT_TRUE(raw.ok());
    if (!raw.ok()) return nullptr;
    if (hello) {
      EXPECT_TRUE((*raw)->Send(Frame(HelloRequest())).ok());
      v1::Response response = Read(**raw);
      EXPECT_TRUE(response.has_hello()) << response.DebugString();
    }
    return *std::move(raw);
  }

  static v1::Response Read(RawConnection& raw) {
    auto payload = raw.ReadFramePayload();
    v1::Response response;
    EXPECT_TRUE(payload.ok()) << payload.status();
    if (payload.ok()) {
      EXPECT_TRUE(response.ParseFromString(*payload));
    }
    return response;
  }

  std::unique_ptr<TestServer> server_;
  std::unique_ptr<Client> observer_;
};

TEST_F(CairndBadInput, TruncatedFrameThenHangUpChangesNothing) {
  v1::Request append;
  append.set_request_id(2);
  append.mutable_append()->set_stream("seed");
  append.mutable_append()->add_events()->set_type("Half");
  const std::string frame = Frame(append);
  auto raw = Raw();
  ASSERT_TRUE(raw->Send(frame.substr(0, frame.size() - 3)).ok());
  raw.reset();  // hang up mid-frame
}

TEST_F(CairndBadInput, OversizeLengthPrefixIsRefusedAndClosed) {
  auto raw = Raw();
  ASSERT_TRUE(raw->Send(Prefix(0x7fffffff) + "some bytes").ok());
  v1::Response response = Read(*raw);
  EXPECT_EQ(response.error().code(), v1::FRAME_TOO_LARGE);
  EXPECT_NE(response.error().message().find("max-frame of 65536"),
            std::string::npos)
      << response.error().message();
  EXPECT_TRUE(response.closing());
  EXPECT_TRUE(raw->WaitClosed());
}

TEST_F(CairndBadInput, ZeroLengthFrameIsMalformed) {
  auto raw = Raw();
  ASSERT_TRUE(raw->Send(Prefix(0)).ok());
  v1::Response response = Read(*raw);
  EXPECT_EQ(response.error().code(), v1::MALFORMED_FRAME);
  EXPECT_TRUE(raw->WaitClosed());
}

TEST_F(CairndBadInput, GarbageBodyIsMalformedAndClosed) {
  auto raw = Raw();
  // A valid length, then bytes that are no protobuf (0xff... is an invalid
  // tag / truncated varint).
  ASSERT_TRUE(raw->Send(Prefix(8) + std::string(8, '\xff')).ok());
  v1::Response response = Read(*raw);
  EXPECT_EQ(response.error().code(), v1::MALFORMED_FRAME);
  EXPECT_TRUE(response.closing());
  EXPECT_TRUE(raw->WaitClosed());
}

TEST_F(CairndBadInput, RandomBytesNeverCrashTheServer) {
  std::mt19937 random(42);
  for (int round = 0; round < 20; ++round) {
    auto raw = Raw(/*hello=*/round % 2 == 0);
    std::string bytes(1 + random() % 300, '\0');
    for (char& c : bytes) c = static_cast<char>(random());
    (void)raw->Send(bytes);
    // An error frame and a close, or (for a short frame) silence until the
    // client gives up: either way the next round starts fresh.
    (void)raw->ReadFramePayload(200);
  }
}

TEST_F(CairndBadInput, UnknownRequestTypeIsAnsweredAndConnectionStays) {
  auto raw = Raw();
  // request_id = 5, then field 99 (unknown to protocol 1.0) as a varint.
  v1::Request known;
  known.set_request_id(5);
  std::string body = known.SerializeAsString();
  body += std::string("\x98\x06\x01", 3);  // tag (99 << 3 | 0) = 792, value 1
  ASSERT_TRUE(raw->Send(Prefix(body.size()) + body).ok());
  v1::Response response = Read(*raw);
  EXPECT_EQ(response.request_id(), 5u);
  EXPECT_EQ(response.error().code(), v1::UNKNOWN_REQUEST);
  EXPECT_FALSE(response.closing());
  v1::Request head;
  head.set_request_id(6);
  head.mutable_head();
  ASSERT_TRUE(raw->Send(Frame(head)).ok());
  v1::Response answer = Read(*raw);
  EXPECT_EQ(answer.head().head_position(), 3u);
}

TEST_F(CairndBadInput, EmptyStreamNameIsInvalidArgument) {
  auto raw = Raw();
  v1::Request append;
  append.set_request_id(2);
  append.mutable_append()->add_events()->set_type("NoStream");
  ASSERT_TRUE(raw->Send(Frame(append)).ok());
  v1::Response response = Read(*raw);
  EXPECT_EQ(response.error().code(), v1::INVALID_ARGUMENT);
  EXPECT_NE(response.error().message().find("stream name is empty"),
            std::string::npos);
  EXPECT_FALSE(response.closing());
}

TEST_F(CairndBadInput, NegativeMaxCountIsInvalidArgument) {
  auto raw = Raw();
  v1::Request read;
  read.set_request_id(2);
  read.mutable_read_stream()->set_stream("seed");
  read.mutable_read_stream()->set_max_count(-5);
  ASSERT_TRUE(raw->Send(Frame(read)).ok());
  v1::Response response = Read(*raw);
  EXPECT_EQ(response.error().code(), v1::INVALID_ARGUMENT);
  EXPECT_NE(response.error().message().find("max_count is -5"),
            std::string::npos);
}

TEST_F(CairndBadInput, RequestBeforeHelloIsRefused) {
  auto raw = Raw(/*hello=*/false);
  v1::Request head;
  head.set_request_id(3);
  head.mutable_head();
  ASSERT_TRUE(raw->Send(Frame(head)).ok());
  v1::Response response = Read(*raw);
  EXPECT_EQ(response.error().code(), v1::HELLO_REQUIRED);
  EXPECT_TRUE(raw->WaitClosed());
}

TEST_F(CairndBadInput, BatchOverTheLimitDisconnectsOnlyThatClient) {
  auto raw = Raw();
  v1::Request append;
  append.set_request_id(2);
  append.mutable_append()->set_stream("seed");
  for (int i = 0; i < 11; ++i) append.mutable_append()->add_events();
  ASSERT_TRUE(raw->Send(Frame(append)).ok());
  v1::Response response = Read(*raw);
  EXPECT_EQ(response.error().code(), v1::LIMIT_EXCEEDED);
  EXPECT_NE(response.error().message().find("max-batch is 10"),
            std::string::npos);
  EXPECT_TRUE(raw->WaitClosed());
  // The observer's connection is untouched (checked again in TearDown).
  EXPECT_TRUE(observer_->HeadPosition().ok());
}

TEST_F(CairndBadInput, InvalidUtf8StreamNameIsMalformed) {
  auto raw = Raw();
  // field 1 of AppendRequest (stream) with bytes that are not UTF-8, spliced
  // into field 11 (append) by hand.
  v1::AppendRequest inner;
  inner.add_events();
  std::string inner_bytes = std::string("\x0a\x02\xc3\x28", 4) +
                            inner.SerializeAsString();
  std::string request = std::string("\x08\x02", 2) + "\x5a" +
                        static_cast<char>(inner_bytes.size()) + inner_bytes;
  ASSERT_TRUE(raw->Send(Prefix(request.size()) + request).ok());
  v1::Response response = Read(*raw);
  EXPECT_EQ(response.error().code(), v1::MALFORMED_FRAME);
  EXPECT_TRUE(raw->WaitClosed());
}

TEST(CairndLimits, ConnectionsPastMaxConnectionsAreRefused) {
  auto server = TestServer::Start({"--set", "limits.max-connections=2"});
  ASSERT_TRUE(server.ok()) << server.status();
  auto a = (*server)->Connect();
  auto b = (*server)->Connect();
  ASSERT_TRUE(a.ok() && b.ok());
  auto c = (*server)->Connect();
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("max-connections"), std::string::npos)
      << c.status();
  EXPECT_TRUE((*a)->HeadPosition().ok());
  EXPECT_EQ((*server)->Terminate(), 0);
}

TEST(CairndLimits, IdleConnectionIsClosedAfterIdleTimeout) {
  auto server = TestServer::Start({"--set", "limits.idle-timeout=300ms"});
  ASSERT_TRUE(server.ok()) << server.status();
  auto raw = RawConnection::Open((*server)->port());
  ASSERT_TRUE(raw.ok());
  ASSERT_TRUE((*raw)->Send(Frame(HelloRequest())).ok());
  ASSERT_TRUE((*raw)->ReadFramePayload().ok());
  auto payload = (*raw)->ReadFramePayload(5000);
  ASSERT_TRUE(payload.ok()) << payload.status();
  v1::Response response;
  ASSERT_TRUE(response.ParseFromString(*payload));
  EXPECT_EQ(response.error().code(), v1::IDLE_TIMEOUT);
  EXPECT_TRUE((*raw)->WaitClosed());
  EXPECT_EQ((*server)->Terminate(), 0);
}

TEST(CairndStartup, BadSettingsAreRefusedWithTheKeyNamed) {
  auto server = TestServer::Start({"--set", "limits.max-frames=1"});
  ASSERT_FALSE(server.ok());
  EXPECT_NE(server.status().message().find("max-frames: unknown key"),
            std::string::npos)
      << server.status();
}

}  // namespace
}  // namespace cairn
