// ABI growth proof: a host built against one minor drives growth fixture
// plugins built against the frozen 2.0 header and against the 2.1 test
// header (growth_storage.cc), through every call that passes events
// (append, read callbacks), log records (read_log, apply_log), results
// (append_result, log_state) or options
// (descriptor options, open options). This file is compiled twice, as a
// 2.0 host and as a 2.1 host (CAIRN_ABI_MINOR tells which).
//
// Everything the host hands the plugin is followed by canary bytes: a
// plugin that reads past the host's `size` reports (through stats) a value
// that is not zero, and one that writes past it changes the canary. What the
// plugin hands back is fenced the same way on its side; this host reads
// past-size fields only through CAIRN_HAS_FIELD and the SDK's CopyEvent.
#include <cairn/sdk/common.hpp>
#include <dlfcn.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace {

constexpr uint8_t kCanary = 0xA5;
constexpr uint64_t kHostAdded = 7;     // what a 2.1 host puts in its fields
constexpr uint64_t kPluginAdded = 21;  // what a 2.1 plugin puts in its fields
// 2.0's sizes, the same whichever header this host is built against (2.1
// only appends): the last 2.0 field's end, rounded up to 8.
constexpr size_t kEvent20 = offsetof(cairn_event, tags) + sizeof(void*);
constexpr size_t kRecord20 =
    offsetof(cairn_log_record, idempotency_key) + sizeof(cairn_bytes);
constexpr size_t kOptionDesc20 =
    (offsetof(cairn_option_desc, flags) + 4 + 7) / 8 * 8;

template <typename T>
struct Fenced {
  Fenced() { std::memset(static_cast<void*>(this), kCanary, sizeof(*this)); }
  bool CanaryIntact() const {
    for (uint8_t b : canary) {
      if (b != kCanary) return false;
    }
    return true;
  }
  T value;
  uint8_t canary[64];
};

struct Loaded {
  void* handle = nullptr;
  const cairn_plugin_descriptor* descriptor = nullptr;
  const cairn_storage_api* api = nullptr;
  int minor = 0;  // the minor the plugin was built against
};

Loaded Load(const std::string& path) {
  Loaded l;
  l.handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  EXPECT_NE(l.handle, nullptr) << dlerror();
  if (l.handle == nullptr) return l;
  auto entry = reinterpret_cast<cairn_plugin_entry_fn>(
      dlsym(l.handle, "cairn_plugin_entry"));
  EXPECT_NE(entry, nullptr);
  Fenced<cairn_host_offer> offer;
  offer.value = cairn_host_offer{};
  offer.value.size = sizeof(cairn_host_offer);
  offer.value.abi_major_min = CAIRN_ABI_MAJOR;
  offer.value.abi_major_max = CAIRN_ABI_MAJOR;
  offer.value.abi_minor = CAIRN_ABI_MINOR;
#if CAIRN_ABI_MINOR >= 1
  offer.value.added_in_2_1 = kHostAdded;
#endif
  char message[256] = "";
  cairn_error error{message, sizeof(message)};
  EXPECT_EQ(entry(&offer.value, &l.descriptor, &error), CAIRN_OK) << message;
  EXPECT_TRUE(offer.CanaryIntact())
      << "the plugin wrote past the host's cairn_host_offer";
  if (l.descriptor == nullptr) return l;
  EXPECT_EQ(l.descriptor->magic, CAIRN_PLUGIN_MAGIC);
  EXPECT_EQ(l.descriptor->abi_major, 2);
  l.minor = l.descriptor->abi_minor;
  l.api = static_cast<const cairn_storage_api*>(l.descriptor->table);
  return l;
}

std::map<std::string, double> Stats(const Loaded& l, cairn_storage* s) {
  std::map<std::string, double> out;
  char message[256] = "";
  cairn_error error{message, sizeof(message)};
  auto fn = [](void* ctx, const char* name, double value) {
    (*static_cast<std::map<std::string, double>*>(ctx))[name] = value;
  };
  EXPECT_EQ(l.api->stats(s, fn, &out, &error), CAIRN_OK) << message;
  return out;
}

