// Linked into every test executable by cairn_add_test(): sets the folders a
// test looks in (plugins, fixtures, binaries of this build tree) unless the
// environment already names them, so a test binary run by hand behaves as it
// does under ctest.
#include <cstdlib>

namespace {

struct TestEnvironment {
  TestEnvironment() {
    setenv("CAIRN_PLUGIN_DIR", CAIRN_TEST_PLUGIN_DIR, /*overwrite=*/0);
    setenv("CAIRN_FIXTURE_DIR", CAIRN_TEST_FIXTURE_DIR, 0);
    setenv("CAIRN_BIN_DIR", CAIRN_TEST_BIN_DIR, 0);
  }
} test_environment;

}  // namespace
