// Help and docs from one source: what `cairn --help`, `cairn COMMAND --help`
// and `cairnd --help` print must be what docs/cli.md and docs/server.md say,
// and the reverse. Runs the built binaries and reads the docs of the source
// tree; a failure names the flag, command, usage line or exit code that is
// in one and not the other.
//
// The rules:
//   - the commands of `cairn --help` are the "### `cairn COMMAND ...`"
//     headings of docs/cli.md;
//   - each heading's text is exactly the command's help usage line;
//   - each flag (long and short) of a command's help is in that command's
//     section of docs/cli.md, or is a store flag (listed by `cairn --help`)
//     in the "Store flags" section; each flag in a command's section is in
//     its help or is a store flag;
//   - the flags of `cairn --help` are those of the "Store flags" section;
//   - the exit codes of `cairn --help`, of every command's help and of
//     `cairnd --help` are the rows of docs/cli.md's "Exit codes" table, the
//     one table every host uses; docs/server.md points to it;
//   - the flags of `cairnd --help` are those of docs/server.md's
//     "Configuration" section, and its usage line is in docs/server.md.
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "run_program.h"

namespace {

namespace fs = std::filesystem;

std::string Slurp(const fs::path& path) {
  std::ifstream file(path);
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

// Runs `program args...` in a scratch folder and returns its stdout.
std::string Output(const fs::path& program, std::vector<std::string> args) {
  const fs::path dir = fs::temp_directory_path() /
                       ("cairn-help-docs-" + std::to_string(getpid()));
  fs::create_directories(dir);
  std::string out =
      cairn::testing::RunProgram(program, std::move(args), dir).out;
  fs::remove_all(dir);
  return out;
}

// Every match of group 1 of `pattern` in `text`.
std::set<std::string> All(const std::string& text, const std::string& pattern) {
  std::set<std::string> found;
  const std::regex re(pattern);
  for (auto it = std::sregex_iterator(text.begin(), text.end(), re);
       it != std::sregex_iterator(); ++it) {
    found.insert((*it)[1].str());
  }
  return found;
}

// The flags in a help text: Boost's option lines ("  -o [ --output ] FILE",
// "  --max N") and the flags named in the text itself.
std::set<std::string> HelpFlags(const std::string& help) {
  std::set<std::string> flags =
      All(help, R"((?:^|[\s\[,'(])(--[a-z][a-z0-9-]*))");
  for (const std::string& s : All(help, R"((?:^|\n)\s+(-[a-zA-Z])\s)"))
    flags.insert(s);
  flags.erase("--help");
  flags.erase("-h");
  return flags;
}

// The flags written in docs text: inside `code`, --long and -x forms. Code
// that starts with `skip` ("cairn " in docs/server.md) is another
// program's and is left out.
std::set<std::string> DocFlags(const std::string& text,
                               const std::string& skip = "") {
  std::set<std::string> flags;
  for (const std::string& code : All(text, "`([^`]+)`")) {
    if (!skip.empty() && code.rfind(skip, 0) == 0) continue;
    for (const std::string& f :
         All(code, R"((?:^|[\s\[|(])(--[a-z][a-z0-9-]*))"))
      flags.insert(f);
    for (const std::string& f :
         All(code, R"((?:^|[\s\[|(])(-[a-zA-Z])(?:$|[\s\]|),]))")) {
      flags.insert(f);
    }
  }
  flags.erase("--help");
  flags.erase("-h");
  return flags;
}

// The exit codes a help text lists after "Exit codes:".
std::set<std::string> HelpExitCodes(const std::string& help) {
  size_t at = help.find("Exit codes:");
  if (at == std::string::npos) return {};
  size_t end = help.find("\n\n", at);
  std::string part =
      help.substr(at, end == std::string::npos ? std::string::npos : end - at);
  part = part.substr(0, part.find("See "));
  return All(part, R"((?:^|[\s,:])([0-9])\b)");
}

// The text of the section of `doc` that starts at the heading line
// beginning with `heading`, up to the next heading of that level or above.
std::string Section(const std::string& doc, const std::string& heading) {
  size_t start = doc.find("\n" + heading);
  if (start == std::string::npos) return "";
  const size_t level = heading.find_first_not_of('#');
  size_t end = start + 1;
  while (true) {
    end = doc.find("\n#", end + 1);
    if (end == std::string::npos) break;
    size_t hashes = doc.find_first_not_of('#', end + 1) - (end + 1);
    if (hashes <= level && doc[end + 1 + hashes] == ' ') break;
  }
  return doc.substr(start + 1, end == std::string::npos ? std::string::npos
                                                        : end - start - 1);
}

std::string Join(const std::set<std::string>& items) {
  std::string out;
  for (const std::string& item : items) out += (out.empty() ? "" : " ") + item;
  return out;
}

// Items of `a` not in `b`.
std::set<std::string> Minus(const std::set<std::string>& a,
                            const std::set<std::string>& b) {
  std::set<std::string> out;
  for (const std::string& item : a) {
    if (!b.count(item)) out.insert(item);
  }
  return out;
}

class HelpDocsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cairn_ = cairn::testing::BuiltProgram("cairn");
    cairnd_ = cairn::testing::BuiltProgram("cairnd");
    ASSERT_TRUE(fs::exists(cairn_) && fs::exists(cairnd_))
        << "run through ctest";
    cli_md_ = Slurp(fs::path(CAIRN_SOURCE_DIR) / "docs" / "cli.md");
    server_md_ = Slurp(fs::path(CAIRN_SOURCE_DIR) / "docs" / "server.md");
    ASSERT_FALSE(cli_md_.empty());
    ASSERT_FALSE(server_md_.empty());
    help_ = Output(cairn_, {"--help"});
    ASSERT_THAT(help_, ::testing::HasSubstr("Commands:"));
    size_t list = help_.find("Commands:\n");
    std::string commands = help_.substr(list, help_.find("\n\n", list) - list);
    commands_ = All(commands, R"(\n  ([a-z][a-z-]*) )");
    ASSERT_FALSE(commands_.empty());
    store_flags_ = HelpFlags(help_.substr(help_.find("Store flags:")));
    ASSERT_TRUE(store_flags_.count("--data"));
  }

