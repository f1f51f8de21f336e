#include "commit_tracker.h"

#include <algorithm>
#include <iterator>

namespace cairn {

uint64_t CommitTracker::Acknowledge(uint64_t first, uint64_t last) {
  std::lock_guard<std::mutex> lock(mutex_);
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
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (failed_first_ != 0) return;
    failed_first_ = std::max<uint64_t>(first, 1);
    failed_last_ = std::max(last, failed_first_);
    failure_ = std::move(error);
  }
  published_changed_.notify_all();
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

absl::Status CommitTracker::Wait(uint64_t position) {
  std::unique_lock<std::mutex> lock(mutex_);
  published_changed_.wait(lock, [&] {
    return published_.load(std::memory_order_relaxed) >= position ||
           (failed_first_ != 0 && failed_first_ <= position);
  });
  if (published_.load(std::memory_order_relaxed) >= position)
    return absl::OkStatus();
  return failure_;
}

absl::Status CommitTracker::failure() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return failure_;
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
