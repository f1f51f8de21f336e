// The cipher and codec plugins through cairn::Store, as a site runs them:
// rotation without rewriting, a changed stored byte, the wrong keyring, a
// cipher the site no longer configures, and two sites configured only by
// their site files.
#include <cairn/builtins.h>
#include <cairn/config.h>
#include <cairn/log_record.h>
#include <cairn/status.h>
#include <cairn/store.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

#include "keyring/keyring.h"
#include "record.h"  // mmaplog's record format, to edit a record on disk
#include "keyring/test_files.h"

namespace cairn {
namespace {

using ::testing::HasSubstr;
using keyring::testing::TempDir;

// A small mmaplog (no 256 MiB segments in a unit test).
PluginChoice SmallMmapLog() {
  return PluginChoice{"mmaplog",
                      {{"segment-size", "4MiB"}, {"fsync", "never"}}};
}

EventData Order(int i) {
  EventData event;
  event.type = i % 2 == 0 ? "OrderPlaced" : "OrderPaid";
  event.data = "{\"orderId\":" + std::to_string(i) +
               ",\"lines\":[{\"sku\":\"BOLT-M8\",\"qty\":" +
               std::to_string(i % 7 + 1) + "}]}";
  event.metadata = "{\"by\":\"clerk-" + std::to_string(i % 3) + "\"}";
  event.tags = {"order"};
  return event;
}

// An event's fields as storage returned them, owned (a read callback's
// pointers die with the call).
struct OwnedRecord {
  std::string stream, type, writer, metadata, data;
  int64_t timestamp_us = 0;
  std::vector<std::string> tags;
  std::vector<cairn_bytes> tag_bytes;  // PointAt's view of tags
};

std::string Str(cairn_bytes b) {
  return b.size == 0 ? std::string() : std::string(reinterpret_cast<const char*>(b.data), b.size);
}

OwnedRecord Own(const cairn_event& e) {
  OwnedRecord r{Str(e.stream), Str(e.type), Str(e.writer), Str(e.metadata), Str(e.data),
                e.timestamp_us, {}, {}};
  for (uint32_t i = 0; i < e.tag_count; ++i) r.tags.push_back(Str(e.tags[i]));
  return r;
}

// Points `event`'s byte fields and tags at `record`'s strings.
void PointAt(OwnedRecord& record, cairn_event* event) {
  auto bytes = [](const std::string& s) {
    return cairn_bytes{reinterpret_cast<const uint8_t*>(s.data()), s.size()};
  };
  event->stream = bytes(record.stream);
  event->type = bytes(record.type);
  event->writer = bytes(record.writer);
  event->metadata = bytes(record.metadata);
  event->data = bytes(record.data);
  event->timestamp_us = record.timestamp_us;
  record.tag_bytes.clear();
  for (const std::string& tag : record.tags) record.tag_bytes.push_back(bytes(tag));
  event->tags = record.tag_bytes.data();
  event->tag_count = static_cast<uint32_t>(record.tag_bytes.size());
}

class CipherStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(RegisterBuiltinPlugins(registry_).ok());
    keyring_ = dir_.File("keys");
    uint32_t id = 0;
    ASSERT_TRUE(keyring::CreateKeyringFile(keyring_, &id).ok());
  }

  SiteConfig Site(const std::string& cipher, const std::string& keyring_path,
                  const std::string& codec = "zstd",
                  const std::string& data = "data") {
    SiteConfig config;
    config.path = dir_.File(data);
    config.storage = SmallMmapLog();
    config.codec = PluginChoice{codec, {}};
    config.cipher = PluginChoice{cipher, {}};
    if (!keyring_path.empty()) config.cipher.options = {{"keyring", keyring_path}};
    return config;
  }

  absl::StatusOr<std::unique_ptr<Store>> Open(const SiteConfig& config) {
    return Store::Open(config, registry_);
  }

  void AppendOrders(Store& store, const std::string& stream, int from, int count) {
    std::vector<EventData> events;
    for (int i = from; i < from + count; ++i) events.push_back(Order(i));
    auto result = store.Append(stream, ExpectedRevision::Any(), events);
    ASSERT_TRUE(result.ok()) << result.status();
  }

  // A store at data/ with `count` orders sealed by aes-gcm under keyring_.
  void WriteSealedOrders(int count) {
    auto store = Open(Site("aes-gcm", keyring_));
    ASSERT_TRUE(store.ok()) << store.status();
    AppendOrders(**store, "orders", 0, count);
  }

  // A new keyring file `name` holding one fresh key, id 1 (as keyring_ does).
  std::string NewKeyring(const std::string& name) {
    std::string path = dir_.File(name);
    uint32_t id = 0;
    EXPECT_TRUE(keyring::CreateKeyringFile(path, &id).ok());
    EXPECT_EQ(id, 1u);
    return path;
  }

  std::vector<RecordedEvent> ReadAll(Store& store) {
    std::vector<RecordedEvent> all;
    absl::Status s = store.ReadAll(0, kMaxPosition, [&](const RecordedEvent& e) {
      all.push_back(e);
      return true;
    });
    EXPECT_TRUE(s.ok()) << s;
    return all;
  }

  TempDir dir_;
  std::string keyring_;
  PluginRegistry registry_;
};

TEST_F(CipherStoreTest, WriteRotateWriteReadsEverythingBackUnderBothKeys) {
  {
    auto store = Open(Site("aes-gcm", keyring_));
    ASSERT_TRUE(store.ok()) << store.status();
    AppendOrders(**store, "orders-1", 0, 5);
    AppendOrders(**store, "orders-2", 5, 5);
  }
  uint32_t new_id = 0;
  ASSERT_TRUE(keyring::RotateKeyringFile(keyring_, &new_id, nullptr).ok());
  ASSERT_EQ(new_id, 2u);
  {
    auto store = Open(Site("aes-gcm", keyring_));
    ASSERT_TRUE(store.ok()) << store.status();
    AppendOrders(**store, "orders-1", 10, 5);
  }
  auto store = Open(Site("aes-gcm", keyring_));
  ASSERT_TRUE(store.ok()) << store.status();
  std::vector<RecordedEvent> all = ReadAll(**store);
  ASSERT_EQ(all.size(), 15u);
  uint64_t previous = 0;
  for (size_t i = 0; i < all.size(); ++i) {
    const RecordedEvent& e = all[i];
    EventData expected = Order(static_cast<int>(i));
    // Positions increase; the seal registry's snapshot records (one per key
    // first used) sit between the events in the ordered log.
    EXPECT_GT(e.position, previous);
    previous = e.position;
    EXPECT_EQ(e.data, expected.data) << "position " << e.position;
    EXPECT_EQ(e.metadata, expected.metadata);
    EXPECT_EQ(e.type, expected.type);
    EXPECT_EQ(e.cipher, "aes-gcm");
    EXPECT_EQ(e.codec, "zstd");
    EXPECT_EQ(e.key_id, i < 10 ? 1u : 2u) << "position " << e.position;
  }
  auto stream = (*store)->ReadStream("orders-1");
  ASSERT_TRUE(stream.ok()) << stream.status();
  ASSERT_EQ(stream->size(), 10u);
  EXPECT_EQ((*stream)[9].revision, 10u);
  EXPECT_EQ((*stream)[9].data, Order(14).data);
}

