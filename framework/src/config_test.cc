#include <cairn/config.h>

#include <cairn/status.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cairn {
namespace {

using ::testing::HasSubstr;
using ::testing::Pair;

TEST(SiteConfig, DefaultsAreTheEmbeddedSite) {
  SiteConfig c;
  EXPECT_EQ(c.path, "./data");
  EXPECT_EQ(c.storage.plugin, "mmaplog");
  EXPECT_EQ(c.codec.plugin, "identity");
  EXPECT_EQ(c.cipher.plugin, "none");
  EXPECT_EQ(c.replication.plugin, "none");
}

TEST(SiteConfig, ParsesEverySection) {
  absl::StatusOr<SiteConfig> c = SiteConfig::Parse(R"(
# a site
[store]
path = /var/lib/cairn
plugin-dirs = /opt/a, /opt/b
[storage]
fsync = always
plugin = mmaplog
segment-size = 64MiB
[codec]
plugin = zstd
level = 3
[cipher]
plugin = aes-gcm
keyring = /etc/cairn/keys
)", "site.ini");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->path, "/var/lib/cairn");
  EXPECT_THAT(c->plugin_dirs, ::testing::ElementsAre("/opt/a", "/opt/b"));
  EXPECT_EQ(c->storage.plugin, "mmaplog");
  // An option written above "plugin =" in its section is kept.
  EXPECT_THAT(c->storage.options,
              ::testing::UnorderedElementsAre(Pair("fsync", "always"), Pair("segment-size", "64MiB")));
  EXPECT_EQ(c->codec.plugin, "zstd");
  EXPECT_EQ(c->cipher.plugin, "aes-gcm");
  EXPECT_THAT(c->cipher.options, ::testing::ElementsAre(Pair("keyring", "/etc/cairn/keys")));
}

TEST(SiteConfig, UnknownSectionIsAnErrorNamingIt) {
  absl::StatusOr<SiteConfig> c = SiteConfig::Parse("[storag]\nplugin = memory\n", "site.ini");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(CodeOf(c.status()), CAIRN_E_INVALID_ARGUMENT);
  EXPECT_THAT(c.status().message(), HasSubstr("site.ini"));
  EXPECT_THAT(c.status().message(), HasSubstr("unknown section [storag]"));
}

TEST(SiteConfig, UnknownStoreKeyIsAnErrorNamingIt) {
  absl::StatusOr<SiteConfig> c = SiteConfig::Parse("[store]\npth = /x\n", "site.ini");
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(), HasSubstr("unknown key 'pth' in section [store]"));
}

TEST(SiteConfig, KeyOutsideASectionIsAnError) {
  absl::StatusOr<SiteConfig> c = SiteConfig::Parse("path = /x\n", "site.ini");
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(), HasSubstr("'path' is outside any section"));
}

TEST(SiteConfig, DuplicateKeyIsAnError) {
  absl::StatusOr<SiteConfig> c =
      SiteConfig::Parse("[codec]\nlevel = 1\nlevel = 2\n", "site.ini");
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(), HasSubstr("'level' is given twice in [codec]"));
}

TEST(SiteConfig, MalformedLineIsAnError) {
  absl::StatusOr<SiteConfig> c = SiteConfig::Parse("[store\npath = x\n", "site.ini");
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(), HasSubstr("site.ini: not a valid INI file"));
}

// Found by site_config_fuzzer: Boost 1.74 looped forever building its
// "invalid line" message for a line holding its own "%invalid_line%" token.
TEST(SiteConfig, MalformedLineHoldingBoostsMessageTokenIsAnErrorNotAHang) {
  absl::StatusOr<SiteConfig> c =
      SiteConfig::Parse("[store]\npath = x\n[stisten %invalid_line%%invalid0.1:\n", "site.ini");
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(), HasSubstr("site.ini: not a valid INI file: line 3"));
}

TEST(SiteConfig, HostSectionsAreAcceptedOnlyWhenDeclared) {
  std::string text = "[server]\nlisten = 127.0.0.1:7700\n";
  EXPECT_FALSE(SiteConfig::Parse(text, "site.ini").ok());
  absl::StatusOr<SiteConfig> c = SiteConfig::Parse(text, "site.ini", {"server"});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->host_sections["server"]["listen"], "127.0.0.1:7700");
}

TEST(SiteConfig, OverridesWinOverTheFile) {
  absl::StatusOr<SiteConfig> c = SiteConfig::Parse("[storage]\nfsync = always\n", "site.ini");
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(c->Override("storage.fsync=never").ok());
  ASSERT_TRUE(c->Override("store.path=/tmp/x").ok());
  EXPECT_THAT(c->storage.options, ::testing::ElementsAre(Pair("fsync", "never")));
  EXPECT_EQ(c->path, "/tmp/x");
}