// What the host read of one event in a read callback.
struct Seen {
  std::string stream, data;
  uint64_t revision = 0, position = 0, added = 0;
  uint32_t size = 0;
};

int Collect(void* context, const cairn_event* event) {
  cairn_event e = cairn::sdk::CopyEvent(event);  // zeros past the plugin's size
  Seen s{std::string(cairn::sdk::View(e.stream)),
         std::string(cairn::sdk::View(e.data)),
         e.revision,
         e.position,
         0,
         event->size};
#if CAIRN_ABI_MINOR >= 1
  s.added = e.added_in_2_1;
#endif
  static_cast<std::vector<Seen>*>(context)->push_back(s);
  return 0;
}

// Events of this host's size, each followed by canary bytes, apart in
// memory; the plugin gets an array of pointers.
struct HostEvents {
  explicit HostEvents(std::vector<Seen> events)
      : from(std::move(events)), slots(from.size()) {
    for (size_t i = 0; i < from.size(); ++i) {
      cairn_event& e = slots[i].value;
      e = cairn_event{};
      e.size = sizeof(cairn_event);
      e.stream = cairn::sdk::Bytes(from[i].stream);
      e.revision = from[i].revision;
      e.position = from[i].position;
      e.type = cairn::sdk::Bytes(type);
      e.data = cairn::sdk::Bytes(from[i].data);
#if CAIRN_ABI_MINOR >= 1
      e.added_in_2_1 = kHostAdded;
#endif
      pointers.push_back(&e);
    }
  }
  bool CanariesIntact() const {
    for (const auto& s : slots) {
      if (!s.CanaryIntact()) return false;
    }
    return true;
  }
  std::string type = "Grown";
  std::vector<Seen> from;  // owns the bytes the events point at
  std::vector<Fenced<cairn_event>> slots;
  std::vector<const cairn_event*> pointers;
};

class GrowthTest : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    plugin_ = Load(GetParam());
    ASSERT_NE(plugin_.api, nullptr);
  }
  void TearDown() override {
    for (cairn_storage* s : open_) plugin_.api->close(s);
  }
  cairn_storage* Open(std::vector<cairn_option> options) {
    cairn_options list{options.data(), options.size()};
    cairn_storage* s = nullptr;
    char message[256] = "";
    cairn_error error{message, sizeof(message)};
    EXPECT_EQ(plugin_.api->open(&list, &s, &error), CAIRN_OK) << message;
    if (s != nullptr) open_.push_back(s);
    return s;
  }
  // The plugin is newer than this host, or as new.
  bool PluginHasAdded() const { return plugin_.minor >= 1; }
  bool HostHasAdded() const { return CAIRN_ABI_MINOR >= 1; }

  Loaded plugin_;
  std::vector<cairn_storage*> open_;
};

TEST_P(GrowthTest, DescriptorAndOptionsAreReadWithinTheirSize) {
  const cairn_plugin_descriptor* d = plugin_.descriptor;
  EXPECT_GE(d->size, offsetof(cairn_plugin_descriptor, table) + sizeof(void*));
#if CAIRN_ABI_MINOR >= 1
  if (CAIRN_HAS_FIELD(cairn_plugin_descriptor, d, added_in_2_1)) {
    EXPECT_TRUE(PluginHasAdded());
    EXPECT_EQ(d->added_in_2_1, kPluginAdded);
  } else {
    EXPECT_FALSE(PluginHasAdded())
        << "a 2.1 plugin declared a 2.0-sized descriptor";
  }
#endif
  std::vector<std::string> keys;
  for (const cairn_option_desc* const* p = d->options; *p != nullptr; ++p) {
    const cairn_option_desc* o = *p;
    ASSERT_TRUE(CAIRN_HAS_FIELD(cairn_option_desc, o, flags));
    keys.push_back(o->key);
    EXPECT_EQ(o->size, PluginHasAdded() ? kOptionDesc20 + 8 : kOptionDesc20)
        << o->key;
    if (o->type == CAIRN_OPT_ENUM) {
      ASSERT_NE(o->allowed, nullptr);
      EXPECT_STREQ(o->allowed[0], "a");
    }
#if CAIRN_ABI_MINOR >= 1
    const char* unit = CAIRN_HAS_FIELD(cairn_option_desc, o, added_in_2_1)
                           ? o->added_in_2_1
                           : nullptr;
    if (PluginHasAdded()) {
      EXPECT_STREQ(unit, "unit-2.1");
    } else {
      EXPECT_EQ(unit, nullptr);
    }
#endif
  }
  EXPECT_EQ(keys, (std::vector<std::string>{"count", "mode"}));
}

