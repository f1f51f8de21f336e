// Access control and the audit log against a real cairnd: identities from
// mutual-TLS certificates (made with the openssl command line), rights per
// stream prefix, PERMISSION_DENIED answers, and the audit lines they leave.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "audit_chain.h"
#include "cairn/client.h"
#include "cairn/status.h"
#include "test_certs.h"
#include "test_server.h"

namespace cairn {
namespace {

using testing::TestServer;

class CairndAccess : public testing::CertificateTest {
 protected:
  // A mutual-TLS server where CN=orders-svc may write orders-* and read
  // shared-*, and CN=ops-admin is admin everywhere; it audits to `audit`.
  static std::unique_ptr<TestServer> StartWithRules(const std::string& audit) {
    auto server = TestServer::Start(
        {"--tls-cert", File("server.pem"), "--tls-key", File("server.key"),
         "--tls-ca", File("ca.pem"), "--set",
         "access.orders=CN=orders-svc: write orders-", "--set",
         "access.shared=CN=orders-svc: read shared-", "--set",
         "access.ops=CN=ops-admin: admin *", "--set", "audit.path=" + audit});
    EXPECT_TRUE(server.ok()) << server.status();
    return server.ok() ? *std::move(server) : nullptr;
  }

  static absl::StatusOr<std::unique_ptr<Client>> ConnectAs(
      const TestServer& server, const std::string& who) {
    ClientOptions options = server.client_options();
    options.tls = true;
    options.ca_file = File("ca.pem");
    options.cert_file = File(who + ".pem");
    options.key_file = File(who + ".key");
    return Client::Connect(options);
  }

  static std::vector<EventData> OneEvent() {
    EventData event;
    event.type = "Placed";
    event.data = "secret-payload";
    return {event};
  }

