// SDK for storage plugins: derive from cairn::sdk::Storage, then
//
//   CAIRN_STORAGE_PLUGIN(MyStorage, "my-storage", "1.0.0", "what it is",
//                        CAIRN_CAP_PERSISTENT | CAIRN_CAP_TAGS,
//                        cairn::sdk::OptionDesc("path", CAIRN_OPT_PATH,
//                        nullptr,
//                                               "the store folder", nullptr,
//                                               CAIRN_OPT_HOST_DEFINED))
//
// MyStorage must provide
//   static cairn::sdk::Status Open(const cairn::sdk::Options& options,
//                                  std::unique_ptr<MyStorage>* out);
// The macro defines the function table and the exported entry. Every call is
// guarded: an exception becomes CAIRN_E_INTERNAL, never a crash in the host.
#ifndef CAIRN_SDK_STORAGE_HPP_
#define CAIRN_SDK_STORAGE_HPP_

#include <cairn/sdk/common.hpp>
#include <cairn/sdk/expected.hpp>

#include <algorithm>
#include <memory>

namespace cairn::sdk {

// Wraps a cairn_event_fn: returns false when the reader asked to stop.
class EventSink {
 public:
  EventSink(cairn_event_fn fn, void* context) : fn_(fn), context_(context) {}
  bool operator()(const cairn_event& event) const {
    return fn_(context_, &event) == 0;
  }

 private:
  cairn_event_fn fn_;
  void* context_;
};

class SnapshotSink {
 public:
  SnapshotSink(cairn_snapshot_fn fn, void* context)
      : fn_(fn), context_(context) {}
  bool operator()(const cairn_snapshot& s) const {
    return fn_(context_, &s) == 0;
  }

 private:
  cairn_snapshot_fn fn_;
  void* context_;
};

class RecordSink {
 public:
  RecordSink(cairn_record_fn fn, void* context) : fn_(fn), context_(context) {}
  bool operator()(const cairn_log_record& record) const {
    return fn_(context_, &record) == 0;
  }

 private:
  cairn_record_fn fn_;
  void* context_;
};

class StreamSink {
 public:
  StreamSink(cairn_stream_fn fn, void* context) : fn_(fn), context_(context) {}
  bool operator()(const cairn_stream_info& s) const {
    return fn_(context_, &s) == 0;
  }

 private:
  cairn_stream_fn fn_;
  void* context_;
};

class StatSink {
 public:
  StatSink(cairn_stat_fn fn, void* context) : fn_(fn), context_(context) {}
  void operator()(const char* name, double value) const {
    fn_(context_, name, value);
  }

