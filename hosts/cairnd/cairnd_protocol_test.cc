// Protocol tests against a real cairnd process on a loopback port.
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "cairn/client.h"
#include "cairn/status.h"
#include "protocol/frame.h"
#include "test_server.h"

namespace cairn {
namespace {

using testing::RawConnection;
using testing::TestServer;

std::vector<EventData> Events(int count, const std::string& type = "Happened",
                              std::vector<std::string> tags = {}) {
  std::vector<EventData> events;
  for (int i = 0; i < count; ++i) {
    EventData event;
    event.type = type;
    event.data = "payload-" + std::to_string(i);
    event.metadata = "meta";
    event.tags = tags;
    event.writer = "writer-1";
    events.push_back(event);
  }
  return events;
}

std::unique_ptr<TestServer> StartServer(std::vector<std::string> args = {},
                                        const std::string& data_dir = "") {
  auto server = TestServer::Start(args, data_dir);
  EXPECT_TRUE(server.ok()) << server.status();
  return server.ok() ? *std::move(server) : nullptr;
}

std::unique_ptr<Client> Connect(const TestServer& server) {
  auto client = server.Connect();
  EXPECT_TRUE(client.ok()) << client.status();
  return client.ok() ? *std::move(client) : nullptr;
}

std::string Frame(const v1::Request& request) {
  std::string out;
  protocol::AppendFrame(request, &out);
  return out;
}

v1::Response ReadResponse(RawConnection& raw) {
  auto payload = raw.ReadFramePayload();
  EXPECT_TRUE(payload.ok()) << payload.status();
  v1::Response response;
  if (payload.ok()) {
    EXPECT_TRUE(response.ParseFromString(*payload));
  }
  return response;
}

void Hello(RawConnection& raw) {
  v1::Request hello;
  hello.set_request_id(1);
  hello.mutable_hello()->set_protocol_major(1);
  ASSERT_TRUE(raw.Send(Frame(hello)).ok());
  v1::Response response = ReadResponse(raw);
  ASSERT_TRUE(response.has_hello()) << response.DebugString();
}

TEST(CairndProtocol, AppendReadAndHeadRoundTrip) {
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  auto client = Connect(*server);
  ASSERT_NE(client, nullptr);

  auto first = client->Append("order-1", ExpectedRevision::NoStream(),
                              Events(3, "Created", {"orders"}));
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->first_revision, 1u);
  EXPECT_EQ(first->last_revision, 3u);
  EXPECT_EQ(first->first_position, 1u);
  auto second = client->Append("order-2", ExpectedRevision::Any(), Events(2));
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(second->last_position, 5u);
  auto third = client->Append("order-1", ExpectedRevision::Exact(3), Events(1));
  ASSERT_TRUE(third.ok()) << third.status();
  EXPECT_EQ(third->last_revision, 4u);

  auto events = client->ReadStream("order-1");
  ASSERT_TRUE(events.ok()) << events.status();
  ASSERT_EQ(events->size(), 4u);
  EXPECT_EQ((*events)[0].stream, "order-1");
  EXPECT_EQ((*events)[0].type, "Created");
  EXPECT_EQ((*events)[0].data, "payload-0");
  EXPECT_EQ((*events)[0].metadata, "meta");
  EXPECT_EQ((*events)[0].writer, "writer-1");
  EXPECT_EQ((*events)[0].tags, std::vector<std::string>{"orders"});
  EXPECT_EQ((*events)[3].revision, 4u);
  EXPECT_EQ((*events)[3].position, 6u);

  auto middle = client->ReadStream("order-1", 2, 3);
  ASSERT_TRUE(middle.ok());
  ASSERT_EQ(middle->size(), 2u);
  EXPECT_EQ((*middle)[0].revision, 2u);

  std::vector<uint64_t> tagged;
  ASSERT_TRUE(client
                  ->ReadTag("orders", 0, kMaxRevision,
                            [&](const RecordedEvent& e) {
                              tagged.push_back(e.position);
                              return true;
                            })
                  .ok());
  EXPECT_EQ(tagged, (std::vector<uint64_t>{1, 2, 3}));

  std::vector<uint64_t> all;
  ASSERT_TRUE(client
                  ->ReadAll(2, kMaxRevision,
                            [&](const RecordedEvent& e) {
                              all.push_back(e.position);
                              return true;
                            })
                  .ok());
  EXPECT_EQ(all, (std::vector<uint64_t>{3, 4, 5, 6}));

