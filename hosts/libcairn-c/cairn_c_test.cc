// Tests of libcairn-c through its C header only, as a foreign caller sees it.
// The store runs on the built-in memory storage plugin, so nothing here
// depends on a file system layout; persistence across a reopen is the
// storage plugin's business and is covered by its own tests and by the .NET
// process-restart test.
#include <cairn/cairn.h>
#include <gtest/gtest.h>

#include <unistd.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace {

cairn_bytes S(const std::string& s) {
  return cairn_bytes{reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}
std::string Copy(cairn_bytes s) {
  return std::string(reinterpret_cast<const char*>(s.data), s.size);
}

struct Error {
  char message[512] = "";
  cairn_error error{message, sizeof(message)};
};

struct Event {
  std::string stream;
  uint64_t revision = 0;
  uint64_t position = 0;
  std::string type, data, metadata, writer;
  int64_t timestamp_us = 0;
  std::vector<std::string> tags;
};

int Collect(void* context, const cairn_event* ev) {
  auto* out = static_cast<std::vector<Event>*>(context);
  Event e;
  e.stream = Copy(ev->stream);
  e.revision = ev->revision;
  e.position = ev->position;
  e.type = Copy(ev->type);
  e.data = Copy(ev->data);
  e.metadata = Copy(ev->metadata);
  e.writer = Copy(ev->writer);
  e.timestamp_us = ev->timestamp_us;
  for (uint32_t i = 0; i < ev->tag_count; ++i) e.tags.push_back(Copy(ev->tags[i]));
  out->push_back(std::move(e));
  return 0;
}

// An event to append, owning its strings.
struct Input {
  std::string type = "Placed";
  std::string data = "payload";
  std::string metadata;
  std::string writer;
  std::vector<std::string> tags;
  int64_t timestamp_us = 0;
};

class CairnC : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* overrides[] = {"storage.plugin=memory"};
    Error e;
    ASSERT_EQ(cairn_store_open(nullptr, overrides, 1, &store_, &e.error), CAIRN_OK)
        << e.message;
  }
  void TearDown() override { cairn_store_close(store_); }

  cairn_status Append(const std::string& stream, const std::vector<Input>& inputs,
                      cairn_expected_kind kind = CAIRN_EXPECT_ANY,
                      uint64_t revision = 0, cairn_append_result* result = nullptr,
                      Error* error = nullptr) {
    std::vector<std::vector<cairn_bytes>> tags(inputs.size());
    std::vector<cairn_event> events(inputs.size());
    for (size_t i = 0; i < inputs.size(); ++i) {
      for (const std::string& t : inputs[i].tags) tags[i].push_back(S(t));
      cairn_event& in = events[i];
      in.size = sizeof(cairn_event);
      in.tag_count = static_cast<uint32_t>(tags[i].size());
      in.tags = tags[i].data();
      in.type = S(inputs[i].type);
      in.data = S(inputs[i].data);
      in.metadata = S(inputs[i].metadata);
      in.writer = S(inputs[i].writer);
      in.timestamp_us = inputs[i].timestamp_us;
    }
    Error local;
    Error* e = error ? error : &local;
    return cairn_append(store_, S(stream), kind, revision, events.data(),
                        events.size(), result, &e->error);
  }

  std::vector<Event> ReadStream(const std::string& stream, uint64_t from = 1,
                                uint64_t to = UINT64_MAX, uint64_t max = UINT64_MAX) {
    std::vector<Event> out;
    Error e;
    EXPECT_EQ(cairn_read_stream(store_, S(stream), from, to, max, &Collect, &out, &e.error),
              CAIRN_OK)
        << e.message;
    return out;
  }

  uint64_t Head(const std::string& stream) {
    uint64_t head = 0;
    Error e;
    EXPECT_EQ(cairn_head_revision(store_, S(stream), &head, &e.error), CAIRN_OK) << e.message;
    return head;
  }

  cairn_store* store_ = nullptr;
};

TEST(CairnCVersion, AbiVersionMatchesTheHeader) {
  EXPECT_EQ(cairn_c_abi_version() >> 16, static_cast<uint32_t>(CAIRN_C_ABI_MAJOR));
  EXPECT_EQ(cairn_c_abi_version() & 0xffff, static_cast<uint32_t>(CAIRN_C_ABI_MINOR));
  EXPECT_NE(std::string(cairn_c_describe()).find("memory"), std::string::npos)
      << cairn_c_describe();
}

