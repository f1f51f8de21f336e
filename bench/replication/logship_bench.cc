// logship_bench: figures for the logship replication plugin
// (docs/replication.md) on loopback, every node a cairn::Store over mmaplog
// in this one process (cairn_logship_cluster). Four figures: append
// throughput and latency per ack rule, replica lag under async, catch-up of
// an empty replica, and failover with the static coordinator. Prints
// Markdown tables (docs/benchmarks.md, "Replication (logship)").
#include <cairn/store.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "bench/machine.h"
#include "bench/stats.h"
#include "cluster_test.h"

namespace cairn::bench::replication {
namespace {

using logship::testing::Cluster;
using logship::testing::ClusterOptions;
using logship::testing::WaitUntil;
using Clock = std::chrono::steady_clock;

const std::vector<std::string> kFigures = {"append", "lag", "catchup",
                                           "failover"};
// "none-x3": three independent single nodes at once (see AppendFigure).
const std::vector<std::string> kAcks = {"none", "none-x3", "async", "sync",
                                        "quorum"};
const std::vector<std::string> kFsyncs = {"always", "never"};

struct Settings {
  std::vector<std::string> figures = kFigures;
  std::string dir = "/var/tmp";
  double seconds = 2;      // each append cell's measured window
  double lag_seconds = 5;  // each lag run
  std::vector<std::string> fsyncs = kFsyncs;
  std::vector<std::string> acks = kAcks;
  std::vector<uint64_t> writers = {1, 8};
  std::vector<uint64_t> batches = {1, 100};
  std::vector<uint64_t> rates = {1000, 10000};  // lag: events per second
  uint64_t event_bytes = 256;
  uint64_t catchup_events = 200000;
  // Catch-up: events/s a writer keeps appending to the primary while the
  // replica catches up (0: none).
  std::vector<uint64_t> catchup_loads = {0, 10000, 50000};
  uint64_t rounds = 3;  // append: runs of each cell
  uint64_t runs = 20;   // failover
  std::vector<std::string> failover_acks = {"quorum", "async"};
  // Failover: logship's reconnect-interval (its default is 200ms); a
  // shorter one shows what that pause costs a failover.
  std::vector<std::string> reconnects = {"200ms"};
  // --logship-option KEY=VALUE: more logship options for every node (e.g.
  // tls-cert-file, to measure mutual TLS between the nodes).
  std::map<std::string, std::string> logship_options;
};

double Millis(Clock::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

std::string Load() {
  std::ifstream in("/proc/loadavg");
  std::string one, five, fifteen;
  in >> one >> five >> fifteen;
  return absl::StrCat(one, " ", five, " ", fifteen);
}

// The logship options every node gets: the plugin's defaults for the
// intervals (the cluster helper's are the tests' 5ms / 10ms) and a bounded
// ack wait.
// `claim_syncs`: durable-policy = syncs, so replicas whose storage never
// syncs (fsync = never) still acknowledge (their written position): the
// cost of the round trips without the fsyncs. Not a durable setting.
std::map<std::string, std::string> NodeOptions(
    const std::string& reconnect = "200ms", bool claim_syncs = false) {
  std::map<std::string, std::string> options = {
      {"heartbeat-interval", "100ms"},
      {"reconnect-interval", reconnect},
      {"ack-timeout", "30s"}};
  if (claim_syncs) options["durable-policy"] = "syncs";
  return options;
}

ClusterOptions GroupOptions(const Settings& settings, const std::string& ack,
                            const std::string& fsync, size_t nodes,
                            const std::string& segment_size = "64MiB") {
  ClusterOptions options;
  options.storage = "mmaplog";
  options.storage_options = {{"fsync", fsync}, {"segment-size", segment_size}};
  options.parent_dir = settings.dir;
  if (ack == "none" || ack == "none-x3") {
    options.replication = "none";
    options.nodes = ack == "none" ? 1 : 3;
    return options;
  }
  options.ack = ack;
  if (ack == "sync") options.sync_set = "n1,n2";
  options.nodes = nodes;
  options.logship_options = settings.logship_options;
  return options;
}

// Replicas first, then n0 as primary (under sync and quorum the primary's
// open waits for its EPOCH record to be acknowledged).
absl::Status OpenGroup(Cluster& cluster, size_t nodes,
                       const std::string& reconnect = "200ms",
                       bool claim_syncs = false) {
  for (size_t i = 1; i < nodes; ++i) {
    absl::Status s =
        cluster.Open(i, "replica", NodeOptions(reconnect, claim_syncs));
    if (!s.ok()) return s;
  }
  return cluster.Open(0, "primary", NodeOptions(reconnect, claim_syncs));
}

std::vector<EventData> Batch(size_t count, uint64_t event_bytes) {
  std::vector<EventData> batch(count);
  for (size_t i = 0; i < count; ++i) {
    batch[i].type = "BenchEvent";
    batch[i].data.resize(event_bytes);
    for (size_t j = 0; j < event_bytes; ++j) {
      batch[i].data[j] = static_cast<char>('a' + (i * 31 + j * 7) % 26);
    }
  }
  return batch;
}

// Waits until every replica holds what the primary wrote; false after
// `limit`.
bool ReplicasHoldHead(Cluster& cluster, size_t nodes,
                      std::chrono::milliseconds limit) {
  const uint64_t head = cluster.State(0).written;
  return WaitUntil(
      [&] {
        for (size_t i = 1; i < nodes; ++i) {
          if (cluster.State(i).written < head) return false;
        }
        return true;
      },
      limit);
}

// Every append gets a stream of its own: mmaplog's apply_log checks a batch
// against the stream's committed head, so a replica refuses a stream's next
// batch before the primary's committed reaches it (docs/replication.md, "Not
// built yet").
std::string StreamName(uint64_t writer, uint64_t sequence) {
  return absl::StrCat("w", writer, "-", sequence);
}

// ---- 1. append throughput and latency ----

struct AppendCell {
  std::string fsync, ack;
  uint64_t writers = 0, batch = 0;
};

struct AppendRun {
  std::string error;  // empty: the figures hold
  double rate = 0, p50_us = 0, p99_us = 0, fsync_p50_us = 0;
  // Over the measured window: the process's CPU time (user + system, every
  // node and writer) per second, i.e. cores busy out of the machine's; and
  // the storage syncs of every node per second.
  double cores = 0, syncs_per_s = 0;
  uint64_t appends = 0;
  std::string drain = "-", load;
};

// The process's user + system CPU seconds so far.
double CpuSeconds() {
  struct rusage usage {};
  getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& t) { return t.tv_sec + t.tv_usec / 1e6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

// The storage syncs of nodes 0..nodes-1 so far.
double Syncs(Cluster& cluster, size_t nodes) {
  double sum = 0;
  for (size_t i = 0; i < nodes; ++i) {
    sum += std::max(0.0, cluster.Stat(i, "storage.fsyncs"));
  }
  return sum;
}

AppendRun RunAppendCell(const Settings& settings, const AppendCell& cell) {
  AppendRun run;
  run.load = Load();
  // The disk's fsync time right before the cell: on a shared machine it
  // moves by several times within minutes.
  absl::StatusOr<LatencySummary> fsync = MeasureFsync(settings.dir, 25);
  if (fsync.ok()) run.fsync_p50_us = fsync->p50_us;
  const ClusterOptions options =
      GroupOptions(settings, cell.ack, cell.fsync, 3);
  Cluster cluster(options);
  // A replica that never syncs does not acknowledge under sync or quorum;
  // with fsync = never those rows claim syncs (marked *).
  const bool claim_syncs =
      cell.fsync == "never" && (cell.ack == "sync" || cell.ack == "quorum");
  // none-x3: three Stores without replication, each with its own writers.
  const bool independent = cell.ack == "none-x3";
  absl::Status opened = absl::OkStatus();
  if (independent) {
    for (size_t i = 0; i < options.nodes && opened.ok(); ++i) {
      opened = cluster.Open(i, "primary");
    }
  } else {
    opened = OpenGroup(cluster, options.nodes, "200ms", claim_syncs);
  }
  if (!opened.ok()) {
    run.error = absl::StrCat("open failed: ", opened.ToString());
    return run;
  }
  const std::vector<EventData> batch = Batch(cell.batch, settings.event_bytes);
  const Clock::time_point begin = Clock::now() + std::chrono::milliseconds(250);
  const Clock::time_point end =
      begin +
      std::chrono::microseconds(static_cast<int64_t>(settings.seconds * 1e6));
  std::vector<LatencyHistogram> latencies(cell.writers);
  std::vector<uint64_t> events(cell.writers, 0);
  std::mutex error_mutex;
  std::vector<std::thread> threads;
  // CPU and syncs at the window's two ends.
  threads.emplace_back([&] {
    std::this_thread::sleep_until(begin);
    const double cpu = CpuSeconds();
    const double syncs = Syncs(cluster, options.nodes);
    std::this_thread::sleep_until(end);
    run.cores = (CpuSeconds() - cpu) / settings.seconds;
    run.syncs_per_s =
        (Syncs(cluster, options.nodes) - syncs) / settings.seconds;
  });
  // Writers of nodes other than n0 (none-x3) load the machine; only n0's
  // are measured.
  const uint64_t all_writers = cell.writers * (independent ? options.nodes : 1);
  for (uint64_t w = 0; w < all_writers; ++w) {
    threads.emplace_back([&, w] {
      Store& store = cluster.store(w / cell.writers);
      const bool measured = w < cell.writers;
      for (uint64_t n = 0;; ++n) {
        const Clock::time_point start = Clock::now();
        if (start >= end) return;
        absl::StatusOr<AppendResult> r =
            store.Append(StreamName(w, n), ExpectedRevision::Any(), batch);
        const Clock::time_point done = Clock::now();
        if (!r.ok()) {
          std::lock_guard<std::mutex> lock(error_mutex);
          run.error = absl::StrCat("append failed: ", r.status().ToString());
          return;
        }
        if (measured && start >= begin && done <= end) {
          latencies[w].Record(
              std::chrono::duration<double, std::micro>(done - start).count());
          events[w] += cell.batch;
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  const Clock::time_point stopped = Clock::now();
  if (!run.error.empty()) return run;
  if (options.nodes > 1 && !independent) {
    if (!ReplicasHoldHead(cluster, options.nodes, std::chrono::seconds(60))) {
      run.error = "replicas did not reach the head within 60 s";
      return run;
    }
    run.drain = absl::StrFormat("%.0f", Millis(Clock::now() - stopped));
  }
  LatencyHistogram all;
  uint64_t total = 0;
  for (uint64_t w = 0; w < cell.writers; ++w) {
    all.Merge(latencies[w]);
    total += events[w];
  }
  run.rate = total / settings.seconds;
  run.appends = all.count();
  run.p50_us = all.Percentile(50);
  run.p99_us = all.Percentile(99);
  return run;
}

void AppendFigure(const Settings& settings, int* failures) {
  printf(
      "\n### Append through the Store\n\n"
      "3 nodes (none: 1), %llu-byte payloads, a fresh stream per append; "
      "%.1f s measured after 0.25 s of warm-up; every cell run %llu times, "
      "cells interleaved, the run with the median events/s shown (`range`: "
      "the lowest and highest events/s of its runs). `fsync us`: a bare 4 "
      "KiB write + fdatasync on the same disk (p50 of 25) right before that "
      "run. `drain ms`: after the load stops, until both replicas hold the "
      "primary's head. `none-x3`: three independent single nodes (no "
      "replication) on this machine and disk at once, each with its own "
      "writers; the figures are n0's: what one node keeps while the "
      "machine also does two more nodes' storage work, the ceiling for the "
      "3-node rows, whose replicas store the same records. `cores`: CPU time "
      "of the whole process (every node "
      "and writer) per second of the window, out of the machine's %u. "
      "`syncs/s`: storage syncs of every node per second of the window. "
      "`*`: fsync = never with durable-policy = syncs on "
      "every node, so replicas acknowledge what they wrote (a replica that "
      "never syncs does not count otherwise): the round trips without the "
      "fsyncs, not a durable setting.\n\n",
      static_cast<unsigned long long>(settings.event_bytes), settings.seconds,
      static_cast<unsigned long long>(settings.rounds),
      std::thread::hardware_concurrency());
  printf(
      "| fsync | ack | writers | batch | events/s | range | payload MB/s | "
      "appends | p50 us | p99 us | drain ms | cores | syncs/s | fsync us | "
      "load |\n"
      "|---|---|---|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"
      "\n");
  std::vector<AppendCell> cells;
  for (const std::string& fsync : settings.fsyncs) {
    for (uint64_t writers : settings.writers) {
      for (uint64_t batch : settings.batches) {
        for (const std::string& ack : settings.acks) {
          cells.push_back({fsync, ack, writers, batch});
        }
      }
    }
  }
  std::vector<std::vector<AppendRun>> runs(cells.size());
  for (uint64_t round = 0; round < settings.rounds; ++round) {
    for (size_t c = 0; c < cells.size(); ++c) {
      runs[c].push_back(RunAppendCell(settings, cells[c]));
    }
  }
  for (size_t c = 0; c < cells.size(); ++c) {
    const AppendCell& cell = cells[c];
    const bool claim_syncs =
        cell.fsync == "never" && (cell.ack == "sync" || cell.ack == "quorum");
    std::string figures;
    auto failed =
        std::find_if(runs[c].begin(), runs[c].end(),
                     [](const AppendRun& r) { return !r.error.empty(); });
    if (failed != runs[c].end()) {
      figures = failed->error;
      ++*failures;
    } else {
      std::vector<AppendRun>& r = runs[c];
      std::sort(r.begin(), r.end(), [](const AppendRun& a, const AppendRun& b) {
        return a.rate < b.rate;
      });
      const AppendRun& median = r[r.size() / 2];
      figures = absl::StrFormat(
          "%.0f | %.0f–%.0f | %.2f | %llu | %.0f | %.0f | %s | %.2f | %.0f | "
          "%.0f | %s",
          median.rate, r.front().rate, r.back().rate,
          median.rate * settings.event_bytes / 1e6,
          static_cast<unsigned long long>(median.appends), median.p50_us,
          median.p99_us, median.drain, median.cores, median.syncs_per_s,
          median.fsync_p50_us, median.load);
    }
    printf("| %s | %s%s | %llu | %llu | %s |\n", cell.fsync.c_str(),
           cell.ack.c_str(), claim_syncs ? " *" : "",
           static_cast<unsigned long long>(cell.writers),
           static_cast<unsigned long long>(cell.batch), figures.c_str());
  }
  fflush(stdout);
}

// A table row of the lag and catch-up figures: fsync, an events/s rate,
// the figures (or what failed), the load average.
void PrintRateRow(const std::string& fsync, uint64_t rate,
                  const std::string& figures, const std::string& load) {
  printf("| %s | %llu | %s | %s |\n", fsync.c_str(),
         static_cast<unsigned long long>(rate), figures.c_str(), load.c_str());
  fflush(stdout);
}

// ---- 2. replica lag under async ----

struct LagSample {
  Clock::time_point at;
  uint64_t primary_written = 0;
  uint64_t replica_written[2] = {0, 0};
  double member_lag[2] = {0, 0};  // the primary's lag_positions stat
};

void LagFigure(const Settings& settings, int* failures) {
  printf(
      "\n### Replica lag under async\n\n"
      "3 nodes, ack = async, one writer at a fixed rate (batches of "
      "rate/1000 events every millisecond, or single events), %.1f s; the "
      "replicas' written positions sampled every 5 ms after 0.5 s. "
      "`positions behind`: primary's written minus the replica's; `ms "
      "behind`: how long ago the primary acknowledged the oldest append the "
      "replica lacks (0 when it lacks none); `stat`: the primary's "
      "`replication.member.<id>.lag_positions` (by acknowledged durable "
      "position). Both replicas pooled.\n\n",
      settings.lag_seconds);
  printf(
      "| fsync | target ev/s | achieved ev/s | samples | positions behind "
      "p50 / p99 / max | ms behind p50 / p99 / max | stat p50 / p99 | load "
      "at start |\n|---|---:|---:|---:|---|---|---|---|\n");
  for (const std::string& fsync : settings.fsyncs) {
    for (uint64_t rate : settings.rates) {
      const std::string load = Load();
      const ClusterOptions options = GroupOptions(settings, "async", fsync, 3);
      Cluster cluster(options);
      auto row = [&](const std::string& figures) {
        PrintRateRow(fsync, rate, figures, load);
      };
      absl::Status opened = OpenGroup(cluster, 3);
      if (!opened.ok()) {
        row(absl::StrCat("open failed: ", opened.ToString()));
        ++*failures;
        continue;
      }
      const uint64_t batch_size = std::max<uint64_t>(1, rate / 1000);
      const auto tick = std::chrono::nanoseconds(
          static_cast<int64_t>(1e9 * batch_size / rate));
      const std::vector<EventData> batch =
          Batch(batch_size, settings.event_bytes);
      const Clock::time_point start = Clock::now();
      const Clock::time_point end =
          start + std::chrono::milliseconds(
                      static_cast<int64_t>(settings.lag_seconds * 1000));
      // (acknowledged at, last position), in position order: one writer.
      std::vector<std::pair<Clock::time_point, uint64_t>> acks;
      acks.reserve(settings.lag_seconds * rate / batch_size + 16);
      std::string error;
      std::atomic<bool> writing{true};
      std::thread writer([&] {
        for (uint64_t n = 0;; ++n) {
          const Clock::time_point due = start + n * tick;
          if (due >= end) break;
          std::this_thread::sleep_until(due);
          absl::StatusOr<AppendResult> r = cluster.store(0).Append(
              StreamName(0, n), ExpectedRevision::Any(), batch);
          if (!r.ok()) {
            error = r.status().ToString();
            break;
          }
          acks.emplace_back(Clock::now(), r->last_position);
        }
        writing = false;
      });
      std::vector<LagSample> samples;
      const Clock::time_point sample_from =
          start + std::chrono::milliseconds(500);
      while (writing) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
        if (Clock::now() < sample_from) continue;
        LagSample sample;
        // Replicas first: the primary's written, read after, is never
        // below what they hold.
        for (size_t r = 0; r < 2; ++r) {
          sample.replica_written[r] = cluster.State(r + 1).written;
        }
        sample.at = Clock::now();
        sample.primary_written = cluster.State(0).written;
        for (size_t r = 0; r < 2; ++r) {
          sample.member_lag[r] = cluster.Stat(
              0, absl::StrCat("replication.member.", cluster.Id(r + 1),
                              ".lag_positions"));
        }
        samples.push_back(sample);
      }
      writer.join();
      if (!error.empty()) {
        row(absl::StrCat("append failed: ", error));
        ++*failures;
        continue;
      }
      std::vector<double> behind, behind_ms, stat;
      for (const LagSample& s : samples) {
        for (size_t r = 0; r < 2; ++r) {
          const uint64_t held = s.replica_written[r];
          behind.push_back(static_cast<double>(
              s.primary_written > held ? s.primary_written - held : 0));
          auto lacking = std::upper_bound(
              acks.begin(), acks.end(), held,
              [](uint64_t p, const auto& ack) { return p < ack.second; });
          behind_ms.push_back(lacking != acks.end() && lacking->first <= s.at
                                  ? Millis(s.at - lacking->first)
                                  : 0.0);
          stat.push_back(s.member_lag[r]);
        }
      }
      const uint64_t events = acks.size() * batch_size;
      auto triple = [](std::vector<double> v, const char* format) {
        std::vector<double> copy = v;
        const double max =
            v.empty() ? 0 : *std::max_element(v.begin(), v.end());
        return absl::StrCat(absl::StrFormat(format, Percentile(v, 50)), " / ",
                            absl::StrFormat(format, Percentile(copy, 99)),
                            " / ", absl::StrFormat(format, max));
      };
      std::vector<double> stat_copy = stat;
      row(absl::StrFormat("%.0f | %zu | %s | %s | %.0f / %.0f",
                          events / settings.lag_seconds, samples.size(),
                          triple(behind, "%.0f"), triple(behind_ms, "%.1f"),
                          Percentile(stat, 50), Percentile(stat_copy, 99)));
    }
  }
}

// ---- 3. catch-up of an empty replica ----

// One row of the catch-up figure: `fsync` on both nodes, a load of `rate`
// events/s (0: none) while the replica catches up.
void CatchupRow(const Settings& settings, const std::string& fsync,
                uint64_t rate, int* failures) {
  const std::string load = Load();
  const ClusterOptions options = GroupOptions(settings, "async", fsync, 2);
  Cluster cluster(options);
  auto row = [&](const std::string& figures) {
    PrintRateRow(fsync, rate, figures, load);
  };
  absl::Status opened = cluster.Open(0, "primary", NodeOptions());
  if (!opened.ok()) {
    row(absl::StrCat("open failed: ", opened.ToString()));
    ++*failures;
    return;
  }
  const std::vector<EventData> batch = Batch(100, settings.event_bytes);
  const Clock::time_point fill_start = Clock::now();
  std::string error;
  for (uint64_t n = 0; n * 100 < settings.catchup_events; ++n) {
    absl::StatusOr<AppendResult> r = cluster.store(0).Append(
        StreamName(0, n), ExpectedRevision::Any(), batch);
    if (!r.ok()) {
      error = r.status().ToString();
      break;
    }
  }
  const double fill_s = Millis(Clock::now() - fill_start) / 1000;
  if (!error.empty()) {
    row(absl::StrCat("append failed: ", error));
    ++*failures;
    return;
  }
  const Clock::time_point join = Clock::now();
  // The load: batches of 100 at `rate` events a second, until caught up.
  std::atomic<bool> stop{false};
  std::string load_error;
  std::thread writer([&] {
    if (rate == 0) return;
    const auto every = std::chrono::nanoseconds(100 * 1000000000ull / rate);
    Clock::time_point due = join;
    for (uint64_t n = 0; !stop.load(); ++n) {
      std::this_thread::sleep_until(due);
      due += every;
      absl::StatusOr<AppendResult> r = cluster.store(0).Append(
          StreamName(1, n), ExpectedRevision::Any(), batch);
      if (!r.ok()) {
        load_error = r.status().ToString();
        return;
      }
    }
  });
  auto stop_load = [&] {
    stop = true;
    writer.join();
  };
  opened = cluster.Open(1, "replica", NodeOptions());
  if (!opened.ok()) {
    stop_load();
    row(absl::StrCat("replica open failed: ", opened.ToString()));
    ++*failures;
    return;
  }
  const bool first_arrived = WaitUntil(
      [&] { return cluster.State(1).written > 0; }, std::chrono::seconds(30));
  const Clock::time_point first_record = Clock::now();
  uint64_t head = 0;
  const bool reached =
      first_arrived && WaitUntil(
                           [&] {
                             head = cluster.State(0).written;
                             return cluster.State(1).written >= head;
                           },
                           std::chrono::seconds(300));
  const Clock::time_point caught_up = Clock::now();
  stop_load();
  if (!load_error.empty()) {
    row(absl::StrCat("append under load failed: ", load_error));
    ++*failures;
    return;
  }
  if (!reached) {
    row("the replica did not reach the head within 330 s");
    ++*failures;
    return;
  }
  const double seconds = Millis(caught_up - join) / 1000;
  // The records up to `head` as shipped (the load's too).
  double log_bytes = 0;
  for (const std::string& record : cluster.Log(0)) log_bytes += record.size();
  const double events = static_cast<double>(head - 1);  // not the EPOCH
  const double per_second = head / seconds;
  row(absl::StrFormat(
      "%llu | %.0f | %.2f | %.0f | %.0f | %s | %.0f | %.1f | %.1f | %.1f",
      static_cast<unsigned long long>(head),
      (settings.catchup_events + 99) / 100 * 100 / fill_s, seconds,
      Millis(first_record - join), per_second,
      rate == 0 ? std::string("-") : absl::StrFormat("%.1f", per_second / rate),
      head / (Millis(caught_up - first_record) / 1000),
      events * settings.event_bytes / 1e6 / seconds, log_bytes / 1e6,
      log_bytes / 1e6 / seconds));
}

void CatchupFigure(const Settings& settings, int* failures) {
  printf(
      "\n### Catch-up of an empty replica\n\n"
      "2 nodes, ack = async: the primary alone appends %llu events (%llu-byte "
      "payloads, batches of 100, a stream per batch), then an empty replica "
      "opens; timed from its open until its written position is the "
      "primary's head (`records`: events plus the EPOCH record). With a "
      "`load` above 0, a writer goes on appending that many events a second "
      "(batches of 100) from the replica's open on, and the head is a "
      "moving one: caught up when the replica holds what the primary held "
      "a moment before (read in that order); `records` then counts what "
      "the replica applied, and `÷ load` is records/s over the load. `first "
      "record ms`: from the open until the replica holds one record (the "
      "primary dials a lost peer every reconnect-interval, 200 ms). `log MB` "
      "counts the records as shipped "
      "(serialized cairn.log.v1.LogRecord, without frame headers).\n\n",
      static_cast<unsigned long long>(settings.catchup_events),
      static_cast<unsigned long long>(settings.event_bytes));
  printf(
      "| fsync (both) | load ev/s | records | fill ev/s (primary alone) | "
      "catch-up s | first record ms | records/s | ÷ load | records/s after "
      "the first | payload MB/s | log MB | log MB/s | load at start |\n"
      "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n");
  for (const std::string& fsync : settings.fsyncs) {
    for (uint64_t rate : settings.catchup_loads) {
      CatchupRow(settings, fsync, rate, failures);
    }
  }
}

// ---- 4. failover with the static coordinator ----

void FailoverFigure(const Settings& settings, int* failures) {
  printf(
      "\n### Failover with the static coordinator\n\n"
      "Per run: a fresh 3-node group (mmaplog, fsync = always), 100 appends "
      "replicated to both replicas, then the primary's Store is closed in "
      "this process (an orderly close: its sockets end with FIN, as a "
      "killed process's do; not a kill -9). The clock starts when the close "
      "begins; then, as an operator's script would, `Store::Promote` on n1 "
      "(retried until OK) and appends on n1 (retried until one is "
      "acknowledged). %llu runs per row; p99 of 20 runs is their maximum.\n\n",
      static_cast<unsigned long long>(settings.runs));
  printf(
      "| ack | reconnect-interval | runs | total ms p50 / p99 | close ms p50 "
      "/ p99 | promote ms p50 / p99 | first append ms p50 / p99 | load at "
      "start |\n|---|---|---:|---|---|---|---|---|\n");
  for (const std::string& ack : settings.failover_acks) {
    for (const std::string& reconnect : settings.reconnects) {
      const std::string load = Load();
      std::vector<double> total, close, promote, append;
      std::string error;
      int port_retries = 0;
      for (uint64_t run = 0; run < settings.runs && error.empty(); ++run) {
        const ClusterOptions options =
            GroupOptions(settings, ack, "always", 3, "4MiB");
        Cluster cluster(options);
        absl::Status s = OpenGroup(cluster, 3, reconnect);
        // The helper's ports are free when picked, not reserved: another
        // socket may take one before the node binds it. Such a run is not
        // a failover; it starts again on new ports (at most 5 times).
        if (!s.ok() &&
            absl::StrContains(s.message(), "Address already in use") &&
            port_retries < 5) {
          ++port_retries;
          fprintf(stderr, "logship_bench: failover run %llu again: %s\n",
                  static_cast<unsigned long long>(run),
                  std::string(s.message()).c_str());
          --run;
          continue;
        }
        if (!s.ok()) {
          error = absl::StrCat("open failed: ", s.ToString());
          break;
        }
        const std::vector<EventData> one = Batch(1, settings.event_bytes);
        for (uint64_t n = 0; n < 100 && error.empty(); ++n) {
          absl::StatusOr<AppendResult> r = cluster.store(0).Append(
              StreamName(0, n), ExpectedRevision::Any(), one);
          if (!r.ok()) error = r.status().ToString();
        }
        // Promote refuses a node behind what the primary told it was
        // committed; wait for both replicas to commit everything.
        const uint64_t head = cluster.State(0).written;
        if (error.empty() && !WaitUntil(
                                 [&] {
                                   return cluster.State(1).committed >= head &&
                                          cluster.State(2).committed >= head;
                                 },
                                 std::chrono::seconds(30))) {
          error = "replicas did not commit the head within 30 s";
        }
        if (!error.empty()) break;
        const Clock::time_point killed = Clock::now();
        cluster.Close(0);
        const Clock::time_point closed = Clock::now();
        absl::Status promoted;
        const Clock::time_point promote_limit =
            closed + std::chrono::seconds(10);
        do {
          promoted = cluster.store(1).Promote();
        } while (!promoted.ok() && Clock::now() < promote_limit);
        if (!promoted.ok()) {
          error = absl::StrCat("promote failed: ", promoted.ToString());
          break;
        }
        const Clock::time_point promote_done = Clock::now();
        absl::StatusOr<AppendResult> first;
        const Clock::time_point append_limit =
            promote_done + std::chrono::seconds(30);
        do {
          first = cluster.store(1).Append("after-failover",
                                          ExpectedRevision::Any(), one);
        } while (!first.ok() && Clock::now() < append_limit);
        if (!first.ok()) {
          error = absl::StrCat("no append acknowledged by n1 within 30 s: ",
                               first.status().ToString());
          break;
        }
        const Clock::time_point acknowledged = Clock::now();
        total.push_back(Millis(acknowledged - killed));
        close.push_back(Millis(closed - killed));
        promote.push_back(Millis(promote_done - closed));
        append.push_back(Millis(acknowledged - promote_done));
      }
      if (!error.empty()) {
        printf("| %s | %s | %zu | %s | | | | %s |\n", ack.c_str(),
               reconnect.c_str(), total.size(), error.c_str(), load.c_str());
        ++*failures;
        continue;
      }
      auto pair = [](std::vector<double>& v) {
        const double p50 = Percentile(v, 50);
        return absl::StrFormat("%.1f / %.1f", p50, Percentile(v, 99));
      };
      printf("| %s | %s | %zu | %s | %s | %s | %s | %s |\n", ack.c_str(),
             reconnect.c_str(), total.size(), pair(total).c_str(),
             pair(close).c_str(), pair(promote).c_str(), pair(append).c_str(),
             load.c_str());
      fflush(stdout);
    }
  }
}

// ---- command line ----

constexpr char kUsage[] =
    "usage: logship_bench [--figures append,lag,catchup,failover] [--dir DIR]\n"
    "  [--seconds S] [--lag-seconds S] [--fsync always,never]\n"
    "  [--acks none,none-x3,async,sync,quorum] [--writers 1,8] [--batches "
    "1,100]\n"
    "  [--rates 1000,10000] [--event-bytes 256] [--catchup-events 200000]\n"
    "  [--catchup-loads 0,10000,50000]\n"
    "  [--rounds 3] [--runs 20] [--failover-acks quorum,async]\n"
    "  [--reconnects 200ms] [--logship-option KEY=VALUE]...\n"
    "  [--smoke]   (tiny values for everything; later options override)\n"
    "Prints Markdown tables; exit 1 if a cell failed, 2 for a bad option.\n";

absl::Status NameList(const std::string& option, const std::string& value,
                      const std::vector<std::string>& allowed,
                      std::vector<std::string>* out) {
  out->clear();
  for (absl::string_view name : absl::StrSplit(value, ',')) {
    if (std::find(allowed.begin(), allowed.end(), name) == allowed.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat(option, ": '", name, "' is not one of ",
                       absl::StrJoin(allowed, ", ")));
    }
    out->emplace_back(name);
  }
  return absl::OkStatus();
}

absl::Status Number(const std::string& option, absl::string_view value,
                    uint64_t max, uint64_t* out, uint64_t min = 1) {
  if (!absl::SimpleAtoi(value, out) || *out < min || *out > max) {
    return absl::InvalidArgumentError(absl::StrCat(option, ": '", value,
                                                   "' is not a whole number "
                                                   "from ",
                                                   min, " to ", max));
  }
  return absl::OkStatus();
}

absl::Status NumberList(const std::string& option, const std::string& value,
                        uint64_t max, std::vector<uint64_t>* out,
                        uint64_t min = 1) {
  out->clear();
  for (absl::string_view item : absl::StrSplit(value, ',')) {
    uint64_t n = 0;
    absl::Status s = Number(option, item, max, &n, min);
    if (!s.ok()) return s;
    out->push_back(n);
  }
  return absl::OkStatus();
}

absl::Status Seconds(const std::string& option, const std::string& value,
                     double* out) {
  if (!absl::SimpleAtod(value, out) || !(*out > 0) || *out > 600) {
    return absl::InvalidArgumentError(
        absl::StrCat(option, ": '", value,
                     "' is not a number of seconds above 0, at most 600"));
  }
  return absl::OkStatus();
}

absl::Status Interval(const std::string& option, const std::string& value,
                      std::vector<std::string>* out) {
  out->clear();
  for (absl::string_view item : absl::StrSplit(value, ',')) {
    uint64_t ms = 0;
    if (!absl::ConsumeSuffix(&item, "ms") || !absl::SimpleAtoi(item, &ms) ||
        ms < 1 || ms > 60000) {
      return absl::InvalidArgumentError(
          absl::StrCat(option, ": '", value,
                       "' is not a list of milliseconds such as 10ms,200ms"));
    }
    out->push_back(absl::StrCat(ms, "ms"));
  }
  return absl::OkStatus();
}

void Smoke(Settings* s) {
  s->seconds = 0.3;
  s->lag_seconds = 1;
  s->fsyncs = {"never"};
  s->writers = {2};
  s->batches = {10};
  s->rates = {500};
  s->catchup_events = 2000;
  s->catchup_loads = {0, 1000};
  s->rounds = 1;
  s->runs = 2;
}

absl::Status Parse(int argc, char** argv, Settings* s) {
  // Each option's handler gets its name (for the error) and its value.
  using Handler =
      std::function<absl::Status(const std::string&, const std::string&)>;
  auto names = [](std::vector<std::string> allowed,
                  std::vector<std::string>* out) -> Handler {
    return [allowed, out](const std::string& option, const std::string& v) {
      return NameList(option, v, allowed, out);
    };
  };
  auto numbers = [](uint64_t max, std::vector<uint64_t>* out,
                    uint64_t min = 1) -> Handler {
    return [max, out, min](const std::string& option, const std::string& v) {
      return NumberList(option, v, max, out, min);
    };
  };
  auto number = [](uint64_t max, uint64_t* out) -> Handler {
    return [max, out](const std::string& option, const std::string& v) {
      return Number(option, v, max, out);
    };
  };
  auto seconds = [](double* out) -> Handler {
    return [out](const std::string& option, const std::string& v) {
      return Seconds(option, v, out);
    };
  };
  const std::map<std::string, Handler> handlers = {
      {"--figures", names(kFigures, &s->figures)},
      {"--dir",
       [s](const std::string&, const std::string& v) {
         s->dir = v;
         return absl::OkStatus();
       }},
      {"--seconds", seconds(&s->seconds)},
      {"--lag-seconds", seconds(&s->lag_seconds)},
      {"--fsync", names(kFsyncs, &s->fsyncs)},
      {"--acks", names(kAcks, &s->acks)},
      {"--writers", numbers(256, &s->writers)},
      {"--batches", numbers(4096, &s->batches)},
      {"--rates", numbers(1000000, &s->rates)},
      {"--event-bytes", number(1 << 20, &s->event_bytes)},
      {"--catchup-events", number(100000000, &s->catchup_events)},
      {"--catchup-loads", numbers(10000000, &s->catchup_loads, 0)},
      {"--rounds", number(100, &s->rounds)},
      {"--runs", number(1000, &s->runs)},
      {"--failover-acks",
       names({"async", "sync", "quorum"}, &s->failover_acks)},
      {"--reconnects",
       [s](const std::string& option, const std::string& v) {
         return Interval(option, v, &s->reconnects);
       }},
      {"--logship-option",
       [s](const std::string& option, const std::string& v) {
         const size_t eq = v.find('=');
         if (eq == std::string::npos || eq == 0) {
           return absl::InvalidArgumentError(
               absl::StrCat(option, ": '", v, "' is not KEY=VALUE"));
         }
         s->logship_options[v.substr(0, eq)] = v.substr(eq + 1);
         return absl::OkStatus();
       }},
  };
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help") {
      printf("%s", kUsage);
      exit(0);
    }
    if (arg == "--smoke") {
      Smoke(s);
      continue;
    }
    std::string value;
    const size_t eq = arg.find('=');
    if (eq != std::string::npos) {
      value = arg.substr(eq + 1);
      arg.resize(eq);
    }
    auto handler = handlers.find(arg);
    if (handler == handlers.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown option '", arg, "'"));
    }
    if (eq == std::string::npos) {
      if (i + 1 >= argc) {
        return absl::InvalidArgumentError(absl::StrCat(arg, " needs a value"));
      }
      value = argv[++i];
    }
    absl::Status status = handler->second(arg, value);
    if (!status.ok()) return status;
  }
  return absl::OkStatus();
}

int Main(int argc, char** argv) {
  Settings settings;
  absl::Status parsed = Parse(argc, argv, &settings);
  if (!parsed.ok()) {
    fprintf(stderr, "logship_bench: %s\n%s",
            std::string(parsed.message()).c_str(), kUsage);
    return 2;
  }
  absl::StatusOr<MachineProfile> machine = MeasureMachine(settings.dir);
  if (!machine.ok()) {
    fprintf(stderr, "logship_bench: %s\n",
            std::string(machine.status().message()).c_str());
    return 1;
  }
  printf(
      "## logship_bench\n\nMachine: %u cores (%s), %s at %s; bare 4 KiB write "
      "+ fdatasync p50 %.0f us, p99 %.0f us (about %.0f syncs/s, one "
      "thread); load %s at start.\n",
      machine->cores, machine->cpu_model.c_str(), machine->filesystem.c_str(),
      settings.dir.c_str(), machine->fsync_p50_us, machine->fsync_p99_us,
      1e6 / machine->fsync_p50_us, Load().c_str());
  if (!settings.logship_options.empty()) {
    std::vector<std::string> given;
    for (const auto& [key, value] : settings.logship_options) {
      given.push_back(absl::StrCat(key, "=", value));
    }
    printf("Every node also has: %s\n", absl::StrJoin(given, ", ").c_str());
  }
  int failures = 0;
  const std::map<std::string, void (*)(const Settings&, int*)> figures = {
      {"append", AppendFigure},
      {"lag", LagFigure},
      {"catchup", CatchupFigure},
      {"failover", FailoverFigure}};
  for (const std::string& figure : settings.figures) {
    figures.at(figure)(settings, &failures);
  }
  printf("\nLoad at the end: %s\n", Load().c_str());
  return failures == 0 ? 0 : 1;
}

}  // namespace
}  // namespace cairn::bench::replication

int main(int argc, char** argv) {
  return cairn::bench::replication::Main(argc, argv);
}