  EXPECT_EQ(*client->HeadRevision("order-1"), 4u);
  EXPECT_EQ(*client->HeadRevision("no-such-stream"), 0u);
  EXPECT_EQ(*client->HeadPosition(), 6u);
  EXPECT_TRUE(client->Flush().ok());
}

// Polling on both ends (the server's default 50 us, the client's opt-in
// busy_poll) changes how threads wait, never what is answered: appends and
// reads stay in order, and a server that never polls answers the same.
TEST(CairndProtocol, BusyPollingOnEitherEndAnswersTheSame) {
  for (const char* server_poll : {"0", "1000"}) {
    auto server = StartServer(
        {"--set", std::string("server.busy-poll-us=") + server_poll});
    ASSERT_NE(server, nullptr);
    ClientOptions options = server->client_options();
    options.busy_poll = std::chrono::microseconds(200);
    auto client = Client::Connect(options);
    ASSERT_TRUE(client.ok()) << client.status();
    for (uint64_t i = 1; i <= 50; ++i) {
      auto r = (*client)->Append("polled",
                                 i == 1 ? ExpectedRevision::NoStream()
                                        : ExpectedRevision::Exact(i - 1),
                                 Events(1));
      ASSERT_TRUE(r.ok()) << r.status();
      EXPECT_EQ(r->last_revision, i);
    }
    auto events = (*client)->ReadStream("polled");
    ASSERT_TRUE(events.ok()) << events.status();
    EXPECT_EQ(events->size(), 50u) << "server busy-poll-us " << server_poll;
  }
}

TEST(CairndProtocol, WrongExpectedRevisionKeepsItsCodeAndWritesNothing) {
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  auto client = Connect(*server);
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client->Append("s", ExpectedRevision::Any(), Events(2)).ok());
  auto conflict = client->Append("s", ExpectedRevision::Exact(1), Events(1));
  ASSERT_FALSE(conflict.ok());
  EXPECT_TRUE(IsWrongExpectedRevision(conflict.status())) << conflict.status();
  auto no_stream = client->Append("s", ExpectedRevision::NoStream(), Events(1));
  EXPECT_TRUE(IsWrongExpectedRevision(no_stream.status()));
  EXPECT_EQ(*client->HeadRevision("s"), 2u);
  EXPECT_EQ(*client->HeadPosition(), 2u);
}

TEST(CairndProtocol, DeleteSnapshotsListAndServerInfo) {
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  auto client = Connect(*server);
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client->Append("a", ExpectedRevision::Any(), Events(5)).ok());
  ASSERT_TRUE(client->Append("b", ExpectedRevision::Any(), Events(1)).ok());

  ASSERT_TRUE(client->DeleteTo("a", 3).ok());
  auto rest = client->ReadStream("a");
  ASSERT_TRUE(rest.ok());
  ASSERT_EQ(rest->size(), 2u);
  EXPECT_EQ((*rest)[0].revision, 4u);

  for (uint64_t revision : {2, 4}) {
    Snapshot snapshot;
    snapshot.stream = "a";
    snapshot.revision = revision;
    snapshot.timestamp_us = 1000 * revision;
    snapshot.data = "state@" + std::to_string(revision);
    ASSERT_TRUE(client->SaveSnapshot(snapshot).ok());
  }
  auto latest = client->LoadSnapshot("a");
  ASSERT_TRUE(latest.ok()) << latest.status();
  ASSERT_TRUE(latest->has_value());
  EXPECT_EQ((*latest)->revision, 4u);
  EXPECT_EQ((*latest)->data, "state@4");
  SnapshotCriteria older;
  older.max_revision = 3;
  auto bounded = client->LoadSnapshot("a", older);
  ASSERT_TRUE(bounded.ok() && bounded->has_value());
  EXPECT_EQ((*bounded)->revision, 2u);
  ASSERT_TRUE(client->DeleteSnapshot("a", 4).ok());
  EXPECT_EQ((*client->LoadSnapshot("a"))->revision, 2u);
  ASSERT_TRUE(client->DeleteSnapshots("a", SnapshotCriteria()).ok());
  EXPECT_FALSE(client->LoadSnapshot("a")->has_value());

  auto streams = client->ListStreams(0, 100);
  ASSERT_TRUE(streams.ok()) << streams.status();
  ASSERT_EQ(streams->size(), 2u);
  EXPECT_EQ((*streams)[0].name, "a");
  EXPECT_EQ((*streams)[0].head_revision, 5u);
  EXPECT_EQ((*streams)[0].deleted_to, 3u);
  EXPECT_EQ((*streams)[1].name, "b");

  auto info = client->ServerInfo();
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->protocol_major(), 1u);
  // Six events, then five control records, each at a position of its own
  // in the ordered log: the delete-to, two snapshot saves and two snapshot
  // deletes (plugin.h, "The ordered log").
  EXPECT_EQ(info->head_position(), 11u);
  EXPECT_EQ(info->role(), "standalone");
  bool has_storage = false;
  for (const auto& plugin : info->plugins()) {
    has_storage |= plugin.kind() == "storage" && plugin.name() == "mmaplog";
  }
  EXPECT_TRUE(has_storage) << info->DebugString();
  EXPECT_EQ(client->hello().max_batch(), 1000u);
  // Minor 4: the log's watermarks.
  ASSERT_TRUE(info->has_log()) << info->DebugString();
  EXPECT_EQ(info->log().first_position(), 1u);
  EXPECT_EQ(info->log().written(), 11u);
  EXPECT_EQ(info->log().committed(), 11u);
  EXPECT_EQ(info->log().epoch(), 0u);
}