TEST(CairnCOpen, UnknownSectionIsAnErrorNamingIt) {
  const char* overrides[] = {"storage.plugin=memory", "bogus.key=1"};
  cairn_store* store = reinterpret_cast<cairn_store*>(0x1);
  Error e;
  cairn_status s = cairn_store_open(nullptr, overrides, 2, &store, &e.error);
  EXPECT_NE(s, CAIRN_OK);
  EXPECT_EQ(store, nullptr);
  EXPECT_NE(std::string(e.message).find("bogus"), std::string::npos) << e.message;
}

TEST(CairnCOpen, UnknownStoragePluginIsAnErrorNamingIt) {
  const char* overrides[] = {"storage.plugin=no-such-storage"};
  cairn_store* store = nullptr;
  Error e;
  EXPECT_NE(cairn_store_open(nullptr, overrides, 1, &store, &e.error), CAIRN_OK);
  EXPECT_EQ(store, nullptr);
  EXPECT_NE(std::string(e.message).find("no-such-storage"), std::string::npos) << e.message;
}

TEST(CairnCOpen, MissingSiteFileIsAnErrorNamingIt) {
  cairn_store* store = nullptr;
  Error e;
  EXPECT_NE(cairn_store_open("/nonexistent/site.ini", nullptr, 0, &store, &e.error), CAIRN_OK);
  EXPECT_EQ(store, nullptr);
  EXPECT_NE(std::string(e.message).find("/nonexistent/site.ini"), std::string::npos)
      << e.message;
}

TEST(CairnCOpen, SiteFileChoosesThePluginsAndOverridesApplyAfterIt) {
  std::string dir = ::testing::TempDir() + "cairn_c_site_" + std::to_string(::getpid());
  std::string site = dir + ".ini";
  {
    std::ofstream out(site);
    out << "[store]\npath = " << dir << "\n[storage]\nplugin = memory\n";
  }
  cairn_store* store = nullptr;
  Error e;
  ASSERT_EQ(cairn_store_open(site.c_str(), nullptr, 0, &store, &e.error), CAIRN_OK) << e.message;
  cairn_store_close(store);
  // An override naming a plugin that does not exist wins over the file.
  const char* overrides[] = {"storage.plugin=absent"};
  store = nullptr;
  EXPECT_NE(cairn_store_open(site.c_str(), overrides, 1, &store, &e.error), CAIRN_OK);
  EXPECT_EQ(store, nullptr);
  EXPECT_NE(std::string(e.message).find("absent"), std::string::npos) << e.message;
  std::remove(site.c_str());
}

// The plugin search order every host uses (cairn/plugin_search.h). The
// loader fixture "good" is a codec plugin file no host has built in: with an
// option it does not accept, the open fails naming that option only if the
// file was found.
class CairnCPluginSearch : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* fixtures = std::getenv("CAIRN_FIXTURE_DIR");
    ASSERT_NE(fixtures, nullptr);
    loader_ = std::string(fixtures) + "/loader";
    if (const char* env = std::getenv("CAIRN_PLUGIN_DIR")) saved_ = env;
    dir_ = ::testing::TempDir() + "cairn_c_search_" +
           std::to_string(::getpid()) + "_" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override {
    if (saved_.empty()) {
      ::unsetenv("CAIRN_PLUGIN_DIR");
    } else {
      ::setenv("CAIRN_PLUGIN_DIR", saved_.c_str(), 1);
    }
    std::filesystem::remove_all(dir_);
  }
  // The open's message with the fixture codec chosen.
  std::string OpenMessage(const char* site_file) {
    const char* overrides[] = {"storage.plugin=memory", "codec.plugin=good",
                               "codec.nope=1"};
    cairn_store* store = nullptr;
    Error e;
    EXPECT_NE(cairn_store_open(site_file, overrides, 3, &store, &e.error),
              CAIRN_OK);
    EXPECT_EQ(store, nullptr);
    return e.message;
  }

  std::string loader_, saved_, dir_;
};

TEST_F(CairnCPluginSearch, WithoutASearchFolderTheFileIsNotFound) {
  ::unsetenv("CAIRN_PLUGIN_DIR");
  EXPECT_NE(OpenMessage(nullptr).find("no codec plugin named 'good'"),
            std::string::npos);
}

TEST_F(CairnCPluginSearch, FindsPluginFilesThroughCairnPluginDir) {
  ::setenv("CAIRN_PLUGIN_DIR", (dir_ + ":" + loader_).c_str(), 1);
  std::string message = OpenMessage(nullptr);
  EXPECT_NE(message.find("'nope' is not an option of codec plugin 'good'"),
            std::string::npos)
      << message;
}

