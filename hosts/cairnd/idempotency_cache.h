// Appends answered recently, by (stream, idempotency key), so that a client
// retrying an append after an ambiguous failure (a lost connection, a
// timeout) gets the original result instead of writing the events twice
// (AppendRequest.idempotency_key in schemas/cairn/v1/client.proto).
//
// Used only for a storage plugin that does not keep keys itself
// (CAIRN_CAP_IDEMPOTENT_APPEND; mmaplog and memory do, with the batch, so
// theirs survive restarts and failovers). Bounded: the last `per_stream`
// keys of each stream and `total` keys in all; the oldest are forgotten
// first. In memory only: a retry that reaches another node (after a
// failover) or this one after a restart is not recognised.
#ifndef CAIRN_HOSTS_CAIRND_IDEMPOTENCY_CACHE_H_
#define CAIRN_HOSTS_CAIRND_IDEMPOTENCY_CACHE_H_

#include <condition_variable>
#include <cstddef>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include "cairn/v1/client.pb.h"

namespace cairn::cairnd {

class IdempotencyCache {
 public:
  static constexpr size_t kPerStream = 1024;
  // An entry takes about 250 bytes (its key twice, the answer, list
  // nodes): 16384 of them stay within the server's memory bound that
  // scripts/load-cairnd checks (65536 grew RssAnon by 16 MiB there).
  static constexpr size_t kTotal = 16384;

  explicit IdempotencyCache(size_t per_stream = kPerStream,
                            size_t total = kTotal)
      : per_stream_(per_stream), total_(total) {}

  // What Begin found.
  struct Claim {
    // True: this caller runs the append and must call Finish. False:
    // `answer` is the original append's result.
    bool run = false;
    v1::AppendResponse answer;
  };

  // Claims (stream, key) for an append. If an append with that key has
  // succeeded, returns its result; if one is running now, waits for it
  // (a retry racing its original) and then answers as above, or, if that
  // one failed, claims the key for this caller. Thread-safe.
  Claim Begin(const std::string& stream, const std::string& key);
  // Ends a claim: `result` is the append's result, nullptr if it failed
  // (the key is then released, so a retry runs again).
  void Finish(const std::string& stream, const std::string& key,
              const v1::AppendResponse* result);

  size_t size() const;
  // Keys answered from memory so far (repeats).
  uint64_t hits() const;

 private:
  using Key = std::pair<std::string, std::string>;  // stream, key
  struct Entry {
    bool done = false;
    v1::AppendResponse answer;
    std::list<Key>::iterator in_all;             // when done
    std::list<std::string>::iterator in_stream;  // when done
  };

  void Forget(std::map<Key, Entry>::iterator it);  // a done entry

  const size_t per_stream_;
  const size_t total_;
  mutable std::mutex mutex_;
  std::condition_variable finished_;
  std::map<Key, Entry> entries_;
  // Done keys, oldest first: in all, and per stream.
  std::list<Key> all_;
  std::map<std::string, std::list<std::string>> by_stream_;
  uint64_t hits_ = 0;
};

}  // namespace cairn::cairnd

#endif  // CAIRN_HOSTS_CAIRND_IDEMPOTENCY_CACHE_H_