// `batches` appends of 1,000 events over seven streams.
void AppendBatchesOf1000(Client& client, int batches) {
  for (int i = 0; i < batches; ++i) {
    ASSERT_TRUE(client
                    .Append("s" + std::to_string(i % 7),
                            ExpectedRevision::Any(), Events(1000))
                    .ok());
  }
}

// A connection that ends while a verify runs must not hold up its I/O
// thread: every ending connection asks the restore gate whether it began a
// restore, and that used to wait for the gate's lock, which every running
// request holds shared (a verify for as long as it reads the store). With
// one I/O thread, a client that connects and leaves, then another that
// connects and asks for the head, are answered while the verify still runs.
TEST(CairndProtocol, ConnectionsEndAndStartWhileAVerifyRuns) {
  auto started = TestServer::Start({"--io-threads", "1"});
  ASSERT_TRUE(started.ok()) << started.status();
  auto& server = *started;
  auto client = Connect(*server);
  ASSERT_NE(client, nullptr);
  // Enough events that a deep verify takes a good part of a second.
  ASSERT_NO_FATAL_FAILURE(AppendBatchesOf1000(*client, 600));
  v1::Request verify;
  verify.mutable_verify()->set_deep(true);
  auto running = client->Call(verify);
  // Let the verify start on its worker (its connection is already there).
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  {
    auto leaving = Connect(*server);
    ASSERT_NE(leaving, nullptr);
  }
  auto late = Connect(*server);
  ASSERT_NE(late, nullptr);
  auto head = late->HeadPosition();
  ASSERT_TRUE(head.ok()) << head.status();
  EXPECT_EQ(*head, 600000u);
  EXPECT_EQ(running.wait_for(std::chrono::seconds(0)),
            std::future_status::timeout)
      << "the new connection was answered only once the verify had ended: an "
         "ending connection waited for the running verify, or the verify was "
         "too short to tell";
  absl::StatusOr<v1::Response> answer = running.get();
  ASSERT_TRUE(answer.ok()) << answer.status();
  EXPECT_TRUE(answer->has_verify()) << answer->DebugString();
}