// An `any` append never conflicts, cipher or not: associated data binds the
// revision, so storage fixes the revisions first and then has the Store
// seal each event (cairn_append_request.seal). 8 writers append to one
// stream for up to 5 s (and at most kAppends batches each): no append
// fails, and the stream holds every event once, each writer's in its order,
// each batch contiguous, at the revisions its result reported.
TEST_F(CipherStoreTest, AnyAppendsFromEightWritersToOneStreamNeverConflict) {
  constexpr int kWriters = 8;
  constexpr int kAppends = 12000;  // batches per writer, at most
  constexpr int kBatch = 2;
  for (const PluginChoice& storage :
       {PluginChoice{"memory", {}}, SmallMmapLog()}) {
    SCOPED_TRACE(storage.plugin);
    SiteConfig site =
        Site("aes-gcm", keyring_, "identity", "any-" + storage.plugin);
    site.storage = storage;
    auto store = Open(site);
    ASSERT_TRUE(store.ok()) << store.status();
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::seconds(5);
    std::atomic<int> conflicts{0}, failures{0};
    std::string first_failure;
    std::mutex failure_mu;
    // results[w][i]: first revision of writer w's batch i.
    std::vector<std::vector<uint64_t>> results(kWriters);
    std::vector<std::thread> writers;
    for (int w = 0; w < kWriters; ++w) {
      writers.emplace_back([&, w] {
        for (int i = 0;
             i < kAppends && std::chrono::steady_clock::now() < deadline; ++i) {
          std::vector<EventData> batch;
          for (int k = 0; k < kBatch; ++k) {
            EventData e;
            e.type = "Tick";
            e.data = absl::StrCat(w, "/", i, "/", k);
            batch.push_back(std::move(e));
          }
          auto r = (*store)->Append("hot", ExpectedRevision::Any(), batch);
          if (!r.ok()) {
            (IsWrongExpectedRevision(r.status()) ? conflicts : failures)++;
            std::lock_guard<std::mutex> lock(failure_mu);
            if (first_failure.empty()) first_failure = r.status().ToString();
            return;
          }
          if (r->last_revision != r->first_revision + kBatch - 1) {
            failures++;
            return;
          }
          results[w].push_back(r->first_revision);
        }
      });
    }
    for (std::thread& t : writers) t.join();
    EXPECT_EQ(conflicts.load(), 0) << first_failure;
    ASSERT_EQ(failures.load(), 0) << first_failure;

    size_t total = 0;
    for (const auto& r : results) total += r.size() * kBatch;
    auto events = (*store)->ReadStream("hot");
    ASSERT_TRUE(events.ok()) << events.status();
    ASSERT_EQ(events->size(), total);
    std::map<uint64_t, std::string> expected;  // revision -> data
    for (int w = 0; w < kWriters; ++w) {
      for (size_t i = 0; i < results[w].size(); ++i) {
        if (i > 0) {
          EXPECT_GT(results[w][i], results[w][i - 1]);
        }
        for (int k = 0; k < kBatch; ++k) {
          expected[results[w][i] + k] = absl::StrCat(w, "/", i, "/", k);
        }
      }
    }
    ASSERT_EQ(expected.size(), total);  // no revision given out twice
    for (size_t i = 0; i < events->size(); ++i) {
      const RecordedEvent& e = (*events)[i];
      ASSERT_EQ(e.revision, i + 1);  // read in revision order, no gap
      EXPECT_EQ(e.data, expected[e.revision]) << "revision " << e.revision;
      EXPECT_EQ(e.cipher, "aes-gcm");
    }
    // Each event opened: every one was read back through aes-gcm above.
    std::printf("[ info ] %s: %zu events by %d any-writers, 0 conflicts\n",
                storage.plugin.c_str(), total, kWriters);
  }
}

TEST_F(CipherStoreTest, AChangedStoredByteIsAnIntegrityErrorNamingStreamAndRevision) {
  // Records as storage holds them, copied from one store into another with
  // one byte of revision 2's sealed payload changed: what a flipped bit on a
  // disk without checksums, or a tampering replica, would leave.
  SiteConfig config = Site("aes-gcm", keyring_);
  config.storage = PluginChoice{"memory", {}};
  auto source = Open(config);
  ASSERT_TRUE(source.ok()) << source.status();
  AppendOrders(**source, "orders", 0, 3);
  // Every record, the Store's seal-key snapshots too, owned.
  std::vector<OwnedLogRecord> copied;
  const cairn_storage_api* api = (*source)->storage_plugin()->storage();
  auto collect = [](void* context, const cairn_log_record* r) -> int {
    static_cast<std::vector<OwnedLogRecord>*>(context)->emplace_back(*r);
    return 0;
  };
  char message[256] = "";
  cairn_error error{message, sizeof(message)};
  ASSERT_EQ(
      api->read_log((*source)->raw_storage(), 0, 100, collect, &copied, &error),
      CAIRN_OK)
      << message;
  std::vector<OwnedLogRecord*> events;
  for (OwnedLogRecord& c : copied) {
    if (c.kind == CAIRN_RECORD_EVENT) events.push_back(&c);
  }
  ASSERT_EQ(events.size(), 3u);
  // Plaintext never reaches storage.
  EXPECT_EQ(events[1]->event->data.find("orderId"), std::string::npos);
  std::string& victim = events[1]->event->data;
  victim[victim.size() - 20] ^= 0x04;
  std::vector<const cairn_log_record*> records = LogRecordViews(copied);
  auto target = Open(config);
  ASSERT_TRUE(target.ok()) << target.status();
  ASSERT_EQ(api->apply_log((*target)->raw_storage(), records.data(),
                           records.size(), &error),
            CAIRN_OK)
      << message;

  auto first = (*target)->ReadStream("orders", 1, 1);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ((*first)[0].data, Order(0).data);
  auto all = (*target)->ReadStream("orders");
  ASSERT_FALSE(all.ok());
  EXPECT_TRUE(IsIntegrityError(all.status())) << all.status();
  EXPECT_THAT(all.status().message(), HasSubstr("stream 'orders' revision 2"));
  EXPECT_THAT(all.status().message(), HasSubstr("aes-gcm"));
  auto third = (*target)->ReadStream("orders", 3, 3);
  ASSERT_TRUE(third.ok()) << third.status();
  EXPECT_EQ((*third)[0].data, Order(2).data);
}

