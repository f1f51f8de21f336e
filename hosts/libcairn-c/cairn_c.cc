// libcairn-c: the C API of cairn/cairn.h over cairn::Store.
//
// Every exported function catches everything: no C++ exception crosses the
// C boundary. Each store owns its own PluginRegistry with the built-ins
// registered, so two stores in one process do not share plugin state.
#include <cairn/builtins.h>
#include <cairn/cairn.h>
#include <cairn/config.h>
#include <cairn/plugin_search.h>
#include <cairn/status.h>
#include <cairn/store.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstring>
#include <deque>
#include <exception>
#include <memory>
#include <new>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

struct cairn_store {
  std::unique_ptr<cairn::PluginRegistry> registry;
  std::unique_ptr<cairn::Store> store;
};

struct cairn_subscription {
  std::unique_ptr<cairn::Subscription> cursor;
  // Events fetched from the cursor but not yet handed to the caller (its
  // callback asked to stop); they come first on the next call, so the
  // visible cursor is the last event the caller received.
  std::deque<cairn::RecordedEvent> pending;
  uint64_t delivered_cursor = 0;
  cairn::SubscriptionFilter::Kind kind;
};

namespace {

void SetError(cairn_error* error, std::string_view message) {
  if (error == nullptr || error->message == nullptr || error->capacity == 0) {
    return;
  }
  size_t n = std::min(message.size(), error->capacity - 1);
  // An empty view may have a null data(): memcpy from null is undefined
  // even for 0 bytes (UBSan: nonnull-attribute).
  if (n > 0) std::memcpy(error->message, message.data(), n);
  error->message[n] = '\0';
}

void ClearError(cairn_error* error) { SetError(error, {}); }

cairn_status Fail(cairn_error* error, cairn_status code,
                  std::string_view message) {
  SetError(error, message);
  return code;
}

cairn_status FromStatus(const absl::Status& status, cairn_error* error) {
  if (status.ok()) {
    ClearError(error);
    return CAIRN_OK;
  }
  cairn_status code = cairn::CodeOf(status);
  if (code == CAIRN_OK) code = CAIRN_E_INTERNAL;
  SetError(error, std::string_view(status.message().data(),
                                   status.message().size()));
  return code;
}

// Runs `body`, turning an escaping exception into a status.
template <typename Body>
cairn_status Guard(cairn_error* error, Body&& body) {
  try {
    return body();
  } catch (const std::bad_alloc&) {
    return Fail(error, CAIRN_E_RESOURCE_EXHAUSTED, "out of memory");
  } catch (const std::exception& e) {
    return Fail(error, CAIRN_E_INTERNAL,
                absl::StrCat("libcairn-c: unexpected exception: ", e.what()));
  } catch (...) {
    return Fail(error, CAIRN_E_INTERNAL, "libcairn-c: unexpected exception");
  }
}

std::string_view View(cairn_bytes s) {
  return s.data == nullptr
             ? std::string_view()
             : std::string_view(reinterpret_cast<const char*>(s.data), s.size);
}

cairn_bytes Str(const std::string& s) {
  return cairn_bytes{reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

// Checks a (pointer, length) argument: a NULL pointer needs length 0.
bool ValidStr(cairn_bytes s) { return s.data != nullptr || s.size == 0; }

#define CAIRN_C_REQUIRE(cond, message)                          \
  do {                                                          \
    if (!(cond)) return Fail(error, CAIRN_E_INVALID_ARGUMENT, message); \
  } while (0)

// Calls `on_event` with a view of `ev`; returns what it returned (0: go on).
int Deliver(const cairn::RecordedEvent& ev, cairn_event_fn on_event,
            void* context, std::vector<cairn_bytes>& tag_views) {
  tag_views.clear();
  for (const std::string& t : ev.tags) tag_views.push_back(Str(t));
  cairn_event out{};
  out.size = sizeof(cairn_event);
  out.tag_count = static_cast<uint32_t>(tag_views.size());
  out.stream = Str(ev.stream);
  out.revision = ev.revision;
  out.position = ev.position;
  out.type = Str(ev.type);
  out.timestamp_us = ev.timestamp_us;
  out.writer = Str(ev.writer);
  out.metadata = Str(ev.metadata);
  out.data = Str(ev.data);
  out.tags = tag_views.empty() ? nullptr : tag_views.data();
  return on_event(context, &out);
}

cairn::Store::EventFn Forward(cairn_event_fn on_event, void* context,
                              std::vector<cairn_bytes>* tag_views) {
  return [on_event, context, tag_views](const cairn::RecordedEvent& ev) {
    return Deliver(ev, on_event, context, *tag_views) == 0;
  };
}

cairn::SnapshotCriteria Criteria(const cairn_snapshot_criteria* c) {
  cairn::SnapshotCriteria out;
  if (c != nullptr) {
    out.min_revision = c->min_revision;
    out.max_revision = c->max_revision;
    out.min_timestamp_us = c->min_timestamp_us;
    out.max_timestamp_us = c->max_timestamp_us;
  }
  return out;
}

}  // namespace

extern "C" {

uint32_t cairn_c_abi_version(void) {
  return (static_cast<uint32_t>(CAIRN_C_ABI_MAJOR) << 16) | CAIRN_C_ABI_MINOR;
}

const char* cairn_c_describe(void) {
  static const std::string* text = [] {
    return new std::string(absl::StrCat(
        "Cairn libcairn-c ", CAIRN_C_ABI_MAJOR, ".", CAIRN_C_ABI_MINOR,
        " (plugin ABI ", CAIRN_ABI_MAJOR, ".", CAIRN_ABI_MINOR,
        "); built-in plugins: ",
        absl::StrJoin(cairn::BuiltinPluginNames(), ", ")));
  }();
  return text->c_str();
}

const char* cairn_c_status_name(cairn_status code) {
  return cairn::CodeName(code);
}

cairn_status cairn_store_open(const char* site_file,
                              const char* const* overrides,
                              size_t override_count, cairn_store** store,
                              cairn_error* error) {
  return Guard(error, [&]() -> cairn_status {
    CAIRN_C_REQUIRE(store != nullptr, "cairn_store_open: store is NULL");
    *store = nullptr;
    CAIRN_C_REQUIRE(overrides != nullptr || override_count == 0,
                    "cairn_store_open: overrides is NULL but override_count "
                    "is not 0");
    cairn::SiteConfig config;
    if (site_file != nullptr) {
      absl::StatusOr<cairn::SiteConfig> loaded =
          cairn::SiteConfig::LoadFile(site_file);
      if (!loaded.ok()) return FromStatus(loaded.status(), error);
      config = *std::move(loaded);
    }
    for (size_t i = 0; i < override_count; ++i) {
      if (overrides[i] == nullptr) {
        return Fail(error, CAIRN_E_INVALID_ARGUMENT,
                    absl::StrCat("cairn_store_open: override ", i,
                                 " is NULL; give \"section.key=value\""));
      }
      absl::Status s = config.Override(overrides[i]);
      if (!s.ok()) return FromStatus(s, error);
    }
    auto handle = std::make_unique<cairn_store>();
    handle->registry = std::make_unique<cairn::PluginRegistry>();
    absl::Status s = cairn::RegisterBuiltinPlugins(*handle->registry);
    if (!s.ok()) return FromStatus(s, error);
    // The search order every host uses (cairn/plugin_search.h); a C
    // caller has no flag: $CAIRN_PLUGIN_DIR, [store] plugin-dirs, the
    // installed folder, the build tree's.
    cairn::PluginSearchInputs search;
    search.site_dirs = config.plugin_dirs;
    absl::StatusOr<std::vector<std::string>> folders =
        cairn::PluginSearchPaths(search);
    if (!folders.ok()) return FromStatus(folders.status(), error);
    config.plugin_dirs = *std::move(folders);
    for (const std::string& dir : config.plugin_dirs) {
      handle->registry->AddSearchDir(dir);
    }
    absl::StatusOr<std::unique_ptr<cairn::Store>> opened =
        cairn::Store::Open(config, *handle->registry);
    if (!opened.ok()) return FromStatus(opened.status(), error);
    handle->store = *std::move(opened);
    *store = handle.release();
    ClearError(error);
    return CAIRN_OK;
  });
}

void cairn_store_close(cairn_store* store) {
  try {
    delete store;
  } catch (...) {
    // A destructor that throws has nowhere to report; the store is gone.
  }
}

cairn_status cairn_store_flush(cairn_store* store, cairn_error* error) {
  return Guard(error, [&]() -> cairn_status {
    CAIRN_C_REQUIRE(store != nullptr, "cairn_store_flush: store is NULL");
    return FromStatus(store->store->Flush(), error);
  });
}

extern "C++" {
namespace {

// cairn_append and cairn_append_events: `event(i)` gives the i-th event.
template <typename EventAt>
cairn_status AppendBatch(const char* fn, cairn_store* store, cairn_bytes stream,
                         cairn_expected_kind expected_kind,
                         uint64_t expected_revision, bool events_null,
                         size_t count, EventAt event,
                         cairn_append_result* result, cairn_error* error) {
  return Guard(error, [&]() -> cairn_status {
    CAIRN_C_REQUIRE(store != nullptr, absl::StrCat(fn, ": store is NULL"));
    CAIRN_C_REQUIRE(ValidStr(stream), absl::StrCat(fn, ": stream is NULL"));
    CAIRN_C_REQUIRE(!events_null || count == 0,
                    absl::StrCat(fn, ": events is NULL but count is not 0"));
    cairn::ExpectedRevision expected = cairn::ExpectedRevision::Any();
    // A foreign caller may pass any integer; reading it as the enum type
    // would be undefined for values outside the enum (UBSan: enum), so copy
    // its bytes into the underlying integer.
    std::underlying_type_t<cairn_expected_kind> kind;
    std::memcpy(&kind, &expected_kind, sizeof(kind));
    switch (kind) {
      case CAIRN_EXPECT_ANY:
        break;
      case CAIRN_EXPECT_NO_STREAM:
        expected = cairn::ExpectedRevision::NoStream();
        break;
      case CAIRN_EXPECT_EXACT:
        expected = cairn::ExpectedRevision::Exact(expected_revision);
        break;
      default:
        return Fail(
            error, CAIRN_E_INVALID_ARGUMENT,
            absl::StrCat(fn, ": expected_kind ", static_cast<int64_t>(kind),
                         " is not ANY (0), NO_STREAM (1) or EXACT (2)"));
    }
    std::vector<cairn::EventData> batch(count);
    for (size_t i = 0; i < count; ++i) {
      const cairn_event* at = event(i);
      if (at == nullptr) {
        return Fail(error, CAIRN_E_INVALID_ARGUMENT,
                    absl::StrCat(fn, ": event ", i, " is NULL"));
      }
      const cairn_event& in = *at;
      if (in.size < sizeof(cairn_event)) {
        return Fail(
            error, CAIRN_E_INVALID_ARGUMENT,
            absl::StrCat(fn, ": event ", i, " has size ", in.size,
                         ", smaller than cairn_event (", sizeof(cairn_event),
                         "); set size = sizeof(cairn_event)"));
      }
      if (!ValidStr(in.type) || !ValidStr(in.data) || !ValidStr(in.metadata) ||
          !ValidStr(in.writer) || (in.tags == nullptr && in.tag_count != 0)) {
        return Fail(error, CAIRN_E_INVALID_ARGUMENT,
                    absl::StrCat(fn, ": event ", i,
                                 " has a NULL pointer with a non-zero length"));
      }
      cairn::EventData& out = batch[i];
      out.type = std::string(View(in.type));
      out.data = std::string(View(in.data));
      out.metadata = std::string(View(in.metadata));
      out.writer = std::string(View(in.writer));
      out.timestamp_us = in.timestamp_us;
      out.tags.reserve(in.tag_count);
      for (uint32_t t = 0; t < in.tag_count; ++t) {
        if (!ValidStr(in.tags[t])) {
          return Fail(error, CAIRN_E_INVALID_ARGUMENT,
                      absl::StrCat(fn, ": event ", i, " tag ", t,
                                   " is NULL with a non-zero length"));
        }
        out.tags.emplace_back(View(in.tags[t]));
      }
    }
    absl::StatusOr<cairn::AppendResult> appended =
        store->store->Append(View(stream), expected, batch);
    if (!appended.ok()) return FromStatus(appended.status(), error);
    // Written only as far as the caller's size declares.
    CAIRN_SET_FIELD(cairn_append_result, result, first_revision,
                    appended->first_revision);
    CAIRN_SET_FIELD(cairn_append_result, result, last_revision,
                    appended->last_revision);
    CAIRN_SET_FIELD(cairn_append_result, result, first_position,
                    appended->first_position);
    CAIRN_SET_FIELD(cairn_append_result, result, last_position,
                    appended->last_position);
    ClearError(error);
    return CAIRN_OK;
  });
}

}  // namespace
}  // extern "C++"

cairn_status cairn_append_events(cairn_store* store, cairn_bytes stream,
                                 cairn_expected_kind expected_kind,
                                 uint64_t expected_revision,
                                 const cairn_event* const* events, size_t count,
                                 cairn_append_result* result,
                                 cairn_error* error) {
  return AppendBatch(
      "cairn_append_events", store, stream, expected_kind, expected_revision,
      events == nullptr, count, [&](size_t i) { return events[i]; }, result,
      error);
}

cairn_status cairn_append(cairn_store* store, cairn_bytes stream,
                          cairn_expected_kind expected_kind,
                          uint64_t expected_revision, const cairn_event* events,
                          size_t count, cairn_append_result* result,
                          cairn_error* error) {
  return AppendBatch(
      "cairn_append", store, stream, expected_kind, expected_revision,
      events == nullptr, count, [&](size_t i) { return &events[i]; }, result,
      error);
}

cairn_status cairn_read_stream(cairn_store* store, cairn_bytes stream,
                               uint64_t from_revision, uint64_t to_revision,
                               uint64_t max_count, cairn_event_fn on_event,
                               void* context, cairn_error* error) {
  return Guard(error, [&]() -> cairn_status {
    CAIRN_C_REQUIRE(store != nullptr, "cairn_read_stream: store is NULL");
    CAIRN_C_REQUIRE(ValidStr(stream), "cairn_read_stream: stream is NULL");
    CAIRN_C_REQUIRE(on_event != nullptr, "cairn_read_stream: on_event is NULL");
    if (max_count == 0 || from_revision > to_revision) {
      ClearError(error);
      return CAIRN_OK;
    }
    std::vector<cairn_bytes> tags;
    return FromStatus(
        store->store->ReadStream(View(stream), from_revision, to_revision,
                                 max_count, Forward(on_event, context, &tags)),
        error);
  });
}

cairn_status cairn_read_tag(cairn_store* store, cairn_bytes tag,
                            uint64_t after_position, uint64_t max_count,
                            cairn_event_fn on_event, void* context,
                            cairn_error* error) {
  return Guard(error, [&]() -> cairn_status {
    CAIRN_C_REQUIRE(store != nullptr, "cairn_read_tag: store is NULL");
    CAIRN_C_REQUIRE(ValidStr(tag), "cairn_read_tag: tag is NULL");
    CAIRN_C_REQUIRE(on_event != nullptr, "cairn_read_tag: on_event is NULL");
    if (max_count == 0) {
      ClearError(error);
      return CAIRN_OK;
    }
    std::vector<cairn_bytes> tags;
    return FromStatus(store->store->ReadTag(View(tag), after_position, max_count,
                                            Forward(on_event, context, &tags)),
                      error);
  });
}

cairn_status cairn_read_all(cairn_store* store, uint64_t after_position,
                            uint64_t max_count, cairn_event_fn on_event,
                            void* context, cairn_error* error) {
  return Guard(error, [&]() -> cairn_status {
    CAIRN_C_REQUIRE(store != nullptr, "cairn_read_all: store is NULL");
    CAIRN_C_REQUIRE(on_event != nullptr, "cairn_read_all: on_event is NULL");
    if (max_count == 0) {
      ClearError(error);
      return CAIRN_OK;
    }
    std::vector<cairn_bytes> tags;
    return FromStatus(store->store->ReadAll(after_position, max_count,
                                            Forward(on_event, context, &tags)),
                      error);
  });
}

cairn_status cairn_head_revision(cairn_store* store, cairn_bytes stream,
                                 uint64_t* revision, cairn_error* error) {
  return Guard(error, [&]() -> cairn_status {
    CAIRN_C_REQUIRE(store != nullptr, "cairn_head_revision: store is NULL");
    CAIRN_C_REQUIRE(ValidStr(stream), "cairn_head_revision: stream is NULL");
    CAIRN_C_REQUIRE(revision != nullptr, "cairn_head_revision: revision is NULL");
    absl::StatusOr<uint64_t> head = store->store->HeadRevision(View(stream));
    if (!head.ok()) return FromStatus(head.status(), error);
    *revision = *head;
    ClearError(error);
    return CAIRN_OK;
  });
}

cairn_status cairn_head_position(cairn_store* store, uint64_t* position,
                                 cairn_error* error) {
  return Guard(error, [&]() -> cairn_status {
    CAIRN_C_REQUIRE(store != nullptr, "cairn_head_position: store is NULL");
    CAIRN_C_REQUIRE(position != nullptr, "cairn_head_position: position is NULL");
    absl::StatusOr<uint64_t> head = store->store->HeadPosition();
    if (!head.ok()) return FromStatus(head.status(), error);
    *position = *head;
    ClearError(error);
    return CAIRN_OK;
  });
}

cairn_status cairn_store_leader(cairn_store* store, cairn_leader_info* info,
                                cairn_error* error) {
  return Guard(error, [&]() -> cairn_status {
    CAIRN_C_REQUIRE(store != nullptr, "cairn_store_leader: store is NULL");
    CAIRN_C_REQUIRE(info != nullptr, "cairn_store_leader: info is NULL");
    CAIRN_C_REQUIRE(info->size >= offsetof(cairn_leader_info, node),
                    "cairn_store_leader: info->size is below the fixed "
                    "fields; set it to sizeof(cairn_leader_info)");
    const cairn::LeaderInfo leader = store->store->Leader();
    info->role = static_cast<uint32_t>(leader.role);
    info->epoch = leader.epoch;
    info->known = leader.known ? 1 : 0;
    // The arrays only if `size` covers them whole (cairn/plugin.h).
    auto copy = [](char* to, size_t capacity, const std::string& from) {
      size_t n = std::min(from.size(), capacity - 1);
      std::memcpy(to, from.data(), n);
      to[n] = '\0';
    };
    if (info->size >= offsetof(cairn_leader_info, node) + sizeof(info->node)) {
      copy(info->node, sizeof(info->node), leader.node);
    }
    if (info->size >= sizeof(cairn_leader_info)) {
      copy(info->address, sizeof(info->address), leader.address);
    }
    ClearError(error);
    return CAIRN_OK;
  });
}

cairn_status cairn_delete_to(cairn_store* store, cairn_bytes stream,
                             uint64_t revision, cairn_error* error) {
  return Guard(error, [&]() -> cairn_status {
    CAIRN_C_REQUIRE(store != nullptr, "cairn_delete_to: store is NULL");
    CAIRN_C_REQUIRE(ValidStr(stream), "cairn_delete_to: stream is NULL");
    // The store's contract is "revisions <= N"; a caller deleting
    // "everything" (Akka passes long.MaxValue) gets the head.
    absl::StatusOr<uint64_t> head = store->store->HeadRevision(View(stream));
    if (!head.ok()) return FromStatus(head.status(), error);
    uint64_t to = std::min(revision, *head);
    if (to == 0) {
      ClearError(error);
      return CAIRN_OK;
    }
    return FromStatus(store->store->DeleteTo(View(stream), to), error);
  });
}

cairn_status cairn_list_streams(cairn_store* store, uint64_t after_ordinal,
                                uint64_t max_count, cairn_stream_fn on_stream,
                                void* context, cairn_error* error) {
  return Guard(error, [&]() -> cairn_status {
    CAIRN_C_REQUIRE(store != nullptr, "cairn_list_streams: store is NULL");
    CAIRN_C_REQUIRE(on_stream != nullptr, "cairn_list_streams: on_stream is NULL");
    if (max_count == 0) {
      ClearError(error);
      return CAIRN_OK;
    }
    absl::StatusOr<std::vector<cairn::StreamInfo>> streams =
        store->store->ListStreams(after_ordinal, max_count);
    if (!streams.ok()) return FromStatus(streams.status(), error);
    for (const cairn::StreamInfo& info : *streams) {
      cairn_stream_info out{sizeof(cairn_stream_info), Str(info.name),
                            info.ordinal, info.head_revision, info.deleted_to};
      if (on_stream(context, &out) != 0) break;
    }
    ClearError(error);
    return CAIRN_OK;
  });
}

cairn_snapshot_criteria cairn_snapshot_criteria_all(void) {
  cairn::SnapshotCriteria all;
  return cairn_snapshot_criteria{sizeof(cairn_snapshot_criteria),
                                 all.min_revision, all.max_revision,
                                 all.min_timestamp_us, all.max_timestamp_us};
}

cairn_status cairn_snapshot_save(cairn_store* store, cairn_bytes stream,
                                 uint64_t revision, int64_t timestamp_us,
                                 cairn_bytes data, cairn_error* error) {
  return Guard(error, [&]() -> cairn_status {
    CAIRN_C_REQUIRE(store != nullptr, "cairn_snapshot_save: store is NULL");
    CAIRN_C_REQUIRE(ValidStr(stream) && ValidStr(data),
                    "cairn_snapshot_save: stream or data is NULL with a "
                    "non-zero length");
    cairn::Snapshot snapshot;
    snapshot.stream = std::string(View(stream));
    snapshot.revision = revision;
    snapshot.timestamp_us = timestamp_us;
    snapshot.data = std::string(View(data));
    return FromStatus(store->store->SaveSnapshot(snapshot), error);
  });
}

cairn_status cairn_snapshot_load(cairn_store* store, cairn_bytes stream,
                                 const cairn_snapshot_criteria* criteria,
                                 cairn_snapshot_fn on_snapshot, void* context,
                                 int* found, cairn_error* error) {
  return Guard(error, [&]() -> cairn_status {
    if (found != nullptr) *found = 0;
    CAIRN_C_REQUIRE(store != nullptr, "cairn_snapshot_load: store is NULL");
    CAIRN_C_REQUIRE(ValidStr(stream), "cairn_snapshot_load: stream is NULL");
    CAIRN_C_REQUIRE(criteria == nullptr ||
                        criteria->size >= sizeof(cairn_snapshot_criteria),
                    "cairn_snapshot_load: criteria->size is smaller than "
                    "sizeof(cairn_snapshot_criteria); start from "
                    "cairn_snapshot_criteria_all()");
    CAIRN_C_REQUIRE(on_snapshot != nullptr,
                    "cairn_snapshot_load: on_snapshot is NULL");
    absl::StatusOr<std::optional<cairn::Snapshot>> loaded =
        store->store->LoadSnapshot(View(stream), Criteria(criteria));
    if (!loaded.ok()) return FromStatus(loaded.status(), error);
    if (loaded->has_value()) {
      const cairn::Snapshot& s = **loaded;
      cairn_snapshot out{sizeof(cairn_snapshot), Str(s.stream), s.revision,
                         s.timestamp_us, Str(s.data)};
      if (found != nullptr) *found = 1;
      on_snapshot(context, &out);
    }
    ClearError(error);
    return CAIRN_OK;
  });
}

cairn_status cairn_snapshot_delete(cairn_store* store, cairn_bytes stream,
                                   uint64_t revision, cairn_error* error) {
  return Guard(error, [&]() -> cairn_status {
    CAIRN_C_REQUIRE(store != nullptr, "cairn_snapshot_delete: store is NULL");
    CAIRN_C_REQUIRE(ValidStr(stream), "cairn_snapshot_delete: stream is NULL");
    return FromStatus(store->store->DeleteSnapshot(View(stream), revision),
                      error);
  });
}

cairn_status cairn_snapshot_delete_matching(
    cairn_store* store, cairn_bytes stream,
    const cairn_snapshot_criteria* criteria, cairn_error* error) {
  return Guard(error, [&]() -> cairn_status {
    CAIRN_C_REQUIRE(store != nullptr,
                    "cairn_snapshot_delete_matching: store is NULL");
    CAIRN_C_REQUIRE(ValidStr(stream),
                    "cairn_snapshot_delete_matching: stream is NULL");
    CAIRN_C_REQUIRE(criteria == nullptr ||
                        criteria->size >= sizeof(cairn_snapshot_criteria),
                    "cairn_snapshot_delete_matching: criteria->size is smaller than "
                    "sizeof(cairn_snapshot_criteria); start from "
                    "cairn_snapshot_criteria_all()");
    return FromStatus(
        store->store->DeleteSnapshots(View(stream), Criteria(criteria)), error);
  });
}

cairn_status cairn_subscribe(cairn_store* store, cairn_subscription_kind kind,
                             cairn_bytes name, uint64_t after,
                             cairn_subscription** subscription,
                             cairn_error* error) {
  return Guard(error, [&]() -> cairn_status {
    CAIRN_C_REQUIRE(subscription != nullptr,
                    "cairn_subscribe: subscription is NULL");
    *subscription = nullptr;
    CAIRN_C_REQUIRE(store != nullptr, "cairn_subscribe: store is NULL");
    CAIRN_C_REQUIRE(ValidStr(name), "cairn_subscribe: name is NULL");
    cairn::SubscriptionFilter filter;
    switch (kind) {
      case CAIRN_SUBSCRIBE_STREAM:
        filter.kind = cairn::SubscriptionFilter::Kind::kStream;
        break;
      case CAIRN_SUBSCRIBE_TAG:
        filter.kind = cairn::SubscriptionFilter::Kind::kTag;
        break;
      case CAIRN_SUBSCRIBE_ALL:
        filter.kind = cairn::SubscriptionFilter::Kind::kAll;
        break;
      default:
        return Fail(error, CAIRN_E_INVALID_ARGUMENT,
                    absl::StrCat("cairn_subscribe: kind ",
                                 static_cast<int>(kind),
                                 " is not STREAM (0), TAG (1) or ALL (2)"));
    }
    if (kind != CAIRN_SUBSCRIBE_ALL && name.size == 0) {
      return Fail(error, CAIRN_E_INVALID_ARGUMENT,
                  kind == CAIRN_SUBSCRIBE_STREAM
                      ? "cairn_subscribe: a stream subscription needs a "
                        "stream name"
                      : "cairn_subscribe: a tag subscription needs a tag");
    }
    filter.name = std::string(View(name));
    filter.after = after;
    auto handle = std::make_unique<cairn_subscription>();
    handle->kind = filter.kind;
    handle->delivered_cursor = after;
    handle->cursor = store->store->Subscribe(std::move(filter));
    *subscription = handle.release();
    ClearError(error);
    return CAIRN_OK;
  });
}

cairn_status cairn_subscription_next(cairn_subscription* subscription,
                                     size_t max_count, uint32_t timeout_ms,
                                     cairn_event_fn on_event, void* context,
                                     size_t* delivered, cairn_error* error) {
  return Guard(error, [&]() -> cairn_status {
    if (delivered != nullptr) *delivered = 0;
    CAIRN_C_REQUIRE(subscription != nullptr,
                    "cairn_subscription_next: subscription is NULL");
    CAIRN_C_REQUIRE(on_event != nullptr,
                    "cairn_subscription_next: on_event is NULL");
    if (max_count == 0 || subscription->cursor->cancelled()) {
      ClearError(error);
      return CAIRN_OK;
    }
    if (subscription->pending.empty()) {
      absl::StatusOr<std::vector<cairn::RecordedEvent>> batch =
          subscription->cursor->Next(max_count,
                                     std::chrono::milliseconds(timeout_ms));
      if (!batch.ok()) return FromStatus(batch.status(), error);
      for (cairn::RecordedEvent& ev : *batch) {
        subscription->pending.push_back(std::move(ev));
      }
    }
    const bool by_revision =
        subscription->kind == cairn::SubscriptionFilter::Kind::kStream;
    std::vector<cairn_bytes> tags;
    size_t count = 0;
    while (count < max_count && !subscription->pending.empty()) {
      const cairn::RecordedEvent& ev = subscription->pending.front();
      int stop = Deliver(ev, on_event, context, tags);
      subscription->delivered_cursor = by_revision ? ev.revision : ev.position;
      subscription->pending.pop_front();
      ++count;
      if (stop != 0) break;
    }
    if (delivered != nullptr) *delivered = count;
    ClearError(error);
    return CAIRN_OK;
  });
}

uint64_t cairn_subscription_cursor(const cairn_subscription* subscription) {
  return subscription == nullptr ? 0 : subscription->delivered_cursor;
}

void cairn_subscription_cancel(cairn_subscription* subscription) {
  if (subscription != nullptr) subscription->cursor->Cancel();
}

void cairn_subscription_close(cairn_subscription* subscription) {
  try {
    delete subscription;
  } catch (...) {
  }
}

}  // extern "C"