TEST_P(GrowthTest, TheTableIsReadWithinItsSize) {
  const cairn_storage_api* api = plugin_.api;
  EXPECT_GE(api->size,
            offsetof(cairn_storage_api, instance_capabilities) + sizeof(void*));
#if CAIRN_ABI_MINOR >= 1
  // A function past the table's size is absent, exactly as a NULL one.
  bool has = CAIRN_HAS_FIELD(cairn_storage_api, api, added_in_2_1) &&
             api->added_in_2_1 != nullptr;
  EXPECT_EQ(has, PluginHasAdded());
  cairn_storage* s = Open({});
  if (has) EXPECT_EQ(api->added_in_2_1(s), kPluginAdded);
#endif
}

TEST_P(GrowthTest, OfferAndOpenOptionsReachThePluginWithinTheirSize) {
  cairn_storage* s = Open({{"count", "3"}, {"mode", "b"}});
  ASSERT_NE(s, nullptr);
  std::map<std::string, double> stats = Stats(plugin_, s);
  EXPECT_EQ(stats["option_count"], 2);
  // The plugin read the offer's added field only if the offer's size held
  // it: a 2.0 host's offer is followed by canary bytes, never read as 0xA5...
  EXPECT_EQ(stats["offer_added"],
            PluginHasAdded() && HostHasAdded() ? kHostAdded : 0);
}

TEST_P(
    GrowthTest,
    AppendReadsEventsAndRequestWithinTheirSizeAndWritesTheResultWithinItsOwn) {
  cairn_storage* s = Open({});
  ASSERT_NE(s, nullptr);
  HostEvents events({{"", "one"}, {"", "two"}, {"", "three"}});
  Fenced<cairn_append_request> request;
  request.value = cairn_append_request{};
  request.value.size = sizeof(cairn_append_request);
  request.value.expected_kind = CAIRN_EXPECT_NO_STREAM;
  const std::string stream = "grown";
  request.value.stream = cairn::sdk::Bytes(stream);
  request.value.events = events.pointers.data();
  request.value.count = events.pointers.size();
#if CAIRN_ABI_MINOR >= 1
  request.value.added_in_2_1 = kHostAdded;
#endif
  Fenced<cairn_append_result> result;
  result.value = cairn_append_result{};
  result.value.size = sizeof(cairn_append_result);
  char message[256] = "";
  cairn_error error{message, sizeof(message)};
  ASSERT_EQ(plugin_.api->append(s, &request.value, &result.value, &error),
            CAIRN_OK)
      << message;
  EXPECT_TRUE(result.CanaryIntact())
      << "the plugin wrote past the host's cairn_append_result";
  EXPECT_TRUE(request.CanaryIntact());
  EXPECT_TRUE(events.CanariesIntact());
  EXPECT_EQ(result.value.size, sizeof(cairn_append_result));
  EXPECT_EQ(result.value.first_revision, 1u);
  EXPECT_EQ(result.value.last_revision, 3u);
  EXPECT_EQ(result.value.first_position, 1u);
  EXPECT_EQ(result.value.last_position, 3u);
#if CAIRN_ABI_MINOR >= 1
  // An older plugin leaves the field as the host set it.
  EXPECT_EQ(result.value.added_in_2_1, PluginHasAdded() ? kPluginAdded : 0u);
#endif
  std::map<std::string, double> stats = Stats(plugin_, s);
  const bool both = PluginHasAdded() && HostHasAdded();
  EXPECT_EQ(stats["request_added"], both ? kHostAdded : 0);
  EXPECT_EQ(stats["event_added"], both ? 3 * kHostAdded : 0);
}