 private:
  cairn_stat_fn fn_;
  void* context_;
};

// Checks a stream name or tag against the data model: 1..255 bytes, no NUL.
// `what` names it in the message ("stream name", "tag").
inline Status ValidateName(std::string_view name, const char* what) {
  if (name.empty()) return InvalidArgument(std::string(what) + " is empty");
  if (name.size() > 255) {
    return InvalidArgument(std::string(what) + " is " +
                           std::to_string(name.size()) +
                           " bytes long; the limit is 255");
  }
  if (name.find('\0') != std::string_view::npos) {
    return InvalidArgument(std::string(what) + " contains a NUL byte");
  }
  return Status::Ok();
}

// Every field of ABI 2.0's cairn_event is required: the smallest size a
// host may declare.
inline constexpr size_t kEventMinSize =
    offsetof(cairn_event, tags) + sizeof(const cairn_bytes*);

inline std::string EventSizeText(size_t i, uint32_t size) {
  return "event " + std::to_string(i) + ": cairn_event.size is " +
         std::to_string(size) + ", smaller than ABI 2.0's " +
         std::to_string(kEventMinSize) +
         " bytes; set size = sizeof(cairn_event)";
}

// An append as the plugin sees it: the request's events copied into
// full-size local structs (so a host built against an older minor reads as
// zeros past its size) and, when the request carries a seal function, the
// sealed payloads once Seal has run.
class AppendBatch {
 public:
  // Checks the request and every name in it, and copies the events.
  Status Load(const cairn_append_request* request) {
    if (request == nullptr) return InvalidArgument("append: request is NULL");
    if (!CAIRN_HAS_FIELD(cairn_append_request, request, count)) {
      return InvalidArgument("append: request size " +
                             std::to_string(request->size) +
                             " is too small for ABI 2");
    }
    request_ = request;
    has_seal_ = CAIRN_HAS_FIELD(cairn_append_request, request, seal_context) &&
                request->seal != nullptr;
    if (request->expected_kind > CAIRN_EXPECT_EXACT) {
      return InvalidArgument("append: unknown expected-revision kind " +
                             std::to_string(request->expected_kind));
    }
    Status s = ValidateName(View(request->stream), "stream name");
    if (!s.ok()) return s;
    key_ = CAIRN_HAS_FIELD(cairn_append_request, request, idempotency_key)
               ? View(request->idempotency_key)
               : std::string_view();
    if (key_.size() > CAIRN_MAX_IDEMPOTENCY_KEY) {
      return InvalidArgument("append: the idempotency key is " +
                             std::to_string(key_.size()) + " bytes; at most " +
                             std::to_string(CAIRN_MAX_IDEMPOTENCY_KEY));
    }
    const size_t count = request->count;
    if (count != 0 && request->events == nullptr) {
      return InvalidArgument("append: events is NULL with a count of " +
                             std::to_string(count));
    }
    events_.resize(count);
    for (size_t i = 0; i < count; ++i) {
      if (request->events[i] == nullptr) {
        return InvalidArgument("append: event " + std::to_string(i) +
                               " is NULL");
      }
      if (request->events[i]->size < kEventMinSize) {
        return InvalidArgument(EventSizeText(i, request->events[i]->size));
      }
      cairn_event& e = events_[i];
      e = CopyEvent(request->events[i]);
      e.stream = request->stream;
      if (e.tag_count != 0 && e.tags == nullptr) {
        return InvalidArgument("append: event " + std::to_string(i) +
                               " has tag_count " + std::to_string(e.tag_count) +
                               " but tags is NULL");
      }
      for (uint32_t t = 0; t < e.tag_count; ++t) {
        s = ValidateName(View(e.tags[t]), "tag");
        if (!s.ok()) return s;
      }
    }
    return Status::Ok();
  }

  std::string_view stream() const { return View(request_->stream); }
  cairn_expected_kind expected_kind() const {
    return static_cast<cairn_expected_kind>(request_->expected_kind);
  }
  uint64_t expected_revision() const { return request_->expected_revision; }
  // The two as one value: expected().Holds(head), expected().Text().
  Expected expected() const {
    return Expected{request_->expected_kind, request_->expected_revision};
  }
  size_t size() const { return events_.size(); }
  bool has_seal() const { return has_seal_; }
  // The request's idempotency key; empty if it has none (or its host
  // predates the field). A plugin that declares CAIRN_CAP_IDEMPOTENT_APPEND
  // honours it (cairn_storage_api append, "Idempotency").
  std::string_view idempotency_key() const { return key_; }

  // With a seal function: has every event sealed for revisions
  // first_revision.., in order, and points each event's data at its sealed
  // payload (metadata empty). Without one: does nothing. Call with the
  // stream's order held (the revisions fixed); on failure nothing changed
  // that the caller must undo, beyond releasing its claim.
  Status Seal(uint64_t first_revision) {
    if (!has_seal_) return Status::Ok();
    ends_.clear();
    cairn_buffer out{buffer_.get(), 0, capacity_, &Grow, this};
    char message[512];
    for (size_t i = 0; i < events_.size(); ++i) {
      message[0] = '\0';
      cairn_error error{message, sizeof(message)};
      const size_t before = out.size;
      cairn_status st = request_->seal(request_->seal_context, i,
                                       first_revision + i, &out, &error);
      if (st == CAIRN_OK && (out.data != buffer_.get() || out.size < before ||
                             out.size > capacity_)) {
        return Internal("append: the seal function broke its buffer");
      }
      if (st != CAIRN_OK) {
        if (message[0] == '\0') {
          return Status(
              st, "append: sealing event " + std::to_string(i) + " failed");
        }
        return Status(st, message);
      }
      ends_.push_back(out.size);
    }
    size_t start = 0;
    for (size_t i = 0; i < events_.size(); ++i) {
      events_[i].data = cairn_bytes{buffer_.get() + start, ends_[i] - start};
      events_[i].metadata = cairn_bytes{nullptr, 0};
      start = ends_[i];
    }
    return Status::Ok();
  }

