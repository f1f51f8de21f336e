// TLS and mutual TLS against a real cairnd. Certificates are made at test
// time with the openssl command line (Debian package openssl).
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "cairn/client.h"
#include "test_server.h"

namespace cairn {
namespace {

using testing::TestServer;

class CairndTls : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "cairnd-tls-XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    const std::string script = absl::StrCat(
        "set -e; cd '", dir_, "';",
        "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=test-ca "
        "-keyout ca.key -out ca.pem;",
        "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=other-ca "
        "-keyout other-ca.key -out other-ca.pem;",
        "openssl req -newkey rsa:2048 -nodes -subj /CN=cairnd-test "
        "-keyout server.key -out server.csr;",
        "printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\n' > server.ext;",
        "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key "
        "-CAcreateserial -days 2 -extfile server.ext -out server.pem;",
        "openssl req -newkey rsa:2048 -nodes -subj /CN=client "
        "-keyout client.key -out client.csr;",
        "openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key "
        "-CAcreateserial -days 2 -out client.pem;",
        "openssl req -newkey rsa:2048 -nodes -subj /CN=stranger "
        "-keyout stranger.key -out stranger.csr;",
        "openssl x509 -req -in stranger.csr -CA other-ca.pem -CAkey "
        "other-ca.key -CAcreateserial -days 2 -out stranger.pem",
        " > openssl.log 2>&1");
    ASSERT_EQ(std::system(script.c_str()), 0)
        << "openssl failed; see " << dir_ << "/openssl.log";
  }

  static void TearDownTestSuite() {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  static std::string File(const std::string& name) { return dir_ + "/" + name; }

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

  static std::string dir_;
};

std::string CairndTls::dir_;

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

TEST_F(CairndTls, PlainClientOnTheTlsPortIsRefused) {
  auto server = StartTls(/*mutual=*/false);
  ASSERT_NE(server, nullptr);
  ClientOptions options = server->client_options();
  options.connect_timeout = std::chrono::seconds(3);
  auto client = Client::Connect(options);
  EXPECT_FALSE(client.ok());
  EXPECT_TRUE(server->Running());
  EXPECT_EQ(server->Terminate(), 0);
}

}  // namespace
}  // namespace cairn
