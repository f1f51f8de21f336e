// Unit tests of the memory storage plugin, driven through the same C table a
// host gets (so the SDK's argument checks are covered too). The conformance
// suite runs the full contract against the built plugin file as well.
#include "memory_storage.h"

#include <cairn/sdk/expected.hpp>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace cairn::memory {
namespace {

const cairn_storage_api& Api() {
  return *sdk::StorageAdapter<MemoryStorage>::Table();
}

cairn_bytes B(const std::string& s) { return sdk::Bytes(s); }

struct Recorded {
  std::string stream;
  uint64_t revision;
  uint64_t position;
  std::string type;
  std::string data;
  std::vector<std::string> tags;
};

int Record(void* context, const cairn_event* e) {
  Recorded r{std::string(sdk::View(e->stream)), e->revision, e->position,
             std::string(sdk::View(e->type)), std::string(sdk::View(e->data)),
             {}};
  for (uint32_t i = 0; i < e->tag_count; ++i) {
    r.tags.emplace_back(sdk::View(e->tags[i]));
  }
  static_cast<std::vector<Recorded>*>(context)->push_back(r);
  return 0;
}

class MemoryStorageTest : public ::testing::Test {
 public:
  void SetUp() override {
    ASSERT_EQ(Api().open(nullptr, &store_, Err()), CAIRN_OK) << message_;
  }
  void TearDown() override {
    if (store_ != nullptr) Api().close(store_);
  }

  cairn_error* Err() {
    error_ = cairn_error{message_, sizeof(message_)};
    return &error_;
  }

  // Appends `datas.size()` events of type "T" with `tags` on each.
  using Expected = sdk::Expected;
  // One append request over `events` (pointers kept in `pointers`).
  static cairn_append_request Request(
      const std::string& stream, Expected expected,
      const std::vector<cairn_event>& events,
      std::vector<const cairn_event*>* pointers) {
    pointers->clear();
    for (const cairn_event& e : events) pointers->push_back(&e);
    return cairn_append_request{sizeof(cairn_append_request),
                                expected.kind,
                                expected.revision,
                                B(stream),
                                pointers->empty() ? nullptr : pointers->data(),
                                pointers->size(),
                                nullptr,
                                nullptr,
                                {}};
  }

  cairn_status Append(const std::string& stream, Expected expected,
                      const std::vector<std::string>& datas,
                      cairn_append_result* result = nullptr,
                      const std::vector<std::string>& tags = {}) {
    std::vector<cairn_bytes> tag_views;
    for (const std::string& t : tags) tag_views.push_back(B(t));
    static const std::string type = "T";
    std::vector<cairn_event> events(datas.size());
    for (size_t i = 0; i < datas.size(); ++i) {
      events[i] = cairn_event{};
      events[i].size = sizeof(cairn_event);
      events[i].type = B(type);
      events[i].data = B(datas[i]);
      events[i].tag_count = static_cast<uint32_t>(tag_views.size());
      events[i].tags = tag_views.data();
    }
    cairn_append_result local{};
    local.size = sizeof(local);
    std::vector<const cairn_event*> pointers;
    cairn_append_request request = Request(stream, expected, events, &pointers);
    return Api().append(store_, &request, result ? result : &local, Err());
  }

  std::vector<Recorded> ReadStream(const std::string& stream, uint64_t from,
                                   uint64_t to, uint64_t max) {
    std::vector<Recorded> out;
    EXPECT_EQ(Api().read_stream(store_, B(stream), from, to, max, &Record,
                                &out, Err()),
              CAIRN_OK)
        << message_;
    return out;
  }

  std::vector<Recorded> ReadAll(uint64_t after, bool include_deleted = false) {
    std::vector<Recorded> out;
    EXPECT_EQ(Api().read_all(store_, after, CAIRN_MAX_REVISION,
                             include_deleted, &Record, &out, Err()),
              CAIRN_OK)
        << message_;
    return out;
  }

  static constexpr Expected kAny{CAIRN_EXPECT_ANY, 0};
  static constexpr Expected kNoStream{CAIRN_EXPECT_NO_STREAM, 0};
  static Expected Exact(uint64_t r) { return {CAIRN_EXPECT_EXACT, r}; }

