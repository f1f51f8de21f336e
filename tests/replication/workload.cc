// cairn-fault-workload: the fault tests' load (docs/replication.md, "Fault
// tests and the checker"). N clients append to M streams through cairnd
// servers, a mix of `any` and `exact` appends (exact expects the revision
// the client last saw; no_stream before it saw any), bounded by a count and
// a time, and record every operation as one JSON line of the history the
// checker (checker.h) reads:
//
//   {"run":"r1","client":3,"op":17,"stream":"fs-05","expect":"exact",
//    "expected_revision":4,"events":["r1-c3-o17-0"],"invoke_ns":...,
//    "complete_ns":...,"outcome":"ok","first_position":120,
//    "last_position":120,"first_revision":5,"last_revision":5,"epoch":0,
//    "server":"10.0.0.2:7600"}
//
// Outcomes: ok; fail when the server refused before writing (wrong expected
// revision, invalid argument, permission); unknown for everything else
// (timeout, connection lost, server error): the append may or may not have
// been written. NOT_LEADER is unknown too: a deposed primary answers it for
// appends it had already written while it waited for acknowledgements
// (cairn_replication_api::replicate), and the new primary decides whether
// those survive. Event ids (run, client, op, index) are
// unique and travel in each event's `writer` field. The cairn.v1 protocol
// reports the epoch each append was written in (0 without replication).
//
// A client whose attempt ended unknown (NOT_LEADER included) drops its
// connection and moves on to the next address of --servers, pausing between
// attempts, and sends the same op again there — same events, same
// idempotency key — until it is answered, for at most --op-retry-ms (5000:
// longer than a failover takes) and --op-retries (50) attempts, and within
// the run's time: the server answers a retry of an append it holds as a
// repeat of the original
// (`"repeated":true`, the original's positions) instead of writing it
// twice, which the checker's duplicate-id rule would catch. An op is one
// history line, from its first attempt's invoke to its last attempt's
// completion, with the last attempt's outcome and `attempts`.
//
// With --subscribers K (and --seen FILE), K more threads each hold a live
// subscription to all events (subscriber k starts at server k of
// --servers) and record every event they receive, one JSON line a batch:
//
//   {"subscriber":1,"server":"10.0.0.3:7600","positions":[120,121],
//    "ids":["r1-c3-o17-0","r1-c3-o17-1"]}
//
// (ids are the events' `writer` fields). A subscription that fails or whose
// server goes away is opened again after the last position received, on the
// next server, so a subscriber's positions only grow. The checker requires
// every received event to be in the final logs at that position, and none
// skipped.
//
// The run ends at --duration-ms, or earlier on SIGTERM or SIGINT: clients
// start no more ops and stop retrying (an op cut short ends unknown),
// subscribers stop, and the summary is printed as at the deadline. The
// fault harness ends its load that way once its last fault has healed, so
// slow elections cannot end the load before the faults are all injected.
#include <cairn/client.h>
#include <cairn/status.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace {

using Json = nlohmann::ordered_json;

int64_t MonotonicNs() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

// Set by SIGTERM or SIGINT (lock-free, so a signal handler may store it).
std::atomic<bool> g_stop_requested{false};
static_assert(std::atomic<bool>::is_always_lock_free);
extern "C" void RequestStop(int) { g_stop_requested.store(true); }

// The end of the run: its deadline, or a stop request before that.
class RunEnd {
 public:
  explicit RunEnd(int64_t deadline_ns) : deadline_ns_(deadline_ns) {}
  bool Passed() const { return LeftNs() <= 0; }
  int64_t LeftNs() const {
    return g_stop_requested.load() ? 0 : deadline_ns_ - MonotonicNs();
  }

 private:
  int64_t deadline_ns_;
};

