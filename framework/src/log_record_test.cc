#include "cairn/log_record.h"

#include <cairn/builtins.h>
#include <cairn/store.h>

#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "cairn/log/v1/log.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cairn {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

int Collect(void* context, const cairn_log_record* record) {
  static_cast<std::vector<OwnedLogRecord>*>(context)->emplace_back(*record);
  return 0;
}

// Every record of `store`'s log, owned.
std::vector<OwnedLogRecord> ReadLog(Store& store) {
  std::vector<OwnedLogRecord> records;
  char message[256] = "";
  cairn_error error{message, sizeof(message)};
  const cairn_storage_api* api = store.storage_plugin()->storage();
  EXPECT_EQ(api->read_log(store.raw_storage(), 0, CAIRN_MAX_REVISION, &Collect,
                          &records, &error),
            CAIRN_OK)
      << message;
  return records;
}

std::string Serialized(const OwnedLogRecord& record) {
  log::v1::LogRecord proto;
  ToProto(record, &proto);
  std::string bytes;
  EXPECT_TRUE(proto.SerializeToString(&bytes));
  return bytes;
}

class LogRecordTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(RegisterBuiltinPlugins(registry_).ok());
    config_.storage.plugin = "memory";
  }

  std::unique_ptr<Store> Open() {
    absl::StatusOr<std::unique_ptr<Store>> store =
        Store::Open(config_, registry_);
    EXPECT_TRUE(store.ok()) << store.status();
    return store.ok() ? std::move(*store) : nullptr;
  }

  // A store whose log holds every record kind: a batch of two tagged events
  // appended with an idempotency key, an event with metadata and a writer,
  // a delete, a snapshot saved and deleted, an epoch and an event in that
  // epoch.
  std::unique_ptr<Store> StoreWithEveryKind() {
    std::unique_ptr<Store> store = Open();
    if (store == nullptr) return nullptr;
    EventData a{
        "Placed", std::string("one\0bytes", 9), "", {"order", "eu"}, "w-1", 11};
    EventData b{"Paid", "two", "{\"m\":1}", {}, "", 12};
    EXPECT_TRUE(
        store->Append("orders", ExpectedRevision::Any(), {a, b}, "key-1").ok());
    EXPECT_TRUE(store->Append("users", ExpectedRevision::Any(), {b}).ok());
    EXPECT_TRUE(store->DeleteTo("orders", 1).ok());
    EXPECT_TRUE(store->SaveSnapshot(Snapshot{"orders", 2, 99, "state"}).ok());
    EXPECT_TRUE(store->DeleteSnapshot("orders", 2).ok());
    EXPECT_TRUE(store->BeginEpoch(3, "node-a").ok());
    EXPECT_TRUE(store->Append("orders", ExpectedRevision::Any(), {a}).ok());
    return store;
  }

  PluginRegistry registry_;
  SiteConfig config_;
};

TEST_F(LogRecordTest, EveryKindRoundTripsThroughProtoAndApplyLogByteForByte) {
  std::unique_ptr<Store> source = StoreWithEveryKind();
  ASSERT_NE(source, nullptr);
  std::vector<OwnedLogRecord> original = ReadLog(*source);
  std::set<uint32_t> kinds;
  for (const OwnedLogRecord& r : original) kinds.insert(r.kind);
  ASSERT_EQ(kinds, (std::set<uint32_t>{
                       CAIRN_RECORD_EVENT, CAIRN_RECORD_DELETE_TO,
                       CAIRN_RECORD_SNAPSHOT_SAVE, CAIRN_RECORD_SNAPSHOT_DELETE,
                       CAIRN_RECORD_EPOCH}));

  // The copy holds what was stored.
  const OwnedLogRecord& first = original[0];
  ASSERT_TRUE(first.event.has_value());
  EXPECT_EQ(first.event->writer, "w-1");
  EXPECT_EQ(first.event->timestamp_us, 11);
  EXPECT_EQ(first.event->tags, (std::vector<std::string>{"order", "eu"}));
  EXPECT_EQ(first.batch_size, 2u);
  EXPECT_EQ(first.idempotency_key, "key-1");
  EXPECT_EQ(original[1].idempotency_key, "") << "the batch's first record only";
  for (const OwnedLogRecord& r : original) {
    if (r.kind == CAIRN_RECORD_SNAPSHOT_DELETE) {
      EXPECT_TRUE(r.criteria.has_value());
    }
    if (r.kind == CAIRN_RECORD_EPOCH) {
      EXPECT_EQ(r.epoch, 3u);
      EXPECT_EQ(r.data, "node-a");
    }
    if (r.kind == CAIRN_RECORD_DELETE_TO) {
      EXPECT_EQ(r.stream, "orders");
    }
  }

  // Through the wire form.
  std::vector<OwnedLogRecord> decoded;
  for (const OwnedLogRecord& r : original) {
    log::v1::LogRecord proto;
    ASSERT_TRUE(proto.ParseFromString(Serialized(r)));
    absl::StatusOr<OwnedLogRecord> back = FromProto(proto);
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_TRUE(*back == r) << "position " << r.position;
    EXPECT_EQ(Serialized(*back), Serialized(r));
    decoded.push_back(*std::move(back));
  }

  // Through apply_log into another store, and read_log back.
  std::unique_ptr<Store> target = Open();
  ASSERT_NE(target, nullptr);
  std::vector<const cairn_log_record*> views = LogRecordViews(decoded);
  char message[256] = "";
  cairn_error error{message, sizeof(message)};
  const cairn_storage_api* api = target->storage_plugin()->storage();
  ASSERT_EQ(
      api->apply_log(target->raw_storage(), views.data(), views.size(), &error),
      CAIRN_OK)
      << message;
  std::vector<OwnedLogRecord> copied = ReadLog(*target);
  ASSERT_EQ(copied.size(), original.size());
  for (size_t i = 0; i < original.size(); ++i) {
    EXPECT_TRUE(copied[i] == original[i])
        << "position " << original[i].position;
    EXPECT_EQ(Serialized(copied[i]), Serialized(original[i]));
  }
}

