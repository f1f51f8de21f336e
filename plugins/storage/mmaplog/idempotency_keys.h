// The idempotency keys of recent batches (cairn_storage_api append,
// "Idempotency"; docs/mmaplog.md, "Idempotency keys"): a bounded set in
// memory over the log, which holds every key in the first record of its
// batch (record.h, kRecordHasKey).
//
// What it holds: every keyed batch appended or applied since the open (or
// the last truncation), and, per stream, the keyed batches among the
// stream's newest CAIRN_IDEMPOTENCY_WINDOW batches from before it, read
// back from the log once, on the stream's first keyed append (Log::Append,
// "keys_loaded"). At most `max_keys` in all (about 130 bytes each): past
// that the oldest go first, those read back from the log before any
// written since. A key it does not hold is not recognised; nothing is
// re-read, so memory pressure costs recognition of the oldest keys, never
// a walk of the log per append.
//
// Thread-safe. Log::Append calls Find and Add for a stream while it holds
// the stream's claim, so one stream's keys do not change between the two.
#ifndef CAIRN_PLUGINS_STORAGE_MMAPLOG_IDEMPOTENCY_KEYS_H_
#define CAIRN_PLUGINS_STORAGE_MMAPLOG_IDEMPOTENCY_KEYS_H_

#include <cairn/plugin.h>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace cairn::mmaplog {

class IdempotencyKeys {
 public:
  static constexpr size_t kMaxKeys = 32768;

  // A batch's ranges, as its append reported them.
  struct Batch {
    uint64_t first_revision = 0;
    uint64_t last_revision = 0;
    uint64_t first_position = 0;
    uint64_t last_position = 0;
  };

  explicit IdempotencyKeys(size_t max_keys = kMaxKeys) : max_keys_(max_keys) {}
  IdempotencyKeys(const IdempotencyKeys&) = delete;
  IdempotencyKeys& operator=(const IdempotencyKeys&) = delete;

  // The batch appended to `stream` with `key`, if held.
  std::optional<Batch> Find(std::string_view stream,
                            std::string_view key) const;
  // Records a batch just appended or applied: the newest held.
  void Add(std::string_view stream, std::string_view key, const Batch& batch);
  // Records a batch read back from the log, older than every batch Add
  // recorded: dropped before them.
  void AddOlder(std::string_view stream, std::string_view key,
                const Batch& batch);
  // Forgets every key (a truncation).
  void Clear();

  size_t size() const;

 private:
  // stream, NUL, key (names hold no NUL: cairn/names.h).
  static void Compose(std::string_view stream, std::string_view key,
                      std::string* out);
  void Insert(std::string_view stream, std::string_view key, const Batch& batch,
              bool older);

  const size_t max_keys_;
  mutable std::mutex mu_;
  // Node-based: `order` points at the keys in the map's nodes, which stay
  // put when the map rehashes.
  std::unordered_map<std::string, Batch> batches_;
  std::deque<const std::string*> order_;  // oldest first
};

}  // namespace cairn::mmaplog

#endif  // CAIRN_PLUGINS_STORAGE_MMAPLOG_IDEMPOTENCY_KEYS_H_
