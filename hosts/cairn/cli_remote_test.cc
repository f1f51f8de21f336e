// `cairn --server HOST:PORT`: the commands against a real cairnd process
// on a loopback port it picked itself.
#include <filesystem>
#include <fstream>
#include <sstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "cli.h"
#include "test_certs.h"
#include "test_server.h"

namespace cairn::cli {
namespace {

using ::testing::HasSubstr;

struct Result {
  int code;
  std::string out;
  std::string err;
};

class CliRemoteTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<cairn::testing::TestServer>> server =
        cairn::testing::TestServer::Start();
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    address_ = "127.0.0.1:" + std::to_string(server_->port());
  }

  Result Run(std::vector<std::string> args, const std::string& input = "") {
    args.insert(args.begin(), {"--server", address_});
    std::istringstream in(input);
    std::ostringstream out, err;
    int code = RunCli(args, "/nonexistent/bin/cairn", in, out, err);
    return {code, out.str(), err.str()};
  }

  std::unique_ptr<cairn::testing::TestServer> server_;
  std::string address_;
};

TEST_F(CliRemoteTest, AppendReadStreamsAndHeadGoThroughTheServer) {
  Result append = Run({"append", "orders-1", "--expect", "none"},
                      "{\"type\": \"OrderPlaced\", \"data\": {\"id\": 1}, \"tags\": [\"order\"]}\n"
                      "{\"type\": \"OrderPaid\", \"data_base64\": \"AAE=\"}\n");
  ASSERT_EQ(append.code, 0) << append.err;
  EXPECT_EQ(append.out, "appended 2 events to 'orders-1': revisions 1..2, positions 1..2\n");

  Result read = Run({"read", "orders-1", "--json"});
  ASSERT_EQ(read.code, 0) << read.err;
  std::istringstream lines(read.out);
  std::string first, second;
  std::getline(lines, first);
  std::getline(lines, second);
  EXPECT_EQ(nlohmann::json::parse(first)["data"]["id"], 1);
  EXPECT_EQ(nlohmann::json::parse(second)["data_base64"], "AAE=");
  EXPECT_EQ(nlohmann::json::parse(second)["position"], 2);

  EXPECT_EQ(Run({"streams"}).out, "orders-1\t2\n");
  EXPECT_EQ(Run({"head", "orders-1"}).out, "2\n");
  EXPECT_EQ(Run({"head"}).out, "2\n");
  EXPECT_THAT(Run({"read-all", "--tag", "order"}).out, HasSubstr("orders-1 #1 @1 "));
}

TEST_F(CliRemoteTest, ConflictExitsThreeAndWritesNothing) {
  ASSERT_EQ(Run({"append", "s"}, "{\"type\": \"A\"}\n").code, 0);
  Result r = Run({"append", "s", "--expect", "none"}, "{\"type\": \"B\"}\n");
  EXPECT_EQ(r.code, 3) << r.err;
  EXPECT_EQ(Run({"head", "s"}).out, "1\n");
}

TEST_F(CliRemoteTest, TailCatchesUpThroughASubscription) {
  ASSERT_EQ(Run({"append", "s"}, "{\"type\": \"A\"}\n{\"type\": \"B\"}\n").code, 0);
  Result r = Run({"tail", "s", "--after", "0", "--max", "2"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("#2 @2 "));
}

TEST_F(CliRemoteTest, DeleteToAndStatsWorkRemotelyButVerifyExplainsWhyNot) {
  ASSERT_EQ(Run({"append", "s"}, "{\"type\": \"A\"}\n{\"type\": \"B\"}\n").code, 0);
  EXPECT_EQ(Run({"delete-to", "s", "1"}).code, 0);
  EXPECT_EQ(Run({"streams"}).out, "s\t2\tdeleted-to 1\n");
  EXPECT_EQ(Run({"stats"}).code, 0);
  Result verify = Run({"verify"});
  EXPECT_EQ(verify.code, 2);
  EXPECT_THAT(verify.err, HasSubstr("cairn verify --data DIR"));
  Result read_log = Run({"read-log"});
  EXPECT_EQ(read_log.code, 2);
  EXPECT_THAT(read_log.err, HasSubstr("embedded store only"));
}

TEST_F(CliRemoteTest, UnreachableServerIsAStoreErrorNamingIt) {
  server_->Terminate();
  Result r = Run({"head", "s"});
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, HasSubstr(address_));
}

