// The workloads, named and parameterized, and how one run of one workload
// on one engine is measured. Every engine runs exactly this code.
#ifndef CAIRN_BENCH_WORKLOAD_H_
#define CAIRN_BENCH_WORKLOAD_H_

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "bench/engine.h"

namespace cairn::bench {

enum class WorkloadKind {
  kAppend,         // writers append batches to their own streams
  kReadStream,     // read one whole stream of stream_length events
  kReadTag,        // read read_chunk events of one tag after a position
  kReadAll,        // read read_chunk events of the global log after a position
  kRecoveryClean,  // open a store that was closed cleanly
  kRecoveryKill,   // open a store whose writer was killed with SIGKILL
  kMixed,          // writers + live subscribers following the global log
};
const char* KindName(WorkloadKind kind);
absl::StatusOr<WorkloadKind> ParseWorkloadKind(const std::string& name);

struct WorkloadSpec {
  std::string name;  // e.g. "append-synced-b100-w8"
  WorkloadKind kind = WorkloadKind::kAppend;
  Durability durability = Durability::kSynced;
  size_t event_bytes = 256;     // payload bytes per event
  size_t streams = 64;          // streams the writers share out (append, mixed)
  size_t batch = 100;           // events per append
  size_t writers = 8;           // appending threads
  size_t subscribers = 0;       // live readers (mixed)
  size_t tag_count = 10;        // each event carries one of this many tags
  double seconds = 2.0;         // how long the measured phase runs
  size_t preload_events = 100000;  // stored before read / recovery phases
  size_t stream_length = 1000;  // events per stream in the preloaded data
  size_t read_chunk = 1000;     // events per read operation (tag, all)
  // Total events/s the writers offer, paced on a fixed schedule (0: as fast
  // as they can). Mixed uses it so every engine's subscribers see the same
  // load and delivery latencies compare like with like.
  size_t rate = 0;
  // Only these engines run the workload (empty: every engine); for a
  // workload that holds only Cairn's own goal and would take minutes on
  // every engine.
  std::vector<std::string> only_engines;
};

// Sets one parameter by its command-line name ("event-bytes", "streams",
// "batch", "writers", "subscribers", "tags", "seconds", "preload",
// "stream-length", "read-chunk", "rate", "durability"). Fails naming the key or
// value that is wrong.
absl::Status SetParameter(WorkloadSpec* spec, const std::string& key,
                          const std::string& value);
// "key=value,key=value" of every parameter, for reports.
std::string DescribeParameters(const WorkloadSpec& spec);

// What one run measured. Rates are per second of the measured phase.
struct RunResult {
  std::string error;            // empty when the run succeeded
  uint64_t events = 0;          // events appended / read / delivered
  uint64_t payload_bytes = 0;   // payload bytes of those events
  double seconds = 0;           // measured phase
  double p50_us = 0, p99_us = 0, p999_us = 0;  // per operation, see below
  uint64_t peak_rss_bytes = 0;  // of the process that ran the engine
  uint64_t peak_anon_bytes = 0; // anonymous resident memory, sampled
  uint64_t disk_bytes = 0;      // engine folder after close: allocated blocks
  uint64_t disk_written_bytes = 0;  // of those, blocks holding written data
                                    // (not preallocated-but-unwritten)
  uint64_t disk_events = 0;     // events stored when disk_bytes was taken
  double open_ms = 0;           // recovery: time to open (and find the head)
  uint64_t acknowledged = 0;    // recovery-kill: appends acknowledged before kill
  uint64_t recovered = 0;       // recovery: events found after reopening

  bool ok() const { return error.empty(); }
  double events_per_second() const { return seconds > 0 ? events / seconds : 0; }
  double megabytes_per_second() const {
    return seconds > 0 ? payload_bytes / seconds / 1e6 : 0;
  }
  double disk_bytes_per_event() const {
    return disk_events > 0 ? static_cast<double>(disk_bytes) / disk_events : 0;
  }
  double disk_written_bytes_per_event() const {
    return disk_events > 0
               ? static_cast<double>(disk_written_bytes) / disk_events
               : 0;
  }
};

// Runs `spec` once on a fresh store of `engine_name` in `dir` (created,
// left behind for the caller to remove) and checks what the engine returned
// (counts, order, contiguity); a wrong answer is an error, not a figure.
// Latencies: per append (append), per read operation (reads), time to
// open (recovery), commit-to-subscriber delivery (mixed).
// peak_rss_bytes is left 0: the caller measures the process.
// Recovery-kill forks a writer child, so call it from a process with no
// other threads.
RunResult RunWorkload(const WorkloadSpec& spec, const std::string& engine_name,
                      const std::string& dir,
                      const std::vector<std::string>& cairn_overrides);

// A JSON-ish event payload of `bytes` bytes, as the workloads append: field
// names repeat, values are random digits drawn from `random`.
std::string MakePayload(std::mt19937_64& random, size_t bytes);

// Anonymous resident bytes of this process now (/proc/self/statm).
uint64_t AnonResidentBytes();

}  // namespace cairn::bench

#endif  // CAIRN_BENCH_WORKLOAD_H_
