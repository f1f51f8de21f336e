#include "bench/workload.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <map>
#include <memory>
#include <random>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "bench/disk_usage.h"
#include "bench/stats.h"

namespace cairn::bench {
namespace {

using Clock = std::chrono::steady_clock;

int64_t WallMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

double MicrosSince(Clock::time_point start) {
  return std::chrono::duration<double, std::micro>(Clock::now() - start).count();
}

std::string StreamName(size_t index) { return absl::StrFormat("stream-%05d", index); }
std::string TagName(size_t index) { return absl::StrFormat("tag-%02d", index); }

// Samples this process's anonymous resident memory every few milliseconds
// while it lives and keeps the peak.
class MemorySampler {
 public:
  MemorySampler() : peak_(AnonResidentBytes()) {
    thread_ = std::thread([this] {
      while (!stop_.load(std::memory_order_relaxed)) {
        uint64_t now = AnonResidentBytes();
        if (now > peak_.load(std::memory_order_relaxed)) peak_.store(now);
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
    });
  }
  ~MemorySampler() { Stop(); }
  uint64_t Stop() {
    if (thread_.joinable()) {
      stop_.store(true);
      thread_.join();
      uint64_t now = AnonResidentBytes();
      if (now > peak_.load()) peak_.store(now);
    }
    return peak_.load();
  }

 private:
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> peak_;
  std::thread thread_;
};

}  // namespace

// Field names repeat and values are random digits, so it compresses about
// as well as real event bodies.
std::string MakePayload(std::mt19937_64& random, size_t bytes) {
  static constexpr const char* kFields[] = {"\"orderId\":", "\"customer\":",
                                            "\"amount\":", "\"currency\":\"EUR\",",
                                            "\"sku\":", "\"quantity\":"};
  std::string payload = "{";
  size_t field = 0;
  while (payload.size() < bytes) {
    payload += kFields[field++ % 6];
    payload += std::to_string(random() % 100000000);
    payload += ',';
  }
  payload.resize(bytes);
  if (bytes > 0) payload.back() = '}';
  return payload;
}

namespace {

// Builds the batches a writer appends: payloads made once, tags rotating.
class EventSource {
 public:
  EventSource(const WorkloadSpec& spec, uint64_t seed) : spec_(spec), random_(seed) {
    for (size_t i = 0; i < 64; ++i) payloads_.push_back(MakePayload(random_, spec.event_bytes));
  }
  // A batch of `count` events; the n-th event overall carries tag n % tags.
  void Fill(size_t count, std::vector<EventData>* batch) {
    batch->resize(count);
    int64_t now = WallMicros();
    for (EventData& event : *batch) {
      event.type = "OrderPlaced";
      event.data = payloads_[sequence_ % payloads_.size()];
      event.tags.assign(1, TagName(sequence_ % std::max<size_t>(spec_.tag_count, 1)));
      event.writer = "bench";
      event.timestamp_us = now;
      ++sequence_;
    }
  }

