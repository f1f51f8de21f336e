// Three logship nodes in one process on loopback, each a cairn::Store: the
// ack rules, a replica cut off, catch-up, epoch fencing, and identical logs.
#include <sys/socket.h>

#include <future>
#include <mutex>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "cluster_test.h"
#include "epoch_file.h"
#include "frame.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "test_certs.h"

namespace cairn::logship::testing {
namespace {

using ::testing::HasSubstr;

EventData Event(std::string data) {
  EventData e;
  e.type = "T";
  e.data = std::move(data);
  return e;
}

std::map<std::string, std::string> StorageOptions(const std::string& storage) {
  if (storage == "mmaplog") {
    return {{"fsync", "always"}, {"segment-size", "4MiB"}};
  }
  return {};
}

// ack = sync with `sync_set`, every node on mmaplog with fsync = always.
ClusterOptions SyncOnMmaplog(const std::string& sync_set) {
  ClusterOptions options;
  options.ack = "sync";
  options.sync_set = sync_set;
  options.storage_options = StorageOptions("mmaplog");
  return options;
}

// Opens n1 and n2 as replicas, then n0 as primary (which, under sync or
// quorum, waits for its EPOCH record to be acknowledged).
absl::Status OpenReplicasThenPrimary(Cluster& cluster) {
  for (size_t i : {1, 2}) {
    absl::Status s = cluster.Open(i, "replica");
    if (!s.ok()) return s;
  }
  return cluster.Open(0, "primary");
}

// Waits until node i committed everything node 0 (the primary) wrote.
bool CaughtUp(Cluster& cluster, size_t i) {
  return WaitUntil([&] {
    const LogState primary = cluster.State(0);
    const LogState replica = cluster.State(i);
    return replica.written == primary.written &&
           replica.committed == primary.written;
  });
}

// n1 was closed while primary n0 and n2 went on: closes n0 and reopens n1.
// Returns where n1's log ends and where n2's does.
std::pair<uint64_t, uint64_t> ClosePrimaryAndReopenN1(Cluster& cluster) {
  const uint64_t ahead = cluster.State(2).written;
  cluster.Close(0);
  EXPECT_EQ(cluster.Open(1, "replica"), absl::OkStatus());
  return {cluster.State(1).written, ahead};
}

class AckRuleTest
    : public ::testing::TestWithParam<std::tuple<std::string, std::string>> {};

TEST_P(AckRuleTest, AppendsReachEveryNodeAndTheRuleHoldsOnReturn) {
  const auto& [storage, ack] = GetParam();
  ClusterOptions options;
  options.storage = storage;
  options.storage_options = StorageOptions(storage);
  options.ack = ack;
  if (ack == "sync") options.sync_set = "n1,n2";
  Cluster cluster(options);
  ASSERT_EQ(OpenReplicasThenPrimary(cluster), absl::OkStatus());
  EXPECT_EQ(cluster.store(0).role(), CAIRN_ROLE_PRIMARY);
  EXPECT_EQ(cluster.store(1).role(), CAIRN_ROLE_REPLICA);

  for (int i = 0; i < 100; ++i) {
    // mmaplog gets one batch per stream: its apply_log checks a batch
    // against the stream's committed head, not its written one, so a
    // replica refuses a stream's next batch before the primary's committed
    // reaches it (reported; mmaplog is not this plugin's code).
    const std::string stream = storage == "mmaplog"
                                   ? absl::StrCat("stream-", i)
                                   : absl::StrCat("stream-", i % 7);
    absl::StatusOr<AppendResult> r = cluster.store(0).Append(
        stream, ExpectedRevision::Any(),
        {Event(absl::StrCat("a", i)), Event(absl::StrCat("b", i))});
    ASSERT_TRUE(r.ok()) << r.status();
    const uint64_t last = r->last_position;
    const uint64_t d1 = cluster.State(1).durable;
    const uint64_t d2 = cluster.State(2).durable;
    if (ack == "sync") {
      ASSERT_GE(d1, last);
      ASSERT_GE(d2, last);
    } else if (ack == "quorum") {
      ASSERT_TRUE(d1 >= last || d2 >= last) << d1 << " " << d2 << " " << last;
    }
  }
  const uint64_t deleted_to = storage == "mmaplog" ? 1 : 5;
  ASSERT_TRUE(cluster.store(0).DeleteTo("stream-3", deleted_to).ok());
  ASSERT_TRUE(CaughtUp(cluster, 1));
  ASSERT_TRUE(CaughtUp(cluster, 2));
  const std::vector<std::string> log = cluster.Log(0);
  EXPECT_EQ(log.size(), cluster.State(0).written);
  EXPECT_EQ(cluster.Log(1), log);
  EXPECT_EQ(cluster.Log(2), log);
  // Replicas serve reads of what is committed.
  absl::StatusOr<std::vector<RecordedEvent>> events =
      cluster.store(2).ReadStream("stream-3");
  ASSERT_TRUE(events.ok()) << events.status();
  EXPECT_EQ(events->size(), (storage == "mmaplog" ? 2u : 28u) - deleted_to);
  // The primary hears the last acks a moment after the replicas have them.
  EXPECT_TRUE(WaitUntil([&] {
    return cluster.Stat(0, "replication.member.n1.lag_positions") == 0 &&
           cluster.Stat(0, "replication.member.n2.lag_positions") == 0;
  }));
  // Each record was shipped to both replicas (again after a reconnect)
  // and applied once by each (counters cairnd exports as *_total,
  // docs/replication.md, "Statistics").
  EXPECT_GE(cluster.Stat(0, "replication.records_shipped_total"),
            2.0 * static_cast<double>(log.size()));
  EXPECT_EQ(cluster.Stat(1, "replication.records_applied_total"),
            static_cast<double>(log.size()));
  EXPECT_EQ(cluster.Stat(2, "replication.records_applied_total"),
            static_cast<double>(log.size()));
}

INSTANTIATE_TEST_SUITE_P(
    StoragesAndRules, AckRuleTest,
    ::testing::Combine(::testing::Values("memory", "mmaplog"),
                       ::testing::Values("async", "sync", "quorum")),
    [](const auto& info) {
      return std::get<0>(info.param) + "_" + std::get<1>(info.param);
    });

// A node whose site file says coordinator = etcd (its etcd unreachable
// here) among static nodes: each side refuses the other's hello and
// position query (REASON_OTHER_GROUP) before adopting anything, so it gets
// no records and the others go on without it.
TEST(LogshipCluster, ANodeOfAnotherCoordinatorIsRefused) {
  Cluster cluster(ClusterOptions{});
  ASSERT_EQ(cluster.Open(2, "replica",
                         {{"coordinator", "etcd"},
                          {"etcd-endpoints", "127.0.0.1:1"},
                          {"lease-ttl", "2s"},
                          {"etcd-timeout", "100ms"}}),
            absl::OkStatus());
  ASSERT_EQ(cluster.Open(1, "replica"), absl::OkStatus());
  ASSERT_EQ(cluster.Open(0, "primary"), absl::OkStatus());
  absl::StatusOr<AppendResult> r =
      cluster.store(0).Append("s", ExpectedRevision::Any(), {Event("x")});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(WaitUntil(
      [&] { return cluster.Stat(2, "replication.frames_refused_total") >= 1; },
      std::chrono::seconds(10)))
      << "n2 (etcd) never refused the static primary";
  EXPECT_EQ(cluster.State(2).written, 0u) << "n2 took records of another group";
  EXPECT_EQ(cluster.Stat(0, "replication.replicas_connected"), 1);
  EXPECT_EQ(cluster.store(2).role(), CAIRN_ROLE_REPLICA);
}

TEST(LogshipCluster, ReplicaThatNeverSyncsDoesNotCountTowardSync) {
  ClusterOptions options = SyncOnMmaplog("n1");
  options.nodes = 2;
  Cluster cluster(options);
  ASSERT_EQ(cluster.Open(1, "replica", {{"durable-policy", "never"}}),
            absl::OkStatus());
  // The primary's EPOCH record cannot be acknowledged: opening reports it
  // and the store refuses writes.
  ASSERT_EQ(cluster.Open(0, "primary", {{"ack-timeout", "300ms"}}),
            absl::OkStatus());
  absl::StatusOr<AppendResult> r =
      cluster.store(0).Append("s", ExpectedRevision::Any(), {Event("x")});
  ASSERT_FALSE(r.ok());
  // The replica has the records all the same (it just never counts).
  EXPECT_TRUE(WaitUntil([&] { return cluster.State(1).written >= 1; }));
}

TEST(LogshipCluster, StoppedReplicaBlocksSyncUntilItReturns) {
  ClusterOptions options = SyncOnMmaplog("n1,n2");
  Cluster cluster(options);
  ASSERT_EQ(OpenReplicasThenPrimary(cluster), absl::OkStatus());
  ASSERT_TRUE(
      cluster.store(0).Append("s", ExpectedRevision::Any(), {Event("1")}).ok());
  // (Closed with everything committed: mmaplog reopened with written >
  // committed does not see the uncommitted tail's stream heads yet.)
  ASSERT_TRUE(CaughtUp(cluster, 2));
  cluster.Close(2);  // the connection to n2 is cut
  auto append = std::async(std::launch::async, [&] {
    return cluster.store(0).Append("t", ExpectedRevision::Any(), {Event("2")});
  });
  // n1 gets it; the append still waits for n2.
  ASSERT_TRUE(WaitUntil(
      [&] { return cluster.State(1).durable == cluster.State(0).written; }));
  EXPECT_EQ(append.wait_for(std::chrono::milliseconds(300)),
            std::future_status::timeout);
  ASSERT_EQ(cluster.Open(2, "replica"), absl::OkStatus());
  absl::StatusOr<AppendResult> r = append.get();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_GE(cluster.State(2).durable, r->last_position);
}

TEST(LogshipCluster, StoppedReplicaDoesNotBlockQuorumOfThree) {
  ClusterOptions options;
  options.ack = "quorum";
  options.storage_options = StorageOptions("mmaplog");
  Cluster cluster(options);
  ASSERT_EQ(OpenReplicasThenPrimary(cluster), absl::OkStatus());
  ASSERT_TRUE(CaughtUp(cluster, 2));
  cluster.Close(2);
  for (int i = 0; i < 20; ++i) {
    absl::StatusOr<AppendResult> r = cluster.store(0).Append(
        absl::StrCat("s", i), ExpectedRevision::Any(), {Event("x")});
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_GE(cluster.State(1).durable, r->last_position);
  }
  // n2 comes back and catches up.
  ASSERT_EQ(cluster.Open(2, "replica"), absl::OkStatus());
  ASSERT_TRUE(CaughtUp(cluster, 2));
  EXPECT_EQ(cluster.Log(2), cluster.Log(0));
}

TEST(LogshipCluster, EmptyReplicaCatchesUpOnAHundredThousandEvents) {
  ClusterOptions options;
  options.ack = "async";
  options.storage_options = {{"fsync", "never"}, {"segment-size", "16MiB"}};
  options.nodes = 2;
  Cluster cluster(options);
  ASSERT_EQ(cluster.Open(0, "primary"), absl::OkStatus());
  std::vector<EventData> batch;
  for (int i = 0; i < 100; ++i) batch.push_back(Event(std::string(40, 'e')));
  for (int i = 0; i < 1000; ++i) {
    ASSERT_TRUE(
        cluster.store(0)
            .Append(absl::StrCat("s", i % 50), ExpectedRevision::Any(), batch)
            .ok());
  }
  ASSERT_EQ(cluster.Open(1, "replica"), absl::OkStatus());
  ASSERT_TRUE(CaughtUp(cluster, 1));
  EXPECT_GE(cluster.State(1).written, 100000u);
  EXPECT_EQ(cluster.Log(1), cluster.Log(0));
}

// A raw peer speaking the protocol to a replica.
class RawPeer {
 public:
  explicit RawPeer(uint16_t port) {
    boost::asio::ip::tcp::socket socket(io_);
    socket.connect(boost::asio::ip::tcp::endpoint(
        boost::asio::ip::make_address("127.0.0.1"), port));
    connection_ = std::make_unique<Connection>(std::move(socket), 1 << 20,
                                               "replica under test");
  }
  absl::StatusOr<v1::Frame> Hello(const std::string& node, uint64_t epoch) {
    v1::Frame frame;
    frame.mutable_hello()->set_node_id(node);
    frame.mutable_hello()->set_epoch(epoch);
    absl::Status s = connection_->Write(frame);
    if (!s.ok()) return s;
    return connection_->Read();
  }
  // Opens a session as primary `node` of `epoch`: a hello the replica must
  // answer with its own, then a start from position 1.
  absl::Status StartSession(const std::string& node, uint64_t epoch) {
    absl::StatusOr<v1::Frame> reply = Hello(node, epoch);
    if (!reply.ok()) return reply.status();
    if (!reply->has_hello()) {
      return absl::FailedPreconditionError(
          absl::StrCat("hello answered with ", reply->DebugString()));
    }
    v1::Frame start;
    start.mutable_start()->set_epoch(epoch);
    start.mutable_start()->set_from_position(1);
    return connection_->Write(start);
  }
  Connection& connection() { return *connection_; }