// A verify holds a worker for as long as it reads the store, so a server
// runs one at a time: of two sent together, one answers and the other is
// refused while the first runs; afterwards a new one runs.
TEST(CairndProtocol, ServerRunsOneVerifyAtATime) {
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  auto client = Connect(*server);
  ASSERT_NE(client, nullptr);
  // Enough events that a deep verify takes tens of milliseconds.
  ASSERT_NO_FATAL_FAILURE(AppendBatchesOf1000(*client, 200));
  auto verify_request = [] {
    v1::Request request;
    request.mutable_verify()->set_deep(true);
    return request;
  };
  auto first = client->Call(verify_request());
  auto second = client->Call(verify_request());
  absl::StatusOr<v1::Response> a = first.get();
  absl::StatusOr<v1::Response> b = second.get();
  ASSERT_TRUE(a.ok() && b.ok());
  int answered = 0, refused = 0;
  for (const v1::Response* r : {&*a, &*b}) {
    if (r->has_verify()) {
      ++answered;
      EXPECT_FALSE(r->verify().has_failure()) << r->DebugString();
      EXPECT_EQ(r->verify().problems_total(), 0u);
      EXPECT_NE(r->verify().checked().find("deep: 200000 event(s) opened"),
                std::string::npos)
          << r->verify().checked();
    } else {
      ++refused;
      EXPECT_EQ(r->error().code(), v1::FAILED_PRECONDITION) << r->DebugString();
      EXPECT_NE(r->error().message().find("a verify is already running"),
                std::string::npos);
    }
  }
  EXPECT_EQ(answered, 1);
  EXPECT_EQ(refused, 1);
  auto again = client->Verify(false, std::chrono::seconds(60));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(again->checked.ok()) << again->checked.status();
}

TEST(CairndProtocol, ReadsAndListsPageThroughTheServersPageLimit) {
  auto server = StartServer({"--set", "limits.max-read-events=10"});
  ASSERT_NE(server, nullptr);
  auto client = Connect(*server);
  ASSERT_NE(client, nullptr);
  for (int i = 0; i < 35; ++i) {
    ASSERT_TRUE(client->Append("s-" + std::to_string(i),
                               ExpectedRevision::Any(), Events(1)).ok());
  }
  ASSERT_TRUE(client->Append("big", ExpectedRevision::Any(), Events(35)).ok());
  auto big = client->ReadStream("big");
  ASSERT_TRUE(big.ok());
  ASSERT_EQ(big->size(), 35u);
  for (size_t i = 0; i < big->size(); ++i) EXPECT_EQ((*big)[i].revision, i + 1);

  uint64_t seen = 0;
  uint64_t last = 0;
  ASSERT_TRUE(client
                  ->ReadAll(0, 25,
                            [&](const RecordedEvent& e) {
                              EXPECT_EQ(e.position, last + 1);
                              last = e.position;
                              ++seen;
                              return true;
                            })
                  .ok());
  EXPECT_EQ(seen, 25u);
  auto streams = client->ListStreams(0, kMaxRevision);
  ASSERT_TRUE(streams.ok());
  EXPECT_EQ(streams->size(), 36u);
}

TEST(CairndProtocol, PipelinedAppendsAreAllAnsweredAndContiguous) {
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  auto client = Connect(*server);
  ASSERT_NE(client, nullptr);
  std::vector<std::future<absl::StatusOr<AppendResult>>> answers;
  const auto batch = Events(10);
  for (int i = 0; i < 400; ++i) {
    answers.push_back(client->AppendAsync("p-" + std::to_string(i % 4),
                                          ExpectedRevision::Any(), batch));
  }
  std::set<uint64_t> first_positions;
  for (auto& answer : answers) {
    auto result = answer.get();
    ASSERT_TRUE(result.ok()) << result.status();
    EXPECT_EQ(result->last_position - result->first_position, 9u);
    first_positions.insert(result->first_position);
  }
  EXPECT_EQ(first_positions.size(), 400u);
  EXPECT_EQ(*client->HeadPosition(), 4000u);
  for (int s = 0; s < 4; ++s) {
    auto events = client->ReadStream("p-" + std::to_string(s));
    ASSERT_TRUE(events.ok());
    ASSERT_EQ(events->size(), 1000u);
    for (size_t i = 0; i < events->size(); ++i) {
      ASSERT_EQ((*events)[i].revision, i + 1);
    }
  }
}

