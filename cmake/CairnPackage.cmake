# Debian packages, one per install component (cpack -G DEB in the build
# folder; scripts/test.d/70-packages.sh builds, installs and checks them):
#
#   cairn          cli      the command line (cairn) and cairn-bench
#   cairnd         server   the server, its systemd unit, /etc/cairn/cairnd.ini,
#                           the `cairn` system user and /var/lib/cairn
#   libcairn-c1    capi     the C API shared library
#   cairn-dev      dev      headers, libcairn, find_package(Cairn), the
#                           conformance runner, the schemas, plugin docs
#   cairn-plugins  plugins  the plugin files in <libdir>/cairn/plugins
#
# The version is project(VERSION) in the top CMakeLists.txt, the one place
# the .NET package reads it from too (hosts/dotnet/Directory.Build.props).
# Runtime dependencies come from dpkg-shlibdeps (package dpkg-dev).
set(CAIRN_PACKAGING_DIR ${PROJECT_SOURCE_DIR}/packaging/debian)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME cairn)
set(CPACK_PACKAGE_VENDOR "Cairn developers")
set(CPACK_PACKAGE_CONTACT "Cairn developers <dev@cairn.invalid>")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGING_INSTALL_PREFIX ${CMAKE_INSTALL_PREFIX})
set(CPACK_PACKAGE_DIRECTORY ${CMAKE_BINARY_DIR}/packages)
set(CPACK_COMPONENTS_ALL cli server capi dev plugins)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_RELEASE 1)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_ENABLE_COMPONENT_DEPENDS ON)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SECTION database)
set(CPACK_DEBIAN_COMPRESSION_TYPE xz)
# Packages ship stripped files (the build tree keeps the debug info).
set(CPACK_STRIP_FILES ON)
# dpkg-shlibdeps must find libcairn-c.so.1 for the packages that link it.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS_PRIVATE_DIRS ${CMAKE_BINARY_DIR}/lib)

set(CPACK_DEBIAN_CLI_PACKAGE_NAME cairn)
set(CPACK_DEBIAN_SERVER_PACKAGE_NAME cairnd)
set(CPACK_DEBIAN_CAPI_PACKAGE_NAME libcairn-c1)
set(CPACK_DEBIAN_DEV_PACKAGE_NAME cairn-dev)
set(CPACK_DEBIAN_PLUGINS_PACKAGE_NAME cairn-plugins)
set(CPACK_DEBIAN_CAPI_PACKAGE_SECTION libs)
set(CPACK_DEBIAN_DEV_PACKAGE_SECTION libdevel)
# A shlibs file for libcairn-c.so.1 (the only library with a SONAME), and
# the ldconfig trigger Debian policy wants for a public shared library.
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS ON)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS_POLICY ">=")
file(WRITE ${CMAKE_BINARY_DIR}/packaging/libcairn-c1/triggers "activate-noawait ldconfig\n")
set(CPACK_DEBIAN_CAPI_PACKAGE_CONTROL_EXTRA ${CMAKE_BINARY_DIR}/packaging/libcairn-c1/triggers)