// `cairn --server` against a mutual-TLS cairnd with [access] rules and an
// audit log.
class CliTlsTest : public cairn::testing::CertificateTest {
 protected:

  void SetUp() override {
    audit_ = File(std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()) +
                  ".audit");
    absl::StatusOr<std::unique_ptr<cairn::testing::TestServer>> server =
        cairn::testing::TestServer::Start(
            {"--tls-cert", File("server.pem"), "--tls-key", File("server.key"), "--tls-ca",
             File("ca.pem"), "--set", "access.orders=CN=orders-svc: write orders-", "--set",
             "audit.path=" + audit_});
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    address_ = "127.0.0.1:" + std::to_string(server_->port());
  }

  Result Run(std::vector<std::string> args, const std::string& input = "") {
    std::istringstream in(input);
    std::ostringstream out, err;
    int code = RunCli(args, "/nonexistent/bin/cairn", in, out, err);
    return {code, out.str(), err.str()};
  }

  std::vector<std::string> AsOrders() {
    return {"--server", address_, "--tls-ca", File("ca.pem"), "--tls-cert",
            File("orders.pem"), "--tls-key", File("orders.key")};
  }

  std::string audit_;
  std::unique_ptr<cairn::testing::TestServer> server_;
  std::string address_;
};

std::vector<std::string> Plus(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

TEST_F(CliTlsTest, MutualTlsFlagsConnectAndTheIdentityGetsItsRights) {
  Result append = Run(Plus(AsOrders(), {"append", "orders-1"}), "{\"type\": \"A\"}\n");
  ASSERT_EQ(append.code, 0) << append.err;
  // The flags may also follow the command.
  Result head = Run({"head", "orders-1", "--server", address_, "--tls-ca", File("ca.pem"),
                     "--tls-cert", File("orders.pem"), "--tls-key", File("orders.key")});
  EXPECT_EQ(head.code, 0) << head.err;
  EXPECT_EQ(head.out, "1\n");
}

TEST_F(CliTlsTest, DeniedRequestExitsFourNamingTheMissingRight) {
  Result denied = Run(Plus(AsOrders(), {"append", "payments-1"}), "{\"type\": \"A\"}\n");
  EXPECT_EQ(denied.code, 4) << denied.err;
  EXPECT_THAT(denied.err, HasSubstr("PERMISSION_DENIED"));
  EXPECT_THAT(denied.err, HasSubstr("CN=orders-svc has no write right on stream 'payments-1'"));
  Result del = Run(Plus(AsOrders(), {"delete-to", "orders-1", "1"}));
  EXPECT_EQ(del.code, 4) << del.err;
  EXPECT_THAT(del.err, HasSubstr("no admin right"));
}

TEST_F(CliTlsTest, ClientSectionOfTheSiteFileSuppliesTheTlsFiles) {
  const std::string site = File("client-site.ini");
  std::ofstream(site) << "[client]\ntls-ca = " << File("ca.pem") << "\ntls-cert = "
                      << File("orders.pem") << "\ntls-key = " << File("orders.key") << "\n";
  Result append = Run({"--config", site, "--server", address_, "append", "orders-2"},
                      "{\"type\": \"A\"}\n");
  EXPECT_EQ(append.code, 0) << append.err;
  std::ofstream(site, std::ios::trunc) << "[client]\ntls-certificate = x\n";
  Result bad = Run({"--config", site, "--server", address_, "head"});
  EXPECT_EQ(bad.code, 2);
  EXPECT_THAT(bad.err, HasSubstr("[client] tls-certificate: unknown key"));
}

TEST_F(CliTlsTest, PlainCliAgainstATlsServerSaysTheServerWantsTls) {
  Result r = Run({"--server", address_, "head"});
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, HasSubstr("speaks TLS only"));
  EXPECT_THAT(r.err, HasSubstr("--tls-ca"));
  EXPECT_THAT(r.err, ::testing::Not(HasSubstr("End of file")));
}

