// `cairn --server HOST:PORT`: the commands against a real cairnd process
// on a loopback port it picked itself.
#include <cairn/builtins.h>
#include <cairn/log_record.h>
#include <cairn/store.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <future>
#include <sstream>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "backup.h"
#include "cli.h"
#include "log_up_to.h"
#include "run_program.h"
#include "test_certs.h"
#include "test_server.h"

namespace cairn::cli {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

// A folder under the system temp folder, removed with what it holds.
class ScratchDir {
 public:
  ScratchDir() {
    std::string pattern =
        (fs::temp_directory_path() / "cairn-remote-backup-XXXXXX").string();
    path_ = ::mkdtemp(pattern.data()) != nullptr ? pattern : "";
  }
  ~ScratchDir() {
    std::error_code ignored;
    if (!path_.empty()) fs::remove_all(path_, ignored);
  }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// The store a TestServer served (cairnd stopped), or a restored one: the
// test server's storage options.
SiteConfig ServedSite(const std::string& path) {
  SiteConfig site;
  site.path = path;
  site.storage =
      PluginChoice{"mmaplog", {{"segment-size", "8MiB"}, {"fsync", "never"}}};
  return site;
}

using backup_testing::LogUpTo;

std::vector<EventData> Batch(int i) {
  EventData a;
  a.type = "Placed";
  a.data = absl::StrCat("{\"order\":", i, ",\"pad\":\"",
                        std::string(200 + i % 300, 'x'), "\"}");
  a.tags = {absl::StrCat("t", i % 3)};
  EventData b = a;
  b.type = "Paid";
  return {a, b};
}

// Each line of `text` parsed as JSON (`--json` output).
std::vector<nlohmann::json> JsonLines(const std::string& text) {
  std::vector<nlohmann::json> out;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    out.push_back(nlohmann::json::parse(line));
  }
  return out;
}

struct Result {
  int code;
  std::string out;
  std::string err;
};

// A cairnd started with `extra_args`, and `cairn --server` against it.
struct StartedServer {
  std::unique_ptr<cairn::testing::TestServer> server;
  std::string address;

