#include <cairn/store.h>

#include <cairn/builtins.h>
#include <cairn/status.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <thread>

#include "absl/strings/str_cat.h"
#include "envelope.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

extern "C" cairn_status cairn_test_cipher_entry(const cairn_host_offer*,
                                                const cairn_plugin_descriptor**,
                                                cairn_error*);
extern "C" cairn_status cairn_builtin_storage_memory(
    const cairn_host_offer*, const cairn_plugin_descriptor**, cairn_error*);
extern "C" cairn_status cairn_builtin_replication_none(
    const cairn_host_offer*, const cairn_plugin_descriptor**, cairn_error*);

namespace cairn {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::string FixtureDir() {
  const char* dir = std::getenv("CAIRN_FIXTURE_DIR");
  return std::string(dir ? dir : "fixtures") + "/loader";
}

EventData Event(std::string type, std::string data, std::vector<std::string> tags = {},
                std::string metadata = "") {
  EventData e;
  e.type = std::move(type);
  e.data = std::move(data);
  e.tags = std::move(tags);
  e.metadata = std::move(metadata);
  return e;
}

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(RegisterBuiltinPlugins(registry_).ok());
    ASSERT_TRUE(registry_.RegisterBuiltin(&cairn_test_cipher_entry).ok());
    registry_.AddSearchDir(FixtureDir());
    config_.storage.plugin = "memory";
  }

  std::unique_ptr<Store> Open() {
    absl::StatusOr<std::unique_ptr<Store>> store = Store::Open(config_, registry_);
    EXPECT_TRUE(store.ok()) << store.status();
    return store.ok() ? std::move(*store) : nullptr;
  }

  // Raw stored bytes of one event, as storage holds them.
  static std::string StoredData(Store& store, uint64_t position) {
    std::string out;
    auto fn = [](void* ctx, const cairn_event* ev) -> int {
      static_cast<std::string*>(ctx)->assign(reinterpret_cast<const char*>(ev->data.data),
                                             ev->data.size);
      return 1;
    };
    char msg[256];
    cairn_error e{msg, sizeof(msg)};
    store.storage_plugin()->storage()->read_all(store.raw_storage(), position - 1, 1, 1, fn,
                                                &out, &e);
    return out;
  }

  // Waits until `count` threads wait in the memory storage's wait_commit
  // (its "waiters" stat), spinning for at most 60 s. Tests order a writer
  // or a Cancel after a reader's wait this way, not by sleeping.
  static bool WaitForWaiters(Store& store, double count) {
    const auto give_up =
        std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (std::chrono::steady_clock::now() < give_up) {
      absl::StatusOr<std::map<std::string, double>> stats = store.Stats();
      if (stats.ok() && (*stats)["storage.waiters"] == count) return true;
      std::this_thread::yield();
    }
    return false;
  }

  PluginRegistry registry_;
  SiteConfig config_;
};

TEST_F(StoreTest, AppendsAndReadsBackEveryField) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  EventData e = Event("OrderPlaced", "{\"id\":1}", {"order", "eu"}, "meta");
  e.writer = "writer-1";
  e.timestamp_us = 1234567;
  absl::StatusOr<AppendResult> r = store->Append("order-1", ExpectedRevision::NoStream(), {e});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->first_revision, 1u);
  EXPECT_EQ(r->first_position, 1u);

  absl::StatusOr<std::vector<RecordedEvent>> events = store->ReadStream("order-1");
  ASSERT_TRUE(events.ok()) << events.status();
  ASSERT_EQ(events->size(), 1u);
  const RecordedEvent& got = events->front();
  EXPECT_EQ(got.stream, "order-1");
  EXPECT_EQ(got.revision, 1u);
  EXPECT_EQ(got.position, 1u);
  EXPECT_EQ(got.type, "OrderPlaced");
  EXPECT_EQ(got.data, "{\"id\":1}");
  EXPECT_EQ(got.metadata, "meta");
  EXPECT_EQ(got.writer, "writer-1");
  EXPECT_EQ(got.timestamp_us, 1234567);
  EXPECT_THAT(got.tags, ElementsAre("order", "eu"));
  EXPECT_EQ(got.codec, "");
  EXPECT_EQ(got.cipher, "");
}

