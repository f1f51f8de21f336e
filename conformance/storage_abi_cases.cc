// Storage conformance: the ABI's growth rules as a host built against
// another minor sees them. The suite declares a smaller cairn_append_result
// than the plugin's and passes events larger than the plugin's cairn_event,
// spaced apart in memory, so a plugin that writes sizeof of its own struct
// or walks events by a fixed stride fails, naming the rule.
#include <cstring>

#include "storage_suite.h"

namespace cairn::conformance {
namespace {

constexpr uint8_t kCanary = 0xA5;

// An `any` append of `count` events to `stream` (which must outlive it).
cairn_append_request AnyAppend(const std::string& stream,
                               const cairn_event* const* events, size_t count) {
  cairn_append_request request{};
  request.size = sizeof(request);
  request.expected_kind = CAIRN_EXPECT_ANY;
  request.stream = Bytes(stream);
  request.events = events;
  request.count = count;
  return request;
}

// A result as a host of an older minor allocates it: only the revisions,
// followed by bytes that are not the plugin's to write.
CAIRN_TEST_P(StorageConformance, AppendWritesItsResultOnlyWithinTheDeclaredSize,
             kRuleResultsWithinDeclaredSize) {
  constexpr size_t kDeclared = offsetof(cairn_append_result, first_position);
  alignas(cairn_append_result) uint8_t raw[sizeof(cairn_append_result) + 64];
  std::memset(raw, kCanary, sizeof(raw));
  auto* result = reinterpret_cast<cairn_append_result*>(raw);
  result->size = kDeclared;

  std::vector<EventSpec> specs = Events(2, "sized");
  std::vector<cairn_event> events(specs.size());
  std::vector<const cairn_event*> pointers;
  for (size_t i = 0; i < specs.size(); ++i) {
    events[i] = cairn_event{};
    events[i].size = sizeof(cairn_event);
    events[i].type = Bytes(specs[i].type);
    events[i].data = Bytes(specs[i].data);
    pointers.push_back(&events[i]);
  }
  const std::string stream = "sized-result";
  cairn_append_request request =
      AnyAppend(stream, pointers.data(), pointers.size());
  cairn_status st = api_->append(store_, &request, result, error_.get());
  ASSERT_EQ(st, CAIRN_OK) << Describe(st, error_.message);
  EXPECT_EQ(result->size, kDeclared)
      << kRuleResultsWithinDeclaredSize << ": the plugin changed result->size";
  EXPECT_EQ(result->first_revision, 1u);
  EXPECT_EQ(result->last_revision, 2u);
  for (size_t i = kDeclared; i < sizeof(raw); ++i) {
    if (raw[i] != kCanary) {
      ADD_FAILURE() << kRuleResultsWithinDeclaredSize
                    << ": the caller declared a " << kDeclared
                    << "-byte cairn_append_result, but append wrote byte " << i
                    << " (write a field only if result->size covers it: "
                    << "CAIRN_SET_FIELD, or the SDK's CopyOut)";
      break;
    }
  }
  EXPECT_EQ(ReadStream("sized-result").size(), 2u);
}

// Events as a host of a newer minor passes them: each larger than this
// header's cairn_event (16 bytes of later fields), reachable only through
// the pointer array. Right after each event's later fields lies a decoy
// event, so a plugin that steps by sizeof(cairn_event) from the first
// pointer reads the decoy (and stores "decoy") instead of crashing.
class SpacedEvents {
 public:
  static constexpr size_t kLater = 16;  // bytes of fields a newer minor added
  static constexpr size_t kSlot = 2 * sizeof(cairn_event);

  explicit SpacedEvents(const std::vector<ReadEvent>& events)
      : slots_(events.size() * 2) {
    for (size_t i = 0; i < events.size(); ++i) {
      const ReadEvent& r = events[i];
      cairn_event* real = &slots_[2 * i];
      cairn_event* decoy = &slots_[2 * i + 1];
      *decoy = cairn_event{};
      decoy->size = sizeof(cairn_event);
      decoy->type = Bytes(decoy_);
      decoy->data = Bytes(decoy_);
      decoy->stream = Bytes(r.stream);
      decoy->revision = r.revision;
      decoy->position = r.position;
      *real = cairn_event{};
      real->size = static_cast<uint32_t>(sizeof(cairn_event) + kLater);
      real->stream = Bytes(r.stream);
      real->revision = r.revision;
      real->position = r.position;
      real->type = Bytes(r.type);
      real->timestamp_us = r.timestamp_us;
      real->writer = Bytes(r.writer);
      real->metadata = Bytes(r.metadata);
      real->data = Bytes(r.data);
      pointers_.push_back(real);
    }
    static_assert(sizeof(cairn_event) % alignof(cairn_event) == 0);
  }
  const cairn_event* const* data() const { return pointers_.data(); }
  size_t size() const { return pointers_.size(); }

