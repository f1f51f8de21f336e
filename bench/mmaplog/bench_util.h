// Shared by the mmaplog benchmarks: scratch logs and the 256-byte workload.
#ifndef CAIRN_BENCH_MMAPLOG_BENCH_UTIL_H_
#define CAIRN_BENCH_MMAPLOG_BENCH_UTIL_H_

#include <cairn/plugin.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "log.h"

namespace cairn::mmaplog::bench {

// The directory benchmarks write into: $MMAPLOG_BENCH_DIR or /var/tmp
// (a disk, not tmpfs, so fsync figures are real).
inline std::string BenchRoot() {
  const char* d = std::getenv("MMAPLOG_BENCH_DIR");
  return d != nullptr && *d != '\0' ? d : "/var/tmp";
}

// A log in a fresh directory, removed when destroyed.
class ScratchLog {
 public:
  // `whole_first` = false leaves a new store's first segment to grow in
  // steps, as a new store's does by default.
  ScratchLog(FsyncMode mode, uint64_t segment_size = 256ull << 20,
             uint32_t bucket_bits = 12, bool zero_fill = true,
             bool whole_first = true) {
    path_ = BenchRoot() + "/mmaplog-bench-" + std::to_string(getpid()) + "-" +
            std::to_string(counter_++);
    std::filesystem::remove_all(path_);
    LogOptions o;
    o.path = path_;
    o.segment_size = segment_size;
    o.fsync = mode;
    o.stream_bucket_bits = bucket_bits;
    o.zero_fill = zero_fill ? ZeroFill::kAuto : ZeroFill::kNever;
    // zero_fill measures the steady state, where segments after the first
    // ones are zero-filled ahead of need (with fsync=never, given all their
    // blocks): the first one is too, inside Open.
    o.whole_first_segment = zero_fill && whole_first;
    auto log = Log::Open(o);
    if (!log.ok()) {
      std::fprintf(stderr, "open %s: %s\n", path_.c_str(),
                   log.status().ToString().c_str());
      std::abort();
    }
    log_ = std::move(*log);
  }
  ~ScratchLog() {
    log_.reset();
    std::filesystem::remove_all(path_);
  }
  Log& log() { return *log_; }
  const std::string& path() const { return path_; }
  void Reopen() {
    LogOptions o = log_->options();
    log_.reset();
    auto log = Log::Open(o);
    if (!log.ok()) std::abort();
    log_ = std::move(*log);
  }

 private:
  static inline int counter_ = 0;
  std::string path_;
  std::unique_ptr<Log> log_;
};

// `count` events whose records are 256 bytes (64-byte header, 12-byte stream
// name, 4-byte type, 176-byte payload).
class Batch {
 public:
  explicit Batch(size_t count) : data_(176, 'p'), type_("Evt1") {
    events_.resize(count);
    for (auto& e : events_) {
      e = cairn_event{};
      e.size = sizeof e;
      e.type = {reinterpret_cast<const uint8_t*>(type_.data()), type_.size()};
      e.data = {reinterpret_cast<const uint8_t*>(data_.data()), data_.size()};
      e.timestamp_us = 1;
    }
  }
  const cairn_event* data() const { return events_.data(); }
  size_t size() const { return events_.size(); }

 private:
  std::string data_, type_;
  std::vector<cairn_event> events_;
};

inline std::string StreamName(uint64_t i) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "stream-%05llu",
                static_cast<unsigned long long>(i % 100000));
  return buf;
}

// The machine's fsync time: fdatasync after a 4 KiB overwrite of an
// already-written page of a file on the bench disk, in microseconds, one
// sample per round. The file is written and synced once before timing, so
// each round writes back one data page (plus, when the coarse clock has
// ticked, the inode's mtime, as an append's sync does) and never allocates.
inline std::vector<double> FdatasyncSamplesMicros(int rounds) {
  std::string path = BenchRoot() + "/mmaplog-fsync-probe-" +
                     std::to_string(getpid());
  int fd = open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) std::abort();
  std::vector<char> page(4096, 'x');
  if (pwrite(fd, page.data(), page.size(), 0) != 4096 || fsync(fd) != 0) {
    std::abort();
  }
  std::vector<double> times;
  for (int i = 0; i < rounds; ++i) {
    page[0] = static_cast<char>('a' + i % 26);
    if (pwrite(fd, page.data(), page.size(), 0) != 4096) std::abort();
    auto t0 = std::chrono::steady_clock::now();
    if (fdatasync(fd) != 0) std::abort();
    times.push_back(std::chrono::duration<double, std::micro>(
                        std::chrono::steady_clock::now() - t0)
                        .count());
  }
  close(fd);
  unlink(path.c_str());
  return times;
}

inline double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

inline double MeasureFdatasyncMicros(int rounds = 200) {
  return Median(FdatasyncSamplesMicros(rounds));
}

}  // namespace cairn::mmaplog::bench

#endif  // CAIRN_BENCH_MMAPLOG_BENCH_UTIL_H_
