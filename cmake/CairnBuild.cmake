# Build helpers shared by every folder of the tree.

set(CAIRN_SANITIZE "" CACHE STRING "Sanitizers: address,undefined or thread")
if(CAIRN_SANITIZE)
  add_compile_options(-fsanitize=${CAIRN_SANITIZE} -fno-omit-frame-pointer)
  add_link_options(-fsanitize=${CAIRN_SANITIZE})
  if(CAIRN_SANITIZE MATCHES "undefined")
    add_compile_options(-fno-sanitize-recover=undefined)
  endif()
endif()

# Our warnings, on our code only (not on generated protobuf code). They are
# errors only when CAIRN_WERROR is on: the presets and CI turn it on; a plain
# `cmake -S . -B b` build, as a packager runs it, does not, so a new
# compiler's new warning (or false positive) cannot stop a release build.
option(CAIRN_WERROR "Treat warnings in Cairn's own code as errors" OFF)
function(cairn_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra)
  if(CAIRN_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()

# cairn_add_plugin(KIND storage NAME memory SOURCES a.cc ... [LIBRARIES ...]
#                  [INCLUDES ...] [NO_BUILTIN])
# Compiles the plugin's sources once (an object library, position-independent,
# hidden visibility, its entry named cairn_builtin_<kind>_<name>) and builds
# two things from those objects:
#  - cairn-<kind>-<name>: a loadable module in ${CAIRN_PLUGIN_OUTPUT_DIR},
#    exporting only cairn_plugin_entry, which cmake/plugin_module_entry.cc
#    forwards to the renamed entry;
#  - cairn_builtin_<kind>_<name>: a static library, linked into hosts so they
#    run with no plugin files beside them (unless NO_BUILTIN). NO_MODULE:
#    built in only, no plugin file (a plugin whose generated protobuf code
#    the hosts also link: two copies in one process abort in protobuf's
#    descriptor pool).
# The SDK's logger is named after the entry (CAIRN_SDK_LOGGER), so the module
# and the built-in share one name and two built-ins never do.
function(cairn_add_plugin)
  cmake_parse_arguments(P "NO_BUILTIN;NO_MODULE" "KIND;NAME" "SOURCES;LIBRARIES;INCLUDES" ${ARGN})
  string(REPLACE "-" "_" ident "${P_KIND}_${P_NAME}")
  set(module cairn-${P_KIND}-${P_NAME})
  set(builtin cairn_builtin_${ident})
  set(objects cairn_plugin_objects_${ident})
  add_library(${objects} OBJECT ${P_SOURCES})
  target_link_libraries(${objects} PRIVATE cairn_sdk ${P_LIBRARIES})
  target_include_directories(${objects} PRIVATE ${P_INCLUDES})
  target_compile_definitions(${objects} PRIVATE CAIRN_PLUGIN_ENTRY_NAME=${builtin})
  set_target_properties(${objects} PROPERTIES
    POSITION_INDEPENDENT_CODE ON
    CXX_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON)
  cairn_warnings(${objects})
  if(NOT P_NO_MODULE)
    add_library(${module} MODULE ${PROJECT_SOURCE_DIR}/cmake/plugin_module_entry.cc)
    target_compile_definitions(${module} PRIVATE CAIRN_PLUGIN_BUILTIN_ENTRY=${builtin})
    target_link_libraries(${module} PRIVATE ${objects} cairn_sdk ${P_LIBRARIES})
    set_target_properties(${module} PROPERTIES
      PREFIX "lib"
      CXX_VISIBILITY_PRESET hidden
      VISIBILITY_INLINES_HIDDEN ON
      LIBRARY_OUTPUT_DIRECTORY ${CAIRN_PLUGIN_OUTPUT_DIR})
    if(NOT WIN32 AND NOT APPLE)
      target_link_options(${module} PRIVATE
        -Wl,--version-script=${PROJECT_SOURCE_DIR}/cmake/plugin-exports.map -Wl,--no-undefined)
    endif()
    cairn_warnings(${module})
    install(TARGETS ${module} LIBRARY DESTINATION ${CAIRN_INSTALL_PLUGIN_DIR} COMPONENT plugins)
  endif()
  if(NOT P_NO_BUILTIN)
    add_library(${builtin} STATIC $<TARGET_OBJECTS:${objects}>)
    target_link_libraries(${builtin} PRIVATE cairn_sdk ${P_LIBRARIES})
    set_property(GLOBAL APPEND PROPERTY CAIRN_BUILTINS ${builtin})
  endif()
endfunction()

# cairn_add_test(NAME SOURCES ... [LIBRARIES ...] [LABELS label] [TIMEOUT s])
# A GoogleTest executable registered with CTest as one test per case, with
# one label (default: its name). Its tests see CAIRN_PLUGIN_DIR,
# CAIRN_FIXTURE_DIR and CAIRN_BIN_DIR in their environment.
function(cairn_add_test name)
  cmake_parse_arguments(T "" "TIMEOUT" "SOURCES;LIBRARIES;LABELS" ${ARGN})
  if(NOT CAIRN_BUILD_TESTS)
    return()
  endif()
  add_executable(${name} ${T_SOURCES} ${PROJECT_SOURCE_DIR}/cmake/test_environment.cc)
  target_link_libraries(${name} PRIVATE ${T_LIBRARIES} GTest::gtest GTest::gtest_main GTest::gmock)
  # Test folders are compiled in (test_environment.cc exports them as
  # CAIRN_PLUGIN_DIR etc. unless set): gtest_discover_tests cannot pass a
  # list-valued ENVIRONMENT property through intact.
  target_compile_definitions(${name} PRIVATE
    CAIRN_TEST_PLUGIN_DIR="${CAIRN_PLUGIN_OUTPUT_DIR}"
    CAIRN_TEST_FIXTURE_DIR="${CAIRN_FIXTURE_OUTPUT_DIR}"
    CAIRN_TEST_BIN_DIR="${CMAKE_BINARY_DIR}/bin")
  cairn_warnings(${name})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 300)
  endif()
  # One label per test executable, for the same reason.
  set(label "${name}")
  if(T_LABELS)
    list(GET T_LABELS 0 label)
  endif()
  include(GoogleTest)
  gtest_discover_tests(${name}
    PROPERTIES LABELS "${label}" TIMEOUT ${T_TIMEOUT}
    DISCOVERY_TIMEOUT 60)
endfunction()
