// kill -9 crash test: a child (crash_child.cc) appends with fsync=always and
// reports every acknowledged batch; the parent kills it at random moments and
// then checks, after reopening, that every acknowledged event is present and
// intact, that no batch is half visible, and that appends go on with the
// right revisions (the next child uses exact expected revisions).
//
// MMAPLOG_CRASH_KILLS sets the number of kills (default 60; the soak command
// scripts/soak-mmaplog runs 5,000). MMAPLOG_CRASH_SEED fixes the seed.
//
// Two siblings use the same child: one kills it across retention (bytes
// mode: segments are removed all the time) and checks that heads survive
// and everything from the first retained position is intact; one kills it
// once several segments and a checkpoint exist and checks that the reopen
// scanned only the records after the checkpoint.
#include <gtest/gtest.h>

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>
#include <random>
#include <sstream>

#include "crash_util.h"
#include "crash_workload.h"
#include "log.h"
#include "test_util.h"

namespace cairn::mmaplog {
namespace {

struct Ack {
  int stream;
  uint64_t first_revision;
  uint32_t count;
  uint64_t first_position;
};

using crash::EnvOr;

std::string ChildPath() { return crash::ChildBinary("mmaplog_crash_child"); }

// MMAPLOG_CRASH_SEED, or a random seed.
unsigned SeedFromEnv() {
  return static_cast<unsigned>(
      EnvOr("MMAPLOG_CRASH_SEED", std::random_device{}()));
}

// Runs the child (with `retention`, if not empty) and kills it after
// `run_ms`, or as soon as `kill_now` says so; returns its acks.
std::vector<Ack> RunAndKill(const std::string& dir, unsigned seed, int run_ms,
                            std::string* child_error,
                            const std::string& retention = "",
                            const std::function<bool()>& kill_now = nullptr,
                            std::string* lines = nullptr) {
  std::vector<std::string> argv = {ChildPath(), dir, std::to_string(seed)};
  if (!retention.empty()) argv.push_back(retention);
  const crash::Child child = crash::SpawnChild(argv);
  EXPECT_NE(child.pid, -1);
  const pid_t pid = child.pid;
  const int out[2] = {child.out, -1};
  const int err[2] = {child.err, -1};
  std::string text;
  auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(run_ms);
  char buf[65536];
  bool child_exited = false;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    deadline - std::chrono::steady_clock::now())
                    .count();
    if (left <= 0) break;
    if (kill_now && kill_now()) break;
    pollfd p{out[0], POLLIN, 0};
    int rc = poll(&p, 1, static_cast<int>(kill_now ? std::min<int64_t>(left, 10)
                                                  : left));
    if (rc <= 0) continue;
    ssize_t n = read(out[0], buf, sizeof buf);
    if (n <= 0) {
      child_exited = true;
      break;
    }
    text.append(buf, static_cast<size_t>(n));
  }
  kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  // Whatever the child wrote before it died was acknowledged.
  for (;;) {
    ssize_t n = read(out[0], buf, sizeof buf);
    if (n <= 0) break;
    text.append(buf, static_cast<size_t>(n));
  }
  for (;;) {
    ssize_t n = read(err[0], buf, sizeof buf);
    if (n <= 0) break;
    child_error->append(buf, static_cast<size_t>(n));
  }
  close(out[0]);
  close(err[0]);
  if (child_exited || !WIFSIGNALED(status)) {
    child_error->append(" (child exited by itself, status " +
                        std::to_string(status) + ")");
  }
  if (lines != nullptr) *lines = text;
  std::vector<Ack> acks;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (in.eof()) break;  // a line cut short by the kill has no newline
    Ack a{};
    unsigned long long rev, pos;
    if (std::sscanf(line.c_str(), "%d %llu %u %llu", &a.stream, &rev, &a.count,
                    &pos) == 4) {
      a.first_revision = rev;
      a.first_position = pos;
      acks.push_back(a);
    }
  }
  return acks;
}

// Raises each stream's acknowledged head; returns the events acknowledged.
uint64_t Acknowledge(const std::vector<Ack>& acks,
                     std::map<int, uint64_t>* acked_head) {
  uint64_t events = 0;
  for (const Ack& a : acks) {
    uint64_t last = a.first_revision + a.count - 1;
    if (last > (*acked_head)[a.stream]) (*acked_head)[a.stream] = last;
    events += a.count;
  }
  return events;
}

using crash::CrashOptions;

