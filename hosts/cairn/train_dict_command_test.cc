// `cairn train-dict` run in-process through RunCli against a memory store,
// then the dictionary used by a zstd store.
#include "train_dict_command.h"

#include <cairn/builtins.h>
#include <cairn/store.h>
#include <zstd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "cli.h"
#include "embedded_store_access.h"

namespace cairn::cli {
namespace {

using ::testing::HasSubstr;

struct Result {
  int code;
  std::string out;
  std::string err;
};

std::string JsonEvent(int i) {
  return "{\"orderId\":\"ord-" + std::to_string(100000 + i) +
         "\",\"customerId\":\"cust-" + std::to_string(i % 97) +
         "\",\"status\":\"placed\",\"lines\":[{\"sku\":\"SKU-" +
         std::to_string(i % 13) + "\",\"quantity\":" +
         std::to_string(i % 5 + 1) + "}]}";
}

class TrainDictCommandTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/cairn-train-dict-test-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    dir_ = pattern;
    ASSERT_TRUE(RegisterBuiltinPlugins(registry_).ok());
    SiteConfig config;
    config.storage.plugin = "memory";
    auto store = Store::Open(config, registry_);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
  }
  void TearDown() override {
    store_.reset();
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
  void AppendOrders(int count) {
    std::vector<EventData> events;
    for (int i = 0; i < count; ++i) {
      EventData event;
      event.type = "OrderPlaced";
      event.data = JsonEvent(i);
      events.push_back(event);
    }
    auto appended = store_->Append("orders", ExpectedRevision::Any(), events);
    ASSERT_TRUE(appended.ok()) << appended.status();
  }
  Result Run(const std::vector<std::string>& args) {
    std::istringstream in;
    std::ostringstream out, err;
    Store* store = store_.get();
    int code = RunCli(args, "/nonexistent/bin/cairn", in, out, err,
                      [store](const StoreOptions&)
                          -> absl::StatusOr<std::unique_ptr<StoreAccess>> {
                        return WrapStore(store);
                      });
    return {code, out.str(), err.str()};
  }

  std::string dir_;
  PluginRegistry registry_;
  std::unique_ptr<Store> store_;
};

TEST_F(TrainDictCommandTest, JsonGivesProgressLinesAndTheResultAsJson) {
  AppendOrders(2000);
  std::string path = dir_ + "/orders.dict";
  Result r = Run({"train-dict", "--output", path, "--size", "8KiB", "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  nlohmann::json result = nlohmann::json::parse(r.out);
  EXPECT_EQ(result["dictionary"], path);
  EXPECT_GT(result["id"].get<uint64_t>(), 0u);
  EXPECT_LE(result["bytes"].get<uint64_t>(), 8192u);
  EXPECT_EQ(result["events"], 2000);
  // Every stderr line is a JSON progress object; the last says done.
  std::istringstream lines(r.err);
  std::string line, last;
  while (std::getline(lines, line)) {
    nlohmann::json progress = nlohmann::json::parse(line);
    EXPECT_EQ(progress["progress"], "train-dict") << line;
    last = line;
  }
  ASSERT_FALSE(last.empty());
  EXPECT_EQ(nlohmann::json::parse(last)["done"], true);
  EXPECT_EQ(nlohmann::json::parse(last)["count"], 2000);
}

TEST_F(TrainDictCommandTest, TrainsADictionaryTheZstdCodecUses) {
  AppendOrders(2000);
  std::string path = dir_ + "/orders.dict";
  Result r = Run({"train-dict", "--output", path, "--size", "8KiB"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("wrote zstd dictionary " + path));
  EXPECT_THAT(r.out, HasSubstr("from 2000 events"));
  // Progress on stderr: the read (one line when done), then the training.
  EXPECT_THAT(r.err, HasSubstr("cairn train-dict: 2000 events, "));
  EXPECT_THAT(r.err, HasSubstr(", done\ncairn train-dict: training a "
                               "dictionary of at most 8192 bytes on "));
  std::ifstream in(path, std::ios::binary);
  std::string dictionary((std::istreambuf_iterator<char>(in)),
                         std::istreambuf_iterator<char>());
  ASSERT_FALSE(dictionary.empty());
  EXPECT_LE(dictionary.size(), 8192u);
  uint32_t id = ZSTD_getDictID_fromDict(dictionary.data(), dictionary.size());
  EXPECT_NE(id, 0u);
  EXPECT_THAT(r.out, HasSubstr("id " + std::to_string(id)));

  // A store whose site uses the dictionary writes and reads back.
  SiteConfig config;
  config.storage.plugin = "memory";
  config.codec = PluginChoice{"zstd", {{"level", "1"}, {"dictionary", path}}};
  auto zstd_store = Store::Open(config, registry_);
  ASSERT_TRUE(zstd_store.ok()) << zstd_store.status();
  EventData event;
  event.type = "OrderPlaced";
  event.data = JsonEvent(99999);
  ASSERT_TRUE((*zstd_store)->Append("o", ExpectedRevision::Any(), {event}).ok());
  auto read = (*zstd_store)->ReadStream("o");
  ASSERT_TRUE(read.ok()) << read.status();
  ASSERT_EQ(read->size(), 1u);
  EXPECT_EQ((*read)[0].data, event.data);
  EXPECT_EQ((*read)[0].codec, "zstd");
}

TEST_F(TrainDictCommandTest, StreamAndMaxEventsLimitTheSamples) {
  AppendOrders(1500);
  std::string path = dir_ + "/d";
  Result r = Run({"train-dict", "--output", path, "--stream", "orders",
                  "--max-events", "1200", "--size", "4KiB"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("from 1200 events"));
}

TEST_F(TrainDictCommandTest, AnEmptyStoreIsADataErrorAndWritesNothing) {
  std::string path = dir_ + "/d";
  Result r = Run({"train-dict", "--output", path});
  EXPECT_EQ(r.code, kExitDataError);
  EXPECT_THAT(r.err, HasSubstr("no events with data to train on"));
  EXPECT_FALSE(std::filesystem::exists(path));
}

TEST_F(TrainDictCommandTest, TooFewEventsSaysWhatTrainingNeeds) {
  AppendOrders(3);
  std::string path = dir_ + "/d";
  Result r = Run({"train-dict", "--output", path});
  EXPECT_EQ(r.code, kExitDataError);
  EXPECT_THAT(r.err, HasSubstr("zstd could not train a dictionary from 3 samples"));
  EXPECT_FALSE(std::filesystem::exists(path));
}

TEST_F(TrainDictCommandTest, UsageErrors) {
  Result r = Run({"train-dict"});
  EXPECT_EQ(r.code, kExitUsage);
  EXPECT_THAT(r.err, HasSubstr("missing --output FILE"));
  r = Run({"train-dict", "-o", dir_ + "/d", "--size", "12"});
  EXPECT_EQ(r.code, kExitUsage);
  EXPECT_THAT(r.err, HasSubstr("--size takes a size"));
  // The one size grammar (cairn/sdk/size.hpp): 'KB' is ambiguous.
  r = Run({"train-dict", "-o", dir_ + "/d", "--size", "8KB"});
  EXPECT_EQ(r.code, kExitUsage);
  EXPECT_THAT(r.err,
              HasSubstr("--size '8KB': unit 'KB' is ambiguous; write 8KiB"));
  r = Run({"train-dict", "-o", dir_ + "/d", "--max-bytes", "1.5GiB"});
  EXPECT_EQ(r.code, kExitUsage);
  EXPECT_THAT(r.err, HasSubstr("--max-bytes '1.5GiB': fractions"));
  r = Run({"train-dict", "-o", dir_ + "/d", "--stream", "a", "--tag", "b"});
  EXPECT_EQ(r.code, kExitUsage);
  r = Run({"train-dict", "-o", dir_ + "/d", "--max-events", "-1"});
  EXPECT_EQ(r.code, kExitUsage);
  std::ofstream(dir_ + "/exists") << "x";
  r = Run({"train-dict", "-o", dir_ + "/exists"});
  EXPECT_EQ(r.code, kExitUsage);
  EXPECT_THAT(r.err, HasSubstr("pass --force"));
}

}  // namespace
}  // namespace cairn::cli