TEST_F(CairnCPluginSearch,
       RelativeSitePluginDirsAreTakenFromTheSiteFilesFolder) {
  ::unsetenv("CAIRN_PLUGIN_DIR");
  std::filesystem::create_directories(dir_ + "/etc");
  std::filesystem::create_symlink(loader_, dir_ + "/etc/plugins");
  std::ofstream(dir_ + "/etc/site.ini") << "[store]\nplugin-dirs = plugins\n";
  std::string message = OpenMessage((dir_ + "/etc/site.ini").c_str());
  EXPECT_NE(message.find("'nope' is not an option of codec plugin 'good'"),
            std::string::npos)
      << message;
}

TEST_F(CairnCPluginSearch, AMissingFolderInCairnPluginDirIsNamed) {
  ::setenv("CAIRN_PLUGIN_DIR", (dir_ + "/gone").c_str(), 1);
  const char* overrides[] = {"storage.plugin=memory"};
  cairn_store* store = nullptr;
  Error e;
  EXPECT_EQ(cairn_store_open(nullptr, overrides, 1, &store, &e.error),
            CAIRN_E_INVALID_ARGUMENT);
  EXPECT_NE(std::string(e.message).find("$CAIRN_PLUGIN_DIR"), std::string::npos)
      << e.message;
  EXPECT_NE(std::string(e.message).find(dir_ + "/gone"), std::string::npos)
      << e.message;
}

TEST(CairnCOpen, NullOutputPointerIsInvalidArgument) {
  Error e;
  EXPECT_EQ(cairn_store_open(nullptr, nullptr, 0, nullptr, &e.error), CAIRN_E_INVALID_ARGUMENT);
  EXPECT_NE(std::string(e.message).find("store is NULL"), std::string::npos) << e.message;
}

TEST(CairnCErrors, MessageIsTruncatedToTheCallersBuffer) {
  char small[8];
  std::memset(small, 'x', sizeof(small));
  cairn_error error{small, sizeof(small)};
  EXPECT_EQ(cairn_store_open(nullptr, nullptr, 0, nullptr, &error), CAIRN_E_INVALID_ARGUMENT);
  EXPECT_EQ(std::strlen(small), sizeof(small) - 1);
  EXPECT_STREQ(cairn_c_status_name(CAIRN_E_WRONG_EXPECTED_REVISION), "WrongExpectedRevision");
}

TEST_F(CairnC, AppendedEventsReadBackWithEveryField) {
  Input in;
  in.type = "OrderPlaced";
  in.data = std::string("\0bin\xff", 5);
  in.metadata = "meta";
  in.writer = "writer-guid";
  in.tags = {"order", "eu"};
  in.timestamp_us = 1234567;
  cairn_append_result result{};
  result.size = sizeof(result);
  ASSERT_EQ(Append("order-1", {in, in}, CAIRN_EXPECT_NO_STREAM, 0, &result), CAIRN_OK);
  EXPECT_EQ(result.first_revision, 1u);
  EXPECT_EQ(result.last_revision, 2u);
  EXPECT_EQ(result.last_position - result.first_position, 1u);

  std::vector<Event> events = ReadStream("order-1");
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].stream, "order-1");
  EXPECT_EQ(events[0].revision, 1u);
  EXPECT_EQ(events[1].revision, 2u);
  EXPECT_EQ(events[0].position, result.first_position);
  EXPECT_EQ(events[0].type, "OrderPlaced");
  EXPECT_EQ(events[0].data, in.data);
  EXPECT_EQ(events[0].metadata, "meta");
  EXPECT_EQ(events[0].writer, "writer-guid");
  EXPECT_EQ(events[0].timestamp_us, 1234567);
  EXPECT_EQ(events[0].tags, (std::vector<std::string>{"order", "eu"}));
}

TEST_F(CairnC, WrongExpectedRevisionWritesNothing) {
  ASSERT_EQ(Append("s", {Input{}}), CAIRN_OK);
  Error e;
  EXPECT_EQ(Append("s", {Input{}, Input{}}, CAIRN_EXPECT_EXACT, 5, nullptr, &e),
            CAIRN_E_WRONG_EXPECTED_REVISION);
  EXPECT_NE(std::string(e.message), "");
  EXPECT_EQ(Append("s", {Input{}}, CAIRN_EXPECT_NO_STREAM, 0, nullptr, &e),
            CAIRN_E_WRONG_EXPECTED_REVISION);
  EXPECT_EQ(ReadStream("s").size(), 1u);
  EXPECT_EQ(Append("s", {Input{}}, CAIRN_EXPECT_EXACT, 1), CAIRN_OK);
  EXPECT_EQ(Head("s"), 2u);
}

