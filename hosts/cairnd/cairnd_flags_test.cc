// Runs the built cairnd with bad flags, flag values and site files as a user
// would: the exit code of the one table (cairn/exit_code.h) and a message
// naming what was wrong. Also: cairnd finds plugin files by the search
// order every host uses (cairn/plugin_search.h). None of these runs gets
// as far as serving.
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "cairn/exit_code.h"
#include "run_program.h"

namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;

using Result = cairn::testing::ProgramResult;

class CairndFlagsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cairnd_ = cairn::testing::BuiltProgram("cairnd");
    ASSERT_TRUE(fs::exists(cairnd_))
        << "no cairnd in $CAIRN_BIN_DIR (run through ctest)";
    const char* fixtures = std::getenv("CAIRN_FIXTURE_DIR");
    ASSERT_NE(fixtures, nullptr);
    loader_fixtures_ = fs::path(fixtures) / "loader";
    dir_ = fs::temp_directory_path() /
           ("cairnd-flags-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Runs cairnd in dir_, with $CAIRN_PLUGIN_DIR set to `plugin_env` or
  // unset when it is empty.
  Result Run(const std::vector<std::string>& args,
             const std::string& plugin_env = "") {
    std::optional<std::string> env;
    if (!plugin_env.empty()) env = plugin_env;
    return cairn::testing::RunProgram(cairnd_, args, dir_, "",
                                      {{"CAIRN_PLUGIN_DIR", env}});
  }

  // Flags that keep a run that does get past its settings off the network
  // and away from ./data.
  std::vector<std::string> Quiet(std::vector<std::string> args) const {
    std::vector<std::string> all = {"--data",      (dir_ / "store").string(),
                                    "--port",      "0",
                                    "--http-port", "off"};
    all.insert(all.end(), args.begin(), args.end());
    return all;
  }

  fs::path cairnd_;
  fs::path loader_fixtures_;
  fs::path dir_;
};

TEST_F(CairndFlagsTest, AnUnknownLogLevelIsAUsageErrorNamingTheLevels) {
  Result r = Run(Quiet({"--log-level", "loud"}));
  EXPECT_EQ(r.code, cairn::kExitUsage) << r.err;
  EXPECT_THAT(r.err, HasSubstr("'loud'"));
  EXPECT_THAT(r.err, HasSubstr("debug | info | warn | error"));
  EXPECT_FALSE(fs::exists(dir_ / "store")) << "nothing may be opened";
}

TEST_F(CairndFlagsTest, BadFlagValuesAreUsageErrorsNamingTheKey) {
  struct Case {
    std::vector<std::string> args;
    std::string names;
  };
  for (const Case& c : std::vector<Case>{
           {{"--port", "seventy"}, "[server] port"},
           {{"--port", "70000"}, "[server] port"},
           {{"--io-threads", "0"}, "[server] io-threads"},
           {{"--workers=-3"}, "[server] workers"},
           {{"--listen", "not-an-address"}, "[server] listen"},
           {{"--http-port", "maybe"}, "[http] port"},
           {{"--tls-mode", "sometimes"}, "[tls] mode"},
           {{"--set", "limits.max-frame=4kb"}, "ambiguous"},
           {{"--set", "nonsense"}, "section.key=value"},
       }) {
    // Each fails on its settings, before anything opens or listens.
    std::vector<std::string> args = {"--data", (dir_ / "store").string()};
    args.insert(args.end(), c.args.begin(), c.args.end());
    Result r = Run(args);
    EXPECT_EQ(r.code, cairn::kExitUsage) << c.args.back() << ": " << r.err;
    EXPECT_THAT(r.err, HasSubstr(c.names)) << c.args.back();
    EXPECT_FALSE(fs::exists(dir_ / "store"))
        << c.args.back() << ": nothing may be opened";
  }
}

TEST_F(CairndFlagsTest, UnknownFlagsAndMissingValuesAreUsageErrors) {
  Result r = Run({"--bogus"});
  EXPECT_EQ(r.code, cairn::kExitUsage);
  EXPECT_THAT(r.err, HasSubstr("bogus"));
  r = Run({"--port"});
  EXPECT_EQ(r.code, cairn::kExitUsage);
  EXPECT_THAT(r.err, HasSubstr("port"));
}

TEST_F(CairndFlagsTest, AMissingSiteFileIsAUsageError) {
  Result r = Run({"--config", (dir_ / "absent.ini").string()});
  EXPECT_EQ(r.code, cairn::kExitUsage) << r.err;
  EXPECT_THAT(r.err, HasSubstr("absent.ini"));
}

TEST_F(CairndFlagsTest, AStoreThatCannotOpenIsADataError) {
  Result r = Run(Quiet({"--storage", "no-such-storage"}));
  EXPECT_EQ(r.code, cairn::kExitDataError) << r.err;
  EXPECT_THAT(r.err, HasSubstr("no-such-storage"));
}

TEST_F(CairndFlagsTest, HelpListsTheExitCodes) {
  Result r = Run({"--help"});
  EXPECT_EQ(r.code, cairn::kExitOk);
  EXPECT_THAT(r.out, HasSubstr("Exit codes: 0"));
  EXPECT_THAT(r.out, HasSubstr("--plugin-dir"));
}

// The loader fixture "good" is a codec plugin file (good.so) that no host
// has built in. With an option it does not accept, the store refuses to
// open naming that option only if the file was found; otherwise it says no
// codec plugin of that name exists.
std::vector<std::string> FixtureCodec() {
  return {"--set", "codec.plugin=good", "--set", "codec.nope=1"};
}

