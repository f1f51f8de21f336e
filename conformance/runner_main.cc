// cairn-conformance: runs the conformance suite of a plugin's kind against
// one plugin file.
//
//   cairn-conformance --plugin PATH [--option key=value]...
//                     [--passthrough-cipher] [gtest flags]
//
// Exit status: 0 every test passed (skips included), 1 a test failed,
// 2 usage error, the plugin could not be loaded, or it refuses its options
// (all checked before any test runs).
//
// Each failure is printed as the rule it broke ("[  BROKEN  ] rule: ..."),
// then what was expected and what the plugin did; no source path.
#include <cairn/plugin_registry.h>
#include <cairn/status.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <map>
#include <string>
#include <system_error>
#include <vector>

#include <gtest/gtest.h>

#include "target.h"

namespace cairn::conformance {
namespace {

constexpr char kUsage[] =
    "usage: cairn-conformance --plugin PATH [--option key=value]...\n"
    "                         [--passthrough-cipher] [gtest flags]\n"
    "       cairn-conformance --list-rules\n"
    "\n"
    "Runs the Cairn conformance suite for the plugin's kind (storage, codec,\n"
    "cipher or replication) against the plugin file PATH, loaded the way a\n"
    "host loads it.\n"
    "\n"
    "  --plugin PATH          the plugin file (libcairn-<kind>-<name>.so)\n"
    "  --option key=value     an option to open the plugin with; repeatable.\n"
    "                         A plugin that accepts 'path' gets a fresh\n"
    "                         folder per test (inside 'path' if given).\n"
    "  --passthrough-cipher   the cipher does not encrypt (like 'none'):\n"
    "                         check that seal copies, skip the AEAD checks\n"
    "  --gtest_filter=...     any GoogleTest flag, e.g. to run some tests\n"
    "  --list-rules           print every named rule, one a line, and exit\n"
    "\n"
    "Before any test runs, the file, each option (against the plugin's\n"
    "option descriptors) and one open of the plugin with them are checked.\n"
    "Each failure names the rule it broke, what was expected and what the\n"
    "plugin did.\n"
    "\n"
    "Exit status: 0 passed, 1 a test failed, 2 usage error, the plugin does\n"
    "not load or refuses its options.\n";

std::string CapabilityNames(uint64_t caps) {
  struct Name {
    uint64_t bit;
    const char* name;
  } names[] = {{CAIRN_CAP_PERSISTENT, "persistent"},
               {CAIRN_CAP_LIVE_READS, "live-reads"},
               {CAIRN_CAP_TAGS, "tags"},
               {CAIRN_CAP_SNAPSHOTS, "snapshots"},
               {CAIRN_CAP_DELETE, "delete"},
               {CAIRN_CAP_APPLY, "apply"},
               {CAIRN_CAP_KEY_ROTATION, "key-rotation"},
               {CAIRN_CAP_MULTI_NODE, "multi-node"},
               {CAIRN_CAP_ORDERED_LOG, "ordered-log"},
               {CAIRN_CAP_HOST_COMMIT, "host-commit"},
               {CAIRN_CAP_TRUNCATE, "truncate"},
               {CAIRN_CAP_EPOCHS, "epochs"},
               {CAIRN_CAP_IDEMPOTENT_APPEND, "idempotent-append"}};
  std::string out;
  for (const Name& n : names) {
    if (caps & n.bit) out += (out.empty() ? "" : ", ") + std::string(n.name);
  }
  return out.empty() ? "none" : out;
}

// The rules each failed test broke, in the order first seen.
using RulesByTest = std::map<std::string, std::vector<std::string>>;

std::string FullName(const ::testing::TestInfo& test) {
  return std::string(test.test_suite_name()) + "." + test.name();
}

// GoogleTest's own printer, but for failures and skips: each failure is
// printed as the rule it broke, then what was expected and what the plugin
// did, with no source path (those would be the build machine's, and mean
// nothing to a plugin's author).
class RulePrinter : public ::testing::TestEventListener {
 public:
  RulePrinter(::testing::TestEventListener* gtest, RulesByTest* rules)
      : gtest_(gtest), rules_(rules) {}
  ~RulePrinter() override { delete gtest_; }

  void OnTestPartResult(const ::testing::TestPartResult& result) override {
    // Not UnitTest::current_test_info(): it takes the lock GoogleTest holds
    // while it reports a result.
    const ::testing::TestInfo* test = current_;
    const std::string message = WithoutSourcePaths(result.message());
    if (result.skipped()) {
      std::cout << "[  SKIPPED ] " << message << "\n";
      return;
    }
    if (!result.failed()) return;
    const std::string rule =
        test == nullptr
            ? RuleOf(message, "", "")
            : RuleOf(message, test->test_suite_name(), test->name());
    if (test != nullptr) {
      std::vector<std::string>& seen = (*rules_)[FullName(*test)];
      if (std::find(seen.begin(), seen.end(), rule) == seen.end()) {
        seen.push_back(rule);
      }
    }
    std::cout << "[  BROKEN  ] rule: " << rule << "\n";
    std::string indented = "             ";
    for (char c : message) {
      indented += c;
      if (c == '\n') indented += "             ";
    }
    std::cout << indented << "\n";
    std::cout.flush();
  }

