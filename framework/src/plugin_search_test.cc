#include <cairn/plugin_search.h>

#include <cairn/plugin_registry.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <unistd.h>
#include <vector>

namespace cairn {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// A fresh folder with sub-folders a, b, c, ... for one test.
class PluginSearchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() /
            ("cairn-plugin-search-" + std::to_string(::getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    for (const char* name :
         {"flag", "env1", "env2", "site", "install", "tree"}) {
      fs::create_directories(root_ / name);
    }
  }
  void TearDown() override { fs::remove_all(root_); }
  std::string Dir(const char* name) const { return (root_ / name).string(); }

  PluginSearchInputs Inputs() const {
    PluginSearchInputs in;
    in.flag_dirs = {Dir("flag")};
    in.environment = nullptr;
    in.read_environment = false;
    in.site_dirs = {Dir("site")};
    in.install_dir = Dir("install");
    in.build_tree_dir = Dir("tree");
    return in;
  }

  fs::path root_;
};

std::vector<std::string> Paths(const std::vector<PluginDir>& dirs) {
  std::vector<std::string> paths;
  for (const PluginDir& d : dirs) paths.push_back(d.path);
  return paths;
}

TEST_F(PluginSearchTest, FlagThenEnvironmentThenSiteThenInstallThenBuildTree) {
  PluginSearchInputs in = Inputs();
  const std::string env = Dir("env1") + ":" + Dir("env2");
  in.environment = env.c_str();
  auto dirs = PluginSearchDirs(in);
  ASSERT_TRUE(dirs.ok()) << dirs.status();
  EXPECT_THAT(Paths(*dirs),
              ElementsAre(Dir("flag"), Dir("env1"), Dir("env2"), Dir("site"),
                          Dir("install"), Dir("tree")));
  ASSERT_EQ(dirs->size(), 6u);
  EXPECT_EQ((*dirs)[0].source, PluginDirSource::kFlag);
  EXPECT_EQ((*dirs)[1].source, PluginDirSource::kEnvironment);
  EXPECT_EQ((*dirs)[3].source, PluginDirSource::kSiteFile);
  EXPECT_EQ((*dirs)[4].source, PluginDirSource::kInstall);
  EXPECT_EQ((*dirs)[5].source, PluginDirSource::kBuildTree);
}

TEST_F(PluginSearchTest, SiteFoldersDoNotHideTheInstalledOnes) {
  PluginSearchInputs in = Inputs();
  in.flag_dirs.clear();
  auto paths = PluginSearchPaths(in);
  ASSERT_TRUE(paths.ok()) << paths.status();
  EXPECT_THAT(*paths, ElementsAre(Dir("site"), Dir("install"), Dir("tree")));
}

TEST_F(PluginSearchTest, AFolderIsListedOnceWhereItFirstAppears) {
  PluginSearchInputs in = Inputs();
  in.site_dirs = {Dir("install"), Dir("flag")};
  auto dirs = PluginSearchDirs(in);
  ASSERT_TRUE(dirs.ok()) << dirs.status();
  EXPECT_THAT(Paths(*dirs),
              ElementsAre(Dir("flag"), Dir("install"), Dir("tree")));
  EXPECT_EQ((*dirs)[1].source, PluginDirSource::kSiteFile);
}

TEST_F(PluginSearchTest, ReadsCairnPluginDirFromTheEnvironment) {
  PluginSearchInputs in = Inputs();
  in.read_environment = true;
  const std::string env = Dir("env2") + "::" + Dir("env1");
  ASSERT_EQ(::setenv("CAIRN_PLUGIN_DIR", env.c_str(), 1), 0);
  auto dirs = PluginSearchDirs(in);
  ::unsetenv("CAIRN_PLUGIN_DIR");
  ASSERT_TRUE(dirs.ok()) << dirs.status();
  EXPECT_THAT(Paths(*dirs),
              ElementsAre(Dir("flag"), Dir("env2"), Dir("env1"), Dir("site"),
                          Dir("install"), Dir("tree")));
}

TEST_F(PluginSearchTest, AMissingFolderTheUserNamedIsAnErrorNamingIt) {
  {
    PluginSearchInputs in = Inputs();
    in.flag_dirs = {Dir("nope")};
    auto dirs = PluginSearchDirs(in);
    ASSERT_FALSE(dirs.ok());
    EXPECT_THAT(dirs.status().message(), HasSubstr("--plugin-dir"));
    EXPECT_THAT(dirs.status().message(), HasSubstr(Dir("nope")));
  }
  {
    PluginSearchInputs in = Inputs();
    const std::string env = Dir("env1") + ":" + Dir("gone");
    in.environment = env.c_str();
    auto dirs = PluginSearchDirs(in);
    ASSERT_FALSE(dirs.ok());
    EXPECT_THAT(dirs.status().message(), HasSubstr("$CAIRN_PLUGIN_DIR"));
    EXPECT_THAT(dirs.status().message(), HasSubstr(Dir("gone")));
  }
  {
    PluginSearchInputs in = Inputs();
    in.site_dirs = {Dir("missing")};
    auto dirs = PluginSearchDirs(in);
    ASSERT_FALSE(dirs.ok());
    EXPECT_THAT(dirs.status().message(), HasSubstr("[store] plugin-dirs"));
    EXPECT_THAT(dirs.status().message(), HasSubstr(Dir("missing")));
  }
}

TEST_F(PluginSearchTest, MissingInstallAndBuildTreeFoldersAreSkipped) {
  PluginSearchInputs in = Inputs();
  in.install_dir = Dir("no-install");
  in.build_tree_dir = Dir("no-tree");
  auto paths = PluginSearchPaths(in);
  ASSERT_TRUE(paths.ok()) << paths.status();
  EXPECT_THAT(*paths, ElementsAre(Dir("flag"), Dir("site")));
}

// An install made with `cmake --install --prefix A` and then moved to B:
// its binaries (B/bin) and libraries (B/<libdir>) find B's plugin folder,
// not the one configured at build time.
TEST_F(PluginSearchTest, AMovedInstallFindsItsOwnPluginFolder) {
  const fs::path moved = root_ / "moved";
  const fs::path plugins = moved / CAIRN_INSTALL_PLUGIN_SUBDIR;
  fs::create_directories(plugins);
  fs::create_directories(moved / CAIRN_INSTALL_BINDIR);
  EXPECT_EQ(InstallPluginDir((moved / CAIRN_INSTALL_BINDIR / "cairn").string()),
            plugins.string());
  EXPECT_EQ(InstallPluginDir(
                (moved / CAIRN_INSTALL_LIBDIR / "libcairn-c.so.1").string()),
            plugins.string());

  PluginSearchInputs in = Inputs();
  in.install_dir.clear();
  in.self_path = (moved / CAIRN_INSTALL_BINDIR / "cairn").string();
  auto dirs = PluginSearchDirs(in);
  ASSERT_TRUE(dirs.ok()) << dirs.status();
  EXPECT_THAT(Paths(*dirs), ElementsAre(Dir("flag"), Dir("site"),
                                        plugins.string(), Dir("tree")));
  EXPECT_EQ((*dirs)[2].source, PluginDirSource::kInstall);
}

TEST_F(PluginSearchTest, OutsideAnInstallTheConfiguredFolderIsStepFour) {
  // A binary not in an install's bindir (a build tree's is, but holds no
  // <libdir>/cairn/plugins) gets the folder configured at build time.
  const std::string self = (root_ / "elsewhere" / "cairn").string();
  EXPECT_EQ(InstallPluginDir(self), CAIRN_INSTALL_PLUGIN_DIR_FOR_TEST);
  const std::string in_tree = (root_ / CAIRN_INSTALL_BINDIR / "cairn").string();
  EXPECT_EQ(InstallPluginDir(in_tree), CAIRN_INSTALL_PLUGIN_DIR_FOR_TEST);
}

TEST_F(PluginSearchTest, AbsentDefaultFoldersAreListedWithTheirStep) {
  PluginSearchInputs in = Inputs();
  in.install_dir = Dir("no-install");
  in.build_tree_dir = Dir("tree");
  std::vector<PluginDir> absent = AbsentDefaultPluginDirs(in);
  ASSERT_EQ(absent.size(), 1u);
  EXPECT_EQ(absent[0].path, Dir("no-install"));
  EXPECT_EQ(absent[0].source, PluginDirSource::kInstall);
}

TEST_F(PluginSearchTest, APluginNotFoundNamesEveryFolderTried) {
  PluginRegistry registry;
  registry.AddSearchDir(Dir("flag"));
  registry.AddSearchDir(Dir("site"));
  auto plugin = registry.Find(CAIRN_KIND_STORAGE, "lmdbstore");
  ASSERT_FALSE(plugin.ok());
  const std::string message(plugin.status().message());
  EXPECT_THAT(message, HasSubstr("no storage plugin named 'lmdbstore'"));
  EXPECT_THAT(message, HasSubstr("libcairn-storage-lmdbstore.so"));
  EXPECT_THAT(message, HasSubstr("plugin folders searched: " + Dir("flag") +
                                 ", " + Dir("site")));
  for (const PluginDir& d : AbsentDefaultPluginDirs()) {
    EXPECT_THAT(message, HasSubstr(d.path)) << "an absent default folder";
  }
}

TEST(PluginSearchDefaults, TheBuildTreeFolderIsBesideThisBinary) {
  // Tests run from build/<preset>/bin; the plugins are in
  // build/<preset>/plugins, which is also CAIRN_TEST_PLUGIN_DIR.
  PluginSearchInputs in;
  in.read_environment = false;
  auto dirs = PluginSearchDirs(in);
  ASSERT_TRUE(dirs.ok()) << dirs.status();
  bool found = false;
  for (const PluginDir& d : *dirs) {
    if (d.source == PluginDirSource::kBuildTree) {
      found = true;
      EXPECT_EQ(fs::canonical(d.path), fs::canonical(CAIRN_TEST_PLUGIN_DIR));
    }
  }
  EXPECT_TRUE(found);
}

}  // namespace
}  // namespace cairn
