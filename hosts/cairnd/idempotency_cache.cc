#include "idempotency_cache.h"

namespace cairn::cairnd {

IdempotencyCache::Claim IdempotencyCache::Begin(const std::string& stream,
                                                const std::string& key) {
  std::unique_lock<std::mutex> lock(mutex_);
  const Key id{stream, key};
  for (;;) {
    auto it = entries_.find(id);
    if (it == entries_.end()) {
      entries_.emplace(id, Entry{});
      return Claim{true, {}};
    }
    if (it->second.done) {
      ++hits_;
      return Claim{false, it->second.answer};
    }
    // The same key is running (a retry raced its original): wait for it.
    finished_.wait(lock);
  }
}

void IdempotencyCache::Finish(const std::string& stream, const std::string& key,
                              const v1::AppendResponse* result) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = entries_.find(Key{stream, key});
    if (it == entries_.end() || it->second.done) return;
    if (result == nullptr) {
      entries_.erase(it);
    } else {
      Entry& entry = it->second;
      entry.done = true;
      entry.answer = *result;
      entry.in_all = all_.insert(all_.end(), it->first);
      std::list<std::string>& keys = by_stream_[stream];
      entry.in_stream = keys.insert(keys.end(), key);
      while (keys.size() > per_stream_) {
        Forget(entries_.find(Key{stream, keys.front()}));
      }
      while (all_.size() > total_) Forget(entries_.find(all_.front()));
    }
  }
  finished_.notify_all();
}

void IdempotencyCache::Forget(std::map<Key, Entry>::iterator it) {
  auto stream = by_stream_.find(it->first.first);
  stream->second.erase(it->second.in_stream);
  if (stream->second.empty()) by_stream_.erase(stream);
  all_.erase(it->second.in_all);
  entries_.erase(it);
}

size_t IdempotencyCache::size() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return entries_.size();
}

uint64_t IdempotencyCache::hits() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return hits_;
}

}  // namespace cairn::cairnd