  static std::string Slurp(const std::string& path) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }

};

TEST_F(CairndAccess, CertificateIdentityGetsTheRightsOfItsPrefixes) {
  const std::string audit = File("rights.audit");
  auto server = StartWithRules(audit);
  ASSERT_NE(server, nullptr);
  auto orders = ConnectAs(*server, "orders");
  ASSERT_TRUE(orders.ok()) << orders.status() << server->Log();

  EXPECT_TRUE((*orders)->Append("orders-1", ExpectedRevision::Any(), OneEvent()).ok());
  EXPECT_TRUE((*orders)->ReadStream("orders-1").ok());  // write includes read
  EXPECT_TRUE((*orders)->ReadStream("shared-config").ok());

  absl::Status denied =
      (*orders)->Append("shared-config", ExpectedRevision::Any(), OneEvent()).status();
  EXPECT_TRUE(absl::IsPermissionDenied(denied)) << denied;
  EXPECT_TRUE(absl::StrContains(denied.message(), "PERMISSION_DENIED")) << denied;
  EXPECT_TRUE(absl::StrContains(denied.message(), "CN=orders-svc has no write right "
                                                  "on stream 'shared-config' (append)"))
      << denied;
  // The connection stays usable after a denial.
  EXPECT_TRUE((*orders)->ReadStream("orders-1").ok());
}

TEST_F(CairndAccess, ReadsByPositionNeedReadOnEveryStreamAndDeleteNeedsAdmin) {
  const std::string audit = File("scopes.audit");
  auto server = StartWithRules(audit);
  ASSERT_NE(server, nullptr);
  auto orders = ConnectAs(*server, "orders");
  auto admin = ConnectAs(*server, "admin");
  ASSERT_TRUE(orders.ok() && admin.ok()) << server->Log();
  ASSERT_TRUE((*orders)->Append("orders-1", ExpectedRevision::Any(), OneEvent()).ok());

  absl::Status all = (*orders)->ReadAll(0, 10, [](const RecordedEvent&) { return true; });
  EXPECT_TRUE(absl::IsPermissionDenied(all)) << all;
  EXPECT_TRUE(absl::StrContains(all.message(), "read right on every stream")) << all;
  EXPECT_TRUE(absl::IsPermissionDenied((*orders)->ListStreams(0, 10).status()));
  absl::Status del = (*orders)->DeleteTo("orders-1", 1);
  EXPECT_TRUE(absl::IsPermissionDenied(del)) << del;
  EXPECT_TRUE(absl::StrContains(del.message(), "no admin right")) << del;

  EXPECT_TRUE((*admin)->DeleteTo("orders-1", 1).ok());
  EXPECT_TRUE((*admin)->ReadAll(0, 10, [](const RecordedEvent&) { return true; }).ok());
}

// A backup through the server: backup_begin and every read_log page need
// the admin right (a backup copies every stream); the backup is one audited
// action, its pages only access lines; pages are bounded and end at the
// position backup_begin fixed, whatever is appended meanwhile.
TEST_F(CairndAccess,
       BackupBeginAndReadLogNeedAdminAndTheBackupIsOneAuditedAction) {
  const std::string audit = File("backup.audit");
  auto server = StartWithRules(audit);
  ASSERT_NE(server, nullptr);
  auto orders = ConnectAs(*server, "orders");
  auto admin = ConnectAs(*server, "admin");
  ASSERT_TRUE(orders.ok() && admin.ok()) << server->Log();
  for (int i = 0; i < 30; ++i) {
    ASSERT_TRUE((*orders)
                    ->Append("orders-1", ExpectedRevision::Any(), OneEvent())
                    .ok());
  }

  absl::Status denied = (*orders)->BackupBegin(0).status();
  EXPECT_TRUE(absl::IsPermissionDenied(denied)) << denied;
  EXPECT_TRUE(
      absl::StrContains(denied.message(), "no admin right on every stream"))
      << denied;
  absl::Status page_denied = (*orders)->ReadLog(
      0, 1, [](const log::v1::LogRecord&) { return absl::OkStatus(); });
  EXPECT_TRUE(absl::IsPermissionDenied(page_denied)) << page_denied;

  auto begun = (*admin)->BackupBegin(0);
  ASSERT_TRUE(begun.ok()) << begun.status();
  EXPECT_EQ(begun->last_position(), 30u);
  EXPECT_EQ(begun->storage().name(), "mmaplog");
  // Appends after the start are not in the backup.
  ASSERT_TRUE(
      (*orders)->Append("orders-1", ExpectedRevision::Any(), OneEvent()).ok());
  std::vector<uint64_t> positions;
  ASSERT_TRUE((*admin)
                  ->ReadLog(0, begun->last_position(),
                            [&](const log::v1::LogRecord& record) {
                              positions.push_back(record.position());
                              return absl::OkStatus();
                            })
                  .ok());
  ASSERT_EQ(positions.size(), 30u);
  EXPECT_EQ(positions.front(), 1u);
  EXPECT_EQ(positions.back(), 30u);

  // One page of a raw request: max_count bounds it, and it says where to
  // go on; a to_position past the committed watermark is refused.
  v1::Request page;
  page.mutable_read_log()->set_after_position(10);
  page.mutable_read_log()->set_to_position(30);
  page.mutable_read_log()->set_max_count(7);
  auto answer = (*admin)->Call(page).get();
  ASSERT_TRUE(answer.ok()) << answer.status();
  ASSERT_FALSE(answer->has_error()) << answer->error().message();
  EXPECT_EQ(answer->read_log().records_size(), 7);
  EXPECT_EQ(answer->read_log().records(0).position(), 11u);
  EXPECT_FALSE(answer->read_log().end());
  EXPECT_EQ(answer->read_log().next_after_position(), 17u);
  page.mutable_read_log()->set_to_position(1000);
  auto past = (*admin)->Call(page).get();
  ASSERT_TRUE(past.ok());
  EXPECT_EQ(past->error().code(), v1::FAILED_PRECONDITION)
      << past->error().message();
  // An incremental whose base is past the end is refused.
  EXPECT_EQ(CodeOf((*admin)->BackupBegin(5000).status()),
            CAIRN_E_FAILED_PRECONDITION);

  const std::string text = Slurp(audit);
  EXPECT_TRUE(absl::StrContains(text,
                                "\"op\":\"backup\",\"stream\":\"\",\"right\":"
                                "\"admin\",\"result\":\"denied\""))
      << text;
  EXPECT_TRUE(absl::StrContains(
      text, "\"kind\":\"action\",\"identity\":\"CN=ops-admin\""))
      << text;
  EXPECT_TRUE(absl::StrContains(text,
                                "\"op\":\"read_log\",\"stream\":\"\",\"right\":"
                                "\"admin\",\"result\":\"allowed\""))
      << text;
  // Actions: the backup that began, and the one refused past the end.
  EXPECT_EQ(testing::CountOccurrences(text, "\"kind\":\"action\""), 2) << text;
  EXPECT_TRUE(absl::StrContains(text,
                                "\"op\":\"backup\",\"stream\":\"\",\"right\":"
                                "\"admin\",\"result\":\"ok\""))
      << text;
}

TEST_F(CairndAccess, AuditLogRecordsEveryDecisionAndAdminActionInAChain) {
  const std::string audit = File("chain.audit");
  auto server = StartWithRules(audit);
  ASSERT_NE(server, nullptr);
  {
    auto orders = ConnectAs(*server, "orders");
    auto admin = ConnectAs(*server, "admin");
    ASSERT_TRUE(orders.ok() && admin.ok()) << server->Log();
    ASSERT_TRUE((*orders)->Append("orders-1", ExpectedRevision::Any(), OneEvent()).ok());
    ASSERT_FALSE((*orders)->DeleteTo("orders-1", 1).ok());
    ASSERT_TRUE((*admin)->DeleteTo("orders-1", 1).ok());
  }
  // Each line is written before its answer, so it is there now.
  const std::string text = Slurp(audit);
  EXPECT_TRUE(absl::StrContains(
      text, "\"kind\":\"access\",\"identity\":\"CN=orders-svc\""))
      << text;
  EXPECT_TRUE(absl::StrContains(
      text, "\"op\":\"append\",\"stream\":\"orders-1\",\"right\":\"write\","
            "\"result\":\"allowed\""))
      << text;
  EXPECT_TRUE(absl::StrContains(
      text, "\"op\":\"delete_to\",\"stream\":\"orders-1\",\"right\":\"admin\","
            "\"result\":\"denied\""))
      << text;
  EXPECT_TRUE(absl::StrContains(
      text, "\"kind\":\"action\",\"identity\":\"CN=ops-admin\""))
      << text;
  EXPECT_TRUE(absl::StrContains(text, "\"result\":\"ok\"")) << text;
  EXPECT_FALSE(absl::StrContains(text, "secret-payload")) << "event data leaked";
  auto summary = cairnd::VerifyAuditChain({audit});
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(summary->lines, 4u);  // append, delete denied, delete allowed, its outcome
  EXPECT_TRUE(summary->starts_at_genesis);

  // A restart continues the chain in the same file.
  EXPECT_EQ(server->Terminate(), 0);
  auto again = StartWithRules(audit);
  ASSERT_NE(again, nullptr);
  auto admin = ConnectAs(*again, "admin");
  ASSERT_TRUE(admin.ok());
  ASSERT_TRUE((*admin)->HeadRevision("orders-1").ok());
  summary = cairnd::VerifyAuditChain({audit});
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(summary->last_seq, 5u);
}

// A connection refused before it makes a request is an access decision
// too (issue #13: one line per decision): a certificate another CA signed
// fails the TLS handshake, and plain TCP on the TLS port is refused; each
// leaves a line, written before the connection closes, in the same chain.
TEST_F(CairndAccess, ConnectionsRefusedBeforeAnyRequestLeaveAnAuditLineEach) {
  const std::string audit = File("refused.audit");
  auto server = StartWithRules(audit);
  ASSERT_NE(server, nullptr);
  EXPECT_FALSE(ConnectAs(*server, "stranger").ok());
  EXPECT_FALSE(Client::Connect(server->client_options()).ok());  // plain TCP
  // The server writes the line before it closes; the client may see the
  // close a moment before the write returns, so look for at most 5 s.
  std::string text;
  for (int i = 0; i < 100; ++i) {
    text = Slurp(audit);
    if (absl::StrContains(text, "\"op\":\"tls_handshake\"") &&
        absl::StrContains(text, "\"op\":\"plain_tcp\"")) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_TRUE(absl::StrContains(
      text, "\"kind\":\"access\",\"identity\":\"anonymous@127.0.0.1\""))
      << text;
  EXPECT_TRUE(absl::StrContains(
      text,
      "\"op\":\"tls_handshake\",\"stream\":\"\",\"right\":\"\","
      "\"result\":\"denied\""))
      << text;
  EXPECT_TRUE(
      absl::StrContains(text,
                        "\"op\":\"plain_tcp\",\"stream\":\"\",\"right\":\"\","
                        "\"result\":\"denied\""))
      << text;
  auto summary = cairnd::VerifyAuditChain({audit});
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(summary->lines, 2u) << text;
}

TEST_F(CairndAccess, AnonymousLoopbackClientHasOnlyWhatRulesGrantOnceRulesExist) {
  auto server = TestServer::Start({"--set", "access.look=anonymous: read *"});
  ASSERT_TRUE(server.ok()) << server.status();
  auto client = (*server)->Connect();
  ASSERT_TRUE(client.ok());
  EXPECT_TRUE((*client)->ReadStream("any").ok());
  absl::Status denied =
      (*client)->Append("any", ExpectedRevision::Any(), OneEvent()).status();
  EXPECT_TRUE(absl::IsPermissionDenied(denied)) << denied;
  EXPECT_TRUE(absl::StrContains(denied.message(), "anonymous@127.0.0.1 has no write"))
      << denied;
}

TEST_F(CairndAccess, RequestsAreRefusedWhenTheAuditLogCannotBeWritten) {
  auto server = TestServer::Start({"--set", "audit.path=/dev/full"});
  ASSERT_TRUE(server.ok()) << server.status();
  auto client = (*server)->Connect();
  ASSERT_TRUE(client.ok());
  absl::Status refused =
      (*client)->Append("s", ExpectedRevision::Any(), OneEvent()).status();
  EXPECT_FALSE(refused.ok());
  EXPECT_TRUE(absl::StrContains(refused.message(), "cannot write its audit log"))
      << refused;
  // The log stays failed: later requests are refused too.
  auto head = (*client)->HeadPosition();
  ASSERT_FALSE(head.ok());
  EXPECT_TRUE(absl::StrContains(head.status().message(), "cannot write its audit log"))
      << head.status();
  EXPECT_TRUE((*server)->WaitForLog("audit log write failed")) << (*server)->Log();
}

TEST_F(CairndAccess, BadRuleStopsStartUpNamingSectionAndKey) {
  auto server = TestServer::Start({"--set", "access.broken=CN=x: writ orders-"});
  ASSERT_FALSE(server.ok());
  EXPECT_TRUE(absl::StrContains(server.status().ToString(),
                                "[access] broken = CN=x: writ orders-: 'writ' is not a right"))
      << server.status();
}

TEST_F(CairndAccess, CairndRefusesToStartOnAKeyedAuditLogCutAtItsEnd) {
  const std::string audit = File("keyed.audit");
  const std::string key = File("audit.key");
  std::ofstream(key, std::ios::trunc) << std::string(64, 'a');
  std::filesystem::permissions(key, std::filesystem::perms(0600));
  const std::vector<std::string> args = {
      "--set", "access.ops=anonymous@127.0.0.1: admin *",
      "--set", "audit.path=" + audit,
      "--set", "audit.key-file=" + key};
  {
    auto server = TestServer::Start(args);
    ASSERT_TRUE(server.ok()) << server.status();
    auto client = (*server)->Connect();
    ASSERT_TRUE(client.ok()) << client.status();
    for (int i = 0; i < 3; ++i) {
      ASSERT_TRUE(
          (*client)->Append("s", ExpectedRevision::Any(), OneEvent()).ok());
    }
    client->reset();
    EXPECT_EQ((*server)->Terminate(), 0);
  }
  auto head =
      cairnd::ReadAuditHead(cairnd::AuditHeadPath(audit), std::string(64, 'a'));
  ASSERT_TRUE(head.ok()) << head.status();
  ASSERT_TRUE(head->has_value());
  EXPECT_TRUE((*head)->keyed);
  const uint64_t written = (*head)->seq;
  ASSERT_GE(written, 3u);
  // The last line goes: a valid chain is left, the head still says `written`.
  std::string text = Slurp(audit);
  text.erase(text.rfind('\n', text.size() - 2) + 1);
  std::ofstream(audit, std::ios::trunc) << text;
  auto restarted = TestServer::Start(args);
  ASSERT_FALSE(restarted.ok())
      << "cairnd continued an audit log cut at its end";
  const std::string message(restarted.status().message());
  EXPECT_TRUE(absl::StrContains(message, audit + ": truncated: 1 line(s)"))
      << message;
  EXPECT_TRUE(absl::StrContains(message,
                                absl::StrCat("last intact seq: ", written - 1)))
      << message;
}

}  // namespace
}  // namespace cairn
