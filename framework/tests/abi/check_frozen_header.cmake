# While cairn/plugin.h still says ABI 2.0, the frozen copy the growth test
# builds against must be that header verbatim: otherwise the test proves
# growth from a 2.0 that was never shipped.
#   cmake -DHEADER=<plugin.h> -DFROZEN=<cairn_plugin_2_0.h> -P check_frozen_header.cmake
file(READ "${HEADER}" header)
if(NOT header MATCHES "#define CAIRN_ABI_MAJOR 2\n#define CAIRN_ABI_MINOR 0\n")
  message(STATUS "plugin.h is past 2.0; the frozen 2.0 copy stays as it is")
  return()
endif()
file(READ "${FROZEN}" frozen)
if(NOT header STREQUAL frozen)
  message(FATAL_ERROR
    "${HEADER} (ABI 2.0) differs from its frozen copy ${FROZEN}. While 2.0 is "
    "not shipped, copy plugin.h over the frozen copy and regenerate "
    "cairn_plugin_2_1.h from it (the same file with one added_in_2_1 field at "
    "the end of every growable struct and table, and CAIRN_ABI_MINOR 1).")
endif()
message(STATUS "the frozen 2.0 header matches plugin.h")