  Result Run(std::vector<std::string> args,
             const std::string& input = "") const {
    args.insert(args.begin(), {"--server", address});
    std::istringstream in(input);
    std::ostringstream out, err;
    int code = RunCli(args, "/nonexistent/bin/cairn", in, out, err);
    return Result{code, out.str(), err.str()};
  }
};

absl::StatusOr<StartedServer> StartServer(
    const std::vector<std::string>& extra_args) {
  absl::StatusOr<std::unique_ptr<cairn::testing::TestServer>> server =
      cairn::testing::TestServer::Start(extra_args);
  if (!server.ok()) return server.status();
  StartedServer started{*std::move(server), ""};
  started.address = "127.0.0.1:" + std::to_string(started.server->port());
  return started;
}

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
  std::vector<nlohmann::json> events = JsonLines(read.out);
  ASSERT_EQ(events.size(), 2u) << read.out;
  EXPECT_EQ(events[0]["data"]["id"], 1);
  EXPECT_EQ(events[1]["data_base64"], "AAE=");
  EXPECT_EQ(events[1]["position"], 2);

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

TEST_F(CliRemoteTest, DeleteToStatsVerifyAndInspectWorkThroughTheServer) {
  ASSERT_EQ(Run({"append", "s"},
                "{\"type\": \"A\", \"tags\": [\"t\"]}\n"
                "{\"type\": \"B\"}\n")
                .code,
            0);
  EXPECT_EQ(Run({"delete-to", "s", "1"}).code, 0);
  EXPECT_EQ(Run({"streams"}).out, "s\t2\tdeleted-to 1\n");
  EXPECT_EQ(Run({"stats"}).code, 0);

  // The server runs the check while it serves.
  Result verify = Run({"verify"});
  ASSERT_EQ(verify.code, 0) << verify.err;
  EXPECT_EQ(verify.out,
            "ok: cairnd server " + address_ +
                ": every record checks out (checksums and structure "
                "only; seals were not opened (no cipher configured))\n");
  Result deep = Run({"verify", "--deep"});
  ASSERT_EQ(deep.code, 0) << deep.err;
  EXPECT_THAT(deep.out,
              HasSubstr("deep: 2 event(s) opened through codec identity "
                        "and cipher none (0 sealed)"));
  // A repair changes files: only on the server's machine, with it stopped.
  Result repair = Run({"verify", "--repair"});
  EXPECT_EQ(repair.code, 1);
  EXPECT_THAT(repair.err, HasSubstr("while cairnd is stopped"));

  Result inspect = Run({"inspect"});
  ASSERT_EQ(inspect.code, 0) << inspect.err;
  EXPECT_THAT(inspect.out,
              HasSubstr("store:        cairnd server " + address_));
  EXPECT_THAT(inspect.out,
              HasSubstr("plugins:      storage mmaplog, codec identity, "
                        "cipher none, replication none"));
  Result json = Run({"inspect", "--json"});
  ASSERT_EQ(json.code, 0) << json.err;
  nlohmann::json report = nlohmann::json::parse(json.out);
  EXPECT_EQ(report["plugins"]["storage"], "mmaplog");
  // Two events and the delete: three records, all committed.
  EXPECT_EQ(report["log"]["first_position"], 1);
  EXPECT_EQ(report["log"]["committed"], 3);
  EXPECT_EQ(report["log"]["written"], 3);
  EXPECT_EQ(report["events"], 1);  // revision 1 is deleted
  EXPECT_EQ(report["streams"], 1);
  EXPECT_EQ(report["tags"].size(), 0u);  // only the deleted event had one
  EXPECT_GT(report["disk"]["bytes_on_disk"].get<double>(), 0);
}

// A byte of a stored record changed under a running server: verify through
// the server names the segment file and offset and exits 2, and the server
// goes on serving.
TEST_F(CliRemoteTest, VerifyThroughTheServerNamesDamageAndTheServerServesOn) {
  std::string events;
  for (int i = 0; i < 20; ++i) {
    events += "{\"type\": \"T\", \"data\": {\"n\": " + std::to_string(i) +
              ", \"pad\": \"" + std::string(100, 'p') + "\"}}\n";
  }
  ASSERT_EQ(Run({"append", "s"}, events).code, 0);
  const std::string segment = server_->dir() + "/data/00000001.log";
  std::string bytes;
  {
    std::ifstream in(segment, std::ios::binary);
    std::stringstream all;
    all << in.rdbuf();
    bytes = all.str();
  }
  // The 10th event's padding, in the middle of the log.
  size_t at = 0;
  for (int i = 0; i < 10; ++i) {
    at = bytes.find(std::string(100, 'p'), i == 0 ? 0 : at + 100);
    ASSERT_NE(at, std::string::npos) << i;
  }
  {
    // Written through the file: the server's shared mapping sees it.
    std::fstream file(segment, std::ios::binary | std::ios::in | std::ios::out);
    file.seekp(static_cast<std::streamoff>(at + 50));
    file.put('Q');
  }
  Result verify = Run({"verify"});
  EXPECT_EQ(verify.code, 2) << verify.out;
  EXPECT_THAT(verify.out, HasSubstr("problem: segment 00000001.log offset "));
  EXPECT_THAT(verify.err,
              HasSubstr("verify of cairnd server " + address_ + " failed: "));
  EXPECT_THAT(verify.out, ::testing::Not(HasSubstr("ok: ")));
  Result after = Run({"append", "other"}, "{\"type\": \"A\"}\n");
  EXPECT_EQ(after.code, 0) << after.err;
}

// A retention run through the server: after delete-to (retention =
// deleted), once `maintain --server` has answered, the sealed segments that
// held only deleted events are gone, each named once: by maintain, or by
// the server's log when its own pass (woken by the flusher sealing the last
// full segment, which may come after the delete) got there first. The
// server serves on; a second run removes nothing. (The admin right:
// CliTlsTest.)
TEST(CliRemoteMaintainTest, MaintainThroughTheServerRunsRetentionAtOnce) {
  absl::StatusOr<StartedServer> started =
      StartServer({"--set", "storage.segment-size=64KiB", "--set",
                   "storage.retention=deleted"});
  ASSERT_TRUE(started.ok()) << started.status();
  const std::string& address = started->address;
  const cairn::testing::TestServer& server = *started->server;
  auto run = [&](std::vector<std::string> args, const std::string& input = "") {
    return started->Run(std::move(args), input);
  };
  std::string events;
  for (int i = 0; i < 200; ++i) {
    events += "{\"type\": \"Big\", \"data\": {\"pad\": \"" +
              std::string(1000, 'x') + "\"}}\n";
  }
  ASSERT_EQ(run({"append", "gone", "--batch-size", "10"}, events).code, 0);
  ASSERT_EQ(run({"append", "kept"}, "{\"type\": \"A\"}\n").code, 0);
  ASSERT_EQ(run({"delete-to", "gone", "200"}).code, 0);
  Result maintain = run({"maintain"});
  ASSERT_EQ(maintain.code, 0) << maintain.err;
  EXPECT_THAT(maintain.out, HasSubstr("maintained cairnd server " + address));
  EXPECT_FALSE(fs::exists(server.dir() + "/data/00000001.log"));
  const std::string first = "removed segment 00000001.log (positions 1-";
  if (maintain.out.find(first) == std::string::npos) {
    EXPECT_TRUE(server.WaitForLog(first)) << maintain.out;
  }
  EXPECT_EQ(cairn::testing::CountOccurrences(maintain.out, first) +
                cairn::testing::CountOccurrences(server.Log(), first),
            1)
      << maintain.out << server.Log();
  EXPECT_THAT(maintain.out + server.Log(), HasSubstr("retention deleted)"));
  EXPECT_EQ(run({"head", "gone"}).out, "200\n");
  Result kept = run({"read", "kept"});
  ASSERT_EQ(kept.code, 0) << kept.err;
  EXPECT_THAT(kept.out, HasSubstr("#1 "));
  Result again = run({"maintain"});
  ASSERT_EQ(again.code, 0) << again.err;
  EXPECT_THAT(again.out, ::testing::Not(HasSubstr("removed segment")));
}

// A sealed store served by cairnd: `keys rotate --server` makes the
// server's cipher seal with a new key at once (no restart), both keys open
// on a deep verify through the server, and the keyring file holds both.
TEST(CliRemoteSealedTest, KeysRotateThroughTheServerSealsWithTheNewKeyAtOnce) {
  ScratchDir scratch;
  const std::string keyring = scratch.File("keys");
  {
    std::ofstream keys(keyring);
    keys << "key 1 " << std::string(64, 'c') << " active\n";
  }
  fs::permissions(keyring, fs::perms::owner_read | fs::perms::owner_write);
  absl::StatusOr<StartedServer> started = StartServer(
      {"--set", "cipher.plugin=aes-gcm", "--set", "cipher.keyring=" + keyring});
  ASSERT_TRUE(started.ok()) << started.status();
  const std::string& address = started->address;
  auto run = [&](std::vector<std::string> args, const std::string& input = "") {
    return started->Run(std::move(args), input);
  };
  ASSERT_EQ(run({"append", "s"}, "{\"type\": \"A\"}\n").code, 0);
  Result rotate = run({"keys", "rotate"});
  ASSERT_EQ(rotate.code, 0) << rotate.err;
  EXPECT_EQ(rotate.out,
            "key 2 is now active on cairnd server " + address +
                " (its cipher added it to its keyring); older keys stay "
                "for reading\n");
  ASSERT_EQ(run({"append", "s"}, "{\"type\": \"B\"}\n").code, 0);
  Result read = run({"read", "s", "--json"});
  ASSERT_EQ(read.code, 0) << read.err;
  std::vector<nlohmann::json> events = JsonLines(read.out);
  ASSERT_EQ(events.size(), 2u) << read.out;
  EXPECT_EQ(events[0]["key_id"], 1) << read.out;
  EXPECT_EQ(events[1]["key_id"], 2) << read.out;
  Result deep = run({"verify", "--deep"});
  ASSERT_EQ(deep.code, 0) << deep.err;
  EXPECT_THAT(deep.out,
              HasSubstr("deep: 2 event(s) opened through codec identity "
                        "and cipher aes-gcm (2 sealed)"));
  std::ifstream file(keyring);
  std::stringstream text;
  text << file.rdbuf();
  EXPECT_THAT(text.str(), HasSubstr("key 1 "));
  EXPECT_THAT(text.str(), HasSubstr("key 2 "));

  // new and list work on the keyring file: on the server's machine.
  Result list = run({"keys", "list"});
  EXPECT_EQ(list.code, 1);
  EXPECT_THAT(list.err, HasSubstr("with --server only 'keys rotate'"));
}

// A local command on the folder cairnd serves: refused, naming the process
// that holds it and the way through the server.
TEST_F(CliRemoteTest, LocalCommandOnTheServedFolderNamesCairndAndServer) {
  ASSERT_EQ(Run({"append", "s"}, "{\"type\": \"A\"}\n").code, 0);
  std::istringstream in;
  std::ostringstream out, err;
  const int code = RunCli({"--data", server_->dir() + "/data", "stats"},
                          "/nonexistent/bin/cairn", in, out, err);
  EXPECT_EQ(code, 2) << out.str();
  EXPECT_THAT(err.str(), HasSubstr("is open in another process (pid " +
                                   std::to_string(server_->pid()) +
                                   ", cairnd; LOCK is held)"));
  EXPECT_THAT(
      err.str(),
      HasSubstr("run the cairn command through it with --server HOST:PORT"));
}

TEST_F(CliRemoteTest, KeysRotateThroughAServerWithoutACipherSaysItCannot) {
  Result rotate = Run({"keys", "rotate"});
  EXPECT_EQ(rotate.code, 2) << rotate.out;
  EXPECT_THAT(rotate.err, HasSubstr("cipher plugin 'none' cannot rotate keys"));
}

// read-log through the server prints what read-log of the same store's
// files prints once the server has stopped, line for line (SHA-256 of each
// record included); --after and --max page it.
TEST_F(CliRemoteTest, ReadLogThroughTheServerMatchesTheStoresFiles) {
  ASSERT_EQ(Run({"append", "s"}, "{\"type\": \"A\"}\n{\"type\": \"B\"}\n").code,
            0);
  ASSERT_EQ(Run({"delete-to", "s", "1"}).code, 0);
  for (int i = 0; i < 300; ++i) {
    ASSERT_EQ(
        Run({"append", absl::StrCat("t-", i % 3)},
            absl::StrCat("{\"type\": \"T\", \"data\": {\"i\": ", i, "}}\n"))
            .code,
        0);
  }
  Result remote = Run({"read-log", "--json"});
  ASSERT_EQ(remote.code, 0) << remote.err;
  EXPECT_EQ(std::count(remote.out.begin(), remote.out.end(), '\n'), 303);
  EXPECT_THAT(remote.out, HasSubstr("\"kind\":\"delete_to\""));
  Result page = Run({"read-log", "--after", "2", "--max", "1"});
  ASSERT_EQ(page.code, 0) << page.err;
  EXPECT_EQ(std::count(page.out.begin(), page.out.end(), '\n'), 1);
  EXPECT_THAT(page.out, ::testing::StartsWith("3 "));
  EXPECT_EQ(Run({"read-log", "--after", "303"}).out, "");

  ASSERT_EQ(server_->Terminate(), 0) << server_->Log();
  std::istringstream in;
  std::ostringstream out, err;
  ASSERT_EQ(RunCli({"--data", server_->dir() + "/data", "read-log", "--json"},
                   "/nonexistent/bin/cairn", in, out, err),
            0)
      << err.str();
  EXPECT_EQ(remote.out, out.str());
}

// `cairn backup --server` while three clients append to the same cairnd:
// the backup holds exactly the server's records up to the manifest's last
// position (compared record by record, byte for byte, with the server's
// store opened after it stopped), restores with --data, and the restored
// store takes appends.
TEST_F(CliRemoteTest,
       ServerBackupUnderWriteLoadRestoresExactlyTheManifestPrefix) {
  ScratchDir scratch;
  {
    absl::StatusOr<std::unique_ptr<Client>> seed = server_->Connect();
    ASSERT_TRUE(seed.ok()) << seed.status();
    for (int i = 0; i < 300; ++i) {
      ASSERT_TRUE((*seed)
                      ->Append(absl::StrCat("seed-", i % 7),
                               ExpectedRevision::Any(), Batch(i))
                      .ok());
    }
    ASSERT_TRUE((*seed)->DeleteTo("seed-1", 5).ok());
    Snapshot snapshot;
    snapshot.stream = "seed-2";
    snapshot.revision = 3;
    snapshot.data = "state";
    ASSERT_TRUE((*seed)->SaveSnapshot(snapshot).ok());
  }
  std::atomic<bool> stop{false};
  std::atomic<int> appended{0};
  std::vector<std::thread> writers;
  for (int w = 0; w < 3; ++w) {
    writers.emplace_back([&, w] {
      absl::StatusOr<std::unique_ptr<Client>> client = server_->Connect();
      if (!client.ok()) return;
      for (int i = 0; !stop.load(); ++i) {
        if ((*client)
                ->Append(absl::StrCat("load-", w), ExpectedRevision::Any(),
                         Batch(i))
                .ok()) {
          appended.fetch_add(1);
        }
      }
    });
  }
  // Waits (at most 30 s) until the writers have appended `count` batches.
  auto wait_for_appends = [&](int count) {
    for (int i = 0; i < 6000 && appended.load() < count; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    return appended.load() >= count;
  };
  const bool loaded = wait_for_appends(200);
  // A backup of this small store takes milliseconds; on a loaded machine
  // the writers may not get a turn while it runs. Such a backup proves
  // nothing about writes beside it, so take another (at most 5 in all).
  std::string dest;
  Result backup;
  int during = 0;
  for (int attempt = 1; loaded && attempt <= 5 && during == 0; ++attempt) {
    dest = scratch.File(absl::StrCat("backup-", attempt));
    const int before = appended.load();
    backup = Run({"backup", dest, "--chunk-size", "64KiB"});
    during = appended.load() - before;
    if (backup.code != 0) break;
  }
  // The load goes on after the backup (whose end was fixed when it
  // began): a few more appends land past the manifest's last position.
  const bool went_on = wait_for_appends(appended.load() + 10);
  stop = true;
  for (std::thread& t : writers) t.join();
  ASSERT_TRUE(loaded) << "the writers did not get going";
  ASSERT_EQ(backup.code, 0) << backup.err;
  EXPECT_THAT(backup.out, HasSubstr("backup " + dest + ": positions 1.."));
  EXPECT_GT(during, 0) << "no append ran beside any of 5 backups";
  EXPECT_TRUE(went_on) << "the load stopped after the backup";

  absl::StatusOr<backup::Manifest> manifest = backup::LoadManifest(dest);
  ASSERT_TRUE(manifest.ok()) << manifest.status();
  EXPECT_EQ(manifest->storage.name, "mmaplog");
  EXPECT_GT(manifest->chunks.size(), 1u);
  const uint64_t last = manifest->last_position;
  ASSERT_GT(last, 600u);

  // Restore it with --data into a new folder.
  const std::string target = scratch.File("restored");
  std::istringstream in;
  std::ostringstream out, err;
  const int restored =
      RunCli({"restore", dest, "--data", target, "--set",
              "storage.segment-size=8MiB", "--set", "storage.fsync=never"},
             "/nonexistent/bin/cairn", in, out, err);
  ASSERT_EQ(restored, 0) << err.str();
  EXPECT_THAT(out.str(), HasSubstr(absl::StrCat("; head position ", last)));

  // Byte for byte against the server's own store, now stopped.
  ASSERT_EQ(server_->Terminate(), 0) << server_->Log();
  PluginRegistry registry;
  ASSERT_TRUE(RegisterBuiltinPlugins(registry).ok());
  absl::StatusOr<std::unique_ptr<Store>> served =
      backup::OpenForBackup(ServedSite(server_->dir() + "/data"), registry);
  ASSERT_TRUE(served.ok()) << served.status();
  absl::StatusOr<LogState> served_state = (*served)->GetLogState();
  ASSERT_TRUE(served_state.ok());
  EXPECT_GT(served_state->committed, last)
      << "the load stopped before the backup began";
  absl::StatusOr<std::unique_ptr<Store>> copy =
      Store::Open(ServedSite(target), registry);
  ASSERT_TRUE(copy.ok()) << copy.status();
  std::vector<OwnedLogRecord> expected = LogUpTo(**served, last);
  std::vector<OwnedLogRecord> actual = LogUpTo(**copy, UINT64_MAX);
  ASSERT_EQ(expected.size(), last);
  ASSERT_EQ(actual.size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    ASSERT_TRUE(actual[i] == expected[i])
        << "record at position " << expected[i].position;
  }
  // The restored store takes appends after the backup's last position.
  absl::StatusOr<AppendResult> more =
      (*copy)->Append("after", ExpectedRevision::Any(), Batch(1));
  ASSERT_TRUE(more.ok()) << more.status();
  EXPECT_EQ(more->first_position, last + 1);
}

TEST_F(CliRemoteTest,
       ServerBackupIncrementalHoldsOnlyTheRecordsAfterThePrevious) {
  ScratchDir scratch;
  absl::StatusOr<std::unique_ptr<Client>> client = server_->Connect();
  ASSERT_TRUE(client.ok()) << client.status();
  for (int i = 0; i < 10; ++i)
    ASSERT_TRUE((*client)->Append("s", ExpectedRevision::Any(), Batch(i)).ok());
  ASSERT_EQ(Run({"backup", scratch.File("full")}).code, 0);
  for (int i = 0; i < 5; ++i)
    ASSERT_TRUE((*client)->Append("s", ExpectedRevision::Any(), Batch(i)).ok());
  Result incremental = Run({"backup", scratch.File("inc"), "--incremental-from",
                            scratch.File("full")});
  ASSERT_EQ(incremental.code, 0) << incremental.err;
  EXPECT_THAT(incremental.out, HasSubstr("positions 21..30 (10 records"));
  std::istringstream in;
  std::ostringstream out, err;
  ASSERT_EQ(RunCli({"restore", scratch.File("full"), scratch.File("inc"),
                    "--data", scratch.File("r")},
                   "/nonexistent/bin/cairn", in, out, err),
            0)
      << err.str();
  EXPECT_THAT(out.str(), HasSubstr("head position 30"));
}

// A `cairn backup --server` process killed -9 midway leaves a folder that
// restore refuses, and the server goes on serving (and backing up).
TEST_F(CliRemoteTest,
       ServerBackupKilledMidwayLeavesNothingRestoreAcceptsAndTheServerServes) {
  const fs::path cairn = cairn::testing::BuiltProgram("cairn");
  ASSERT_FALSE(cairn.empty());
  ScratchDir scratch;
  {
    absl::StatusOr<std::unique_ptr<Client>> client = server_->Connect();
    ASSERT_TRUE(client.ok()) << client.status();
    for (int i = 0; i < 2000; ++i) {
      ASSERT_TRUE((*client)
                      ->Append(absl::StrCat("a-", i % 5),
                               ExpectedRevision::Any(), Batch(i))
                      .ok());
    }
  }
  const std::string dest = scratch.File("killed");
  const std::string log = scratch.File("backup.err");
  const int child = cairn::testing::StartProgram(
      cairn,
      {"--server", address_, "backup", dest, "--chunk-size", "16KiB",
       "--max-rate", "128KiB"},
      log);
  ASSERT_GT(child, 0);
  const std::string killed =
      cairn::testing::KillOnceExists(child, dest + "/chunk-000002.cairnlog");
  ASSERT_EQ(killed, "");
  EXPECT_FALSE(fs::exists(dest + "/manifest.json"));

  std::istringstream in;
  std::ostringstream out, err;
  EXPECT_EQ(RunCli({"restore", dest, "--data", scratch.File("target")},
                   "/nonexistent/bin/cairn", in, out, err),
            2);
  EXPECT_THAT(err.str(), HasSubstr("no manifest.json"));
  EXPECT_FALSE(fs::exists(scratch.File("target")));

  // The server serves on: appends, reads, and a whole backup.
  EXPECT_TRUE(server_->Running());
  ASSERT_EQ(Run({"append", "after-kill"}, "{\"type\": \"A\"}\n").code, 0);
  EXPECT_EQ(Run({"head", "after-kill"}).out, "1\n");
  Result again = Run({"backup", scratch.File("again")});
  EXPECT_EQ(again.code, 0) << again.err;
  EXPECT_THAT(again.out, HasSubstr("positions 1..4001 (4001 records"));
}

// Restore into a served store that is not empty is refused, naming why,
// and writes nothing.
TEST_F(CliRemoteTest,
       ServerRestoreIntoANonEmptyStoreIsRefusedAndWritesNothing) {
  ScratchDir scratch;
  ASSERT_EQ(Run({"append", "s"}, "{\"type\": \"A\"}\n").code, 0);
  ASSERT_EQ(Run({"backup", scratch.File("b")}).code, 0);
  Result r = Run({"restore", scratch.File("b")});
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err,
              HasSubstr("the store is not empty (records up to position 1)"));
  EXPECT_EQ(Run({"head"}).out, "1\n");
  Result force = Run({"restore", scratch.File("b"), "--force"});
  EXPECT_EQ(force.code, 1);
  EXPECT_THAT(force.err, HasSubstr("--force does not go through --server"));
}

// A second, empty cairnd for restores through the server.
std::unique_ptr<cairn::testing::TestServer> StartEmpty() {
  absl::StatusOr<std::unique_ptr<cairn::testing::TestServer>> server =
      cairn::testing::TestServer::Start();
  EXPECT_TRUE(server.ok()) << server.status();
  return server.ok() ? *std::move(server) : nullptr;
}

// `cairn restore SRC INC --server` into the empty store of another cairnd:
// it then holds the same records byte for byte, serves them, and takes
// appends after them.
TEST_F(CliRemoteTest,
       ServerRestoreIntoAnEmptyServedStoreReadsBackTheSameEvents) {
  ScratchDir scratch;
  absl::StatusOr<std::unique_ptr<Client>> client = server_->Connect();
  ASSERT_TRUE(client.ok()) << client.status();
  for (int i = 0; i < 200; ++i) {
    ASSERT_TRUE((*client)
                    ->Append(absl::StrCat("s-", i % 3), ExpectedRevision::Any(),
                             Batch(i))
                    .ok());
  }
  ASSERT_TRUE((*client)->DeleteTo("s-1", 4).ok());
  ASSERT_EQ(Run({"backup", scratch.File("full")}).code, 0);
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(
        (*client)->Append("later", ExpectedRevision::Any(), Batch(i)).ok());
  }
  ASSERT_EQ(Run({"backup", scratch.File("inc"), "--incremental-from",
                 scratch.File("full")})
                .code,
            0);
  const std::string events = Run({"read-all", "--json"}).out;