TEST_P(GrowthTest, ReadCallbacksPassEventsWithinTheirSize) {
  cairn_storage* primary = Open({});
  ASSERT_NE(primary, nullptr);
  HostEvents events({{"", "a"}, {"", "b"}});
  Fenced<cairn_append_request> request;
  request.value = cairn_append_request{};
  request.value.size = sizeof(cairn_append_request);
  const std::string stream = "copied";
  request.value.stream = cairn::sdk::Bytes(stream);
  request.value.events = events.pointers.data();
  request.value.count = events.pointers.size();
  cairn_append_result result{};
  result.size = sizeof(result);
  char message[256] = "";
  cairn_error error{message, sizeof(message)};
  ASSERT_EQ(plugin_.api->append(primary, &request.value, &result, &error),
            CAIRN_OK)
      << message;

  std::vector<Seen> seen;
  ASSERT_EQ(plugin_.api->read_all(primary, 0, 10, 0, &Collect, &seen, &error),
            CAIRN_OK)
      << message;
  std::vector<Seen> by_stream;
  ASSERT_EQ(plugin_.api->read_stream(primary, cairn::sdk::Bytes(stream), 1,
                                     CAIRN_MAX_REVISION, 10, &Collect,
                                     &by_stream, &error),
            CAIRN_OK)
      << message;
  ASSERT_EQ(seen.size(), 2u);
  ASSERT_EQ(by_stream.size(), 2u);
  for (const std::vector<Seen>* list : {&seen, &by_stream}) {
    for (size_t i = 0; i < list->size(); ++i) {
      const Seen& e = (*list)[i];
      EXPECT_EQ(e.size, PluginHasAdded() ? kEvent20 + 8 : kEvent20);
      EXPECT_EQ(e.stream, stream);
      EXPECT_EQ(e.revision, i + 1);
      EXPECT_EQ(e.data, i == 0 ? "a" : "b");
      // The plugin's event is followed by canary bytes: this host sees its
      // added field only if the plugin's size holds it.
      EXPECT_EQ(e.added,
                PluginHasAdded() && HostHasAdded() ? kPluginAdded : 0u);
    }
  }
}

// What the host read of one log record in a read_log callback.
struct SeenRecord {
  uint32_t size = 0;
  uint32_t kind = 0;
  uint64_t position = 0, added = 0;
  Seen event;
};

int CollectRecord(void* context, const cairn_log_record* record) {
  cairn_log_record r{};  // zeros past the plugin's size
  std::memcpy(&r, record, std::min<size_t>(record->size, sizeof(r)));
  SeenRecord s;
  s.size = record->size;
  s.kind = r.kind;
  s.position = r.position;
#if CAIRN_ABI_MINOR >= 1
  s.added = r.added_in_2_1;
#endif
  std::vector<Seen> event;
  if (r.event != nullptr) Collect(&event, r.event);
  if (!event.empty()) s.event = event[0];
  static_cast<std::vector<SeenRecord>*>(context)->push_back(s);
  return 0;
}