  // "### `cairn COMMAND ...`" headings: command -> heading text.
  std::map<std::string, std::string> DocCommands() const {
    std::map<std::string, std::string> out;
    const std::regex re("\n### `(cairn ([a-z][a-z-]*)[^`]*)`");
    for (auto it = std::sregex_iterator(cli_md_.begin(), cli_md_.end(), re);
         it != std::sregex_iterator(); ++it) {
      out[(*it)[2].str()] = (*it)[1].str();
    }
    return out;
  }

  fs::path cairn_, cairnd_;
  std::string cli_md_, server_md_, help_;
  std::set<std::string> commands_, store_flags_;
};

TEST_F(HelpDocsTest, EveryCommandInTheHelpIsDocumentedAndNoOther) {
  std::set<std::string> documented;
  for (const auto& [command, heading] : DocCommands())
    documented.insert(command);
  EXPECT_EQ(Join(Minus(commands_, documented)), "")
      << "in 'cairn --help', not in docs/cli.md";
  EXPECT_EQ(Join(Minus(documented, commands_)), "")
      << "in docs/cli.md, not in 'cairn --help'";
}

TEST_F(HelpDocsTest, EachCommandsHeadingIsItsUsageLine) {
  for (const auto& [command, heading] : DocCommands()) {
    if (!commands_.count(command) || command == "bench") continue;
    const std::string help = Output(cairn_, {command, "--help"});
    const std::string usage = help.substr(0, help.find('\n'));
    EXPECT_EQ("usage: " + heading, usage)
        << "docs/cli.md heading vs 'cairn " << command << " --help'";
  }
}