TEST(SiteConfig, ChangingAPluginDropsTheOldPluginsOptions) {
  SiteConfig c;
  ASSERT_TRUE(c.Override("codec.level=3").ok());
  ASSERT_TRUE(c.Override("codec.plugin=zstd").ok());
  EXPECT_TRUE(c.codec.options.empty());
}

TEST(SiteConfig, MalformedOverrideIsAnError) {
  SiteConfig c;
  absl::Status s = c.Override("fsync=never");
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.message(), HasSubstr("not of the form section.key=value"));
  EXPECT_THAT(c.Override("bogus.key=1").message(), HasSubstr("unknown section [bogus]"));
}

TEST(SiteConfig, MissingFileIsNotFound) {
  absl::StatusOr<SiteConfig> c = SiteConfig::LoadFile("/nonexistent/site.ini");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(CodeOf(c.status()), CAIRN_E_NOT_FOUND);
  EXPECT_THAT(c.status().message(), HasSubstr("/nonexistent/site.ini"));
}

// A site file in a folder of its own, loaded while the current folder is
// somewhere else: its relative paths name places beside the file.
TEST(SiteConfig, RelativePathsInASiteFileResolveAgainstItsFolder) {
  namespace fs = std::filesystem;
  const fs::path root = fs::temp_directory_path() /
                        ("cairn-config-paths-" + std::to_string(::getpid()));
  fs::remove_all(root);
  fs::create_directories(root / "etc" / "site");
  fs::create_directories(root / "elsewhere");
  {
    std::ofstream out(root / "etc" / "site" / "site.ini");
    out << "[store]\npath = ./data\nplugin-dirs = plugins, ../shared/plugins, "
           "/abs/plugins\n"
           "[cipher]\nplugin = aes-gcm\nkeyring = keys/keyring\n"
           "[tls]\ncert-file = tls/cert.pem\nmode = on\n";
  }
  const fs::path before = fs::current_path();
  fs::current_path(root / "elsewhere");
  // A relative name for the file itself: its folder is still found.
  absl::StatusOr<SiteConfig> c =
      SiteConfig::LoadFile("../etc/site/site.ini", {"tls"}, {"tls.cert-file"});
  fs::current_path(before);
  ASSERT_TRUE(c.ok()) << c.status();
  const std::string site_dir = (root / "etc" / "site").string();
  EXPECT_EQ(c->path, site_dir + "/data");
  EXPECT_THAT(
      c->plugin_dirs,
      ::testing::ElementsAre(site_dir + "/plugins",
                             (root / "etc" / "shared" / "plugins").string(),
                             "/abs/plugins"));
  // A host key named as a path is resolved; another host key is not.
  EXPECT_EQ(c->host_sections["tls"]["cert-file"], site_dir + "/tls/cert.pem");
  EXPECT_EQ(c->host_sections["tls"]["mode"], "on");
  // A plugin option keeps its text and the file's folder: only the
  // plugin's descriptor says whether it is a path (Store::Open resolves).
  EXPECT_THAT(c->cipher.options,
              ::testing::ElementsAre(Pair("keyring", "keys/keyring")));
  EXPECT_THAT(c->cipher.option_dirs,
              ::testing::ElementsAre(Pair("keyring", site_dir)));
  EXPECT_THAT(
      c->cipher.ResolvedOptions({"keyring"}),
      ::testing::ElementsAre(Pair("keyring", site_dir + "/keys/keyring")));
  EXPECT_THAT(c->cipher.ResolvedOptions({}),
              ::testing::ElementsAre(Pair("keyring", "keys/keyring")));

  // A flag or override keeps the current folder.
  ASSERT_TRUE(c->Override("store.path=rel/data").ok());
  EXPECT_EQ(c->path, "rel/data");
  ASSERT_TRUE(c->Override("cipher.keyring=other/keyring").ok());
  EXPECT_TRUE(c->cipher.option_dirs.empty());
  EXPECT_THAT(c->cipher.ResolvedOptions({"keyring"}),
              ::testing::ElementsAre(Pair("keyring", "other/keyring")));
  // Choosing another plugin drops the options and their folders.
  ASSERT_TRUE(c->Override("cipher.plugin=chacha20-poly1305").ok());
  EXPECT_TRUE(c->cipher.options.empty());
  EXPECT_TRUE(c->cipher.option_dirs.empty());
  fs::remove_all(root);
}

TEST(SiteConfig, ParsedTextWithoutAFolderKeepsRelativePaths) {
  absl::StatusOr<SiteConfig> c = SiteConfig::Parse(
      "[store]\npath = ./data\n[codec]\nplugin = zstd\ndictionary = d\n",
      "text");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->path, "./data");
  EXPECT_TRUE(c->codec.option_dirs.empty());
  EXPECT_THAT(c->codec.ResolvedOptions({"dictionary"}),
              ::testing::ElementsAre(Pair("dictionary", "d")));
}

}  // namespace
}  // namespace cairn