  // Contiguous full-size events (after Seal: with the sealed payloads).
  const cairn_event* events() const { return events_.data(); }
  const cairn_event& operator[](size_t i) const { return events_[i]; }

 private:
  // cairn_buffer.reserve over buffer_: grows by doubling, keeps the bytes.
  static int Grow(cairn_buffer* buffer, size_t additional) {
    auto* self = static_cast<AppendBatch*>(buffer->owner);
    if (buffer->data != self->buffer_.get() || buffer->size > self->capacity_ ||
        additional > (SIZE_MAX >> 2)) {
      return 1;
    }
    size_t want = buffer->size + additional;
    if (want <= self->capacity_) return 0;
    size_t capacity = self->capacity_ < 4096 ? 4096 : self->capacity_;
    while (capacity < want) capacity *= 2;
    std::unique_ptr<uint8_t[]> bigger(new (std::nothrow) uint8_t[capacity]);
    if (!bigger) return 1;
    if (buffer->size != 0)
      std::memcpy(bigger.get(), buffer->data, buffer->size);
    self->buffer_ = std::move(bigger);
    self->capacity_ = capacity;
    buffer->data = self->buffer_.get();
    buffer->capacity = capacity;
    return 0;
  }

  const cairn_append_request* request_ = nullptr;
  bool has_seal_ = false;
  std::string_view key_;
  std::vector<cairn_event> events_;
  std::unique_ptr<uint8_t[]> buffer_;  // the sealed payloads, back to back
  size_t capacity_ = 0;
  std::vector<size_t> ends_;
};

// Every field of ABI 2.0's cairn_log_record and cairn_snapshot_criteria is
// required: the smallest sizes a host may declare.
inline constexpr size_t kLogRecordMinSize =
    offsetof(cairn_log_record, idempotency_key) + sizeof(cairn_bytes);
inline constexpr size_t kCriteriaMinSize =
    offsetof(cairn_snapshot_criteria, max_timestamp_us) + sizeof(int64_t);

// The records of an apply_log call copied into full-size local structs, so a
// host built against an older minor (smaller structs, at least ABI 2.0's)
// reads as zeros past its size: each record, its event and its criteria.
// The copies point at the host's bytes (stream, data, tags), valid during
// the call.
class LogBatch {
 public:
  Status Load(const cairn_log_record* const* records, size_t count) {
    if (count != 0 && records == nullptr) {
      return InvalidArgument("apply_log: records is NULL with a count of " +
                             std::to_string(count));
    }
    records_.assign(count, cairn_log_record{});
    events_.assign(count, cairn_event{});
    criteria_.assign(count, cairn_snapshot_criteria{});
    pointers_.assign(count, nullptr);
    for (size_t i = 0; i < count; ++i) {
      const std::string what = "apply_log: record " + std::to_string(i);
      const cairn_log_record* in = records[i];
      if (in == nullptr) return InvalidArgument(what + " is NULL");
      if (in->size < kLogRecordMinSize) {
        return InvalidArgument(what + ": cairn_log_record.size is " +
                               std::to_string(in->size) +
                               ", smaller than ABI 2.0's " +
                               std::to_string(kLogRecordMinSize) + " bytes");
      }
      cairn_log_record& r = records_[i];
      std::memcpy(&r, in, std::min<size_t>(in->size, sizeof(r)));
      r.size = sizeof(r);
      if (r.event != nullptr) {
        if (r.event->size < kEventMinSize) {
          return InvalidArgument(what + ": " + EventSizeText(i, r.event->size));
        }
        events_[i] = CopyEvent(r.event);
        r.event = &events_[i];
      }
      if (r.criteria != nullptr) {
        if (r.criteria->size < kCriteriaMinSize) {
          return InvalidArgument(what + ": cairn_snapshot_criteria.size is " +
                                 std::to_string(r.criteria->size) +
                                 ", smaller than ABI 2.0's " +
                                 std::to_string(kCriteriaMinSize) + " bytes");
        }
        std::memcpy(&criteria_[i], r.criteria,
                    std::min<size_t>(r.criteria->size, sizeof(criteria_[i])));
        criteria_[i].size = sizeof(criteria_[i]);
        r.criteria = &criteria_[i];
      }
      pointers_[i] = &r;
    }
    return Status::Ok();
  }
  // Full-size records (and events, criteria), in the host's order.
  const cairn_log_record* const* records() const { return pointers_.data(); }
  size_t size() const { return pointers_.size(); }

