// Large-scale mmaplog figures: anonymous resident memory with many events in
// many streams, and reopen time after a clean close and after kill -9.
//
//   mmaplog_scale_bench [--events N] [--streams M] [--batch B]
//                       [--kill-events K]
//
// Defaults: 20,000,000 events of 256 bytes in 100,000 streams, batches of 10.
// The kill -9 child appends K more events (default 1,000,000: past at least
// one rotation) and is killed. The clean close's checkpoint stays the newest
// (the next is written only once the log has grown by 4 times its size,
// docs/mmaplog.md), so that reopen scans the K events after it; the last
// reopen removes the checkpoint first (full scan).
// Writes into $MMAPLOG_BENCH_DIR (default /var/tmp) and removes what it wrote.
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>

#include "bench_util.h"

namespace cairn::mmaplog::bench {
namespace {

// RssAnon from /proc/self/status, in MiB.
double AnonResidentMiB() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("RssAnon:", 0) == 0) {
      return std::stod(line.substr(8)) / 1024.0;  // kB
    }
  }
  return -1;
}

// CPU seconds of this process so far (all threads).
double CpuSeconds() {
  rusage u;
  getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_stime.tv_sec +
         (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since)
      .count();
}

double Stat(Log& log, const char* stat) {
  double value = 0;
  log.Stats([&](const char* name, double v) {
    if (std::strcmp(name, stat) == 0) value = v;
  });
  return value;
}

// How the open recovered: from which checkpoint, and how much it scanned.
std::string RecoveryText(const Log& log) {
  const RecoveryReport& r = log.recovery();
  if (!r.from_checkpoint) {
    return "no checkpoint, scanned " + std::to_string(r.scanned_records) +
           " records";
  }
  return "checkpoint up to position " + std::to_string(r.checkpoint_position) +
         ", scanned " + std::to_string(r.scanned_records) + " records after it";
}

// Opens the log, prints how long that took and how it recovered, closes it.
bool Reopen(const LogOptions& o, const char* what, bool report_memory) {
  double cpu0 = CpuSeconds();
  auto t0 = std::chrono::steady_clock::now();
  auto log = Log::Open(o);
  if (!log.ok()) {
    std::fprintf(stderr, "%s: %s\n", what, log.status().ToString().c_str());
    return false;
  }
  double wall_s = Seconds(t0);
  std::printf("reopen CPU: %.3f s\n", CpuSeconds() - cpu0);
  std::printf("%s: %.3f s, of which scan %.3f s (head position %llu; %s)\n",
              what, wall_s, (*log)->recovery().scan_seconds,
              static_cast<unsigned long long>((*log)->HeadPosition()),
              RecoveryText(**log).c_str());
  if (report_memory) {
    std::printf("anonymous resident memory after reopen: %.1f MiB\n",
                AnonResidentMiB());
  }
  std::fflush(stdout);
  return true;
}

double IndexMiB(Log& log) {
  return Stat(log, "index_memory_bytes") / (1 << 20);
}

void Fill(Log& log, uint64_t events, uint64_t streams, size_t batch) {
  Batch b(batch);
  cairn_append_result r;
  for (uint64_t i = 0; i < events / batch; ++i) {
    std::string stream = "stream-" + std::to_string(i % streams);
    absl::Status s = log.Append(stream, {CAIRN_EXPECT_ANY, 0}, b.data(),
                                b.size(), &r);
    if (!s.ok()) {
      std::fprintf(stderr, "append: %s\n", s.ToString().c_str());
      std::exit(1);
    }
  }
}

int Main(int argc, char** argv) {
  uint64_t events = 20000000, streams = 100000;
  size_t batch = 10;
  uint64_t kill_events = 1000000;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    uint64_t v = std::strtoull(argv[i + 1], nullptr, 10);
    if (flag == "--events") events = v;
    else if (flag == "--streams") streams = v;
    else if (flag == "--batch") batch = v;
    else if (flag == "--kill-events") kill_events = v;
    else {
      std::fprintf(stderr, "unknown flag %s\n", flag.c_str());
      return 2;
    }
  }
  uint32_t bits = 4;
  while (bits < 24 && (uint64_t{1} << bits) < streams) ++bits;
  std::printf("mmaplog scale: %llu events of 256 bytes, %llu streams, "
              "batches of %zu, dir %s\n",
              static_cast<unsigned long long>(events),
              static_cast<unsigned long long>(streams), batch,
              BenchRoot().c_str());
  double rss_start = AnonResidentMiB();
  LogOptions o;
  o.path = BenchRoot() + "/mmaplog-scale-" + std::to_string(getpid());
  o.fsync = FsyncMode::kNever;
  o.stream_bucket_bits = bits;
  std::filesystem::remove_all(o.path);
  {
    auto log = Log::Open(o);
    if (!log.ok()) {
      std::fprintf(stderr, "open: %s\n", log.status().ToString().c_str());
      return 1;
    }
    auto t0 = std::chrono::steady_clock::now();
    Fill(**log, events, streams, batch);
    double fill_s = Seconds(t0);
    std::printf("filled in %.1f s (%.0f events/s)\n", fill_s, events / fill_s);
    std::printf("anonymous resident memory: %.1f MiB (at process start %.1f "
                "MiB); index %.1f MiB\n",
                AnonResidentMiB(), rss_start, IndexMiB(**log));
    std::fflush(stdout);
  }
  if (!Reopen(o, "reopen after clean close", /*report_memory=*/true)) return 1;
  // kill -9: a child opens the log, appends, reports, and is killed.
  int ready[2];
  if (pipe(ready) != 0) return 1;
  pid_t pid = fork();
  if (pid == 0) {
    auto log = Log::Open(o);
    if (!log.ok()) _exit(1);
    Fill(**log, kill_events, streams, batch);
    char c = 'r';
    if (write(ready[1], &c, 1) != 1) _exit(1);
    pause();
    _exit(0);
  }
  char c;
  if (read(ready[0], &c, 1) != 1) {
    std::fprintf(stderr, "child failed\n");
    return 1;
  }
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  if (!Reopen(o, "reopen after kill -9", false)) return 1;
  std::filesystem::remove(o.path + "/index/checkpoint");
  if (!Reopen(o, "reopen with the checkpoint removed", false)) return 1;
  std::filesystem::remove_all(o.path);
  return 0;
}

}  // namespace
}  // namespace cairn::mmaplog::bench

int main(int argc, char** argv) {
  return cairn::mmaplog::bench::Main(argc, argv);
}