TEST_F(StoreTest, StampsTheTimeWhenTheWriterGivesNone) {
  auto store = Open();
  ASSERT_TRUE(store->Append("s", ExpectedRevision::Any(), {Event("T", "x")}).ok());
  auto events = store->ReadStream("s");
  ASSERT_TRUE(events.ok());
  EXPECT_GT(events->front().timestamp_us, 1'600'000'000'000'000);
}

TEST_F(StoreTest, AWrongExpectedRevisionWritesNothing) {
  auto store = Open();
  ASSERT_TRUE(store->Append("s", ExpectedRevision::NoStream(), {Event("T", "1")}).ok());
  absl::StatusOr<AppendResult> r =
      store->Append("s", ExpectedRevision::Exact(5), {Event("T", "2"), Event("T", "3")});
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(IsWrongExpectedRevision(r.status())) << r.status();
  EXPECT_THAT(r.status().message(), HasSubstr("stream 's'"));
  EXPECT_FALSE(store->Append("s", ExpectedRevision::NoStream(), {Event("T", "2")}).ok());
  EXPECT_EQ(*store->HeadRevision("s"), 1u);
  EXPECT_EQ(*store->HeadPosition(), 1u);
}

TEST_F(StoreTest, UnknownPluginIsAnErrorNamingTheSection) {
  config_.codec.plugin = "lz9";
  absl::StatusOr<std::unique_ptr<Store>> store = Store::Open(config_, registry_);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(CodeOf(store.status()), CAIRN_E_NOT_FOUND);
  EXPECT_THAT(store.status().message(), HasSubstr("[codec] plugin = lz9"));
}

TEST_F(StoreTest, AnOptionThePluginDoesNotAcceptIsAnErrorNamingIt) {
  config_.cipher.options.emplace_back("keyring", "/etc/keys");
  absl::StatusOr<std::unique_ptr<Store>> store = Store::Open(config_, registry_);
  ASSERT_FALSE(store.ok());
  EXPECT_THAT(store.status().message(),
              HasSubstr("[cipher] 'keyring' is not an option of cipher plugin 'none'"));
}

// The host-defined storage option `create`: a host's or a site's "false"
// opens only an existing store; nothing is created where there is none.
TEST_F(StoreTest, CreateFalseFromTheHostOrTheSiteOpensOnlyAnExistingStore) {
  char base[] = "/tmp/cairn-store-test-XXXXXX";
  ASSERT_NE(mkdtemp(base), nullptr);
  const std::string path = std::string(base) + "/data";
  config_.storage.plugin = "mmaplog";
  config_.storage.options = {{"segment-size", "64KiB"}};
  config_.path = path;

  absl::StatusOr<std::unique_ptr<Store>> store =
      Store::Open(config_, registry_, StoreOpenOptions{.create = false});
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(CodeOf(store.status()), CAIRN_E_NOT_FOUND);
  EXPECT_THAT(store.status().message(), HasSubstr("no store at '" + path + "'"));
  EXPECT_FALSE(std::filesystem::exists(path));

  SiteConfig never_create = config_;
  never_create.storage.options.emplace_back("create", "false");
  store = Store::Open(never_create, registry_);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(CodeOf(store.status()), CAIRN_E_NOT_FOUND);
  EXPECT_FALSE(std::filesystem::exists(path));

  SiteConfig bad = config_;
  bad.storage.options.emplace_back("create", "maybe");
  store = Store::Open(bad, registry_);
  ASSERT_FALSE(store.ok());
  EXPECT_THAT(store.status().message(),
              HasSubstr("[storage] create = 'maybe': allowed: true, false"));

  store = Store::Open(config_, registry_);
  ASSERT_TRUE(store.ok()) << store.status();
  store->reset();
  store = Store::Open(config_, registry_, StoreOpenOptions{.create = false});
  EXPECT_TRUE(store.ok()) << store.status();
  store->reset();
  std::filesystem::remove_all(base);
}

TEST_F(StoreTest, ACodecFromAPluginFileTransformsStoredBytesAndIsRecorded) {
  config_.codec.plugin = "good";  // the loader fixture: reverses bytes
  auto store = Open();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->Append("s", ExpectedRevision::Any(), {Event("T", "abc", {}, "m")}).ok());
  std::string stored = StoredData(*store, 1);
  EXPECT_EQ(stored.find("abc"), std::string::npos) << "codec was not applied";
  auto events = store->ReadStream("s");
  ASSERT_TRUE(events.ok()) << events.status();
  EXPECT_EQ(events->front().data, "abc");
  EXPECT_EQ(events->front().metadata, "m");
  EXPECT_EQ(events->front().codec, "good");
}