TEST_F(CairnC, BadExpectedKindIsInvalidArgument) {
  Error e;
  EXPECT_EQ(Append("s", {Input{}}, static_cast<cairn_expected_kind>(9), 0, nullptr, &e),
            CAIRN_E_INVALID_ARGUMENT);
  EXPECT_NE(std::string(e.message).find("expected_kind 9"), std::string::npos) << e.message;
  EXPECT_EQ(Head("s"), 0u);
}

TEST_F(CairnC, NamesThatBreakTheNameRuleAreRefusedThroughTheStore) {
  Error e;
  EXPECT_EQ(Append("x\t999", {Input{}}, CAIRN_EXPECT_ANY, 0, nullptr, &e),
            CAIRN_E_INVALID_ARGUMENT);
  EXPECT_NE(std::string(e.message).find("stream name \"x\\t999\" has control character"),
            std::string::npos)
      << e.message;
  Input bad_tag;
  bad_tag.tags = {"t\xC0\xAF"};
  EXPECT_EQ(Append("s", {Input{}, bad_tag}, CAIRN_EXPECT_ANY, 0, nullptr, &e),
            CAIRN_E_INVALID_ARGUMENT);
  EXPECT_NE(std::string(e.message).find("event 1: tag"), std::string::npos) << e.message;
  EXPECT_EQ(Head("s"), 0u);
}

// C API 1.1: events by pointer, so a caller whose cairn_event is larger (a
// later minor) works, and the result is written only within its declared
// size. Each event here is a bigger struct, placed apart from the others.
TEST_F(CairnC, AppendEventsTakesPointersToLargerEventsAndKeepsToTheResultSize) {
  struct LaterEvent {
    cairn_event v2_0;
    uint64_t added_in_a_later_minor;
  };
  std::vector<std::unique_ptr<LaterEvent>> owned;
  std::vector<const cairn_event*> pointers;
  static const std::string kType = "T";
  static const std::string datas[] = {"first", "second", "third"};
  for (const std::string& data : datas) {
    owned.push_back(std::make_unique<LaterEvent>());
    LaterEvent& e = *owned.back();
    e.v2_0.size = sizeof(LaterEvent);
    e.v2_0.type = S(kType);
    e.v2_0.data = S(data);
    e.added_in_a_later_minor = 0xDEADBEEF;
    pointers.push_back(&e.v2_0);
  }
  // A caller that knows only the first two result fields, then canary bytes.
  struct {
    cairn_append_result result;
    uint8_t canary[8];
  } out;
  std::memset(&out, 0xAB, sizeof(out));
  out.result.size = offsetof(cairn_append_result, last_revision) +
                    sizeof(out.result.last_revision);
  Error e;
  ASSERT_EQ(cairn_append_events(store_, S("grown"), CAIRN_EXPECT_NO_STREAM, 0,
                                pointers.data(), pointers.size(), &out.result,
                                &e.error),
            CAIRN_OK)
      << e.message;
  EXPECT_EQ(out.result.first_revision, 1u);
  EXPECT_EQ(out.result.last_revision, 3u);
  const uint8_t* past =
      reinterpret_cast<const uint8_t*>(&out.result.first_position);
  for (size_t i = 0;
       i < sizeof(out) - offsetof(cairn_append_result, first_position); ++i) {
    ASSERT_EQ(past[i], 0xAB)
        << "byte " << i << " past the declared size was written";
  }
  std::vector<Event> read = ReadStream("grown");
  ASSERT_EQ(read.size(), 3u);
  EXPECT_EQ(read[0].data, "first");
  EXPECT_EQ(read[2].data, "third");
  const cairn_event* with_null[] = {pointers[0], nullptr};
  EXPECT_EQ(cairn_append_events(store_, S("grown"), CAIRN_EXPECT_ANY, 0,
                                with_null, 2, nullptr, &e.error),
            CAIRN_E_INVALID_ARGUMENT);
  EXPECT_NE(std::string(e.message).find("cairn_append_events: event 1 is NULL"),
            std::string::npos)
      << e.message;
}

