// Clients that misbehave or exhaust the server's resources against a real
// cairnd: sockets that never authenticate, half-closed clients, descriptor
// exhaustion (under a lowered RLIMIT_NOFILE), and store contents that are
// not UTF-8. None of them may take the server down or lock others out.
#include <gtest/gtest.h>

#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "cairn/builtins.h"
#include "cairn/client.h"
#include "cairn/plugin_registry.h"
#include "cairn/store.h"
#include "test_server.h"

namespace cairn {
namespace {

using testing::CountOccurrences;
using testing::MetricValue;
using testing::RawConnection;
using testing::TestServer;

std::vector<EventData> Events(int count, size_t bytes = 8) {
  std::vector<EventData> events(count);
  for (auto& event : events) {
    event.type = "Tested";
    event.data.assign(bytes, 'x');
  }
  return events;
}

// Opens `count` TCP connections to `port` that send nothing.
std::vector<std::unique_ptr<RawConnection>> Silent(uint16_t port, int count) {
  std::vector<std::unique_ptr<RawConnection>> sockets;
  for (int i = 0; i < count; ++i) {
    auto raw = RawConnection::Open(port);
    EXPECT_TRUE(raw.ok()) << raw.status();
    if (raw.ok()) sockets.push_back(*std::move(raw));
  }
  return sockets;
}

// ----------------------------------------------- unauthenticated sockets --

TEST(CairndConnections, SilentPlainSocketIsClosedAfterTheHandshakeTimeout) {
  // Before: a socket that never sent hello was held for the 5-minute idle
  // timeout.
  auto server = TestServer::Start({"--set", "limits.handshake-timeout=300ms"});
  ASSERT_TRUE(server.ok()) << server.status();
  auto raw = RawConnection::Open((*server)->port());
  ASSERT_TRUE(raw.ok());
  auto payload = (*raw)->ReadFramePayload(5000);
  ASSERT_TRUE(payload.ok()) << payload.status();
  v1::Response response;
  ASSERT_TRUE(response.ParseFromString(*payload));
  EXPECT_EQ(response.error().code(), v1::HELLO_REQUIRED);
  EXPECT_NE(response.error().message().find("handshake-timeout"),
            std::string::npos)
      << response.error().message();
  EXPECT_TRUE(response.closing());
  EXPECT_TRUE((*raw)->WaitClosed(5000));
  EXPECT_EQ(*MetricValue((*server)->http_port(), "cairnd_hello_timeouts_total"),
            1);
  EXPECT_EQ((*server)->Terminate(), 0);
}

TEST(CairndConnections, SilentSocketsDoNotCountAgainstMaxConnections) {
  auto server = TestServer::Start({"--set", "limits.max-connections=1"});
  ASSERT_TRUE(server.ok()) << server.status();
  auto silent = Silent((*server)->port(), 3);
  auto a = (*server)->Connect();
  ASSERT_TRUE(a.ok()) << a.status() << "\n" << (*server)->Log();
  EXPECT_TRUE((*a)->HeadPosition().ok());
  auto b = (*server)->Connect();
  ASSERT_FALSE(b.ok());
  EXPECT_NE(b.status().message().find("max-connections"), std::string::npos)
      << b.status();
  EXPECT_EQ((*server)->Terminate(), 0);
}

TEST(CairndConnections, PendingConnectionsPastTheLimitEvictTheOldest) {
  auto server =
      TestServer::Start({"--set", "limits.max-pending-connections=2"});
  ASSERT_TRUE(server.ok()) << server.status();
  auto silent = Silent((*server)->port(), 2);
  // The client's own connection is the third pending one: the oldest goes.
  auto client = (*server)->Connect();
  ASSERT_TRUE(client.ok()) << client.status();
  EXPECT_TRUE(silent[0]->WaitClosed(5000));
  EXPECT_TRUE((*client)->HeadPosition().ok());
  EXPECT_EQ(*MetricValue((*server)->http_port(),
                         "cairnd_connections_evicted_total"),
            1);
  // The second silent socket is still pending (not evicted).
  EXPECT_EQ(*MetricValue((*server)->http_port(), "cairnd_connections_pending"),
            1);
  EXPECT_EQ((*server)->Terminate(), 0);
}

// ------------------------------------------------------------ half-close --

TEST(CairndConnections, HalfClosedClientGetsEveryAnswer) {
  // Before: EOF from the client aborted the connection, dropping the answers
  // of requests still running (an append sent that way was applied, its
  // answer lost).
  auto server = TestServer::Start({"--set", "server.inline-appends=off"});
  ASSERT_TRUE(server.ok()) << server.status();
  {
    auto client = (*server)->Connect();
    ASSERT_TRUE(client.ok());
    ASSERT_TRUE((*client)->Append("s", ExpectedRevision::Any(), Events(3)).ok());
  }
  auto raw = RawConnection::Open((*server)->port());
  ASSERT_TRUE(raw.ok());
  constexpr int kRequests = 300;  // above max-inflight: some wait unread
  auto answered =
      testing::PipelineThenHalfClose(**raw, kRequests, "half-closed", "s");
  ASSERT_TRUE(answered.ok()) << answered.status();
  EXPECT_EQ(answered->size(), static_cast<size_t>(kRequests + 1));
  EXPECT_TRUE((*raw)->WaitClosed(5000));
  auto client = (*server)->Connect();
  ASSERT_TRUE(client.ok());
  EXPECT_EQ(*(*client)->HeadRevision("half-closed"),
            static_cast<uint64_t>((kRequests + 2) / 3));
  EXPECT_EQ((*server)->Terminate(), 0);
}

// ------------------------------------------------ descriptor exhaustion --

constexpr uint64_t kMaxOpenFiles = 256;

// CPU seconds (user + system) process `pid` has used, from /proc/PID/stat;
// -1 if it cannot be read.
double CpuSeconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(in, line)) return -1;
  const size_t paren = line.rfind(')');
  if (paren == std::string::npos) return -1;
  std::istringstream fields(line.substr(paren + 2));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  // Fields 3.. follow the name: utime and stime are the 14th and 15th.
  for (int i = 3; i <= 15 && fields >> field; ++i) {
    if (i == 14) utime = std::stoull(field);
    if (i == 15) stime = std::stoull(field);
  }
  return static_cast<double>(utime + stime) /
         static_cast<double>(::sysconf(_SC_CLK_TCK));
}