 private:
  std::vector<cairn_log_record> records_;
  std::vector<cairn_event> events_;
  std::vector<cairn_snapshot_criteria> criteria_;
  std::vector<const cairn_log_record*> pointers_;
};

// Base class of a storage plugin instance. Optional features default to
// Unsupported; declare only the capabilities you implement.
class Storage {
 public:
  virtual ~Storage() = default;

  // `batch` was loaded and checked by the adapter; `result` is full-size
  // (the adapter copies it out within the caller's size). Implementations
  // fix the revisions under the stream's order, then call batch.Seal(first
  // revision) before writing anything (cairn_seal_fn's contract).
  virtual Status Append(AppendBatch& batch, cairn_append_result* result) = 0;
  virtual Status ReadStream(std::string_view stream, uint64_t from_revision,
                            uint64_t to_revision, uint64_t max_count,
                            const EventSink& sink) = 0;
  virtual Status ReadAll(uint64_t after_position, uint64_t max_count,
                         bool include_deleted, const EventSink& sink) = 0;
  virtual Status HeadRevision(std::string_view stream, uint64_t* revision) = 0;
  virtual Status HeadPosition(uint64_t* position) = 0;
  virtual Status ListStreams(uint64_t after_ordinal, uint64_t max_count,
                             const StreamSink& sink) = 0;
  virtual Status Flush() = 0;

  virtual Status ReadTag(std::string_view, uint64_t, uint64_t,
                         const EventSink&) {
    return Unsupported("read by tag is not supported by this plugin");
  }
  virtual Status WaitCommit(uint64_t, uint32_t, uint64_t*) {
    return Unsupported("live reads are not supported by this plugin");
  }
  virtual Status DeleteTo(std::string_view, uint64_t) {
    return Unsupported("delete is not supported by this plugin");
  }
  virtual Status SnapshotSave(const cairn_snapshot&) {
    return Unsupported("snapshots are not supported by this plugin");
  }
  virtual Status SnapshotLoad(std::string_view, const cairn_snapshot_criteria&,
                              const SnapshotSink&) {
    return Unsupported("snapshots are not supported by this plugin");
  }
  virtual Status SnapshotDelete(std::string_view, uint64_t) {
    return Unsupported("snapshots are not supported by this plugin");
  }
  virtual Status SnapshotDeleteMatching(std::string_view,
                                        const cairn_snapshot_criteria&) {
    return Unsupported("snapshots are not supported by this plugin");
  }
  virtual Status Stats(const StatSink&) { return Status::Ok(); }
  // Capabilities of this instance (ANDed with the descriptor's by the host).
  virtual uint64_t InstanceCapabilities() const { return ~uint64_t{0}; }
  // Reports each problem through `problem(description)`; Corruption() if any.
  virtual Status Verify(cairn_problem_fn, void*) { return Status::Ok(); }

