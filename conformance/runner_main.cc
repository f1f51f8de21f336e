// cairn-conformance: runs the conformance suite of a plugin's kind against
// one plugin file.
//
//   cairn-conformance --plugin PATH [--option key=value]...
//                     [--passthrough-cipher] [gtest flags]
//
// Exit status: 0 every test passed (skips included), 1 a test failed,
// 2 usage error or the plugin could not be loaded.
#include <cairn/plugin_registry.h>
#include <cairn/status.h>

#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "target.h"

namespace cairn::conformance {
namespace {

constexpr char kUsage[] =
    "usage: cairn-conformance --plugin PATH [--option key=value]...\n"
    "                         [--passthrough-cipher] [gtest flags]\n"
    "\n"
    "Runs the Cairn conformance suite for the plugin's kind (storage, codec,\n"
    "cipher or replication) against the plugin file PATH, loaded the way a\n"
    "host loads it.\n"
    "\n"
    "  --plugin PATH          the plugin file (libcairn-<kind>-<name>.so)\n"
    "  --option key=value     an option to open the plugin with; repeatable.\n"
    "                         A plugin that accepts 'path' gets a fresh\n"
    "                         folder per test (inside 'path' if given).\n"
    "  --passthrough-cipher   the cipher does not encrypt (like 'none'): check\n"
    "                         that seal copies, skip the AEAD checks\n"
    "  --gtest_filter=...     any GoogleTest flag, e.g. to run some tests\n"
    "\n"
    "Exit status: 0 passed, 1 a test failed, 2 usage or load error.\n";

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
               {CAIRN_CAP_EPOCHS, "epochs"}};
  std::string out;
  for (const Name& n : names) {
    if (caps & n.bit) out += (out.empty() ? "" : ", ") + std::string(n.name);
  }
  return out.empty() ? "none" : out;
}

// Prints the run's outcome and the skipped capabilities at the end.
class Summary : public ::testing::EmptyTestEventListener {
 public:
  explicit Summary(std::string plugin) : plugin_(std::move(plugin)) {}
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
                    << test->name() << "\n";
        }
      }
    }
    PrintSkipSummary(std::cout);
    std::cout << "[ CAIRN    ] " << (unit.Passed() ? "PASS" : "FAIL") << "\n";
    std::cout.flush();
  }

 private:
  std::string plugin_;
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
  std::cout << "[ CAIRN    ] " << label << " version "
            << target.plugin->version() << ", ABI " << d.abi_major << "."
            << d.abi_minor << ", from " << plugin_path << "\n"
            << "[ CAIRN    ] capabilities: "
            << CapabilityNames(d.capabilities) << "\n";
  int gtest_argc = static_cast<int>(gtest_args.size());
  gtest_args.push_back(nullptr);
  ::testing::InitGoogleTest(&gtest_argc, gtest_args.data());
  ::testing::UnitTest::GetInstance()->listeners().Append(new Summary(label));
  return RUN_ALL_TESTS() == 0 ? 0 : 1;
}

}  // namespace
}  // namespace cairn::conformance

int main(int argc, char** argv) {
  return cairn::conformance::Main(argc, argv);
}
