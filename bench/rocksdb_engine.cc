#include "bench/rocksdb_engine.h"

#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>

#include <array>
#include <atomic>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "bench/record_format.h"

namespace cairn::bench {
namespace {

constexpr size_t kStreamLockShards = 64;

class RocksDbEngine : public Engine {
 public:
  ~RocksDbEngine() override { (void)Close(); }

  std::string name() const override { return "rocksdb"; }

  absl::Status Open(const EngineOptions& options) override {
    absl::Status prepared = PrepareDir(options);
    if (!prepared.ok()) return prepared;
    rocksdb::Options db_options;
    db_options.create_if_missing = true;
    db_options.create_missing_column_families = true;
    db_options.IncreaseParallelism(2);
    write_options_.sync = options.durability == Durability::kSynced;
    std::vector<rocksdb::ColumnFamilyDescriptor> families = {
        {rocksdb::kDefaultColumnFamilyName, rocksdb::ColumnFamilyOptions()},
        {"events", rocksdb::ColumnFamilyOptions()},
        {"streams", rocksdb::ColumnFamilyOptions()},
        {"tags", rocksdb::ColumnFamilyOptions()},
    };
    rocksdb::DB* db = nullptr;
    rocksdb::Status s =
        rocksdb::DB::Open(db_options, options.dir, families, &handles_, &db);
    if (!s.ok()) return Error("opening", s);
    db_.reset(db);

    // The last position is the last key of `events`.
    std::unique_ptr<rocksdb::Iterator> it(
        db_->NewIterator(rocksdb::ReadOptions(), handles_[kEvents]));
    it->SeekToLast();
    uint64_t last = it->Valid() ? GetBigEndian64(it->key().data()) : 0;
    next_position_.store(last + 1);
    commit_signal().Reset(last);
    return absl::OkStatus();
  }

  absl::StatusOr<uint64_t> Append(std::string_view stream, uint64_t expected_head,
                                  absl::Span<const EventData> events) override {
    // Serializes appends to one stream (the expected-revision check and the
    // write must not interleave); other streams proceed.
    std::lock_guard<std::mutex> lock(
        stream_locks_[std::hash<std::string_view>()(stream) % kStreamLockShards]);
    auto head = HeadRevision(stream);
    if (!head.ok()) return head.status();
    if (*head != expected_head) {
      return absl::AbortedError(absl::StrCat(
          "rocksdb: stream '", std::string(stream), "' is at revision ", *head,
          ", the append expected ", expected_head));
    }
    uint64_t first = next_position_.fetch_add(events.size());
    rocksdb::WriteBatch batch;
    std::string value, position_value;
    for (size_t i = 0; i < events.size(); ++i) {
      const EventData& event = events[i];
      uint64_t position = first + i;
      uint64_t revision = *head + 1 + i;
      value.clear();
      EncodeEventRecord(stream, revision, event, event.timestamp_us, &value);
      std::string key = PositionKey(position);
      batch.Put(handles_[kEvents], key, value);
      batch.Put(handles_[kStreams], StreamKey(stream, revision), key);
      for (const std::string& tag : event.tags) {
        batch.Put(handles_[kTags], TagKey(tag, position), rocksdb::Slice());
      }
    }
    rocksdb::Status s = db_->Write(write_options_, &batch);
    if (!s.ok()) return Error("writing a batch", s);
    commit_signal().Complete(first, events.size());
    return first + events.size() - 1;
  }

  absl::Status ReadStream(std::string_view stream, uint64_t from_revision,
                          uint64_t max_count, const ReadFn& on_event) override {
    std::string prefix = NamePrefix(stream);
    std::unique_ptr<rocksdb::Iterator> it(
        db_->NewIterator(rocksdb::ReadOptions(), handles_[kStreams]));
    uint64_t count = 0;
    std::string value;
    for (it->Seek(StreamKey(stream, from_revision));
         it->Valid() && it->key().starts_with(prefix) && count < max_count;
         it->Next(), ++count) {
      rocksdb::Slice position = it->value();
      if (GetBigEndian64(position.data()) > commit_signal().visible()) break;
      rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), handles_[kEvents],
                                   position, &value);
      if (!s.ok()) return Error("reading an event of a stream", s);
      auto keep = DeliverRecord(GetBigEndian64(position.data()), value, on_event);
      if (!keep.ok()) return keep.status();
      if (!*keep) break;
    }
    return IteratorStatus(it.get());
  }

