// cairnd_bench: the server's loopback figures for docs/benchmarks.md.
//
//   1. pipelined appends: C connections each keep W appends of B events in
//      flight (default 4 x 32 x 100) for S seconds -> events/s;
//   2. single-event round trip: one connection, one event per append, one at
//      a time -> p50 / p90 / p99 in microseconds.
//
// Starts its own cairnd (the binary beside this one, or --cairnd) on a free
// loopback port over a fresh store with fsync=never, unless --port names a
// running server.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <boost/program_options.hpp>
#include <chrono>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "cairn/client.h"

namespace po = boost::program_options;
using Clock = std::chrono::steady_clock;

namespace {

struct Config {
  std::string cairnd;
  uint16_t port = 0;
  int connections = 4;
  int window = 32;
  int batch = 100;
  int payload = 100;
  double seconds = 10;
  int round_trips = 20000;
  std::string fsync = "never";
  std::vector<std::string> server_args;  // more flags for the started cairnd
};

// A cairnd child process on a temp store.
class Server {
 public:
  ~Server() {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      int status = 0;
      waitpid(pid_, &status, 0);
    }
    std::error_code ec;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
  }

  bool Start(const Config& config) {
    std::string pattern = "/tmp/cairnd-bench-XXXXXX";
    if (mkdtemp(pattern.data()) == nullptr) return false;
    dir_ = pattern;
    std::vector<std::string> args = {config.cairnd,
                                     "--data",
                                     dir_ + "/data",
                                     "--port",
                                     "0",
                                     "--port-file",
                                     dir_ + "/port",
                                     "--http-port",
                                     "off",
                                     "--set",
                                     "storage.fsync=" + config.fsync,
                                     "--log-level",
                                     "warn"};
    args.insert(args.end(), config.server_args.begin(),
                config.server_args.end());
    pid_ = fork();
    if (pid_ == 0) {
      std::vector<char*> argv;
      for (auto& arg : args) argv.push_back(arg.data());
      argv.push_back(nullptr);
      execv(config.cairnd.c_str(), argv.data());
      _exit(127);
    }
    for (int i = 0; i < 2000; ++i) {
      std::ifstream in(dir_ + "/port");
      unsigned port = 0;
      if (in >> port && port > 0) {
        port_ = static_cast<uint16_t>(port);
        return true;
      }
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return false;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }

  uint16_t port() const { return port_; }
  pid_t pid() const { return pid_; }

 private:
  std::string dir_;
  pid_t pid_ = -1;
  uint16_t port_ = 0;
};

std::unique_ptr<cairn::Client> Connect(uint16_t port) {
  cairn::ClientOptions options;
  options.port = port;
  options.client_name = "cairnd-bench";
  auto client = cairn::Client::Connect(options);
  if (!client.ok()) {
    std::cerr << "cairnd_bench: " << client.status() << "\n";
    std::exit(1);
  }
  return *std::move(client);
}

double PipelinedAppends(const Config& config, uint16_t port) {
  std::vector<cairn::EventData> events(config.batch);
  for (auto& event : events) {
    event.type = "BenchEvent";
    event.data = std::string(config.payload, 'p');
  }
  std::vector<uint64_t> appended(config.connections, 0);
  std::vector<std::thread> threads;
  std::atomic<bool> failed{false};
  const auto end = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                      std::chrono::duration<double>(config.seconds));
  const auto begin = Clock::now();
  for (int c = 0; c < config.connections; ++c) {
    threads.emplace_back([&, c] {
      auto client = Connect(port);
      std::deque<std::future<absl::StatusOr<cairn::AppendResult>>> inflight;
      uint64_t sent = 0;
      auto settle = [&] {
        auto result = inflight.front().get();
        inflight.pop_front();
        if (!result.ok()) {
          std::cerr << "cairnd_bench: " << result.status() << "\n";
          failed.store(true);
        } else {
          appended[c] += config.batch;
        }
      };
      while (Clock::now() < end && !failed.load()) {
        while (static_cast<int>(inflight.size()) < config.window) {
          inflight.push_back(client->AppendAsync(
              absl::StrCat("bench-", c, "-", sent++ % 64),
              cairn::ExpectedRevision::Any(), events));
        }
        settle();
      }
      while (!inflight.empty()) settle();
    });
  }
  for (auto& thread : threads) thread.join();
  const double elapsed =
      std::chrono::duration<double>(Clock::now() - begin).count();
  if (failed.load()) std::exit(1);
  uint64_t total = 0;
  for (uint64_t n : appended) total += n;
  std::printf("pipelined_appends  connections=%d window=%d batch=%d payload=%dB"
              "  events=%llu  seconds=%.2f  events_per_s=%.0f\n",
              config.connections, config.window, config.batch, config.payload,
              static_cast<unsigned long long>(total), elapsed, total / elapsed);
  return total / elapsed;
}