  cairn_storage* store_ = nullptr;
  char message_[512] = {0};
  cairn_error error_{};
};

TEST_F(MemoryStorageTest, AppendAssignsContiguousRevisionsAndPositions) {
  cairn_append_result r{sizeof(r), 0, 0, 0, 0, 0, 0};
  ASSERT_EQ(Append("a", kNoStream, {"1", "2"}, &r), CAIRN_OK) << message_;
  EXPECT_EQ(r.first_revision, 1u);
  EXPECT_EQ(r.last_revision, 2u);
  EXPECT_EQ(r.first_position, 1u);
  EXPECT_EQ(r.last_position, 2u);
  ASSERT_EQ(Append("b", kAny, {"3"}, &r), CAIRN_OK);
  EXPECT_EQ(r.first_revision, 1u);
  EXPECT_EQ(r.first_position, 3u);
  ASSERT_EQ(Append("a", Exact(2), {"4"}, &r), CAIRN_OK);
  EXPECT_EQ(r.first_revision, 3u);
  EXPECT_EQ(r.last_position, 4u);

  std::vector<Recorded> all = ReadAll(0);
  ASSERT_EQ(all.size(), 4u);
  EXPECT_EQ(all[3].stream, "a");
  EXPECT_EQ(all[3].revision, 3u);
  EXPECT_EQ(all[3].data, "4");
}

TEST_F(MemoryStorageTest, WrongExpectedRevisionWritesNothing) {
  ASSERT_EQ(Append("a", kAny, {"1"}), CAIRN_OK);
  EXPECT_EQ(Append("a", kNoStream, {"x"}), CAIRN_E_WRONG_EXPECTED_REVISION);
  EXPECT_NE(std::string(message_).find("head revision is 1"),
            std::string::npos)
      << message_;
  EXPECT_EQ(Append("a", Exact(5), {"x"}), CAIRN_E_WRONG_EXPECTED_REVISION);
  EXPECT_EQ(Append("b", Exact(1), {"x"}), CAIRN_E_WRONG_EXPECTED_REVISION);
  EXPECT_EQ(ReadAll(0).size(), 1u);
  uint64_t head = 99;
  ASSERT_EQ(Api().head_revision(store_, B("b"), &head, Err()), CAIRN_OK);
  EXPECT_EQ(head, 0u);
}

TEST_F(MemoryStorageTest, EmptyBatchChecksExpectedOnly) {
  cairn_append_result r{sizeof(r), 0, 0, 0, 0, 0, 0};
  ASSERT_EQ(Append("a", kNoStream, {}, &r), CAIRN_OK);
  EXPECT_EQ(r.last_revision, 0u);
  EXPECT_EQ(Append("a", Exact(3), {}), CAIRN_E_WRONG_EXPECTED_REVISION);
  cairn_stream_fn count = [](void* c, const cairn_stream_info*) {
    ++*static_cast<int*>(c);
    return 0;
  };
  int streams = 0;
  ASSERT_EQ(Api().list_streams(store_, 0, 100, count, &streams, Err()),
            CAIRN_OK);
  EXPECT_EQ(streams, 0);
}

TEST_F(MemoryStorageTest, ReadStreamHonoursInclusiveBoundsAndMax) {
  ASSERT_EQ(Append("s", kAny, {"1", "2", "3", "4", "5"}), CAIRN_OK);
  EXPECT_EQ(ReadStream("s", 2, 4, 100).size(), 3u);
  EXPECT_EQ(ReadStream("s", 2, 4, 2).back().revision, 3u);
  EXPECT_TRUE(ReadStream("s", 1, 5, 0).empty());
  EXPECT_TRUE(ReadStream("s", 4, 2, 100).empty());
  EXPECT_TRUE(ReadStream("s", 6, CAIRN_MAX_REVISION, 100).empty());
  EXPECT_TRUE(ReadStream("unknown", 1, CAIRN_MAX_REVISION, 100).empty());
  EXPECT_EQ(ReadStream("s", 0, CAIRN_MAX_REVISION, 100).front().revision, 1u);
}

TEST_F(MemoryStorageTest, ReadTagReturnsTaggedEventsAfterPosition) {
  ASSERT_EQ(Append("a", kAny, {"1"}, nullptr, {"order"}), CAIRN_OK);
  ASSERT_EQ(Append("b", kAny, {"2"}), CAIRN_OK);
  ASSERT_EQ(Append("c", kAny, {"3"}, nullptr, {"order", "vip"}), CAIRN_OK);
  std::vector<Recorded> out;
  ASSERT_EQ(Api().read_tag(store_, B("order"), 0, 100, &Record, &out, Err()),
            CAIRN_OK);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[1].position, 3u);
  EXPECT_EQ(out[1].tags, (std::vector<std::string>{"order", "vip"}));
  out.clear();
  ASSERT_EQ(Api().read_tag(store_, B("order"), 1, 100, &Record, &out, Err()),
            CAIRN_OK);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].stream, "c");
}

