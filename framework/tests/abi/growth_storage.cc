// Growth fixture: a small storage plugin built twice from this one source,
// once against the frozen 2.0 header and once against the 2.1 test header
// (each copied to <build>/abi-2.N/cairn/plugin.h and put first on the
// include path, so the SDK compiles against it unchanged). The growth test
// (growth_test.cc) drives each build from a host of the other minor.
//
// What it reports back through stats (a frozen interface), so the host can
// tell what the plugin read of fields past the host's size:
//   offer_added    cairn_host_offer.added_in_2_1 as read (0: not covered)
//   request_added  the last append request's added_in_2_1 as read
//   event_added    sum of added_in_2_1 over every event appended or applied
//   record_added   sum of added_in_2_1 over every log record applied
//   option_count   how many open options it received
// Everything it hands the host (descriptor, option descriptors, events in
// read callbacks, log records in read_log callbacks) is followed in memory
// by kCanary bytes: a host that reads
// past `size` sees them instead of zeros.
#include <cairn/sdk/storage.hpp>

#include <cstring>
#include <mutex>
#include <string>
#include <vector>

namespace growth {
namespace {

using cairn::sdk::Status;

constexpr uint8_t kCanary = 0xA5;
constexpr uint64_t kPluginAdded = 21;  // what a 2.1 plugin puts in its fields

template <typename T>
struct Fenced {
  Fenced() { std::memset(static_cast<void*>(this), kCanary, sizeof(*this)); }
  T value;
  uint8_t canary[64];
};

uint64_t g_offer_added = 0;

struct Stored {
  std::string stream, type, data;
  uint64_t revision = 0, position = 0, added = 0;
};

uint64_t AddedOf(const cairn_log_record& r) {
#if CAIRN_ABI_MINOR >= 1
  return r.added_in_2_1;  // zero when the host's record was smaller (LogBatch)
#else
  (void)r;
  return 0;
#endif
}

uint64_t AddedOf(const cairn_event& e) {
#if CAIRN_ABI_MINOR >= 1
  return e.added_in_2_1;  // zero when the host's event was smaller (CopyEvent)
#else
  (void)e;
  return 0;
#endif
}

class GrowthStorage : public cairn::sdk::Storage {
 public:
  static Status Open(const cairn::sdk::Options& options,
                     std::unique_ptr<GrowthStorage>* out) {
    auto s = std::make_unique<GrowthStorage>();
    s->option_count_ = options.values().size();
    *out = std::move(s);
    return Status::Ok();
  }

  Status Append(cairn::sdk::AppendBatch& batch,
                cairn_append_result* result) override {
    std::lock_guard<std::mutex> lock(mu_);
    uint64_t head = 0;
    for (const Stored& s : events_) {
      if (s.stream == batch.stream()) head = s.revision;
    }
    if (!batch.expected().Holds(head)) {
      return cairn::sdk::WrongExpectedRevision("expected " +
                                               batch.expected().Text());
    }
    result->first_revision = head + 1;
    result->first_position = events_.size() + 1;
    for (size_t i = 0; i < batch.size(); ++i) {
      const cairn_event& e = batch[i];
      Stored s{std::string(batch.stream()),
               std::string(cairn::sdk::View(e.type)),
               std::string(cairn::sdk::View(e.data)),
               head + 1 + i,
               events_.size() + 1,
               AddedOf(e)};
      event_added_ += s.added;
      events_.push_back(std::move(s));
    }
    result->last_revision = head + batch.size();
    result->last_position = events_.size();
#if CAIRN_ABI_MINOR >= 1
    result->added_in_2_1 = kPluginAdded;
#endif
    return Status::Ok();
  }

