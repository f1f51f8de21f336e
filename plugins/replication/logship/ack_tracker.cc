#include "ack_tracker.h"

#include <algorithm>
#include <limits>

#include "absl/strings/str_cat.h"

namespace cairn::logship {

AckTracker::AckTracker(AckRule rule, std::vector<std::string> replicas,
                       std::vector<std::string> sync_set)
    : rule_(rule), sync_set_(std::move(sync_set)) {
  const auto now = std::chrono::steady_clock::now();
  for (const std::string& id : replicas) replicas_[id].down_since = now;
  // A majority of the group (replicas + the primary), the primary included.
  needed_ = (replicas_.size() + 1) / 2 + 1 - 1;
}

void AckTracker::Update(const std::string& replica, uint64_t durable,
                        bool counts) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    Replica& r = replicas_[replica];
    r.durable = durable;
    r.counts = counts;
    r.heard = true;
  }
  changed_.notify_all();
}

bool AckTracker::HoldsLocked(uint64_t position) const {
  switch (rule_) {
    case AckRule::kAsync:
      return true;
    case AckRule::kSync:
      for (const std::string& id : sync_set_) {
        auto it = replicas_.find(id);
        if (it == replicas_.end() || !it->second.counts ||
            it->second.durable < position) {
          return false;
        }
      }
      return true;
    case AckRule::kQuorum: {
      size_t holding = 0;
      for (const auto& [id, r] : replicas_) {
        if (r.counts && r.durable >= position) ++holding;
      }
      return holding >= needed_;
    }
  }
  return false;
}

bool AckTracker::Holds(uint64_t position) const {
  std::lock_guard<std::mutex> lock(mutex_);
  return HoldsLocked(position);
}

absl::Status AckTracker::WaitFor(uint64_t position,
                                 std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mutex_);
  auto done = [&] { return closed_ || HoldsLocked(position); };
  const auto waiting =
      waiting_.emplace(position, std::chrono::steady_clock::now());
  bool in_time = true;
  if (timeout.count() == 0) {
    changed_.wait(lock, done);
  } else {
    in_time = changed_.wait_for(lock, timeout, done);
  }
  waiting_.erase(waiting);
  if (!in_time) {
    lock.unlock();
    return absl::DeadlineExceededError(absl::StrCat(
        "position ", position, " not acknowledged within ack-timeout ",
        timeout.count(), "ms; missing: ", Missing(position)));
  }
  if (closed_ && !HoldsLocked(position)) {
    return absl::CancelledError(absl::StrCat(
        "replication closed before position ", position, " was acknowledged"));
  }
  return absl::OkStatus();
}

void AckTracker::Close() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    closed_ = true;
  }
  changed_.notify_all();
}

std::string AckTracker::Missing(uint64_t position) const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::string out;
  auto add = [&](const std::string& id, const Replica* r) {
    if (!out.empty()) out += ", ";
    if (r == nullptr || !r->heard) {
      absl::StrAppend(&out, id, " (never connected)");
    } else if (!r->counts) {
      absl::StrAppend(&out, id, " (its storage never syncs: does not count)");
    } else {
      absl::StrAppend(&out, id, " (durable ", r->durable, ")");
    }
  };
  if (rule_ == AckRule::kSync) {
    for (const std::string& id : sync_set_) {
      auto it = replicas_.find(id);
      const Replica* r = it == replicas_.end() ? nullptr : &it->second;
      if (r == nullptr || !r->counts || r->durable < position) add(id, r);
    }
  } else if (rule_ == AckRule::kQuorum) {
    absl::StrAppend(&out, "quorum needs ", needed_,
                    " replica(s) besides the primary; lacking: ");
    const size_t prefix = out.size();
    for (const auto& [id, r] : replicas_) {
      if (!r.counts || r.durable < position) {
        if (out.size() > prefix) out += ", ";
        if (!r.heard) {
          absl::StrAppend(&out, id, " (never connected)");
        } else if (!r.counts) {
          absl::StrAppend(&out, id,
                          " (its storage never syncs: does not count)");
        } else {
          absl::StrAppend(&out, id, " (durable ", r.durable, ")");
        }
      }
    }
  }
  return out;
}

uint64_t AckTracker::MinDurable() const {
  std::lock_guard<std::mutex> lock(mutex_);
  uint64_t min = std::numeric_limits<uint64_t>::max();
  for (const auto& [id, r] : replicas_) min = std::min(min, r.durable);
  return replicas_.empty() ? 0 : min;
}

uint64_t AckTracker::Durable(const std::string& replica) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = replicas_.find(replica);
  return it == replicas_.end() ? 0 : it->second.durable;
}

std::optional<uint64_t> AckTracker::CountingDurable(
    const std::string& replica) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = replicas_.find(replica);
  if (it == replicas_.end() || !it->second.heard || !it->second.counts) {
    return std::nullopt;
  }
  return it->second.durable;
}

void AckTracker::SetSyncSet(std::vector<std::string> sync_set) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    sync_set_ = std::move(sync_set);
  }
  changed_.notify_all();
}

std::vector<std::string> AckTracker::sync_set() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return sync_set_;
}

void AckTracker::SetConnected(const std::string& replica, bool connected) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto [it, fresh] = replicas_.try_emplace(replica);
  if (fresh) it->second.down_since = std::chrono::steady_clock::now();
  if (it->second.connected && !connected) {
    it->second.down_since = std::chrono::steady_clock::now();
  }
  it->second.connected = connected;
}

void AckTracker::SetDownSince(const std::string& replica,
                              std::chrono::steady_clock::time_point since) {
  std::lock_guard<std::mutex> lock(mutex_);
  Replica& r = replicas_[replica];
  if (!r.connected) r.down_since = since;
}

std::chrono::steady_clock::duration AckTracker::DownFor(
    const std::string& replica) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = replicas_.find(replica);
  if (it == replicas_.end()) return std::chrono::steady_clock::duration::max();
  if (it->second.connected) return std::chrono::steady_clock::duration::zero();
  return std::chrono::steady_clock::now() - it->second.down_since;
}

std::chrono::steady_clock::duration AckTracker::HoldingBackFor(
    const std::string& replica) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = replicas_.find(replica);
  const bool holds_any = it != replicas_.end() && it->second.counts;
  // The waiters for positions above what it holds durably.
  auto first =
      holds_any ? waiting_.upper_bound(it->second.durable) : waiting_.begin();
  if (first == waiting_.end())
    return std::chrono::steady_clock::duration::zero();
  auto since = first->second;
  for (auto w = first; w != waiting_.end(); ++w) {
    since = std::min(since, w->second);
  }
  return std::chrono::steady_clock::now() - since;
}

}  // namespace cairn::logship
