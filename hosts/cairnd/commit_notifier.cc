#include "commit_notifier.h"

#include <chrono>

#include "cairn/status.h"
#include "log.h"

namespace cairn::cairnd {
namespace {

bool IsUnsupported(const absl::Status& status) {
  return CodeOf(status) == CAIRN_E_UNSUPPORTED;
}

}  // namespace

void CommitNotifier::Start() {
  auto head = store_->HeadPosition();
  head_ = head.ok() ? *head : 0;
  thread_ = std::thread([this] { Run(); });
}

void CommitNotifier::Stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
    watchers_.clear();
  }
  watched_.notify_all();
  if (thread_.joinable()) thread_.join();
}

uint64_t CommitNotifier::generation() {
  std::lock_guard<std::mutex> lock(mutex_);
  return generation_;
}

void CommitNotifier::Watch(uint64_t seen, std::function<void()> wake) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stop_) return;
    if (seen == generation_) {
      watchers_.push_back(std::move(wake));
      if (watchers_.size() == 1) watched_.notify_one();
      return;
    }
  }
  wake();
}

void CommitNotifier::Run() {
  uint64_t seen = head_;
  while (true) {
    {
      // Nobody to wake: sleep until someone watches, so commits cost the
      // store no wake-up of this thread. `seen` stays the head last looked
      // at, so a commit that lands meanwhile is still found below (at worst
      // one needless wake).
      std::unique_lock<std::mutex> lock(mutex_);
      watched_.wait(lock, [this] { return stop_ || !watchers_.empty(); });
      if (stop_) return;
    }
    // Bounded wait so Stop is noticed within 100 ms. A storage plugin
    // without live reads cannot wait: poll its head every 10 ms instead.
    absl::StatusOr<uint64_t> head =
        polling_ ? store_->HeadPosition()
                 : store_->WaitCommit(seen, std::chrono::milliseconds(100));
    if (!polling_ && !head.ok() && IsUnsupported(head.status())) {
      Log(spdlog::level::info,
          "storage has no live-read wait; subscriptions poll every 10 ms",
          {{"detail", std::string(head.status().message())}});
      polling_ = true;
      continue;
    }
    if (polling_) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    if (!head.ok()) {
      Log(spdlog::level::warn, "commit wait failed",
          {{"error", std::string(head.status().message())}});
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      continue;
    }
    // A head that moved (or, after a truncating recovery, moved back) wakes
    // everyone; they pull and re-watch.
    if (*head == seen) continue;
    seen = *head;
    std::vector<std::function<void()>> wake;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      head_ = seen;
      ++generation_;
      wake.swap(watchers_);
    }
    for (auto& fn : wake) fn();
  }
}

}  // namespace cairn::cairnd