  // The ordered log (plugin.h, "The ordered log"): CAIRN_CAP_ORDERED_LOG.
  virtual Status ReadLog(uint64_t, uint64_t, const RecordSink&) {
    return Unsupported("the ordered log is not supported by this plugin");
  }
  // `records` were checked and copied into full-size structs (their events
  // and criteria too) by the adapter (LogBatch).
  virtual Status ApplyLog(const cairn_log_record* const*, size_t) {
    return Unsupported(
        "apply_log (replica writes) is not supported by this plugin");
  }
  // `state` is full-size; the adapter copies it out within the caller's size.
  virtual Status LogState(cairn_log_state*) {
    return Unsupported("the ordered log is not supported by this plugin");
  }
  // CAIRN_CAP_HOST_COMMIT.
  virtual Status SetCommitted(uint64_t) {
    return Unsupported("commit = host is not supported by this plugin");
  }
  // CAIRN_CAP_TRUNCATE.
  virtual Status TruncateAfter(uint64_t, uint32_t) {
    return Unsupported("truncation is not supported by this plugin");
  }
  // CAIRN_CAP_EPOCHS.
  virtual Status BeginEpoch(uint64_t, std::string_view, uint64_t*) {
    return Unsupported("epochs are not supported by this plugin");
  }
  virtual Status EpochEnd(uint64_t, uint64_t*) {
    return Unsupported("epochs are not supported by this plugin");
  }

  // Runs the plugin's maintenance now (plugin.h, maintain), reporting each
  // change through `change(context, description)`.
  virtual Status Maintain(cairn_change_fn, void*) {
    return Unsupported("this plugin has no maintenance to run");
  }
};

// Builds the C function table for a Storage subclass.
template <typename Impl>
struct StorageAdapter {
  static Storage* Self(cairn_storage* s) {
    return reinterpret_cast<Storage*>(s);
  }