TEST_F(CairnC, TooSmallEventStructIsRefusedWithItsSize) {
  cairn_event in{};
  in.size = 4;
  Error e;
  EXPECT_EQ(cairn_append(store_, S("s"), CAIRN_EXPECT_ANY, 0, &in, 1, nullptr, &e.error),
            CAIRN_E_INVALID_ARGUMENT);
  EXPECT_NE(std::string(e.message).find("has size 4"), std::string::npos) << e.message;
}

TEST_F(CairnC, ReadStreamHonoursFromToAndMax) {
  std::vector<Input> ten(10);
  ASSERT_EQ(Append("s", ten), CAIRN_OK);
  auto events = ReadStream("s", 3, 7);
  ASSERT_EQ(events.size(), 5u);
  EXPECT_EQ(events.front().revision, 3u);
  EXPECT_EQ(events.back().revision, 7u);
  EXPECT_EQ(ReadStream("s", 3, 7, 2).size(), 2u);
  EXPECT_EQ(ReadStream("s", 1, UINT64_MAX, 0).size(), 0u);
  EXPECT_EQ(ReadStream("unknown").size(), 0u);
}

TEST_F(CairnC, CallbackReturningZeroStopsTheRead) {
  ASSERT_EQ(Append("s", std::vector<Input>(5)), CAIRN_OK);
  int seen = 0;
  auto stop_after_two = [](void* context, const cairn_event*) -> int {
    return ++*static_cast<int*>(context) >= 2;
  };
  Error e;
  ASSERT_EQ(cairn_read_stream(store_, S("s"), 1, UINT64_MAX, UINT64_MAX, stop_after_two, &seen,
                              &e.error),
            CAIRN_OK);
  EXPECT_EQ(seen, 2);
}

TEST_F(CairnC, ReadTagAndReadAllAreInPositionOrderAfterTheOffset) {
  Input tagged;
  tagged.tags = {"t"};
  ASSERT_EQ(Append("a", {tagged, Input{}}), CAIRN_OK);
  ASSERT_EQ(Append("b", {tagged}), CAIRN_OK);
  std::vector<Event> by_tag;
  Error e;
  ASSERT_EQ(cairn_read_tag(store_, S("t"), 0, UINT64_MAX, &Collect, &by_tag, &e.error), CAIRN_OK);
  ASSERT_EQ(by_tag.size(), 2u);
  EXPECT_EQ(by_tag[0].stream, "a");
  EXPECT_EQ(by_tag[1].stream, "b");
  EXPECT_LT(by_tag[0].position, by_tag[1].position);

  std::vector<Event> after;
  ASSERT_EQ(cairn_read_tag(store_, S("t"), by_tag[0].position, UINT64_MAX, &Collect, &after,
                           &e.error),
            CAIRN_OK);
  ASSERT_EQ(after.size(), 1u);
  EXPECT_EQ(after[0].stream, "b");

  std::vector<Event> all;
  ASSERT_EQ(cairn_read_all(store_, 1, UINT64_MAX, &Collect, &all, &e.error), CAIRN_OK);
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].position, 2u);
  EXPECT_EQ(all[1].position, 3u);
  uint64_t head = 0;
  ASSERT_EQ(cairn_head_position(store_, &head, &e.error), CAIRN_OK);
  EXPECT_EQ(head, 3u);
}

TEST_F(CairnC, DeleteToEverythingKeepsTheHeadRevision) {
  ASSERT_EQ(Append("s", std::vector<Input>(3)), CAIRN_OK);
  Error e;
  ASSERT_EQ(cairn_delete_to(store_, S("s"), UINT64_MAX, &e.error), CAIRN_OK) << e.message;
  EXPECT_EQ(ReadStream("s").size(), 0u);
  EXPECT_EQ(Head("s"), 3u);
  ASSERT_EQ(Append("s", {Input{}}, CAIRN_EXPECT_EXACT, 3), CAIRN_OK);
  auto events = ReadStream("s");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].revision, 4u);
}

TEST_F(CairnC, DeleteToOfAnUnknownStreamIsOk) {
  Error e;
  EXPECT_EQ(cairn_delete_to(store_, S("nobody"), 10, &e.error), CAIRN_OK) << e.message;
  EXPECT_EQ(Head("nobody"), 0u);
}

struct LoadedSnapshot {
  uint64_t revision = 0;
  int64_t timestamp_us = 0;
  std::string data;
};

int KeepSnapshot(void* context, const cairn_snapshot* s) {
  auto* out = static_cast<LoadedSnapshot*>(context);
  out->revision = s->revision;
  out->timestamp_us = s->timestamp_us;
  out->data = Copy(s->data);
  return 0;
}

