// kill -9 across truncate_after: a child (truncate_child.cc) opens a copy
// of a store of many segments and truncates it after a random position; the
// parent kills it after a random delay (from before its open to after the
// cut finished), reopens, and checks that the store holds either the whole
// cut or none of it (written = the position or the old end), that every
// read agrees with every other (no stale index entry: truncate_check.h), that
// no intent file is left, and that appends go on at written + 1.
//
// MMAPLOG_TRUNCATE_KILLS sets the number of kills (default 40),
// MMAPLOG_TRUNCATE_SEED the seed.
#include <gtest/gtest.h>

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "crash_util.h"
#include "crash_workload.h"
#include "log.h"
#include "test_util.h"
#include "truncate_check.h"

namespace cairn::mmaplog {
namespace {

using crash::EnvOr;

std::string ChildPath() { return crash::ChildBinary("mmaplog_truncate_child"); }

LogOptions Options(const std::string& path) {
  return crash::CrashOptions(path);
}

struct ChildRun {
  std::string out;  // what it printed before it ended
  std::string err;
  bool killed = false;  // the kill, not the child, ended it
  double elapsed_ms = 0;
};

// Runs the child on `dir` and kills it after `kill_after_us` (or lets it
// finish, if that comes first; at most 60 s).
ChildRun RunChild(const std::string& dir, uint64_t position,
                  int64_t kill_after_us) {
  auto start = std::chrono::steady_clock::now();
  const crash::Child child =
      crash::SpawnChild({ChildPath(), dir, std::to_string(position)});
  EXPECT_NE(child.pid, -1);
  const pid_t pid = child.pid;
  const int out[2] = {child.out, -1};
  const int err[2] = {child.err, -1};
  ChildRun run;
  auto deadline = start + std::chrono::microseconds(kill_after_us);
  char buf[4096];
  bool exited = false;
  while (!exited) {
    auto left = std::chrono::duration_cast<std::chrono::microseconds>(
                    deadline - std::chrono::steady_clock::now())
                    .count();
    if (left <= 0) break;
    pollfd p{out[0], POLLIN, 0};
    int rc = poll(&p, 1, static_cast<int>((left + 999) / 1000));
    if (rc <= 0) continue;
    ssize_t n = read(out[0], buf, sizeof buf);
    if (n <= 0)
      exited = true;
    else
      run.out.append(buf, static_cast<size_t>(n));
  }
  run.killed = !exited;
  kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  run.elapsed_ms = std::chrono::duration<double, std::milli>(
                       std::chrono::steady_clock::now() - start)
                       .count();
  for (;;) {
    ssize_t n = read(out[0], buf, sizeof buf);
    if (n <= 0) break;
    run.out.append(buf, static_cast<size_t>(n));
  }
  for (;;) {
    ssize_t n = read(err[0], buf, sizeof buf);
    if (n <= 0) break;
    run.err.append(buf, static_cast<size_t>(n));
  }
  close(out[0]);
  close(err[0]);
  if (exited && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
    run.err += " (child status " + std::to_string(status) + ")";
  }
  return run;
}

std::vector<std::string> Names(const char* prefix, int n) {
  std::vector<std::string> v;
  for (int i = 0; i < n; ++i) v.push_back(prefix + std::to_string(i));
  return v;
}

TEST(MmapLogTruncateCrash, KilledTruncationLeavesTheWholeCutOrNone) {
  const uint64_t kills = EnvOr("MMAPLOG_TRUNCATE_KILLS", 40);
  std::mt19937_64 rng(EnvOr("MMAPLOG_TRUNCATE_SEED", 20261203));
  testing::ScratchDir scratch;
  const std::string pristine = scratch.path() + "/pristine";
  const std::vector<std::string> streams = Names("s", 16);
  const std::vector<std::string> tags = Names("t", 4);
  // A store of ~60 segments: 16 streams (the later ones first appended
  // late, so cuts remove whole streams), tags on half the events.
  constexpr uint64_t kEvents = 24000;
  {
    LogOptions o = Options(pristine);
    o.fsync = FsyncMode::kNever;  // fast to build; the child syncs
    auto log = Log::Open(o);
    ASSERT_TRUE(log.ok()) << log.status();
    for (uint64_t i = 0; i < kEvents; ++i) {
      const int live = 4 + static_cast<int>(i * 12 / kEvents);
      std::string stream = streams[i % live];
      testing::OwnedEvent ev;
      ev.data.assign(200 + i % 300, static_cast<char>('a' + i % 26));
      if (i % 2 == 0) ev.tags.push_back(tags[i % 4]);
      cairn_event e = ev.View();
      cairn_append_result r{};
      r.size = sizeof r;
      ASSERT_TRUE((*log)->Append(stream, testing::Any(), &e, 1, &r).ok());
    }
  }
  auto fresh_copy = [&](uint64_t k) {
    const std::string dir = scratch.path() + "/run" + std::to_string(k);
    std::filesystem::remove_all(dir);
    std::filesystem::copy(pristine, dir,
                          std::filesystem::copy_options::recursive);
    return dir;
  };
  // How long an uninterrupted run takes, so the kills spread over it.
  const std::string calibrate = fresh_copy(0);
  ChildRun whole = RunChild(calibrate, kEvents / 3, 60'000'000);
  ASSERT_FALSE(whole.killed) << whole.err;
  ASSERT_NE(whole.out.find("done"), std::string::npos) << whole.err;
  std::filesystem::remove_all(calibrate);
  const int64_t span_us =
      static_cast<int64_t>(whole.elapsed_ms * 1000 * 1.3) + 1000;

  uint64_t cut = 0, none = 0, killed_after_open = 0, finished = 0;
  for (uint64_t k = 1; k <= kills; ++k) {
    const std::string dir = fresh_copy(k);
    const uint64_t position = rng() % kEvents;
    const int64_t delay = static_cast<int64_t>(rng() % span_us);
    ChildRun run = RunChild(dir, position, delay);
    if (!run.killed) {
      ASSERT_NE(run.out.find("done"), std::string::npos)
          << "kill " << k << ": " << run.err;
      ++finished;
    } else if (run.out.find("opened") != std::string::npos) {
      ++killed_after_open;
    }
    const bool had_intent = std::filesystem::exists(dir + "/truncate");
    auto log = Log::Open(Options(dir));
    ASSERT_TRUE(log.ok()) << "kill " << k << " (position " << position
                          << ", after " << delay << " us): " << log.status();
    cairn_log_state st{};
    st.size = sizeof st;
    (*log)->LogState(&st);
    ASSERT_TRUE(st.written == position || st.written == kEvents)
        << "kill " << k << ": written " << st.written << ", cut at " << position
        << " of " << kEvents << (had_intent ? " (intent)" : "") << " after "
        << delay << " us; child: " << run.out << run.err;
    if (st.written == position)
      ++cut;
    else
      ++none;
    if (!run.killed) {
      EXPECT_EQ(st.written, position);
    }
    EXPECT_EQ(st.committed, st.written);
    EXPECT_FALSE(std::filesystem::exists(dir + "/truncate")) << "kill " << k;
    EXPECT_EQ(testing::CheckReadsAgree(**log, streams, tags), "")
        << "kill " << k << " (position " << position << ")";
    // Appends go on right after the end.
    testing::OwnedEvent ev;
    ev.tags.push_back(tags[0]);
    cairn_event e = ev.View();
    cairn_append_result r{};
    r.size = sizeof r;
    ASSERT_TRUE((*log)->Append(streams[15], testing::Any(), &e, 1, &r).ok());
    EXPECT_EQ(r.first_position, st.written + 1) << "kill " << k;
    EXPECT_EQ(testing::CheckReadsAgree(**log, streams, tags), "")
        << "kill " << k << " after an append";
    log->reset();
    std::filesystem::remove_all(dir);
    if (HasFailure()) break;
  }
  std::printf(
      "truncate crash: %llu kills over %.0f ms runs: %llu reopened cut, %llu "
      "uncut; %llu killed after the open, %llu finished first\n",
      static_cast<unsigned long long>(kills), whole.elapsed_ms,
      static_cast<unsigned long long>(cut),
      static_cast<unsigned long long>(none),
      static_cast<unsigned long long>(killed_after_open),
      static_cast<unsigned long long>(finished));
}

}  // namespace
}  // namespace cairn::mmaplog
