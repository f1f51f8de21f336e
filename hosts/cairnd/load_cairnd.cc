// cairnd_load: many concurrent connections append and read against a
// running cairnd for a fixed time, then verify that every acknowledged event
// is stored exactly once, in order, and that the server's memory stayed flat:
// its anonymous resident memory (RssAnon), sampled every second, may not
// grow past a bound after warm-up nor still be climbing at the end.
// scripts/load-cairnd starts the server and runs this.
//
// Each connection owns one stream and appends with ExpectedRevision::Exact,
// so a lost or duplicated event shows up at once as a conflict; every tenth
// operation reads its last events back and checks them. One more connection
// subscribes to all events and checks positions arrive without gap or
// duplicate. Exit status 0 only when every check held.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/program_options.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <limits>
#include <iostream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "cairn/client.h"

namespace po = boost::program_options;
using Clock = std::chrono::steady_clock;

namespace {

struct Config {
  std::string host = "127.0.0.1";
  uint16_t port = 7600;
  int connections = 200;
  int seconds = 60;
  int batch = 5;
  // Connection N appends to stream PREFIX + N from revision 0, so a second
  // run against the same store needs another prefix.
  std::string stream_prefix = "load-";
  int server_pid = 0;
  double warmup_seconds = -1;  // < 0: a fifth of the run, at least 2 s
  // After warm-up, RssAnon may rise this much above its level at the end of
  // warm-up, beyond any growth of the store's anonymous index memory. 16 MiB:
  // one connection may legitimately buffer up to its 8 MiB write high-water
  // (the subscriber, if it falls behind), plus 8 MiB for malloc's per-thread
  // caches settling. Per-connection buffers are allocated at connect, before
  // warm-up ends.
  double max_anon_growth_mib = 16;
  // The median of the last third of the post-warm-up samples may exceed the
  // first third's by this much: more means memory is still climbing.
  double max_trend_mib = 4;
};

struct ConnectionResult {
  uint64_t acknowledged = 0;  // events
  uint64_t appends = 0;
  uint64_t reads = 0;
  std::vector<double> latencies_us;
  std::string error;
};

// One sample of the server's memory. RssAnon is the process's own heap and
// stacks; RssFile is mapped files (mmaplog's segments and its file-backed
// index arena), page cache that grows with the data by design and that the
// kernel reclaims under pressure.
struct MemorySample {
  double seconds = 0;         // since the load began
  uint64_t rss_anon = 0;      // /proc/PID/status RssAnon
  uint64_t rss_file = 0;      // /proc/PID/status RssFile
  uint64_t index_heap = 0;    // storage.index_heap_bytes: index memory that
                              // is anonymous (the arena's heap fallback)
  uint64_t index_total = 0;   // storage.index_memory_bytes (mostly file-backed)
};

constexpr double kMiB = 1048576.0;

// Fills rss_anon / rss_file from /proc/PID/status; false if unreadable.
bool ReadStatus(int pid, MemorySample* sample) {
  std::ifstream status(absl::StrCat("/proc/", pid, "/status"));
  std::string key;
  bool anon = false;
  while (status >> key) {
    uint64_t kib = 0;
    if (key == "RssAnon:" && status >> kib) {
      sample->rss_anon = kib * 1024;
      anon = true;
    } else if (key == "RssFile:" && status >> kib) {
      sample->rss_file = kib * 1024;
    }
    status.ignore(std::numeric_limits<std::streamsize>::max(), '\n');
  }
  return anon;
}

double Median(std::vector<double> values) {
  if (values.empty()) return 0;
  std::nth_element(values.begin(), values.begin() + values.size() / 2,
                   values.end());
  return values[values.size() / 2];
}

// Least-squares slope of y over x.
double Slope(const std::vector<double>& x, const std::vector<double>& y) {
  const double n = static_cast<double>(x.size());
  if (n < 2) return 0;
  double sx = 0, sy = 0, sxx = 0, sxy = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    sx += x[i];
    sy += y[i];
    sxx += x[i] * x[i];
    sxy += x[i] * y[i];
  }
  const double d = n * sxx - sx * sx;
  return d == 0 ? 0 : (n * sxy - sx * sy) / d;
}