TEST_F(HelpDocsTest, EachCommandsFlagsAreInItsSectionAndTheReverse) {
  const std::set<std::string> store_section =
      DocFlags(Section(cli_md_, "## Store flags"));
  for (const auto& [command, heading] : DocCommands()) {
    // `bench` passes its arguments to cairn-bench (docs/benchmarks.md).
    if (!commands_.count(command) || command == "bench") continue;
    const std::string section = Section(cli_md_, "### `" + heading + "`");
    const std::set<std::string> documented = DocFlags(section);
    const std::set<std::string> helped =
        HelpFlags(Output(cairn_, {command, "--help"}));
    std::set<std::string> missing;
    for (const std::string& flag : helped) {
      const bool store_flag =
          store_flags_.count(flag) && store_section.count(flag);
      if (!documented.count(flag) && !store_flag) missing.insert(flag);
    }
    EXPECT_EQ(Join(missing), "") << "in 'cairn " << command
                                 << " --help', not in its docs/cli.md section";
    std::set<std::string> extra;
    for (const std::string& flag : documented) {
      if (!helped.count(flag) && !store_flags_.count(flag)) extra.insert(flag);
    }
    EXPECT_EQ(Join(extra), "") << "in the docs/cli.md section of " << command
                               << ", not in 'cairn " << command << " --help'";
  }
}

TEST_F(HelpDocsTest, TheStoreFlagsAreTheStoreFlagsSection) {
  const std::set<std::string> documented =
      DocFlags(Section(cli_md_, "## Store flags"));
  EXPECT_EQ(Join(Minus(store_flags_, documented)), "")
      << "in 'cairn --help', not in docs/cli.md 'Store flags'";
  EXPECT_EQ(Join(Minus(documented, store_flags_)), "")
      << "in docs/cli.md 'Store flags', not in 'cairn --help'";
}

TEST_F(HelpDocsTest, EveryHelpListsTheOneExitCodeTable) {
  const std::set<std::string> table =
      All(Section(cli_md_, "## Exit codes"), R"(\n\| ([0-9]) \|)");
  ASSERT_FALSE(table.empty());
  EXPECT_EQ(Join(HelpExitCodes(help_)), Join(table))
      << "'cairn --help' vs docs/cli.md";
  for (const std::string& command : commands_) {
    if (command == "bench") continue;
    EXPECT_EQ(Join(HelpExitCodes(Output(cairn_, {command, "--help"}))),
              Join(table))
        << "'cairn " << command << " --help' vs docs/cli.md";
  }
  const std::set<std::string> cairnd =
      HelpExitCodes(Output(cairnd_, {"--help"}));
  ASSERT_FALSE(cairnd.empty()) << "'cairnd --help' lists no exit codes";
  EXPECT_EQ(Join(Minus(cairnd, table)), "")
      << "in 'cairnd --help', not in docs/cli.md's table";
  EXPECT_NE(server_md_.find("docs/cli.md, \"Exit codes\""), std::string::npos)
      << "docs/server.md must point to the one table (docs/cli.md, \"Exit "
         "codes\")";
}

TEST_F(HelpDocsTest, CairndFlagsAreTheConfigurationSectionAndTheReverse) {
  const std::string help = Output(cairnd_, {"--help"});
  const std::set<std::string> helped = HelpFlags(help);
  ASSERT_TRUE(helped.count("--config"));
  const std::set<std::string> documented =
      DocFlags(Section(server_md_, "## Configuration"), "cairn ");
  EXPECT_EQ(Join(Minus(helped, documented)), "")
      << "in 'cairnd --help', not in docs/server.md 'Configuration'";
  EXPECT_EQ(Join(Minus(documented, helped)), "")
      << "in docs/server.md 'Configuration', not in 'cairnd --help'";
  const std::string usage = help.substr(0, help.find('\n'));
  ASSERT_EQ(usage.rfind("usage: ", 0), 0u) << usage;
  EXPECT_NE(server_md_.find("\n" + usage.substr(7) + "\n"), std::string::npos)
      << "docs/server.md does not show cairnd's usage line: "
      << usage.substr(7);
}

}  // namespace