TEST(CairndProtocol, SubscriptionCatchesUpThenGoesLiveWithoutGapOrDuplicate) {
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  auto writer = Connect(*server);
  auto reader = Connect(*server);
  ASSERT_NE(writer, nullptr);
  ASSERT_NE(reader, nullptr);
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(writer->Append("w-" + std::to_string(i % 3),
                               ExpectedRevision::Any(), Events(5)).ok());
  }
  SubscriptionFilter filter;  // all, from the start
  auto subscription = reader->Subscribe(filter, /*window=*/16);
  ASSERT_TRUE(subscription.ok()) << subscription.status();

  // Live appends race the catch-up.
  std::thread live([&] {
    for (int i = 0; i < 20; ++i) {
      ASSERT_TRUE(writer->Append("w-" + std::to_string(i % 3),
                                 ExpectedRevision::Any(), Events(5)).ok());
    }
  });
  std::vector<uint64_t> positions;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (positions.size() < 200 && std::chrono::steady_clock::now() < deadline) {
    auto events = (*subscription)->Next(64, std::chrono::milliseconds(500));
    ASSERT_TRUE(events.ok()) << events.status();
    for (const auto& event : *events) positions.push_back(event.position);
  }
  live.join();
  ASSERT_EQ(positions.size(), 200u);
  for (size_t i = 0; i < positions.size(); ++i) {
    ASSERT_EQ(positions[i], i + 1) << "gap or duplicate at index " << i;
  }
  EXPECT_EQ((*subscription)->cursor(), 200u);
}

TEST(CairndProtocol, StreamAndTagSubscriptionsFollowOnlyTheirEvents) {
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  auto client = Connect(*server);
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client->Append("x", ExpectedRevision::Any(), Events(3, "T", {"red"})).ok());
  ASSERT_TRUE(client->Append("y", ExpectedRevision::Any(), Events(2)).ok());
  SubscriptionFilter by_stream{SubscriptionFilter::Kind::kStream, "x", 1};
  auto stream_sub = client->Subscribe(by_stream, 8);
  ASSERT_TRUE(stream_sub.ok()) << stream_sub.status();
  SubscriptionFilter by_tag{SubscriptionFilter::Kind::kTag, "red", 0};
  auto tag_sub = client->Subscribe(by_tag, 8);
  ASSERT_TRUE(tag_sub.ok());
  ASSERT_TRUE(client->Append("x", ExpectedRevision::Any(), Events(1, "T", {"red"})).ok());

  std::vector<uint64_t> revisions;
  while (revisions.size() < 3) {
    auto events = (*stream_sub)->Next(10, std::chrono::seconds(10));
    ASSERT_TRUE(events.ok());
    ASSERT_FALSE(events->empty()) << "timed out";
    for (const auto& e : *events) {
      EXPECT_EQ(e.stream, "x");
      revisions.push_back(e.revision);
    }
  }
  EXPECT_EQ(revisions, (std::vector<uint64_t>{2, 3, 4}));
  std::vector<uint64_t> tagged;
  while (tagged.size() < 4) {
    auto events = (*tag_sub)->Next(10, std::chrono::seconds(10));
    ASSERT_TRUE(events.ok());
    ASSERT_FALSE(events->empty()) << "timed out";
    for (const auto& e : *events) tagged.push_back(e.position);
  }
  EXPECT_EQ(tagged, (std::vector<uint64_t>{1, 2, 3, 6}));
}

TEST(CairndProtocol, SlowSubscriberGetsNoMoreThanItsCredit) {
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  auto writer = Connect(*server);
  ASSERT_NE(writer, nullptr);
  ASSERT_TRUE(writer->Append("s", ExpectedRevision::Any(), Events(50)).ok());

  auto raw = RawConnection::Open(server->port());
  ASSERT_TRUE(raw.ok());
  Hello(**raw);
  v1::Request subscribe;
  subscribe.set_request_id(7);
  subscribe.mutable_subscribe()->set_initial_credit(5);
  ASSERT_TRUE((*raw)->Send(Frame(subscribe)).ok());
  EXPECT_TRUE(ReadResponse(**raw).has_subscribed());

  auto count_events = [&](int want) {
    int got = 0;
    while (got < want) {
      v1::Response response = ReadResponse(**raw);
      EXPECT_EQ(response.request_id(), 7u);
      if (!response.has_events()) return got;
      got += response.events().events_size();
    }
    return got;
  };
  EXPECT_EQ(count_events(5), 5);
  // Everything granted has arrived; with no credit left nothing more comes,
  // though 45 events wait (bounded wait for a frame that must not come).
  EXPECT_FALSE((*raw)->ReadFramePayload(300).ok());

  v1::Request credit;
  credit.set_request_id(8);
  credit.mutable_credit()->set_subscription_id(7);
  credit.mutable_credit()->set_credit(10);
  ASSERT_TRUE((*raw)->Send(Frame(credit)).ok());
  EXPECT_EQ(count_events(10), 10);
  EXPECT_FALSE((*raw)->ReadFramePayload(300).ok());

  v1::Request cancel;
  cancel.set_request_id(9);
  cancel.mutable_cancel()->set_subscription_id(7);
  ASSERT_TRUE((*raw)->Send(Frame(cancel)).ok());
  v1::Response ended = ReadResponse(**raw);
  EXPECT_EQ(ended.request_id(), 7u);
  EXPECT_TRUE(ended.has_ended());
  v1::Response done = ReadResponse(**raw);
  EXPECT_EQ(done.request_id(), 9u);
  EXPECT_TRUE(done.has_done());
  EXPECT_TRUE(server->Running()) << server->Log();
}