TEST(CairndFdExhaustion, HttpFloodLeavesTheProtocolPortWorking) {
  // Before: HTTP connections had no limit; once they used every descriptor
  // the HTTP accept loop spun on EMFILE and a new protocol connection could
  // abort the process.
  auto server = TestServer::Start({}, "", kMaxOpenFiles);
  ASSERT_TRUE(server.ok()) << server.status();
  auto a = (*server)->Connect();
  ASSERT_TRUE(a.ok());
  auto flood = Silent((*server)->http_port(), 2 * kMaxOpenFiles);
  ClientOptions options = (*server)->client_options();
  options.request_timeout = std::chrono::seconds(10);
  auto b = Client::Connect(options);
  ASSERT_TRUE(b.ok()) << b.status() << "\n" << (*server)->Log();
  EXPECT_TRUE((*b)->HeadPosition().ok());
  EXPECT_TRUE((*a)->Append("during-flood", ExpectedRevision::Any(), Events(1))
                  .ok());
  EXPECT_TRUE((*server)->Running()) << (*server)->Log();
  flood.clear();
  // HTTP answers again once the flood is gone (the refused sockets were
  // closed at accept, the admitted ones end on the 10 s read timeout or EOF).
  absl::StatusOr<double> refused;
  for (int i = 0; i < 100; ++i) {
    refused = MetricValue((*server)->http_port(),
                          "cairnd_http_connections_refused_total");
    if (refused.ok()) break;
  }
  ASSERT_TRUE(refused.ok()) << refused.status();
  EXPECT_GT(*refused, 0);
  EXPECT_EQ((*server)->Terminate(), 0);
}

TEST(CairndFdExhaustion, ProtocolFloodKeepsAReserveForExistingWork) {
  // Silent sockets up to the descriptor limit (no eviction, no
  // max-connections to stop them): the accept loop keeps fd-reserve
  // descriptors free, so the store can still open new segment files for a
  // client that was already connected.
  auto server = TestServer::Start(
      {"--set", "limits.max-pending-connections=100000", "--set",
       "limits.handshake-timeout=60s"},
      "", kMaxOpenFiles);
  ASSERT_TRUE(server.ok()) << server.status();
  auto a = (*server)->Connect();
  ASSERT_TRUE(a.ok());
  auto flood = Silent((*server)->port(), 2 * kMaxOpenFiles);
  ASSERT_TRUE((*server)->WaitForLog("file descriptors low")) << (*server)->Log();
  // Sockets past the limit wait in the backlog: the accept loop backs off
  // instead of spinning on them (it used to take a whole core). Over one
  // second it may use at most 0.3 s of CPU (spinning: about 1 s).
  const double cpu_before = CpuSeconds((*server)->pid());
  std::this_thread::sleep_for(std::chrono::seconds(1));
  const double cpu_used = CpuSeconds((*server)->pid()) - cpu_before;
  ASSERT_GE(cpu_before, 0);
  EXPECT_LT(cpu_used, 0.3) << "cairnd used " << cpu_used
                           << " s of CPU in 1 s while the flood waited";
  // 24 MiB through 8 MiB segments: new segment files while the flood holds
  // every descriptor outside the reserve.
  for (int i = 0; i < 24; ++i) {
    auto appended = (*a)->Append("big", ExpectedRevision::Any(),
                                 Events(1, 1u << 20));
    ASSERT_TRUE(appended.ok()) << i << ": " << appended.status() << "\n"
                               << (*server)->Log();
  }
  EXPECT_TRUE((*server)->Running());
  flood.clear();
  auto b = (*server)->Connect();
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(*(*b)->HeadRevision("big"), 24u);
  EXPECT_GT(*MetricValue((*server)->http_port(),
                         "cairnd_fd_reserve_refusals_total"),
            0);
  // One episode, one line.
  EXPECT_EQ(CountOccurrences((*server)->Log(), "file descriptors low"), 1)
      << (*server)->Log();
  EXPECT_EQ((*server)->Terminate(), 0);
}