 private:
  const WorkloadSpec& spec_;
  std::mt19937_64 random_;
  std::vector<std::string> payloads_;
  uint64_t sequence_ = 0;
};

struct WriterOutcome {
  uint64_t events = 0;
  uint64_t payload_bytes = 0;
  uint64_t last_position = 0;
  LatencyHistogram latencies_us;
  std::string error;
};

// Appends batches round-robin over the writer's own streams (stream i
// belongs to writer i % writers) until `stop` is set. `acknowledged`, if
// given, counts events whose append returned.
void WriterLoop(Engine& engine, const WorkloadSpec& spec, size_t writer,
                const std::atomic<bool>& stop, std::atomic<uint64_t>* acknowledged,
                WriterOutcome* out) {
  size_t streams = std::max(spec.streams, spec.writers);
  std::vector<std::string> names;
  for (size_t s = writer; s < streams; s += spec.writers) names.push_back(StreamName(s));
  std::vector<uint64_t> heads(names.size(), 0);
  EventSource source(spec, 1000 + writer);
  std::vector<EventData> batch;
  // With a rate, batch n of this writer is due at start + n * interval.
  Clock::time_point schedule = Clock::now();
  Clock::duration interval = Clock::duration::zero();
  if (spec.rate > 0) {
    interval = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(
        static_cast<double>(spec.batch * spec.writers) / static_cast<double>(spec.rate)));
  }
  for (size_t turn = 0; !stop.load(std::memory_order_relaxed); ++turn) {
    if (spec.rate > 0) {
      std::this_thread::sleep_until(schedule);
      schedule += interval;
      if (stop.load(std::memory_order_relaxed)) break;
    }
    size_t s = turn % names.size();
    source.Fill(spec.batch, &batch);
    Clock::time_point start = Clock::now();
    auto position = engine.Append(names[s], heads[s], batch);
    double micros = MicrosSince(start);
    if (!position.ok()) {
      out->error = std::string(position.status().message());
      return;
    }
    out->latencies_us.Record(micros);
    heads[s] += batch.size();
    out->events += batch.size();
    out->payload_bytes += batch.size() * spec.event_bytes;
    out->last_position = std::max(out->last_position, *position);
    if (acknowledged != nullptr) acknowledged->fetch_add(batch.size());
  }
}

absl::StatusOr<std::unique_ptr<Engine>> OpenEngine(
    const std::string& engine_name, const std::string& dir,
    const WorkloadSpec& spec, const std::vector<std::string>& overrides) {
  auto engine = MakeEngine(engine_name);
  if (!engine.ok()) return engine.status();
  EngineOptions options;
  options.dir = dir;
  options.durability = spec.durability;
  options.cairn_overrides = overrides;
  options.event_bytes = spec.event_bytes;
  absl::Status opened = (*engine)->Open(options);
  if (!opened.ok()) return opened;
  return engine;
}

// Stores preload_events events, batch 10, one writer, round-robin over
// preload_events / stream_length streams, so each stream's events are spread
// through the log as a real workload spreads them.
absl::Status Preload(Engine& engine, const WorkloadSpec& spec) {
  size_t streams = std::max<size_t>(1, spec.preload_events / spec.stream_length);
  size_t per_stream = spec.stream_length;
  const size_t batch_size = std::min<size_t>(10, per_stream);
  std::vector<std::string> names;
  for (size_t s = 0; s < streams; ++s) names.push_back(StreamName(s));
  std::vector<uint64_t> heads(streams, 0);
  EventSource source(spec, 7);
  std::vector<EventData> batch;
  for (size_t written = 0; written < per_stream; written += batch_size) {
    size_t count = std::min(batch_size, per_stream - written);
    for (size_t s = 0; s < streams; ++s) {
      source.Fill(count, &batch);
      auto position = engine.Append(names[s], heads[s], batch);
      if (!position.ok()) return position.status();
      heads[s] += count;
    }
  }
  return absl::OkStatus();
}

uint64_t PreloadedEvents(const WorkloadSpec& spec) {
  return std::max<size_t>(1, spec.preload_events / spec.stream_length) * spec.stream_length;
}

// Events of tag `tag` among positions 1..n when position p carries tag
// (p - 1) % tags (the preload's layout).
uint64_t TaggedUpTo(uint64_t n, uint64_t tag, uint64_t tags) {
  return n / tags + (n % tags > tag ? 1 : 0);
}

void Fail(RunResult* result, const std::string& message) {
  if (result->error.empty()) result->error = message;
}

void SetLatencies(RunResult* result, const LatencyHistogram& samples) {
  LatencySummary summary = samples.Summary();
  result->p50_us = summary.p50_us;
  result->p99_us = summary.p99_us;
  result->p999_us = summary.p999_us;
}

void SetDisk(const DiskBytes& disk, RunResult* result) {
  result->disk_bytes = disk.allocated;
  result->disk_written_bytes = disk.written;
}

// Ends a run that wrote its events: peak memory, clean close, and the
// folder's size for those events.
void CloseAndMeasure(Engine& engine, MemorySampler& sampler, RunResult* result) {
  result->peak_anon_bytes = sampler.Stop();
  absl::Status closed = engine.Close();
  if (!closed.ok()) Fail(result, std::string(closed.message()));
  SetDisk(engine.DiskUsage(), result);
  result->disk_events = result->events;
}

RunResult RunAppend(const WorkloadSpec& spec, const std::string& engine_name,
                    const std::string& dir, const std::vector<std::string>& overrides) {
  RunResult result;
  MemorySampler sampler;
  auto engine = OpenEngine(engine_name, dir, spec, overrides);
  if (!engine.ok()) return RunResult{.error = std::string(engine.status().message())};
  std::atomic<bool> stop{false};
  std::vector<WriterOutcome> outcomes(spec.writers);
  std::vector<std::thread> threads;
  Clock::time_point start = Clock::now();
  for (size_t w = 0; w < spec.writers; ++w) {
    threads.emplace_back(WriterLoop, std::ref(**engine), std::cref(spec), w,
                         std::cref(stop), nullptr, &outcomes[w]);
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(spec.seconds));
  stop.store(true);
  for (std::thread& t : threads) t.join();
  result.seconds = MicrosSince(start) / 1e6;
  LatencyHistogram latencies;
  for (WriterOutcome& o : outcomes) {
    if (!o.error.empty()) Fail(&result, o.error);
    result.events += o.events;
    result.payload_bytes += o.payload_bytes;
    latencies.Merge(o.latencies_us);
  }
  SetLatencies(&result, latencies);
  CloseAndMeasure(**engine, sampler, &result);
  return result;
}

RunResult RunRead(const WorkloadSpec& spec, const std::string& engine_name,
                  const std::string& dir, const std::vector<std::string>& overrides) {
  RunResult result;
  uint64_t stored = PreloadedEvents(spec);
  {
    auto engine = OpenEngine(engine_name, dir, spec, overrides);
    if (!engine.ok()) return RunResult{.error = std::string(engine.status().message())};
    absl::Status loaded = Preload(**engine, spec);
    if (!loaded.ok()) return RunResult{.error = std::string(loaded.message())};
    absl::Status closed = (*engine)->Close();
    if (!closed.ok()) return RunResult{.error = std::string(closed.message())};
    SetDisk((*engine)->DiskUsage(), &result);
    result.disk_events = stored;
  }
  // Reopened, so nothing the writes left in the engine's memory helps.
  MemorySampler sampler;
  auto engine = OpenEngine(engine_name, dir, spec, overrides);
  if (!engine.ok()) return RunResult{.error = std::string(engine.status().message())};
  size_t streams = std::max<size_t>(1, spec.preload_events / spec.stream_length);
  uint64_t tags = std::max<size_t>(spec.tag_count, 1);
  std::mt19937_64 random(42);
  LatencyHistogram latencies;
  Clock::time_point start = Clock::now();
  Clock::time_point deadline =
      start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(spec.seconds));
  while (Clock::now() < deadline && result.ok()) {
    uint64_t count = 0, expected = 0, previous = 0;
    bool ordered = true;
    Clock::time_point op = Clock::now();
    absl::Status s;
    if (spec.kind == WorkloadKind::kReadStream) {
      std::string stream = StreamName(random() % streams);
      expected = spec.stream_length;
      s = (*engine)->ReadStream(stream, 1, kMaxRevision, [&](const ReadEvent& e) {
        ordered &= e.revision == previous + 1 && e.stream == stream;
        previous = e.revision;
        result.payload_bytes += e.data.size();
        ++count;
        return true;
      });
    } else if (spec.kind == WorkloadKind::kReadTag) {
      uint64_t tag = random() % tags;
      uint64_t after = random() % stored;
      expected = std::min<uint64_t>(spec.read_chunk, TaggedUpTo(stored, tag, tags) -
                                                         TaggedUpTo(after, tag, tags));
      previous = after;
      s = (*engine)->ReadTag(TagName(tag), after, spec.read_chunk,
                             [&](const ReadEvent& e) {
                               // Positions increase; control records of the
                               // ordered log (e.g. a sealed store's key
                               // registry snapshot) may sit between events, so
                               // the tag of an event is no longer its position
                               // modulo `tags`.
                               ordered &= e.position > previous;
                               previous = e.position;
                               result.payload_bytes += e.data.size();
                               ++count;
                               return true;
                             });
    } else {
      uint64_t after = random() % stored;
      expected = std::min<uint64_t>(spec.read_chunk, stored - after);
      previous = after;
      s = (*engine)->ReadAll(after, spec.read_chunk, [&](const ReadEvent& e) {
        ordered &= e.position > previous;  // control records may sit between
        previous = e.position;
        result.payload_bytes += e.data.size();
        ++count;
        return true;
      });
    }
    latencies.Record(MicrosSince(op));
    if (!s.ok()) Fail(&result, std::string(s.message()));
    // Reads from a position: control records before it make more events
    // available than counted from `stored`, never more than the chunk.
    const bool count_ok = spec.kind == WorkloadKind::kReadStream
                              ? count == expected
                              : count >= expected && count <= spec.read_chunk;
    if (!count_ok || !ordered) {
      Fail(&result, absl::StrCat(engine_name, " returned ", count, " events (expected ",
                                 expected, ")", ordered ? "" : " out of order",
                                 " in ", KindName(spec.kind)));
    }
    result.events += count;
  }
  result.seconds = MicrosSince(start) / 1e6;
  SetLatencies(&result, latencies);
  result.peak_anon_bytes = sampler.Stop();
  absl::Status closed = (*engine)->Close();
  if (!closed.ok()) Fail(&result, std::string(closed.message()));
  return result;
}

// Opens the store in `dir`, timing Open, then reads everything back and
// checks each stream is contiguous from revision 1 and made of whole
// batches of `batch` events.
void TimedReopen(const WorkloadSpec& spec, const std::string& engine_name,
                 const std::string& dir, const std::vector<std::string>& overrides,
                 size_t batch, RunResult* result) {
  MemorySampler sampler;
  Clock::time_point start = Clock::now();
  auto engine = OpenEngine(engine_name, dir, spec, overrides);
  result->open_ms = MicrosSince(start) / 1000;
  if (!engine.ok()) return Fail(result, std::string(engine.status().message()));
  std::map<std::string, uint64_t, std::less<>> heads;
  uint64_t previous = 0;
  bool ordered = true;
  std::string broken;
  absl::Status s = (*engine)->ReadAll(0, kMaxPosition, [&](const ReadEvent& e) {
    ordered &= e.position > previous;
    previous = e.position;
    auto it = heads.find(e.stream);
    if (it == heads.end()) it = heads.emplace(std::string(e.stream), 0).first;
    if (e.revision != it->second + 1 && broken.empty()) {
      broken = absl::StrCat("stream ", it->first, " jumps from revision ", it->second,
                            " to ", e.revision);
    }
    it->second = e.revision;
    ++result->recovered;
    return true;
  });
  if (!s.ok()) return Fail(result, std::string(s.message()));
  if (!ordered) Fail(result, engine_name + ": positions out of order after reopening");
  if (!broken.empty()) Fail(result, engine_name + ": " + broken);
  for (const auto& [stream, head] : heads) {
    if (head % batch != 0) {
      Fail(result, absl::StrCat(engine_name, ": stream ", stream, " holds ", head,
                                " events, not whole batches of ", batch,
                                ": a batch was torn"));
    }
  }
  result->peak_anon_bytes = sampler.Stop();
  result->events = result->recovered;
  result->seconds = result->open_ms / 1000;
  result->p50_us = result->p99_us = result->p999_us = result->open_ms * 1000;
  absl::Status closed = (*engine)->Close();
  if (!closed.ok()) Fail(result, std::string(closed.message()));
}

RunResult RunRecoveryClean(const WorkloadSpec& spec, const std::string& engine_name,
                           const std::string& dir,
                           const std::vector<std::string>& overrides) {
  RunResult result;
  {
    auto engine = OpenEngine(engine_name, dir, spec, overrides);
    if (!engine.ok()) return RunResult{.error = std::string(engine.status().message())};
    absl::Status loaded = Preload(**engine, spec);
    if (!loaded.ok()) return RunResult{.error = std::string(loaded.message())};
    absl::Status closed = (*engine)->Close();
    if (!closed.ok()) return RunResult{.error = std::string(closed.message())};
    SetDisk((*engine)->DiskUsage(), &result);
    result.disk_events = PreloadedEvents(spec);
  }
  result.acknowledged = PreloadedEvents(spec);
  TimedReopen(spec, engine_name, dir, overrides, std::min<size_t>(10, spec.stream_length),
              &result);
  if (result.ok() && result.recovered != result.acknowledged) {
    Fail(&result, absl::StrCat(engine_name, ": ", result.recovered,
                               " events after a clean close, ", result.acknowledged,
                               " written"));
  }
  return result;
}

// Shared between the killed writer and this process.
struct KillShared {
  std::atomic<uint64_t> acknowledged;
  std::atomic<int> state;  // 0 starting, 1 writing, 2 failed
  char error[512];
};

RunResult RunRecoveryKill(const WorkloadSpec& spec, const std::string& engine_name,
                          const std::string& dir,
                          const std::vector<std::string>& overrides) {
  RunResult result;
  void* memory = mmap(nullptr, sizeof(KillShared), PROT_READ | PROT_WRITE,
                      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (memory == MAP_FAILED) return RunResult{.error = "mmap of the shared counter failed"};
  auto* shared = new (memory) KillShared{};
  pid_t pid = fork();
  if (pid < 0) return RunResult{.error = std::string("fork failed: ") + std::strerror(errno)};
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    auto engine = OpenEngine(engine_name, dir, spec, overrides);
    if (!engine.ok()) {
      std::string message(engine.status().message());
      std::strncpy(shared->error, message.c_str(), sizeof(shared->error) - 1);
      shared->state.store(2);
      _exit(1);
    }
    shared->state.store(1);
    std::atomic<bool> never{false};
    std::vector<WriterOutcome> outcomes(spec.writers);
    std::vector<std::thread> threads;
    for (size_t w = 0; w < spec.writers; ++w) {
      threads.emplace_back(WriterLoop, std::ref(**engine), std::cref(spec), w,
                           std::cref(never), &shared->acknowledged, &outcomes[w]);
    }
    for (std::thread& t : threads) t.join();  // only on an append error
    for (WriterOutcome& o : outcomes) {
      if (!o.error.empty()) std::strncpy(shared->error, o.error.c_str(), sizeof(shared->error) - 1);
    }
    shared->state.store(2);
    _exit(1);
  }
  // Kill once the writer has written preload_events, or has been writing
  // for `seconds` (and had at least one batch acknowledged).
  Clock::time_point start = Clock::now();
  Clock::time_point writing_since = Clock::time_point::max();
  auto limit = std::chrono::duration<double>(spec.seconds) + std::chrono::seconds(60);
  int status = 0;
  bool exited = false;
  while (true) {
    if (waitpid(pid, &status, WNOHANG) == pid) {
      exited = true;
      break;
    }
    if (shared->state.load() == 1 && writing_since == Clock::time_point::max()) {
      writing_since = Clock::now();
    }
    uint64_t acknowledged = shared->acknowledged.load();
    if (acknowledged >= spec.preload_events ||
        (acknowledged > 0 &&
         Clock::now() - writing_since > std::chrono::duration<double>(spec.seconds))) {
      break;
    }
    if (Clock::now() - start > limit) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  if (!exited) {
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
  }
  result.acknowledged = shared->acknowledged.load();
  std::string child_error = shared->state.load() == 2 ? shared->error : "";
  bool started = shared->state.load() != 0;
  munmap(memory, sizeof(KillShared));
  if (!child_error.empty()) return RunResult{.error = "writer: " + child_error};
  if (!started) return RunResult{.error = "the writer did not open the store in time"};
  SetDisk(MeasureDisk(dir), &result);
  result.disk_events = result.acknowledged;
  TimedReopen(spec, engine_name, dir, overrides, spec.batch, &result);
  if (result.ok() && result.recovered < result.acknowledged) {
    Fail(&result, absl::StrCat(engine_name, " lost acknowledged events: ", result.recovered,
                               " found after kill -9, ", result.acknowledged,
                               " acknowledged"));
  }
  return result;
}

RunResult RunMixed(const WorkloadSpec& spec, const std::string& engine_name,
                   const std::string& dir, const std::vector<std::string>& overrides) {
  RunResult result;
  MemorySampler sampler;
  auto engine = OpenEngine(engine_name, dir, spec, overrides);
  if (!engine.ok()) return RunResult{.error = std::string(engine.status().message())};
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> final_position{0};  // set once the writers stopped
  std::atomic<bool> writers_done{false};
  std::vector<WriterOutcome> outcomes(spec.writers);
  struct SubscriberOutcome {
    LatencyHistogram latencies_us;
    uint64_t delivered = 0;
    std::string error;
  };
  std::vector<SubscriberOutcome> subscribers(spec.subscribers);
  std::vector<std::thread> threads;
  for (size_t r = 0; r < spec.subscribers; ++r) {
    threads.emplace_back([&, r] {
      SubscriberOutcome& out = subscribers[r];
      uint64_t cursor = 0;
      Clock::time_point give_up = Clock::time_point::max();
      while (true) {
        if (writers_done.load() && cursor >= final_position.load()) break;
        if (writers_done.load() && give_up == Clock::time_point::max()) {
          give_up = Clock::now() + std::chrono::seconds(10);
        }
        if (Clock::now() > give_up) {
          out.error = absl::StrCat("subscriber stalled at position ", cursor, " of ",
                                   final_position.load());
          return;
        }
        uint64_t read = 0;
        absl::Status s = (*engine)->ReadAll(cursor, 1000, [&](const ReadEvent& e) {
          int64_t now = WallMicros();
          // Increasing, not contiguous: control records of the ordered log
          // take positions too (cairn/plugin.h, "The ordered log").
          if (e.position <= cursor) {
            out.error = absl::StrCat("subscriber saw position ", e.position, " after ", cursor);
            return false;
          }
          cursor = e.position;
          out.latencies_us.Record(static_cast<double>(now - e.timestamp_us));
          ++read;
          return true;
        });
        if (!s.ok()) out.error = std::string(s.message());
        if (!out.error.empty()) return;
        out.delivered += read;
        if (read == 0) {
          auto waited = (*engine)->WaitCommit(cursor, std::chrono::milliseconds(50));
          if (!waited.ok()) {
            out.error = std::string(waited.status().message());
            return;
          }
        }
      }
    });
  }
  Clock::time_point start = Clock::now();
  std::vector<std::thread> writers;
  for (size_t w = 0; w < spec.writers; ++w) {
    writers.emplace_back(WriterLoop, std::ref(**engine), std::cref(spec), w, std::cref(stop),
                         nullptr, &outcomes[w]);
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(spec.seconds));
  stop.store(true);
  for (std::thread& t : writers) t.join();
  result.seconds = MicrosSince(start) / 1e6;
  uint64_t last = 0;
  for (WriterOutcome& o : outcomes) {
    if (!o.error.empty()) Fail(&result, o.error);
    result.events += o.events;
    result.payload_bytes += o.payload_bytes;
    last = std::max(last, o.last_position);
  }
  final_position.store(last);
  writers_done.store(true);
  for (std::thread& t : threads) t.join();
  LatencyHistogram latencies;
  for (SubscriberOutcome& o : subscribers) {
    if (!o.error.empty()) Fail(&result, engine_name + ": " + o.error);
    if (o.error.empty() && o.delivered != result.events) {
      Fail(&result, absl::StrCat(engine_name, ": a subscriber got ", o.delivered, " of ",
                                 result.events, " events"));
    }
    latencies.Merge(o.latencies_us);
  }
  SetLatencies(&result, latencies);
  CloseAndMeasure(**engine, sampler, &result);
  return result;
}

}  // namespace

const char* KindName(WorkloadKind kind) {
  switch (kind) {
    case WorkloadKind::kAppend: return "append";
    case WorkloadKind::kReadStream: return "read-stream";
    case WorkloadKind::kReadTag: return "read-tag";
    case WorkloadKind::kReadAll: return "read-all";
    case WorkloadKind::kRecoveryClean: return "recovery-clean";
    case WorkloadKind::kRecoveryKill: return "recovery-kill";
    case WorkloadKind::kMixed: return "mixed";
  }
  return "?";
}

absl::StatusOr<WorkloadKind> ParseWorkloadKind(const std::string& name) {
  for (WorkloadKind kind :
       {WorkloadKind::kAppend, WorkloadKind::kReadStream, WorkloadKind::kReadTag,
        WorkloadKind::kReadAll, WorkloadKind::kRecoveryClean, WorkloadKind::kRecoveryKill,
        WorkloadKind::kMixed}) {
    if (name == KindName(kind)) return kind;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown workload kind '", name,
      "'; kinds: append, read-stream, read-tag, read-all, recovery-clean, "
      "recovery-kill, mixed"));
}

