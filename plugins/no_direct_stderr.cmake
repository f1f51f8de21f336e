# Fails naming each line of a plugin source that writes to stderr itself:
# plugins log through the host (cairn_host_offer.log; docs/plugins.md,
# "Logging"). Tests (*_test.cc) and their helpers (*_test_util.cc, e.g.
# logship's cluster helper, which the replication bench links too), the
# crash tests' child processes
# (*_child.cc) and their spawning helper (crash_util.h), which are programs
# of their own, may. Run: cmake -DROOT=<plugins folder> -P ...
file(GLOB_RECURSE sources ${ROOT}/*.c ${ROOT}/*.cc ${ROOT}/*.h ${ROOT}/*.hpp)
set(found "")
foreach(source ${sources})
  if(source MATCHES "_test\\.cc$" OR source MATCHES "_test_util\\.cc$" OR
     source MATCHES "_child\\.cc$" OR
     source MATCHES "/crash_util\\.h$")
    continue()
  endif()
  file(STRINGS ${source} lines
       REGEX "fprintf[ \t]*\\([ \t]*stderr|fputs[ \t]*\\(.*stderr|std::cerr|std::clog|perror[ \t]*\\(")
  foreach(line ${lines})
    string(APPEND found "\n  ${source}: ${line}")
  endforeach()
endforeach()
if(found)
  message(FATAL_ERROR "plugin code writes to stderr; log through the host "
                      "(sdk::LogInfo/LogWarn/LogError) instead:${found}")
endif()