TEST_F(LogRecordTest, ACopyOwnsItsBytesAndItsViewPointsIntoItself) {
  std::unique_ptr<Store> source = StoreWithEveryKind();
  ASSERT_NE(source, nullptr);
  std::vector<OwnedLogRecord> records = ReadLog(*source);
  ASSERT_FALSE(records.empty());
  ASSERT_TRUE(records[0].event.has_value());
  OwnedLogRecord copy = records[0];
  records.clear();
  const cairn_log_record& view = copy.View();
  ASSERT_NE(view.event, nullptr);
  EXPECT_EQ(view.event->stream.data,
            reinterpret_cast<const uint8_t*>(copy.event->stream.data()));
  ASSERT_EQ(view.event->tag_count, 2u);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(view.event->tags[1].data),
                        view.event->tags[1].size),
            "eu");
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(view.event->data.data),
                        view.event->data.size),
            copy.event->data);
}

log::v1::LogRecord ValidEvent() {
  log::v1::LogRecord proto;
  proto.set_kind(log::v1::RECORD_KIND_EVENT);
  proto.set_position(7);
  proto.set_batch_size(1);
  proto.mutable_event()->set_stream("orders");
  proto.mutable_event()->set_revision(1);
  proto.mutable_event()->set_position(7);
  return proto;
}

TEST(LogRecordFromProto, RefusesBadRecordsNamingFieldAndPosition) {
  ASSERT_TRUE(FromProto(ValidEvent()).ok());
  struct Case {
    std::string name;
    std::function<void(log::v1::LogRecord*)> edit;
    std::string field;
  };
  const std::vector<Case> cases = {
      {"unknown kind",
       [](log::v1::LogRecord* p) {
         p->set_kind(static_cast<log::v1::RecordKind>(9));
       },
       "'kind'"},
      {"no kind",
       [](log::v1::LogRecord* p) {
         p->set_kind(log::v1::RECORD_KIND_UNSPECIFIED);
       },
       "'kind'"},
      {"event missing", [](log::v1::LogRecord* p) { p->clear_event(); },
       "'event'"},
      {"event on a delete",
       [](log::v1::LogRecord* p) {
         p->set_kind(log::v1::RECORD_KIND_DELETE_TO);
       },
       "'event'"},
      {"event at another position",
       [](log::v1::LogRecord* p) { p->mutable_event()->set_position(8); },
       "'event.position'"},
      {"batch index past the batch",
       [](log::v1::LogRecord* p) { p->set_batch_index(1); }, "'batch_index'"},
      {"stream name too long",
       [](log::v1::LogRecord* p) {
         p->mutable_event()->set_stream(std::string(256, 's'));
       },
       "'event.stream'"},
      {"tag too long",
       [](log::v1::LogRecord* p) {
         p->mutable_event()->add_tags(std::string(256, 't'));
       },
       "'event.tags[0]'"},
      {"record stream too long",
       [](log::v1::LogRecord* p) { p->set_stream(std::string(300, 'x')); },
       "'stream'"},
      {"idempotency key too long",
       [](log::v1::LogRecord* p) {
         p->set_idempotency_key(std::string(65, 'k'));
       },
       "'idempotency_key'"},
      {"idempotency key on a batch's second event",
       [](log::v1::LogRecord* p) {
         p->set_batch_size(2);
         p->set_batch_index(1);
         p->set_idempotency_key("k");
       },
       "'idempotency_key'"},
  };
  for (const Case& c : cases) {
    log::v1::LogRecord proto = ValidEvent();
    c.edit(&proto);
    absl::StatusOr<OwnedLogRecord> record = FromProto(proto);
    ASSERT_FALSE(record.ok()) << c.name;
    EXPECT_EQ(record.status().code(), absl::StatusCode::kInvalidArgument)
        << c.name;
    EXPECT_THAT(record.status().message(),
                AllOf(HasSubstr(c.field), HasSubstr("position 7")))
        << c.name;
  }
  log::v1::LogRecord zero = ValidEvent();
  zero.set_position(0);
  EXPECT_THAT(FromProto(zero).status().message(), HasSubstr("'position' is 0"));
}

}  // namespace
}  // namespace cairn
