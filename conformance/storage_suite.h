// The storage conformance suite: the fixture and helpers its tests share.
// Every test drives the plugin through its C table (not through the Store),
// so what it checks is the plugin contract of <cairn/plugin.h>.
#ifndef CAIRN_CONFORMANCE_STORAGE_SUITE_H_
#define CAIRN_CONFORMANCE_STORAGE_SUITE_H_

#include <cairn/sdk/expected.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "target.h"

namespace cairn::conformance {

// An event to append. Strings may hold any bytes.
struct EventSpec {
  std::string type = "Event";
  std::string data;
  std::string metadata;
  std::string writer;
  int64_t timestamp_us = 0;
  std::vector<std::string> tags;
};

// An event as read back, owning its bytes.
struct ReadEvent {
  std::string stream;
  uint64_t revision = 0;
  uint64_t position = 0;
  std::string type;
  int64_t timestamp_us = 0;
  std::string writer;
  std::string metadata;
  std::string data;
  std::vector<std::string> tags;
  bool operator==(const ReadEvent&) const = default;
};

// A record of the ordered log as read back (read_log), owning its bytes.
struct LogRow {
  uint32_t kind = 0;  // cairn_record_kind
  uint64_t position = 0;
  uint64_t epoch = 0;
  uint32_t batch_size = 0;
  uint32_t batch_index = 0;
  std::optional<ReadEvent> event;
  std::string stream;
  uint64_t revision = 0;
  int64_t timestamp_us = 0;
  std::string data;
  // SNAPSHOT_DELETE: min_revision, max_revision, min/max timestamp.
  std::optional<std::vector<int64_t>> criteria;
  std::string idempotency_key;  // EVENT, batch_index 0
  bool operator==(const LogRow&) const = default;
};
// "position 3 (DELETE_TO 'a' to 2, epoch 0)": for failure messages.
std::string DescribeRow(const LogRow& row);
std::string DescribeRows(const std::vector<LogRow>& rows);

// The ABI view of records read back, for apply_log(): owns the events,
// criteria and tag arrays the cairn_log_records point at; valid while this
// object and `rows` live.
class RawRecords {
 public:
  explicit RawRecords(const std::vector<LogRow>& rows);
  // The array of pointers apply_log() takes, from record `first` on.
  const cairn_log_record* const* data(size_t first = 0) const {
    return pointers_.data() + first;
  }
  size_t size() const { return pointers_.size(); }
  // Changes record i before it is applied (tests of refusals).
  cairn_log_record& at(size_t i) { return records_[i]; }
  cairn_event& event_at(size_t i) { return events_[i]; }

 private:
  std::vector<std::vector<cairn_bytes>> tags_;
  std::vector<cairn_event> events_;
  std::vector<cairn_snapshot_criteria> criteria_;
  std::vector<cairn_log_record> records_;
  std::vector<const cairn_log_record*> pointers_;
};

struct StreamRow {
  std::string name;
  uint64_t ordinal = 0;
  uint64_t head_revision = 0;
  uint64_t deleted_to = 0;
  bool operator==(const StreamRow&) const = default;
};

struct SnapshotRow {
  uint64_t revision = 0;
  int64_t timestamp_us = 0;
  std::string data;
  bool operator==(const SnapshotRow&) const = default;
};

struct AppendOutcome {
  cairn_status code = CAIRN_OK;
  std::string message;
  cairn_append_result result{};
};

// An append's expected revision (cairn_append_request's two fields).
using Expected = ::cairn::sdk::Expected;
inline Expected Any() { return {CAIRN_EXPECT_ANY, 0}; }
inline Expected NoStream() { return {CAIRN_EXPECT_NO_STREAM, 0}; }
inline Expected Exact(uint64_t r) { return {CAIRN_EXPECT_EXACT, r}; }

// `count` events whose data is "<prefix>-<i>".
std::vector<EventSpec> Events(size_t count, const std::string& prefix = "e");

// The host's side of cairn_seal_fn: writes event `index`'s payload for
// `revision` into `out` (through AppendToBuffer).
using SealFn = std::function<cairn_status(
    size_t index, uint64_t revision, cairn_buffer* out, cairn_error* error)>;

// Appends `bytes` to a seal's output buffer, growing it through reserve.
// False if reserve failed.
bool AppendToBuffer(cairn_buffer* out, const std::string& bytes);

// Appends through `api` (usable from any thread; no gtest assertions), with
// `seal` as the request's seal function when given.
// `key`: the request's idempotency key (empty: none).
AppendOutcome AppendTo(const cairn_storage_api* api, cairn_storage* store,
                       const std::string& stream, Expected expected,
                       const std::vector<EventSpec>& events,
                       const SealFn* seal = nullptr,
                       const std::string& key = std::string());

// Reads through `api` (usable from any thread); returns the status and fills
// `out` and `message`.
cairn_status ReadAllFrom(const cairn_storage_api* api, cairn_storage* store,
                         uint64_t after, uint64_t max, bool include_deleted,
                         std::vector<ReadEvent>* out, std::string* message);
cairn_status ReadLogFrom(const cairn_storage_api* api, cairn_storage* store,
                         uint64_t after, uint64_t max, std::vector<LogRow>* out,
                         std::string* message);
cairn_status ReadStreamFrom(const cairn_storage_api* api, cairn_storage* store,
                            const std::string& stream, uint64_t from,
                            uint64_t to, uint64_t max,
                            std::vector<ReadEvent>* out, std::string* message);

class StorageConformance : public ::testing::TestWithParam<Target> {
 protected:
  void SetUp() override;
  void TearDown() override;