// Prints the series and checks it; false if memory grew past the bounds.
bool CheckMemory(const Config& config, const std::vector<MemorySample>& samples,
                 double warmup) {
  std::string series;
  for (const MemorySample& s : samples) {
    absl::StrAppend(&series, series.empty() ? "" : " ",
                    absl::StrFormat("%.1f", s.rss_anon / kMiB));
  }
  std::printf("server_rss_anon_mib   every 1 s: %s\n", series.c_str());
  size_t base = 0;  // the last warm-up sample
  while (base + 1 < samples.size() && samples[base + 1].seconds <= warmup) {
    ++base;
  }
  const MemorySample& warmed = samples[base];
  const MemorySample& last = samples.back();
  std::vector<double> x, own;
  double peak_growth = 0;
  for (size_t i = base; i < samples.size(); ++i) {
    // RssAnon growth less the store's anonymous index growth (reported
    // separately below), so index growth is accounted, not hidden.
    const double growth =
        (static_cast<double>(samples[i].rss_anon) - warmed.rss_anon) -
        (static_cast<double>(samples[i].index_heap) - warmed.index_heap);
    peak_growth = std::max(peak_growth, growth / kMiB);
    x.push_back(samples[i].seconds);
    own.push_back(samples[i].rss_anon / kMiB - samples[i].index_heap / kMiB);
  }
  const size_t third = own.size() / 3;
  const double trend =
      third == 0 ? 0
                 : Median({own.end() - third, own.end()}) -
                       Median({own.begin(), own.begin() + third});
  std::printf("server_rss_anon_mib   warm-up %.0f s: %.1f  end %.1f  peak "
              "growth after warm-up %.1f (bound %.0f)\n",
              warmup, warmed.rss_anon / kMiB, last.rss_anon / kMiB,
              peak_growth, config.max_anon_growth_mib);
  std::printf("server_rss_anon_trend last third - first third of the "
              "post-warm-up medians %+.1f MiB (bound %.0f), slope %+.2f "
              "MiB/min\n",
              trend, config.max_trend_mib, Slope(x, own) * 60);
  std::printf("store_index_mib       anonymous (index_heap_bytes) %.1f -> %.1f;"
              " total (index_memory_bytes, mostly file-backed) %.1f -> %.1f\n",
              warmed.index_heap / kMiB, last.index_heap / kMiB,
              warmed.index_total / kMiB, last.index_total / kMiB);
  std::printf("server_rss_file_mib   %.1f -> %.1f  (mapped segments and "
              "index files: page cache, grows with the data)\n",
              warmed.rss_file / kMiB, last.rss_file / kMiB);
  bool ok = true;
  if (peak_growth > config.max_anon_growth_mib) {
    std::fprintf(stderr,
                 "cairnd_load: server RssAnon grew %.1f MiB after warm-up "
                 "(bound %.0f)\n",
                 peak_growth, config.max_anon_growth_mib);
    ok = false;
  }
  if (trend > config.max_trend_mib) {
    std::fprintf(stderr,
                 "cairnd_load: server RssAnon still climbing: %+.1f MiB "
                 "between the first and last thirds after warm-up (bound "
                 "%.0f)\n",
                 trend, config.max_trend_mib);
    ok = false;
  }
  if (samples.size() < base + 4) {
    std::fprintf(stderr,
                 "cairnd_load: only %zu memory samples after warm-up; run "
                 "longer\n",
                 samples.size() - base);
    ok = false;
  }
  return ok;
}

std::string Payload(int connection, uint64_t sequence) {
  return absl::StrCat("c", connection, ":", sequence, ":",
                      std::string(48, 'x'));
}

