// Frames over a real loopback connection: what the receiver accepts and how
// it refuses what it must not (each refusal closes the connection).
#include "frame.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/read.hpp>
#include <filesystem>
#include <memory>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "test_certs.h"
#include "tls.h"

namespace cairn::logship {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using ::testing::HasSubstr;

constexpr uint64_t kMaxFrame = 64 * 1024;

// Two ends of one loopback connection: the accepted one named `server_name`
// (the name it gives its peer), the dialling one `client_name`.
void ConnectPair(asio::io_context& io, const std::string& server_name,
                 const std::string& client_name,
                 std::unique_ptr<Connection>* server,
                 std::unique_ptr<Connection>* client) {
  tcp::acceptor acceptor(io,
                         tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  tcp::socket dialled(io);
  dialled.connect(acceptor.local_endpoint());
  tcp::socket accepted(io);
  acceptor.accept(accepted);
  *server =
      std::make_unique<Connection>(std::move(accepted), kMaxFrame, server_name);
  *client =
      std::make_unique<Connection>(std::move(dialled), kMaxFrame, client_name);
}

class FrameTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ConnectPair(io_, "test sender", "test receiver", &receiver_, &sender_);
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

// The same frames over mutual TLS (tls.h). The certificates come from the
// test PKI of hosts/cairnd/test_certs.h: server.pem names 127.0.0.1 and
// localhost, client.pem names nothing, stranger.pem is signed by another CA.
class TlsFrameTest : public ::cairn::testing::CertificateTest {
 protected:
  void SetUp() override {
    ConnectPair(io_, "test dialer", "test listener", &server_, &client_);
  }

  static std::unique_ptr<asio::ssl::context> Context(
      const std::string& name, const std::string& ca = "ca") {
    absl::StatusOr<std::unique_ptr<asio::ssl::context>> context =
        MakeTlsContext(
            {File(name + ".pem"), File(name + ".key"), File(ca + ".pem")});
    EXPECT_TRUE(context.ok()) << context.status();
    return context.ok() ? std::move(*context) : nullptr;
  }

  // Both handshakes at once (each blocks until the other answers).
  void Handshake(asio::ssl::context& server_context,
                 asio::ssl::context& client_context,
                 const std::string& verify_host) {
    std::thread server(
        [&] { server_status_ = server_->StartTls(server_context, false, ""); });
    client_status_ = client_->StartTls(client_context, true, verify_host);
    if (!client_status_.ok()) client_->Shutdown();
    server.join();
  }

  asio::io_context io_;
  std::unique_ptr<Connection> server_;
  std::unique_ptr<Connection> client_;
  absl::Status server_status_;
  absl::Status client_status_;
};

TEST_F(TlsFrameTest, FramesCrossBothWaysAtOnce) {
  auto server_context = Context("server");
  auto client_context = Context("server");
  Handshake(*server_context, *client_context, "127.0.0.1");
  ASSERT_TRUE(server_status_.ok()) << server_status_;
  ASSERT_TRUE(client_status_.ok()) << client_status_;
  EXPECT_TRUE(server_->tls());
  EXPECT_TRUE(server_->PeerCertificateNames("127.0.0.1"));
  EXPECT_TRUE(server_->PeerCertificateNames("localhost"));
  EXPECT_FALSE(server_->PeerCertificateNames("10.0.0.7"));
  EXPECT_FALSE(server_->PeerCertificateNames("example.org"));

  // Each side writes on one thread while it reads on another, as the
  // shipper (records out, acks in) and the replica do.
  constexpr int kFrames = 2000;
  auto pump = [&](Connection& c, const std::string& from, int* received,
                  absl::Status* failed) {
    std::thread writer([&] {
      for (int i = 0; i < kFrames; ++i) {
        v1::Frame frame;
        frame.mutable_hello()->set_node_id(from);
        frame.mutable_hello()->set_written(i);
        // Every tenth frame large, so writes span many TLS records.
        if (i % 10 == 0) {
          frame.mutable_hello()->set_node_id(from + std::string(20000, '.'));
        }
        absl::Status s = c.Write(frame);
        if (!s.ok()) {
          *failed = s;
          return;
        }
      }
    });
    for (int i = 0; i < kFrames; ++i) {
      absl::StatusOr<v1::Frame> got = c.Read();
      if (!got.ok()) {
        *failed = got.status();
        break;
      }
      if (got->hello().written() != static_cast<uint64_t>(i)) {
        *failed = absl::InternalError("frame out of order");
        break;
      }
      ++*received;
    }
    writer.join();
  };
  int server_received = 0;
  int client_received = 0;
  absl::Status server_failed;
  absl::Status client_failed;
  std::thread server(
      [&] { pump(*server_, "c", &server_received, &server_failed); });
  pump(*client_, "s", &client_received, &client_failed);
  server.join();
  EXPECT_TRUE(server_failed.ok()) << server_failed;
  EXPECT_TRUE(client_failed.ok()) << client_failed;
  EXPECT_EQ(server_received, kFrames);
  EXPECT_EQ(client_received, kFrames);
}

TEST_F(TlsFrameTest, ClientRefusesACertificateThatDoesNotNameThePeer) {
  auto server_context = Context("server");
  auto client_context = Context("server");
  Handshake(*server_context, *client_context, "10.0.0.7");
  EXPECT_EQ(client_status_.code(), absl::StatusCode::kUnauthenticated)
      << client_status_;
  EXPECT_THAT(client_status_.message(),
              HasSubstr("TLS handshake with test listener failed"));
  EXPECT_FALSE(server_status_.ok());
}

TEST_F(TlsFrameTest, ServerRefusesAClientOfAnotherCa) {
  auto server_context = Context("server");
  auto client_context = Context("stranger", "ca");
  Handshake(*server_context, *client_context, "127.0.0.1");
  EXPECT_EQ(server_status_.code(), absl::StatusCode::kUnauthenticated)
      << server_status_;
  EXPECT_THAT(server_status_.message(),
              HasSubstr("certificate verification failed"));
  // Under TLS 1.3 the client's handshake ends before the server has checked
  // its certificate: the client learns of the refusal at its first read.
  if (client_status_.ok()) {
    absl::StatusOr<v1::Frame> got = client_->Read();
    ASSERT_FALSE(got.ok());
    EXPECT_EQ(got.status().code(), absl::StatusCode::kUnavailable);
    EXPECT_THAT(got.status().message(), HasSubstr("test listener"));
  }
}

TEST_F(TlsFrameTest, ClientRefusesAServerOfAnotherCa) {
  auto server_context = Context("stranger", "ca");
  auto client_context = Context("server");
  Handshake(*server_context, *client_context, "127.0.0.1");
  EXPECT_EQ(client_status_.code(), absl::StatusCode::kUnauthenticated)
      << client_status_;
  EXPECT_THAT(client_status_.message(),
              HasSubstr("certificate verification failed"));
  EXPECT_FALSE(server_status_.ok());
}

TEST_F(TlsFrameTest, PlainPeerIsRefusedByATlsListener) {
  auto server_context = Context("server");
  std::thread server(
      [&] { server_status_ = server_->StartTls(*server_context, false, ""); });
  v1::Frame frame;
  frame.mutable_hello()->set_node_id("plain");
  ASSERT_TRUE(client_->Write(frame).ok());
  server.join();
  EXPECT_EQ(server_status_.code(), absl::StatusCode::kUnauthenticated)
      << server_status_;
  EXPECT_THAT(server_status_.message(), HasSubstr("TLS handshake"));
  absl::StatusOr<v1::Frame> got = client_->Read();
  EXPECT_FALSE(got.ok());
}

TEST_F(TlsFrameTest, SilentPeerStallsTheHandshakeUntilExpired) {
  auto client_context = Context("server");
  std::thread client([&] {
    client_status_ = client_->StartTls(*client_context, true, "127.0.0.1");
  });
  // The listener never answers: the handshake waits, and says so.
  for (int i = 0; i < 500 && client_->StalledFor().count() < 50; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_GE(client_->StalledFor().count(), 50);
  EXPECT_TRUE(client_->Expire("the watchdog gave up"));
  client.join();
  EXPECT_EQ(client_status_.code(), absl::StatusCode::kUnavailable)
      << client_status_;
  EXPECT_THAT(client_status_.message(), HasSubstr("the watchdog gave up"));
}

TEST_F(TlsFrameTest, KeyFileOpenToOthersIsRefused) {
  const std::string key = File("open.key");
  std::filesystem::copy_file(File("server.key"), key,
                             std::filesystem::copy_options::overwrite_existing);
  std::filesystem::permissions(key, std::filesystem::perms::others_read,
                               std::filesystem::perm_options::add);
  absl::StatusOr<std::unique_ptr<asio::ssl::context>> context =
      MakeTlsContext({File("server.pem"), key, File("ca.pem")});
  ASSERT_FALSE(context.ok());
  EXPECT_THAT(context.status().message(),
              HasSubstr("option 'tls-key-file' = " + key));
  EXPECT_THAT(context.status().message(), HasSubstr("chmod 600"));
}

TEST_F(TlsFrameTest, MissingOrMismatchedFilesAreNamed) {
  absl::StatusOr<std::unique_ptr<asio::ssl::context>> context =
      MakeTlsContext({File("none.pem"), File("server.key"), File("ca.pem")});
  ASSERT_FALSE(context.ok());
  EXPECT_THAT(context.status().message(), HasSubstr("option 'tls-cert-file'"));
  context =
      MakeTlsContext({File("server.pem"), File("client.key"), File("ca.pem")});
  ASSERT_FALSE(context.ok());
  EXPECT_THAT(context.status().message(),
              HasSubstr("option 'tls-key-file' = " + File("client.key") +
                        ": cannot load a PEM private key matching"));
  context =
      MakeTlsContext({File("server.pem"), File("server.key"), File("nope")});
  ASSERT_FALSE(context.ok());
  EXPECT_THAT(context.status().message(), HasSubstr("option 'tls-ca-file'"));
}

}  // namespace
}  // namespace cairn::logship