TEST_F(MemoryStorageTest, DeleteToHidesEventsButKeepsHead) {
  ASSERT_EQ(Append("s", kAny, {"1", "2", "3"}), CAIRN_OK);
  ASSERT_EQ(Api().delete_to(store_, B("s"), 2, Err()), CAIRN_OK);
  std::vector<Recorded> left = ReadStream("s", 1, CAIRN_MAX_REVISION, 100);
  ASSERT_EQ(left.size(), 1u);
  EXPECT_EQ(left[0].revision, 3u);
  EXPECT_EQ(ReadAll(0).size(), 1u);
  EXPECT_EQ(ReadAll(0, /*include_deleted=*/true).size(), 3u);

  ASSERT_EQ(Api().delete_to(store_, B("s"), CAIRN_MAX_REVISION, Err()),
            CAIRN_OK);
  EXPECT_TRUE(ReadStream("s", 1, CAIRN_MAX_REVISION, 100).empty());
  uint64_t head = 0;
  ASSERT_EQ(Api().head_revision(store_, B("s"), &head, Err()), CAIRN_OK);
  EXPECT_EQ(head, 3u);
  // Deleting to the maximum deletes what exists, not what comes later.
  ASSERT_EQ(Append("s", Exact(3), {"4"}), CAIRN_OK);
  ASSERT_EQ(ReadStream("s", 1, CAIRN_MAX_REVISION, 100).size(), 1u);
  EXPECT_EQ(Api().delete_to(store_, B("nobody"), 5, Err()), CAIRN_OK);
}

TEST_F(MemoryStorageTest, WaitCommitWakesOnAppend) {
  uint64_t position = 0;
  std::atomic<cairn_status> waited{CAIRN_E_INTERNAL};
  std::thread waiter([&] {
    char buffer[256];
    cairn_error e{buffer, sizeof(buffer)};
    waited = Api().wait_commit(store_, 0, 30000, &position, &e);
  });
  ASSERT_EQ(Append("s", kAny, {"1"}), CAIRN_OK);
  waiter.join();
  EXPECT_EQ(waited.load(), CAIRN_OK);
  EXPECT_EQ(position, 1u);
}

TEST_F(MemoryStorageTest, WaitCommitTimesOutWithoutAppend) {
  uint64_t position = 7;
  EXPECT_EQ(Api().wait_commit(store_, 0, 10, &position, Err()),
            CAIRN_E_TIMEOUT);
  EXPECT_EQ(position, 0u);
  EXPECT_NE(std::string(message_).find("within 10 ms"), std::string::npos);
}

struct LoadedSnapshot {
  bool found = false;
  uint64_t revision = 0;
  std::string data;
};

int RecordSnapshot(void* c, const cairn_snapshot* s) {
  auto* out = static_cast<LoadedSnapshot*>(c);
  out->found = true;
  out->revision = s->revision;
  out->data = std::string(sdk::View(s->data));
  return 0;
}

TEST_F(MemoryStorageTest, SnapshotsSelectByCriteria) {
  const std::string stream = "s";  // outlives the cairn_snapshot below
  auto save = [&](uint64_t revision, int64_t ts, const std::string& data) {
    cairn_snapshot s{sizeof(cairn_snapshot), B(stream), revision, ts, B(data)};
    return Api().snapshot_save(store_, &s, Err());
  };
  ASSERT_EQ(save(5, 100, "five"), CAIRN_OK);
  ASSERT_EQ(save(10, 200, "ten"), CAIRN_OK);
  ASSERT_EQ(save(10, 300, "ten again"), CAIRN_OK);
  cairn_snapshot_criteria all{sizeof(cairn_snapshot_criteria), 0,
                              CAIRN_MAX_REVISION, INT64_MIN, INT64_MAX};
  LoadedSnapshot got;
  ASSERT_EQ(Api().snapshot_load(store_, B("s"), &all, &RecordSnapshot, &got,
                                Err()),
            CAIRN_OK);
  EXPECT_EQ(got.revision, 10u);
  EXPECT_EQ(got.data, "ten again");
  cairn_snapshot_criteria older = all;
  older.max_timestamp_us = 250;
  got = {};
  ASSERT_EQ(Api().snapshot_load(store_, B("s"), &older, &RecordSnapshot, &got,
                                Err()),
            CAIRN_OK);
  EXPECT_EQ(got.revision, 5u);
  ASSERT_EQ(Api().snapshot_delete(store_, B("s"), 10, Err()), CAIRN_OK);
  ASSERT_EQ(Api().snapshot_delete_matching(store_, B("s"), &all, Err()),
            CAIRN_OK);
  got = {};
  ASSERT_EQ(Api().snapshot_load(store_, B("s"), &all, &RecordSnapshot, &got,
                                Err()),
            CAIRN_OK);
  EXPECT_FALSE(got.found);
}