 private:
  boost::asio::io_context io_;
  std::unique_ptr<Connection> connection_;
};

TEST(LogshipCluster, ReplicaRefusesOlderEpochsAndOtherPrimaries) {
  ClusterOptions options;
  options.storage = "memory";
  options.nodes = 2;
  Cluster cluster(options);
  ASSERT_TRUE(SaveEpoch(cluster.state_dir(1), EpochRecord{5, "n0"}).ok());
  ASSERT_EQ(cluster.Open(1, "replica"), absl::OkStatus());

  absl::StatusOr<v1::Frame> reply = RawPeer(cluster.port(1)).Hello("n0", 4);
  ASSERT_TRUE(reply.ok()) << reply.status();
  ASSERT_TRUE(reply->has_refusal());
  EXPECT_EQ(reply->refusal().reason(), v1::Refusal::REASON_STALE_EPOCH);
  EXPECT_EQ(reply->refusal().epoch(), 5u);
  EXPECT_THAT(reply->refusal().message(), HasSubstr("older epoch 4"));

  reply = RawPeer(cluster.port(1)).Hello("n9", 5);
  ASSERT_TRUE(reply.ok()) << reply.status();
  ASSERT_TRUE(reply->has_refusal());
  EXPECT_EQ(reply->refusal().reason(), v1::Refusal::REASON_NOT_PRIMARY);

  // The epoch's own primary is accepted; records of an older epoch inside
  // its session are refused and end it.
  RawPeer primary(cluster.port(1));
  ASSERT_EQ(primary.StartSession("n0", 5), absl::OkStatus());
  v1::Frame old;
  old.mutable_records()->set_epoch(4);
  ASSERT_TRUE(primary.connection().Write(old).ok());
  reply = primary.connection().Read();
  ASSERT_TRUE(reply.ok()) << reply.status();
  ASSERT_TRUE(reply->has_refusal());
  EXPECT_THAT(reply->refusal().message(), HasSubstr("records of epoch 4"));
  EXPECT_GE(cluster.Stat(1, "replication.frames_refused_total"), 3);
}

TEST(LogshipCluster, MalformedFrameClosesTheConnection) {
  ClusterOptions options;
  options.storage = "memory";
  options.nodes = 2;
  Cluster cluster(options);
  ASSERT_EQ(cluster.Open(1, "replica"), absl::OkStatus());
  RawPeer peer(cluster.port(1));
  ASSERT_TRUE(peer.connection().WriteRaw(std::string("\0\0\0\x03zzz", 7)).ok());
  absl::StatusOr<v1::Frame> reply = peer.connection().Read();
  ASSERT_FALSE(reply.ok());
  EXPECT_TRUE(absl::IsUnavailable(reply.status())) << reply.status();
  EXPECT_TRUE(WaitUntil([&] {
    return cluster.Stat(1, "replication.frames_refused_total") == 1;
  }));
}

// A peer that accepts connections (or lets the kernel accept them) and
// then neither reads nor writes: a stopped process, or one behind a
// partition that drops packets.
class SilentPeer {
 public:
  // Listens on loopback `port` with a backlog of `backlog`; accepts
  // nothing.
  SilentPeer(uint16_t port, int backlog) : acceptor_(io_) {
    boost::asio::ip::tcp::endpoint endpoint(
        boost::asio::ip::make_address("127.0.0.1"), port);
    acceptor_.open(endpoint.protocol());
    acceptor_.set_option(boost::asio::socket_base::reuse_address(true));
    acceptor_.bind(endpoint);
    acceptor_.listen(backlog);
  }
  // Fills the accept queue, so the kernel drops further SYNs (a connect
  // then hangs as it does towards a partitioned host).
  void FillBacklog() {
    for (int i = 0; i < 2; ++i) {
      auto socket = std::make_unique<boost::asio::ip::tcp::socket>(io_);
      socket->open(boost::asio::ip::tcp::v4());
      socket->non_blocking(true);
      // (Asio's connect would wait for the answer even so.)
      const boost::asio::ip::tcp::endpoint to = acceptor_.local_endpoint();
      (void)::connect(socket->native_handle(), to.data(),
                      static_cast<socklen_t>(to.size()));
      fillers_.push_back(std::move(socket));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }

 private:
  boost::asio::io_context io_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::vector<std::unique_ptr<boost::asio::ip::tcp::socket>> fillers_;
};

// Two nodes over memory storage, ack = async (nothing waits for a replica).
ClusterOptions TwoMemoryNodes() {
  ClusterOptions options;
  options.storage = "memory";
  options.ack = "async";
  options.nodes = 2;
  return options;
}

// Waits (up to 20 s) until node i counted at least `count` peer timeouts.
bool PeerTimeoutsReach(Cluster& cluster, size_t i, double count) {
  return WaitUntil(
      [&] {
        return cluster.Stat(i, "replication.peer_timeouts_total") >= count;
      },
      std::chrono::seconds(20));
}

// A replica that takes the connection and then goes silent: the primary's
// read of its hello would wait until TCP gave up (about 15 minutes). The
// watchdog closes it after peer-timeout and the shipper dials again.
TEST(LogshipCluster, PrimaryClosesASilentReplicaAfterPeerTimeout) {
  Cluster cluster(TwoMemoryNodes());
  SilentPeer silent(cluster.port(1), 16);
  ASSERT_EQ(cluster.Open(0, "primary", {{"peer-timeout", "200ms"}}),
            absl::OkStatus());
  EXPECT_TRUE(PeerTimeoutsReach(cluster, 0, 2));
}

// A connect to a peer that drops SYNs gives up after peer-timeout, and a
// close does not wait for the kernel's SYN retries.
TEST(LogshipCluster, ConnectToAPeerThatDropsSynsGivesUp) {
  Cluster cluster(TwoMemoryNodes());
  SilentPeer silent(cluster.port(1), 0);
  silent.FillBacklog();
  ASSERT_EQ(cluster.Open(0, "primary", {{"peer-timeout", "300ms"}}),
            absl::OkStatus());
  EXPECT_TRUE(PeerTimeoutsReach(cluster, 0, 1));
  EXPECT_EQ(cluster.Stat(0, "replication.replicas_connected"), 0);
  const auto before = std::chrono::steady_clock::now();
  cluster.Close(0);
  EXPECT_LT(std::chrono::steady_clock::now() - before, std::chrono::seconds(2));
}

// A primary that goes silent inside its session: the replica ends the
// session after peer-timeout (the primary's side sees the close).
TEST(LogshipCluster, ReplicaClosesASilentPrimaryAfterPeerTimeout) {
  Cluster cluster(TwoMemoryNodes());
  ASSERT_EQ(cluster.Open(1, "replica", {{"peer-timeout", "200ms"}}),
            absl::OkStatus());
  RawPeer primary(cluster.port(1));
  ASSERT_EQ(primary.StartSession("n0", 1), absl::OkStatus());
  auto closed = std::async(std::launch::async,
                           [&] { return primary.connection().Read(); });
  ASSERT_EQ(closed.wait_for(std::chrono::seconds(20)),
            std::future_status::ready)
      << "the replica kept a silent primary's session";
  EXPECT_FALSE(closed.get().ok());
  EXPECT_TRUE(PeerTimeoutsReach(cluster, 1, 1));
  EXPECT_EQ(cluster.Stat(1, "replication.peer_timeouts_total"), 1);
}

// An idle group stays connected: the primary's heartbeats and the acks keep
// every connection moving, far below peer-timeout.
TEST(LogshipCluster, IdleGroupKeepsItsConnections) {
  ClusterOptions options;
  options.ack = "quorum";
  options.storage_options = StorageOptions("mmaplog");
  Cluster cluster(options);
  for (size_t i : {1, 2}) {
    ASSERT_EQ(cluster.Open(i, "replica", {{"peer-timeout", "500ms"}}),
              absl::OkStatus());
  }
  ASSERT_EQ(cluster.Open(0, "primary", {{"peer-timeout", "500ms"}}),
            absl::OkStatus());
  ASSERT_TRUE(WaitUntil(
      [&] { return cluster.Stat(0, "replication.replicas_connected") == 2; }));
  std::this_thread::sleep_for(std::chrono::seconds(1));
  for (size_t i : {0, 1, 2}) {
    EXPECT_EQ(cluster.Stat(i, "replication.peer_timeouts_total"), 0) << i;
  }
  EXPECT_EQ(cluster.Stat(0, "replication.replicas_connected"), 2);
  ASSERT_TRUE(
      cluster.store(0).Append("s", ExpectedRevision::Any(), {Event("x")}).ok());
}

// Stands in for replica `node` on loopback `port`: takes the primary's
// session (answering its hello as an empty log that syncs) and then lets
// the test read the frames and decide when to ack.
class StandInReplica {
 public:
  explicit StandInReplica(uint16_t port) : acceptor_(io_) {
    boost::asio::ip::tcp::endpoint endpoint(
        boost::asio::ip::make_address("127.0.0.1"), port);
    acceptor_.open(endpoint.protocol());
    acceptor_.set_option(boost::asio::socket_base::reuse_address(true));
    acceptor_.bind(endpoint);
    acceptor_.listen(4);
  }
  // Accepts the primary's connection and its session as `node`.
  absl::Status TakeSession(const std::string& node) {
    boost::asio::ip::tcp::socket socket(io_);
    boost::system::error_code error;
    acceptor_.accept(socket, error);
    if (error) return absl::UnavailableError(error.message());
    connection_ = std::make_unique<Connection>(std::move(socket), 1 << 24,
                                               "primary under test");
    absl::StatusOr<v1::Frame> hello = connection_->Read();
    if (!hello.ok()) return hello.status();
    if (!hello->has_hello()) {
      return absl::FailedPreconditionError(hello->DebugString());
    }
    epoch_ = hello->hello().epoch();
    v1::Frame mine;
    mine.mutable_hello()->set_node_id(node);
    mine.mutable_hello()->set_epoch(epoch_);
    mine.mutable_hello()->set_durable_policy(v1::DURABLE_POLICY_SYNCS);
    absl::Status s = connection_->Write(mine);
    if (!s.ok()) return s;
    absl::StatusOr<v1::Frame> start = connection_->Read();
    if (!start.ok()) return start.status();
    if (!start->has_start() || start->start().from_position() != 1) {
      return absl::FailedPreconditionError(start->DebugString());
    }
    return absl::OkStatus();
  }
  // Acks everything up to `position` as written and durable.
  absl::Status Ack(uint64_t position) {
    v1::Frame ack;
    ack.mutable_ack()->set_epoch(epoch_);
    ack.mutable_ack()->set_written(position);
    ack.mutable_ack()->set_durable(position);
    return connection_->Write(ack);
  }
  Connection& connection() { return *connection_; }