absl::Status SetParameter(WorkloadSpec* spec, const std::string& key,
                          const std::string& value) {
  if (key == "durability") {
    if (value == "synced") {
      spec->durability = Durability::kSynced;
    } else if (value == "os-cache") {
      spec->durability = Durability::kOsCache;
    } else {
      return absl::InvalidArgumentError(absl::StrCat(
          "durability '", value, "' is neither 'synced' nor 'os-cache'"));
    }
    return absl::OkStatus();
  }
  if (key == "seconds") {
    double seconds = 0;
    if (!absl::SimpleAtod(value, &seconds) || seconds <= 0 || seconds > 3600) {
      return absl::InvalidArgumentError(
          absl::StrCat("seconds '", value, "' is not a number in (0, 3600]"));
    }
    spec->seconds = seconds;
    return absl::OkStatus();
  }
  struct Field {
    const char* name;
    size_t* field;
    uint64_t min, max;
  };
  const Field fields[] = {
      {"event-bytes", &spec->event_bytes, 1, 16 << 20},
      {"streams", &spec->streams, 1, 1 << 20},
      {"batch", &spec->batch, 1, 100000},
      {"writers", &spec->writers, 1, 256},
      {"subscribers", &spec->subscribers, 0, 256},
      {"tags", &spec->tag_count, 1, 100000},
      {"preload", &spec->preload_events, 1, 100000000},
      {"stream-length", &spec->stream_length, 1, 10000000},
      {"read-chunk", &spec->read_chunk, 1, 10000000},
      {"rate", &spec->rate, 0, 100000000},
  };
  for (const Field& f : fields) {
    if (key != f.name) continue;
    uint64_t number = 0;
    if (!absl::SimpleAtoi(value, &number) || number < f.min || number > f.max) {
      return absl::InvalidArgumentError(absl::StrCat(key, " '", value,
                                                     "' is not a whole number in [", f.min,
                                                     ", ", f.max, "]"));
    }
    *f.field = number;
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown workload parameter '", key,
      "'; parameters: durability, event-bytes, streams, batch, writers, subscribers, "
      "tags, seconds, preload, stream-length, read-chunk, rate"));
}