TEST_F(CairndFlagsTest, WithoutASearchFolderTheFixtureIsNotFound) {
  Result r = Run(Quiet(FixtureCodec()));
  EXPECT_EQ(r.code, cairn::kExitDataError) << r.err;
  EXPECT_THAT(r.err, HasSubstr("no codec plugin named 'good'"));
}

TEST_F(CairndFlagsTest, FindsPluginsThroughCairnPluginDir) {
  Result r = Run(Quiet(FixtureCodec()), loader_fixtures_.string());
  EXPECT_EQ(r.code, cairn::kExitDataError) << r.err;
  EXPECT_THAT(r.err,
              HasSubstr("'nope' is not an option of codec plugin 'good'"));
}

TEST_F(CairndFlagsTest, FindsPluginsThroughThePluginDirFlag) {
  std::vector<std::string> args = Quiet(FixtureCodec());
  args.push_back("--plugin-dir");
  args.push_back(loader_fixtures_.string());
  Result r = Run(args);
  EXPECT_EQ(r.code, cairn::kExitDataError) << r.err;
  EXPECT_THAT(r.err,
              HasSubstr("'nope' is not an option of codec plugin 'good'"));
}

// The JSON lines of cairnd's log that carry "plugin": `plugin`.
std::vector<nlohmann::json> LinesOfPlugin(const std::string& log,
                                          const std::string& plugin) {
  std::vector<nlohmann::json> lines;
  std::istringstream in(log);
  for (std::string line; std::getline(in, line);) {
    nlohmann::json object = nlohmann::json::parse(line, nullptr, false);
    EXPECT_FALSE(object.is_discarded()) << "not a JSON line: " << line;
    if (object.is_object() && object.value("plugin", "") == plugin) {
      lines.push_back(std::move(object));
    }
  }
  return lines;
}

// The fixture `logs` logs a warning when it is loaded (its entry); cairnd's
// own JSON logger carries it, with time, level, msg and the plugin's name,
// and --log-level applies to it as to cairnd's own lines.
TEST_F(CairndFlagsTest, APluginsLogLinesAreInCairndsJsonLogWithItsName) {
  const std::vector<std::string> logs_codec = {"--set", "codec.plugin=logs",
                                               "--set", "codec.nope=1"};
  Result r = Run(Quiet(logs_codec), loader_fixtures_.string());
  EXPECT_EQ(r.code, cairn::kExitDataError) << r.err;
  const std::vector<nlohmann::json> lines = LinesOfPlugin(r.err, "logs");
  ASSERT_EQ(lines.size(), 1u) << r.err;
  EXPECT_EQ(lines[0].value("level", ""), "warning") << r.err;
  EXPECT_EQ(lines[0].value("msg", ""), "fixture: \"entered\"") << r.err;
  EXPECT_TRUE(lines[0].contains("time")) << r.err;

  std::vector<std::string> quiet = Quiet(logs_codec);
  quiet.push_back("--log-level");
  quiet.push_back("error");
  Result q = Run(quiet, loader_fixtures_.string());
  EXPECT_EQ(q.code, cairn::kExitDataError) << q.err;
  EXPECT_TRUE(LinesOfPlugin(q.err, "logs").empty()) << q.err;
}

// [store] plugin-dirs, relative: taken from the site file's folder.
TEST_F(CairndFlagsTest, FindsPluginsThroughTheSiteFileRelativeToIt) {
  fs::create_directories(dir_ / "site");
  fs::create_symlink(loader_fixtures_, dir_ / "site" / "plugins");
  std::ofstream(dir_ / "site" / "cairnd.ini")
      << "[store]\nplugin-dirs = plugins\n";
  std::vector<std::string> args = Quiet(FixtureCodec());
  args.push_back("--config");
  args.push_back((dir_ / "site" / "cairnd.ini").string());
  Result r = Run(args);
  EXPECT_EQ(r.code, cairn::kExitDataError) << r.err;
  EXPECT_THAT(r.err,
              HasSubstr("'nope' is not an option of codec plugin 'good'"));
}

TEST_F(CairndFlagsTest, AMissingPluginFolderIsAUsageErrorNamingIt) {
  Result r = Run(Quiet({"--plugin-dir", (dir_ / "nowhere").string()}));
  EXPECT_EQ(r.code, cairn::kExitUsage) << r.err;
  EXPECT_THAT(r.err, HasSubstr("nowhere"));
  r = Run(Quiet({}), (dir_ / "gone").string());
  EXPECT_EQ(r.code, cairn::kExitUsage) << r.err;
  EXPECT_THAT(r.err, HasSubstr("$CAIRN_PLUGIN_DIR"));
}

// A relative [tls] cert-file names a file beside the site file, not in
// the current folder: the start-up error names the resolved path.
TEST_F(CairndFlagsTest, TlsFilesInASiteFileResolveAgainstItsFolder) {
  fs::create_directories(dir_ / "etc");
  std::ofstream(dir_ / "etc" / "cairnd.ini")
      << "[tls]\nmode = on\ncert-file = tls/server.pem\nkey-file = "
         "tls/server.key\n";
  std::vector<std::string> args =
      Quiet({"--config", (dir_ / "etc" / "cairnd.ini").string()});
  Result r = Run(args);
  EXPECT_EQ(r.code, cairn::kExitDataError) << r.err;
  EXPECT_THAT(r.err, HasSubstr((dir_ / "etc" / "tls" / "server.").string()));
}

}  // namespace