TEST_F(CairnC, SnapshotsSaveLoadByCriteriaAndDelete) {
  Error e;
  for (uint64_t rev : {5u, 10u, 15u}) {
    std::string data = "state@" + std::to_string(rev);
    ASSERT_EQ(cairn_snapshot_save(store_, S("s"), rev, static_cast<int64_t>(rev) * 100, S(data),
                                  &e.error),
              CAIRN_OK)
        << e.message;
  }
  LoadedSnapshot got;
  int found = 0;
  ASSERT_EQ(cairn_snapshot_load(store_, S("s"), nullptr, &KeepSnapshot, &got, &found, &e.error),
            CAIRN_OK);
  EXPECT_EQ(found, 1);
  EXPECT_EQ(got.revision, 15u);
  EXPECT_EQ(got.data, "state@15");

  cairn_snapshot_criteria c = cairn_snapshot_criteria_all();
  c.max_revision = 12;
  ASSERT_EQ(cairn_snapshot_load(store_, S("s"), &c, &KeepSnapshot, &got, &found, &e.error),
            CAIRN_OK);
  EXPECT_EQ(got.revision, 10u);
  c = cairn_snapshot_criteria_all();
  c.max_timestamp_us = 700;
  ASSERT_EQ(cairn_snapshot_load(store_, S("s"), &c, &KeepSnapshot, &got, &found, &e.error),
            CAIRN_OK);
  EXPECT_EQ(got.revision, 5u);
  EXPECT_EQ(got.timestamp_us, 500);

  // Overwrite at the same revision.
  ASSERT_EQ(cairn_snapshot_save(store_, S("s"), 15, 1500, S("new"), &e.error), CAIRN_OK);
  ASSERT_EQ(cairn_snapshot_load(store_, S("s"), nullptr, &KeepSnapshot, &got, &found, &e.error),
            CAIRN_OK);
  EXPECT_EQ(got.data, "new");

  ASSERT_EQ(cairn_snapshot_delete(store_, S("s"), 15, &e.error), CAIRN_OK);
  ASSERT_EQ(cairn_snapshot_load(store_, S("s"), nullptr, &KeepSnapshot, &got, &found, &e.error),
            CAIRN_OK);
  EXPECT_EQ(got.revision, 10u);

  c = cairn_snapshot_criteria_all();
  c.max_revision = 10;
  ASSERT_EQ(cairn_snapshot_delete_matching(store_, S("s"), &c, &e.error), CAIRN_OK);
  ASSERT_EQ(cairn_snapshot_load(store_, S("s"), nullptr, &KeepSnapshot, &got, &found, &e.error),
            CAIRN_OK);
  EXPECT_EQ(found, 0);
}

TEST_F(CairnC, ListStreamsInOrderOfFirstAppend) {
  ASSERT_EQ(Append("b", {Input{}}), CAIRN_OK);
  ASSERT_EQ(Append("a", {Input{}, Input{}}), CAIRN_OK);
  ASSERT_EQ(Append("b", {Input{}}), CAIRN_OK);
  std::vector<std::pair<std::string, uint64_t>> streams;
  auto keep = [](void* context, const cairn_stream_info* s) -> int {
    static_cast<std::vector<std::pair<std::string, uint64_t>>*>(context)->emplace_back(
        Copy(s->name), s->head_revision);
    return 0;
  };
  Error e;
  ASSERT_EQ(cairn_list_streams(store_, 0, 100, keep, &streams, &e.error), CAIRN_OK);
  ASSERT_EQ(streams.size(), 2u);
  EXPECT_EQ(streams[0], std::make_pair(std::string("b"), uint64_t{2}));
  EXPECT_EQ(streams[1], std::make_pair(std::string("a"), uint64_t{2}));
}

