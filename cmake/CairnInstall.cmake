# `cmake --install` lays out an SDK that a third party builds against with
# find_package(Cairn): headers, libcairn, the plugins, the conformance runner
# and a CMake package config. Each rule names its install component, which is
# also the Debian package it lands in (cmake/CairnPackage.cmake): cli, server,
# libcairn-c, dev, plugins.
include(CMakePackageConfigHelpers)

install(DIRECTORY ${PROJECT_SOURCE_DIR}/framework/include/cairn
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} COMPONENT dev)
# Two export sets, so that find_package(Cairn COMPONENTS sdk) loads the
# header-only Cairn::sdk without libcairn's Abseil and Boost.
install(TARGETS cairn_sdk EXPORT CairnSdkTargets
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS cairn EXPORT CairnTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT dev
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT dev
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT CairnSdkTargets NAMESPACE Cairn::
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/Cairn COMPONENT dev)
install(EXPORT CairnTargets NAMESPACE Cairn::
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/Cairn COMPONENT dev)
configure_package_config_file(
  ${PROJECT_SOURCE_DIR}/cmake/CairnConfig.cmake.in
  ${CMAKE_BINARY_DIR}/CairnConfig.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/Cairn
  PATH_VARS CMAKE_INSTALL_LIBDIR CMAKE_INSTALL_BINDIR)
write_basic_package_version_file(${CMAKE_BINARY_DIR}/CairnConfigVersion.cmake
  COMPATIBILITY SameMajorVersion)
install(FILES ${CMAKE_BINARY_DIR}/CairnConfig.cmake
              ${CMAKE_BINARY_DIR}/CairnConfigVersion.cmake
              ${PROJECT_SOURCE_DIR}/cmake/CairnPluginHelpers.cmake
              ${PROJECT_SOURCE_DIR}/cmake/plugin-exports.map
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/Cairn COMPONENT dev)
# The plugin author's documentation.
install(FILES ${PROJECT_SOURCE_DIR}/docs/plugins.md
        DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/doc/cairn-dev COMPONENT dev)
# The example plugins, one folder per kind, each built out of tree against
# this SDK with find_package(Cairn COMPONENTS sdk) (docs/plugins.md, "From
# an empty folder to a passing plugin"). The storage and replication
# examples are the in-tree memory and none plugins' own sources.
set(CAIRN_INSTALL_EXAMPLES_DIR ${CMAKE_INSTALL_DATAROOTDIR}/doc/cairn-dev/examples)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/examples/plugins/rle-codec
                  ${PROJECT_SOURCE_DIR}/examples/plugins/chacha-cipher
        DESTINATION ${CAIRN_INSTALL_EXAMPLES_DIR} COMPONENT dev)
install(FILES ${PROJECT_SOURCE_DIR}/examples/plugins/memory-storage/CMakeLists.txt
              ${PROJECT_SOURCE_DIR}/plugins/storage/memory/memory_storage.h
              ${PROJECT_SOURCE_DIR}/plugins/storage/memory/memory_storage.cc
              ${PROJECT_SOURCE_DIR}/plugins/storage/memory/memory_plugin.cc
        DESTINATION ${CAIRN_INSTALL_EXAMPLES_DIR}/memory-storage COMPONENT dev)
install(FILES ${PROJECT_SOURCE_DIR}/examples/plugins/none-replication/CMakeLists.txt
              ${PROJECT_SOURCE_DIR}/plugins/replication/none/none_replication.cc
        DESTINATION ${CAIRN_INSTALL_EXAMPLES_DIR}/none-replication COMPONENT dev)
