#include "idempotency_keys.h"

#include <utility>
#include <vector>

namespace cairn::mmaplog {
namespace {

// Abseil's heterogeneous lookup takes absl::string_view, which is not
// std::string_view in every build of it.
absl::string_view A(std::string_view s) {
  return absl::string_view(s.data(), s.size());
}

}  // namespace

void IdempotencyKeys::Push(StreamKeys* keys, std::string_view key,
                           const Batch& batch) {
  auto [it, inserted] = keys->by_key.try_emplace(std::string(key), batch);
  if (!inserted) {
    // One key names one append; a second batch with it (written without
    // this cache, e.g. by a host that ignored a repeat) is the newer answer.
    it->second = batch;
    return;
  }
  keys->order.emplace_back(key);
  if (keys->order.size() > CAIRN_IDEMPOTENCY_WINDOW) {
    keys->by_key.erase(A(keys->order.front()));
    keys->order.pop_front();
  }
}

absl::StatusOr<std::optional<IdempotencyKeys::Batch>> IdempotencyKeys::Find(
    std::string_view stream, std::string_view key, LoadFn load) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = streams_.find(A(stream));
    if (it != streams_.end()) {
      auto found = it->second->by_key.find(A(key));
      if (found == it->second->by_key.end()) return std::optional<Batch>();
      return std::optional<Batch>(found->second);
    }
  }
  // Loaded outside the lock: it reads the log. The caller holds the
  // stream's claim, so no append adds to it meanwhile.
  std::vector<std::pair<std::string, Batch>> found;
  absl::Status loaded = load([&](std::string_view k, const Batch& b) {
    found.emplace_back(std::string(k), b);
  });
  if (!loaded.ok()) return loaded;
  auto keys = std::make_unique<StreamKeys>();
  for (auto it = found.rbegin(); it != found.rend(); ++it) {
    Push(keys.get(), it->first, it->second);
  }
  std::optional<Batch> answer;
  if (auto hit = keys->by_key.find(A(key)); hit != keys->by_key.end()) {
    answer = hit->second;
  }
  std::lock_guard<std::mutex> lock(mu_);
  ++loads_;
  auto [it, inserted] = streams_.try_emplace(std::string(stream));
  if (!inserted) total_ -= it->second->order.size();
  total_ += keys->order.size();
  it->second = std::move(keys);
  Shrink(stream);
  return answer;
}

void IdempotencyKeys::Add(std::string_view stream, std::string_view key,
                          const Batch& batch) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = streams_.find(A(stream));
  if (it == streams_.end()) return;
  const size_t before = it->second->order.size();
  Push(it->second.get(), key, batch);
  total_ += it->second->order.size() - before;
  Shrink(stream);
}

void IdempotencyKeys::Forget(std::string_view stream) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = streams_.find(A(stream));
  if (it == streams_.end()) return;
  total_ -= it->second->order.size();
  streams_.erase(it);
}

void IdempotencyKeys::ForgetAll() {
  std::lock_guard<std::mutex> lock(mu_);
  streams_.clear();
  total_ = 0;
}

void IdempotencyKeys::Shrink(std::string_view keep) {
  for (auto it = streams_.begin();
       total_ > max_keys_ && it != streams_.end();) {
    if (it->first == keep) {
      ++it;
      continue;
    }
    total_ -= it->second->order.size();
    streams_.erase(it++);
  }
}

size_t IdempotencyKeys::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return total_;
}

uint64_t IdempotencyKeys::loads() const {
  std::lock_guard<std::mutex> lock(mu_);
  return loads_;
}

}  // namespace cairn::mmaplog