// Reopens the log the child was killed in and checks it: every acknowledged
// head is there (even if retention removed the events), every event from
// the first retained position on is intact, positions are gap-free,
// revisions contiguous per stream, no batch half visible. Null (with test
// failures) if not.
std::unique_ptr<Log> ReopenAndCheck(const std::string& path,
                                    const std::map<int, uint64_t>& acked_head,
                                    uint64_t kill, uint64_t* batches) {
  auto log = Log::Open(CrashOptions(path));
  EXPECT_TRUE(log.ok()) << "kill " << kill << ": " << log.status();
  if (!log.ok()) return nullptr;
  for (const auto& [stream_index, head] : acked_head) {
    std::string stream = crash::StreamName(stream_index);
    EXPECT_GE((*log)->HeadRevision(stream), head)
        << "kill " << kill << ": stream " << stream << " lost acknowledged "
        << "events";
  }
  const bool retained = (*log)->FirstPosition() > 1;
  std::map<std::string, cairn_stream_info> info;
  EXPECT_TRUE((*log)->ListStreams(0, UINT64_MAX, [&](const cairn_stream_info& i) {
                      info[std::string(reinterpret_cast<const char*>(i.name.data),
                                       i.name.size)] = i;
                      return true;
                    }).ok());
  uint64_t expected_position = (*log)->FirstPosition() - 1;
  std::map<std::string, uint64_t> seen_head;
  uint64_t batch_left = 0;
  // Every record (events and the control records delete_to writes), so
  // that positions are checked gap-free.
  absl::Status s = (*log)->ReadLog(
      expected_position, UINT64_MAX, [&](const cairn_log_record& r) {
        EXPECT_EQ(r.position, ++expected_position);
        if (r.kind != CAIRN_RECORD_EVENT) return true;
        const cairn_event& e = *r.event;
        std::string stream = testing::Str(e.stream);
        EXPECT_EQ(e.position, r.position);
        // Without retention every stream starts at revision 1.
        auto [it, first_seen] =
            seen_head.emplace(stream, retained ? e.revision - 1 : 0);
        if (first_seen && e.revision > 1) {
          // Its earlier revisions went with removed segments: a stream read
          // starts at the same revision (or after its deleted-to).
          uint64_t first_revision = 0;
          EXPECT_TRUE((*log)->ReadStream(stream, 1, CAIRN_MAX_REVISION, 1,
                                        [&](const cairn_event& f) {
                                          first_revision = f.revision;
                                          return false;
                                        }).ok());
          const cairn_stream_info& i = info[stream];
          uint64_t want = std::max(e.revision, i.deleted_to + 1);
          EXPECT_EQ(first_revision, want > i.head_revision ? 0 : want)
              << stream;
        }
        EXPECT_EQ(e.revision, ++it->second) << stream;
        std::string meta = testing::Str(e.metadata);
        uint64_t first = std::stoull(meta.substr(0, meta.find(':')));
        uint64_t count = std::stoull(meta.substr(meta.find(':') + 1));
        crash::Payload want = crash::MakePayload(stream, e.revision, first,
                                                 static_cast<uint32_t>(count));
        EXPECT_EQ(testing::Str(e.data), want.data)
            << stream << " revision " << e.revision << " is damaged";
        if (batch_left == 0) {
          EXPECT_EQ(e.revision, first) << "batch does not start at its head";
          batch_left = count;
          ++*batches;
        }
        --batch_left;
        return !::testing::Test::HasFailure();
      });
  EXPECT_TRUE(s.ok()) << s;
  EXPECT_EQ(batch_left, 0u) << "kill " << kill << ": half a batch is visible";
  EXPECT_EQ((*log)->HeadPosition(), expected_position);
  if (::testing::Test::HasFailure()) {
    ADD_FAILURE() << "kill " << kill;
    return nullptr;
  }
  return std::move(*log);
}