 private:
  const std::string decoy_ = "decoy";
  std::vector<cairn_event> slots_;  // real, decoy, real, decoy, ...
  std::vector<const cairn_event*> pointers_;
};

std::string WhatWasStored(const std::vector<ReadEvent>& got,
                          const std::vector<std::string>& want) {
  std::string text;
  for (size_t i = 0; i < got.size(); ++i) {
    text += "'" + got[i].data + "'" + (i + 1 < got.size() ? ", " : "");
  }
  std::string expected;
  for (size_t i = 0; i < want.size(); ++i) {
    expected += "'" + want[i] + "'" + (i + 1 < want.size() ? ", " : "");
  }
  return std::string(kRuleEventsByPointer) + ": stored " + text +
         " for a batch of " + expected + " passed as pointers to events of " +
         std::to_string(sizeof(cairn_event) + SpacedEvents::kLater) +
         " bytes, not contiguous (read events[i], each within its own size; "
         "never step "
         "from events[0])";
}

CAIRN_TEST_P(StorageConformance,
             AppendReadsEventsThroughThePointerArrayWhateverTheirSize,
             kRuleEventsByPointer) {
  std::vector<ReadEvent> batch(3);
  std::vector<std::string> want;
  for (size_t i = 0; i < batch.size(); ++i) {
    batch[i].type = "Spaced";
    batch[i].data = "spaced-" + std::to_string(i);
    want.push_back(batch[i].data);
  }
  SpacedEvents events(batch);
  const std::string stream = "spaced";
  cairn_append_request request =
      AnyAppend(stream, events.data(), events.size());
  cairn_append_result result{};
  result.size = sizeof(result);
  cairn_status st = api_->append(store_, &request, &result, error_.get());
  ASSERT_EQ(st, CAIRN_OK) << kRuleEventsByPointer
                          << ": append refused events larger than "
                          << "its cairn_event: "
                          << Describe(st, error_.message);
  std::vector<ReadEvent> got = ReadStream("spaced");
  std::vector<std::string> datas;
  for (const ReadEvent& e : got) datas.push_back(e.data);
  EXPECT_EQ(datas, want) << WhatWasStored(got, want);
}

// Log records as a host of a newer minor passes them to apply_log: each
// larger than this header's cairn_log_record (16 bytes of later fields), a
// decoy record after each, and each event a SpacedEvents one.
CAIRN_TEST_P(StorageConformance,
             ApplyLogReadsRecordsAndEventsThroughTheirPointersWhateverTheirSize,
             kRuleEventsByPointer) {
  if (!target().Has(CAIRN_CAP_APPLY)) {
    GTEST_SKIP() << NoteSkip("CAIRN_CAP_APPLY",
                             "apply_log with records larger than the plugin's");
  }
  MustAppend("spaced-apply", Any(), Events(3, "applied"));
  std::vector<ReadEvent> primary = ReadAll(0, CAIRN_MAX_REVISION, true);
  ASSERT_EQ(primary.size(), 3u);
  std::vector<LogRow> log = ReadLog();
  ASSERT_EQ(log.size(), 3u);
  SpacedEvents events(primary);
  const std::string decoy = "decoy";
  std::vector<cairn_log_record> slots(2 * log.size());
  std::vector<const cairn_log_record*> pointers;
  for (size_t i = 0; i < log.size(); ++i) {
    cairn_log_record& real = slots[2 * i];
    cairn_log_record& fake = slots[2 * i + 1];
    fake = cairn_log_record{};
    fake.size = sizeof(cairn_log_record);
    fake.kind = CAIRN_RECORD_SNAPSHOT_SAVE;
    fake.position = log[i].position;
    fake.stream = Bytes(decoy);
    real = cairn_log_record{};
    real.size =
        static_cast<uint32_t>(sizeof(cairn_log_record) + SpacedEvents::kLater);
    real.kind = log[i].kind;
    real.position = log[i].position;
    real.epoch = log[i].epoch;
    real.batch_size = log[i].batch_size;
    real.batch_index = log[i].batch_index;
    real.event = events.data()[i];
    pointers.push_back(&real);
  }
  OpenOptions replica_options(target());
  cairn_storage* replica = nullptr;
  ASSERT_EQ(api_->open(replica_options.get(), &replica, error_.get()), CAIRN_OK)
      << error_.message;
  cairn_status st =
      api_->apply_log(replica, pointers.data(), pointers.size(), error_.get());
  EXPECT_EQ(st, CAIRN_OK) << kRuleEventsByPointer
                          << ": apply_log refused records larger than its "
                          << "cairn_log_record: "
                          << Describe(st, error_.message);
  std::vector<ReadEvent> copy;
  std::string message;
  EXPECT_EQ(
      ReadAllFrom(api_, replica, 0, CAIRN_MAX_REVISION, true, &copy, &message),
      CAIRN_OK)
      << message;
  std::vector<std::string> want, got;
  for (const ReadEvent& e : primary) want.push_back(e.data);
  for (const ReadEvent& e : copy) got.push_back(e.data);
  EXPECT_EQ(got, want) << WhatWasStored(copy, want);
  api_->close(replica);
}

}  // namespace
}  // namespace cairn::conformance