  const Target& target() const { return GetParam(); }
  bool Persistent() const { return target().Has(CAIRN_CAP_PERSISTENT); }

  // Opens the store with this test's options; fails the test if it cannot.
  void Open();
  void Close();
  // Closes and reopens; the watermark must be where it was
  // (kRuleSurvivesReopen).
  void Reopen();
  // Runs `check`; for a persistent plugin, then closes, reopens and runs it
  // again, so every check also holds after a restart.
  void CheckAndReopen(const std::function<void()>& check);

  AppendOutcome Append(const std::string& stream, Expected expected,
                       const std::vector<EventSpec>& events);
  // Appends and fails the test unless it succeeds.
  cairn_append_result MustAppend(const std::string& stream, Expected expected,
                                 const std::vector<EventSpec>& events);
  std::vector<ReadEvent> ReadStream(const std::string& stream,
                                    uint64_t from = 1,
                                    uint64_t to = CAIRN_MAX_REVISION,
                                    uint64_t max = CAIRN_MAX_REVISION);
  std::vector<ReadEvent> ReadAll(uint64_t after = 0,
                                 uint64_t max = CAIRN_MAX_REVISION,
                                 bool include_deleted = false);
  std::vector<ReadEvent> ReadTag(const std::string& tag, uint64_t after = 0,
                                 uint64_t max = CAIRN_MAX_REVISION);
  std::vector<LogRow> ReadLog(uint64_t after = 0,
                              uint64_t max = CAIRN_MAX_REVISION);
  cairn_log_state LogState();
  uint64_t HeadRevision(const std::string& stream);
  uint64_t HeadPosition();
  std::vector<StreamRow> ListStreams(uint64_t after = 0,
                                     uint64_t max = CAIRN_MAX_REVISION);
  void DeleteTo(const std::string& stream, uint64_t revision);
  void SaveSnapshot(const std::string& stream, uint64_t revision,
                    int64_t timestamp_us, const std::string& data);
  std::optional<SnapshotRow> LoadSnapshot(
      const std::string& stream, const cairn_snapshot_criteria& criteria);

  // Skips the test (with a note for the summary) unless the plugin declares
  // `capability`. Use as: if (Lacks(CAIRN_CAP_TAGS, ...)) GTEST_SKIP() << ...
  bool Lacks(uint64_t capability, const char* capability_name,
             const std::string& what, std::string* skip_message);

  // Fails, naming kRuleContiguousRevisions, unless `events` of `stream` have
  // revisions first, first + 1, ...
  static void ExpectContiguousRevisions(const std::string& stream,
                                        const std::vector<ReadEvent>& events,
                                        uint64_t first = 1);
  // Fails, naming kRuleGapFreePositions, unless positions are first, +1, ...
  static void ExpectGapFreePositions(const std::vector<ReadEvent>& events,
                                     uint64_t first = 1);

  const cairn_storage_api* api_ = nullptr;
  cairn_storage* store_ = nullptr;
  std::unique_ptr<OpenOptions> options_;
  ErrorBuffer error_;
};

// Skips the test (with a note for the summary) unless the plugin declares
// `cap`; use inside a StorageConformance test.
#define SKIP_UNLESS(cap, what)                   \
  do {                                           \
    std::string skip_message;                    \
    if (Lacks(cap, #cap, what, &skip_message)) { \
      GTEST_SKIP() << skip_message;              \
    }                                            \
  } while (0)

// Criteria matching every snapshot.
cairn_snapshot_criteria AllSnapshots();

}  // namespace cairn::conformance

#endif  // CAIRN_CONFORMANCE_STORAGE_SUITE_H_
