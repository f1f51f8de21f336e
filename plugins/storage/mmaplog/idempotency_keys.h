// The idempotency keys of each stream's newest batches (cairn_storage_api
// append, "Idempotency"; docs/mmaplog.md, "Idempotency keys"): a bounded
// cache over the log. The log holds every key, in the first record of its
// batch (record.h, kRecordHasKey), so this class only saves reading it:
//  - a stream's keys are loaded from the log the first time an append with
//    a key needs them (the keyed batches among its newest
//    CAIRN_IDEMPOTENCY_WINDOW batches), then kept up to date by its appends;
//  - apply_log forgets a stream it writes a keyed batch to, truncation
//    forgets every stream, and memory pressure forgets whole streams. A
//    forgotten stream is loaded again when next needed: forgetting costs
//    time, never an answer.
// At most CAIRN_IDEMPOTENCY_WINDOW keys per stream and `max_keys` in all
// are held (about 150 bytes each).
//
// Thread-safe. Find and Add for a stream are called by the holder of its
// claim (Log::Append), so its keys do not change between the two.
#ifndef CAIRN_PLUGINS_STORAGE_MMAPLOG_IDEMPOTENCY_KEYS_H_
#define CAIRN_PLUGINS_STORAGE_MMAPLOG_IDEMPOTENCY_KEYS_H_

#include <cairn/plugin.h>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace cairn::mmaplog {

class IdempotencyKeys {
 public:
  static constexpr size_t kMaxKeys = 16384;

  // A batch's ranges, as its append reported them.
  struct Batch {
    uint64_t first_revision = 0;
    uint64_t last_revision = 0;
    uint64_t first_position = 0;
    uint64_t last_position = 0;
  };
  // A loader calls this once per keyed batch it finds, newest first.
  using AddFn = absl::FunctionRef<void(std::string_view key, const Batch&)>;
  // Reads a stream's keys from the log (the keyed batches among its newest
  // CAIRN_IDEMPOTENCY_WINDOW batches) into `add`.
  using LoadFn = absl::FunctionRef<absl::Status(AddFn add)>;

  explicit IdempotencyKeys(size_t max_keys = kMaxKeys) : max_keys_(max_keys) {}
  IdempotencyKeys(const IdempotencyKeys&) = delete;
  IdempotencyKeys& operator=(const IdempotencyKeys&) = delete;

  // The batch of `stream` appended with `key`, if the stream's keys hold
  // it; loads them with `load` first if they are not in memory (a failed
  // load fails Find and keeps nothing).
  absl::StatusOr<std::optional<Batch>> Find(std::string_view stream,
                                            std::string_view key, LoadFn load);
  // Records a batch just appended to `stream` with `key`. Kept only while
  // the stream's keys are in memory: otherwise the next Find loads them,
  // this one included, from the log.
  void Add(std::string_view stream, std::string_view key, const Batch& batch);
  void Forget(std::string_view stream);
  void ForgetAll();

  size_t size() const;     // keys in memory
  uint64_t loads() const;  // streams loaded from the log so far

 private:
  struct StreamKeys {
    absl::flat_hash_map<std::string, Batch> by_key;
    std::deque<std::string> order;  // oldest first
  };
  // Adds to `keys`, dropping its oldest beyond the window.
  static void Push(StreamKeys* keys, std::string_view key, const Batch& batch);
  // Forgets other streams until at most max_keys_ keys are held.
  void Shrink(std::string_view keep);

  const size_t max_keys_;
  mutable std::mutex mu_;
  absl::flat_hash_map<std::string, std::unique_ptr<StreamKeys>> streams_;
  size_t total_ = 0;
  uint64_t loads_ = 0;
};

}  // namespace cairn::mmaplog

#endif  // CAIRN_PLUGINS_STORAGE_MMAPLOG_IDEMPOTENCY_KEYS_H_