  Status ReadStream(std::string_view stream, uint64_t from, uint64_t to,
                    uint64_t max, const cairn::sdk::EventSink& sink) override {
    std::lock_guard<std::mutex> lock(mu_);
    uint64_t n = 0;
    for (const Stored& s : events_) {
      if (s.stream != stream || s.revision < from || s.revision > to) continue;
      if (n++ == max || !Emit(s, sink)) break;
    }
    return Status::Ok();
  }
  Status ReadAll(uint64_t after, uint64_t max, bool,
                 const cairn::sdk::EventSink& sink) override {
    std::lock_guard<std::mutex> lock(mu_);
    uint64_t n = 0;
    for (const Stored& s : events_) {
      if (s.position <= after) continue;
      if (n++ == max || !Emit(s, sink)) break;
    }
    return Status::Ok();
  }
  // Every record is an event (batches of one): enough to drive the
  // record structs across minors.
  Status ReadLog(uint64_t after, uint64_t max,
                 const cairn::sdk::RecordSink& sink) override {
    std::lock_guard<std::mutex> lock(mu_);
    uint64_t n = 0;
    for (const Stored& s : events_) {
      if (s.position <= after) continue;
      if (n++ == max) break;
      Fenced<cairn_event> event;
      Fill(s, &event.value);
      Fenced<cairn_log_record> record;
      record.value = cairn_log_record{};
      record.value.size = sizeof(cairn_log_record);
      record.value.kind = CAIRN_RECORD_EVENT;
      record.value.position = s.position;
      record.value.batch_size = 1;
      record.value.event = &event.value;
#if CAIRN_ABI_MINOR >= 1
      record.value.added_in_2_1 = kPluginAdded;
#endif
      if (!sink(record.value)) break;
    }
    return Status::Ok();
  }
  Status ApplyLog(const cairn_log_record* const* records,
                  size_t count) override {
    std::lock_guard<std::mutex> lock(mu_);
    for (size_t i = 0; i < count; ++i) {
      const cairn_log_record& r = *records[i];
      if (r.kind != CAIRN_RECORD_EVENT || r.event == nullptr ||
          r.position != events_.size() + 1) {
        return cairn::sdk::FailedPrecondition(
            "apply_log: record at position " + std::to_string(r.position) +
            " is not an event continuing " + std::to_string(events_.size()));
      }
      const cairn_event& e = *r.event;
      Stored s{std::string(cairn::sdk::View(e.stream)),
               std::string(cairn::sdk::View(e.type)),
               std::string(cairn::sdk::View(e.data)),
               e.revision,
               r.position,
               AddedOf(e)};
      event_added_ += s.added;
      record_added_ += AddedOf(r);
      events_.push_back(std::move(s));
    }
    return Status::Ok();
  }
  Status LogState(cairn_log_state* state) override {
    std::lock_guard<std::mutex> lock(mu_);
    state->first_position = events_.empty() ? 0 : 1;
    state->written = state->durable = state->committed = events_.size();
#if CAIRN_ABI_MINOR >= 1
    state->added_in_2_1 = kPluginAdded;
#endif
    return Status::Ok();
  }
  Status HeadRevision(std::string_view stream, uint64_t* revision) override {
    std::lock_guard<std::mutex> lock(mu_);
    *revision = 0;
    for (const Stored& s : events_) {
      if (s.stream == stream) *revision = s.revision;
    }
    return Status::Ok();
  }
  Status HeadPosition(uint64_t* position) override {
    std::lock_guard<std::mutex> lock(mu_);
    *position = events_.size();
    return Status::Ok();
  }
  Status ListStreams(uint64_t, uint64_t,
                     const cairn::sdk::StreamSink&) override {
    return Status::Ok();
  }
  Status Flush() override { return Status::Ok(); }
  Status Stats(const cairn::sdk::StatSink& stat) override {
    std::lock_guard<std::mutex> lock(mu_);
    stat("offer_added", static_cast<double>(g_offer_added));
    stat("request_added", static_cast<double>(request_added_));
    stat("event_added", static_cast<double>(event_added_));
    stat("record_added", static_cast<double>(record_added_));
    stat("option_count", static_cast<double>(option_count_));
    return Status::Ok();
  }

  void NoteRequest(uint64_t added) {
    std::lock_guard<std::mutex> lock(mu_);
    request_added_ = added;
  }