TEST_F(CipherStoreTest, AFlippedByteInAnMmapLogSegmentIsNeverReadBackAsData) {
  std::string stored;  // revision 2's bytes as mmaplog holds them
  {
    auto store = Open(Site("aes-gcm", keyring_));
    ASSERT_TRUE(store.ok()) << store.status();
    AppendOrders(**store, "orders", 0, 3);
    AppendOrders(**store, "other", 3, 1);  // the newest event stays intact
    const cairn_storage_api* api = (*store)->storage_plugin()->storage();
    auto grab = [](void* context, const cairn_event* e) -> int {
      static_cast<std::string*>(context)->assign(
          reinterpret_cast<const char*>(e->data.data), e->data.size);
      return 1;
    };
    std::string name = "orders";
    char message[256] = "";
    cairn_error error{message, sizeof(message)};
    ASSERT_EQ(api->read_stream((*store)->raw_storage(),
                               cairn_bytes{reinterpret_cast<const uint8_t*>(name.data()),
                                           name.size()},
                               2, 2, 1, grab, &stored, &error),
              CAIRN_OK)
        << message;
    ASSERT_GT(stored.size(), 40u);
  }
  // Flip one byte in the middle of those bytes in the segment file.
  bool flipped = false;
  for (const auto& entry :
       std::filesystem::recursive_directory_iterator(dir_.File("data"))) {
    if (!entry.is_regular_file()) continue;
    std::fstream file(entry.path(), std::ios::in | std::ios::out | std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(file)), {});
    size_t at = bytes.find(stored);
    if (at == std::string::npos) continue;
    at += stored.size() / 2;
    file.seekp(static_cast<std::streamoff>(at));
    char c = static_cast<char>(bytes[at] ^ 0x10);
    file.write(&c, 1);
    file.flush();
    flipped = true;
  }
  ASSERT_TRUE(flipped) << "revision 2's bytes were not found in any file";
  // mmaplog's CRC32C sees the change before the cipher does. The store was
  // closed cleanly, so its checkpoint proves every record complete: the
  // damage cannot be a torn tail, and the open refuses naming the segment
  // and offset instead of dropping revision 2 and everything after it
  // (issue #13, finding 2, with encryption on: it used to open with exit 0
  // and an empty or shortened stream).
  auto store = Open(Site("aes-gcm", keyring_));
  ASSERT_FALSE(store.ok())
      << "a store with a damaged record in its active segment opened; it "
         "must refuse, not drop what follows";
  EXPECT_TRUE(IsCorruption(store.status())) << store.status();
  EXPECT_THAT(store.status().message(), HasSubstr(".log"));
  EXPECT_THAT(store.status().message(), HasSubstr("offset"));
}

// Rewrites the mmaplog record of (stream, revision) in place with `edit`
// applied to its fields, recomputing both CRC32Cs: what someone editing the
// disk would leave, which mmaplog itself cannot see. Field sizes must stay.
bool RewriteMmapLogRecord(const std::string& data_dir, const std::string& stream,
                          uint64_t revision, const std::function<void(OwnedRecord&)>& edit) {
  for (const auto& entry : std::filesystem::recursive_directory_iterator(data_dir)) {
    if (!entry.is_regular_file() || entry.path().filename() != "00000001.log") continue;
    std::fstream file(entry.path(), std::ios::in | std::ios::out | std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(file)), {});
    auto* base = reinterpret_cast<uint8_t*>(bytes.data());
    for (size_t at = mmaplog::kSegmentHeaderSize; at + mmaplog::kRecordHeaderSize <= bytes.size();) {
      mmaplog::RecordHeader header;
      if (mmaplog::CheckRecord(base + at, bytes.size() - at, &header) != mmaplog::RecordCheck::kOk) {
        break;
      }
      if (header.StreamName(base + at) == stream && header.revision == revision) {
        std::vector<cairn_bytes> tags(header.tag_count);
        cairn_event event{};
        event.size = sizeof(event);
        mmaplog::DecodeRecord(base + at, header, &event, tags.data());
        event.tags = tags.data();
        OwnedRecord record = Own(event);
        edit(record);
        PointAt(record, &event);
        std::string rewritten(header.length, '\0');
        auto* out = reinterpret_cast<uint8_t*>(rewritten.data());
        mmaplog::EncodeRecord(out, stream, event, header.position, header.revision,
                              header.batch_size, header.batch_index, header.length);
        std::memcpy(out, base + at, 4);  // the length word
        file.seekp(static_cast<std::streamoff>(at));
        file.write(rewritten.data(), static_cast<std::streamsize>(rewritten.size()));
        file.flush();
        return file.good();
      }
      at += header.length;
    }
  }
  return false;
}