TEST_F(MemoryStorageTest, RejectsInvalidNamesWithMessages) {
  EXPECT_EQ(Append("", kAny, {"x"}), CAIRN_E_INVALID_ARGUMENT);
  EXPECT_STREQ(message_, "stream name is empty");
  EXPECT_EQ(Append(std::string(256, 'n'), kAny, {"x"}),
            CAIRN_E_INVALID_ARGUMENT);
  EXPECT_NE(std::string(message_).find("limit is 255"), std::string::npos);
  EXPECT_EQ(Append(std::string("a\0b", 3), kAny, {"x"}),
            CAIRN_E_INVALID_ARGUMENT);
  EXPECT_NE(std::string(message_).find("NUL"), std::string::npos);
  EXPECT_EQ(ReadAll(0).size(), 0u);
}

TEST_F(MemoryStorageTest, RejectsEventStructTooSmall) {
  std::vector<cairn_event> events(1);
  events[0].size = 8;
  std::vector<const cairn_event*> pointers;
  const std::string stream = "s";  // outlives the request that points at it
  cairn_append_request request = Request(stream, kAny, events, &pointers);
  EXPECT_EQ(Api().append(store_, &request, nullptr, Err()),
            CAIRN_E_INVALID_ARGUMENT);
  EXPECT_NE(std::string(message_).find("cairn_event.size is 8"),
            std::string::npos)
      << message_;
}

// One record of read_log, owned.
struct Logged {
  uint32_t kind = 0;
  uint64_t position = 0, epoch = 0, revision = 0;
  std::string stream, data;
};

int Log(void* context, const cairn_log_record* r) {
  Logged l{r->kind,
           r->position,
           r->epoch,
           r->revision,
           std::string(sdk::View(r->stream)),
           std::string(sdk::View(r->data))};
  if (r->event != nullptr) {
    l.stream = std::string(sdk::View(r->event->stream));
    l.revision = r->event->revision;
    l.data = std::string(sdk::View(r->event->data));
  }
  static_cast<std::vector<Logged>*>(context)->push_back(l);
  return 0;
}

class MemoryLogTest : public MemoryStorageTest {
 public:
  // Reopens the fixture's store with "commit" = "host".
  void OpenHostCommit() {
    Api().close(store_);
    store_ = nullptr;
    cairn_option host{"commit", "host"};
    cairn_options options{&host, 1};
    ASSERT_EQ(Api().open(&options, &store_, Err()), CAIRN_OK) << message_;
  }
  std::vector<Logged> ReadLog(uint64_t after = 0) {
    std::vector<Logged> out;
    EXPECT_EQ(
        Api().read_log(store_, after, CAIRN_MAX_REVISION, &Log, &out, Err()),
        CAIRN_OK)
        << message_;
    return out;
  }
  cairn_log_state State() {
    cairn_log_state state{};
    state.size = sizeof(state);
    EXPECT_EQ(Api().log_state(store_, &state, Err()), CAIRN_OK) << message_;
    return state;
  }
  uint64_t Head() {
    uint64_t head = 0;
    EXPECT_EQ(Api().head_position(store_, &head, Err()), CAIRN_OK);
    return head;
  }
  uint64_t HeadRevision(const std::string& stream) {
    uint64_t head = 0;
    EXPECT_EQ(Api().head_revision(store_, B(stream), &head, Err()), CAIRN_OK);
    return head;
  }
  std::vector<Recorded> ReadTag(const std::string& tag) {
    std::vector<Recorded> out;
    EXPECT_EQ(Api().read_tag(store_, B(tag), 0, CAIRN_MAX_REVISION, &Record,
                             &out, Err()),
              CAIRN_OK);
    return out;
  }
  size_t Snapshots(const std::string& stream) {
    cairn_snapshot_criteria all{sizeof(all), 0, CAIRN_MAX_REVISION, INT64_MIN,
                                INT64_MAX};
    size_t n = 0;
    EXPECT_EQ(Api().snapshot_load(
                  store_, B(stream), &all,
                  [](void* c, const cairn_snapshot*) {
                    ++*static_cast<size_t*>(c);
                    return 0;
                  },
                  &n, Err()),
              CAIRN_OK);
    return n;
  }
  size_t Streams() {
    size_t n = 0;
    EXPECT_EQ(Api().list_streams(
                  store_, 0, CAIRN_MAX_REVISION,
                  [](void* c, const cairn_stream_info*) {
                    ++*static_cast<size_t*>(c);
                    return 0;
                  },
                  &n, Err()),
              CAIRN_OK);
    return n;
  }
  void Snapshot(const std::string& stream, uint64_t revision) {
    const std::string data = "snap";
    cairn_snapshot s{sizeof(s), B(stream), revision, 5, B(data)};
    ASSERT_EQ(Api().snapshot_save(store_, &s, Err()), CAIRN_OK) << message_;
  }
};