TEST(CairndProtocol, UnknownMajorVersionIsRefusedWithAClearError) {
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  auto raw = RawConnection::Open(server->port());
  ASSERT_TRUE(raw.ok());
  v1::Request hello;
  hello.set_request_id(1);
  hello.mutable_hello()->set_protocol_major(2);
  ASSERT_TRUE((*raw)->Send(Frame(hello)).ok());
  v1::Response response = ReadResponse(**raw);
  EXPECT_EQ(response.error().code(), v1::UNSUPPORTED_VERSION);
  EXPECT_NE(response.error().message().find("major version 2 is not supported"),
            std::string::npos);
  EXPECT_TRUE(response.closing());
  EXPECT_TRUE((*raw)->WaitClosed());
}

TEST(CairndProtocol, HealthReadyAndMetricsOverHttp) {
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  auto client = Connect(*server);
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client->Append("m", ExpectedRevision::Any(), Events(3)).ok());
  ASSERT_TRUE(client->Flush().ok());  // at least one storage fsync

  auto health = testing::HttpGet(server->http_port(), "/health");
  ASSERT_TRUE(health.ok()) << health.status();
  EXPECT_EQ(health->first, 200);
  EXPECT_NE(health->second.find("\"store_open\":true"), std::string::npos);
  EXPECT_NE(health->second.find("\"head_position\":3"), std::string::npos);
  EXPECT_NE(health->second.find("\"role\":\"standalone\""), std::string::npos);

  auto ready = testing::HttpGet(server->http_port(), "/ready");
  ASSERT_TRUE(ready.ok());
  EXPECT_EQ(ready->first, 200);

  auto metrics = testing::HttpGet(server->http_port(), "/metrics");
  ASSERT_TRUE(metrics.ok());
  EXPECT_EQ(metrics->first, 200);
  const std::string& text = metrics->second;
  EXPECT_NE(text.find("cairnd_appends_total 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("cairnd_append_events_total 3\n"), std::string::npos);
  EXPECT_NE(text.find("cairnd_append_latency_seconds_bucket{le=\"+Inf\"} 1\n"),
            std::string::npos);
  EXPECT_NE(text.find("cairnd_connections_active 1\n"), std::string::npos);
  EXPECT_NE(text.find("cairnd_resident_memory_bytes "), std::string::npos);
  EXPECT_NE(text.find("cairnd_disk_use_bytes "), std::string::npos);
  // Store::Stats() by the export rule (metrics.h): mmaplog's totals are
  // counters, its segment count a gauge; fsync time, where the plugin
  // reports it, a counter too.
  for (const char* total : {"fsyncs", "segments_removed", "checkpoints_written",
                            "index_released_bytes"}) {
    EXPECT_NE(text.find(absl::StrCat("# TYPE cairn_storage_", total,
                                     "_total counter\n")),
              std::string::npos)
        << total << "\n"
        << text;
  }
  EXPECT_EQ(text.find("cairn_storage_fsyncs_total 0\n"), std::string::npos);
  EXPECT_NE(text.find("# TYPE cairn_storage_segments gauge\n"),
            std::string::npos);
  if (text.find("cairn_storage_fsync_seconds") != std::string::npos) {
    EXPECT_NE(
        text.find("# TYPE cairn_storage_fsync_seconds_total counter\n"),
        std::string::npos);
  }
  // The Store's own counters are not exported, except the replication role
  // changes cairnd reports (docs/server.md).
  for (size_t at = text.find("cairn_store_"); at != std::string::npos;
       at = text.find("cairn_store_", at + 1)) {
    EXPECT_EQ(text.compare(at, 31, "cairn_store_role_changes_total "), 0)
        << text.substr(at, 60);
  }

  auto missing = testing::HttpGet(server->http_port(), "/nope");
  ASSERT_TRUE(missing.ok());
  EXPECT_EQ(missing->first, 404);
}

TEST(CairndProtocol, SigtermAnswersInFlightRequestsAndExitsZero) {
  std::string data;
  {
    auto server = StartServer();
    ASSERT_NE(server, nullptr);
    // Keep the store folder for the restart below.
    data = server->dir() + "-kept";
    std::filesystem::create_directories(data);
    server.reset();
  }
  auto server = StartServer({}, data);
  ASSERT_NE(server, nullptr);
  auto client = Connect(*server);
  ASSERT_NE(client, nullptr);
  std::vector<std::future<absl::StatusOr<AppendResult>>> answers;
  for (int i = 0; i < 200; ++i) {
    answers.push_back(
        client->AppendAsync("t", ExpectedRevision::Any(), Events(5)));
  }
  ASSERT_TRUE(answers.front().get().ok());  // the server is working on them
  ASSERT_EQ(kill(server->pid(), SIGTERM), 0);
  uint64_t acknowledged = 5;
  for (size_t i = 1; i < answers.size(); ++i) {
    auto result = answers[i].get();
    // Each is either answered, or refused as the server stops taking work.
    if (result.ok()) acknowledged += 5;
  }
  EXPECT_EQ(server->Terminate(), 0) << server->Log();
  EXPECT_TRUE(server->WaitForLog("store closed", 0)) << server->Log();
  // A drain is routine: closing the acceptor and the connections is not
  // worth a warning (it once logged "accept failed: Operation canceled").
  EXPECT_EQ(server->Log().find("\"level\":\"warning\""), std::string::npos)
      << server->Log();
  server.reset();

  auto again = StartServer({}, data);
  ASSERT_NE(again, nullptr);
  auto reader = Connect(*again);
  ASSERT_NE(reader, nullptr);
  auto head = reader->HeadRevision("t");
  ASSERT_TRUE(head.ok());
  EXPECT_GE(*head, acknowledged) << "an acknowledged append was lost";
  EXPECT_EQ(again->Terminate(), 0);
  std::error_code ec;
  std::filesystem::remove_all(data, ec);
}

}  // namespace
}  // namespace cairn