TEST_F(CipherStoreTest, EditedTagsTimestampOrWriterIdOnDiskFailToOpenNamingStreamAndRevision) {
  const std::vector<std::pair<std::string, std::function<void(OwnedRecord&)>>> edits = {
      {"timestamp", [](OwnedRecord& r) { r.timestamp_us += 1; }},
      {"writer id", [](OwnedRecord& r) { r.writer.back() ^= 0x01; }},
      {"tag", [](OwnedRecord& r) { r.tags[0].back() ^= 0x01; }},
  };
  for (const auto& [field, edit] : edits) {
    SCOPED_TRACE(field);
    const std::string data = "data-" + field.substr(0, 3);
    {
      auto store = Open(Site("aes-gcm", keyring_, "zstd", data));
      ASSERT_TRUE(store.ok()) << store.status();
      std::vector<EventData> events = {Order(0), Order(1), Order(2)};
      for (EventData& e : events) e.writer = "clerk-1";
      ASSERT_TRUE((*store)->Append("orders", ExpectedRevision::Any(), events).ok());
    }
    ASSERT_TRUE(RewriteMmapLogRecord(dir_.File(data), "orders", 2, edit));
    auto store = Open(Site("aes-gcm", keyring_, "zstd", data));
    ASSERT_TRUE(store.ok()) << store.status();
    auto first = (*store)->ReadStream("orders", 1, 1);
    ASSERT_TRUE(first.ok()) << first.status();
    auto read = (*store)->ReadStream("orders");
    ASSERT_FALSE(read.ok()) << "the edited " << field << " was read back";
    EXPECT_TRUE(IsIntegrityError(read.status())) << read.status();
    EXPECT_THAT(read.status().message(), HasSubstr("stream 'orders' revision 2"));
  }
}

TEST_F(CipherStoreTest, TheWrongKeyringIsAClearErrorAtOpenAndNothingIsWritten) {
  WriteSealedOrders(3);
  // Same key id, another key.
  std::string other = NewKeyring("other-keys");
  auto wrong = Open(Site("aes-gcm", other));
  ASSERT_FALSE(wrong.ok());
  EXPECT_TRUE(IsIntegrityError(wrong.status())) << wrong.status();
  EXPECT_THAT(wrong.status().message(), HasSubstr("is this the right keyring?"));
  // Another key id altogether.
  std::string stranger = dir_.File("stranger-keys");
  keyring::testing::WriteFile(stranger, "key 9 " + std::string(64, 'e') + " active\n", 0600);
  auto unknown = Open(Site("aes-gcm", stranger));
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(CodeOf(unknown.status()), CAIRN_E_NOT_FOUND) << unknown.status();
  EXPECT_THAT(unknown.status().message(), HasSubstr("key id 1"));
  // An unsafe keyring file is refused before anything opens.
  ::chmod(keyring_.c_str(), 0644);
  auto unsafe = Open(Site("aes-gcm", keyring_));
  ASSERT_FALSE(unsafe.ok());
  EXPECT_THAT(unsafe.status().message(), HasSubstr("mode 0644"));
  ::chmod(keyring_.c_str(), 0600);
  // Nothing was written by the refused opens.
  auto store = Open(Site("aes-gcm", keyring_));
  ASSERT_TRUE(store.ok()) << store.status();
  // Three events and the seal registry's snapshot record of the key they
  // were sealed with.
  EXPECT_EQ(*(*store)->HeadPosition(), 4u);
  EXPECT_EQ(ReadAll(**store).size(), 3u);
}

// The stored layout, pinned byte for byte from envelope.h and security.md
// rather than from the code that writes it, so data written by any build
// keeps reading: envelope, then seal(zstd(u32 metadata length, metadata,
// data)) under associated data v2 ("cairn/2" part revision(u64)
// timestamp(i64) stream type writer, tags) or, for envelope version 1, v1
// ("cairn/1" part revision(u64) stream type).
class StoredLayout {
 public:
  explicit StoredLayout(Store& store) : store_(store) {}

  static std::string U32(uint32_t v) {
    std::string out;
    for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>(v >> (8 * i)));
    return out;
  }
  static std::string U64(uint64_t v) {
    std::string out;
    for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>(v >> (8 * i)));
    return out;
  }
  static std::string Sized(const std::string& s) { return U32(s.size()) + s; }
  static std::string LegacyAssociatedData(char part, const std::string& stream,
                                          uint64_t revision, const std::string& type) {
    return std::string("cairn/1") + part + U64(revision) + Sized(stream) + Sized(type);
  }
  static std::string AssociatedData(char part, const std::string& stream, uint64_t revision,
                                    const std::string& type, int64_t timestamp_us,
                                    const std::string& writer,
                                    const std::vector<std::string>& tags) {
    std::string aad = std::string("cairn/2") + part + U64(revision) +
                      U64(static_cast<uint64_t>(timestamp_us)) + Sized(stream) + Sized(type) +
                      Sized(writer) + U32(tags.size());
    for (const std::string& tag : tags) aad += Sized(tag);
    return aad;
  }
  // Opens `payload` (and decodes it, if `decode`) on fresh instances of the
  // store's own plugins.
  std::string Unseal(const std::string& keyring, const std::string& aad,
                     std::string_view payload, bool decode = true) {
    cairn_cipher* cipher = OpenCipher(keyring);
    Grown opened, decoded;
    EXPECT_EQ(cipher_api()->open_sealed(cipher, 1, Bytes(aad), Bytes(payload), &opened.raw,
                                        nullptr),
              CAIRN_OK);
    cipher_api()->close(cipher);
    if (!decode) return opened.str();
    auto codec_api = store_.codec_plugin()->codec();
    cairn_options none{nullptr, 0};
    cairn_codec* codec = nullptr;
    EXPECT_EQ(codec_api->open(&none, &codec, nullptr), CAIRN_OK);
    EXPECT_EQ(codec_api->decode(codec, Bytes(opened.str()), &decoded.raw, nullptr), CAIRN_OK);
    codec_api->close(codec);
    return decoded.str();
  }
  // Seals `plain` under the keyring's active key, as an older build did.
  std::string SealWith(const std::string& keyring, const std::string& aad,
                       const std::string& plain) {
    cairn_cipher* cipher = OpenCipher(keyring);
    Grown sealed;
    uint32_t key_id = 0;
    EXPECT_EQ(cipher_api()->seal(cipher, Bytes(aad), Bytes(plain), &sealed.raw, &key_id,
                                 nullptr),
              CAIRN_OK);
    cipher_api()->close(cipher);
    return sealed.str();
  }

 private:
  struct Grown {
    std::string bytes;
    cairn_buffer raw{nullptr, 0, 0, &Grow, this};
    static int Grow(cairn_buffer* b, size_t additional) {
      auto* self = static_cast<Grown*>(b->owner);
      self->bytes.resize(b->size + additional + 64);
      b->data = reinterpret_cast<uint8_t*>(self->bytes.data());
      b->capacity = self->bytes.size();
      return 0;
    }
    std::string str() const { return bytes.substr(0, raw.size); }
  };
  const cairn_cipher_api* cipher_api() { return store_.cipher_plugin()->cipher(); }
  cairn_cipher* OpenCipher(const std::string& keyring) {
    cairn_option option{"keyring", keyring.c_str()};
    cairn_options options{&option, 1};
    cairn_cipher* cipher = nullptr;
    EXPECT_EQ(cipher_api()->open(&options, &cipher, nullptr), CAIRN_OK);
    return cipher;
  }
  static cairn_bytes Bytes(std::string_view s) {
    return cairn_bytes{reinterpret_cast<const uint8_t*>(s.data()), s.size()};
  }
  Store& store_;
};

