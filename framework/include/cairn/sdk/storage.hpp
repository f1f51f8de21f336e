// SDK for storage plugins: derive from cairn::sdk::Storage, then
//
//   CAIRN_STORAGE_PLUGIN(MyStorage, "my-storage", "1.0.0", "what it is",
//                        CAIRN_CAP_PERSISTENT | CAIRN_CAP_TAGS, "path", "fsync")
//
// MyStorage must provide
//   static cairn::sdk::Status Open(const cairn::sdk::Options& options,
//                                  std::unique_ptr<MyStorage>* out);
// The macro defines the function table and the exported entry. Every call is
// guarded: an exception becomes CAIRN_E_INTERNAL, never a crash in the host.
#ifndef CAIRN_SDK_STORAGE_HPP_
#define CAIRN_SDK_STORAGE_HPP_

#include <cairn/sdk/common.hpp>

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

// Checks every name in an append batch.
inline Status ValidateAppend(std::string_view stream, const cairn_event* events,
                             size_t count) {
  Status s = ValidateName(stream, "stream name");
  if (!s.ok()) return s;
  if (count != 0 && events == nullptr) {
    return InvalidArgument("append: events is NULL with a count of " +
                           std::to_string(count));
  }
  for (size_t i = 0; i < count; ++i) {
    if (events[i].tag_count != 0 && events[i].tags == nullptr) {
      return InvalidArgument("append: event " + std::to_string(i) +
                             " has tag_count " +
                             std::to_string(events[i].tag_count) +
                             " but tags is NULL");
    }
    for (uint32_t t = 0; t < events[i].tag_count; ++t) {
      s = ValidateName(View(events[i].tags[t]), "tag");
      if (!s.ok()) return s;
    }
  }
  return Status::Ok();
}

// Base class of a storage plugin instance. Optional features default to
// Unsupported; declare only the capabilities you implement.
class Storage {
 public:
  virtual ~Storage() = default;

  virtual Status Append(std::string_view stream, cairn_expected expected,
                        const cairn_event* events, size_t count,
                        cairn_append_result* result) = 0;
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
  virtual Status Apply(const cairn_event*, size_t) {
    return Unsupported("apply (replica writes) is not supported by this plugin");
  }
  // Reports each problem through `problem(description)`; Corruption() if any.
  virtual Status Verify(cairn_problem_fn, void*) { return Status::Ok(); }
};

// Builds the C function table for a Storage subclass.
template <typename Impl>
struct StorageAdapter {
  static Storage* Self(cairn_storage* s) { return reinterpret_cast<Storage*>(s); }

  static cairn_status Open(const cairn_options* options, cairn_storage** out,
                           cairn_error* error) {
    return OpenInstance<Storage, Impl>(options, out, error);
  }
  static void Close(cairn_storage* s) { CloseInstance<Storage>(s); }
  static cairn_status Append(cairn_storage* s, cairn_bytes stream,
                             cairn_expected expected, const cairn_event* events,
                             size_t count, cairn_append_result* result,
                             cairn_error* error) {
    return Guard(error, [&] {
      Status v = ValidateAppend(View(stream), events, count);
      if (!v.ok()) return v;
      return Self(s)->Append(View(stream), expected, events, count, result);
    });
  }
  static cairn_status ReadStream(cairn_storage* s, cairn_bytes stream,
                                 uint64_t from, uint64_t to, uint64_t max,
                                 cairn_event_fn fn, void* ctx,
                                 cairn_error* error) {
    return Guard(error, [&] {
      Status v = ValidateName(View(stream), "stream name");
      if (!v.ok()) return v;
      return Self(s)->ReadStream(View(stream), from, to, max, EventSink(fn, ctx));
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
                              int include_deleted, cairn_event_fn fn,
                              void* ctx, cairn_error* error) {
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
  static cairn_status Apply(cairn_storage* s, const cairn_event* events,
                            size_t count, cairn_error* error) {
    return Guard(error, [&] { return Self(s)->Apply(events, count); });
  }

  static cairn_status Verify(cairn_storage* s, cairn_problem_fn fn, void* ctx,
                             cairn_error* error) {
    return Guard(error, [&] { return Self(s)->Verify(fn, ctx); });
  }

  static const cairn_storage_api* Table() {
    static const cairn_storage_api table = {
        sizeof(cairn_storage_api), &Open,        &Close,
        &Append,                   &ReadStream,  &ReadTag,
        &ReadAll,                  &HeadRevision, &HeadPosition,
        &WaitCommit,               &DeleteTo,    &SnapshotSave,
        &SnapshotLoad,             &SnapshotDelete, &SnapshotDeleteMatching,
        &ListStreams,              &Flush,       &Stats,
        &Apply,                    &Verify};
    return &table;
  }
};

}  // namespace cairn::sdk

// Declares the plugin: class, name, version, description, capabilities, then
// the option keys open() accepts (none, one or several string literals).
#define CAIRN_STORAGE_PLUGIN(Class, name, version, description, caps, ...) \
  CAIRN_SDK_DESCRIBE(CAIRN_KIND_STORAGE,                                \
                     ::cairn::sdk::StorageAdapter<Class>::Table(), name, \
                     version, description, caps, __VA_ARGS__)

#endif  // CAIRN_SDK_STORAGE_HPP_