TEST_F(StoreTest, ACipherSealsDataAndMetadataAndRecordsTheKey) {
  config_.cipher.plugin = "test-cipher";
  auto store = Open();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(
      store->Append("s", ExpectedRevision::Any(), {Event("T", "secret", {}, "private")}).ok());
  std::string stored = StoredData(*store, 1);
  EXPECT_EQ(stored.find("secret"), std::string::npos);
  EXPECT_EQ(stored.find("private"), std::string::npos);
  auto events = store->ReadStream("s");
  ASSERT_TRUE(events.ok()) << events.status();
  EXPECT_EQ(events->front().data, "secret");
  EXPECT_EQ(events->front().metadata, "private");
  EXPECT_EQ(events->front().cipher, "test-cipher");
  EXPECT_EQ(events->front().key_id, 1u);
}

TEST_F(StoreTest, RotatingTheKeyOfARunningStoreKeepsOldEventsReadable) {
  config_.cipher.plugin = "test-cipher";
  auto store = Open();
  ASSERT_TRUE(store->Append("s", ExpectedRevision::Any(), {Event("T", "old")}).ok());
  absl::StatusOr<uint32_t> key = store->RotateKey();
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_EQ(*key, 2u);
  ASSERT_TRUE(store->Append("s", ExpectedRevision::Any(), {Event("T", "new")}).ok());
  auto events = store->ReadStream("s");
  ASSERT_TRUE(events.ok()) << events.status();
  ASSERT_EQ(events->size(), 2u);
  EXPECT_EQ((*events)[0].key_id, 1u);
  EXPECT_EQ((*events)[0].data, "old");
  EXPECT_EQ((*events)[1].key_id, 2u);
  EXPECT_EQ((*events)[1].data, "new");
}

TEST_F(StoreTest, RotatingWithoutACipherIsUnsupported) {
  auto store = Open();
  absl::StatusOr<uint32_t> key = store->RotateKey();
  ASSERT_FALSE(key.ok());
  EXPECT_EQ(CodeOf(key.status()), CAIRN_E_UNSUPPORTED);
  EXPECT_THAT(key.status().message(), HasSubstr("cipher plugin 'none' cannot rotate keys"));
}