// User + system CPU seconds `pid` has used so far (/proc/PID/stat), or a
// negative number when it cannot be read.
double CpuSeconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)),
                   std::istreambuf_iterator<char>());
  const size_t paren = text.rfind(')');  // the command name may hold spaces
  if (paren == std::string::npos) return -1;
  std::istringstream fields(text.substr(paren + 2));
  std::string skip;
  for (int i = 3; i < 14; ++i) fields >> skip;  // state .. cmajflt
  unsigned long long user = 0, system = 0;
  if (!(fields >> user >> system)) return -1;
  return static_cast<double>(user + system) / sysconf(_SC_CLK_TCK);
}

// `server_pid` > 0: also reports the server's CPU time per round trip
// (warm-up included), which does not depend on how loaded the machine is
// the way wall-clock latency does.
void RoundTrips(const Config& config, uint16_t port, pid_t server_pid) {
  auto client = Connect(port);
  std::vector<cairn::EventData> one(1);
  one[0].type = "BenchEvent";
  one[0].data = std::string(config.payload, 'r');
  std::vector<double> micros;
  micros.reserve(config.round_trips);
  const double cpu_before = server_pid > 0 ? CpuSeconds(server_pid) : -1;
  for (int i = 0; i < config.round_trips + 1000; ++i) {
    const auto start = Clock::now();
    auto result =
        client->Append("rtt", cairn::ExpectedRevision::Any(), one);
    const double us =
        std::chrono::duration<double, std::micro>(Clock::now() - start).count();
    if (!result.ok()) {
      std::cerr << "cairnd_bench: " << result.status() << "\n";
      std::exit(1);
    }
    if (i >= 1000) micros.push_back(us);  // the first 1000 warm up
  }
  const double cpu_after = server_pid > 0 ? CpuSeconds(server_pid) : -1;
  std::sort(micros.begin(), micros.end());
  auto at = [&](double p) {
    return micros[std::min(micros.size() - 1,
                           static_cast<size_t>(p * micros.size()))];
  };
  std::printf("single_event_rtt   appends=%d payload=%dB  p50_us=%.1f"
              "  p90_us=%.1f  p99_us=%.1f  max_us=%.1f\n",
              config.round_trips, config.payload, at(0.5), at(0.9), at(0.99),
              micros.back());
  if (cpu_before >= 0 && cpu_after >= 0) {
    std::printf("single_event_rtt   server_cpu_us_per_round_trip=%.1f\n",
                (cpu_after - cpu_before) * 1e6 / (config.round_trips + 1000));
  }
}

}  // namespace

int main(int argc, char** argv) {
  Config config;
  config.cairnd =
      (std::filesystem::path(argv[0]).parent_path() / "cairnd").string();
  po::options_description flags("cairnd_bench options");
  flags.add_options()("help,h", "show this help")(
      "cairnd", po::value(&config.cairnd), "cairnd binary to start")(
      "port", po::value(&config.port), "use a running server on this port")(
      "connections", po::value(&config.connections), "pipelining connections")(
      "window", po::value(&config.window), "appends in flight per connection")(
      "batch", po::value(&config.batch), "events per pipelined append")(
      "payload", po::value(&config.payload), "bytes of data per event")(
      "seconds", po::value(&config.seconds), "pipelined run length")(
      "round-trips", po::value(&config.round_trips),
      "single-event appends timed")(
      "fsync", po::value(&config.fsync), "the started server's fsync mode")(
      "server-arg", po::value(&config.server_args)->composing(),
      "one more flag for the started cairnd, e.g. "
      "--server-arg=--set=server.inline-appends=on (repeatable)");
  po::variables_map vm;
  try {
    po::store(po::parse_command_line(argc, argv, flags), vm);
    po::notify(vm);
  } catch (const std::exception& e) {
    std::cerr << "cairnd_bench: " << e.what() << "\n" << flags;
    return 2;
  }
  if (vm.count("help")) {
    std::cout << flags;
    return 0;
  }
  if (config.connections < 1 || config.window < 1 || config.batch < 1 ||
      config.round_trips < 1 || config.seconds <= 0) {
    std::cerr << "cairnd_bench: counts and seconds must be positive\n";
    return 2;
  }
  Server server;
  uint16_t port = config.port;
  if (port == 0) {
    if (!server.Start(config)) {
      std::cerr << "cairnd_bench: could not start " << config.cairnd << "\n";
      return 1;
    }
    port = server.port();
  }
  std::string extra;
  for (const auto& arg : config.server_args) extra += " " + arg;
  std::printf("cairnd_bench: 127.0.0.1:%u fsync=%s cores=%u%s%s\n", port,
              config.port == 0 ? config.fsync.c_str() : "(server's)",
              std::thread::hardware_concurrency(),
              extra.empty() ? "" : " server args:", extra.c_str());
  RoundTrips(config, port, config.port == 0 ? server.pid() : 0);
  PipelinedAppends(config, port);
  return 0;
}