  std::unique_ptr<cairn::testing::TestServer> target = StartEmpty();
  ASSERT_NE(target, nullptr);
  const std::string address = "127.0.0.1:" + std::to_string(target->port());
  std::istringstream in;
  std::ostringstream out, err;
  ASSERT_EQ(RunCli({"--server", address, "restore", scratch.File("full"),
                    scratch.File("inc")},
                   "/nonexistent/bin/cairn", in, out, err),
            0)
      << err.str();
  EXPECT_THAT(
      out.str(),
      HasSubstr("restored 441 records from 2 backup(s) into the store cairnd " +
                address + " serves; head position 441"));
  std::ostringstream read_out, read_err;
  ASSERT_EQ(RunCli({"--server", address, "read-all", "--json"},
                   "/nonexistent/bin/cairn", in, read_out, read_err),
            0);
  EXPECT_EQ(read_out.str(), events);
  std::istringstream one("{\"type\": \"A\"}\n");
  std::ostringstream append_out, append_err;
  ASSERT_EQ(RunCli({"--server", address, "append", "after"},
                   "/nonexistent/bin/cairn", one, append_out, append_err),
            0)
      << append_err.str();
  EXPECT_THAT(append_out.str(), HasSubstr("positions 442..442"));

  // Byte for byte, both servers stopped.
  ASSERT_EQ(server_->Terminate(), 0);
  ASSERT_EQ(target->Terminate(), 0);
  PluginRegistry registry;
  ASSERT_TRUE(RegisterBuiltinPlugins(registry).ok());
  auto source =
      backup::OpenForBackup(ServedSite(server_->dir() + "/data"), registry);
  auto copy =
      backup::OpenForBackup(ServedSite(target->dir() + "/data"), registry);
  ASSERT_TRUE(source.ok() && copy.ok());
  std::vector<OwnedLogRecord> expected = LogUpTo(**source, 441);
  std::vector<OwnedLogRecord> actual = LogUpTo(**copy, 441);
  ASSERT_EQ(expected.size(), 441u);
  ASSERT_EQ(actual.size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    ASSERT_TRUE(actual[i] == expected[i])
        << "record at position " << expected[i].position;
  }
}

