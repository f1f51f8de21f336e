// cairnd's replication surface against real processes (issue #15): an
// append on a replica answers NOT_LEADER naming the leader, the C++ client
// follows it, a repeated idempotency key is answered with the original
// result, /health's replication section, /ready without a leader, and the
// role and epoch metrics. Roles come from the test-role-file fixture
// plugin (framework/tests/fixtures/role_file_replication.cc): the test
// writes the role file and the plugin changes role through the host's
// pause_writes / role_changed / resume_writes.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "cairn/client.h"
#include "cairn/status.h"
#include "test_server.h"

namespace cairn {
namespace {

using testing::HttpGet;
using testing::MetricValue;
using testing::TestServer;

std::vector<EventData> Events(int count) {
  std::vector<EventData> events;
  for (int i = 0; i < count; ++i) {
    EventData event;
    event.type = "Happened";
    event.data = "payload-" + std::to_string(i);
    events.push_back(event);
  }
  return events;
}

class CairndReplicationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("cairnd-replication-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  static void WriteRole(const std::filesystem::path& file,
                        const std::string& line) {
    // Written whole and renamed, so the plugin never reads half a line.
    const std::filesystem::path tmp = file.string() + ".tmp";
    {
      std::ofstream out(tmp);
      out << line << "\n";
    }
    std::filesystem::rename(tmp, file);
  }

  // A cairnd whose replication role is read from `role_file`.
  std::unique_ptr<TestServer> Start(const std::filesystem::path& role_file,
                                    const std::string& line,
                                    std::vector<std::string> more = {}) {
    WriteRole(role_file, line);
    std::vector<std::string> args = {
        "--plugin-dir", std::string(CAIRN_TEST_FIXTURE_DIR) + "/replication",
        "--set",        "replication.plugin=test-role-file",
        "--set",        "replication.role-file=" + role_file.string()};
    args.insert(args.end(), more.begin(), more.end());
    auto server = TestServer::Start(args);
    EXPECT_TRUE(server.ok()) << server.status();
    return server.ok() ? *std::move(server) : nullptr;
  }

  // Waits (at most 20 s) until /health says `text`.
  static bool WaitForHealth(const TestServer& server, const std::string& text) {
    const auto give_up =
        std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (std::chrono::steady_clock::now() < give_up) {
      auto health = HttpGet(server.http_port(), "/health");
      if (health.ok() && health->second.find(text) != std::string::npos)
        return true;
      std::this_thread::yield();
    }
    return false;
  }

  std::filesystem::path dir_;
};

TEST_F(CairndReplicationTest, AReplicaAnswersNotLeaderAndTheClientFollows) {
  auto primary = Start(dir_ / "a.role", "primary 3 a -");
  ASSERT_NE(primary, nullptr);
  const std::string leader_address =
      "127.0.0.1:" + std::to_string(primary->port());
  auto replica = Start(dir_ / "b.role", "replica 3 a " + leader_address);
  ASSERT_NE(replica, nullptr);

  // The protocol answer names the leader.
  auto raw_client = replica->Connect();
  ASSERT_TRUE(raw_client.ok()) << raw_client.status();
  v1::Request request;
  request.mutable_append()->set_stream("s");
  request.mutable_append()->add_events()->set_type("Happened");
  auto response = (*raw_client)->Call(request).get();
  ASSERT_TRUE(response.ok()) << response.status();
  ASSERT_EQ(response->error().code(), v1::NOT_LEADER)
      << response->DebugString();
  EXPECT_TRUE(response->error().leader().known());
  EXPECT_EQ(response->error().leader().node(), "a");
  EXPECT_EQ(response->error().leader().address(), leader_address);
  EXPECT_EQ(response->error().leader().epoch(), 3u);

  // Client::Append follows it: the events land on the primary.
  absl::StatusOr<AppendResult> appended =
      (*raw_client)->Append("s", ExpectedRevision::Any(), Events(2));
  ASSERT_TRUE(appended.ok()) << appended.status();
  auto on_primary = primary->Connect();
  ASSERT_TRUE(on_primary.ok());
  auto read = (*on_primary)->ReadStream("s");
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->size(), 2u);
  auto replica_head = (*raw_client)->HeadPosition();  // reads stay on b
  ASSERT_TRUE(replica_head.ok()) << replica_head.status();
  EXPECT_EQ(*replica_head, 0u);
}