 private:
  boost::asio::io_context io_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::unique_ptr<Connection> connection_;
  uint64_t epoch_ = 0;
};

// The primary keeps at most two frames unacknowledged per replica: what is
// written while a replica syncs goes out as one frame once it acks (its
// group commit), not as a frame (and a replica sync) per batch.
TEST(LogshipCluster, PrimaryKeepsAtMostTwoFramesUnacknowledged) {
  Cluster cluster(TwoMemoryNodes());
  StandInReplica replica(cluster.port(1));
  ASSERT_EQ(cluster.Open(0, "primary"), absl::OkStatus());
  ASSERT_EQ(replica.TakeSession("n1"), absl::OkStatus());
  std::mutex mutex;
  std::vector<v1::Records> frames;  // guarded by mutex
  std::thread reader([&] {
    while (true) {
      absl::StatusOr<v1::Frame> frame = replica.connection().Read();
      if (!frame.ok()) return;
      std::lock_guard<std::mutex> lock(mutex);
      frames.push_back(frame->records());
    }
  });
  // Ends the session and joins the reader however the test ends.
  struct Joiner {
    StandInReplica& replica;
    std::thread& reader;
    ~Joiner() {
      replica.connection().Shutdown();
      reader.join();
    }
  } joiner{replica, reader};
  auto received = [&] {
    std::lock_guard<std::mutex> lock(mutex);
    return frames.size();
  };
  // The EPOCH record and a heartbeat (heartbeat-interval 5ms here) fill the
  // window before any append.
  ASSERT_TRUE(WaitUntil([&] { return received() >= 2; }));
  // 100 batches (ack = async: none waits), and more than 2 heartbeat
  // intervals.
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE(
        cluster.store(0)
            .Append(absl::StrCat("s", i), ExpectedRevision::Any(), {Event("x")})
            .ok());
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(received(), 2u) << "frames sent while the replica acked none";
  const uint64_t head = cluster.State(0).written;
  ASSERT_EQ(head, 101u);  // the EPOCH record and the 100 events
  // One ack: one frame more, holding all 100 batches.
  ASSERT_EQ(replica.Ack(1), absl::OkStatus());
  ASSERT_TRUE(WaitUntil([&] { return received() >= 3; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  std::lock_guard<std::mutex> lock(mutex);
  ASSERT_EQ(frames.size(), 3u);
  ASSERT_EQ(frames[2].records_size(), 100);
  EXPECT_EQ(frames[2].records(0).position(), 2u);
  EXPECT_EQ(frames[2].records(99).position(), head);
}

TEST(LogshipCluster, DeposedPrimaryTruncatesItsTailAndRejoins) {
  ClusterOptions options;
  options.ack = "async";
  options.storage_options = StorageOptions("mmaplog");
  Cluster cluster(options);
  ASSERT_EQ(OpenReplicasThenPrimary(cluster), absl::OkStatus());
  for (int i = 0; i < 5; ++i) {
    absl::StatusOr<AppendResult> r = cluster.store(0).Append(
        absl::StrCat("a", i), ExpectedRevision::Any(), {Event("x")});
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->epoch, 1u) << "the epoch the append was written in";
  }
  ASSERT_TRUE(CaughtUp(cluster, 1));
  ASSERT_TRUE(CaughtUp(cluster, 2));
  const uint64_t common = cluster.State(1).written;
  // Cut off from its replicas, n0 acknowledges (async) a tail nobody has.
  cluster.Close(1);
  cluster.Close(2);
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(cluster.store(0)
                    .Append(absl::StrCat("lost", i), ExpectedRevision::Any(),
                            {Event("y")})
                    .ok());
  }
  EXPECT_EQ(cluster.State(0).written, common + 3);
  cluster.Close(0);
  // n1 is promoted over n2 and takes appends in epoch 2.
  ASSERT_EQ(cluster.Open(1, "replica"), absl::OkStatus());
  ASSERT_EQ(cluster.Open(2, "replica"), absl::OkStatus());
  ASSERT_EQ(cluster.store(1).Promote(), absl::OkStatus());
  EXPECT_EQ(cluster.store(1).role(), CAIRN_ROLE_PRIMARY);
  for (int i = 0; i < 4; ++i) {
    absl::StatusOr<AppendResult> r = cluster.store(1).Append(
        absl::StrCat("b", i), ExpectedRevision::Any(), {Event("z")});
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->epoch, 2u) << "the new primary's epoch";
  }
  // n0 comes back believing it leads epoch 1: a replica refuses it, it
  // steps down, and n1 truncates it to the end of epoch 1 they share.
  ASSERT_EQ(cluster.Open(0, "primary"), absl::OkStatus());
  ASSERT_TRUE(WaitUntil([&] {
    return cluster.store(0).role() == CAIRN_ROLE_REPLICA &&
           cluster.Stat(0, "replication.truncations_total") == 1 &&
           cluster.State(0).committed == cluster.State(1).written &&
           cluster.State(2).committed == cluster.State(1).written;
  })) << cluster.store(0).role()
      << " " << cluster.Stat(0, "replication.truncations_total");
  const std::vector<std::string> log = cluster.Log(1);
  EXPECT_EQ(cluster.Log(0), log);
  EXPECT_EQ(cluster.Log(2), log);
  absl::StatusOr<std::vector<RecordedEvent>> lost =
      cluster.store(0).ReadStream("lost0");
  ASSERT_TRUE(lost.ok());
  EXPECT_TRUE(lost->empty());
  EXPECT_EQ(cluster.store(0).Leader().node, "n1");
  absl::StatusOr<AppendResult> refused =
      cluster.store(0).Append("c", ExpectedRevision::Any(), {Event("w")});
  EXPECT_FALSE(refused.ok());
}

// The case idempotency keys stored with their batches exist for: a client
// whose append reached the old primary and its replicas but whose answer
// was lost sends it again to the new primary, which must answer the
// original instead of writing it twice.
TEST(LogshipCluster, ARetryAtTheNewPrimaryIsAnsweredWithTheOriginal) {
  ClusterOptions options;
  options.ack = "quorum";
  options.storage_options = StorageOptions("mmaplog");
  Cluster cluster(options);
  ASSERT_EQ(OpenReplicasThenPrimary(cluster), absl::OkStatus());
  absl::StatusOr<AppendResult> original =
      cluster.store(0).Append("orders", ExpectedRevision::NoStream(),
                              {Event("a"), Event("b")}, "retry-1");
  ASSERT_TRUE(original.ok()) << original.status();
  EXPECT_FALSE(original->repeated);
  ASSERT_TRUE(CaughtUp(cluster, 1));
  ASSERT_TRUE(CaughtUp(cluster, 2));
  // The primary is gone and n2, running all along as a replica, is
  // promoted: the key reached it by apply_log.
  cluster.Close(0);
  ASSERT_EQ(cluster.store(2).Promote(), absl::OkStatus());
  absl::StatusOr<AppendResult> retry =
      cluster.store(2).Append("orders", ExpectedRevision::NoStream(),
                              {Event("a"), Event("b")}, "retry-1");
  ASSERT_TRUE(retry.ok()) << retry.status();
  EXPECT_TRUE(retry->repeated);
  EXPECT_EQ(retry->first_position, original->first_position);
  EXPECT_EQ(retry->last_position, original->last_position);
  EXPECT_EQ(retry->last_revision, 2u);
  EXPECT_EQ(retry->epoch, original->epoch) << "the epoch it was written in";
  absl::StatusOr<AppendResult> next = cluster.store(2).Append(
      "orders", ExpectedRevision::Exact(2), {Event("c")}, "retry-2");
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_FALSE(next->repeated);
  EXPECT_GT(next->epoch, original->epoch);
  absl::StatusOr<std::vector<RecordedEvent>> events =
      cluster.store(2).ReadStream("orders");
  ASSERT_TRUE(events.ok());
  EXPECT_EQ(events->size(), 3u) << "written once";
}

TEST(LogshipCluster, PromoteRefusesANodeBehindWhatThePrimaryCommitted) {
  ClusterOptions options;
  options.storage = "memory";
  options.nodes = 2;
  Cluster cluster(options);
  ASSERT_EQ(cluster.Open(1, "replica"), absl::OkStatus());
  RawPeer primary(cluster.port(1));
  absl::StatusOr<v1::Frame> reply = primary.Hello("n0", 1);
  ASSERT_TRUE(reply.ok() && reply->has_hello());
  v1::Frame start;
  start.mutable_start()->set_epoch(1);
  start.mutable_start()->set_from_position(1);
  ASSERT_TRUE(primary.connection().Write(start).ok());
  v1::Frame told;
  told.mutable_records()->set_epoch(1);
  told.mutable_records()->set_committed(100);
  ASSERT_TRUE(primary.connection().Write(told).ok());
  reply = primary.connection().Read();
  ASSERT_TRUE(reply.ok() && reply->has_ack());
  absl::Status s = cluster.store(1).Promote();
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_THAT(s.message(), HasSubstr("reported position 100"));
  EXPECT_EQ(cluster.store(1).role(), CAIRN_ROLE_REPLICA);
}

// n1 restarts after n0 and n2 acknowledged records without it (ack =
// quorum): promote asks n2 where its log ends and refuses, naming n2 and both
// positions; promoting n2 as told loses nothing, and n1 then catches up.
TEST(LogshipCluster, PromoteRefusesANodeARunningPeerIsAheadOf) {
  ClusterOptions options;
  options.storage_options = StorageOptions("mmaplog");
  Cluster cluster(options);
  ASSERT_EQ(OpenReplicasThenPrimary(cluster), absl::OkStatus());
  ASSERT_TRUE(CaughtUp(cluster, 1));
  cluster.Close(1);
  for (int i = 0; i < 3; ++i) {
    absl::StatusOr<AppendResult> r = cluster.store(0).Append(
        absl::StrCat("acked", i), ExpectedRevision::Any(), {Event("x")});
    ASSERT_TRUE(r.ok()) << r.status();
  }
  ASSERT_TRUE(CaughtUp(cluster, 2));
  const auto [behind, ahead] = ClosePrimaryAndReopenN1(cluster);
  ASSERT_LT(behind, ahead);

  absl::Status s = cluster.store(1).Promote();
  ASSERT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_THAT(s.message(),
              HasSubstr(absl::StrCat("peer 'n2' holds positions up to ", ahead,
                                     " of epoch 1 but node 'n1' only up to ",
                                     behind, " of epoch 1")));
  EXPECT_THAT(s.message(), HasSubstr("promote 'n2' instead"));
  EXPECT_EQ(cluster.store(1).role(), CAIRN_ROLE_REPLICA);
  EXPECT_EQ(cluster.State(2).written, ahead);

  ASSERT_EQ(cluster.store(2).Promote(), absl::OkStatus());
  ASSERT_TRUE(WaitUntil([&] {
    return cluster.State(1).written == cluster.State(2).written &&
           cluster.State(1).committed == cluster.State(2).written;
  }));
  EXPECT_EQ(cluster.Log(1), cluster.Log(2));
  absl::StatusOr<std::vector<RecordedEvent>> acked =
      cluster.store(2).ReadStream("acked2");
  ASSERT_TRUE(acked.ok()) << acked.status();
  EXPECT_EQ(acked->size(), 1u);
}

// Under ack = sync with n2 outside the sync set, n2 can run ahead of the
// sync-set members: here it holds an append n1 never got, which was
// therefore never acknowledged. n2 cannot be promoted (it may lack
// acknowledged records); n1 can, and n2 drops what only it held. Before,
// n1 refused ("promote 'n2' instead") and the group had no node left to
// promote (found by tests/replication/fault-run, logship-3-sync-two.conf).
TEST(LogshipCluster, PromoteUnderSyncSkipsAPeerAheadOutsideTheSyncSet) {
  ClusterOptions options = SyncOnMmaplog("n0,n1");
  Cluster cluster(options);
  ASSERT_EQ(cluster.Open(1, "replica"), absl::OkStatus());
  ASSERT_EQ(cluster.Open(2, "replica"), absl::OkStatus());
  ASSERT_EQ(cluster.Open(0, "primary", {{"ack-timeout", "300ms"}}),
            absl::OkStatus());
  ASSERT_TRUE(cluster.store(0)
                  .Append("acked", ExpectedRevision::Any(), {Event("x")})
                  .ok());
  ASSERT_TRUE(CaughtUp(cluster, 1));
  ASSERT_TRUE(CaughtUp(cluster, 2));
  cluster.Close(1);
  absl::StatusOr<AppendResult> lone =
      cluster.store(0).Append("unacked", ExpectedRevision::Any(), {Event("y")});
  ASSERT_FALSE(lone.ok()) << "acknowledged without sync-set member n1";
  ASSERT_TRUE(WaitUntil(
      [&] { return cluster.State(2).written == cluster.State(0).written; }));
  const auto [behind, ahead] = ClosePrimaryAndReopenN1(cluster);
  ASSERT_LT(behind, ahead);

  absl::Status s = cluster.store(2).Promote();
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_THAT(s.message(), HasSubstr("not in the sync set"));
  ASSERT_EQ(cluster.store(1).Promote(), absl::OkStatus());
  // n1's EPOCH record commits once sync-set member n0 holds it too.
  ASSERT_EQ(cluster.Open(0, "replica"), absl::OkStatus());
  ASSERT_TRUE(WaitUntil([&] {
    const uint64_t end = cluster.State(1).written;
    for (size_t i : {0, 1, 2}) {
      const LogState state = cluster.State(i);
      if (state.written != end || state.committed != end) return false;
    }
    return true;
  }));
  EXPECT_EQ(cluster.Log(2), cluster.Log(1));
  EXPECT_EQ(cluster.Log(0), cluster.Log(1));
  for (size_t i : {0, 1, 2}) {
    absl::StatusOr<std::vector<RecordedEvent>> acked =
        cluster.store(i).ReadStream("acked");
    ASSERT_TRUE(acked.ok()) << acked.status();
    EXPECT_EQ(acked->size(), 1u) << "n" << i;
    absl::StatusOr<std::vector<RecordedEvent>> unacked =
        cluster.store(i).ReadStream("unacked");
    EXPECT_TRUE(!unacked.ok() || unacked->empty()) << "n" << i;
  }
}

// Under ack = quorum a node that reaches none of its two peers cannot know
// it holds every acknowledged record: promote refuses and says why.
TEST(LogshipCluster, PromoteUnderQuorumRefusesANodeThatReachesNoMajority) {
  ClusterOptions options;
  options.storage = "memory";
  Cluster cluster(options);
  ASSERT_EQ(cluster.Open(1, "replica"), absl::OkStatus());
  absl::Status s = cluster.store(1).Promote();
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_THAT(s.message(), HasSubstr("reached 0 of its 2 peers ('n0': "));
  EXPECT_THAT(s.message(),
              HasSubstr("with ack = quorum it needs 2 of the 3 nodes"));
  EXPECT_EQ(cluster.store(1).role(), CAIRN_ROLE_REPLICA);
  // With n2 up, n1 and n2 are a majority and n2 holds nothing more.
  ASSERT_EQ(cluster.Open(2, "replica"), absl::OkStatus());
  EXPECT_EQ(cluster.store(1).Promote(), absl::OkStatus());
  EXPECT_EQ(cluster.store(1).role(), CAIRN_ROLE_PRIMARY);
}

// Mutual TLS between nodes (docs/replication.md, "TLS between nodes"), with
// the test PKI of hosts/cairnd/test_certs.h: server.pem names 127.0.0.1,
// client.pem (same CA) names nothing, stranger.pem has another CA.
class LogshipTls : public ::cairn::testing::CertificateTest {
 protected:
  static std::map<std::string, std::string> Tls(const std::string& name) {
    return {{"tls", "on"},
            {"tls-cert-file", File(name + ".pem")},
            {"tls-key-file", File(name + ".key")},
            {"tls-ca-file", File("ca.pem")}};
  }
};

// Shipping, acknowledgements and promote's position query all cross TLS.
TEST_F(LogshipTls, GroupReplicatesAndPromotesOverTls) {
  ClusterOptions options;
  options.storage_options = StorageOptions("mmaplog");
  Cluster cluster(options);
  for (size_t i : {1, 2}) {
    ASSERT_EQ(cluster.Open(i, "replica", Tls("server")), absl::OkStatus());
  }
  ASSERT_EQ(cluster.Open(0, "primary", Tls("server")), absl::OkStatus());
  for (int i = 0; i < 20; ++i) {
    absl::StatusOr<AppendResult> r = cluster.store(0).Append(
        absl::StrCat("s", i), ExpectedRevision::Any(), {Event("x")});
    ASSERT_TRUE(r.ok()) << r.status();
  }
  ASSERT_TRUE(CaughtUp(cluster, 1));
  ASSERT_TRUE(CaughtUp(cluster, 2));
  EXPECT_EQ(cluster.Log(1), cluster.Log(0));
  EXPECT_EQ(cluster.Log(2), cluster.Log(0));
  for (size_t i : {0, 1, 2})
    EXPECT_EQ(cluster.Stat(i, "replication.tls_failures_total"), 0);

  cluster.Close(0);
  ASSERT_EQ(cluster.store(1).Promote(), absl::OkStatus());
  absl::StatusOr<AppendResult> r =
      cluster.store(1).Append("after", ExpectedRevision::Any(), {Event("y")});
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_TRUE(
      WaitUntil([&] { return cluster.State(2).durable >= r->last_position; }));
  EXPECT_EQ(cluster.Log(2), cluster.Log(1));
}

// Opens n1 as a replica with `replica` options and n0 as primary with
// `primary` options (both ack = async, memory storage), appends, and expects
// node `refuser` to count at least two TLS refusals (the primary dials again)
// while n1 gets nothing.
void ExpectShippingRefused(std::map<std::string, std::string> replica,
                           std::map<std::string, std::string> primary,
                           size_t refuser) {
  ClusterOptions options;
  options.storage = "memory";
  options.nodes = 2;
  Cluster cluster(options);
  replica["ack"] = "async";
  primary["ack"] = "async";
  ASSERT_EQ(cluster.Open(1, "replica", replica), absl::OkStatus());
  ASSERT_EQ(cluster.Open(0, "primary", primary), absl::OkStatus());
  ASSERT_TRUE(
      cluster.store(0).Append("s", ExpectedRevision::Any(), {Event("x")}).ok());
  EXPECT_TRUE(WaitUntil(
      [&] {
        return cluster.Stat(refuser, "replication.tls_failures_total") >= 2;
      },
      std::chrono::seconds(20)));
  EXPECT_EQ(cluster.State(1).written, 0u);
}

// A certificate of the group's CA that does not name the node it claims to
// be (here: a client's) gets through the handshake but not past hello.
TEST_F(LogshipTls, ReplicaRefusesAPrimaryWhoseCertificateDoesNotNameIt) {
  ExpectShippingRefused(Tls("server"), Tls("client"), 1);
}

TEST_F(LogshipTls, NodeOfAnotherCaIsRefused) {
  ExpectShippingRefused(Tls("stranger"), Tls("server"), 0);
}

TEST_F(LogshipTls, PlainPrimaryIsRefusedByATlsReplica) {
  ExpectShippingRefused(Tls("server"), {{"tls", "off"}}, 1);
}

}  // namespace
}  // namespace cairn::logship::testing