TEST(MmapLogCrash, KilledAppenderLosesNoAcknowledgedEventAndNoHalfBatch) {
  const uint64_t kills = EnvOr("MMAPLOG_CRASH_KILLS", 60);
  const unsigned seed =
      static_cast<unsigned>(EnvOr("MMAPLOG_CRASH_SEED", std::random_device{}()));
  const uint64_t fresh_every = EnvOr("MMAPLOG_CRASH_FRESH_EVERY", 250);
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  std::unique_ptr<testing::ScratchDir> dir;
  // stream index -> highest acknowledged revision (and its position).
  std::map<int, uint64_t> acked_head;
  uint64_t total_acked = 0, total_recovered_batches = 0;
  for (uint64_t kill = 0; kill < kills; ++kill) {
    if (kill % fresh_every == 0) {
      // Bounded disk use and verify time in long soaks.
      dir = std::make_unique<testing::ScratchDir>();
      acked_head.clear();
    }
    std::string path = dir->path() + "/log";
    std::string child_error;
    int run_ms = 5 + static_cast<int>(rng() % 150);
    std::vector<Ack> acks = RunAndKill(path, rng(), run_ms, &child_error);
    ASSERT_TRUE(child_error.empty()) << "kill " << kill << ": " << child_error;
    total_acked += Acknowledge(acks, &acked_head);
    std::unique_ptr<Log> log = ReopenAndCheck(path, acked_head, kill,
                                              &total_recovered_batches);
    ASSERT_NE(log, nullptr);
    if ((kill + 1) % 500 == 0) {
      std::printf("crash test: %llu kills done, %llu events acknowledged\n",
                  static_cast<unsigned long long>(kill + 1),
                  static_cast<unsigned long long>(total_acked));
      std::fflush(stdout);
    }
  }
  std::printf("crash test: %llu kills, %llu acknowledged events, %llu batches "
              "checked (seed %u)\n",
              static_cast<unsigned long long>(kills),
              static_cast<unsigned long long>(total_acked),
              static_cast<unsigned long long>(total_recovered_batches), seed);
}

TEST(MmapLogCrash, KilledAcrossRetentionKeepsHeadsAndEventsFromTheFirstPosition) {
  const uint64_t kills = EnvOr("MMAPLOG_CRASH_RETENTION_KILLS", 30);
  const unsigned seed = SeedFromEnv();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  testing::ScratchDir dir;
  const std::string path = dir.path() + "/log";
  // Three 128 KiB segments (the child removes segments all the time); every
  // third run uses `deleted` instead (the child deletes as it goes).
  const std::string bytes_retention =
      "bytes:" + std::to_string(3 * crash::kSegmentSize);
  std::map<int, uint64_t> acked_head;
  uint64_t total_acked = 0, batches = 0, from_checkpoint = 0, completed = 0;
  uint64_t first_position = 1;
  for (uint64_t kill = 0; kill < kills; ++kill) {
    std::string child_error;
    int run_ms = 20 + static_cast<int>(rng() % 150);
    std::vector<Ack> acks =
        RunAndKill(path, rng(), run_ms, &child_error,
                   kill % 3 == 2 ? "deleted" : bytes_retention);
    ASSERT_TRUE(child_error.empty()) << "kill " << kill << ": " << child_error;
    total_acked += Acknowledge(acks, &acked_head);
    std::unique_ptr<Log> log = ReopenAndCheck(path, acked_head, kill, &batches);
    ASSERT_NE(log, nullptr);
    ASSERT_GE(log->FirstPosition(), first_position)
        << "kill " << kill << ": removed events came back";
    first_position = log->FirstPosition();
    from_checkpoint += log->recovery().from_checkpoint ? 1 : 0;
    completed += log->recovery().completed_removals;
  }
  EXPECT_GT(first_position, 1u) << "retention never removed a segment";
  std::printf("crash test with retention: %llu kills, %llu acknowledged "
              "events, first position %llu, %llu reopens from a checkpoint, "
              "%llu interrupted removals completed (seed %u)\n",
              static_cast<unsigned long long>(kills),
              static_cast<unsigned long long>(total_acked),
              static_cast<unsigned long long>(first_position),
              static_cast<unsigned long long>(from_checkpoint),
              static_cast<unsigned long long>(completed), seed);
}

