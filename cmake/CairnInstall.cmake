# `cmake --install` lays out an SDK that a third party builds against with
# find_package(Cairn): headers, libcairn, the plugins, the conformance runner
# and a CMake package config.
include(CMakePackageConfigHelpers)

install(DIRECTORY ${PROJECT_SOURCE_DIR}/framework/include/cairn
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS cairn_sdk cairn EXPORT CairnTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT CairnTargets NAMESPACE Cairn::
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/Cairn)
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
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/Cairn)