// Writes waiting for replication (a primary whose replicas do not answer)
// leave reads, status and head requests a worker: they run on a pool of
// their own. Before, the held appends took every worker and the server
// answered nothing until replication did.
TEST_F(CairndReplicationTest, ReadsAnswerWhileEveryWriteWaitsForReplication) {
  const std::filesystem::path hold = dir_ / "hold";
  { std::ofstream(hold) << "hold\n"; }
  auto server = Start(dir_ / "a.role", "primary 1 a -",
                      {"--set", "replication.hold-file=" + hold.string()});
  ASSERT_NE(server, nullptr);
  auto writer = server->Connect();
  ASSERT_TRUE(writer.ok()) << writer.status();
  // Twice as many appends as the test server's workers (4), each to its own
  // stream (appends of one stream on one connection run one after another).
  std::vector<decltype((*writer)->Call(v1::Request()))> held;
  for (int i = 0; i < 8; ++i) {
    v1::Request request;
    request.mutable_append()->set_stream("held-" + std::to_string(i));
    request.mutable_append()->add_events()->set_type("Happened");
    held.push_back((*writer)->Call(request));
  }
  // All eight are on the workers (four in replicate, four queued).
  const auto give_up =
      std::chrono::steady_clock::now() + std::chrono::seconds(10);
  absl::StatusOr<double> inflight = 0.0;
  while (std::chrono::steady_clock::now() < give_up) {
    inflight = MetricValue(server->http_port(), "cairnd_requests_inflight");
    if (inflight.ok() && *inflight >= 8) break;
    std::this_thread::yield();
  }
  ASSERT_TRUE(inflight.ok()) << inflight.status();
  ASSERT_GE(*inflight, 8) << "the held appends did not reach the workers";
  for (auto& call : held) {
    ASSERT_EQ(call.wait_for(std::chrono::seconds(0)),
              std::future_status::timeout)
        << "an append was answered while replication held it";
  }
  auto reader = server->Connect();
  ASSERT_TRUE(reader.ok()) << reader.status();
  for (int i = 0; i < 10; ++i) {  // more than the read workers too
    v1::Request request;
    if (i % 2 == 0) {
      request.mutable_server_info();
    } else {
      request.mutable_read_stream()->set_stream("held-0");
    }
    auto call = (*reader)->Call(request);
    ASSERT_EQ(call.wait_for(std::chrono::seconds(10)),
              std::future_status::ready)
        << "request " << i << " (" << request.ShortDebugString()
        << ") was not answered within 10 s while appends wait for replication";
    auto response = call.get();
    ASSERT_TRUE(response.ok()) << response.status();
    EXPECT_FALSE(response->has_error()) << response->DebugString();
  }
  auto health = HttpGet(server->http_port(), "/health");
  ASSERT_TRUE(health.ok()) << health.status();
  // Replication answers: every held append completes.
  std::filesystem::remove(hold);
  for (auto& call : held) {
    ASSERT_EQ(call.wait_for(std::chrono::seconds(20)),
              std::future_status::ready);
    auto response = call.get();
    ASSERT_TRUE(response.ok()) << response.status();
    EXPECT_FALSE(response->has_error()) << response->DebugString();
  }
}

