// kill -9 crash test: a child (crash_child.cc) appends with fsync=always and
// reports every acknowledged batch; the parent kills it at random moments and
// then checks, after reopening, that every acknowledged event is present and
// intact, that no batch is half visible, and that appends go on with the
// right revisions (the next child uses exact expected revisions).
//
// MMAPLOG_CRASH_KILLS sets the number of kills (default 60; the soak command
// scripts/soak-mmaplog runs 5,000). MMAPLOG_CRASH_SEED fixes the seed.
#include <gtest/gtest.h>

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <random>
#include <sstream>

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

uint64_t EnvOr(const char* name, uint64_t fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::strtoull(v, nullptr, 10) : fallback;
}

// The child lives beside this test (CAIRN_BIN_DIR under ctest).
std::string ChildPath() {
  const char* bin = std::getenv("CAIRN_BIN_DIR");
  if (bin != nullptr && *bin != '\0') {
    return std::string(bin) + "/mmaplog_crash_child";
  }
  char self[4096];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  std::string dir = n > 0 ? std::string(self, static_cast<size_t>(n)) : "./x";
  return dir.substr(0, dir.rfind('/')) + "/mmaplog_crash_child";
}

// Runs the child until it was killed after `run_ms`; returns its acks.
std::vector<Ack> RunAndKill(const std::string& dir, unsigned seed, int run_ms,
                            std::string* child_error) {
  int out[2], err[2];
  EXPECT_EQ(pipe(out), 0);
  EXPECT_EQ(pipe(err), 0);
  pid_t pid = fork();
  if (pid == 0) {
    dup2(out[1], 1);
    dup2(err[1], 2);
    close(out[0]);
    close(err[0]);
    std::string child = ChildPath();
    std::string seed_text = std::to_string(seed);
    execl(child.c_str(), child.c_str(), dir.c_str(), seed_text.c_str(),
          static_cast<char*>(nullptr));
    std::fprintf(stderr, "exec %s failed\n", child.c_str());
    _exit(127);
  }
  close(out[1]);
  close(err[1]);
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
    pollfd p{out[0], POLLIN, 0};
    int rc = poll(&p, 1, static_cast<int>(left));
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
    for (const Ack& a : acks) {
      uint64_t last = a.first_revision + a.count - 1;
      if (last > acked_head[a.stream]) acked_head[a.stream] = last;
      total_acked += a.count;
    }
    LogOptions options;
    options.path = path;
    options.segment_size = crash::kSegmentSize;
    options.fsync = FsyncMode::kAlways;
    options.stream_bucket_bits = 6;
    auto log = Log::Open(options);
    ASSERT_TRUE(log.ok()) << "kill " << kill << ": " << log.status();
    // Every acknowledged event is there and intact; every visible batch is
    // whole.
    for (const auto& [stream_index, head] : acked_head) {
      std::string stream = crash::StreamName(stream_index);
      ASSERT_GE((*log)->HeadRevision(stream), head)
          << "kill " << kill << ": stream " << stream << " lost acknowledged "
          << "events";
    }
    uint64_t expected_position = 0;
    std::map<std::string, uint64_t> seen_head;
    std::string batch_key;
    uint64_t batch_left = 0;
    absl::Status s = (*log)->ReadAll(
        0, UINT64_MAX, true, [&](const cairn_event& e) {
          std::string stream = testing::Str(e.stream);
          EXPECT_EQ(e.position, ++expected_position);
          EXPECT_EQ(e.revision, ++seen_head[stream]) << stream;
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
            ++total_recovered_batches;
          }
          --batch_left;
          return !::testing::Test::HasFailure();
        });
    ASSERT_TRUE(s.ok()) << s;
    ASSERT_EQ(batch_left, 0u) << "kill " << kill << ": half a batch is visible";
    ASSERT_FALSE(::testing::Test::HasFailure()) << "kill " << kill;
    ASSERT_EQ((*log)->HeadPosition(), expected_position);
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

}  // namespace
}  // namespace cairn::mmaplog
