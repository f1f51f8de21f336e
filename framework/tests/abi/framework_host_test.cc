// The real host (loader, option checks, Store) built against plugin.h 2.0
// drives the growth fixture built against the 2.1 test header: descriptor
// options read within their size, option values checked against them, and
// appends and reads through the Store, with the plugin reporting (stats)
// that it read nothing past the host's sizes.
#include <cairn/builtins.h>
#include <cairn/plugin_registry.h>
#include <cairn/store.h>

#include <cstdlib>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cairn {
namespace {

using ::testing::ElementsAre;

std::string GrowthDir() {
  const char* dir = std::getenv("CAIRN_FIXTURE_DIR");
  return std::string(dir ? dir : "fixtures") + "/abi";
}

TEST(FrameworkHostGrowth, TheLoaderReadsA21PluginsOptionsWithinTheirSize) {
  PluginRegistry registry;
  absl::StatusOr<PluginPtr> plugin =
      registry.LoadFile(GrowthDir() + "/growth-2-1.so");
  ASSERT_TRUE(plugin.ok()) << plugin.status();
  EXPECT_EQ((*plugin)->descriptor().abi_minor, 1);
  std::vector<OptionInfo> options = (*plugin)->options();
  ASSERT_EQ(options.size(), 2u);
  EXPECT_EQ(options[0].key, "count");
  EXPECT_EQ(options[0].type, static_cast<uint32_t>(CAIRN_OPT_UINT));
  EXPECT_EQ(options[1].key, "mode");
  EXPECT_THAT(options[1].allowed, ElementsAre("a", "b"));
  EXPECT_EQ(options[1].help, "growth fixture option");
}

TEST(FrameworkHostGrowth, TheStoreDrivesA21StoragePlugin) {
  PluginRegistry registry;
  ASSERT_TRUE(RegisterBuiltinPlugins(registry).ok());
  registry.AddSearchDir(GrowthDir());
  SiteConfig config;
  config.storage.plugin = "growth-2-1";
  config.storage.options = {{"mode", "c"}};
  absl::StatusOr<std::unique_ptr<Store>> store = Store::Open(config, registry);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().message(), "[storage] mode = 'c': allowed: a, b");

  config.storage.options = {{"mode", "b"}, {"count", "2"}};
  store = Store::Open(config, registry);
  ASSERT_TRUE(store.ok()) << store.status();
  std::vector<EventData> events(3);
  for (size_t i = 0; i < events.size(); ++i) {
    events[i].type = "Grown";
    events[i].data = "event-" + std::to_string(i);
  }
  absl::StatusOr<AppendResult> appended =
      (*store)->Append("grown", ExpectedRevision::Any(), events);
  ASSERT_TRUE(appended.ok()) << appended.status();
  EXPECT_EQ(appended->first_revision, 1u);
  EXPECT_EQ(appended->last_revision, 3u);
  EXPECT_EQ(appended->last_position, 3u);
  absl::StatusOr<std::vector<RecordedEvent>> read =
      (*store)->ReadStream("grown");
  ASSERT_TRUE(read.ok()) << read.status();
  ASSERT_EQ(read->size(), 3u);
  EXPECT_EQ((*read)[2].data, "event-2");
  absl::StatusOr<std::map<std::string, double>> stats = (*store)->Stats();
  ASSERT_TRUE(stats.ok()) << stats.status();
  // A 2.0 host's offer, request and events end before the 2.1 fields: the
  // plugin must report zero for each, not whatever the host's memory holds
  // past them. (growth_test.cc pins the same with canary bytes.)
  int reported = 0;
  for (const auto& [name, value] : *stats) {
    if (name.find("added") != std::string::npos) {
      ++reported;
      EXPECT_EQ(value, 0) << name;
    }
  }
  EXPECT_EQ(reported, 4)
      << "offer_added, request_added, event_added and record_added";
}

}  // namespace
}  // namespace cairn
