// Replication acknowledgements -> the committed watermark (host commit).
//
// With a CAIRN_CAP_MULTI_NODE replication plugin the Store opens storage
// with "commit" = "host" and advances storage's committed watermark itself
// (set_committed). Appenders call replicate() concurrently and its answers
// come back in any order, so committed may only move to the end of the
// contiguous prefix of acknowledged positions: an acknowledgement of
// 11..12 before 1..10 waits for 1..10. CommitTracker keeps that prefix and
// lets each appender wait until the watermark covers its own positions.
#ifndef CAIRN_COMMIT_TRACKER_H_
#define CAIRN_COMMIT_TRACKER_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <utility>

#include "absl/status/status.h"

namespace cairn {

// Thread-safe: every function may be called from any thread, concurrently.
// Critical sections are short (a few map operations); the watermarks are
// also readable without the lock.
class CommitTracker {
 public:
  // Positions <= `committed` are acknowledged and published already.
  explicit CommitTracker(uint64_t committed = 0)
      : acknowledged_(committed), published_(committed) {}
  CommitTracker(const CommitTracker&) = delete;
  CommitTracker& operator=(const CommitTracker&) = delete;

  // Records that replication acknowledged positions first..last (1 <=
  // first <= last). Ranges may arrive in any order and may overlap or
  // repeat. Returns the end of the contiguous acknowledged prefix after the
  // call; it never passes a failed range (Fail).
  uint64_t Acknowledge(uint64_t first, uint64_t last);
  // The same for a range replicate() was asked for when generation() was
  // `generation`: ignored (returning the prefix) if a Reset came since,
  // since the positions it names may hold other records now.
  uint64_t Acknowledge(uint64_t first, uint64_t last, uint64_t generation);

  // Records that first..last will never be acknowledged: the prefix stays
  // below `first` for good, and Wait for any position >= first returns
  // `error`. Only the lowest failure is kept (its range and status): a
  // later one below it replaces it, so that a Wait between the two
  // returns. Positions already in the acknowledged prefix are not failed.
  void Fail(uint64_t first, uint64_t last, absl::Status error);
  // The same for a range asked for in `generation` (see Acknowledge).
  void Fail(uint64_t first, uint64_t last, absl::Status error,
            uint64_t generation);

  // Storage cut every record after `committed`, its committed watermark
  // (truncate_after): forgets every acknowledgement beyond it and the
  // failure, and sets the prefix and the published watermark to
  // `committed` (lower ones too). Also a role change (the replication plugin
  // paused writes) starts over this way. A Wait that began before the reset for
  // a position after `committed` (or one given an older generation) returns
  // Aborted: that position was cut, and may be reused by another record.
  // Starts a new generation().
  void Reset(uint64_t committed);
  // Changes with each Reset; read it before calling replicate().
  uint64_t generation() const {
    return generation_.load(std::memory_order_acquire);
  }

  // Storage's committed watermark has reached `position` (the caller's
  // set_committed returned): wakes the waiters it covers. Keeps the
  // highest value published, so concurrent callers may publish out of
  // order.
  void Publish(uint64_t position);

  // Blocks until Publish has reached `position` (OK), or a failed range at
  // or below `position` means it never will (that failure's status).
  // Returns at once in either case. Bounded only by the replicate() calls
  // in flight: every position below is either acknowledged, failed or
  // still in someone's replicate().
  absl::Status Wait(uint64_t position);
  // The same for a position written when generation() was `generation`:
  // Aborted at once if a Reset since then cut it.
  absl::Status Wait(uint64_t position, uint64_t generation);

  // The first failure (OK if none) and its range.
  absl::Status failure() const;
  uint64_t failed_first() const;  // 0: none
  uint64_t failed_last() const;   // 0: none

  // End of the contiguous acknowledged prefix; lock-free.
  uint64_t acknowledged() const {
    return acknowledged_.load(std::memory_order_acquire);
  }
  // The highest position published; lock-free.
  uint64_t published() const {
    return published_.load(std::memory_order_acquire);
  }
  // Acknowledged ranges waiting beyond the prefix for an earlier one.
  size_t out_of_order() const;

 private:
  uint64_t AcknowledgeLocked(uint64_t first, uint64_t last);  // mutex_ held

  mutable std::mutex mutex_;
  std::condition_variable published_changed_;
  // first -> last of acknowledged ranges beyond the prefix, disjoint and
  // not adjacent to it. Under mutex_.
  std::map<uint64_t, uint64_t> ahead_;
  uint64_t failed_first_ = 0;  // under mutex_; 0: no failure
  uint64_t failed_last_ = 0;
  absl::Status failure_;
  std::atomic<uint64_t> acknowledged_;  // written under mutex_
  std::atomic<uint64_t> published_;     // written under mutex_
  std::atomic<uint64_t> generation_{0};  // written under mutex_
  // (generation, committed) of recent Resets, oldest first, at most
  // kResetsKept: what a Wait that began earlier checks. Under mutex_.
  static constexpr size_t kResetsKept = 64;
  std::deque<std::pair<uint64_t, uint64_t>> resets_;
};

}  // namespace cairn

#endif  // CAIRN_COMMIT_TRACKER_H_
