// The readable-position mark of a peer engine, and the wake-up of its live
// readers. Peers have no commit notification of their own, so the harness
// gives each one this in-process signal, as an application embedding them
// would write it.
#ifndef CAIRN_BENCH_COMMIT_SIGNAL_H_
#define CAIRN_BENCH_COMMIT_SIGNAL_H_

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>

namespace cairn::bench {

// Tracks which positions are committed and advances the visible mark only
// over a contiguous prefix, so a reader bounded by visible() never sees a
// position whose lower neighbours are still in flight (an engine whose
// writers commit concurrently can finish position 7 before position 5).
// Thread-safe.
class CommitSignal {
 public:
  // Everything up to `visible` is committed (at open).
  void Reset(uint64_t visible);

  // Positions [first, first + count) are committed. Wakes waiters when the
  // visible mark moves.
  void Complete(uint64_t first, uint64_t count);

  uint64_t visible() const;

  // Waits until visible() > after or `timeout`; returns visible().
  uint64_t Wait(uint64_t after, std::chrono::milliseconds timeout);

 private:
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  uint64_t visible_ = 0;
  std::map<uint64_t, uint64_t> pending_;  // first -> end (exclusive)
};

}  // namespace cairn::bench

#endif  // CAIRN_BENCH_COMMIT_SIGNAL_H_