struct Settings {
  std::vector<std::string> servers;
  uint64_t clients = 16;
  uint64_t streams = 20;
  uint64_t max_ops = 100000;  // over all clients
  uint64_t duration_ms = 10000;
  uint64_t exact_percent = 50;
  uint64_t max_batch = 3;
  uint64_t request_timeout_ms = 2000;
  uint64_t connect_timeout_ms = 1000;
  uint64_t retry_pause_ms = 50;
  uint64_t op_retries = 50;
  uint64_t op_retry_ms = 5000;
  uint64_t min_ok = 1;
  uint64_t seed = 1;
  std::string run;
  std::string stream_prefix = "fs";
  std::string history;
  std::string event_type = "cairn.faults.v1";
  uint64_t subscribers = 0;
  std::string seen;
};

class History {
 public:
  explicit History(FILE* file) : file_(file) {}
  void Write(const Json& line) {
    const std::string text =
        line.dump(-1, ' ', false, Json::error_handler_t::replace);
    std::lock_guard<std::mutex> lock(mutex_);
    std::fprintf(file_, "%s\n", text.c_str());
    std::fflush(file_);  // a history cut short still holds whole lines
  }

 private:
  std::mutex mutex_;
  FILE* file_;
};

struct Counts {
  std::atomic<uint64_t> started{0};
  std::atomic<uint64_t> ok{0}, fail{0}, unknown{0}, connect_failures{0};
  std::atomic<uint64_t> retried_ops{0}, repeats{0};
  std::atomic<uint64_t> seen_events{0}, subscription_restarts{0};
};

// Sleeps --retry-pause-ms, or until the run's end if that comes first.
void RetryPause(const Settings& settings, const RunEnd& end) {
  const int64_t left = end.LeftNs();
  const int64_t want = static_cast<int64_t>(settings.retry_pause_ms) * 1000000;
  if (left > 0)
    std::this_thread::sleep_for(std::chrono::nanoseconds(std::min(left, want)));
}

// Opens a connection to `address` for the workload, or fails.
absl::StatusOr<std::unique_ptr<cairn::Client>> Dial(const Settings& settings,
                                                    const std::string& address,
                                                    const std::string& name) {
  cairn::ClientOptions options;
  if (absl::Status s =
          cairn::ParseServerAddress(address, &options.host, &options.port);
      !s.ok()) {
    return s;
  }
  options.connect_timeout =
      std::chrono::milliseconds(settings.connect_timeout_ms);
  options.request_timeout =
      std::chrono::milliseconds(settings.request_timeout_ms);
  options.client_name = name;
  return cairn::Client::Connect(options);
}

// Whether `status` says the append was refused before anything was written.
bool DefinitelyNotWritten(const absl::Status& status) {
  return cairn::IsWrongExpectedRevision(status) ||
         absl::IsInvalidArgument(status) || absl::IsPermissionDenied(status);
}

