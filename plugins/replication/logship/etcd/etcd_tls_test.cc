// The gateway against a real one-member etcd serving HTTPS with client
// certificates required (--client-cert-auth), with the test PKI of
// hosts/cairnd/test_certs.h: server.pem names 127.0.0.1, client.pem is a
// client of the same CA, stranger.pem is signed by another CA. Without etcd
// installed these tests skip, and fail under CI=true.
#include <filesystem>

#include "etcd_gateway.h"
#include "etcd_test_cluster.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "test_certs.h"

namespace cairn::logship::etcd {
namespace {

using testing::EtcdTestCluster;
using testing::EtcdTls;
using ::testing::HasSubstr;

class EtcdTlsTest : public ::cairn::testing::CertificateTest {
 protected:
  void SetUp() override {
    CAIRN_REQUIRE_ETCD();
    tls_ = EtcdTls{File("server.pem"), File("server.key"), File("ca.pem"),
                   File("client.pem"), File("client.key")};
    auto cluster = EtcdTestCluster::Start(1, std::chrono::seconds(30), &tls_);
    ASSERT_TRUE(cluster.ok()) << cluster.status();
    cluster_ = *std::move(cluster);
  }

  GatewayOptions Options(const std::string& ca, const std::string& client) {
    GatewayOptions options{.endpoints = cluster_->endpoints(),
                           .call_timeout = std::chrono::seconds(2)};
    options.tls_ca_file = ca.empty() ? "" : File(ca + ".pem");
    if (!client.empty()) {
      options.tls_cert_file = File(client + ".pem");
      options.tls_key_file = File(client + ".key");
    }
    return options;
  }

  EtcdTls tls_;
  std::unique_ptr<EtcdTestCluster> cluster_;
};

TEST_F(EtcdTlsTest, WritesAndReadsOverMutualTls) {
  auto gateway = EtcdGateway::Create(Options("ca", "client"));
  ASSERT_TRUE(gateway.ok()) << gateway.status();
  auto put = gateway->Put("/t/k", "v");
  ASSERT_TRUE(put.ok()) << put.status();
  auto read = gateway->Range("/t/k");
  ASSERT_TRUE(read.ok()) << read.status();
  ASSERT_EQ(read->kvs.size(), 1u);
  EXPECT_EQ(read->kvs[0].value, "v");
  // https:// spelled out is the same.
  GatewayOptions spelled = Options("ca", "client");
  spelled.endpoints = {"https://" + cluster_->endpoints()[0]};
  auto again = EtcdGateway::Create(spelled);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(again->Range("/t/k").ok());
}

TEST_F(EtcdTlsTest, AMemberOfAnotherCaIsRefused) {
  auto gateway = EtcdGateway::Create(Options("other-ca", "client"));
  ASSERT_TRUE(gateway.ok()) << gateway.status();
  auto read = gateway->Range("/t/k");
  ASSERT_FALSE(read.ok());
  EXPECT_THAT(read.status().message(),
              HasSubstr("TLS handshake failed: certificate verification "
                        "failed"));
}

TEST_F(EtcdTlsTest, WithoutAClientCertificateEtcdRefuses) {
  auto gateway = EtcdGateway::Create(Options("ca", ""));
  ASSERT_TRUE(gateway.ok()) << gateway.status();
  EXPECT_FALSE(gateway->Range("/t/k").ok());
}

TEST_F(EtcdTlsTest, PlainHttpToAnHttpsMemberGetsNoAnswer) {
  auto gateway = EtcdGateway::Create(Options("", ""));
  ASSERT_TRUE(gateway.ok()) << gateway.status();
  EXPECT_FALSE(gateway->Range("/t/k").ok());
}

// Why EtcdGateway::Create refused `options` ("" if it did not).
std::string Refusal(const GatewayOptions& options) {
  auto gateway = EtcdGateway::Create(options);
  return gateway.ok() ? "" : std::string(gateway.status().message());
}

TEST_F(EtcdTlsTest, BadSettingsAreNamed) {
  GatewayOptions options = Options("ca", "client");
  options.endpoints = {"http://" + cluster_->endpoints()[0]};
  EXPECT_THAT(Refusal(options), HasSubstr("every endpoint is https"));

  options = Options("", "");
  options.endpoints = {"https://" + cluster_->endpoints()[0]};
  EXPECT_THAT(Refusal(options), HasSubstr("etcd-tls-ca-file"));

  options = Options("ca", "client");
  options.tls_key_file.clear();
  EXPECT_THAT(Refusal(options), HasSubstr("go together"));

  options = Options("", "client");
  EXPECT_THAT(Refusal(options), HasSubstr("without the CA"));

  EXPECT_THAT(Refusal(Options("nope", "")), HasSubstr("etcd-tls-ca-file = "));

  const std::string key = File("etcd-open.key");
  std::filesystem::copy_file(File("client.key"), key,
                             std::filesystem::copy_options::overwrite_existing);
  std::filesystem::permissions(key, std::filesystem::perms::group_read,
                               std::filesystem::perm_options::add);
  options = Options("ca", "client");
  options.tls_key_file = key;
  EXPECT_THAT(Refusal(options), HasSubstr("chmod 600"));
}

}  // namespace
}  // namespace cairn::logship::etcd