// An EVENT record for apply_log over `event` (which the caller fills).
cairn_log_record EventRecord(const cairn_event* event, uint64_t position,
                             uint32_t batch_size = 1, uint32_t batch_index = 0,
                             uint64_t epoch = 0) {
  cairn_log_record r{};
  r.size = sizeof(r);
  r.kind = CAIRN_RECORD_EVENT;
  r.position = position;
  r.epoch = epoch;
  r.batch_size = batch_size;
  r.batch_index = batch_index;
  r.event = event;
  return r;
}

TEST_F(MemoryLogTest, ControlRecordsTakePositionsThatEventReadsSkip) {
  ASSERT_EQ(Append("a", kAny, {"1", "2"}, nullptr, {"t"}), CAIRN_OK);
  ASSERT_EQ(Api().delete_to(store_, B("a"), 1, Err()), CAIRN_OK);        // 3
  Snapshot("a", 2);                                                      // 4
  ASSERT_EQ(Api().snapshot_delete(store_, B("a"), 2, Err()), CAIRN_OK);  // 5
  uint64_t epoch_at = 0;
  ASSERT_EQ(Api().begin_epoch(store_, 3, B("node-1"), &epoch_at, Err()),
            CAIRN_OK);
  EXPECT_EQ(epoch_at, 6u);
  cairn_append_result r{sizeof(r), 0, 0, 0, 0, 0, 0};
  ASSERT_EQ(Append("a", kAny, {"3"}, &r), CAIRN_OK);
  EXPECT_EQ(r.first_position, 7u);
  std::vector<Logged> log = ReadLog();
  ASSERT_EQ(log.size(), 7u);
  const uint32_t kinds[] = {CAIRN_RECORD_EVENT,
                            CAIRN_RECORD_EVENT,
                            CAIRN_RECORD_DELETE_TO,
                            CAIRN_RECORD_SNAPSHOT_SAVE,
                            CAIRN_RECORD_SNAPSHOT_DELETE,
                            CAIRN_RECORD_EPOCH,
                            CAIRN_RECORD_EVENT};
  for (size_t i = 0; i < log.size(); ++i) {
    EXPECT_EQ(log[i].position, i + 1);
    EXPECT_EQ(log[i].kind, kinds[i]) << "record " << i + 1;
    EXPECT_EQ(log[i].epoch, i < 5 ? 0u : 3u) << "record " << i + 1;
  }
  EXPECT_EQ(log[5].data, "node-1");
  std::vector<Recorded> all = ReadAll(0, true);
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[2].position, 7u);
  EXPECT_EQ(Head(), 7u);
  // A delete that deletes nothing new writes no record.
  ASSERT_EQ(Api().delete_to(store_, B("a"), 1, Err()), CAIRN_OK);
  ASSERT_EQ(Api().delete_to(store_, B("nobody"), 9, Err()), CAIRN_OK);
  EXPECT_EQ(State().written, 7u);
  uint64_t end = 0;
  ASSERT_EQ(Api().epoch_end(store_, 2, &end, Err()), CAIRN_OK);
  EXPECT_EQ(end, 5u);
  ASSERT_EQ(Api().epoch_end(store_, 3, &end, Err()), CAIRN_OK);
  EXPECT_EQ(end, 7u);
  EXPECT_EQ(Api().begin_epoch(store_, 3, B("again"), nullptr, Err()),
            CAIRN_E_FAILED_PRECONDITION);
}

