#include "bench/commit_signal.h"

namespace cairn::bench {

void CommitSignal::Reset(uint64_t visible) {
  std::lock_guard<std::mutex> lock(mutex_);
  visible_ = visible;
  pending_.clear();
}

void CommitSignal::Complete(uint64_t first, uint64_t count) {
  if (count == 0) return;
  bool moved = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    pending_[first] = first + count;
    for (auto it = pending_.begin();
         it != pending_.end() && it->first == visible_ + 1;
         it = pending_.erase(it)) {
      visible_ = it->second - 1;
      moved = true;
    }
  }
  if (moved) changed_.notify_all();
}

uint64_t CommitSignal::visible() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return visible_;
}

uint64_t CommitSignal::Wait(uint64_t after, std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mutex_);
  changed_.wait_for(lock, timeout, [&] { return visible_ > after; });
  return visible_;
}

}  // namespace cairn::bench
