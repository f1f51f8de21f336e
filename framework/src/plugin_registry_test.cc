#include <cairn/plugin_registry.h>

#include <cairn/status.h>
#include <dlfcn.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cairn {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::string FixtureDir() {
  const char* dir = std::getenv("CAIRN_FIXTURE_DIR");
  return std::string(dir ? dir : "fixtures") + "/loader";
}

std::string Fixture(const std::string& name) {
  return FixtureDir() + "/" + name + ".so";
}

// The message of a refused load, or "" if it loaded.
std::string Refusal(PluginRegistry& registry, const std::string& path) {
  absl::StatusOr<PluginPtr> plugin = registry.LoadFile(path);
  return plugin.ok() ? "" : std::string(plugin.status().message());
}

TEST(PluginLoader, LoadsAWellFormedPlugin) {
  PluginRegistry registry;
  absl::StatusOr<PluginPtr> plugin = registry.LoadFile(Fixture("good"));
  ASSERT_TRUE(plugin.ok()) << plugin.status();
  EXPECT_EQ((*plugin)->name(), "good");
  EXPECT_EQ((*plugin)->kind(), CAIRN_KIND_CODEC);
  EXPECT_EQ((*plugin)->version(), "0.0.1");
  EXPECT_THAT((*plugin)->option_keys(),
              ::testing::ElementsAre("level", "mode"));
  EXPECT_NE((*plugin)->codec(), nullptr);
  EXPECT_EQ((*plugin)->storage(), nullptr);
}

TEST(PluginLoader, RefusesMissingFileNamingIt) {
  PluginRegistry registry;
  std::string path = FixtureDir() + "/does-not-exist.so";
  std::string why = Refusal(registry, path);
  EXPECT_THAT(why, HasSubstr(path));
  EXPECT_THAT(why, HasSubstr("does not exist"));
}

TEST(PluginLoader, RefusesAFileThatIsNotASharedLibrary) {
  PluginRegistry registry;
  std::string why = Refusal(registry, Fixture("not-a-library"));
  EXPECT_THAT(why, HasSubstr("not-a-library.so"));
  EXPECT_THAT(why, HasSubstr("not a shared library"));
}

TEST(PluginLoader, RefusesALibraryWithoutTheEntrySymbol) {
  PluginRegistry registry;
  std::string why = Refusal(registry, Fixture("no-entry"));
  EXPECT_THAT(why, HasSubstr("no-entry.so"));
  EXPECT_THAT(why, HasSubstr("no exported 'cairn_plugin_entry'"));
}

TEST(PluginLoader, ReportsTheEntrysOwnFailure) {
  PluginRegistry registry;
  std::string why = Refusal(registry, Fixture("entry-fails"));
  EXPECT_THAT(why, HasSubstr("entry-fails.so"));
  EXPECT_THAT(why, HasSubstr("licence file missing"));
}

TEST(PluginLoader, RefusesBadMagic) {
  PluginRegistry registry;
  std::string why = Refusal(registry, Fixture("bad-magic"));
  EXPECT_THAT(why, HasSubstr("bad-magic.so"));
  EXPECT_THAT(why, HasSubstr("bad magic 0x12345678"));
}

TEST(PluginLoader, RefusesANewerAbiMajor) {
  PluginRegistry registry;
  std::string why = Refusal(registry, Fixture("abi-major-3"));
  EXPECT_THAT(why, HasSubstr("abi-major-3.so"));
  EXPECT_THAT(why,
              HasSubstr("implements ABI 3.0 but this host drives ABI major 2"));
}

TEST(PluginLoader, RefusesAnAbi1PluginPointingAtTheMigrationGuide) {
  PluginRegistry registry;
  std::string why = Refusal(registry, Fixture("abi-major-1"));
  EXPECT_THAT(why, HasSubstr("abi-major-1.so was built for Cairn plugin ABI 1; "
                             "this host needs ABI 2."));
  EXPECT_THAT(why,
              HasSubstr("See \"Migrating from ABI 1\" in docs/plugins.md."));
}