TEST_F(MemoryLogTest, ApplyLogRefusesGapsPartialBatchesRevisionsAndEpochs) {
  const std::string stream = "r";
  cairn_event e1{}, e2{};
  e1.size = e2.size = sizeof(cairn_event);
  e1.stream = e2.stream = B(stream);
  e1.revision = 1;
  e2.revision = 2;
  cairn_log_record gap = EventRecord(&e1, 2);
  const cairn_log_record* one = &gap;
  EXPECT_EQ(Api().apply_log(store_, &one, 1, Err()),
            CAIRN_E_FAILED_PRECONDITION);
  EXPECT_NE(std::string(message_).find("expected position 1"),
            std::string::npos)
      << message_;
  cairn_log_record half = EventRecord(&e1, 1, 2, 0);
  one = &half;
  EXPECT_EQ(Api().apply_log(store_, &one, 1, Err()),
            CAIRN_E_FAILED_PRECONDITION);
  EXPECT_NE(std::string(message_).find("a batch comes whole"),
            std::string::npos)
      << message_;
  cairn_log_record skip = EventRecord(&e2, 1);
  one = &skip;
  EXPECT_EQ(Api().apply_log(store_, &one, 1, Err()),
            CAIRN_E_FAILED_PRECONDITION);
  EXPECT_NE(std::string(message_).find("expected 1"), std::string::npos);
  cairn_log_record epoch = EventRecord(&e1, 1, 1, 0, 4);
  one = &epoch;
  EXPECT_EQ(Api().apply_log(store_, &one, 1, Err()),
            CAIRN_E_FAILED_PRECONDITION);
  EXPECT_NE(std::string(message_).find("epoch 4"), std::string::npos);
  // A good record before a bad one: nothing of the call is written.
  cairn_log_record good = EventRecord(&e1, 1);
  cairn_log_record bad = EventRecord(&e1, 2);  // revision 1 again
  const cairn_log_record* two[] = {&good, &bad};
  EXPECT_EQ(Api().apply_log(store_, two, 2, Err()),
            CAIRN_E_FAILED_PRECONDITION);
  EXPECT_EQ(State().written, 0u);
  EXPECT_TRUE(ReadAll(0, true).empty());
  cairn_log_record both[] = {EventRecord(&e1, 1, 2, 0),
                             EventRecord(&e2, 2, 2, 1)};
  const cairn_log_record* pair[] = {&both[0], &both[1]};
  ASSERT_EQ(Api().apply_log(store_, pair, 2, Err()), CAIRN_OK) << message_;
  cairn_append_result r{sizeof(r), 0, 0, 0, 0, 0, 0};
  ASSERT_EQ(Append("r", Exact(2), {"next"}, &r), CAIRN_OK) << message_;
  EXPECT_EQ(r.first_position, 3u);
}

TEST_F(MemoryLogTest, HostCommitShowsReadersOnlyWhatSetCommittedAllows) {
  // With commit = durable, set_committed is refused: the store commits.
  EXPECT_EQ(Api().set_committed(store_, 0, Err()), CAIRN_E_FAILED_PRECONDITION);
  ASSERT_NO_FATAL_FAILURE(OpenHostCommit());
  ASSERT_EQ(Append("h", kAny, {"1", "2"}, nullptr, {"t"}), CAIRN_OK);
  Snapshot("h", 2);
  EXPECT_EQ(Head(), 0u);
  EXPECT_TRUE(ReadAll(0, true).empty());
  EXPECT_TRUE(ReadTag("t").empty());
  EXPECT_EQ(HeadRevision("h"), 0u);
  EXPECT_EQ(Streams(), 0u);
  EXPECT_EQ(Snapshots("h"), 0u);
  EXPECT_EQ(ReadLog().size(), 3u) << "read_log reads up to written";
  // Expected revisions see the written head.
  EXPECT_EQ(Append("h", Exact(2), {"3"}), CAIRN_OK) << message_;
  EXPECT_EQ(Api().set_committed(store_, 5, Err()), CAIRN_E_FAILED_PRECONDITION);
  EXPECT_NE(std::string(message_).find("past durable 4"), std::string::npos)
      << message_;
  ASSERT_EQ(Api().set_committed(store_, 2, Err()), CAIRN_OK) << message_;
  EXPECT_EQ(Head(), 2u);
  EXPECT_EQ(ReadAll(0).size(), 2u);
  EXPECT_EQ(ReadTag("t").size(), 2u);
  EXPECT_EQ(HeadRevision("h"), 2u);
  EXPECT_EQ(Snapshots("h"), 0u);
  ASSERT_EQ(Api().set_committed(store_, 1, Err()), CAIRN_OK);  // no-op
  EXPECT_EQ(Head(), 2u);
  ASSERT_EQ(Api().set_committed(store_, 4, Err()), CAIRN_OK);
  EXPECT_EQ(Snapshots("h"), 1u);
  EXPECT_EQ(HeadRevision("h"), 3u);
  cairn_log_state s = State();
  EXPECT_EQ(s.committed, 4u);
  EXPECT_EQ(s.durable, 4u);
  EXPECT_EQ(s.written, 4u);
}