TEST_F(CairnC, SubscriptionCatchesUpThenWakesOnCommit) {
  Input tagged;
  tagged.tags = {"t"};
  ASSERT_EQ(Append("a", {tagged}), CAIRN_OK);
  cairn_subscription* sub = nullptr;
  Error e;
  ASSERT_EQ(cairn_subscribe(store_, CAIRN_SUBSCRIBE_TAG, S("t"), 0, &sub, &e.error), CAIRN_OK);
  std::vector<Event> got;
  size_t delivered = 0;
  ASSERT_EQ(cairn_subscription_next(sub, 10, 1000, &Collect, &got, &delivered, &e.error),
            CAIRN_OK);
  EXPECT_EQ(delivered, 1u);

  // A commit made while next is called is what that call returns. The C API
  // cannot show whether the reader was already waiting when the writer
  // appended, nor what ended the wait: cairn_subscription_next is
  // Subscription::Next underneath, and
  // StoreTest.ACommitWakesAWaitingSubscription shows there that a commit, not a
  // periodic re-check, ends a wait (it fails for a storage that only polls;
  // this test would not).
  std::thread writer([&] {
    EXPECT_EQ(Append("b", {Input{}, tagged}), CAIRN_OK);
  });
  ASSERT_EQ(cairn_subscription_next(sub, 10, 30000, &Collect, &got, &delivered, &e.error),
            CAIRN_OK);
  writer.join();
  ASSERT_EQ(delivered, 1u);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[1].stream, "b");
  EXPECT_EQ(got[1].revision, 2u);
  EXPECT_EQ(cairn_subscription_cursor(sub), got[1].position);
  cairn_subscription_close(sub);
}

TEST_F(CairnC, SubscriptionTimesOutWithNothing) {
  cairn_subscription* sub = nullptr;
  Error e;
  ASSERT_EQ(cairn_subscribe(store_, CAIRN_SUBSCRIBE_ALL, cairn_bytes{nullptr, 0}, 0, &sub, &e.error),
            CAIRN_OK);
  std::vector<Event> got;
  size_t delivered = 99;
  ASSERT_EQ(cairn_subscription_next(sub, 10, 20, &Collect, &got, &delivered, &e.error), CAIRN_OK);
  EXPECT_EQ(delivered, 0u);
  cairn_subscription_close(sub);
}

TEST_F(CairnC, CancelReturnsAWaitingNext) {
  cairn_subscription* sub = nullptr;
  Error e;
  ASSERT_EQ(cairn_subscribe(store_, CAIRN_SUBSCRIBE_STREAM, S("s"), 0, &sub, &e.error), CAIRN_OK);
  std::atomic<bool> returned{false};
  std::thread reader([&] {
    std::vector<Event> got;
    Error re;
    EXPECT_EQ(cairn_subscription_next(sub, 10, 60000, &Collect, &got, nullptr, &re.error),
              CAIRN_OK);
    EXPECT_TRUE(got.empty());
    returned = true;
  });
  // Whether the cancel comes before the reader waits or while it waits, its
  // next must return well before its 60 s timeout. (The C API cannot show
  // the reader waiting;
  // StoreTest.AStreamSubscriptionFollowsRevisionsAndCancelWakesIt cancels one
  // known to wait.)
  auto started = std::chrono::steady_clock::now();
  cairn_subscription_cancel(sub);
  reader.join();
  EXPECT_TRUE(returned);
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(10));
  cairn_subscription_close(sub);
}

TEST_F(CairnC, StoppingASubscriptionCallbackKeepsTheRestForTheNextCall) {
  ASSERT_EQ(Append("s", std::vector<Input>(5)), CAIRN_OK);
  cairn_subscription* sub = nullptr;
  Error e;
  ASSERT_EQ(cairn_subscribe(store_, CAIRN_SUBSCRIBE_STREAM, S("s"), 1, &sub, &e.error), CAIRN_OK);
  std::vector<uint64_t> revisions;
  auto one_at_a_time = [](void* context, const cairn_event* ev) -> int {
    static_cast<std::vector<uint64_t>*>(context)->push_back(ev->revision);
    return 1;  // stop after this one
  };
  size_t delivered = 0;
  for (int i = 0; i < 4; ++i) {
    ASSERT_EQ(cairn_subscription_next(sub, 10, 1000, one_at_a_time, &revisions, &delivered,
                                      &e.error),
              CAIRN_OK);
    EXPECT_EQ(delivered, 1u);
  }
  EXPECT_EQ(revisions, (std::vector<uint64_t>{2, 3, 4, 5}));
  EXPECT_EQ(cairn_subscription_cursor(sub), 5u);
  cairn_subscription_close(sub);
}

TEST_F(CairnC, SubscribingToATagWithoutANameIsInvalidArgument) {
  cairn_subscription* sub = nullptr;
  Error e;
  EXPECT_EQ(cairn_subscribe(store_, CAIRN_SUBSCRIBE_TAG, cairn_bytes{nullptr, 0}, 0, &sub, &e.error),
            CAIRN_E_INVALID_ARGUMENT);
  EXPECT_EQ(sub, nullptr);
  EXPECT_NE(std::string(e.message).find("needs a tag"), std::string::npos) << e.message;
}