  static cairn_status Open(const cairn_options* options, cairn_storage** out,
                           cairn_error* error) {
    return OpenInstance<Storage, Impl>(options, out, error);
  }
  static void Close(cairn_storage* s) { CloseInstance<Storage>(s); }
  static cairn_status Append(cairn_storage* s,
                             const cairn_append_request* request,
                             cairn_append_result* result, cairn_error* error) {
    return Guard(error, [&] {
      // One batch per thread, reused so its buffers keep their capacity (a
      // seal function may not append: cairn_seal_fn).
      thread_local AppendBatch batch;
      Status v = batch.Load(request);
      if (!v.ok()) return v;
      cairn_append_result full{};
      full.size = sizeof(full);
      v = Self(s)->Append(batch, &full);
      if (v.ok()) CopyOut(full, result);
      return v;
    });
  }
  static cairn_status ReadStream(cairn_storage* s, cairn_bytes stream,
                                 uint64_t from, uint64_t to, uint64_t max,
                                 cairn_event_fn fn, void* ctx,
                                 cairn_error* error) {
    return Guard(error, [&] {
      Status v = ValidateName(View(stream), "stream name");
      if (!v.ok()) return v;
      return Self(s)->ReadStream(View(stream), from, to, max,
                                 EventSink(fn, ctx));
    });
  }
  static cairn_status ReadTag(cairn_storage* s, cairn_bytes tag, uint64_t after,
                              uint64_t max, cairn_event_fn fn, void* ctx,
                              cairn_error* error) {
    return Guard(error, [&] {
      Status v = ValidateName(View(tag), "tag");
      if (!v.ok()) return v;
      return Self(s)->ReadTag(View(tag), after, max, EventSink(fn, ctx));
    });
  }
  static cairn_status ReadAll(cairn_storage* s, uint64_t after, uint64_t max,
                              int include_deleted, cairn_event_fn fn, void* ctx,
                              cairn_error* error) {
    return Guard(error, [&] {
      return Self(s)->ReadAll(after, max, include_deleted != 0,
                              EventSink(fn, ctx));
    });
  }
  static cairn_status HeadRevision(cairn_storage* s, cairn_bytes stream,
                                   uint64_t* revision, cairn_error* error) {
    return Guard(error, [&] {
      Status v = ValidateName(View(stream), "stream name");
      if (!v.ok()) return v;
      return Self(s)->HeadRevision(View(stream), revision);
    });
  }
  static cairn_status HeadPosition(cairn_storage* s, uint64_t* position,
                                   cairn_error* error) {
    return Guard(error, [&] { return Self(s)->HeadPosition(position); });
  }
  static cairn_status WaitCommit(cairn_storage* s, uint64_t after,
                                 uint32_t timeout_ms, uint64_t* position,
                                 cairn_error* error) {
    return Guard(error, [&] {
      return Self(s)->WaitCommit(after, timeout_ms, position);
    });
  }
  static cairn_status DeleteTo(cairn_storage* s, cairn_bytes stream,
                               uint64_t revision, cairn_error* error) {
    return Guard(error, [&] {
      Status v = ValidateName(View(stream), "stream name");
      if (!v.ok()) return v;
      return Self(s)->DeleteTo(View(stream), revision);
    });
  }
  static cairn_status SnapshotSave(cairn_storage* s, const cairn_snapshot* snap,
                                   cairn_error* error) {
    return Guard(error, [&] {
      if (snap == nullptr) return InvalidArgument("snapshot is NULL");
      Status v = ValidateName(View(snap->stream), "stream name");
      if (!v.ok()) return v;
      return Self(s)->SnapshotSave(*snap);
    });
  }
  static cairn_status SnapshotLoad(cairn_storage* s, cairn_bytes stream,
                                   const cairn_snapshot_criteria* criteria,
                                   cairn_snapshot_fn fn, void* ctx,
                                   cairn_error* error) {
    return Guard(error, [&] {
      Status v = ValidateName(View(stream), "stream name");
      if (!v.ok()) return v;
      if (criteria == nullptr) return InvalidArgument("criteria is NULL");
      return Self(s)->SnapshotLoad(View(stream), *criteria,
                                   SnapshotSink(fn, ctx));
    });
  }
  static cairn_status SnapshotDelete(cairn_storage* s, cairn_bytes stream,
                                     uint64_t revision, cairn_error* error) {
    return Guard(error, [&] {
      Status v = ValidateName(View(stream), "stream name");
      if (!v.ok()) return v;
      return Self(s)->SnapshotDelete(View(stream), revision);
    });
  }
  static cairn_status SnapshotDeleteMatching(
      cairn_storage* s, cairn_bytes stream,
      const cairn_snapshot_criteria* criteria, cairn_error* error) {
    return Guard(error, [&] {
      Status v = ValidateName(View(stream), "stream name");
      if (!v.ok()) return v;
      if (criteria == nullptr) return InvalidArgument("criteria is NULL");
      return Self(s)->SnapshotDeleteMatching(View(stream), *criteria);
    });
  }
  static cairn_status ListStreams(cairn_storage* s, uint64_t after,
                                  uint64_t max, cairn_stream_fn fn, void* ctx,
                                  cairn_error* error) {
    return Guard(error, [&] {
      return Self(s)->ListStreams(after, max, StreamSink(fn, ctx));
    });
  }
  static cairn_status Flush(cairn_storage* s, cairn_error* error) {
    return Guard(error, [&] { return Self(s)->Flush(); });
  }
  static cairn_status Stats(cairn_storage* s, cairn_stat_fn fn, void* ctx,
                            cairn_error* error) {
    return Guard(error, [&] { return Self(s)->Stats(StatSink(fn, ctx)); });
  }
  static uint64_t InstanceCapabilities(cairn_storage* s) {
    try {
      return Self(s)->InstanceCapabilities();
    } catch (...) {
      return ~uint64_t{0};
    }
  }

