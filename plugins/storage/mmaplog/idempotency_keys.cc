#include "idempotency_keys.h"

namespace cairn::mmaplog {

void IdempotencyKeys::Compose(std::string_view stream, std::string_view key,
                              std::string* out) {
  out->assign(stream);
  out->push_back('\0');
  out->append(key);
}

std::optional<IdempotencyKeys::Batch> IdempotencyKeys::Find(
    std::string_view stream, std::string_view key) const {
  thread_local std::string composed;
  Compose(stream, key, &composed);
  std::lock_guard<std::mutex> lock(mu_);
  auto it = batches_.find(composed);
  if (it == batches_.end()) return std::nullopt;
  return it->second;
}

void IdempotencyKeys::Add(std::string_view stream, std::string_view key,
                          const Batch& batch) {
  Insert(stream, key, batch, /*older=*/false);
}

void IdempotencyKeys::AddOlder(std::string_view stream, std::string_view key,
                               const Batch& batch) {
  Insert(stream, key, batch, /*older=*/true);
}

void IdempotencyKeys::Insert(std::string_view stream, std::string_view key,
                             const Batch& batch, bool older) {
  std::string composed;
  Compose(stream, key, &composed);
  std::lock_guard<std::mutex> lock(mu_);
  auto [it, inserted] = batches_.try_emplace(std::move(composed), batch);
  if (!inserted) {
    // One key names one append; a second batch with it (a host that wrote
    // a repeat anyway) is the newer answer, in its old place in the order.
    if (!older) it->second = batch;
    return;
  }
  if (older) {
    order_.push_front(&it->first);
  } else {
    order_.push_back(&it->first);
  }
  while (order_.size() > max_keys_) {
    auto oldest = batches_.find(*order_.front());
    order_.pop_front();
    batches_.erase(oldest);
  }
}

void IdempotencyKeys::Clear() {
  std::lock_guard<std::mutex> lock(mu_);
  order_.clear();
  batches_.clear();
}

size_t IdempotencyKeys::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return batches_.size();
}

}  // namespace cairn::mmaplog