TEST_F(StoreTest, ConcurrentAnyAppendsWithACipherAllSucceedAndOpen) {
  // With a cipher, "any" is resolved to an exact revision before sealing;
  // a race between writers must be retried, never sealed with a wrong AAD.
  config_.cipher.plugin = "test-cipher";
  auto store = Open();
  constexpr int kThreads = 4, kPerThread = 50;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        if (!store->Append("shared", ExpectedRevision::Any(),
                           {Event("T", std::to_string(t * 1000 + i))}).ok()) {
          ++failures;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  auto events = store->ReadStream("shared");
  ASSERT_TRUE(events.ok()) << events.status();
  ASSERT_EQ(events->size(), static_cast<size_t>(kThreads * kPerThread));
  for (size_t i = 0; i < events->size(); ++i) EXPECT_EQ((*events)[i].revision, i + 1);
}

TEST_F(StoreTest, SnapshotsGoThroughTheCipherAndSelectByCriteria) {
  config_.cipher.plugin = "test-cipher";
  auto store = Open();
  ASSERT_TRUE(store->SaveSnapshot({"s", 5, 100, "state-5"}).ok());
  ASSERT_TRUE(store->SaveSnapshot({"s", 9, 200, "state-9"}).ok());
  auto latest = store->LoadSnapshot("s");
  ASSERT_TRUE(latest.ok()) << latest.status();
  ASSERT_TRUE(latest->has_value());
  EXPECT_EQ((*latest)->revision, 9u);
  EXPECT_EQ((*latest)->data, "state-9");
  SnapshotCriteria upto8;
  upto8.max_revision = 8;
  auto older = store->LoadSnapshot("s", upto8);
  ASSERT_TRUE(older.ok() && older->has_value());
  EXPECT_EQ((*older)->data, "state-5");
  ASSERT_TRUE(store->DeleteSnapshots("s", SnapshotCriteria{}).ok());
  auto none = store->LoadSnapshot("s");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
}

TEST_F(StoreTest, ReadsByTagAndAllAfterAPosition) {
  auto store = Open();
  ASSERT_TRUE(store->Append("a", ExpectedRevision::Any(), {Event("T", "1", {"x"})}).ok());
  ASSERT_TRUE(store->Append("b", ExpectedRevision::Any(), {Event("T", "2")}).ok());
  ASSERT_TRUE(store->Append("a", ExpectedRevision::Any(), {Event("T", "3", {"x"})}).ok());
  std::vector<uint64_t> tagged, all;
  ASSERT_TRUE(store->ReadTag("x", 1, 100, [&](const RecordedEvent& e) {
                       tagged.push_back(e.position);
                       return true;
                     }).ok());
  ASSERT_TRUE(store->ReadAll(0, 100, [&](const RecordedEvent& e) {
                       all.push_back(e.position);
                       return true;
                     }).ok());
  EXPECT_THAT(tagged, ElementsAre(3));
  EXPECT_THAT(all, ElementsAre(1, 2, 3));
}

TEST_F(StoreTest, ASubscriptionCatchesUpThenGoesLiveWithoutGapOrDuplicate) {
  auto store = Open();
  constexpr int kBefore = 100, kAfter = 400;
  for (int i = 0; i < kBefore; ++i) {
    ASSERT_TRUE(store->Append("s" + std::to_string(i % 7), ExpectedRevision::Any(),
                              {Event("T", std::to_string(i))}).ok());
  }
  std::unique_ptr<Subscription> sub = store->Subscribe({SubscriptionFilter::Kind::kAll, "", 0});
  std::thread writer([&] {
    for (int i = 0; i < kAfter; ++i) {
      ASSERT_TRUE(store->Append("s" + std::to_string(i % 7), ExpectedRevision::Any(),
                                {Event("T", std::to_string(i))}).ok());
    }
  });
  std::vector<uint64_t> seen;
  while (seen.size() < static_cast<size_t>(kBefore + kAfter)) {
    auto batch = sub->Next(64, std::chrono::seconds(10));
    ASSERT_TRUE(batch.ok()) << batch.status();
    ASSERT_FALSE(batch->empty()) << "no event within 10 s after " << seen.size();
    for (const RecordedEvent& e : *batch) seen.push_back(e.position);
  }
  writer.join();
  for (size_t i = 0; i < seen.size(); ++i) ASSERT_EQ(seen[i], i + 1);
  auto nothing = sub->Next(10, std::chrono::milliseconds(20));
  ASSERT_TRUE(nothing.ok());
  EXPECT_TRUE(nothing->empty());
}

TEST_F(StoreTest, AStreamSubscriptionFollowsRevisionsAndCancelWakesIt) {
  auto store = Open();
  ASSERT_TRUE(store->Append("s", ExpectedRevision::Any(), {Event("T", "1"), Event("T", "2")}).ok());
  auto sub = store->Subscribe({SubscriptionFilter::Kind::kStream, "s", 1});
  auto batch = sub->Next(10, std::chrono::seconds(1));
  ASSERT_TRUE(batch.ok());
  ASSERT_EQ(batch->size(), 1u);
  EXPECT_EQ(batch->front().revision, 2u);
  EXPECT_EQ(sub->cursor(), 2u);
  // Cancel comes once the reader waits in storage; the wait then ends at
  // the next cancel check (100 ms), well before the 30 s timeout.
  std::atomic<bool> waited{false};
  std::thread canceller([&] {
    waited = WaitForWaiters(*store, 1);
    sub->Cancel();
  });
  auto start = std::chrono::steady_clock::now();
  auto empty = sub->Next(10, std::chrono::seconds(30));
  canceller.join();
  EXPECT_TRUE(waited) << "the reader never waited in storage";
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

// A commit ends a waiting Next; the Subscription's periodic re-check does
// not. The re-check is set to 10 minutes and the timeout too, so Next can
// return within the 60 s allowed below only if storage's wait_commit woke on
// the commit: against a storage whose wait merely polled (returned at its
// timeout, the re-check reading again), this test fails. (It does not time
// how fast the wake-up is.)
TEST_F(StoreTest, ACommitWakesAWaitingSubscription) {
  auto store = Open();
  std::unique_ptr<Subscription> sub =
      store->Subscribe({SubscriptionFilter::Kind::kAll, "", 0});
  sub->set_cancel_check_interval(std::chrono::minutes(10));
  using Batch = absl::StatusOr<std::vector<RecordedEvent>>;
  auto result = std::make_shared<std::promise<Batch>>();
  std::future<Batch> returned = result->get_future();
  std::thread reader([subscription = sub.get(), result] {
    result->set_value(subscription->Next(10, std::chrono::minutes(10)));
  });
  // On failure the reader may wait for 10 minutes: leave it, and the store
  // it reads, behind rather than hang the test.
  auto abandon_reader = [&] {
    reader.detach();
    (void)sub.release();
    (void)store.release();
  };
  if (!WaitForWaiters(*store, 1)) {
    abandon_reader();
    FAIL() << "the reader never waited in storage";
  }
  ASSERT_TRUE(
      store->Append("s", ExpectedRevision::Any(), {Event("T", "1")}).ok());
  if (returned.wait_for(std::chrono::seconds(60)) !=
      std::future_status::ready) {
    abandon_reader();
    FAIL() << "the commit did not end the wait (still waiting 60 s later)";
  }
  reader.join();
  Batch batch = returned.get();
  ASSERT_TRUE(batch.ok()) << batch.status();
  ASSERT_EQ(batch->size(), 1u);
  EXPECT_EQ(batch->front().position, 1u);
}

TEST_F(StoreTest, DeleteToHidesEventsButKeepsTheHead) {
  auto store = Open();
  ASSERT_TRUE(store->Append("s", ExpectedRevision::Any(),
                            {Event("T", "1"), Event("T", "2"), Event("T", "3")}).ok());
  ASSERT_TRUE(store->DeleteTo("s", kMaxRevision).ok());
  auto events = store->ReadStream("s");
  ASSERT_TRUE(events.ok());
  EXPECT_TRUE(events->empty());
  EXPECT_EQ(*store->HeadRevision("s"), 3u);
  auto streams = store->ListStreams(0, 10);
  ASSERT_TRUE(streams.ok());
  ASSERT_EQ(streams->size(), 1u);
  EXPECT_EQ(streams->front().head_revision, 3u);
}

// The name rule (cairn/names.h) on every write path.
TEST_F(StoreTest, AppendRefusesANameThatBreaksTheRuleAndWritesNothing) {
  auto store = Open();
  absl::Status bad_stream = store->Append("x\t999", ExpectedRevision::Any(), {Event("T", "1")})
                                .status();
  EXPECT_EQ(CodeOf(bad_stream), CAIRN_E_INVALID_ARGUMENT);
  EXPECT_THAT(bad_stream.message(), HasSubstr("stream name \"x\\t999\""));
  absl::Status bad_type =
      store->Append("s", ExpectedRevision::Any(), {Event("T", "1"), Event("T\n2", "2")})
          .status();
  EXPECT_EQ(CodeOf(bad_type), CAIRN_E_INVALID_ARGUMENT);
  EXPECT_THAT(bad_type.message(), HasSubstr("event 1: event type \"T\\n2\""));
  absl::Status bad_tag =
      store->Append("s", ExpectedRevision::Any(), {Event("T", "1", {"ok", "bad\xC0\xAF"})})
          .status();
  EXPECT_EQ(CodeOf(bad_tag), CAIRN_E_INVALID_ARGUMENT);
  EXPECT_THAT(bad_tag.message(), HasSubstr("event 0: tag \"bad\\xc0\\xaf\" is not valid UTF-8"));
  EXPECT_EQ(*store->HeadPosition(), 0u);
}

TEST_F(StoreTest, AppendAcceptsSlashesDotsAndUnicodeInNames) {
  auto store = Open();
  EXPECT_TRUE(store->Append("../orders/1", ExpectedRevision::Any(),
                            {Event("caf\xC3\xA9", "1", {"a/b", ".."})})
                  .ok());
  EXPECT_EQ(*store->HeadRevision("../orders/1"), 1u);
}

TEST_F(StoreTest, DeleteToAndSnapshotSaveRefuseABadStreamName) {
  auto store = Open();
  absl::Status deleted = store->DeleteTo("a\x1b[2J", kMaxRevision);
  EXPECT_EQ(CodeOf(deleted), CAIRN_E_INVALID_ARGUMENT);
  EXPECT_THAT(deleted.message(), HasSubstr("U+001B at byte 1"));
  Snapshot snapshot;
  snapshot.stream = "snap\xC2\x9B";
  snapshot.revision = 1;
  snapshot.data = "state";
  absl::Status saved = store->SaveSnapshot(snapshot);
  EXPECT_EQ(CodeOf(saved), CAIRN_E_INVALID_ARGUMENT);
  EXPECT_THAT(saved.message(), HasSubstr("U+009B at byte 4"));
  auto loaded = store->LoadSnapshot("snap\xC2\x9B", SnapshotCriteria{});
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_FALSE(loaded->has_value());
}

TEST_F(StoreTest, NamesWrittenBeforeTheRuleStayReadable) {
  auto store = Open();
  // As an older Cairn wrote it: straight into storage, which checks only
  // length and NUL.
  const std::string old_name = "x\t999";
  cairn_event event{};
  event.size = sizeof(event);
  event.stream = {reinterpret_cast<const uint8_t*>(old_name.data()), old_name.size()};
  event.type = {reinterpret_cast<const uint8_t*>("T\n"), 2};
  std::string stored;
  WriteEnvelope(Envelope{}, &stored);  // no codec, no cipher
  stored += "1";
  event.data = {reinterpret_cast<const uint8_t*>(stored.data()), stored.size()};
  event.timestamp_us = 1;
  cairn_append_result result{};
  result.size = sizeof(result);
  char message[256];
  cairn_error e{message, sizeof(message)};
  const cairn_event* batch[] = {&event};
  cairn_append_request request{
      sizeof(request), CAIRN_EXPECT_ANY, 0, event.stream, batch, 1,
      nullptr,         nullptr,          {}};
  ASSERT_EQ(store->storage_plugin()->storage()->append(store->raw_storage(),
                                                       &request, &result, &e),
            CAIRN_OK)
      << message;

  auto events = store->ReadStream(old_name);
  ASSERT_TRUE(events.ok()) << events.status();
  ASSERT_EQ(events->size(), 1u);
  EXPECT_EQ(events->front().type, "T\n");
  EXPECT_EQ(*store->HeadRevision(old_name), 1u);
  auto streams = store->ListStreams(0, 10);
  ASSERT_TRUE(streams.ok());
  ASSERT_EQ(streams->size(), 1u);
  EXPECT_EQ(streams->front().name, old_name);
}

// A built-in plugin under another name, declaring CAIRN_CAP_APPEND_MAY_BLOCK
// too: a plugin the framework cannot know by name.
template <cairn_plugin_entry_fn kEntry>
cairn_status MayBlockEntry(const cairn_host_offer* offer,
                           const cairn_plugin_descriptor** descriptor,
                           cairn_error* error) {
  static cairn_plugin_descriptor copy;
  const cairn_plugin_descriptor* original = nullptr;
  cairn_status s = kEntry(offer, &original, error);
  if (s != CAIRN_OK) return s;
  copy = *original;
  copy.name = "may-block";
  copy.capabilities |= CAIRN_CAP_APPEND_MAY_BLOCK;
  *descriptor = &copy;
  return CAIRN_OK;
}

// Whether an append may block comes from capabilities alone: the storage
// descriptor's as narrowed by the open instance, or the replication plugin's.
TEST_F(StoreTest, AppendMayBlockComesFromCapabilities) {
  ASSERT_TRUE(
      registry_.RegisterBuiltin(&MayBlockEntry<cairn_builtin_storage_memory>)
          .ok());
  ASSERT_TRUE(
      registry_.RegisterBuiltin(&MayBlockEntry<cairn_builtin_replication_none>)
          .ok());
  char base[] = "/tmp/cairn-store-test-XXXXXX";
  ASSERT_NE(mkdtemp(base), nullptr);
  struct Case {
    std::string storage;
    std::vector<std::pair<std::string, std::string>> options;
    std::string replication;
    bool may_block;
  } cases[] = {
      {"memory", {}, "none", false},
      {"may-block", {}, "none", true},
      {"memory", {}, "may-block", true},
      {"mmaplog", {}, "none", true},  // fsync = always by default
      {"mmaplog", {{"fsync", "always"}}, "none", true},
      {"mmaplog", {{"fsync", "never"}}, "none", false},
      {"mmaplog", {{"fsync", "interval:50"}}, "none", false},
      {"mmaplog", {{"fsync", "never"}}, "may-block", true},
  };
  int n = 0;
  for (const Case& c : cases) {
    config_.storage = {c.storage, c.options};
    if (c.storage == "mmaplog") {  // no 256 MiB segments in a unit test
      config_.storage.options.emplace_back("segment-size", "64KiB");
    }
    config_.replication = {c.replication, {}};
    config_.path = absl::StrCat(base, "/", n++);
    auto store = Open();
    ASSERT_NE(store, nullptr);
    EXPECT_EQ(store->AppendMayBlock(), c.may_block)
        << c.storage << " " << (c.options.empty() ? "" : c.options[0].second)
        << " + " << c.replication;
  }
  std::filesystem::remove_all(base);
}

}  // namespace
}  // namespace cairn
