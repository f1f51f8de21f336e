// Google Benchmark figures for mmaplog (docs/benchmarks.md, "## mmaplog"):
// appends with fsync=never/always, single and concurrent, batches of 1 and
// 100, 256-byte events over 1,000 streams; reads of a warm 1,000-event stream
// and of the whole log; the machine's fdatasync time in the same run; and
// what a new segment's page cache costs the machine (BM_NewSegmentPages);
// and the record checksum alone (BM_Crc32c).
//
// Threads are plain std::threads inside one timed iteration (the log is
// shared), and rates are reported as items_per_second = events/s.
#include <benchmark/benchmark.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "bench_util.h"
#include "crc32c.h"

namespace cairn::mmaplog::bench {
namespace {

constexpr uint64_t kStreams = 1000;

// CPU seconds used by the whole process so far (all threads). The machine is
// shared, so events per CPU-second is reported beside events per second.
double ProcessCpuSeconds() {
  rusage u;
  getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_stime.tv_sec +
         (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

void Check(const absl::Status& s) {
  if (!s.ok()) {
    std::fprintf(stderr, "%s\n", s.ToString().c_str());
    std::abort();
  }
}

// Each of `threads` writers appends `batches` batches of `batch` events to
// its own streams. Returns per-append latencies in microseconds if asked.
// With `keyed`, every append carries a fresh 16-byte idempotency key, as
// cairnd's clients send (docs/mmaplog.md, "Idempotency keys").
void RunAppends(Log& log, int threads, uint64_t batches, size_t batch,
                std::vector<double>* latencies, bool keyed = false) {
  std::vector<std::thread> workers;
  std::vector<std::vector<double>> lat(threads);
  // Named once here, so the timed loop measures appends, not snprintf.
  std::vector<std::string> streams;
  for (uint64_t i = 0; i < kStreams; ++i) streams.push_back(StreamName(i));
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      Batch events(batch);
      cairn_append_result r;
      if (latencies != nullptr) lat[t].reserve(batches);
      static std::atomic<uint64_t> next_key{0};
      char key[16] = {};
      for (uint64_t i = 0; i < batches; ++i) {
        if (keyed) {
          const uint64_t k = next_key.fetch_add(1, std::memory_order_relaxed);
          std::memcpy(key, &k, sizeof k);
        }
        // Streams are split between threads so ANY never conflicts on a claim
        // more than the workload implies.
        const std::string& stream = streams[(i * threads + t) % kStreams];
        std::chrono::steady_clock::time_point t0;
        if (latencies != nullptr) t0 = std::chrono::steady_clock::now();
        absl::Status s = log.Append(
            stream, ::cairn::mmaplog::Expected{CAIRN_EXPECT_ANY, 0},
            events.data(), events.size(), &r, nullptr,
            keyed ? std::string_view(key, sizeof key) : std::string_view());
        if (latencies != nullptr) {
          lat[t].push_back(std::chrono::duration<double, std::micro>(
                               std::chrono::steady_clock::now() - t0)
                               .count());
        }
        if (!s.ok()) {
          std::fprintf(stderr, "append: %s\n", s.ToString().c_str());
          std::abort();
        }
      }
    });
  }
  for (auto& w : workers) w.join();
  if (latencies != nullptr) {
    for (auto& l : lat) latencies->insert(latencies->end(), l.begin(), l.end());
  }
}

// fsync=never appends. Args: threads, batch size, events per thread per
// iteration. With `recycle`, the same appends go first into a throwaway log
// that is then deleted, so the measured log's page cache is pages the kernel
// just freed (see BM_AppendNeverRecycled). The log's first segment gets all
// its blocks inside Open, as every segment after it gets them ahead of
// need (the steady state, and what 1.0 did); with `fresh` it grows in
// steps while the appends run, as a new store's does (BM_AppendNeverFresh).
void AppendNever(benchmark::State& state, bool recycle, bool keyed = false,
                 bool fresh = false) {
  int threads = static_cast<int>(state.range(0));
  size_t batch = static_cast<size_t>(state.range(1));
  uint64_t events = static_cast<uint64_t>(state.range(2));
  if (recycle) {
    ScratchLog throwaway(FsyncMode::kNever);
    for (int64_t i = 0; i < state.max_iterations; ++i) {
      RunAppends(throwaway.log(), threads, events / batch, batch, nullptr);
    }
  }
  ScratchLog log(FsyncMode::kNever, 256ull << 20, 12, /*zero_fill=*/true,
                 /*whole_first=*/!fresh);
  double cpu0 = ProcessCpuSeconds();
  for (auto _ : state) {
    RunAppends(log.log(), threads, events / batch, batch, nullptr, keyed);
  }
  double cpu = ProcessCpuSeconds() - cpu0;
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * events *
                                               threads));
  state.counters["events_per_cpu_s"] =
      static_cast<double>(state.iterations() * events * threads) / cpu;
  // Allocation steps, and those an appender had to take itself because it
  // reached the end of the segment's blocks before the preparer extended
  // them.
  log.log().Stats([&](const char* name, double value) {
    if (std::string_view(name) == "allocation_steps_total") {
      state.counters["steps"] = value;
    } else if (std::string_view(name) == "allocation_steps_inline_total") {
      state.counters["inline_steps"] = value;
    }
  });
}

