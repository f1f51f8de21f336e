#include "bench/lmdb_engine.h"

#include <lmdb.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "bench/record_format.h"

namespace cairn::bench {
namespace {

// Address space reserved for the map; the file grows only as data is written.
constexpr size_t kMapSize = size_t{64} << 30;

MDB_val Val(std::string_view bytes) {
  return MDB_val{bytes.size(), const_cast<char*>(bytes.data())};
}
std::string_view View(const MDB_val& val) {
  return std::string_view(static_cast<const char*>(val.mv_data), val.mv_size);
}

// Aborts a transaction unless it was committed.
class TxnGuard {
 public:
  explicit TxnGuard(MDB_txn* txn) : txn_(txn) {}
  ~TxnGuard() {
    if (txn_ != nullptr) mdb_txn_abort(txn_);
  }
  int Commit() {
    int rc = mdb_txn_commit(txn_);
    txn_ = nullptr;
    return rc;
  }
  MDB_txn* get() const { return txn_; }

 private:
  MDB_txn* txn_;
};

class LmdbEngine : public Engine {
 public:
  ~LmdbEngine() override { (void)Close(); }

  std::string name() const override { return "lmdb"; }

  absl::Status Open(const EngineOptions& options) override {
    absl::Status prepared = PrepareDir(options);
    if (!prepared.ok()) return prepared;
    int rc = mdb_env_create(&env_);
    if (rc != 0) return Error("creating the environment", rc);
    mdb_env_set_mapsize(env_, kMapSize);
    mdb_env_set_maxdbs(env_, 4);
    mdb_env_set_maxreaders(env_, 256);
    unsigned flags = MDB_NOTLS;
    if (options.durability == Durability::kOsCache) flags |= MDB_NOSYNC;
    rc = mdb_env_open(env_, options.dir.c_str(), flags, 0644);
    if (rc != 0) return Error("opening", rc);

    MDB_txn* txn = nullptr;
    rc = mdb_txn_begin(env_, nullptr, 0, &txn);
    if (rc != 0) return Error("beginning the set-up transaction", rc);
    TxnGuard guard(txn);
    for (auto [name, dbi] : {std::pair{"events", &events_},
                             std::pair{"streams", &streams_},
                             std::pair{"tags", &tags_}}) {
      rc = mdb_dbi_open(txn, name, MDB_CREATE, dbi);
      if (rc != 0) return Error(absl::StrCat("opening database ", name), rc);
    }
    uint64_t last = 0;
    MDB_cursor* cursor = nullptr;
    mdb_cursor_open(txn, events_, &cursor);
    MDB_val key, value;
    if (mdb_cursor_get(cursor, &key, &value, MDB_LAST) == 0) {
      last = GetBigEndian64(static_cast<const char*>(key.mv_data));
    }
    mdb_cursor_close(cursor);
    rc = guard.Commit();
    if (rc != 0) return Error("committing the set-up transaction", rc);
    next_position_ = last + 1;
    commit_signal().Reset(last);
    return absl::OkStatus();
  }

  absl::StatusOr<uint64_t> Append(std::string_view stream, uint64_t expected_head,
                                  absl::Span<const EventData> events) override {
    MDB_txn* txn = nullptr;
    int rc = mdb_txn_begin(env_, nullptr, 0, &txn);  // waits for the writer lock
    if (rc != 0) return Error("beginning a write transaction", rc);
    TxnGuard guard(txn);
    uint64_t head = 0;
    {
      MDB_cursor* cursor = nullptr;
      mdb_cursor_open(txn, streams_, &cursor);
      std::string upper = NamePrefix(stream);
      upper.back() = '\x01';
      std::string prefix = NamePrefix(stream);
      MDB_val key = Val(upper), value;
      // The last key below name\1 is the stream's highest revision, if any.
      rc = mdb_cursor_get(cursor, &key, &value, MDB_SET_RANGE);
      if (rc == 0) {
        rc = mdb_cursor_get(cursor, &key, &value, MDB_PREV);
      } else if (rc == MDB_NOTFOUND) {
        rc = mdb_cursor_get(cursor, &key, &value, MDB_LAST);
      }
      if (rc == 0 && View(key).substr(0, prefix.size()) == prefix &&
          key.mv_size == prefix.size() + 8) {
        head = GetBigEndian64(static_cast<const char*>(key.mv_data) + prefix.size());
      }
      mdb_cursor_close(cursor);
    }
    if (head != expected_head) {
      return absl::AbortedError(absl::StrCat(
          "lmdb: stream '", std::string(stream), "' is at revision ", head,
          ", the append expected ", expected_head));
    }
    uint64_t first = next_position_;
    std::string value;
    for (size_t i = 0; i < events.size(); ++i) {
      const EventData& event = events[i];
      uint64_t position = first + i;
      uint64_t revision = head + 1 + i;
      value.clear();
      EncodeEventRecord(stream, revision, event, event.timestamp_us, &value);
      std::string position_key = PositionKey(position);
      MDB_val k = Val(position_key), v = Val(value);
      rc = mdb_put(txn, events_, &k, &v, MDB_APPEND);
      if (rc != 0) return Error("writing an event", rc);
      std::string stream_key = StreamKey(stream, revision);
      k = Val(stream_key);
      v = Val(position_key);
      rc = mdb_put(txn, streams_, &k, &v, 0);
      if (rc != 0) return Error("writing a stream index entry", rc);
      for (const std::string& tag : event.tags) {
        std::string tag_key = TagKey(tag, position);
        k = Val(tag_key);
        v = MDB_val{0, nullptr};
        rc = mdb_put(txn, tags_, &k, &v, 0);
        if (rc != 0) return Error("writing a tag index entry", rc);
      }
    }
    // Moved while LMDB's writer lock is still ours: the next writer reads it
    // only after our commit releases the lock.
    next_position_ = first + events.size();
    rc = guard.Commit();
    if (rc != 0) {
      // The positions are lost with the transaction; the harness treats a
      // failed commit as the end of the run.
      return Error("committing", rc);
    }
    commit_signal().Complete(first, events.size());
    return first + events.size() - 1;
  }