  absl::Status ReadTag(std::string_view tag, uint64_t after_position,
                       uint64_t max_count, const ReadFn& on_event) override {
    std::string prefix = NamePrefix(tag);
    uint64_t visible = commit_signal().visible();
    std::unique_ptr<rocksdb::Iterator> it(
        db_->NewIterator(rocksdb::ReadOptions(), handles_[kTags]));
    uint64_t count = 0;
    std::string value;
    for (it->Seek(TagKey(tag, after_position + 1));
         it->Valid() && it->key().starts_with(prefix) && count < max_count;
         it->Next(), ++count) {
      uint64_t position = GetBigEndian64(it->key().data() + prefix.size());
      if (position > visible) break;
      rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), handles_[kEvents],
                                   PositionKey(position), &value);
      if (!s.ok()) return Error("reading a tagged event", s);
      auto keep = DeliverRecord(position, value, on_event);
      if (!keep.ok()) return keep.status();
      if (!*keep) break;
    }
    return IteratorStatus(it.get());
  }

  absl::Status ReadAll(uint64_t after_position, uint64_t max_count,
                       const ReadFn& on_event) override {
    uint64_t visible = commit_signal().visible();
    std::unique_ptr<rocksdb::Iterator> it(
        db_->NewIterator(rocksdb::ReadOptions(), handles_[kEvents]));
    uint64_t count = 0;
    for (it->Seek(PositionKey(after_position + 1));
         it->Valid() && count < max_count; it->Next(), ++count) {
      uint64_t position = GetBigEndian64(it->key().data());
      if (position > visible) break;
      auto keep = DeliverRecord(position, it->value().ToStringView(), on_event);
      if (!keep.ok()) return keep.status();
      if (!*keep) break;
    }
    return IteratorStatus(it.get());
  }

  absl::Status Close() override {
    if (!db_) return absl::OkStatus();
    // A clean shutdown as a careful user writes it: memtables flushed to
    // SST files, so the next open need not replay the WAL (without this a
    // reopen after a million events took 34 s here).
    rocksdb::Status s = db_->Flush(rocksdb::FlushOptions(), handles_);
    if (s.ok()) s = db_->FlushWAL(true);
    for (rocksdb::ColumnFamilyHandle* handle : handles_) {
      db_->DestroyColumnFamilyHandle(handle);
    }
    handles_.clear();
    rocksdb::Status closed = db_->Close();
    db_.reset();
    if (!s.ok()) return Error("flushing memtables and the WAL", s);
    if (!closed.ok()) return Error("closing", closed);
    return absl::OkStatus();
  }

 private:
  enum Family { kDefault = 0, kEvents = 1, kStreams = 2, kTags = 3 };

  absl::Status Error(const std::string& what, const rocksdb::Status& s) const {
    return absl::InternalError(
        absl::StrCat("rocksdb ", dir(), ": ", what, ": ", s.ToString()));
  }

  absl::Status IteratorStatus(rocksdb::Iterator* it) const {
    if (!it->status().ok()) return Error("iterating", it->status());
    return absl::OkStatus();
  }

  // The stream's head: the revision of its last index key.
  absl::StatusOr<uint64_t> HeadRevision(std::string_view stream) {
    std::string upper = NamePrefix(stream);
    upper.back() = '\x01';  // every key of this stream sorts below name\1
    std::unique_ptr<rocksdb::Iterator> it(
        db_->NewIterator(rocksdb::ReadOptions(), handles_[kStreams]));
    it->SeekForPrev(upper);
    std::string prefix = NamePrefix(stream);
    if (it->Valid() && it->key().starts_with(prefix) &&
        it->key().size() == prefix.size() + 8) {
      return GetBigEndian64(it->key().data() + prefix.size());
    }
    if (!it->status().ok()) return Error("reading a stream head", it->status());
    return 0;
  }

  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  rocksdb::WriteOptions write_options_;
  std::atomic<uint64_t> next_position_{1};
  std::array<std::mutex, kStreamLockShards> stream_locks_;
};

}  // namespace

std::unique_ptr<Engine> NewRocksDbEngine() { return std::make_unique<RocksDbEngine>(); }

}  // namespace cairn::bench