TEST_P(GrowthTest, ReadLogLogStateAndApplyLogPassRecordsWithinTheirSize) {
  cairn_storage* primary = Open({});
  ASSERT_NE(primary, nullptr);
  HostEvents events({{"", "a"}, {"", "b"}});
  const std::string stream = "logged";
  cairn_append_request request{};
  request.size = sizeof(request);
  request.stream = cairn::sdk::Bytes(stream);
  request.events = events.pointers.data();
  request.count = events.pointers.size();
  cairn_append_result result{};
  result.size = sizeof(result);
  char message[256] = "";
  cairn_error error{message, sizeof(message)};
  ASSERT_EQ(plugin_.api->append(primary, &request, &result, &error), CAIRN_OK)
      << message;
  const bool both = PluginHasAdded() && HostHasAdded();

  // read_log: the plugin's records (and their events) are followed by canary
  // bytes; this host sees their added fields only if the plugin's size
  // holds them.
  std::vector<SeenRecord> records;
  ASSERT_EQ(
      plugin_.api->read_log(primary, 0, 10, &CollectRecord, &records, &error),
      CAIRN_OK)
      << message;
  ASSERT_EQ(records.size(), 2u);
  for (size_t i = 0; i < records.size(); ++i) {
    const SeenRecord& r = records[i];
    EXPECT_EQ(r.size, PluginHasAdded() ? kRecord20 + 8 : kRecord20);
    EXPECT_EQ(r.kind, static_cast<uint32_t>(CAIRN_RECORD_EVENT));
    EXPECT_EQ(r.position, i + 1);
    EXPECT_EQ(r.added, both ? kPluginAdded : 0u);
    EXPECT_EQ(r.event.data, i == 0 ? "a" : "b");
    EXPECT_EQ(r.event.added, both ? kPluginAdded : 0u);
  }

  // log_state: written within the host's size, never past it.
  Fenced<cairn_log_state> state;
  state.value = cairn_log_state{};
  state.value.size = sizeof(cairn_log_state);
  ASSERT_EQ(plugin_.api->log_state(primary, &state.value, &error), CAIRN_OK)
      << message;
  EXPECT_TRUE(state.CanaryIntact())
      << "the plugin wrote past the host's cairn_log_state";
  EXPECT_EQ(state.value.size, sizeof(cairn_log_state));
  EXPECT_EQ(state.value.written, 2u);
  EXPECT_EQ(state.value.committed, 2u);
#if CAIRN_ABI_MINOR >= 1
  EXPECT_EQ(state.value.added_in_2_1, PluginHasAdded() ? kPluginAdded : 0u);
#endif

  // apply_log: records of this host's size, each followed by canary bytes,
  // pointing at events of this host's size.
  cairn_storage* replica = Open({});
  ASSERT_NE(replica, nullptr);
  std::vector<Seen> seen;
  for (const SeenRecord& r : records) seen.push_back(r.event);
  HostEvents copies(seen);
  std::vector<Fenced<cairn_log_record>> slots(copies.pointers.size());
  std::vector<const cairn_log_record*> pointers;
  for (size_t i = 0; i < slots.size(); ++i) {
    cairn_log_record& r = slots[i].value;
    r = cairn_log_record{};
    r.size = sizeof(cairn_log_record);
    r.kind = CAIRN_RECORD_EVENT;
    r.position = records[i].position;
    r.batch_size = 1;
    r.event = copies.pointers[i];
#if CAIRN_ABI_MINOR >= 1
    r.added_in_2_1 = kHostAdded;
#endif
    pointers.push_back(&r);
  }
  ASSERT_EQ(
      plugin_.api->apply_log(replica, pointers.data(), pointers.size(), &error),
      CAIRN_OK)
      << message;
  EXPECT_TRUE(copies.CanariesIntact());
  for (const auto& slot : slots) EXPECT_TRUE(slot.CanaryIntact());
  std::vector<Seen> applied;
  ASSERT_EQ(
      plugin_.api->read_all(replica, 0, 10, 0, &Collect, &applied, &error),
      CAIRN_OK);
  ASSERT_EQ(applied.size(), 2u);
  EXPECT_EQ(applied[1].data, "b");
  EXPECT_EQ(applied[1].position, 2u);
  std::map<std::string, double> stats = Stats(plugin_, replica);
  EXPECT_EQ(stats["record_added"], both ? 2 * kHostAdded : 0);
  EXPECT_EQ(stats["event_added"], both ? 2 * kHostAdded : 0);

  // A record smaller than ABI 2.0's is refused, naming its size.
  Fenced<cairn_log_record> small;
  small.value = cairn_log_record{};
  small.value.size = kRecord20 - 8;
  const cairn_log_record* one = &small.value;
  EXPECT_EQ(plugin_.api->apply_log(replica, &one, 1, &error),
            CAIRN_E_INVALID_ARGUMENT);
  EXPECT_NE(std::string(message).find("cairn_log_record.size is"),
            std::string::npos)
      << message;
}

INSTANTIATE_TEST_SUITE_P(Plugins, GrowthTest,
                         ::testing::Values(GROWTH_PLUGIN_2_0,
                                           GROWTH_PLUGIN_2_1),
                         [](const ::testing::TestParamInfo<const char*>& info) {
                           return info.index == 0 ? std::string("Plugin2_0")
                                                  : std::string("Plugin2_1");
                         });

}  // namespace
