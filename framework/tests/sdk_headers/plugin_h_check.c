/* Compile test (issue #19): cairn/plugin.h builds as C99 and as C11 with
 * -Wall -Wextra -Wpedantic -Werror (framework/tests/CMakeLists.txt builds
 * this file once per standard). Compiled, not run: the build is the test. */
#include <cairn/plugin.h>

int cairn_plugin_h_check(const cairn_append_result* result);

int cairn_plugin_h_check(const cairn_append_result* result) {
  cairn_append_result copy = {0};
  copy.size = (uint32_t)sizeof(copy);
  CAIRN_SET_FIELD(cairn_append_result, &copy, last_position, 1);
  return CAIRN_HAS_FIELD(cairn_append_result, result, last_position) &&
         copy.last_position == 1;
}