void RunConnection(const Config& config, int index, Clock::time_point end,
                   std::atomic<bool>* failed, ConnectionResult* result) {
  cairn::ClientOptions options;
  options.host = config.host;
  options.port = config.port;
  options.client_name = absl::StrCat("cairnd-load-", index);
  options.connect_timeout = std::chrono::seconds(20);
  auto client = cairn::Client::Connect(options);
  if (!client.ok()) {
    result->error = absl::StrCat("connect: ", client.status().ToString());
    failed->store(true);
    return;
  }
  const std::string stream = absl::StrCat(config.stream_prefix, index);
  uint64_t head = 0;
  std::vector<cairn::EventData> events(config.batch);
  for (auto& event : events) {
    event.type = "LoadEvent";
    event.tags = {absl::StrCat("tag-", index % 8)};
  }
  uint64_t operation = 0;
  while (Clock::now() < end && !failed->load()) {
    for (int i = 0; i < config.batch; ++i) {
      events[i].data = Payload(index, head + i);
    }
    const auto start = Clock::now();
    auto appended = (*client)->Append(
        stream,
        head == 0 ? cairn::ExpectedRevision::NoStream()
                  : cairn::ExpectedRevision::Exact(head),
        events);
    result->latencies_us.push_back(
        std::chrono::duration<double, std::micro>(Clock::now() - start)
            .count());
    if (!appended.ok()) {
      result->error = absl::StrCat("append to ", stream, " at revision ", head,
                                   ": ", appended.status().ToString());
      failed->store(true);
      return;
    }
    if (appended->first_revision != head + 1 ||
        appended->last_revision != head + config.batch) {
      result->error = absl::StrCat("append to ", stream, " got revisions ",
                                   appended->first_revision, "..",
                                   appended->last_revision, ", expected ",
                                   head + 1, "..", head + config.batch);
      failed->store(true);
      return;
    }
    head = appended->last_revision;
    result->acknowledged += config.batch;
    ++result->appends;
    if (++operation % 10 == 0) {
      auto tail = (*client)->ReadStream(stream, head - config.batch + 1);
      ++result->reads;
      if (!tail.ok() || tail->size() != static_cast<size_t>(config.batch) ||
          tail->back().data != Payload(index, head - 1)) {
        result->error = absl::StrCat(
            "read-back of ", stream, " failed: ",
            tail.ok() ? absl::StrCat(tail->size(), " events") :
                        tail.status().ToString());
        failed->store(true);
        return;
      }
    }
  }
  // Final check: the whole stream, each sequence number once, in order.
  uint64_t expected = 0;
  absl::Status read = (*client)->ReadStream(
      stream, 1, cairn::kMaxRevision, cairn::kMaxRevision,
      [&](const cairn::RecordedEvent& event) {
        if (event.data != Payload(index, expected) ||
            event.revision != expected + 1) {
          return false;
        }
        ++expected;
        return true;
      });
  if (!read.ok() || expected != result->acknowledged) {
    result->error = absl::StrCat(
        stream, ": ", result->acknowledged, " events acknowledged but ",
        expected, " read back in order",
        read.ok() ? "" : absl::StrCat(" (", read.ToString(), ")"));
    failed->store(true);
  }
}

double Percentile(std::vector<double>& values, double p) {
  if (values.empty()) return 0;
  const size_t at = std::min(values.size() - 1,
                             static_cast<size_t>(p * values.size()));
  std::nth_element(values.begin(), values.begin() + at, values.end());
  return values[at];
}

}  // namespace

