// cairnd_load: many concurrent connections append and read against a
// running cairnd for a fixed time, then verify that every acknowledged event
// is stored exactly once, in order, and that the server's memory stayed flat.
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
#include <iostream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
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
  int server_pid = 0;
  double max_memory_growth_mib = 32;
};

struct ConnectionResult {
  uint64_t acknowledged = 0;  // events
  uint64_t appends = 0;
  uint64_t reads = 0;
  std::vector<double> latencies_us;
  std::string error;
};

// Anonymous resident memory (resident - shared pages) of `pid`: the
// process's own heap and stacks, without the store's mapped files, whose
// page cache is shared and grows with the data by design.
struct Memory {
  uint64_t resident = 0;
  uint64_t anonymous = 0;
  uint64_t store_index = 0;  // the storage plugin's own in-memory indexes
  // What the server itself holds: anonymous memory less the store's indexes
  // (which grow with the data by the storage plugin's design).
  uint64_t server() const {
    return anonymous - std::min(anonymous, store_index);
  }
};

Memory ReadMemory(int pid) {
  std::ifstream statm(absl::StrCat("/proc/", pid, "/statm"));
  uint64_t size = 0, resident = 0, shared = 0;
  statm >> size >> resident >> shared;
  const uint64_t page = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
  return {resident * page, (resident - std::min(resident, shared)) * page};
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
  const std::string stream = absl::StrCat("load-", index);
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
      "server-pid", po::value(&config.server_pid),
      "watch this process's memory (/proc/PID/statm)")(
      "max-memory-growth-mib", po::value(&config.max_memory_growth_mib),
      "fail if the server's own memory (anonymous resident less the store's "
      "index) grows more than this after warm-up");
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

  // Memory samples, one a second.
  std::vector<Memory> samples;
  auto sample = [&] {
    Memory memory = ReadMemory(config.server_pid);
    if (auto stats = (*watcher)->Stats(); stats.ok()) {
      auto it = stats->find("storage.index_memory_bytes");
      if (it != stats->end()) {
        memory.store_index = static_cast<uint64_t>(it->second);
      }
    }
    samples.push_back(memory);
  };
  while (Clock::now() < end && !failed.load()) {
    if (config.server_pid > 0) sample();
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
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
  if (!samples.empty()) {
    // Warm-up: the first 20% of the run (at least one sample).
    const size_t warm = std::max<size_t>(1, samples.size() / 5);
    const Memory& warmed = samples[warm - 1];
    uint64_t peak_server = 0;
    for (size_t i = warm - 1; i < samples.size(); ++i) {
      peak_server = std::max(peak_server, samples[i].server());
    }
    const double growth_mib =
        (peak_server - std::min(peak_server, warmed.server())) / 1048576.0;
    const Memory& last = samples.back();
    std::printf("server_rss_mib        start %.1f  end %.1f  (includes the "
                "store's mapped segment pages)\n",
                samples.front().resident / 1048576.0, last.resident / 1048576.0);
    std::printf("server_anon_rss_mib   after warm-up %.1f  end %.1f\n",
                warmed.anonymous / 1048576.0, last.anonymous / 1048576.0);
    std::printf("store_index_mib       after warm-up %.1f  end %.1f  (storage."
                "index_memory_bytes)\n",
                warmed.store_index / 1048576.0, last.store_index / 1048576.0);
    std::printf("server_own_mib        after warm-up %.1f  peak %.1f  end %.1f"
                "  (anon - index; growth %.1f, limit %.0f)\n",
                warmed.server() / 1048576.0, peak_server / 1048576.0,
                last.server() / 1048576.0, growth_mib,
                config.max_memory_growth_mib);
    if (growth_mib > config.max_memory_growth_mib) {
      std::fprintf(stderr,
                   "cairnd_load: server memory grew %.1f MiB after warm-up\n",
                   growth_mib);
      ok = false;
    }
  }
  if (!ok) {
    std::fprintf(stderr, "cairnd_load: FAILED (%d connection errors)\n",
                 errors);
    return 1;
  }
  std::printf("result                OK: no error, no lost or duplicated event\n");
  return 0;
}