  void OnTestProgramStart(const ::testing::UnitTest& u) override {
    gtest_->OnTestProgramStart(u);
  }
  void OnTestIterationStart(const ::testing::UnitTest& u, int i) override {
    gtest_->OnTestIterationStart(u, i);
  }
  void OnEnvironmentsSetUpStart(const ::testing::UnitTest& u) override {
    gtest_->OnEnvironmentsSetUpStart(u);
  }
  void OnEnvironmentsSetUpEnd(const ::testing::UnitTest& u) override {
    gtest_->OnEnvironmentsSetUpEnd(u);
  }
  void OnTestSuiteStart(const ::testing::TestSuite& s) override {
    gtest_->OnTestSuiteStart(s);
  }
  void OnTestStart(const ::testing::TestInfo& t) override {
    current_ = &t;
    gtest_->OnTestStart(t);
  }
  void OnTestDisabled(const ::testing::TestInfo& t) override {
    gtest_->OnTestDisabled(t);
  }
  void OnTestEnd(const ::testing::TestInfo& t) override {
    gtest_->OnTestEnd(t);
    current_ = nullptr;
  }
  void OnTestSuiteEnd(const ::testing::TestSuite& s) override {
    gtest_->OnTestSuiteEnd(s);
  }
  void OnEnvironmentsTearDownStart(const ::testing::UnitTest& u) override {
    gtest_->OnEnvironmentsTearDownStart(u);
  }
  void OnEnvironmentsTearDownEnd(const ::testing::UnitTest& u) override {
    gtest_->OnEnvironmentsTearDownEnd(u);
  }
  void OnTestIterationEnd(const ::testing::UnitTest& u, int i) override {
    gtest_->OnTestIterationEnd(u, i);
  }
  void OnTestProgramEnd(const ::testing::UnitTest& u) override {
    gtest_->OnTestProgramEnd(u);
  }

 private:
  ::testing::TestEventListener* gtest_;
  RulesByTest* rules_;
  const ::testing::TestInfo* current_ = nullptr;
};

// Prints the run's outcome and the skipped capabilities at the end.
class Summary : public ::testing::EmptyTestEventListener {
 public:
  Summary(std::string plugin, const RulesByTest* rules)
      : plugin_(std::move(plugin)), rules_(rules) {}
  void OnTestProgramEnd(const ::testing::UnitTest& unit) override {
    std::cout << "[ CAIRN    ] conformance of " << plugin_ << ": "
              << unit.successful_test_count() << " passed, "
              << unit.failed_test_count() << " failed, "
              << unit.skipped_test_count() << " skipped\n";
    for (int i = 0; i < unit.total_test_suite_count(); ++i) {
      const ::testing::TestSuite* suite = unit.GetTestSuite(i);
      for (int j = 0; j < suite->total_test_count(); ++j) {
        const ::testing::TestInfo* test = suite->GetTestInfo(j);
        if (test->result()->Failed()) {
          std::cout << "[ CAIRN    ]   FAILED " << suite->name() << "."
                    << test->name();
          auto rules = rules_->find(FullName(*test));
          if (rules != rules_->end()) {
            const char* separator = ": broke ";
            for (const std::string& rule : rules->second) {
              std::cout << separator << "'" << rule << "'";
              separator = ", ";
            }
          }
          std::cout << "\n";
        }
      }
    }
    PrintSkipSummary(std::cout);
    std::cout << "[ CAIRN    ] " << (unit.Passed() ? "PASS" : "FAIL") << "\n";
    std::cout.flush();
  }