std::string DescribeParameters(const WorkloadSpec& spec) {
  std::string text = absl::StrCat("kind=", KindName(spec.kind),
                                  ",durability=", DurabilityName(spec.durability),
                                  ",event-bytes=", spec.event_bytes);
  switch (spec.kind) {
    case WorkloadKind::kAppend:
    case WorkloadKind::kMixed:
      absl::StrAppend(&text, ",streams=", spec.streams, ",batch=", spec.batch,
                      ",writers=", spec.writers);
      if (spec.kind == WorkloadKind::kMixed) {
        absl::StrAppend(&text, ",subscribers=", spec.subscribers);
      }
      if (spec.rate > 0) absl::StrAppend(&text, ",rate=", spec.rate);
      absl::StrAppend(&text, ",seconds=", spec.seconds);
      break;
    case WorkloadKind::kReadStream:
    case WorkloadKind::kReadTag:
    case WorkloadKind::kReadAll:
      absl::StrAppend(&text, ",preload=", spec.preload_events,
                      ",stream-length=", spec.stream_length, ",tags=", spec.tag_count,
                      ",read-chunk=", spec.read_chunk, ",seconds=", spec.seconds);
      break;
    case WorkloadKind::kRecoveryClean:
      absl::StrAppend(&text, ",preload=", spec.preload_events,
                      ",stream-length=", spec.stream_length);
      break;
    case WorkloadKind::kRecoveryKill:
      absl::StrAppend(&text, ",streams=", spec.streams, ",batch=", spec.batch,
                      ",writers=", spec.writers, ",preload=", spec.preload_events,
                      ",seconds=", spec.seconds);
      break;
  }
  if (!spec.only_engines.empty()) {
    absl::StrAppend(&text, ",engines=", absl::StrJoin(spec.only_engines, "+"));
  }
  return text;
}

