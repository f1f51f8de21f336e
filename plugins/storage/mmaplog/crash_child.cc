// The child of the kill -9 crash test (crash_test.cc): opens the log in
// argv[1] with fsync=always (and the retention mode in argv[3], if given) and
// appends batches from several threads until it is killed, writing one line
// per acknowledged batch to stdout (with retention=deleted it also deletes
// each stream up to a few revisions before its head now and then, so whole
// segments become removable):
//
//   <stream> <first revision> <count> <first position>\n
//
// A line is written only after Append returned OK, so every line names
// events that must survive. Event contents are a pure function of (stream,
// revision, batch) so the parent can check them (crash_workload.h).
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "crash_workload.h"
#include "log.h"

int main(int argc, char** argv) {
  using namespace cairn::mmaplog;
  if (argc != 3 && argc != 4) {
    std::fprintf(stderr, "usage: %s <dir> <seed> [retention]\n", argv[0]);
    return 2;
  }
  LogOptions options;
  options.path = argv[1];
  options.segment_size = crash::kSegmentSize;
  options.allocation_step = crash::kAllocationStep;
  options.fsync = FsyncMode::kAlways;
  options.stream_bucket_bits = 6;
  // "control": also delete-to and snapshot writes (control records), each
  // acknowledged by a line "D <stream> <revision>" / "S <stream> <revision>"
  // once it returned.
  const bool control = argc == 4 && std::string(argv[3]) == "control";
  if (argc == 4 && !control) {
    absl::Status s = ParseRetention(argv[3], &options.retention,
                                    &options.retention_bytes);
    if (!s.ok()) {
      std::fprintf(stderr, "%s\n", s.ToString().c_str());
      return 2;
    }
  }
  auto log = Log::Open(options);
  if (!log.ok()) {
    std::fprintf(stderr, "open failed: %s\n", log.status().ToString().c_str());
    return 3;
  }
  std::mutex out_mu;
  std::atomic<bool> failed{false};
  unsigned seed = static_cast<unsigned>(std::strtoul(argv[2], nullptr, 10));
  std::vector<std::thread> threads;
  for (int t = 0; t < crash::kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(seed * 31 + t);
      for (;;) {
        // Each thread owns streams t, t + kThreads, ...
        int stream_index =
            t + crash::kThreads * static_cast<int>(rng() % crash::kStreamsPerThread);
        std::string stream = crash::StreamName(stream_index);
        uint64_t head = (*log)->HeadRevision(stream);
        uint32_t count = 1 + rng() % crash::kMaxBatch;
        std::vector<crash::Payload> payloads;
        for (uint32_t i = 0; i < count; ++i) {
          payloads.push_back(
              crash::MakePayload(stream, head + 1 + i, head + 1, count));
        }
        std::vector<cairn_event> events;
        for (auto& p : payloads) events.push_back(p.View());
        cairn_append_result r;
        absl::Status s =
            (*log)->Append(stream, Expected{CAIRN_EXPECT_EXACT, head},
                           events.data(), events.size(), &r);
        if (!s.ok()) {
          std::fprintf(stderr, "append failed: %s\n", s.ToString().c_str());
          failed = true;
          std::_Exit(4);
        }
        if (options.retention == RetentionMode::kDeleted && rng() % 4 == 0 &&
            r.last_revision > 3) {
          s = (*log)->DeleteTo(stream, r.last_revision - 3);
          if (!s.ok()) {
            std::fprintf(stderr, "delete_to failed: %s\n", s.ToString().c_str());
            std::_Exit(4);
          }
        }
        std::string control_acks;
        if (control && rng() % 3 == 0) {
          const uint64_t deleted =
              r.last_revision > 3 ? r.last_revision - 3 : 1;
          s = (*log)->DeleteTo(stream, deleted);
          const std::string data = "snap-" + std::to_string(r.last_revision);
          cairn_snapshot snap{
              sizeof snap,
              cairn_bytes{reinterpret_cast<const uint8_t*>(stream.data()),
                          stream.size()},
              r.last_revision, 1,
              cairn_bytes{reinterpret_cast<const uint8_t*>(data.data()),
                          data.size()}};
          if (s.ok()) s = (*log)->SnapshotSave(snap);
          if (!s.ok()) {
            std::fprintf(stderr, "control write failed: %s\n",
                         s.ToString().c_str());
            std::_Exit(4);
          }
          control_acks = "D " + std::to_string(stream_index) + " " +
                         std::to_string(deleted) + "\nS " +
                         std::to_string(stream_index) + " " +
                         std::to_string(r.last_revision) + "\n";
        }
        std::lock_guard<std::mutex> lk(out_mu);
        std::printf("%d %llu %u %llu\n%s", stream_index,
                    static_cast<unsigned long long>(r.first_revision), count,
                    static_cast<unsigned long long>(r.first_position),
                    control_acks.c_str());
        std::fflush(stdout);
      }
    });
  }
  for (auto& t : threads) t.join();
  return failed ? 4 : 0;
}