  absl::Status ReadStream(std::string_view stream, uint64_t from_revision,
                          uint64_t max_count, const ReadFn& on_event) override {
    return ReadIndex(streams_, NamePrefix(stream), StreamKey(stream, from_revision),
                     max_count, /*position_in_value=*/true, on_event);
  }

  absl::Status ReadTag(std::string_view tag, uint64_t after_position,
                       uint64_t max_count, const ReadFn& on_event) override {
    return ReadIndex(tags_, NamePrefix(tag), TagKey(tag, after_position + 1),
                     max_count, /*position_in_value=*/false, on_event);
  }

  absl::Status ReadAll(uint64_t after_position, uint64_t max_count,
                       const ReadFn& on_event) override {
    MDB_txn* txn = nullptr;
    int rc = mdb_txn_begin(env_, nullptr, MDB_RDONLY, &txn);
    if (rc != 0) return Error("beginning a read transaction", rc);
    TxnGuard guard(txn);
    MDB_cursor* cursor = nullptr;
    mdb_cursor_open(txn, events_, &cursor);
    std::string start = PositionKey(after_position + 1);
    MDB_val key = Val(start), value;
    uint64_t count = 0;
    absl::Status status;
    for (rc = mdb_cursor_get(cursor, &key, &value, MDB_SET_RANGE);
         rc == 0 && count < max_count;
         rc = mdb_cursor_get(cursor, &key, &value, MDB_NEXT), ++count) {
      auto keep = DeliverRecord(GetBigEndian64(static_cast<const char*>(key.mv_data)),
                          View(value), on_event);
      if (!keep.ok()) {
        status = keep.status();
        break;
      }
      if (!*keep) break;
    }
    mdb_cursor_close(cursor);
    return status;
  }

  absl::Status Close() override {
    if (env_ == nullptr) return absl::OkStatus();
    int rc = mdb_env_sync(env_, 1);
    mdb_env_close(env_);
    env_ = nullptr;
    if (rc != 0) return Error("syncing at close", rc);
    return absl::OkStatus();
  }

 private:
  absl::Status Error(const std::string& what, int rc) const {
    return absl::InternalError(
        absl::StrCat("lmdb ", dir(), ": ", what, ": ", mdb_strerror(rc)));
  }

  // Walks an index from `start` while keys begin with `prefix`, reading the
  // event each entry names (its position is in the value, or the key's
  // last 8 bytes).
  absl::Status ReadIndex(MDB_dbi index, const std::string& prefix,
                         const std::string& start, uint64_t max_count,
                         bool position_in_value, const ReadFn& on_event) {
    MDB_txn* txn = nullptr;
    int rc = mdb_txn_begin(env_, nullptr, MDB_RDONLY, &txn);
    if (rc != 0) return Error("beginning a read transaction", rc);
    TxnGuard guard(txn);
    MDB_cursor* cursor = nullptr;
    mdb_cursor_open(txn, index, &cursor);
    MDB_val key = Val(start), value;
    uint64_t count = 0;
    absl::Status status;
    for (rc = mdb_cursor_get(cursor, &key, &value, MDB_SET_RANGE);
         rc == 0 && count < max_count && View(key).substr(0, prefix.size()) == prefix;
         rc = mdb_cursor_get(cursor, &key, &value, MDB_NEXT), ++count) {
      const char* position_bytes =
          position_in_value ? static_cast<const char*>(value.mv_data)
                            : static_cast<const char*>(key.mv_data) + prefix.size();
      MDB_val position_key{8, const_cast<char*>(position_bytes)}, event;
      rc = mdb_get(txn, events_, &position_key, &event);
      if (rc != 0) {
        status = Error("reading an indexed event", rc);
        break;
      }
      auto keep = DeliverRecord(GetBigEndian64(position_bytes), View(event), on_event);
      if (!keep.ok()) {
        status = keep.status();
        break;
      }
      if (!*keep) break;
    }
    mdb_cursor_close(cursor);
    return status;
  }

  MDB_env* env_ = nullptr;
  MDB_dbi events_ = 0, streams_ = 0, tags_ = 0;
  uint64_t next_position_ = 1;  // touched only inside a write transaction
};

}  // namespace

std::unique_ptr<Engine> NewLmdbEngine() { return std::make_unique<LmdbEngine>(); }

}  // namespace cairn::bench
