// TLS and mutual TLS against a real cairnd. Certificates are made at test
// time with the openssl command line (Debian package openssl).
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "cairn/client.h"
#include "test_certs.h"
#include "test_server.h"
#include "test_tls_connection.h"

namespace cairn {
namespace {

using testing::TestServer;

class CairndTls : public testing::CertificateTest {
 protected:
  static std::unique_ptr<TestServer> StartTls(bool mutual) {
    std::vector<std::string> args = {"--tls-cert", File("server.pem"),
                                     "--tls-key", File("server.key")};
    if (mutual) {
      args.push_back("--tls-ca");
      args.push_back(File("ca.pem"));
    }
    auto server = TestServer::Start(args);
    EXPECT_TRUE(server.ok()) << server.status();
    return server.ok() ? *std::move(server) : nullptr;
  }

  static ClientOptions TlsOptions(const TestServer& server) {
    ClientOptions options = server.client_options();
    options.tls = true;
    options.ca_file = File("ca.pem");
    options.connect_timeout = std::chrono::seconds(5);
    return options;
  }

  static std::vector<EventData> OneEvent() {
    EventData event;
    event.type = "Secured";
    event.data = "over tls";
    return {event};
  }

};

TEST_F(CairndTls, MutualTlsRefusesAClientWithoutACertificate) {
  auto server = StartTls(/*mutual=*/true);
  ASSERT_NE(server, nullptr);
  auto client = Client::Connect(TlsOptions(*server));
  EXPECT_FALSE(client.ok());
  EXPECT_TRUE(server->Running()) << server->Log();
  EXPECT_TRUE(server->WaitForLog("TLS handshake refused")) << server->Log();
  // One failure, counted and logged once.
  EXPECT_EQ(*testing::MetricValue(server->http_port(),
                                  "cairnd_tls_handshake_failures_total"),
            1);
  EXPECT_EQ(testing::CountOccurrences(server->Log(), "TLS handshake"), 1)
      << server->Log();
  EXPECT_EQ(server->Terminate(), 0);
}

TEST_F(CairndTls, MutualTlsServesAClientWithACertificate) {
  auto server = StartTls(/*mutual=*/true);
  ASSERT_NE(server, nullptr);
  ClientOptions options = TlsOptions(*server);
  options.cert_file = File("client.pem");
  options.key_file = File("client.key");
  auto client = Client::Connect(options);
  ASSERT_TRUE(client.ok()) << client.status() << "\n" << server->Log();
  ASSERT_TRUE((*client)->Append("tls", ExpectedRevision::NoStream(), OneEvent()).ok());
  auto events = (*client)->ReadStream("tls");
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->size(), 1u);
  EXPECT_EQ((*events)[0].data, "over tls");
  client->reset();
  EXPECT_EQ(server->Terminate(), 0);
}

TEST_F(CairndTls, MutualTlsRefusesACertificateFromAnotherCa) {
  auto server = StartTls(/*mutual=*/true);
  ASSERT_NE(server, nullptr);
  ClientOptions options = TlsOptions(*server);
  options.cert_file = File("stranger.pem");
  options.key_file = File("stranger.key");
  auto client = Client::Connect(options);
  EXPECT_FALSE(client.ok());
  EXPECT_EQ(server->Terminate(), 0);
}

TEST_F(CairndTls, TlsWithoutClientCertificatesServesAnyClient) {
  auto server = StartTls(/*mutual=*/false);
  ASSERT_NE(server, nullptr);
  auto client = Client::Connect(TlsOptions(*server));
  ASSERT_TRUE(client.ok()) << client.status();
  EXPECT_TRUE((*client)->Append("tls", ExpectedRevision::Any(), OneEvent()).ok());
  client->reset();
  EXPECT_EQ(server->Terminate(), 0);
}

TEST_F(CairndTls, ClientRefusesAServerItsCaDidNotSign) {
  auto server = StartTls(/*mutual=*/false);
  ASSERT_NE(server, nullptr);
  ClientOptions options = TlsOptions(*server);
  options.ca_file = File("other-ca.pem");
  auto client = Client::Connect(options);
  ASSERT_FALSE(client.ok());
  EXPECT_NE(client.status().message().find("TLS handshake"), std::string::npos)
      << client.status();
  EXPECT_EQ(server->Terminate(), 0);
}

TEST_F(CairndTls, SilentClientIsDroppedAfterTheHandshakeTimeout) {
  auto server = TestServer::Start(
      {"--tls-cert", File("server.pem"), "--tls-key", File("server.key"),
       "--set", "limits.handshake-timeout=300ms"});
  ASSERT_TRUE(server.ok()) << server.status();
  auto raw = testing::RawConnection::Open((*server)->port());
  ASSERT_TRUE(raw.ok());
  // Never starts the handshake: the server closes within the timeout.
  EXPECT_TRUE((*raw)->WaitClosed(5000));
  EXPECT_TRUE((*server)->WaitForLog("TLS handshake timed out"))
      << (*server)->Log();
  // The abort that follows the timeout is not a second failure.
  EXPECT_EQ(*testing::MetricValue((*server)->http_port(),
                                  "cairnd_tls_handshake_failures_total"),
            1);
  EXPECT_EQ(testing::CountOccurrences((*server)->Log(), "TLS handshake"), 1)
      << (*server)->Log();
  EXPECT_EQ((*server)->Terminate(), 0);
}

TEST_F(CairndTls, SocketsThatNeverStartTlsDoNotLockOutMutualTlsClients) {
  // Before: every accepted socket counted against max-connections, so a few
  // silent sockets got real clients TOO_MANY_CONNECTIONS until the
  // handshake timeout. Now only connections past hello count, and
  // not-yet-authenticated ones have their own bound (oldest evicted).
  auto server = TestServer::Start(
      {"--tls-cert", File("server.pem"), "--tls-key", File("server.key"),
       "--tls-ca", File("ca.pem"), "--set", "limits.max-connections=2",
       "--set", "limits.max-pending-connections=3"});
  ASSERT_TRUE(server.ok()) << server.status();
  std::vector<std::unique_ptr<testing::RawConnection>> silent;
  for (int i = 0; i < 6; ++i) {
    auto raw = testing::RawConnection::Open((*server)->port());
    ASSERT_TRUE(raw.ok());
    silent.push_back(*std::move(raw));
  }
  ClientOptions options = TlsOptions(**server);
  options.cert_file = File("client.pem");
  options.key_file = File("client.key");
  auto first = Client::Connect(options);
  ASSERT_TRUE(first.ok()) << first.status() << "\n" << (*server)->Log();
  auto second = Client::Connect(options);
  ASSERT_TRUE(second.ok()) << second.status() << "\n" << (*server)->Log();
  EXPECT_TRUE((*first)->Append("tls", ExpectedRevision::Any(), OneEvent()).ok());
  // The third authenticated client is over max-connections.
  auto third = Client::Connect(options);
  ASSERT_FALSE(third.ok());
  EXPECT_NE(third.status().message().find("max-connections"),
            std::string::npos)
      << third.status();
  // The oldest silent sockets made room and were closed.
  EXPECT_TRUE(silent[0]->WaitClosed(5000));
  EXPECT_GE(*testing::MetricValue((*server)->http_port(),
                                  "cairnd_connections_evicted_total"),
            3);
  EXPECT_EQ((*server)->Terminate(), 0);
}

TEST_F(CairndTls, AKeyFileOthersCanReadIsRefusedAtStartNamingTheFix) {
  const std::string loose = File("loose.key");
  std::filesystem::copy_file(File("server.key"), loose,
                             std::filesystem::copy_options::overwrite_existing);
  std::filesystem::permissions(loose, std::filesystem::perms(0644));
  auto server = TestServer::Start({"--tls-cert", File("server.pem"), "--tls-key", loose});
  ASSERT_FALSE(server.ok()) << "cairnd served with a key file of mode 0644";
  const std::string message(server.status().message());
  EXPECT_NE(message.find("[tls] key-file = " + loose + " is open to group or others (mode 0644)"),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("chmod 600 " + loose), std::string::npos) << message;
}

TEST_F(CairndTls, PlainClientOnTheTlsPortIsToldTheServerWantsTls) {
  auto server = StartTls(/*mutual=*/false);
  ASSERT_NE(server, nullptr);
  ClientOptions options = server->client_options();
  options.connect_timeout = std::chrono::seconds(3);
  auto client = Client::Connect(options);
  ASSERT_FALSE(client.ok());
  EXPECT_NE(client.status().message().find("TLS_REQUIRED"), std::string::npos)
      << client.status();
  EXPECT_NE(client.status().message().find("speaks TLS only"),
            std::string::npos)
      << client.status();
  EXPECT_TRUE(server->Running());
  EXPECT_EQ(server->Terminate(), 0);
}

// A TLS client that pipelines requests and then closes its sending side —
// with a close_notify alert (TLS's own half-close), or with a bare TCP FIN
// — still gets every answer, as a plain-TCP client does
// (cairnd_robustness_test, HalfClosedClientGetsEveryAnswer); a close_notify
// is answered with the server's. Before: a FIN lost the answers still due
// (taken for a reset), and a close_notify got a bare FIN back.
class CairndTlsHalfClose : public CairndTls,
                           public ::testing::WithParamInterface<
                               testing::TlsRawConnection::HalfClose> {};

TEST_P(CairndTlsHalfClose, ClientGetsEveryAnswer) {
  auto server = TestServer::Start({"--tls-cert", File("server.pem"),
                                   "--tls-key", File("server.key"), "--set",
                                   "server.inline-appends=off"});
  ASSERT_TRUE(server.ok()) << server.status();
  {
    auto client = Client::Connect(TlsOptions(**server));
    ASSERT_TRUE(client.ok()) << client.status();
    ASSERT_TRUE(
        (*client)->Append("s", ExpectedRevision::Any(), OneEvent()).ok());
  }
  auto raw = testing::TlsRawConnection::Open((*server)->port(), File("ca.pem"),
                                             GetParam());
  ASSERT_TRUE(raw.ok()) << raw.status();
  constexpr int kRequests = 300;  // above max-inflight: some wait unread
  auto answered =
      testing::PipelineThenHalfClose(**raw, kRequests, "half-closed", "s");
  ASSERT_TRUE(answered.ok()) << answered.status() << "\n" << (*server)->Log();
  EXPECT_EQ(answered->size(), static_cast<size_t>(kRequests + 1));
  EXPECT_TRUE((*raw)->WaitClosed(5000));
  // A close_notify is answered with one: the client knows its answers are
  // complete, not cut off.
  EXPECT_EQ((*raw)->ReceivedCloseNotify(),
            GetParam() == testing::TlsRawConnection::HalfClose::kCloseNotify);
  auto client = Client::Connect(TlsOptions(**server));
  ASSERT_TRUE(client.ok()) << client.status();
  EXPECT_EQ(*(*client)->HeadRevision("half-closed"),
            static_cast<uint64_t>((kRequests + 2) / 3));
  EXPECT_EQ((*server)->Terminate(), 0);
}

INSTANTIATE_TEST_SUITE_P(
    Both, CairndTlsHalfClose,
    ::testing::Values(testing::TlsRawConnection::HalfClose::kCloseNotify,
                      testing::TlsRawConnection::HalfClose::kTcpFin),
    [](const auto& info) {
      return info.param == testing::TlsRawConnection::HalfClose::kCloseNotify
                 ? std::string("CloseNotify")
                 : std::string("TcpFin");
    });

}  // namespace
}  // namespace cairn