TEST_F(CairnC, ConcurrentWritersToOneStreamLoseNothing) {
  constexpr int kThreads = 4;
  constexpr int kAppends = 200;
  std::vector<std::thread> writers;
  for (int t = 0; t < kThreads; ++t) {
    writers.emplace_back([&] {
      for (int i = 0; i < kAppends; ++i) ASSERT_EQ(Append("shared", {Input{}}), CAIRN_OK);
    });
  }
  for (auto& w : writers) w.join();
  auto events = ReadStream("shared");
  ASSERT_EQ(events.size(), static_cast<size_t>(kThreads * kAppends));
  for (size_t i = 0; i < events.size(); ++i) EXPECT_EQ(events[i].revision, i + 1);
}

}  // namespace

// cairn_store_leader (C API 1.2): a store without replication leads itself.
TEST_F(CairnC, AStoreWithoutReplicationIsStandaloneAndLeadsItself) {
  cairn_leader_info info{};
  info.size = sizeof(info);
  Error e;
  ASSERT_EQ(cairn_store_leader(store_, &info, &e.error), CAIRN_OK) << e.message;
  EXPECT_EQ(info.role, static_cast<uint32_t>(CAIRN_ROLE_STANDALONE));
  EXPECT_EQ(info.known, 1u);
  EXPECT_STREQ(info.node, "");
  EXPECT_STREQ(info.address, "");
}

TEST_F(CairnC, LeaderInfoBelowItsFixedFieldsIsRefusedNamingTheSize) {
  cairn_leader_info info{};
  info.size = 4;
  Error e;
  EXPECT_EQ(cairn_store_leader(store_, &info, &e.error),
            CAIRN_E_INVALID_ARGUMENT);
  EXPECT_NE(std::string(e.message).find("info->size"), std::string::npos)
      << e.message;
}

// A replica (the test-role-file fixture) refuses an append with
// CAIRN_E_NOT_LEADER; cairn_store_leader names the leader in fields.
TEST(CairnCReplica, NotLeaderAndTheLeaderItNames) {
  const std::string dir = std::filesystem::temp_directory_path() /
                          ("cairn-c-leader-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string role_file = dir + "/role";
  std::ofstream(role_file) << "replica 3 a 127.0.0.1:7601\n";
  const std::string plugin_dirs = std::string("store.plugin-dirs=") +
                                  CAIRN_TEST_FIXTURE_DIR + "/replication";
  const std::string role = "replication.role-file=" + role_file;
  const char* overrides[] = {"storage.plugin=memory", plugin_dirs.c_str(),
                             "replication.plugin=test-role-file", role.c_str()};
  cairn_store* store = nullptr;
  Error e;
  ASSERT_EQ(cairn_store_open(nullptr, overrides, 4, &store, &e.error), CAIRN_OK)
      << e.message;

  const std::string type = "Placed";
  cairn_event event{};
  event.size = sizeof(event);
  event.type = S(type);
  const cairn_event* events[] = {&event};
  cairn_append_result result{};
  result.size = sizeof(result);
  const std::string stream = "s";
  EXPECT_EQ(cairn_append_events(store, S(stream), CAIRN_EXPECT_ANY, 0, events,
                                1, &result, &e.error),
            CAIRN_E_NOT_LEADER);
  EXPECT_NE(std::string(e.message).find("127.0.0.1:7601"), std::string::npos)
      << e.message;

  cairn_leader_info info{};
  info.size = sizeof(info);
  ASSERT_EQ(cairn_store_leader(store, &info, &e.error), CAIRN_OK) << e.message;
  EXPECT_EQ(info.role, static_cast<uint32_t>(CAIRN_ROLE_REPLICA));
  EXPECT_EQ(info.epoch, 3u);
  EXPECT_EQ(info.known, 1u);
  EXPECT_STREQ(info.node, "a");
  EXPECT_STREQ(info.address, "127.0.0.1:7601");

  // A caller that knows the struct only up to `node`: no address written.
  cairn_leader_info short_info{};
  std::memset(short_info.address, 'x', sizeof(short_info.address));
  short_info.size = offsetof(cairn_leader_info, address);
  ASSERT_EQ(cairn_store_leader(store, &short_info, &e.error), CAIRN_OK);
  EXPECT_STREQ(short_info.node, "a");
  EXPECT_EQ(short_info.address[0], 'x');

  cairn_store_close(store);
  std::filesystem::remove_all(dir);
}