TEST_F(CairndReplicationTest, FollowingIsBoundedByTheRetryCount) {
  // Two replicas naming each other: a client must give up, not loop.
  auto first = Start(dir_ / "a.role", "replica 2 b -");
  ASSERT_NE(first, nullptr);
  auto second = Start(dir_ / "b.role",
                      "replica 2 a 127.0.0.1:" + std::to_string(first->port()));
  ASSERT_NE(second, nullptr);
  WriteRole(dir_ / "a.role",
            "replica 2 b 127.0.0.1:" + std::to_string(second->port()));
  ASSERT_TRUE(WaitForHealth(*first, "\"leader_address\":\"127.0.0.1:" +
                                        std::to_string(second->port())));
  ClientOptions options = first->client_options();
  options.max_append_retries = 3;
  auto client = Client::Connect(options);
  ASSERT_TRUE(client.ok()) << client.status();
  absl::StatusOr<AppendResult> appended =
      (*client)->Append("s", ExpectedRevision::Any(), Events(1));
  ASSERT_FALSE(appended.ok());
  EXPECT_TRUE(IsNotLeader(appended.status())) << appended.status();
  EXPECT_NE(appended.status().message().find("gave up after 3 retries"),
            std::string::npos)
      << appended.status();
}

TEST_F(CairndReplicationTest,
       ARepeatedIdempotencyKeyIsAnsweredWithTheOriginal) {
  auto server = Start(dir_ / "a.role", "primary 1 a -");
  ASSERT_NE(server, nullptr);
  auto client = server->Connect();
  ASSERT_TRUE(client.ok());
  v1::Request request;
  auto* append = request.mutable_append();
  append->set_stream("s");
  append->add_events()->set_type("Happened");
  append->set_idempotency_key("key-1");
  auto first = (*client)->Call(request).get();
  ASSERT_TRUE(first.ok());
  ASSERT_FALSE(first->has_error()) << first->DebugString();
  auto again = (*client)->Call(request).get();
  ASSERT_TRUE(again.ok());
  ASSERT_FALSE(again->has_error()) << again->DebugString();
  EXPECT_EQ(again->append().first_position(), first->append().first_position());
  EXPECT_EQ(again->append().last_revision(), first->append().last_revision());
  EXPECT_FALSE(first->append().repeated());
  EXPECT_TRUE(again->append().repeated());
  EXPECT_EQ(again->append().epoch(), first->append().epoch());
  auto head = (*client)->HeadPosition();
  ASSERT_TRUE(head.ok());
  EXPECT_EQ(*head, first->append().last_position()) << "the retry wrote again";
  auto answered =
      MetricValue(server->http_port(), "cairnd_append_retries_answered_total");
  ASSERT_TRUE(answered.ok()) << answered.status();
  EXPECT_EQ(*answered, 1);
  // Another key writes; the same key on another stream writes too.
  append->set_idempotency_key("key-2");
  auto other = (*client)->Call(request).get();
  ASSERT_TRUE(other.ok());
  EXPECT_GT(other->append().first_position(), first->append().last_position());
  append->set_stream("t");
  append->set_idempotency_key("key-1");
  auto other_stream = (*client)->Call(request).get();
  ASSERT_TRUE(other_stream.ok());
  EXPECT_GT(other_stream->append().first_position(),
            other->append().last_position());
}

// mmaplog keeps keys with their batches: a retry that reaches the server
// after a restart is still answered with the original, and the C++
// client's own key (Client::Append's last argument) is the one sent.
TEST_F(CairndReplicationTest, ARepeatIsRecognisedAfterARestart) {
  const std::string data = (dir_ / "data").string();
  AppendResult first;
  {
    auto server = TestServer::Start({}, data);
    ASSERT_TRUE(server.ok()) << server.status();
    auto client = (*server)->Connect();
    ASSERT_TRUE(client.ok()) << client.status();
    auto appended = (*client)->Append("s", ExpectedRevision::NoStream(),
                                      Events(2), "retry-key");
    ASSERT_TRUE(appended.ok()) << appended.status();
    EXPECT_FALSE(appended->repeated);
    first = *appended;
  }
  auto server = TestServer::Start({}, data);
  ASSERT_TRUE(server.ok()) << server.status();
  auto client = (*server)->Connect();
  ASSERT_TRUE(client.ok()) << client.status();
  // Its expected revision (no stream) no longer holds: a repeat is not
  // checked again.
  auto again = (*client)->Append("s", ExpectedRevision::NoStream(), Events(2),
                                 "retry-key");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(again->repeated);
  EXPECT_EQ(again->first_position, first.first_position);
  EXPECT_EQ(again->last_position, first.last_position);
  EXPECT_EQ(again->last_revision, 2u);
  auto head = (*client)->HeadPosition();
  ASSERT_TRUE(head.ok());
  EXPECT_EQ(*head, first.last_position) << "the retry wrote again";
  auto other = (*client)->Append("s", ExpectedRevision::NoStream(), Events(1),
                                 "another-key");
  EXPECT_TRUE(IsWrongExpectedRevision(other.status()))
      << "a new key is checked as any append: " << other.status();
  auto answered = MetricValue((*server)->http_port(),
                              "cairnd_append_retries_answered_total");
  ASSERT_TRUE(answered.ok()) << answered.status();
  EXPECT_EQ(*answered, 1);
}