// An event as storage holds it, copied out of a read callback.
struct RawEvent {
  std::string data, writer;
  int64_t timestamp_us = 0;
  std::vector<std::string> tags;
};

std::vector<RawEvent> RawEvents(Store& store) {
  std::vector<RawEvent> out;
  auto collect = [](void* context, const cairn_event* e) -> int {
    RawEvent raw;
    raw.data.assign(reinterpret_cast<const char*>(e->data.data), e->data.size);
    raw.writer.assign(reinterpret_cast<const char*>(e->writer.data), e->writer.size);
    raw.timestamp_us = e->timestamp_us;
    for (uint32_t i = 0; i < e->tag_count; ++i) {
      raw.tags.emplace_back(reinterpret_cast<const char*>(e->tags[i].data), e->tags[i].size);
    }
    static_cast<std::vector<RawEvent>*>(context)->push_back(std::move(raw));
    return 0;
  };
  const cairn_storage_api* api = store.storage_plugin()->storage();
  EXPECT_EQ(api->read_all(store.raw_storage(), 0, 100, 0, collect, &out, nullptr), CAIRN_OK);
  return out;
}

TEST_F(CipherStoreTest, StoredEventsAndSnapshotsKeepTheDocumentedLayout) {
  SiteConfig config = Site("aes-gcm", keyring_);
  config.storage = PluginChoice{"memory", {}};
  auto store = Open(config);
  ASSERT_TRUE(store.ok()) << store.status();
  std::vector<EventData> orders = {Order(0), Order(1)};
  orders[1].writer = "clerk-7";
  orders[1].timestamp_us = 1700000000123456;
  ASSERT_TRUE((*store)->Append("orders", ExpectedRevision::Any(), orders).ok());
  Snapshot snapshot{"orders", 2, 1700000000999999, "{\"state\":\"paid\"}"};
  ASSERT_TRUE((*store)->SaveSnapshot(snapshot).ok());

  std::vector<RawEvent> raw_events = RawEvents(**store);
  ASSERT_EQ(raw_events.size(), 2u);
  StoredLayout layout(**store);
  // version 2, flags codec|cipher|metadata inside, "zstd", "aes-gcm", key 1
  const std::string event_envelope = std::string("\x02\x07\x04zstd\x07" "aes-gcm", 15) +
                                     StoredLayout::U32(1);
  for (int i = 0; i < 2; ++i) {
    const RawEvent& raw = raw_events[i];
    ASSERT_EQ(raw.data.substr(0, event_envelope.size()), event_envelope) << i;
    const EventData& order = orders[i];
    EXPECT_EQ(raw.writer, order.writer);
    EXPECT_EQ(raw.tags, order.tags);
    if (order.timestamp_us != 0) {
      EXPECT_EQ(raw.timestamp_us, order.timestamp_us);
    }
    std::string plain = layout.Unseal(
        keyring_,
        StoredLayout::AssociatedData('\0', "orders", i + 1, order.type, raw.timestamp_us,
                                     order.writer, order.tags),
        std::string_view(raw.data).substr(event_envelope.size()));
    EXPECT_EQ(plain, StoredLayout::U32(order.metadata.size()) + order.metadata + order.data);
  }

  std::string raw_snapshot;
  auto keep = [](void* context, const cairn_snapshot* s) -> int {
    static_cast<std::string*>(context)->assign(reinterpret_cast<const char*>(s->data.data),
                                               s->data.size);
    return 1;
  };
  cairn_snapshot_criteria any{};
  any.size = sizeof(any);
  any.max_revision = kMaxRevision;
  any.min_timestamp_us = INT64_MIN;
  any.max_timestamp_us = INT64_MAX;
  const cairn_storage_api* api = (*store)->storage_plugin()->storage();
  ASSERT_EQ(api->snapshot_load((*store)->raw_storage(), cairn_bytes{reinterpret_cast<const uint8_t*>("orders"), 6},
                               &any, keep, &raw_snapshot, nullptr),
            CAIRN_OK);
  // Snapshots keep no metadata inside: flags codec|cipher.
  const std::string snapshot_envelope = std::string("\x02\x03\x04zstd\x07" "aes-gcm", 15) +
                                        StoredLayout::U32(1);
  ASSERT_EQ(raw_snapshot.substr(0, snapshot_envelope.size()), snapshot_envelope);
  EXPECT_EQ(layout.Unseal(keyring_,
                          StoredLayout::AssociatedData('\x02', "orders", 2, "",
                                                       snapshot.timestamp_us, "", {}),
                          std::string_view(raw_snapshot).substr(snapshot_envelope.size())),
            snapshot.data);

  // The seal registry: a snapshot of "$cairn/seal-registry" whose entry
  // holds key 1's check value, the seal of a fixed block under associated
  // data "cairn/key-check/1" + sized cipher name.
  std::string registry;
  ASSERT_EQ(api->snapshot_load((*store)->raw_storage(),
                               cairn_bytes{reinterpret_cast<const uint8_t*>("$cairn/seal-registry"), 20},
                               &any, keep, &registry, nullptr),
            CAIRN_OK);
  std::vector<std::string> words =
      absl::StrSplit(registry.substr(registry.find("\nkey ") + 1), ' ');
  ASSERT_EQ(words.size(), 5u) << registry;
  EXPECT_EQ(words[1], "aes-gcm");
  EXPECT_EQ(words[2], "1");
  EXPECT_EQ(layout.Unseal(keyring_, "cairn/key-check/1" + StoredLayout::Sized("aes-gcm"),
                          absl::HexStringToBytes(words[3]), /*decode=*/false),
            "cairn key check value v1");
}

