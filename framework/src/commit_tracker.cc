#include "commit_tracker.h"

#include <algorithm>
#include <iterator>
#include <string>

#include "absl/strings/cord.h"

namespace cairn {
namespace {

// A copy of `status` that shares no storage with it (absl::Status and Cord
// copies share a reference-counted rep; Reset drops failure_ on another
// thread while callers hold what Wait and failure returned).
absl::Status Unshared(const absl::Status& status) {
  if (status.ok()) return status;
  absl::Status out(status.code(), std::string(status.message()));
  status.ForEachPayload([&](absl::string_view url, const absl::Cord& payload) {
    out.SetPayload(url, absl::Cord(std::string(payload)));
  });
  return out;
}

}  // namespace

uint64_t CommitTracker::Acknowledge(uint64_t first, uint64_t last) {
  std::lock_guard<std::mutex> lock(mutex_);
  return AcknowledgeLocked(first, last);
}

uint64_t CommitTracker::AcknowledgeLocked(uint64_t first, uint64_t last) {
  uint64_t prefix = acknowledged_.load(std::memory_order_relaxed);
  if (first > last || last <= prefix) return prefix;
  first = std::max(first, prefix + 1);
  // Merge [first, last] with every range it overlaps or touches.
  auto it = ahead_.upper_bound(first);
  if (it != ahead_.begin() && std::prev(it)->second + 1 >= first) --it;
  while (it != ahead_.end() && it->first <= last + 1) {
    first = std::min(first, it->first);
    last = std::max(last, it->second);
    it = ahead_.erase(it);
  }
  ahead_.emplace(first, last);
  // Advance over ranges that now continue the prefix, stopping before a
  // failed range (acknowledged or not, it stays out of the prefix).
  const uint64_t limit = failed_first_ == 0 ? UINT64_MAX : failed_first_ - 1;
  while (!ahead_.empty() && ahead_.begin()->first <= prefix + 1 &&
         prefix < limit) {
    prefix = std::min(std::max(prefix, ahead_.begin()->second), limit);
    if (ahead_.begin()->second <= prefix) {
      ahead_.erase(ahead_.begin());
    } else {
      break;
    }
  }
  acknowledged_.store(prefix, std::memory_order_release);
  return prefix;
}

void CommitTracker::Fail(uint64_t first, uint64_t last, absl::Status error) {
  Fail(first, last, std::move(error), generation());
}

void CommitTracker::Fail(uint64_t first, uint64_t last, absl::Status error,
                         uint64_t generation) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (generation != generation_.load(std::memory_order_relaxed)) return;
    // Positions another (overlapping) call acknowledged are not failed.
    const uint64_t prefix = acknowledged_.load(std::memory_order_relaxed);
    if (last <= prefix) return;
    first = std::max<uint64_t>({first, prefix + 1, 1});
    // The lowest failure wins: a waiter between a lower failed range and a
    // higher one must learn of the lower (nothing will acknowledge it).
    if (failed_first_ != 0 && failed_first_ <= first) return;
    failed_first_ = first;
    failed_last_ = std::max(last, failed_first_);
    failure_ = Unshared(error);
  }
  published_changed_.notify_all();
}

void CommitTracker::Publish(uint64_t position) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (position <= published_.load(std::memory_order_relaxed)) return;
    published_.store(position, std::memory_order_release);
  }
  published_changed_.notify_all();
}

uint64_t CommitTracker::Acknowledge(uint64_t first, uint64_t last,
                                    uint64_t generation) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (generation != generation_.load(std::memory_order_relaxed)) {
    return acknowledged_.load(std::memory_order_relaxed);
  }
  return AcknowledgeLocked(first, last);
}

void CommitTracker::Reset(uint64_t committed) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    ahead_.clear();
    failed_first_ = 0;
    failed_last_ = 0;
    failure_ = absl::OkStatus();
    acknowledged_.store(committed, std::memory_order_release);
    published_.store(committed, std::memory_order_release);
    const uint64_t next = generation_.load(std::memory_order_relaxed) + 1;
    generation_.store(next, std::memory_order_release);
    resets_.emplace_back(next, committed);
    if (resets_.size() > kResetsKept) resets_.pop_front();
  }
  published_changed_.notify_all();
}

absl::Status CommitTracker::Wait(uint64_t position) {
  return Wait(position, generation());
}

absl::Status CommitTracker::Wait(uint64_t position, uint64_t started) {
  std::unique_lock<std::mutex> lock(mutex_);
  // The lowest cut of a Reset since the wait began (UINT64_MAX: none).
  auto cut_since = [&] {
    uint64_t cut = UINT64_MAX;
    for (const auto& [generation, committed] : resets_) {
      if (generation > started) cut = std::min(cut, committed);
    }
    return cut;
  };
  published_changed_.wait(lock, [&] {
    return published_.load(std::memory_order_relaxed) >= position ||
           (failed_first_ != 0 && failed_first_ <= position) ||
           (generation_.load(std::memory_order_relaxed) != started &&
            position > cut_since());
  });
  if (generation_.load(std::memory_order_relaxed) != started &&
      position > cut_since()) {
    return absl::AbortedError("position " + std::to_string(position) +
                              " was cut by a truncation (truncate_after " +
                              std::to_string(cut_since()) +
                              ") before it was committed");
  }
  if (published_.load(std::memory_order_relaxed) >= position)
    return absl::OkStatus();
  return Unshared(failure_);
}

absl::Status CommitTracker::failure() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return Unshared(failure_);
}

uint64_t CommitTracker::failed_first() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return failed_first_;
}

uint64_t CommitTracker::failed_last() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return failed_last_;
}

size_t CommitTracker::out_of_order() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return ahead_.size();
}

}  // namespace cairn