// ------------------------------------------------------ non-UTF-8 names --

TEST(CairndStoreContents, NamesThatAreNotUtf8CanBeReadRemotely) {
  // A store written before names had to be UTF-8 may hold such a stream
  // name. Before: every read-all, streams listing or subscription that
  // reached it failed on the client with "not a cairn.v1.Response" (the
  // protobuf string fields must be UTF-8).
  const std::string bad_stream = "bad-\xff\xfe";
  const std::string bad_type = "Type\xc3";
  const std::string bad_tag = "tag\x80";
  std::string pattern =
      (std::filesystem::temp_directory_path() / "cairnd-utf8-XXXXXX").string();
  ASSERT_NE(mkdtemp(pattern.data()), nullptr);
  const std::string data_dir = pattern + "/data";
  {
    PluginRegistry registry;
    ASSERT_TRUE(RegisterBuiltinPlugins(registry).ok());
    SiteConfig site;
    site.path = data_dir;
    site.storage.options = {{"fsync", "never"}};
    auto store = Store::Open(site, registry);
    ASSERT_TRUE(store.ok()) << store.status();
    ASSERT_TRUE((*store)->Append("good", ExpectedRevision::Any(), Events(1)).ok());
    // Straight into the storage plugin, past any name rule of the Store,
    // with the stored bytes (the envelope) of the event just written.
    const auto* storage = (*store)->storage_plugin()->storage();
    std::string stored;
    char message[256] = {};
    cairn_error error{message, sizeof(message)};
    ASSERT_EQ(storage->read_all(
                  (*store)->raw_storage(), 0, 1, 1,
                  [](void* out, const cairn_event* event) -> int {
                    static_cast<std::string*>(out)->assign(
                        reinterpret_cast<const char*>(event->data.data),
                        event->data.size);
                    return 1;
                  },
                  &stored, &error),
              CAIRN_OK)
        << message;
    const cairn_bytes tag{reinterpret_cast<const uint8_t*>(bad_tag.data()),
                          bad_tag.size()};
    cairn_event event{};
    event.size = sizeof(event);
    event.type = {reinterpret_cast<const uint8_t*>(bad_type.data()),
                  bad_type.size()};
    event.timestamp_us = 1;
    event.data = {reinterpret_cast<const uint8_t*>(stored.data()),
                  stored.size()};
    event.tag_count = 1;
    event.tags = &tag;
    cairn_append_result result{};
    const cairn_event* batch[] = {&event};
    cairn_append_request request{
        sizeof(request),
        CAIRN_EXPECT_ANY,
        0,
        {reinterpret_cast<const uint8_t*>(bad_stream.data()),
         bad_stream.size()},
        batch,
        1,
        nullptr,
        nullptr,
        {}};
    result.size = sizeof(result);
    ASSERT_EQ(
        storage->append((*store)->raw_storage(), &request, &result, &error),
        CAIRN_OK)
        << message;
    ASSERT_TRUE((*store)->Append("good", ExpectedRevision::Any(), Events(1)).ok());
  }
  auto server = TestServer::Start({}, data_dir);
  ASSERT_TRUE(server.ok()) << server.status();
  auto client = (*server)->Connect();
  ASSERT_TRUE(client.ok());

  std::vector<RecordedEvent> all;
  const absl::Status read = (*client)->ReadAll(
      0, 100, [&](const RecordedEvent& event) {
        all.push_back(event);
        return true;
      });
  ASSERT_TRUE(read.ok()) << read << "\n" << (*server)->Log();
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[1].stream, bad_stream);
  EXPECT_EQ(all[1].type, bad_type);
  ASSERT_EQ(all[1].tags.size(), 1u);
  EXPECT_EQ(all[1].tags[0], bad_tag);

  auto streams = (*client)->ListStreams(0, 100);
  ASSERT_TRUE(streams.ok()) << streams.status();
  ASSERT_EQ(streams->size(), 2u);
  EXPECT_EQ((*streams)[1].name, bad_stream);

  auto subscription = (*client)->Subscribe(SubscriptionFilter{});
  ASSERT_TRUE(subscription.ok());
  std::vector<RecordedEvent> live;
  for (int i = 0; i < 50 && live.size() < 3; ++i) {
    auto batch = (*subscription)->Next(10, std::chrono::milliseconds(100));
    ASSERT_TRUE(batch.ok()) << batch.status();
    live.insert(live.end(), batch->begin(), batch->end());
  }
  ASSERT_EQ(live.size(), 3u);
  EXPECT_EQ(live[1].stream, bad_stream);
  subscription->reset();

  // The same connection still serves.
  EXPECT_TRUE((*client)->HeadPosition().ok());
  client->reset();
  EXPECT_EQ((*server)->Terminate(), 0);
  std::error_code ec;
  std::filesystem::remove_all(pattern, ec);
}

}  // namespace
}  // namespace cairn