TEST_F(CipherStoreTest, EventsSealedByAnOlderBuildStillOpenAndAreReportedAsLegacy) {
  SiteConfig config = Site("aes-gcm", keyring_, "identity");
  config.storage = PluginChoice{"memory", {}};
  auto store = Open(config);
  ASSERT_TRUE(store.ok()) << store.status();
  StoredLayout layout(**store);
  // Envelope version 1, flags cipher|metadata inside, "aes-gcm", key 1;
  // sealed under associated data v1, which binds no tags.
  EventData order = Order(0);
  std::string stored =
      std::string("\x01\x06\x07" "aes-gcm", 10) + StoredLayout::U32(1) +
      layout.SealWith(keyring_, StoredLayout::LegacyAssociatedData('\0', "orders", 1, order.type),
                      StoredLayout::U32(order.metadata.size()) + order.metadata + order.data);
  auto bytes = [](const std::string& s) {
    return cairn_bytes{reinterpret_cast<const uint8_t*>(s.data()), s.size()};
  };
  std::string stream = "orders";
  cairn_bytes tag = bytes(order.tags[0]);
  cairn_event event{};
  event.size = sizeof(event);
  event.stream = bytes(stream);
  event.type = bytes(order.type);
  event.timestamp_us = 1;
  event.data = bytes(stored);
  event.tags = &tag;
  event.tag_count = 1;
  cairn_append_result result{};
  result.size = sizeof(result);
  const cairn_storage_api* api = (*store)->storage_plugin()->storage();
  const cairn_event* batch[] = {&event};
  cairn_append_request request{
      sizeof(request), CAIRN_EXPECT_ANY, 0, bytes(stream), batch, 1,
      nullptr,         nullptr,          {}};
  ASSERT_EQ(api->append((*store)->raw_storage(), &request, &result, nullptr),
            CAIRN_OK);
  AppendOrders(**store, "orders", 1, 1);
  auto read = (*store)->ReadStream("orders");
  ASSERT_TRUE(read.ok()) << read.status();
  ASSERT_EQ(read->size(), 2u);
  EXPECT_EQ((*read)[0].data, order.data);
  EXPECT_EQ((*read)[0].metadata, order.metadata);
  EXPECT_TRUE((*read)[0].legacy_seal);
  EXPECT_EQ((*read)[1].data, Order(1).data);
  EXPECT_FALSE((*read)[1].legacy_seal);
}

TEST_F(CipherStoreTest, WithoutACipherTheStoredLayoutIsUnchangedToo) {
  struct Raw {
    std::string metadata, data;
  };
  auto stored_first_event = [&](const std::string& codec) {
    SiteConfig config = Site("none", "", codec);
    config.storage = PluginChoice{"memory", {}};
    auto store = Open(config);
    EXPECT_TRUE(store.ok()) << store.status();
    if (!store.ok()) return Raw{};
    AppendOrders(**store, "orders", 0, 1);
    Raw raw;
    auto keep = [](void* context, const cairn_event* e) -> int {
      auto* r = static_cast<Raw*>(context);
      r->metadata.assign(reinterpret_cast<const char*>(e->metadata.data), e->metadata.size);
      r->data.assign(reinterpret_cast<const char*>(e->data.data), e->data.size);
      return 1;
    };
    EXPECT_EQ((*store)->storage_plugin()->storage()->read_all((*store)->raw_storage(), 0, 1, 0,
                                                              keep, &raw, nullptr),
              CAIRN_OK);
    return raw;
  };
  // No codec, no cipher: version 1, no flags, the data; metadata in storage.
  Raw plain = stored_first_event("identity");
  EXPECT_EQ(plain.data, std::string("\x01\x00", 2) + Order(0).data);
  EXPECT_EQ(plain.metadata, Order(0).metadata);
  // zstd alone: flags codec|metadata inside, "zstd", then the codec's own
  // framing ("CZ", version 1, flags 0, dictionary id 0) and a zstd frame.
  Raw compressed = stored_first_event("zstd");
  EXPECT_EQ(compressed.data.substr(0, 15),
            std::string("\x01\x05\x04zstdCZ\x01\x00\0\0\0\0", 15));
  EXPECT_EQ(compressed.metadata, "");
}

TEST_F(CipherStoreTest, SealLimitReachedFailsTheAppendAndWritesNothing) {
  for (const char* cipher : {"aes-gcm", "chacha20-poly1305"}) {
    SCOPED_TRACE(cipher);
    std::string data = std::string("data-") + cipher;
    // A keyring of its own: counts are per keyring and key.
    std::string keys = dir_.File(std::string("keys-") + cipher);
    uint32_t id = 0;
    ASSERT_TRUE(keyring::CreateKeyringFile(keys, &id).ok());
    SiteConfig config = Site(cipher, keys, "zstd", data);
    config.cipher.options.push_back({"max-seals-per-key", "4"});
    auto store = Open(config);
    ASSERT_TRUE(store.ok()) << store.status();
    AppendOrders(**store, "orders-1", 0, 3);
    // A batch of two needs two seals; only one is left: nothing is written.
    std::vector<EventData> batch = {Order(3), Order(4)};
    auto refused = (*store)->Append("orders-1", ExpectedRevision::Any(), batch);
    ASSERT_FALSE(refused.ok());
    EXPECT_EQ(CodeOf(refused.status()), CAIRN_E_RESOURCE_EXHAUSTED);
    EXPECT_THAT(refused.status().message(), HasSubstr("key id"));
    EXPECT_THAT(refused.status().message(), HasSubstr("has made its limit of 4"));
    EXPECT_THAT(refused.status().message(), HasSubstr("cairn keys rotate"));
    EXPECT_EQ(*(*store)->HeadRevision("orders-1"), 3u);
    EXPECT_EQ(ReadAll(**store).size(), 3u);
    // Rotation through the store gives a fresh key and budget.
    absl::StatusOr<uint32_t> rotated = (*store)->RotateKey();
    ASSERT_TRUE(rotated.ok()) << rotated.status();
    auto written = (*store)->Append("orders-1", ExpectedRevision::Any(), batch);
    ASSERT_TRUE(written.ok()) << written.status();
    std::vector<RecordedEvent> all = ReadAll(**store);
    ASSERT_EQ(all.size(), 5u);
    EXPECT_EQ(all[4].key_id, *rotated);
    EXPECT_EQ(all[4].data, Order(4).data);
  }
}