int main(int argc, char** argv) {
  Config config;
  po::options_description flags("cairnd_load options");
  flags.add_options()("help,h", "show this help")(
      "host", po::value(&config.host), "server address")(
      "port", po::value(&config.port), "server port")(
      "connections", po::value(&config.connections), "concurrent connections")(
      "seconds", po::value(&config.seconds), "how long to load")(
      "batch", po::value(&config.batch), "events per append")(
      "stream-prefix", po::value(&config.stream_prefix),
      "connection N appends to the new stream PREFIXN (default load-)")(
      "server-pid", po::value(&config.server_pid),
      "watch this process's memory (/proc/PID/statm)")(
      "warmup-seconds", po::value(&config.warmup_seconds),
      "memory samples before this are warm-up (default: a fifth of the "
      "run, at least 2 s)")(
      "max-anon-growth-mib", po::value(&config.max_anon_growth_mib),
      "fail if the server's RssAnon, less the store's anonymous index "
      "growth, rises more than this above its level after warm-up")(
      "max-trend-mib", po::value(&config.max_trend_mib),
      "fail if the last third of the post-warm-up RssAnon samples is this "
      "much above the first third (median)");
  po::variables_map vm;
  try {
    po::store(po::parse_command_line(argc, argv, flags), vm);
    po::notify(vm);
  } catch (const std::exception& e) {
    std::cerr << "cairnd_load: " << e.what() << "\n" << flags;
    return 2;
  }
  if (vm.count("help")) {
    std::cout << flags;
    return 0;
  }
  if (config.connections < 1 || config.seconds < 1 || config.batch < 1) {
    std::cerr << "cairnd_load: connections, seconds and batch must be >= 1\n";
    return 2;
  }

  cairn::ClientOptions options;
  options.host = config.host;
  options.port = config.port;
  options.client_name = "cairnd-load-subscriber";
  auto watcher = cairn::Client::Connect(options);
  if (!watcher.ok()) {
    std::cerr << "cairnd_load: " << watcher.status() << "\n";
    return 1;
  }
  auto start_head = (*watcher)->HeadPosition();
  if (!start_head.ok()) {
    std::cerr << "cairnd_load: " << start_head.status() << "\n";
    return 1;
  }
  cairn::SubscriptionFilter all;
  all.after = *start_head;
  auto subscription = (*watcher)->Subscribe(all, 4096);
  if (!subscription.ok()) {
    std::cerr << "cairnd_load: subscribe: " << subscription.status() << "\n";
    return 1;
  }

  std::atomic<bool> failed{false};
  const auto begin = Clock::now();
  const auto end = begin + std::chrono::seconds(config.seconds);
  std::vector<ConnectionResult> results(config.connections);
  std::vector<std::thread> threads;
  for (int i = 0; i < config.connections; ++i) {
    threads.emplace_back(RunConnection, std::cref(config), i, end, &failed,
                         &results[i]);
  }

  // The subscriber: positions must arrive contiguous.
  std::atomic<uint64_t> subscribed{0};
  std::string subscription_error;
  std::atomic<bool> appenders_done{false};
  std::thread follower([&] {
    uint64_t last = *start_head;
    while (!failed.load()) {
      auto events = (*subscription)->Next(4096, std::chrono::milliseconds(200));
      if (!events.ok()) {
        subscription_error = events.status().ToString();
        failed.store(true);
        return;
      }
      if (events->empty() && appenders_done.load()) return;
      for (const auto& event : *events) {
        if (event.position != last + 1) {
          subscription_error = absl::StrCat("subscription jumped from position ",
                                            last, " to ", event.position);
          failed.store(true);
          return;
        }
        last = event.position;
      }
      subscribed.store(last - *start_head);
    }
  });

  // Memory samples, one a second, on a fixed schedule.
  std::vector<MemorySample> samples;
  bool memory_readable = true;
  auto sample = [&] {
    MemorySample memory;
    memory.seconds = std::chrono::duration<double>(Clock::now() - begin).count();
    if (!ReadStatus(config.server_pid, &memory)) {
      memory_readable = false;
      return;
    }
    if (auto stats = (*watcher)->Stats(); stats.ok()) {
      auto value = [&](const char* key) -> uint64_t {
        auto it = stats->find(key);
        return it == stats->end() ? 0 : static_cast<uint64_t>(it->second);
      };
      memory.index_heap = value("storage.index_heap_bytes");
      memory.index_total = value("storage.index_memory_bytes");
    }
    samples.push_back(memory);
  };
  for (auto next = begin; next < end && !failed.load();
       next += std::chrono::seconds(1)) {
    std::this_thread::sleep_until(next);
    if (config.server_pid > 0) sample();
  }
  // The load phase ends here; the connections' whole-stream read-backs
  // (the final check) follow and are not part of the memory series.
  const size_t load_samples = samples.size();
  for (auto& thread : threads) thread.join();
  const double elapsed =
      std::chrono::duration<double>(Clock::now() - begin).count();
  if (config.server_pid > 0) sample();

  uint64_t acknowledged = 0, appends = 0, reads = 0;
  std::vector<double> latencies;
  int errors = 0;
  for (const auto& result : results) {
    acknowledged += result.acknowledged;
    appends += result.appends;
    reads += result.reads;
    latencies.insert(latencies.end(), result.latencies_us.begin(),
                     result.latencies_us.end());
    if (!result.error.empty()) {
      if (++errors <= 5) std::cerr << "cairnd_load: " << result.error << "\n";
    }
  }
  // Let the subscriber catch up with everything acknowledged (bounded).
  const auto catch_up = Clock::now() + std::chrono::seconds(30);
  while (!failed.load() && subscribed.load() < acknowledged &&
         Clock::now() < catch_up) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  appenders_done.store(true);
  follower.join();

  auto final_head = (*watcher)->HeadPosition();
  bool ok = !failed.load() && errors == 0 && final_head.ok() &&
            *final_head - *start_head == acknowledged &&
            subscribed.load() == acknowledged;

  std::printf("connections           %d\n", config.connections);
  std::printf("duration_s            %.1f\n", elapsed);
  std::printf("events_acknowledged   %llu\n",
              static_cast<unsigned long long>(acknowledged));
  std::printf("events_per_s          %.0f\n", acknowledged / elapsed);
  std::printf("appends               %llu (batch %d)\n",
              static_cast<unsigned long long>(appends), config.batch);
  std::printf("read_backs            %llu\n",
              static_cast<unsigned long long>(reads));
  std::printf("append_p50_us         %.0f\n", Percentile(latencies, 0.50));
  std::printf("append_p99_us         %.0f\n", Percentile(latencies, 0.99));
  std::printf("head_moved            %llu\n",
              final_head.ok()
                  ? static_cast<unsigned long long>(*final_head - *start_head)
                  : 0ULL);
  std::printf("subscription_received %llu (contiguous)\n",
              static_cast<unsigned long long>(subscribed.load()));
  if (!subscription_error.empty()) {
    std::fprintf(stderr, "cairnd_load: subscription: %s\n",
                 subscription_error.c_str());
  }
  if (config.server_pid > 0 && (!memory_readable || samples.empty())) {
    std::fprintf(stderr, "cairnd_load: cannot read /proc/%d/status\n",
                 config.server_pid);
    ok = false;
  } else if (load_samples > 0) {
    const double warmup = config.warmup_seconds >= 0
                              ? config.warmup_seconds
                              : std::max(2.0, config.seconds / 5.0);
    if (samples.size() > load_samples) {
      std::printf("server_rss_anon_mib   after the read-back check: %.1f (not "
                  "checked: malloc keeps what the whole-stream reads used)\n",
                  samples.back().rss_anon / kMiB);
      samples.resize(load_samples);
    }
    if (!CheckMemory(config, samples, warmup)) ok = false;
  }
  if (!ok) {
    std::fprintf(stderr, "cairnd_load: FAILED (%d connection errors)\n",
                 errors);
    return 1;
  }
  std::printf("result                OK: no error, no lost or duplicated event\n");
  return 0;
}