  static cairn_status Verify(cairn_storage* s, cairn_problem_fn fn, void* ctx,
                             cairn_error* error) {
    return Guard(error, [&] { return Self(s)->Verify(fn, ctx); });
  }

  static cairn_status ReadLog(cairn_storage* s, uint64_t after, uint64_t max,
                              cairn_record_fn fn, void* ctx,
                              cairn_error* error) {
    return Guard(error, [&] {
      return Self(s)->ReadLog(after, max, RecordSink(fn, ctx));
    });
  }
  static cairn_status ApplyLog(cairn_storage* s,
                               const cairn_log_record* const* records,
                               size_t count, cairn_error* error) {
    return Guard(error, [&] {
      LogBatch batch;
      Status v = batch.Load(records, count);
      if (!v.ok()) return v;
      return Self(s)->ApplyLog(batch.records(), batch.size());
    });
  }
  static cairn_status LogState(cairn_storage* s, cairn_log_state* state,
                               cairn_error* error) {
    return Guard(error, [&] {
      if (state == nullptr) return InvalidArgument("state is NULL");
      cairn_log_state full{};
      full.size = sizeof(full);
      Status v = Self(s)->LogState(&full);
      if (v.ok()) CopyOut(full, state);
      return v;
    });
  }
  static cairn_status SetCommitted(cairn_storage* s, uint64_t position,
                                   cairn_error* error) {
    return Guard(error, [&] { return Self(s)->SetCommitted(position); });
  }
  static cairn_status TruncateAfter(cairn_storage* s, uint64_t position,
                                    uint32_t flags, cairn_error* error) {
    return Guard(error,
                 [&] { return Self(s)->TruncateAfter(position, flags); });
  }
  static cairn_status BeginEpoch(cairn_storage* s, uint64_t epoch,
                                 cairn_bytes primary, uint64_t* position,
                                 cairn_error* error) {
    return Guard(error, [&] {
      uint64_t ignored = 0;
      return Self(s)->BeginEpoch(epoch, View(primary),
                                 position != nullptr ? position : &ignored);
    });
  }
  static cairn_status EpochEnd(cairn_storage* s, uint64_t epoch,
                               uint64_t* position, cairn_error* error) {
    return Guard(error, [&] {
      if (position == nullptr) return InvalidArgument("position is NULL");
      return Self(s)->EpochEnd(epoch, position);
    });
  }

  static cairn_status Maintain(cairn_storage* s, cairn_change_fn fn, void* ctx,
                               cairn_error* error) {
    return Guard(error, [&] { return Self(s)->Maintain(fn, ctx); });
  }

  static const cairn_storage_api* Table() {
    static const cairn_storage_api table = {sizeof(cairn_storage_api),
                                            &Open,
                                            &Close,
                                            &Append,
                                            &ReadStream,
                                            &ReadTag,
                                            &ReadAll,
                                            &HeadRevision,
                                            &HeadPosition,
                                            &WaitCommit,
                                            &DeleteTo,
                                            &SnapshotSave,
                                            &SnapshotLoad,
                                            &SnapshotDelete,
                                            &SnapshotDeleteMatching,
                                            &ListStreams,
                                            &Flush,
                                            &Stats,
                                            &Verify,
                                            &InstanceCapabilities,
                                            &ReadLog,
                                            &ApplyLog,
                                            &LogState,
                                            &SetCommitted,
                                            &TruncateAfter,
                                            &BeginEpoch,
                                            &EpochEnd,
                                            &Maintain};
    return &table;
  }
};

}  // namespace cairn::sdk

// Declares the plugin: class, name, version, description, capabilities, then
// the options open() accepts (none, or cairn::sdk::OptionDesc(...) each).
#define CAIRN_STORAGE_PLUGIN(Class, name, version, description, ...)     \
  CAIRN_SDK_DESCRIBE(CAIRN_KIND_STORAGE,                                 \
                     ::cairn::sdk::StorageAdapter<Class>::Table(), name, \
                     version, description, __VA_ARGS__)

#endif  // CAIRN_SDK_STORAGE_HPP_