TEST_F(CipherStoreTest, NoCipherOnASealedStoreIsRefusedNamingTheCipherAndTheOverride) {
  WriteSealedOrders(2);
  // What `cairn --set cipher.plugin=none append` does: refused, not a
  // plaintext event beside the sealed ones.
  auto refused = Open(Site("none", ""));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(CodeOf(refused.status()), CAIRN_E_FAILED_PRECONDITION) << refused.status();
  EXPECT_THAT(refused.status().message(), HasSubstr("cipher 'aes-gcm' key ids 1"));
  EXPECT_THAT(refused.status().message(), HasSubstr("[store] allow-plaintext = true"));
  // Also when the newest event is not sealed (so the old check, which
  // opened only the newest event, saw nothing to check).
  {
    SiteConfig plain = Site("none", "");
    ASSERT_TRUE(plain.Override("store.allow-plaintext=true").ok());
    auto store = Open(plain);
    ASSERT_TRUE(store.ok()) << store.status();
    AppendOrders(**store, "orders", 2, 1);
    // A sealed event read without the cipher names the plugin it needs.
    auto read = (*store)->ReadStream("orders");
    ASSERT_FALSE(read.ok());
    EXPECT_THAT(read.status().message(), HasSubstr("sealed with cipher 'aes-gcm'"));
    EXPECT_THAT(read.status().message(), HasSubstr("stream 'orders' revision 1"));
  }
  refused = Open(Site("none", ""));
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(refused.status().message(), HasSubstr("cipher 'aes-gcm'"));
  // The right keyring reads sealed and plaintext events alike.
  auto store = Open(Site("aes-gcm", keyring_));
  ASSERT_TRUE(store.ok()) << store.status();
  std::vector<RecordedEvent> all = ReadAll(**store);
  ASSERT_EQ(all.size(), 3u);
  for (size_t i = 0; i < all.size(); ++i) EXPECT_EQ(all[i].data, Order(i).data);
  EXPECT_EQ(all[2].cipher, "");
}

TEST_F(CipherStoreTest, ADifferentKeyringReusingKeyIdOneIsRefusedAfterPlaintextEvents) {
  WriteSealedOrders(2);
  {
    SiteConfig plain = Site("none", "");
    ASSERT_TRUE(plain.Override("store.allow-plaintext=true").ok());
    auto store = Open(plain);
    ASSERT_TRUE(store.ok()) << store.status();
    AppendOrders(**store, "orders", 2, 1);
  }
  std::string other = NewKeyring("other-keys");
  auto wrong = Open(Site("aes-gcm", other));
  ASSERT_FALSE(wrong.ok());
  EXPECT_TRUE(IsIntegrityError(wrong.status())) << wrong.status();
  EXPECT_THAT(wrong.status().message(), HasSubstr("key id 1 of cipher 'aes-gcm'"));
  EXPECT_THAT(wrong.status().message(), HasSubstr("is this the right keyring?"));
  EXPECT_THAT(wrong.status().message(), HasSubstr("allow-new-keyring"));
  // Nothing was written: the right keyring still opens everything.
  auto store = Open(Site("aes-gcm", keyring_));
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_EQ(ReadAll(**store).size(), 3u);
}

TEST_F(CipherStoreTest, EveryRecordedKeyIdIsCheckedNotOnlyTheNewestEvents) {
  {
    auto store = Open(Site("aes-gcm", keyring_));
    ASSERT_TRUE(store.ok()) << store.status();
    AppendOrders(**store, "orders", 0, 2);
    ASSERT_TRUE((*store)->RotateKey().ok());
    AppendOrders(**store, "orders", 2, 2);  // the newest events: key 2
  }
  // Key 2 is the right key 2; key 1 is another key.
  std::string text = keyring::testing::ReadFile(keyring_);
  size_t at = text.find("key 2 ");
  ASSERT_NE(at, std::string::npos);
  std::string key2 = text.substr(at + 6, 64);
  std::string mixed = dir_.File("mixed-keys");
  keyring::testing::WriteFile(mixed,
                              "key 1 " + std::string(64, 'e') + "\nkey 2 " + key2 + " active\n",
                              0600);
  auto wrong = Open(Site("aes-gcm", mixed));
  ASSERT_FALSE(wrong.ok());
  EXPECT_TRUE(IsIntegrityError(wrong.status())) << wrong.status();
  EXPECT_THAT(wrong.status().message(), HasSubstr("key id 1 of cipher 'aes-gcm'"));
}

TEST_F(CipherStoreTest, AllowNewKeyringOpensButNeverSealsUnderARecordedKeyIdOfAnotherKey) {
  WriteSealedOrders(2);
  std::string other = NewKeyring("other-keys");
  SiteConfig config = Site("aes-gcm", other);
  ASSERT_TRUE(config.Override("store.allow-new-keyring=true").ok());
  auto store = Open(config);
  ASSERT_TRUE(store.ok()) << store.status();
  auto refused = (*store)->Append("orders", ExpectedRevision::Any(), {Order(2)});
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(refused.status().message(), HasSubstr("recorded another key under id 1"));
  EXPECT_THAT(refused.status().message(), HasSubstr("cairn keys rotate"));
  EXPECT_EQ(*(*store)->HeadRevision("orders"), 2u);
  // A fresh key id seals, and is recorded: the next open checks it too.
  ASSERT_EQ(*(*store)->RotateKey(), 2u);
  ASSERT_TRUE((*store)->Append("orders", ExpectedRevision::Any(), {Order(2)}).ok());
  store->reset();
  auto again = Open(config);
  ASSERT_TRUE(again.ok()) << again.status();
  auto read = (*again)->ReadStream("orders", 3, 3);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ((*read)[0].key_id, 2u);
  EXPECT_EQ((*read)[0].data, Order(2).data);
}