TEST_F(MemoryLogTest, SetCommittedWakesWaitCommit) {
  ASSERT_NO_FATAL_FAILURE(OpenHostCommit());
  ASSERT_EQ(Append("w", kAny, {"1"}), CAIRN_OK);
  cairn_status waited = CAIRN_E_INTERNAL;
  uint64_t seen = 0;
  std::thread waiter([&] {
    char buffer[256];
    cairn_error err{buffer, sizeof(buffer)};
    // An hour: only set_committed can end this wait in time for the test.
    waited = Api().wait_commit(store_, 0, 3600 * 1000, &seen, &err);
  });
  // Wait (bounded) until the waiter is inside wait_commit.
  for (int i = 0; i < 100000; ++i) {
    double waiters = 0;
    Api().stats(
        store_,
        [](void* c, const char* name, double v) {
          if (std::string(name) == "waiters") *static_cast<double*>(c) = v;
        },
        &waiters, Err());
    if (waiters == 1) break;
    std::this_thread::yield();
  }
  ASSERT_EQ(Api().set_committed(store_, 1, Err()), CAIRN_OK);
  waiter.join();
  EXPECT_EQ(waited, CAIRN_OK);
  EXPECT_EQ(seen, 1u);
}

TEST_F(MemoryLogTest, ASealMayWriteSnapshotsWhileItsAppendWaits) {
  // The Store's seal saves a snapshot (its seal-key record) from inside
  // seal: control writes must not wait for the append that is sealing.
  std::vector<cairn_event> events(2);
  for (cairn_event& e : events) {
    e = cairn_event{};
    e.size = sizeof(cairn_event);
  }
  std::vector<const cairn_event*> pointers;
  const std::string stream = "sealed";
  cairn_append_request request = Request(stream, kAny, events, &pointers);
  request.seal = [](void* context, size_t index, uint64_t revision,
                    cairn_buffer* out, cairn_error* error) -> cairn_status {
    auto* store = static_cast<cairn_storage*>(context);
    const std::string key = "key-" + std::to_string(revision);
    const std::string keys = "seal-keys";
    cairn_snapshot s{sizeof(s), B(keys), revision, 1, B(key)};
    cairn_status st = Api().snapshot_save(store, &s, error);
    if (st != CAIRN_OK) return st;
    if (out->reserve(out, 1) != 0) return CAIRN_E_RESOURCE_EXHAUSTED;
    out->data[out->size++] = static_cast<uint8_t>('a' + index);
    return CAIRN_OK;
  };
  request.seal_context = store_;
  cairn_append_result r{sizeof(r), 0, 0, 0, 0, 0, 0};
  ASSERT_EQ(Api().append(store_, &request, &r, Err()), CAIRN_OK) << message_;
  // The snapshots took positions 1 and 2; the batch follows, contiguous.
  EXPECT_EQ(r.first_position, 3u);
  EXPECT_EQ(r.last_position, 4u);
  EXPECT_EQ(Snapshots("seal-keys"), 1u);
  std::vector<Logged> log = ReadLog();
  ASSERT_EQ(log.size(), 4u);
  EXPECT_EQ(log[2].kind, static_cast<uint32_t>(CAIRN_RECORD_EVENT));
  EXPECT_EQ(log[3].data, "b");
}