TEST_F(CairndReplicationTest, HealthReadyAndMetricsFollowTheRole) {
  const std::filesystem::path role = dir_ / "a.role";
  auto server = Start(role, "primary 4 a -");
  ASSERT_NE(server, nullptr);
  auto health = HttpGet(server->http_port(), "/health");
  ASSERT_TRUE(health.ok()) << health.status();
  EXPECT_NE(
      health->second.find("\"replication\":{\"plugin\":\"test-role-file\","
                          "\"role\":\"primary\",\"epoch\":4,"
                          "\"leader_known\":true,\"leader\":\"a\""),
      std::string::npos)
      << health->second;
  EXPECT_NE(health->second.find("\"member.a.position\":0"), std::string::npos)
      << health->second;
  auto ready = HttpGet(server->http_port(), "/ready");
  ASSERT_TRUE(ready.ok());
  EXPECT_EQ(ready->first, 200) << ready->second;
  EXPECT_EQ(*MetricValue(server->http_port(), "cairnd_replication_role"), 1);
  EXPECT_EQ(*MetricValue(server->http_port(), "cairnd_replication_epoch"), 4);
  {
    // An append's answer names the epoch it was written in.
    auto client = Client::Connect(server->client_options());
    ASSERT_TRUE(client.ok()) << client.status();
    auto appended = (*client)->Append("s", ExpectedRevision::Any(), Events(1));
    ASSERT_TRUE(appended.ok()) << appended.status();
    EXPECT_EQ(appended->epoch, 4u);
  }

  // An election: no leader known. /ready says so; appends answer
  // NOT_LEADER naming nobody.
  WriteRole(role, "replica 5 - -");
  ASSERT_TRUE(WaitForHealth(*server, "\"leader_known\":false"));
  ready = HttpGet(server->http_port(), "/ready");
  ASSERT_TRUE(ready.ok());
  EXPECT_EQ(ready->first, 503);
  EXPECT_EQ(ready->second, "no leader known\n");
  EXPECT_EQ(*MetricValue(server->http_port(), "cairnd_replication_role"), 2);
  EXPECT_EQ(*MetricValue(server->http_port(), "cairnd_replication_epoch"), 5);
  EXPECT_EQ(
      *MetricValue(server->http_port(), "cairnd_replication_leader_known"), 0);
  EXPECT_EQ(*MetricValue(server->http_port(), "cairn_store_role_changes_total"),
            1);
  ClientOptions options = server->client_options();
  options.max_append_retries = 0;
  auto client = Client::Connect(options);
  ASSERT_TRUE(client.ok());
  auto appended = (*client)->Append("s", ExpectedRevision::Any(), Events(1));
  ASSERT_TRUE(IsNotLeader(appended.status())) << appended.status();
  EXPECT_FALSE(NotLeaderOf(appended.status())->known);

  WriteRole(role, "primary 6 a -");
  ASSERT_TRUE(WaitForHealth(*server, "\"epoch\":6"));
  appended = (*client)->Append("s", ExpectedRevision::Any(), Events(1));
  ASSERT_TRUE(appended.ok()) << appended.status();
  EXPECT_EQ(appended->epoch, 6u) << "the epoch of the role change";
}

}  // namespace
}  // namespace cairn