TEST_F(CipherStoreTest, SwappingAesGcmForChaChaKeepsReadingOldEvents) {
  WriteSealedOrders(3);
  // One site-file line changes; the keyring holds the old key and a new one.
  uint32_t new_id = 0;
  ASSERT_TRUE(keyring::RotateKeyringFile(keyring_, &new_id, nullptr).ok());
  for (int round = 0; round < 2; ++round) {  // then again after a reopen
    auto store = Open(Site("chacha20-poly1305", keyring_));
    ASSERT_TRUE(store.ok()) << store.status();
    AppendOrders(**store, "orders", 3 + round, 1);
    std::vector<RecordedEvent> all = ReadAll(**store);
    ASSERT_EQ(all.size(), 4u + round);
    for (size_t i = 0; i < all.size(); ++i) {
      EXPECT_EQ(all[i].data, Order(i).data) << i;
      EXPECT_EQ(all[i].cipher, i < 3 ? "aes-gcm" : "chacha20-poly1305") << i;
      EXPECT_EQ(all[i].key_id, i < 3 ? 1u : new_id) << i;
    }
  }
}

TEST_F(CipherStoreTest, ChangingTheCodecKeepsOldEventsReadable) {
  {
    auto store = Open(Site("aes-gcm", keyring_, "zstd"));
    ASSERT_TRUE(store.ok()) << store.status();
    AppendOrders(**store, "orders", 0, 3);
  }
  auto store = Open(Site("aes-gcm", keyring_, "identity"));
  ASSERT_TRUE(store.ok()) << store.status();
  AppendOrders(**store, "orders", 3, 2);
  std::vector<RecordedEvent> all = ReadAll(**store);
  ASSERT_EQ(all.size(), 5u);
  for (size_t i = 0; i < all.size(); ++i) {
    EXPECT_EQ(all[i].data, Order(static_cast<int>(i)).data);
    EXPECT_EQ(all[i].codec, i < 3 ? "zstd" : "");
  }
}

// A site file's relative keyring (a CAIRN_OPT_PATH option of the cipher)
// names the file beside the site file, whatever the current folder; the
// same text given as an override names it from the current folder.
TEST_F(CipherStoreTest, ARelativeKeyringInASiteFileIsFoundBesideTheFile) {
  namespace fs = std::filesystem;
  const fs::path site_dir = dir_.File("etc");
  fs::create_directories(site_dir / "keys");
  fs::create_directories(dir_.File("elsewhere"));
  uint32_t id = 0;
  ASSERT_TRUE(keyring::CreateKeyringFile(
                  (site_dir / "keys" / "site.keyring").string(), &id)
                  .ok());
  const std::string site = (site_dir / "site.ini").string();
  std::ofstream(site)
      << "[store]\npath = data\n"
      << "[storage]\nplugin = mmaplog\nsegment-size = 4MiB\n"
      << "fsync = never\n"
      << "[cipher]\nplugin = aes-gcm\nkeyring = keys/site.keyring\n";
  struct CurrentFolder {
    fs::path before = fs::current_path();
    ~CurrentFolder() { fs::current_path(before); }
  } restore;
  fs::current_path(dir_.File("elsewhere"));

  auto config = SiteConfig::LoadFile(site);
  ASSERT_TRUE(config.ok()) << config.status();
  {
    auto store = Open(*config);
    ASSERT_TRUE(store.ok()) << store.status();
    AppendOrders(**store, "orders", 0, 3);
    std::vector<RecordedEvent> all = ReadAll(**store);
    ASSERT_EQ(all.size(), 3u);
    EXPECT_EQ(all[0].cipher, "aes-gcm");
  }
  EXPECT_TRUE(fs::exists(site_dir / "data"));
  EXPECT_FALSE(fs::exists("keys"));

  // An override keeps the current folder, where there is no such keyring.
  ASSERT_TRUE(config->Override("cipher.keyring=keys/site.keyring").ok());
  auto refused = Open(*config);
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(refused.status().message(),
              ::testing::HasSubstr("keys/site.keyring"));
  EXPECT_THAT(
      refused.status().message(),
      ::testing::Not(::testing::HasSubstr(site_dir.string() + "/keys")));
}

// Two sites that differ only in their site files write the same events and
// read back the same events.
TEST_F(CipherStoreTest, SiteSwapTwoSiteFilesReadBackIdentically) {
  std::string site_a = dir_.File("site-a.ini");
  std::string site_b = dir_.File("site-b.ini");
  std::ofstream(site_a) << "[store]\npath = " << dir_.File("site-a") << "\n"
                        << "[storage]\nplugin = mmaplog\nsegment-size = 4MiB\n"
                        << "fsync = never\n"
                        << "[codec]\nplugin = zstd\nlevel = 3\n"
                        << "[cipher]\nplugin = aes-gcm\nkeyring = " << keyring_ << "\n";
  std::ofstream(site_b) << "[store]\npath = " << dir_.File("site-b") << "\n"
                        << "[storage]\nplugin = mmaplog\nsegment-size = 4MiB\n"
                        << "fsync = never\n"
                        << "[codec]\nplugin = identity\n"
                        << "[cipher]\nplugin = chacha20-poly1305\nkeyring = "
                        << keyring_ << "\n";
  std::vector<std::vector<RecordedEvent>> results;
  for (const std::string& site : {site_a, site_b}) {
    auto config = SiteConfig::LoadFile(site);
    ASSERT_TRUE(config.ok()) << config.status();
    {
      auto store = Open(*config);
      ASSERT_TRUE(store.ok()) << store.status();
      for (int batch = 0; batch < 4; ++batch) {
        AppendOrders(**store, "orders-" + std::to_string(batch % 2), batch * 5, 5);
      }
    }
    auto store = Open(*config);  // read back after reopening
    ASSERT_TRUE(store.ok()) << store.status();
    results.push_back(ReadAll(**store));
  }
  ASSERT_EQ(results[0].size(), 20u);
  ASSERT_EQ(results[1].size(), 20u);
  for (size_t i = 0; i < 20; ++i) {
    const RecordedEvent& a = results[0][i];
    const RecordedEvent& b = results[1][i];
    EXPECT_EQ(a.stream, b.stream);
    EXPECT_EQ(a.revision, b.revision);
    EXPECT_EQ(a.position, b.position);
    EXPECT_EQ(a.type, b.type);
    EXPECT_EQ(a.data, b.data);
    EXPECT_EQ(a.metadata, b.metadata);
    EXPECT_EQ(a.tags, b.tags);
    EXPECT_EQ(a.data, Order(static_cast<int>(i)).data);
    EXPECT_EQ(a.cipher, "aes-gcm");
    EXPECT_EQ(a.codec, "zstd");
    EXPECT_EQ(b.cipher, "chacha20-poly1305");
    EXPECT_EQ(b.codec, "");
  }
}

}  // namespace
}  // namespace cairn