// kill -9 of `cairn restore --server` midway: the server takes back what
// was applied (the store is empty again), serves on, and a restore then
// succeeds.
TEST_F(CliRemoteTest, ServerRestoreKilledMidwayIsTakenBackAndTheServerServes) {
  const fs::path cairn = cairn::testing::BuiltProgram("cairn");
  ASSERT_FALSE(cairn.empty());
  ScratchDir scratch;
  {
    absl::StatusOr<std::unique_ptr<Client>> client = server_->Connect();
    ASSERT_TRUE(client.ok()) << client.status();
    std::vector<std::future<absl::StatusOr<AppendResult>>> pending;
    for (int i = 0; i < 10000; ++i) {
      pending.push_back((*client)->AppendAsync(
          absl::StrCat("a-", i % 5), ExpectedRevision::Any(), Batch(i)));
    }
    for (auto& p : pending) ASSERT_TRUE(p.get().ok());
  }
  ASSERT_EQ(Run({"backup", scratch.File("b")}).code, 0);
  // A restore of this size takes a fraction of a second; on a loaded
  // machine it may end before the kill lands. Such a run tests nothing, so
  // try again on a fresh empty server (at most 3 in all).
  std::unique_ptr<cairn::testing::TestServer> target;
  std::string address;
  absl::StatusOr<std::unique_ptr<Client>> watcher;
  std::string killed = "not tried";
  for (int attempt = 1; attempt <= 3 && !killed.empty(); ++attempt) {
    target = StartEmpty();
    ASSERT_NE(target, nullptr);
    address = "127.0.0.1:" + std::to_string(target->port());
    watcher = target->Connect();
    ASSERT_TRUE(watcher.ok());
    const int child = cairn::testing::StartProgram(
        cairn, {"--server", address, "restore", scratch.File("b")},
        scratch.File(absl::StrCat("restore-", attempt, ".err")));
    ASSERT_GT(child, 0);
    // The restore is under way once the server refuses a head request.
    bool under_way = false;
    for (int i = 0; i < 20000 && !under_way; ++i) {
      absl::StatusOr<uint64_t> head = (*watcher)->HeadPosition();
      under_way = !head.ok() &&
                  absl::StrContains(head.status().message(),
                                    "restore through the server is under way");
      if (!under_way)
        std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    const std::string marker = scratch.File(absl::StrCat("kill-", attempt));
    std::ofstream(marker) << "x";
    killed = cairn::testing::KillOnceExists(child, marker);
    if (!under_way && killed.empty()) killed = "never seen under way";
  }
  ASSERT_EQ(killed, "");

  absl::StatusOr<uint64_t> head;
  for (int i = 0; i < 500; ++i) {
    head = (*watcher)->HeadPosition();
    if (head.ok()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_TRUE(head.ok()) << head.status();
  EXPECT_EQ(*head, 0u) << "a cut restore must leave the store empty";
  EXPECT_TRUE(target->WaitForLog("records were taken back")) << target->Log();
  std::istringstream in;
  std::ostringstream out, err;
  ASSERT_EQ(RunCli({"--server", address, "restore", scratch.File("b")},
                   "/nonexistent/bin/cairn", in, out, err),
            0)
      << err.str();
  EXPECT_THAT(out.str(), HasSubstr("head position 20000"));
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
            {"--tls-cert", File("server.pem"), "--tls-key", File("server.key"),
             "--tls-ca", File("ca.pem"), "--set",
             "access.orders=CN=orders-svc: write orders-", "--set",
             "access.ops=CN=ops-admin: admin *", "--set",
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

TEST_F(CliTlsTest, ServerBackupNeedsTheAdminRightAndIsAudited) {
  ASSERT_EQ(
      Run(Plus(AsOrders(), {"append", "orders-1"}), "{\"type\": \"A\"}\n").code,
      0);
  ScratchDir scratch;
  Result denied = Run(Plus(AsOrders(), {"backup", scratch.File("denied")}));
  EXPECT_EQ(denied.code, 4) << denied.err;
  EXPECT_THAT(denied.err, HasSubstr("CN=orders-svc has no admin right on every "
                                    "stream (prefix *) (backup)"));
  EXPECT_FALSE(fs::exists(scratch.File("denied") + "/manifest.json"));

  const std::vector<std::string> admin = {
      "--server",   address_,          "--tls-ca",  File("ca.pem"),
      "--tls-cert", File("admin.pem"), "--tls-key", File("admin.key")};
  Result ok = Run(Plus(admin, {"backup", scratch.File("ok")}));
  ASSERT_EQ(ok.code, 0) << ok.err;
  EXPECT_THAT(ok.out, HasSubstr("positions 1..1 (1 records"));

  std::ifstream file(audit_);
  std::stringstream text;
  text << file.rdbuf();
  EXPECT_THAT(text.str(), HasSubstr("\"identity\":\"CN=orders-svc\""));
  EXPECT_THAT(text.str(),
              HasSubstr("\"op\":\"backup\",\"stream\":\"\",\"right\":\"admin\","
                        "\"result\":\"denied\""));
  EXPECT_THAT(text.str(),
              HasSubstr("\"kind\":\"action\",\"identity\":\"CN=ops-admin\""));
  EXPECT_THAT(text.str(), HasSubstr("\"op\":\"backup\",\"stream\":\"\","
                                    "\"right\":\"admin\",\"result\":\"ok\""));
  // Pages have their access line, not an action line each.
  EXPECT_THAT(text.str(), HasSubstr("\"op\":\"read_log\""));
  EXPECT_EQ(cairn::testing::CountOccurrences(text.str(), "\"kind\":\"action\""),
            1)
      << text.str();
  Result verify = Run({"audit", "verify", audit_});
  EXPECT_EQ(verify.code, 0) << verify.err;
}

// verify, inspect (server_info) and keys rotate read or change every
// stream: the admin right; verify is audited as an action.
TEST_F(CliTlsTest, ServerVerifyInspectAndRotateNeedTheAdminRight) {
  ASSERT_EQ(
      Run(Plus(AsOrders(), {"append", "orders-1"}), "{\"type\": \"A\"}\n").code,
      0);
  for (const auto& [command, op] :
       std::vector<std::pair<std::vector<std::string>, std::string>>{
           {{"verify"}, "verify"},
           {{"inspect"}, "server_info"},
           {{"keys", "rotate"}, "rotate_key"},
           {{"maintain"}, "maintain"}}) {
    Result denied = Run(Plus(AsOrders(), command));
    EXPECT_EQ(denied.code, 4) << op << ": " << denied.err;
    EXPECT_THAT(denied.err,
                HasSubstr("CN=orders-svc has no admin right on every "
                          "stream (prefix *) (" +
                          op + ")"));
  }
  const std::vector<std::string> admin = {
      "--server",   address_,          "--tls-ca",  File("ca.pem"),
      "--tls-cert", File("admin.pem"), "--tls-key", File("admin.key")};
  Result verify = Run(Plus(admin, {"verify", "--deep"}));
  ASSERT_EQ(verify.code, 0) << verify.err;
  EXPECT_THAT(verify.out, HasSubstr("deep: 1 event(s) opened"));
  std::ifstream file(audit_);
  std::stringstream text;
  text << file.rdbuf();
  EXPECT_THAT(text.str(), HasSubstr("\"op\":\"verify\",\"stream\":\"\","
                                    "\"right\":\"admin\",\"result\":\"ok\""));
  // verify asks for nothing else (no server_info for a progress total it
  // does not show through a server): the one server_info line is inspect's.
  EXPECT_EQ(
      cairn::testing::CountOccurrences(text.str(), "\"op\":\"server_info\""), 1)
      << text.str();
}

TEST_F(CliTlsTest, ServerRestoreNeedsTheAdminRightAndIsAudited) {
  ScratchDir scratch;
  std::istringstream in("{\"type\": \"A\"}\n{\"type\": \"B\"}\n");
  std::ostringstream out, err;
  ASSERT_EQ(RunCli({"--data", scratch.File("local"), "append", "orders-9"},
                   "/nonexistent/bin/cairn", in, out, err),
            0)
      << err.str();
  ASSERT_EQ(
      RunCli({"--data", scratch.File("local"), "backup", scratch.File("b")},
             "/nonexistent/bin/cairn", in, out, err),
      0)
      << err.str();

  Result denied = Run(Plus(AsOrders(), {"restore", scratch.File("b")}));
  EXPECT_EQ(denied.code, 4) << denied.err;
  EXPECT_THAT(denied.err, HasSubstr("CN=orders-svc has no admin right on every "
                                    "stream (prefix *) (restore)"));
  const std::vector<std::string> admin = {
      "--server",   address_,          "--tls-ca",  File("ca.pem"),
      "--tls-cert", File("admin.pem"), "--tls-key", File("admin.key")};
  Result ok = Run(Plus(admin, {"restore", scratch.File("b")}));
  ASSERT_EQ(ok.code, 0) << ok.err;
  EXPECT_THAT(ok.out, HasSubstr("head position 2"));
  EXPECT_EQ(Run(Plus(AsOrders(), {"head", "orders-9"})).out, "2\n");

  std::ifstream file(audit_);
  std::stringstream text;
  text << file.rdbuf();
  EXPECT_THAT(
      text.str(),
      HasSubstr("\"op\":\"restore\",\"stream\":\"\",\"right\":\"admin\","
                "\"result\":\"denied\""));
  EXPECT_THAT(text.str(),
              HasSubstr("\"kind\":\"action\",\"identity\":\"CN=ops-admin\""));
  EXPECT_THAT(
      text.str(),
      HasSubstr("\"op\":\"restore\",\"stream\":\"\",\"right\":\"admin\","
                "\"result\":\"ok\""));
  EXPECT_THAT(text.str(),
              HasSubstr("\"op\":\"restore_end\",\"stream\":\"\",\"right\":"
                        "\"admin\",\"result\":\"ok\""));
  EXPECT_THAT(text.str(), HasSubstr("\"op\":\"apply_log\""));
  EXPECT_EQ(cairn::testing::CountOccurrences(text.str(), "\"kind\":\"action\""),
            2)
      << text.str();
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
