// The cipher and codec plugins through cairn::Store, as a site runs them:
// rotation without rewriting, a changed stored byte, the wrong keyring, a
// cipher the site no longer configures, and two sites configured only by
// their site files.
#include <cairn/builtins.h>
#include <cairn/config.h>
#include <cairn/status.h>
#include <cairn/store.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "keyring/keyring.h"
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
  for (size_t i = 0; i < all.size(); ++i) {
    const RecordedEvent& e = all[i];
    EventData expected = Order(static_cast<int>(i));
    EXPECT_EQ(e.position, i + 1);
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

TEST_F(CipherStoreTest, AChangedStoredByteIsAnIntegrityErrorNamingStreamAndRevision) {
  // Records as storage holds them, copied from one store into another with
  // one byte of revision 2's sealed payload changed: what a flipped bit on a
  // disk without checksums, or a tampering replica, would leave.
  SiteConfig config = Site("aes-gcm", keyring_);
  config.storage = PluginChoice{"memory", {}};
  auto source = Open(config);
  ASSERT_TRUE(source.ok()) << source.status();
  AppendOrders(**source, "orders", 0, 3);
  struct Copied {
    std::string stream, type, writer, metadata, data;
    std::vector<std::string> tags;
    cairn_event event;
  };
  std::vector<Copied> copied;
  const cairn_storage_api* api = (*source)->storage_plugin()->storage();
  auto collect = [](void* context, const cairn_event* e) -> int {
    auto* out = static_cast<std::vector<Copied>*>(context);
    Copied c;
    c.stream.assign(reinterpret_cast<const char*>(e->stream.data), e->stream.size);
    c.type.assign(reinterpret_cast<const char*>(e->type.data), e->type.size);
    c.writer.assign(reinterpret_cast<const char*>(e->writer.data), e->writer.size);
    c.metadata.assign(reinterpret_cast<const char*>(e->metadata.data), e->metadata.size);
    c.data.assign(reinterpret_cast<const char*>(e->data.data), e->data.size);
    c.event = *e;
    out->push_back(std::move(c));
    return 0;
  };
  char message[256] = "";
  cairn_error error{message, sizeof(message)};
  ASSERT_EQ(api->read_all((*source)->raw_storage(), 0, 100, 1, collect, &copied,
                          &error),
            CAIRN_OK)
      << message;
  ASSERT_EQ(copied.size(), 3u);
  // Plaintext never reaches storage.
  EXPECT_EQ(copied[1].data.find("orderId"), std::string::npos);
  Copied& victim = copied[1];
  victim.data[victim.data.size() - 20] ^= 0x04;
  std::vector<cairn_event> events;
  for (Copied& c : copied) {
    cairn_event e = c.event;
    auto bytes = [](const std::string& s) {
      return cairn_bytes{reinterpret_cast<const uint8_t*>(s.data()), s.size()};
    };
    e.stream = bytes(c.stream);
    e.type = bytes(c.type);
    e.writer = bytes(c.writer);
    e.metadata = bytes(c.metadata);
    e.data = bytes(c.data);
    e.tags = nullptr;
    e.tag_count = 0;
    events.push_back(e);
  }
  auto target = Open(config);
  ASSERT_TRUE(target.ok()) << target.status();
  ASSERT_EQ(api->apply((*target)->raw_storage(), events.data(), events.size(),
                       &error),
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
  // mmaplog's CRC32C sees the change before the cipher does: today its
  // recovery drops the damaged batch and everything after it (with a
  // warning), a store-level choice. What the cipher guarantees holds either
  // way: the changed bytes are never returned as an event.
  auto store = Open(Site("aes-gcm", keyring_));
  if (!store.ok()) {
    EXPECT_TRUE(IsCorruption(store.status()) || IsIntegrityError(store.status()))
        << store.status();
    return;
  }
  auto read = (*store)->ReadStream("orders");
  if (!read.ok()) {
    EXPECT_TRUE(IsCorruption(read.status()) || IsIntegrityError(read.status()))
        << read.status();
    EXPECT_THAT(read.status().message(), HasSubstr("revision"));
    return;
  }
  for (const RecordedEvent& e : *read) {
    EXPECT_EQ(e.data, Order(static_cast<int>(e.revision) - 1).data)
        << "revision " << e.revision << " was read back changed";
  }
}

TEST_F(CipherStoreTest, TheWrongKeyringIsAClearErrorAtOpenAndNothingIsWritten) {
  {
    auto store = Open(Site("aes-gcm", keyring_));
    ASSERT_TRUE(store.ok()) << store.status();
    AppendOrders(**store, "orders", 0, 3);
  }
  // Same key id, another key.
  std::string other = dir_.File("other-keys");
  uint32_t id = 0;
  ASSERT_TRUE(keyring::CreateKeyringFile(other, &id).ok());
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
  EXPECT_EQ(*(*store)->HeadPosition(), 3u);
  EXPECT_EQ(ReadAll(**store).size(), 3u);
}

// The stored layout, pinned byte for byte from envelope.h and security.md
// rather than from the code that writes it, so data written by any build
// keeps reading: envelope, then seal(zstd(u32 metadata length, metadata,
// data)) under associated data "cairn/1" part revision(u64) stream type.
class StoredLayout {
 public:
  explicit StoredLayout(Store& store) : store_(store) {}

  static std::string U32(uint32_t v) {
    std::string out;
    for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>(v >> (8 * i)));
    return out;
  }
  static std::string AssociatedData(char part, const std::string& stream,
                                    uint64_t revision, const std::string& type) {
    std::string aad = std::string("cairn/1") + part;
    for (int i = 0; i < 8; ++i) aad.push_back(static_cast<char>(revision >> (8 * i)));
    return aad + U32(stream.size()) + stream + U32(type.size()) + type;
  }
  // Opens then decodes `payload` with the store's own plugin instances'
  // tables on fresh instances (the store's options).
  std::string Unseal(const std::string& keyring, const std::string& aad,
                     std::string_view payload) {
    auto cipher_api = store_.cipher_plugin()->cipher();
    auto codec_api = store_.codec_plugin()->codec();
    cairn_option option{"keyring", keyring.c_str()};
    cairn_options options{&option, 1};
    cairn_options none{nullptr, 0};
    cairn_cipher* cipher = nullptr;
    cairn_codec* codec = nullptr;
    EXPECT_EQ(cipher_api->open(&options, &cipher, nullptr), CAIRN_OK);
    EXPECT_EQ(codec_api->open(&none, &codec, nullptr), CAIRN_OK);
    Grown opened, decoded;
    EXPECT_EQ(cipher_api->open_sealed(cipher, 1, Bytes(aad), Bytes(payload), &opened.raw,
                                      nullptr),
              CAIRN_OK);
    EXPECT_EQ(codec_api->decode(codec, Bytes(opened.str()), &decoded.raw, nullptr), CAIRN_OK);
    cipher_api->close(cipher);
    codec_api->close(codec);
    return decoded.str();
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
  static cairn_bytes Bytes(std::string_view s) {
    return cairn_bytes{reinterpret_cast<const uint8_t*>(s.data()), s.size()};
  }
  Store& store_;
};

TEST_F(CipherStoreTest, StoredEventsAndSnapshotsKeepTheDocumentedLayout) {
  SiteConfig config = Site("aes-gcm", keyring_);
  config.storage = PluginChoice{"memory", {}};
  auto store = Open(config);
  ASSERT_TRUE(store.ok()) << store.status();
  AppendOrders(**store, "orders", 0, 2);
  Snapshot snapshot{"orders", 2, 0, "{\"state\":\"paid\"}"};
  ASSERT_TRUE((*store)->SaveSnapshot(snapshot).ok());

  std::vector<std::string> raw_events;
  auto collect = [](void* context, const cairn_event* e) -> int {
    static_cast<std::vector<std::string>*>(context)->emplace_back(
        reinterpret_cast<const char*>(e->data.data), e->data.size);
    return 0;
  };
  const cairn_storage_api* api = (*store)->storage_plugin()->storage();
  ASSERT_EQ(api->read_all((*store)->raw_storage(), 0, 100, 0, collect, &raw_events, nullptr),
            CAIRN_OK);
  ASSERT_EQ(raw_events.size(), 2u);
  StoredLayout layout(**store);
  // version 1, flags codec|cipher|metadata inside, "zstd", "aes-gcm", key 1
  const std::string event_envelope = std::string("\x01\x07\x04zstd\x07" "aes-gcm", 15) +
                                     StoredLayout::U32(1);
  for (int i = 0; i < 2; ++i) {
    const std::string& raw = raw_events[i];
    ASSERT_EQ(raw.substr(0, event_envelope.size()), event_envelope) << i;
    EventData order = Order(i);
    std::string plain = layout.Unseal(
        keyring_, StoredLayout::AssociatedData('\0', "orders", i + 1, order.type),
        std::string_view(raw).substr(event_envelope.size()));
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
  ASSERT_EQ(api->snapshot_load((*store)->raw_storage(), cairn_bytes{reinterpret_cast<const uint8_t*>("orders"), 6},
                               &any, keep, &raw_snapshot, nullptr),
            CAIRN_OK);
  // Snapshots keep no metadata inside: flags codec|cipher.
  const std::string snapshot_envelope = std::string("\x01\x03\x04zstd\x07" "aes-gcm", 15) +
                                        StoredLayout::U32(1);
  ASSERT_EQ(raw_snapshot.substr(0, snapshot_envelope.size()), snapshot_envelope);
  EXPECT_EQ(layout.Unseal(keyring_, StoredLayout::AssociatedData('\x02', "orders", 2, ""),
                          std::string_view(raw_snapshot).substr(snapshot_envelope.size())),
            snapshot.data);
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

TEST_F(CipherStoreTest, ReadingWithoutTheCipherConfiguredNamesThePluginNeeded) {
  {
    auto store = Open(Site("chacha20-poly1305", keyring_));
    ASSERT_TRUE(store.ok()) << store.status();
    AppendOrders(**store, "orders", 0, 2);
  }
  auto store = Open(Site("none", ""));
  ASSERT_TRUE(store.ok()) << store.status();
  auto read = (*store)->ReadStream("orders");
  ASSERT_FALSE(read.ok());
  EXPECT_THAT(read.status().message(),
              HasSubstr("sealed with cipher 'chacha20-poly1305'"));
  EXPECT_THAT(read.status().message(), HasSubstr("stream 'orders' revision 1"));
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