TEST(PluginLoader, RefusesATableTooSmallForTheFieldsThisHostRequires) {
  PluginRegistry registry;
  std::string why = Refusal(registry, Fixture("small-table"));
  EXPECT_THAT(why, HasSubstr("small-table.so"));
  EXPECT_THAT(why, HasSubstr("codec table is 32 bytes but this host requires at least 40"));
}

TEST(PluginLoader, RefusesAnUnknownKind) {
  PluginRegistry registry;
  EXPECT_THAT(Refusal(registry, Fixture("unknown-kind")), HasSubstr("unknown plugin kind 9"));
}

TEST(PluginLoader, RefusesAnInvalidName) {
  PluginRegistry registry;
  EXPECT_THAT(Refusal(registry, Fixture("bad-name")), HasSubstr("invalid name 'Bad_Name'"));
}

TEST(PluginLoader, RefusesADuplicateNameNamingBothFiles) {
  PluginRegistry registry;
  ASSERT_EQ(Refusal(registry, Fixture("duplicate-a")), "");
  std::string why = Refusal(registry, Fixture("duplicate-b"));
  EXPECT_THAT(why, HasSubstr("duplicate-b.so"));
  EXPECT_THAT(why, HasSubstr("duplicate-a.so"));
  EXPECT_THAT(why, HasSubstr("duplicate name"));
}

TEST(PluginLoader, LoadingTheSameFileTwiceReturnsTheSamePlugin) {
  PluginRegistry registry;
  absl::StatusOr<PluginPtr> a = registry.LoadFile(Fixture("good"));
  absl::StatusOr<PluginPtr> b = registry.LoadFile(Fixture("good"));
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->get(), b->get());
}

TEST(PluginLoader, FindsByNameInSearchFoldersAndRefusesTheWrongKind) {
  PluginRegistry registry;
  registry.AddSearchDir(FixtureDir());
  absl::StatusOr<PluginPtr> found = registry.Find(CAIRN_KIND_CODEC, "good");
  ASSERT_TRUE(found.ok()) << found.status();
  EXPECT_EQ((*found)->name(), "good");

  absl::StatusOr<PluginPtr> wrong = registry.Find(CAIRN_KIND_STORAGE, "good");
  ASSERT_FALSE(wrong.ok());
  EXPECT_THAT(wrong.status().message(), HasSubstr("good.so"));
  EXPECT_THAT(wrong.status().message(), HasSubstr("is a codec plugin, not a storage plugin"));
}

TEST(PluginLoader, FindListsWhereItLookedWhenNothingMatches) {
  PluginRegistry registry;
  registry.AddSearchDir(FixtureDir());
  absl::StatusOr<PluginPtr> found = registry.Find(CAIRN_KIND_CIPHER, "nonesuch");
  ASSERT_FALSE(found.ok());
  EXPECT_EQ(CodeOf(found.status()), CAIRN_E_NOT_FOUND);
  EXPECT_THAT(found.status().message(), HasSubstr("libcairn-cipher-nonesuch.so"));
}

// ---- ABI negotiation, both ways ----

TEST(AbiNegotiation, ANewerPluginMinorLoadsAndItsExtraFieldsAreIgnored) {
  PluginRegistry registry;  // host 1.0
  absl::StatusOr<PluginPtr> plugin = registry.LoadFile(Fixture("newer-minor"));
  ASSERT_TRUE(plugin.ok()) << plugin.status();
  EXPECT_EQ((*plugin)->descriptor().abi_minor, 7);
  // The host drives the 1.0 fields it knows.
  const cairn_codec_api* codec = (*plugin)->codec();
  cairn_codec* instance = nullptr;
  char msg[128];
  cairn_error error{msg, sizeof(msg)};
  ASSERT_EQ(codec->open(nullptr, &instance, &error), CAIRN_OK);
  codec->close(instance);
}

TEST(AbiNegotiation, AnOlderPluginMinorLoadsIntoANewerHost) {
  HostAbi newer_host;
  newer_host.minor = CAIRN_ABI_MINOR + 3;
  PluginRegistry registry(newer_host);
  absl::StatusOr<PluginPtr> plugin = registry.LoadFile(Fixture("good"));
  ASSERT_TRUE(plugin.ok()) << plugin.status();
  EXPECT_EQ((*plugin)->descriptor().abi_minor, CAIRN_ABI_MINOR);
}