 private:
  std::string plugin_;
  const RulesByTest* rules_;
};

int Main(int argc, char** argv) {
  std::string plugin_path;
  Target target;
  std::vector<char*> gtest_args = {argv[0]};
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&](const std::string& flag, std::string* out) -> bool {
      if (arg == flag) {
        if (i + 1 >= argc) {
          std::cerr << "cairn-conformance: " << flag << " needs a value\n"
                    << kUsage;
          std::exit(2);
        }
        *out = argv[++i];
        return true;
      }
      if (arg.rfind(flag + "=", 0) == 0) {
        *out = arg.substr(flag.size() + 1);
        return true;
      }
      return false;
    };
    std::string v;
    if (arg == "--help" || arg == "-h") {
      std::cout << kUsage;
      return 0;
    } else if (arg == "--list-rules") {
      // Every named rule, one a line: what a failure is printed under, and
      // what the broken fixtures are checked against (a CTest test compares
      // this list with the fixtures' rules).
      for (const char* rule : kAllRules) std::cout << rule << "\n";
      return 0;
    } else if (value("--plugin", &v)) {
      plugin_path = v;
    } else if (value("--option", &v)) {
      size_t eq = v.find('=');
      if (eq == std::string::npos || eq == 0) {
        std::cerr << "cairn-conformance: --option '" << v
                  << "' is not key=value\n";
        return 2;
      }
      target.options.emplace_back(v.substr(0, eq), v.substr(eq + 1));
    } else if (arg == "--passthrough-cipher") {
      target.passthrough_cipher = true;
    } else if (arg.rfind("--gtest_", 0) == 0) {
      gtest_args.push_back(argv[i]);
    } else {
      std::cerr << "cairn-conformance: unknown argument '" << arg << "'\n"
                << kUsage;
      return 2;
    }
  }
  if (plugin_path.empty()) {
    std::cerr << "cairn-conformance: --plugin PATH is required\n" << kUsage;
    return 2;
  }
  // Everything the command line names is checked before the suite runs:
  // the file, then (once loaded) each option against the plugin's
  // descriptors, then one open with those options.
  std::error_code ec;
  if (!std::filesystem::is_regular_file(plugin_path, ec)) {
    std::cerr << "cairn-conformance: --plugin " << plugin_path << ": "
              << (std::filesystem::exists(plugin_path, ec)
                      ? "not a regular file"
                      : "no such file")
              << "\n";
    return 2;
  }
  PluginRegistry registry;
  absl::StatusOr<PluginPtr> plugin = registry.LoadFile(plugin_path);
  if (!plugin.ok()) {
    std::cerr << "cairn-conformance: cannot load the plugin: "
              << plugin.status().message() << "\n";
    return 2;
  }
  target.path = plugin_path;
  target.plugin = *plugin;
  const cairn_plugin_descriptor& d = target.plugin->descriptor();
  std::string label = std::string(KindName(target.plugin->kind())) +
                      " plugin '" + target.plugin->name() + "'";
  absl::Status added = AddTarget(target);
  if (!added.ok()) {
    std::cerr << "cairn-conformance: " << added.message() << "\n";
    return 2;
  }
  if (absl::Status opened = TrialOpen(target); !opened.ok()) {
    std::cerr << "cairn-conformance: " << opened.message()
              << "\n(no test was run: fix the options, or the plugin's open)\n";
    return 2;
  }
  std::cout << "[ CAIRN    ] " << label << " version "
            << target.plugin->version() << ", ABI " << d.abi_major << "."
            << d.abi_minor << ", from " << plugin_path << "\n"
            << "[ CAIRN    ] capabilities: "
            << CapabilityNames(d.capabilities) << "\n";
  int gtest_argc = static_cast<int>(gtest_args.size());
  gtest_args.push_back(nullptr);
  ::testing::InitGoogleTest(&gtest_argc, gtest_args.data());
  // Every test checks a rule of its own (CAIRN_TEST_P), so that no failure
  // prints without one: a suite in which a test has none is not run.
  std::vector<std::string> unruled;
  const ::testing::UnitTest& unit = *::testing::UnitTest::GetInstance();
  for (int i = 0; i < unit.total_test_suite_count(); ++i) {
    const ::testing::TestSuite* suite = unit.GetTestSuite(i);
    for (int j = 0; j < suite->total_test_count(); ++j) {
      const ::testing::TestInfo* test = suite->GetTestInfo(j);
      if (TestRule(test->test_suite_name(), test->name()) == nullptr) {
        unruled.push_back(FullName(*test));
      }
    }
  }
  if (!unruled.empty()) {
    std::cerr << "cairn-conformance: the suite gives these tests no rule "
                 "(declare them with CAIRN_TEST_P):\n";
    for (const std::string& name : unruled) std::cerr << "  " << name << "\n";
    return 2;
  }
  static RulesByTest rules;
  ::testing::TestEventListeners& listeners =
      ::testing::UnitTest::GetInstance()->listeners();
  if (::testing::TestEventListener* gtest =
          listeners.Release(listeners.default_result_printer())) {
    listeners.Append(new RulePrinter(gtest, &rules));
  }
  listeners.Append(new Summary(label, &rules));
  return RUN_ALL_TESTS() == 0 ? 0 : 1;
}

}  // namespace
}  // namespace cairn::conformance

int main(int argc, char** argv) {
  return cairn::conformance::Main(argc, argv);
}