void RunClient(const Settings& settings, uint64_t id, const RunEnd& end,
               History* history, Counts* counts) {
  std::mt19937_64 random(settings.seed * 1000003 + id);
  std::unique_ptr<cairn::Client> client;
  size_t server = id % settings.servers.size();
  std::map<std::string, uint64_t> last_seen;
  uint64_t op = 0;
  auto pause = [&] { RetryPause(settings, end); };
  while (!end.Passed()) {
    if (!client) {
      absl::StatusOr<std::unique_ptr<cairn::Client>> connected =
          Dial(settings, settings.servers[server],
               absl::StrCat("fault-workload-", settings.run, "-c", id));
      if (!connected.ok()) {
        counts->connect_failures.fetch_add(1);
        server = (server + 1) % settings.servers.size();
        pause();
        continue;
      }
      client = *std::move(connected);
    }
    if (counts->started.fetch_add(1) >= settings.max_ops) break;
    const std::string stream =
        absl::StrCat(settings.stream_prefix, "-", random() % settings.streams);
    const bool exact = random() % 100 < settings.exact_percent;
    const size_t batch = 1 + random() % settings.max_batch;
    Json line;
    line["run"] = settings.run;
    line["client"] = id;
    line["op"] = op;
    line["stream"] = stream;
    cairn::ExpectedRevision expected = cairn::ExpectedRevision::Any();
    if (exact) {
      const uint64_t seen = last_seen[stream];
      if (seen == 0) {
        expected = cairn::ExpectedRevision::NoStream();
        line["expect"] = "no_stream";
      } else {
        expected = cairn::ExpectedRevision::Exact(seen);
        line["expect"] = "exact";
        line["expected_revision"] = seen;
      }
    } else {
      line["expect"] = "any";
    }
    std::vector<cairn::EventData> events(batch);
    Json ids = Json::array();
    for (size_t i = 0; i < batch; ++i) {
      const std::string event_id =
          absl::StrCat(settings.run, "-c", id, "-o", op, "-", i);
      events[i].type = settings.event_type;
      events[i].writer = event_id;
      events[i].data = absl::StrCat("{\"id\":\"", event_id, "\"}");
      ids.push_back(event_id);
    }
    line["events"] = ids;
    line["server"] = settings.servers[server];
    const int64_t invoke_ns = MonotonicNs();
    line["invoke_ns"] = invoke_ns;
    const int64_t retry_until =
        invoke_ns + static_cast<int64_t>(settings.op_retry_ms) * 1000000;
    // One key for every attempt of this op.
    const std::string key = absl::StrCat(settings.run, "-c", id, "-o", op);
    ++op;
    absl::StatusOr<cairn::AppendResult> result = absl::UnknownError("not sent");
    uint64_t attempts = 0;
    Json earlier = Json::array();
    for (;;) {
      ++attempts;
      if (!client) {
        absl::StatusOr<std::unique_ptr<cairn::Client>> connected =
            Dial(settings, settings.servers[server],
                 absl::StrCat("fault-workload-", settings.run, "-c", id));
        if (connected.ok()) {
          client = *std::move(connected);
        } else {
          counts->connect_failures.fetch_add(1);
          result = connected.status();
        }
      }
      if (client) result = client->Append(stream, expected, events, key);
      if (result.ok() || DefinitelyNotWritten(result.status())) break;
      // Evidence of the attempts before the last: where, and why unknown.
      earlier.push_back(Json{
          {"server", settings.servers[server]},
          {"error", std::string(result.status().message().substr(0, 160))}});
      // Unknown: a fresh connection, to the next server, after a pause (the
      // old one may be dead or the server gone), then the same op again.
      client.reset();
      server = (server + 1) % settings.servers.size();
      if (attempts > settings.op_retries || MonotonicNs() >= retry_until ||
          end.Passed()) {
        break;
      }
      pause();
      if (end.Passed()) break;
    }
    line["complete_ns"] = MonotonicNs();
    line["attempts"] = attempts;
    if (attempts > 1) {
      counts->retried_ops.fetch_add(1);
      if (result.ok() || DefinitelyNotWritten(result.status())) {
        line["earlier"] = earlier;  // (for unknown, `error` is the last)
      } else if (earlier.size() > 1) {
        earlier.erase(earlier.size() - 1);
        line["earlier"] = earlier;
      }
    }
    if (result.ok()) {
      line["outcome"] = "ok";
      line["first_position"] = result->first_position;
      line["last_position"] = result->last_position;
      line["first_revision"] = result->first_revision;
      line["last_revision"] = result->last_revision;
      line["epoch"] = result->epoch;
      if (result->repeated) {
        line["repeated"] = true;
        counts->repeats.fetch_add(1);
      }
      last_seen[stream] = result->last_revision;
      counts->ok.fetch_add(1);
      history->Write(line);
      continue;
    }
    const absl::Status& status = result.status();
    line["error"] = std::string(status.message().substr(0, 300));
    if (DefinitelyNotWritten(status)) {
      line["outcome"] = "fail";
      counts->fail.fetch_add(1);
      history->Write(line);
      if (cairn::IsWrongExpectedRevision(status) && client) {
        // Learn the head for the next exact append (not an op of the history).
        absl::StatusOr<uint64_t> head = client->HeadRevision(stream);
        if (head.ok()) last_seen[stream] = *head;
      }
      continue;
    }
    line["outcome"] = "unknown";
    counts->unknown.fetch_add(1);
    history->Write(line);
    pause();
  }
}