TEST(AbiNegotiation, AHostSpanningTwoMajorsAcceptsEither) {
  HostAbi host;
  host.major_min = 2;
  host.major_max = 3;
  PluginRegistry registry(host);
  EXPECT_EQ(Refusal(registry, Fixture("abi-major-3")), "");
}

TEST(AbiNegotiation, CheckDescriptorPinsRequiredTableSizes) {
  EXPECT_EQ(RequiredTableSize(CAIRN_KIND_STORAGE), sizeof(cairn_storage_api));
  EXPECT_EQ(RequiredTableSize(CAIRN_KIND_CODEC), sizeof(cairn_codec_api));
  EXPECT_EQ(RequiredTableSize(CAIRN_KIND_CIPHER), sizeof(cairn_cipher_api));
  EXPECT_EQ(RequiredTableSize(CAIRN_KIND_REPLICATION), sizeof(cairn_replication_api));
}

// A storage descriptor whose table has no function set, declaring `caps`.
cairn_plugin_descriptor EmptyStorage(const char* name, uint64_t caps) {
  static cairn_storage_api table{};
  table.size = sizeof(table);
  cairn_plugin_descriptor d{};
  d.size = sizeof(d);
  d.magic = CAIRN_PLUGIN_MAGIC;
  d.abi_major = CAIRN_ABI_MAJOR;
  d.kind = CAIRN_KIND_STORAGE;
  d.name = name;
  d.version = "1";
  d.capabilities = caps;
  d.table = &table;
  return d;
}

TEST(AbiNegotiation, ACapabilityWithoutItsFunctionIsRefused) {
  // Only the required functions would be set; none are, and tags promised.
  cairn_plugin_descriptor d = EmptyStorage("hollow", CAIRN_CAP_TAGS);
  absl::Status s = CheckDescriptor(&d, HostAbi(), "hollow.so");
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.message(), HasSubstr("lacks required function(s): open, close, append"));
  EXPECT_THAT(s.message(), HasSubstr("read_tag"));
}

TEST(AbiNegotiation, ApplyWithoutTheOrderedLogIsRefused) {
  cairn_plugin_descriptor d = EmptyStorage("old-apply", CAIRN_CAP_APPLY);
  absl::Status s = CheckDescriptor(&d, HostAbi(), "old-apply.so");
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.message(),
              HasSubstr("CAIRN_CAP_APPLY without CAIRN_CAP_ORDERED_LOG"));
  EXPECT_THAT(s.message(), HasSubstr("old-apply.so"));
  d.capabilities = CAIRN_CAP_APPLY | CAIRN_CAP_ORDERED_LOG;
  s = CheckDescriptor(&d, HostAbi(), "old-apply.so");
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.message(), HasSubstr("apply_log"));
  EXPECT_THAT(s.message(), Not(HasSubstr("without CAIRN_CAP_ORDERED_LOG")));
}

// ---- Lifetime ----

bool IsLoaded(const std::string& path) {
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_NOLOAD);
  if (handle == nullptr) return false;
  dlclose(handle);
  return true;
}

TEST(PluginLifetime, TheLibraryStaysLoadedWhileAPluginObjectLives) {
  std::string path = std::filesystem::canonical(Fixture("newer-minor")).string();
  ASSERT_FALSE(IsLoaded(path));
  PluginPtr kept;
  {
    PluginRegistry registry;
    absl::StatusOr<PluginPtr> plugin = registry.LoadFile(path);
    ASSERT_TRUE(plugin.ok()) << plugin.status();
    kept = *plugin;
  }  // the registry is gone; `kept` still holds the library
  EXPECT_TRUE(IsLoaded(path));
  cairn_codec* instance = nullptr;
  char msg[128];
  cairn_error error{msg, sizeof(msg)};
  ASSERT_EQ(kept->codec()->open(nullptr, &instance, &error), CAIRN_OK);
  kept->codec()->close(instance);
  kept.reset();
  EXPECT_FALSE(IsLoaded(path));
}

}  // namespace
}  // namespace cairn