include(CPackComponent)
# Descriptions: a synopsis line, then the long text (CPack indents it).
# No semicolons: CMake would cut the text there.
cpack_add_component(cli DISPLAY_NAME cairn
  DESCRIPTION "command line of the Cairn event store
The cairn command appends, reads and follows the streams of a Cairn event
store, on a store folder (embedded) or through a cairnd server, and manages
keyrings (cairn keys). cairn-bench measures a store.")
cpack_add_component(server DISPLAY_NAME cairnd
  DESCRIPTION "server of the Cairn event store
The cairnd server serves a Cairn store over TCP or TLS, with HTTP health and
metrics. The package runs it as a systemd service under the system user
cairn, with the site file /etc/cairn/cairnd.ini and its state in
/var/lib/cairn.")
cpack_add_component(capi DISPLAY_NAME libcairn-c1
  DESCRIPTION "C API of the Cairn event store (shared library)
The libcairn-c library embeds a Cairn store in any process through a C API,
the one Akka.Persistence.Cairn binds. Every built-in plugin is linked in.")
cpack_add_component(plugins DISPLAY_NAME cairn-plugins
  DESCRIPTION "plugin files of the Cairn event store
The storage, codec, cipher and replication plugins as loadable files, in
the plugin folder every Cairn host searches. The hosts carry the same
plugins built in: the files serve cairn-conformance and other hosts.")
cpack_add_component(dev DISPLAY_NAME cairn-dev DEPENDS capi plugins
  DESCRIPTION "development files for the Cairn event store
Headers, libcairn and the CMake package for find_package(Cairn), to build
hosts and plugins, the C API header, cairn-conformance (the suite every
plugin must pass), the protocol schemas and the plugin author's guide.")

# What find_package(Cairn) itself needs (cmake/CairnConfig.cmake.in).
set(CPACK_DEBIAN_DEV_PACKAGE_DEPENDS
    "libabsl-dev, libboost-dev, libboost-filesystem-dev, libboost-program-options-dev")
set(CPACK_DEBIAN_SERVER_PACKAGE_DEPENDS "adduser")

# Maintainer scripts of cairnd, with this build's paths.
foreach(script postinst prerm postrm)
  configure_file(${CAIRN_PACKAGING_DIR}/cairnd.${script}.in
                 ${CMAKE_BINARY_DIR}/packaging/cairnd/${script} @ONLY
                 FILE_PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE
                                  GROUP_READ GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)
endforeach()
file(WRITE ${CMAKE_BINARY_DIR}/packaging/cairnd/conffiles
     "${CMAKE_INSTALL_FULL_SYSCONFDIR}/cairn/cairnd.ini\n")
set(CPACK_DEBIAN_SERVER_PACKAGE_CONTROL_EXTRA
    ${CMAKE_BINARY_DIR}/packaging/cairnd/postinst
    ${CMAKE_BINARY_DIR}/packaging/cairnd/prerm
    ${CMAKE_BINARY_DIR}/packaging/cairnd/postrm
    ${CMAKE_BINARY_DIR}/packaging/cairnd/conffiles)

# Every package carries /usr/share/doc/<package>/copyright and a changelog.
# SOURCE_DATE_EPOCH, when set, makes the changelog's date reproducible.
string(TIMESTAMP CAIRN_CHANGELOG_DATE "%a, %d %b %Y %H:%M:%S +0000" UTC)
file(WRITE ${CMAKE_BINARY_DIR}/packaging/changelog.Debian
"cairn (${PROJECT_VERSION}-${CPACK_DEBIAN_PACKAGE_RELEASE}) stable; urgency=medium

  * Cairn ${PROJECT_VERSION}, built with CPack (cmake/CairnPackage.cmake).

 -- ${CPACK_PACKAGE_CONTACT}  ${CAIRN_CHANGELOG_DATE}
")
execute_process(
  COMMAND gzip -9nf ${CMAKE_BINARY_DIR}/packaging/changelog.Debian
  RESULT_VARIABLE gzip_result)
if(NOT gzip_result EQUAL 0)
  message(FATAL_ERROR "gzip of the Debian changelog failed: ${gzip_result}")
endif()
foreach(pair cli:cairn server:cairnd capi:libcairn-c1 dev:cairn-dev plugins:cairn-plugins)
  string(REPLACE ":" ";" pair "${pair}")
  list(GET pair 0 component)
  list(GET pair 1 package)
  set(doc ${CMAKE_INSTALL_DATAROOTDIR}/doc/${package})
  install(FILES ${CAIRN_PACKAGING_DIR}/copyright
                ${CMAKE_BINARY_DIR}/packaging/changelog.Debian.gz
          DESTINATION ${doc} COMPONENT ${component})
endforeach()
install(FILES ${PROJECT_SOURCE_DIR}/docs/server.md ${PROJECT_SOURCE_DIR}/docs/security.md
        DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/doc/cairnd COMPONENT server)
install(FILES ${PROJECT_SOURCE_DIR}/docs/cli.md
        DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/doc/cairn COMPONENT cli)

include(CPack)