// The rows of BM_AppendNever and BM_AppendNeverFresh.
void NeverRows(benchmark::internal::Benchmark* b) {
  b->ArgNames({"threads", "batch", "events"})
      ->Args({1, 100, 2000000})
      ->Args({2, 100, 2000000})
      ->Args({1, 1, 1000000})
      ->Args({2, 1, 1000000})
      ->Iterations(3)
      ->UseRealTime()
      ->Unit(benchmark::kMillisecond);
}

void BM_AppendNever(benchmark::State& state) { AppendNever(state, false); }
BENCHMARK(BM_AppendNever)->Apply(NeverRows);

// BM_AppendNever on a new store as it is by default: its first segment
// (256 MiB: from a twelfth to a third of a row's data) gets its blocks
// in 16 MiB steps while the appends run; what a new store pays for taking
// one step of disk rather than a segment (issue #17).
void BM_AppendNeverFresh(benchmark::State& state) {
  AppendNever(state, false, /*keyed=*/false, /*fresh=*/true);
}
BENCHMARK(BM_AppendNeverFresh)->Apply(NeverRows);

// BM_AppendNever with an idempotency key on every append: what storing and
// checking keys costs (the key's bytes in the record, the cache's lookup
// and insert, its per-stream window).
void BM_AppendNeverKeyed(benchmark::State& state) {
  AppendNever(state, false, /*keyed=*/true);
}
BENCHMARK(BM_AppendNeverKeyed)
    ->ArgNames({"threads", "batch", "events"})
    ->Args({1, 100, 2000000})
    ->Args({1, 1, 1000000})
    ->Args({2, 1, 1000000})
    ->Iterations(3)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

// BM_AppendNever with the page cache it needs recycled. On a VM that
// returns free memory to its host (Firecracker free page reporting),
// BM_AppendNever's pages are mostly ones the host must fault in again, and
// zeroing them bounds it; a long-running server recycles page cache, as
// here.
void BM_AppendNeverRecycled(benchmark::State& state) {
  AppendNever(state, true);
}
BENCHMARK(BM_AppendNeverRecycled)
    ->ArgNames({"threads", "batch", "events"})
    ->Args({1, 100, 2000000})
    ->Args({2, 100, 2000000})
    ->Iterations(3)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

// The storage stat `name` (Log::Stats).
double Stat(const Log& log, std::string_view name) {
  double out = 0;
  log.Stats([&](const char* n, double v) {
    if (name == n) out = v;
  });
  return out;
}

void BM_AppendAlways(benchmark::State& state) {
  int threads = static_cast<int>(state.range(0));
  size_t batch = static_cast<size_t>(state.range(1));
  uint64_t events = static_cast<uint64_t>(state.range(2));
  // zeros:0 is the log as before zero-filled segments (fallocate only), so
  // one run compares both on the same disk.
  bool zero_fill = state.range(3) != 0;
  ScratchLog log(FsyncMode::kAlways, 256ull << 20, 12, zero_fill);
  std::vector<double> latencies;
  // The machine's fsync time in the same run: half the probe before the
  // appends and half after, one median over both.
  std::vector<double> probe = FdatasyncSamplesMicros(100);
  double fsyncs0 = Stat(log.log(), "fsyncs_total");
  double fsync_s0 = Stat(log.log(), "fsync_seconds_total");
  double cpu0 = ProcessCpuSeconds();
  for (auto _ : state) {
    RunAppends(log.log(), threads, events / batch, batch, &latencies);
  }
  state.counters["events_per_cpu_s"] =
      static_cast<double>(state.iterations() * events * threads) /
      (ProcessCpuSeconds() - cpu0);
  double fsyncs = Stat(log.log(), "fsyncs_total") - fsyncs0;
  double fsync_s = Stat(log.log(), "fsync_seconds_total") - fsync_s0;
  std::vector<double> after = FdatasyncSamplesMicros(100);
  probe.insert(probe.end(), after.begin(), after.end());
  double fsync_us = Median(probe);
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * events *
                                               threads));
  std::sort(latencies.begin(), latencies.end());
  state.counters["p50_us"] = latencies[latencies.size() / 2];
  state.counters["p99_us"] = latencies[latencies.size() * 99 / 100];
  state.counters["fdatasync_us"] = fsync_us;
  state.counters["p99_in_fsyncs"] =
      latencies[latencies.size() * 99 / 100] / fsync_us;
  // What the log's own syncs cost (its flusher's fdatasync of the segment),
  // and how many appends shared each.
  state.counters["log_sync_us"] = fsyncs > 0 ? fsync_s / fsyncs * 1e6 : 0;
  state.counters["appends_per_sync"] =
      fsyncs > 0 ? static_cast<double>(latencies.size()) / fsyncs : 0;
}
BENCHMARK(BM_AppendAlways)
    ->ArgNames({"threads", "batch", "events", "zeros"})
    ->Args({1, 100, 400000, 1})
    ->Args({1, 100, 400000, 0})
    ->Args({8, 100, 200000, 1})
    ->Args({8, 100, 200000, 0})
    ->Args({64, 1, 4000, 1})
    ->Args({64, 1, 4000, 0})
    ->Iterations(2)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