// One subscriber: a live subscription to all events, moved to the next
// server (after the last position received) whenever it fails.
void RunSubscriber(const Settings& settings, uint64_t id, const RunEnd& end,
                   History* seen, Counts* counts) {
  size_t server = id % settings.servers.size();
  uint64_t cursor = 0;  // the last position received
  std::unique_ptr<cairn::Client> client;
  std::unique_ptr<cairn::RemoteSubscription> subscription;
  auto move_on = [&] {
    subscription.reset();
    client.reset();
    server = (server + 1) % settings.servers.size();
    counts->subscription_restarts.fetch_add(1);
    RetryPause(settings, end);
  };
  while (!end.Passed()) {
    if (!subscription) {
      absl::StatusOr<std::unique_ptr<cairn::Client>> connected =
          Dial(settings, settings.servers[server],
               absl::StrCat("fault-subscriber-", settings.run, "-s", id));
      if (!connected.ok()) {
        move_on();
        continue;
      }
      client = *std::move(connected);
      cairn::SubscriptionFilter filter;
      filter.kind = cairn::SubscriptionFilter::Kind::kAll;
      filter.after = cursor;
      absl::StatusOr<std::unique_ptr<cairn::RemoteSubscription>> opened =
          client->Subscribe(filter);
      if (!opened.ok()) {
        move_on();
        continue;
      }
      subscription = *std::move(opened);
    }
    absl::StatusOr<std::vector<cairn::RecordedEvent>> events =
        subscription->Next(256, std::chrono::milliseconds(100));
    if (!events.ok()) {
      move_on();
      continue;
    }
    if (events->empty()) continue;
    Json line;
    line["subscriber"] = id;
    line["server"] = settings.servers[server];
    Json positions = Json::array(), ids = Json::array();
    for (const cairn::RecordedEvent& e : *events) {
      positions.push_back(e.position);
      ids.push_back(e.writer);
      cursor = e.position;
    }
    line["positions"] = std::move(positions);
    line["ids"] = std::move(ids);
    seen->Write(line);
    counts->seen_events.fetch_add(events->size());
  }
}