TEST(MmapLogCrash, ReopenAfterKillScansOnlyRecordsAfterTheCheckpoint) {
  testing::ScratchDir dir;
  const std::string path = dir.path() + "/log";
  // Kill the child once it has rotated through several segments and the
  // background thread has written a checkpoint.
  auto several_segments_checkpointed = [&] {
    int segments = 0;
    std::error_code ec;
    for (auto& e : std::filesystem::directory_iterator(path, ec)) {
      std::string name = e.path().filename().string();
      if (name.size() == 12 && name.substr(8) == ".log") ++segments;
    }
    return segments >= 6 && std::filesystem::exists(path + "/index/checkpoint");
  };
  std::string child_error;
  std::vector<Ack> acks = RunAndKill(path, 7, 60000, &child_error, "",
                                     several_segments_checkpointed);
  ASSERT_TRUE(child_error.empty()) << child_error;
  ASSERT_TRUE(several_segments_checkpointed())
      << "the child wrote no checkpoint over several segments within 60 s";
  std::map<int, uint64_t> acked_head;
  Acknowledge(acks, &acked_head);
  uint64_t batches = 0;
  std::unique_ptr<Log> log = ReopenAndCheck(path, acked_head, 0, &batches);
  ASSERT_NE(log, nullptr);
  const RecoveryReport& r = log->recovery();
  ASSERT_TRUE(r.from_checkpoint) << r.checkpoint_rejected;
  EXPECT_GT(r.checkpoint_position, 0u);
  EXPECT_LT(r.scanned_records, log->HeadPosition());
  EXPECT_EQ(r.scanned_records, log->HeadPosition() - r.checkpoint_position);
  std::printf("reopen after kill -9: %llu records, checkpoint up to %llu, "
              "%llu scanned\n",
              static_cast<unsigned long long>(log->HeadPosition()),
              static_cast<unsigned long long>(r.checkpoint_position),
              static_cast<unsigned long long>(r.scanned_records));
}

// Issue #14: a delete-to and a snapshot are records; once delete_to and
// snapshot_save returned (fsync=always) they survive kill -9 like events.
TEST(MmapLogCrash, KilledWriterKeepsAcknowledgedDeleteToAndSnapshotRecords) {
  const uint64_t kills = EnvOr("MMAPLOG_CRASH_CONTROL_KILLS", 20);
  const unsigned seed = SeedFromEnv();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::map<int, uint64_t> deleted, snapshot;  // acknowledged, per stream
  std::mt19937 rng(seed);
  testing::ScratchDir dir;
  const std::string path = dir.path() + "/log";
  uint64_t checked = 0;
  for (uint64_t kill = 0; kill < kills; ++kill) {
    std::string child_error, lines;
    RunAndKill(path, rng(), 20 + static_cast<int>(rng() % 150), &child_error,
               "control", nullptr, &lines);
    ASSERT_TRUE(child_error.empty()) << "kill " << kill << ": " << child_error;
    std::istringstream in(lines);
    std::string line;
    while (std::getline(in, line)) {
      if (in.eof()) break;  // cut short by the kill
      char kind;
      int stream;
      unsigned long long revision;
      if (std::sscanf(line.c_str(), "%c %d %llu", &kind, &stream, &revision) !=
          3) {
        continue;
      }
      if (kind == 'D')
        deleted[stream] = std::max<uint64_t>(deleted[stream], revision);
      if (kind == 'S')
        snapshot[stream] = std::max<uint64_t>(snapshot[stream], revision);
    }
    auto log = Log::Open(CrashOptions(path));
    ASSERT_TRUE(log.ok()) << "kill " << kill << ": " << log.status();
    std::map<int, uint64_t> found_deleted;
    ASSERT_TRUE(
        (*log)
            ->ListStreams(0, 1000,
                          [&](const cairn_stream_info& i) {
                            const std::string name(
                                reinterpret_cast<const char*>(i.name.data),
                                i.name.size);
                            for (const auto& [s, d] : deleted) {
                              if (name == crash::StreamName(s))
                                found_deleted[s] = i.deleted_to;
                            }
                            return true;
                          })
            .ok());
    for (const auto& [s, d] : deleted) {
      EXPECT_GE(found_deleted[s], d) << "kill " << kill << ": stream " << s
                                     << " lost an acknowledged delete-to";
      ++checked;
    }
    const cairn_snapshot_criteria all{sizeof all, 0, CAIRN_MAX_REVISION,
                                      INT64_MIN, INT64_MAX};
    for (const auto& [s, r] : snapshot) {
      uint64_t got = 0;
      std::string data;
      ASSERT_TRUE(
          (*log)
              ->SnapshotLoad(crash::StreamName(s), all,
                             [&](const cairn_snapshot& x) {
                               got = x.revision;
                               data.assign(
                                   reinterpret_cast<const char*>(x.data.data),
                                   x.data.size);
                             })
              .ok());
      EXPECT_GE(got, r) << "kill " << kill << ": stream " << s
                        << " lost an acknowledged snapshot";
      EXPECT_EQ(data, "snap-" + std::to_string(got));
      ++checked;
    }
  }
  EXPECT_GT(checked, 0u) << "no control write was acknowledged";
}

}  // namespace
}  // namespace cairn::mmaplog