uint64_t AnonResidentBytes() {
  // statm: size resident shared text lib data dt (pages); shared counts
  // file-backed and shmem pages, so resident - shared is anonymous memory.
  int fd = ::open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  char text[128];
  ssize_t n = ::read(fd, text, sizeof(text) - 1);
  ::close(fd);
  if (n <= 0) return 0;
  text[n] = '\0';
  unsigned long long size = 0, resident = 0, shared = 0;
  if (std::sscanf(text, "%llu %llu %llu", &size, &resident, &shared) != 3) return 0;
  return (resident - std::min(resident, shared)) * static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
}

RunResult RunWorkload(const WorkloadSpec& spec, const std::string& engine_name,
                      const std::string& dir,
                      const std::vector<std::string>& cairn_overrides) {
  switch (spec.kind) {
    case WorkloadKind::kAppend:
      return RunAppend(spec, engine_name, dir, cairn_overrides);
    case WorkloadKind::kReadStream:
    case WorkloadKind::kReadTag:
    case WorkloadKind::kReadAll:
      return RunRead(spec, engine_name, dir, cairn_overrides);
    case WorkloadKind::kRecoveryClean:
      return RunRecoveryClean(spec, engine_name, dir, cairn_overrides);
    case WorkloadKind::kRecoveryKill:
      return RunRecoveryKill(spec, engine_name, dir, cairn_overrides);
    case WorkloadKind::kMixed:
      return RunMixed(spec, engine_name, dir, cairn_overrides);
  }
  return RunResult{.error = "unknown workload kind"};
}

}  // namespace cairn::bench