int Usage(const std::string& why) {
  std::cerr
      << "cairn-fault-workload: " << why << "\n"
      << "usage: cairn-fault-workload --servers HOST:PORT[,HOST:PORT...] "
         "--history FILE\n"
         "  [--clients 16] [--streams 20] [--max-ops 100000] [--duration-ms "
         "10000]\n"
         "  [--exact-percent 50] [--max-batch 3] [--request-timeout-ms 2000]\n"
         "  [--connect-timeout-ms 1000] [--retry-pause-ms 50]\n"
         "  [--op-retries 50] [--op-retry-ms 5000] [--min-ok 1] [--seed 1]\n"
         "  [--run ID] [--stream-prefix fs] [--event-type cairn.faults.v1]\n"
         "  [--subscribers 0 --seen FILE]\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  Settings s;
  std::map<std::string, uint64_t*> numbers = {
      {"--clients", &s.clients},
      {"--streams", &s.streams},
      {"--max-ops", &s.max_ops},
      {"--duration-ms", &s.duration_ms},
      {"--exact-percent", &s.exact_percent},
      {"--max-batch", &s.max_batch},
      {"--request-timeout-ms", &s.request_timeout_ms},
      {"--connect-timeout-ms", &s.connect_timeout_ms},
      {"--retry-pause-ms", &s.retry_pause_ms},
      {"--op-retries", &s.op_retries},
      {"--op-retry-ms", &s.op_retry_ms},
      {"--min-ok", &s.min_ok},
      {"--seed", &s.seed},
      {"--subscribers", &s.subscribers}};
  std::map<std::string, std::string*> texts = {
      {"--run", &s.run},
      {"--stream-prefix", &s.stream_prefix},
      {"--history", &s.history},
      {"--event-type", &s.event_type},
      {"--seen", &s.seen}};
  std::string servers;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--help" || flag == "-h") {
      Usage(
          "appends from N clients and records a history for cairn-fault-check");
      return 0;
    }
    if (i + 1 >= argc) return Usage(flag + " needs a value");
    const std::string value = argv[++i];
    if (flag == "--servers") {
      servers = value;
    } else if (auto n = numbers.find(flag); n != numbers.end()) {
      if (!absl::SimpleAtoi(value, n->second)) {
        return Usage(flag + " takes a non-negative integer, not '" + value +
                     "'");
      }
    } else if (auto t = texts.find(flag); t != texts.end()) {
      *t->second = value;
    } else {
      return Usage("unknown flag '" + flag + "'");
    }
  }
  for (absl::string_view part :
       absl::StrSplit(servers, ',', absl::SkipEmpty())) {
    std::string host;
    uint16_t port = 0;
    const std::string address(part.data(), part.size());
    if (absl::Status ps = cairn::ParseServerAddress(address, &host, &port);
        !ps.ok()) {
      return Usage(std::string(ps.message()));
    }
    s.servers.push_back(address);
  }
  if (s.servers.empty()) return Usage("give --servers");
  if (s.history.empty()) return Usage("give --history");
  if (s.clients == 0 || s.clients > 1024)
    return Usage("--clients takes 1..1024");
  if (s.streams == 0) return Usage("--streams takes at least 1");
  if (s.max_batch == 0 || s.max_batch > 1000)
    return Usage("--max-batch takes 1..1000");
  if (s.exact_percent > 100) return Usage("--exact-percent takes 0..100");
  if (s.subscribers > 64) return Usage("--subscribers takes 0..64");
  if (s.subscribers > 0 && s.seen.empty())
    return Usage("--subscribers needs --seen FILE");
  if (s.duration_ms == 0 || s.duration_ms > 24ull * 3600 * 1000) {
    return Usage(
        "--duration-ms takes 1..86400000 (every run is bounded in time)");
  }
  if (s.run.empty())
    s.run = absl::StrCat("r", MonotonicNs() / 1000000 % 100000000);

  FILE* file = std::fopen(s.history.c_str(), "a");
  if (file == nullptr)
    return Usage("cannot open --history " + s.history + " for appending");
  History history(file);
  FILE* seen_file = nullptr;
  if (s.subscribers > 0) {
    seen_file = std::fopen(s.seen.c_str(), "a");
    if (seen_file == nullptr) {
      std::fclose(file);
      return Usage("cannot open --seen " + s.seen + " for appending");
    }
  }
  History seen(seen_file);
  Counts counts;
  std::signal(SIGTERM, RequestStop);
  std::signal(SIGINT, RequestStop);
  const int64_t start = MonotonicNs();
  const RunEnd end(start + static_cast<int64_t>(s.duration_ms) * 1000000);
  std::vector<std::thread> threads;
  for (uint64_t c = 0; c < s.clients; ++c) {
    threads.emplace_back(RunClient, std::cref(s), c, std::cref(end), &history,
                         &counts);
  }
  for (uint64_t k = 0; k < s.subscribers; ++k) {
    threads.emplace_back(RunSubscriber, std::cref(s), k, std::cref(end), &seen,
                         &counts);
  }
  for (std::thread& t : threads) t.join();
  const int64_t ran_ms = (MonotonicNs() - start) / 1000000;
  std::fclose(file);
  if (seen_file != nullptr) std::fclose(seen_file);
  const uint64_t ops = counts.ok + counts.fail + counts.unknown;
  std::cerr << "cairn-fault-workload: run " << s.run << ": " << ops
            << " ops (ok " << counts.ok << ", fail " << counts.fail
            << ", unknown " << counts.unknown << "; " << counts.retried_ops
            << " sent more than once, " << counts.repeats
            << " answered as a repeat), " << counts.connect_failures
            << " failed connection attempt(s)";
  if (s.subscribers > 0) {
    std::cerr << "; " << s.subscribers << " subscriber(s) received "
              << counts.seen_events << " event(s), "
              << counts.subscription_restarts << " restart(s)";
  }
  std::cerr << "; ran " << ran_ms << " ms, "
            << (g_stop_requested.load()       ? "stopped by a signal"
                : counts.started >= s.max_ops ? "to its --max-ops"
                                              : "to its --duration-ms")
            << "\n";
  if (counts.ok < s.min_ok) {
    std::cerr << "cairn-fault-workload: only " << counts.ok
              << " op(s) acknowledged; --min-ok is " << s.min_ok << "\n";
    return 1;
  }
  return 0;
}