namespace cairn {
namespace {

// Appends on the I/O thread (inline) and on the workers answer alike.
class CairndAppendPath : public ::testing::TestWithParam<const char*> {};

TEST_P(CairndAppendPath, GivesTheSameAnswers) {
  const std::string setting = GetParam();
  auto server = StartServer({"--set", "server.inline-appends=" + setting});
  ASSERT_NE(server, nullptr);
  EXPECT_TRUE(server->WaitForLog(setting == "on" ? "\"appends\":\"inline\""
                                                 : "\"appends\":\"workers\""))
      << server->Log();
  auto client = Connect(*server);
  ASSERT_NE(client, nullptr);
  std::vector<std::future<absl::StatusOr<AppendResult>>> answers;
  for (int i = 0; i < 50; ++i) {
    answers.push_back(client->AppendAsync("inline", ExpectedRevision::Any(),
                                          Events(2)));
  }
  for (auto& answer : answers) ASSERT_TRUE(answer.get().ok());
  auto conflict =
      client->Append("inline", ExpectedRevision::Exact(3), Events(1));
  EXPECT_TRUE(IsWrongExpectedRevision(conflict.status()));
  EXPECT_EQ(*client->HeadRevision("inline"), 100u);
  EXPECT_EQ(*client->HeadPosition(), 100u);
  auto events = client->ReadStream("inline");
  ASSERT_TRUE(events.ok());
  EXPECT_EQ(events->size(), 100u);
}

// The client sends a frame from the caller's thread when nothing is queued
// and through its I/O thread when the socket is full; pipelined appends
// must still reach the server in submission order. 64 KiB events overflow
// the loopback socket buffer, so both paths and the switch between them
// run; an append out of order fails its Exact expected revision.
TEST(CairndClient, PipelinedAppendsKeepTheirOrderWhenTheSocketFills) {
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  auto client = Connect(*server);
  ASSERT_NE(client, nullptr);
  std::vector<EventData> one = Events(1);
  one[0].data = std::string(64 * 1024, 'o');
  std::vector<std::future<absl::StatusOr<AppendResult>>> answers;
  for (uint64_t revision = 0; revision < 200; ++revision) {
    answers.push_back(client->AppendAsync(
        "ordered",
        revision == 0 ? ExpectedRevision::NoStream()
                      : ExpectedRevision::Exact(revision),
        one));
  }
  for (size_t i = 0; i < answers.size(); ++i) {
    auto result = answers[i].get();
    ASSERT_TRUE(result.ok()) << "append " << i << ": " << result.status();
    EXPECT_EQ(result->first_revision, i + 1);
  }
  EXPECT_EQ(*client->HeadRevision("ordered"), 200u);
}

// The protocol's ordering rule (docs/server.md, "Ordering"): requests on one
// connection that name the same stream take effect in the order sent, also
// when they run on the worker pool. Sent in one write: rounds of saves at
// one revision (the last must be what a load sent after them finds) and
// appends each expecting the one before (one run out of order would fail
// its expected revision).
TEST(CairndProtocol, RequestsOfOneStreamTakeEffectInTheOrderSent) {
  auto server = StartServer({"--set", "server.inline-appends=off"});
  ASSERT_NE(server, nullptr);
  auto raw = RawConnection::Open(server->port());
  ASSERT_TRUE(raw.ok()) << raw.status();
  Hello(**raw);
  constexpr int kRounds = 50;
  constexpr int kSaves = 6;
  uint64_t id = 10;
  for (int round = 0; round < kRounds; ++round) {
    std::string frames;
    for (int save = 0; save < kSaves; ++save) {
      v1::Request request;
      request.set_request_id(++id);
      auto* snapshot = request.mutable_save_snapshot()->mutable_snapshot();
      snapshot->set_stream("snap-" + std::to_string(round % 3));
      snapshot->set_revision(7);
      snapshot->set_data("save-" + std::to_string(save));
      frames += Frame(request);
    }
    v1::Request load;
    load.set_request_id(++id);
    load.mutable_load_snapshot()->set_stream("snap-" + std::to_string(round % 3));
    const uint64_t load_id = id;
    frames += Frame(load);
    ASSERT_TRUE((*raw)->Send(frames).ok());
    for (int answer = 0; answer <= kSaves; ++answer) {
      v1::Response response = ReadResponse(**raw);
      ASSERT_FALSE(response.has_error() && response.error().code() != v1::OK)
          << response.DebugString();
      if (response.request_id() != load_id) continue;
      ASSERT_TRUE(response.has_snapshot()) << response.DebugString();
      ASSERT_TRUE(response.snapshot().found());
      EXPECT_EQ(response.snapshot().snapshot().data(),
                "save-" + std::to_string(kSaves - 1))
          << "round " << round;
    }
  }
  std::string appends;
  constexpr uint64_t kAppends = 300;
  for (uint64_t revision = 0; revision < kAppends; ++revision) {
    v1::Request request;
    request.set_request_id(++id);
    auto* append = request.mutable_append();
    append->set_stream("appended");
    append->set_expected_kind(revision == 0 ? v1::EXPECTED_NO_STREAM
                                            : v1::EXPECTED_EXACT);
    append->set_expected_revision(revision);
    auto* event = append->add_events();
    event->set_type("Happened");
    event->set_data("e-" + std::to_string(revision));
    appends += Frame(request);
  }
  ASSERT_TRUE((*raw)->Send(appends).ok());
  for (uint64_t answer = 0; answer < kAppends; ++answer) {
    v1::Response response = ReadResponse(**raw);
    ASSERT_FALSE(response.has_error() && response.error().code() != v1::OK)
        << "append answer " << answer << ": " << response.DebugString();
  }
}

INSTANTIATE_TEST_SUITE_P(InlineAndWorkers, CairndAppendPath,
                         ::testing::Values("on", "off"));

TEST(CairndProtocol, AutoRunsAppendsInlineOnlyWhenTheyNeverWaitForFsync) {
  auto never = StartServer({});  // the test servers run fsync = never
  ASSERT_NE(never, nullptr);
  EXPECT_TRUE(never->WaitForLog("\"appends\":\"inline\"")) << never->Log();
  auto always = StartServer({"--set", "storage.fsync=always"});
  ASSERT_NE(always, nullptr);
  EXPECT_TRUE(always->WaitForLog("\"appends\":\"workers\""))
      << always->Log();
}

}  // namespace
}  // namespace cairn