TEST_F(CliTlsTest, TlsCaFlagAloneServesAgainstATlsServerWithoutClientCertificates) {
  absl::StatusOr<std::unique_ptr<cairn::testing::TestServer>> tls_only =
      cairn::testing::TestServer::Start(
          {"--tls-cert", File("server.pem"), "--tls-key", File("server.key")});
  ASSERT_TRUE(tls_only.ok()) << tls_only.status();
  const std::string address = "127.0.0.1:" + std::to_string((*tls_only)->port());
  // Without [access], an anonymous loopback client keeps every right.
  Result append = Run({"--server", address, "--tls-ca", File("ca.pem"), "append", "s"},
                      "{\"type\": \"A\"}\n");
  EXPECT_EQ(append.code, 0) << append.err;
  // The server's certificate must come from the CA given.
  Result wrong = Run({"--server", address, "--tls-ca", File("other-ca.pem"), "head"});
  EXPECT_EQ(wrong.code, 2);
  EXPECT_THAT(wrong.err, HasSubstr("TLS handshake"));
}

TEST_F(CliTlsTest, MutualTlsServerRefusesTheCliWithoutAClientCertificate) {
  Result r = Run({"--server", address_, "--tls-ca", File("ca.pem"), "head"});
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, HasSubstr(address_));
}

// The lines of the text file `path`, and writing them back (audit tests).
std::vector<std::string> ReadLines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

void WriteLines(const std::string& path,
                const std::vector<std::string>& lines) {
  std::ofstream out(path, std::ios::trunc);
  for (const std::string& line : lines) out << line << "\n";
}

TEST_F(CliTlsTest, AuditVerifyPassesThenNamesAnEditedLine) {
  ASSERT_EQ(Run(Plus(AsOrders(), {"append", "orders-1"}), "{\"type\": \"A\"}\n").code, 0);
  ASSERT_EQ(Run(Plus(AsOrders(), {"append", "payments-1"}), "{\"type\": \"A\"}\n").code, 4);
  ASSERT_EQ(Run(Plus(AsOrders(), {"head", "orders-1"})).code, 0);
  Result ok = Run({"audit", "verify", audit_});
  ASSERT_EQ(ok.code, 0) << ok.err;
  EXPECT_THAT(ok.out, HasSubstr(": 3 line(s), seq 1..3, chain intact"));

  std::vector<std::string> lines = ReadLines(audit_);
  ASSERT_EQ(lines.size(), 3u);
  lines[1].replace(lines[1].find("\"denied\""), 8, "\"allowd\"");
  WriteLines(audit_, lines);
  Result broken = Run({"audit", "verify", audit_});
  EXPECT_EQ(broken.code, 2);
  EXPECT_THAT(broken.err, HasSubstr(audit_ + ":2: this line was changed"));
}

TEST_F(CliTlsTest, AuditVerifyNamesLinesCutOffTheEnd) {
  ASSERT_EQ(
      Run(Plus(AsOrders(), {"append", "orders-1"}), "{\"type\": \"A\"}\n").code,
      0);
  ASSERT_EQ(Run(Plus(AsOrders(), {"head", "orders-1"})).code, 0);
  ASSERT_EQ(Run(Plus(AsOrders(), {"head", "orders-1"})).code, 0);
  Result ok = Run({"audit", "verify", audit_});
  ASSERT_EQ(ok.code, 0) << ok.err;
  EXPECT_THAT(ok.out,
              HasSubstr(", chain intact, ends where its head says (seq 3)"));

  std::vector<std::string> lines = ReadLines(audit_);
  ASSERT_EQ(lines.size(), 3u);
  lines.pop_back();
  WriteLines(audit_, lines);
  // Before: the two lines left were a valid chain, and verify said so.
  Result cut = Run({"audit", "verify", audit_});
  EXPECT_EQ(cut.code, 2) << cut.out;
  EXPECT_THAT(
      cut.err,
      HasSubstr(audit_ + ": truncated: 1 line(s) were removed from its end"));
  EXPECT_THAT(cut.err, HasSubstr("last intact seq: 2"));
  // Checking the chain alone is an explicit choice, and says what it misses.
  Result chain_only = Run({"audit", "verify", "--no-head", audit_});
  EXPECT_EQ(chain_only.code, 0) << chain_only.err;
  EXPECT_THAT(chain_only.out, HasSubstr("no head checked"));
}

}  // namespace
}  // namespace cairn::cli