TEST_F(MemoryLogTest, TruncateAfterLeavesNoTraceOfTheCut) {
  ASSERT_EQ(Append("keep", kAny, {"1"}, nullptr, {"t"}), CAIRN_OK);   // 1
  Snapshot("keep", 1);                                                // 2
  ASSERT_EQ(Append("keep", kAny, {"2"}, nullptr, {"t"}), CAIRN_OK);   // 3
  ASSERT_EQ(Append("gone", kAny, {"x"}, nullptr, {"t"}), CAIRN_OK);   // 4
  ASSERT_EQ(Api().delete_to(store_, B("keep"), 2, Err()), CAIRN_OK);  // 5
  Snapshot("keep", 2);                                                // 6
  ASSERT_EQ(Api().begin_epoch(store_, 2, B("p"), nullptr, Err()),
            CAIRN_OK);  // 7
  // Below committed needs the flag.
  EXPECT_EQ(Api().truncate_after(store_, 3, 0, Err()),
            CAIRN_E_FAILED_PRECONDITION);
  EXPECT_EQ(State().written, 7u);
  ASSERT_EQ(Api().truncate_after(store_, 3, CAIRN_TRUNCATE_COMMITTED, Err()),
            CAIRN_OK)
      << message_;
  cairn_log_state s = State();
  EXPECT_EQ(s.written, 3u);
  EXPECT_EQ(s.committed, 3u);
  EXPECT_EQ(s.epoch, 0u);
  EXPECT_EQ(Head(), 3u);
  EXPECT_EQ(ReadLog().size(), 3u);
  EXPECT_EQ(ReadAll(0).size(), 2u) << "the delete was cut";
  EXPECT_EQ(ReadTag("t").size(), 2u);
  EXPECT_EQ(HeadRevision("gone"), 0u);
  EXPECT_EQ(Streams(), 1u);
  EXPECT_EQ(Snapshots("keep"), 1u);
  cairn_append_result r{sizeof(r), 0, 0, 0, 0, 0, 0};
  ASSERT_EQ(Append("gone", kNoStream, {"y"}, &r), CAIRN_OK) << message_;
  EXPECT_EQ(r.first_position, 4u);
  EXPECT_EQ(r.first_revision, 1u);
  ASSERT_EQ(Api().begin_epoch(store_, 1, B("p"), nullptr, Err()), CAIRN_OK)
      << "epoch 2 was cut: epoch 1 is new again";
}

TEST_F(MemoryLogTest, TruncateAboveCommittedNeedsNoFlag) {
  ASSERT_NO_FATAL_FAILURE(OpenHostCommit());
  ASSERT_EQ(Append("u", kAny, {"1", "2", "3"}), CAIRN_OK);
  ASSERT_EQ(Api().set_committed(store_, 2, Err()), CAIRN_OK);
  EXPECT_EQ(Api().truncate_after(store_, 1, 0, Err()),
            CAIRN_E_FAILED_PRECONDITION);
  ASSERT_EQ(Api().truncate_after(store_, 2, 0, Err()), CAIRN_OK) << message_;
  EXPECT_EQ(State().written, 2u);
  EXPECT_EQ(HeadRevision("u"), 2u);
}

TEST_F(MemoryStorageTest, CallbackMayCallBackIntoTheStore) {
  ASSERT_EQ(Append("s", kAny, {"1"}), CAIRN_OK);
  struct Context {
    MemoryStorageTest* test;
    cairn_status status;
  } context{this, CAIRN_E_INTERNAL};
  cairn_event_fn append_from_callback = [](void* c, const cairn_event*) {
    auto* ctx = static_cast<Context*>(c);
    ctx->status = ctx->test->Append("other", kAny, {"x"});
    return 0;
  };
  ASSERT_EQ(Api().read_all(store_, 0, 10, 0, append_from_callback, &context,
                           Err()),
            CAIRN_OK);
  EXPECT_EQ(context.status, CAIRN_OK);
}

TEST_F(MemoryStorageTest, ConcurrentAppendersLoseAndDuplicateNothing) {
  constexpr int kThreads = 4;
  constexpr int kBatches = 200;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int b = 0; b < kBatches; ++b) {
        std::string stream = b % 2 ? "shared" : "own-" + std::to_string(t);
        std::vector<cairn_event> events(2);
        for (cairn_event& e : events) {
          e = cairn_event{};
          e.size = sizeof(cairn_event);
        }
        char buffer[256];
        cairn_error err{buffer, sizeof(buffer)};
        std::vector<const cairn_event*> pointers;
        cairn_append_request request = Request(stream, kAny, events, &pointers);
        ASSERT_EQ(Api().append(store_, &request, nullptr, &err), CAIRN_OK);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  std::vector<Recorded> all = ReadAll(0);
  ASSERT_EQ(all.size(), size_t{kThreads * kBatches * 2});
  for (size_t i = 0; i < all.size(); ++i) EXPECT_EQ(all[i].position, i + 1);
  std::vector<Recorded> shared =
      ReadStream("shared", 1, CAIRN_MAX_REVISION, CAIRN_MAX_REVISION);
  ASSERT_EQ(shared.size(), size_t{kThreads * kBatches});
  for (size_t i = 0; i < shared.size(); ++i) {
    EXPECT_EQ(shared[i].revision, i + 1);
  }
}

}  // namespace
}  // namespace cairn::memory