 private:
  // Hands the host an event of this build's size, followed by canary bytes.
  static bool Emit(const Stored& s, const cairn::sdk::EventSink& sink) {
    Fenced<cairn_event> out;
    Fill(s, &out.value);
    return sink(out.value);
  }
  // An event of this build's size.
  static void Fill(const Stored& s, cairn_event* out) {
    *out = cairn_event{};
    out->size = sizeof(cairn_event);
    out->stream = cairn::sdk::Bytes(s.stream);
    out->revision = s.revision;
    out->position = s.position;
    out->type = cairn::sdk::Bytes(s.type);
    out->data = cairn::sdk::Bytes(s.data);
#if CAIRN_ABI_MINOR >= 1
    out->added_in_2_1 = kPluginAdded;
#endif
  }

  std::mutex mu_;
  std::vector<Stored> events_;
  uint64_t request_added_ = 0, event_added_ = 0, record_added_ = 0;
  size_t option_count_ = 0;
};

using Adapter = cairn::sdk::StorageAdapter<GrowthStorage>;

// The SDK's append, after noting the request's added field as read within
// the request's size.
cairn_status AppendNotingRequest(cairn_storage* storage,
                                 const cairn_append_request* request,
                                 cairn_append_result* result,
                                 cairn_error* error) {
  uint64_t added = 0;
#if CAIRN_ABI_MINOR >= 1
  if (CAIRN_HAS_FIELD(cairn_append_request, request, added_in_2_1))
    added = request->added_in_2_1;
#endif
  static_cast<GrowthStorage*>(reinterpret_cast<cairn::sdk::Storage*>(storage))
      ->NoteRequest(added);
  return Adapter::Append(storage, request, result, error);
}

#if CAIRN_ABI_MINOR >= 1
uint64_t Added(cairn_storage*) { return kPluginAdded; }
#endif

const cairn_storage_api* Table() {
  static const cairn_storage_api table = [] {
    cairn_storage_api t = *Adapter::Table();
    t.append = &AppendNotingRequest;
#if CAIRN_ABI_MINOR >= 1
    t.added_in_2_1 = &Added;
#endif
    return t;
  }();
  return &table;
}

const char* const kModes[] = {"a", "b", nullptr};

Fenced<cairn_option_desc>* Option(const char* key, uint32_t type,
                                  const char* const* allowed) {
  auto* o = new Fenced<cairn_option_desc>();  // static for the library's life
  o->value = cairn::sdk::OptionDesc(key, type, nullptr, "growth fixture option",
                                    allowed);
#if CAIRN_ABI_MINOR >= 1
  o->value.added_in_2_1 = "unit-2.1";
#endif
  return o;
}

const cairn_plugin_descriptor* Descriptor() {
  static const cairn_option_desc* const options[] = {
      &Option("count", CAIRN_OPT_UINT, nullptr)->value,
      &Option("mode", CAIRN_OPT_ENUM, kModes)->value, nullptr};
  static Fenced<cairn_plugin_descriptor>* d = [] {
    auto* f = new Fenced<cairn_plugin_descriptor>();
    f->value = cairn_plugin_descriptor{};
    f->value.size = sizeof(cairn_plugin_descriptor);
    f->value.magic = CAIRN_PLUGIN_MAGIC;
    f->value.abi_major = CAIRN_ABI_MAJOR;
    f->value.abi_minor = CAIRN_ABI_MINOR;
    f->value.kind = CAIRN_KIND_STORAGE;
    f->value.name = GROWTH_PLUGIN_NAME;
    f->value.version = "0.0.1";
    f->value.description = "ABI growth fixture";
    f->value.capabilities = CAIRN_CAP_ORDERED_LOG | CAIRN_CAP_APPLY;
    f->value.options = options;
    f->value.table = Table();
#if CAIRN_ABI_MINOR >= 1
    f->value.added_in_2_1 = kPluginAdded;
#endif
    return f;
  }();
  return &d->value;
}

}  // namespace
}  // namespace growth

extern "C" CAIRN_PLUGIN_EXPORT cairn_status cairn_plugin_entry(
    const cairn_host_offer* offer, const cairn_plugin_descriptor** descriptor,
    cairn_error* error) {
#if CAIRN_ABI_MINOR >= 1
  growth::g_offer_added = CAIRN_HAS_FIELD(cairn_host_offer, offer, added_in_2_1)
                              ? offer->added_in_2_1
                              : 0;
#endif
  return cairn::sdk::Negotiate(offer, growth::Descriptor(), descriptor, error);
}