// CRC32C over `range(0)` bytes (a 256-byte event is a 367-byte record): the
// checksum every append computes and every read and recovery checks.
void BM_Crc32c(benchmark::State& state) {
  std::string data(static_cast<size_t>(state.range(0)), '\0');
  for (size_t i = 0; i < data.size(); ++i)
    data[i] = static_cast<char>(i * 31 + 7);
  uint32_t crc = 0;
  for (auto _ : state) {
    crc = cairn::mmaplog::Crc32c(crc, data.data(), data.size());
    benchmark::DoNotOptimize(crc);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          state.range(0));
}
BENCHMARK(BM_Crc32c)->Arg(56)->Arg(367)->Arg(4096)->Arg(1 << 20);

void BM_Fdatasync(benchmark::State& state) {
  for (auto _ : state) {
    state.counters["median_us"] = MeasureFdatasyncMicros(100);
  }
}
BENCHMARK(BM_Fdatasync)->Iterations(1)->Unit(benchmark::kMillisecond);

// What a new segment's page cache costs this machine, without the log: each
// iteration makes six 256 MiB segment files as the preparer does
// (fallocate, map, touch every page). reuse:0 keeps them all until the end,
// so every page is one the kernel has not used lately; reuse:1 deletes each
// before making the next, so its pages come straight back. On a VM whose
// host takes back the guest's free memory (free page reporting), reuse:0
// pays the host's page faults and bounds BM_AppendNever at about one
// segment's events (~1 M) per ms_per_segment; reuse:1 shows the machine
// without them.
void BM_NewSegmentPages(benchmark::State& state) {
  const bool reuse = state.range(0) != 0;
  constexpr int kSegments = 6;
  constexpr size_t kSize = 256u << 20;
  FileSystem* fs = FileSystem::Default();
  std::string dir = BenchRoot() + "/mmaplog-pages-" + std::to_string(getpid());
  Check(fs->CreateDirectories(dir));
  double seconds = 0;
  for (auto _ : state) {
    std::vector<std::unique_ptr<MappedFile>> kept;
    for (int i = 0; i < kSegments; ++i) {
      std::string path = dir + "/" + std::to_string(i);
      auto t0 = std::chrono::steady_clock::now();
      auto file = fs->CreateMapped(path, kSize, /*durable=*/false);
      Check(file.status());
      Check((*file)->Prefault());
      seconds += std::chrono::duration<double>(
                     std::chrono::steady_clock::now() - t0)
                     .count();
      if (reuse) {
        file->reset();
        Check(fs->Remove(path));
      } else {
        kept.push_back(std::move(*file));
      }
    }
    kept.clear();
    for (int i = 0; i < kSegments; ++i) {
      (void)fs->Remove(dir + "/" + std::to_string(i));
    }
  }
  std::filesystem::remove_all(dir);
  const double segments = static_cast<double>(state.iterations() * kSegments);
  state.counters["ms_per_segment"] = seconds * 1e3 / segments;
  state.counters["GB_per_s"] = segments * kSize / seconds / 1e9;
}
BENCHMARK(BM_NewSegmentPages)
    ->ArgNames({"reuse"})
    ->Arg(0)
    ->Arg(1)
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond);

void BM_ReadWarmStream1000(benchmark::State& state) {
  ScratchLog log(FsyncMode::kNever);
  Batch one(1);
  cairn_append_result r;
  // 1,000 events of the target stream interleaved with others, as in a busy
  // store.
  for (int i = 0; i < 1000; ++i) {
    for (int other = 0; other < 9; ++other) {
      Check(log.log().Append(StreamName(1 + other), {CAIRN_EXPECT_ANY, 0},
                             one.data(), 1, &r));
    }
    Check(log.log().Append("target", {CAIRN_EXPECT_ANY, 0}, one.data(), 1, &r));
  }
  uint64_t bytes = 0;
  for (auto _ : state) {
    uint64_t n = 0;
    Check(log.log().ReadStream("target", 1, CAIRN_MAX_REVISION, UINT64_MAX,
                               [&](const cairn_event& e) {
                                 n += e.data.size;
                                 return true;
                               }));
    bytes += n;
    benchmark::DoNotOptimize(n);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * 1000));
}
BENCHMARK(BM_ReadWarmStream1000)->Unit(benchmark::kMicrosecond);

void BM_ReadAll(benchmark::State& state) {
  ScratchLog log(FsyncMode::kNever);
  RunAppends(log.log(), 1, 20000, 100, nullptr);  // 2,000,000 events
  for (auto _ : state) {
    uint64_t n = 0;
    Check(log.log().ReadAll(0, UINT64_MAX, false, [&](const cairn_event& e) {
      n += e.data.size != 0;
      return true;
    }));
    if (n != 2000000) std::abort();
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * 2000000));
}
BENCHMARK(BM_ReadAll)->Iterations(5)->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace cairn::mmaplog::bench

BENCHMARK_MAIN();
