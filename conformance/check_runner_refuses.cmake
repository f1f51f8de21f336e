# Checks that cairn-conformance refuses its command line up front: exit 2,
# an error matching EXPECT, and no test run.
#   cmake -DRUNNER=<cairn-conformance> "-DARGS=<arg;arg;...>"
#         "-DEXPECT=<regex>" -P check_runner_refuses.cmake
foreach(v RUNNER EXPECT)
  if(NOT DEFINED ${v})
    message(FATAL_ERROR "check_runner_refuses.cmake: -D${v}=... is required")
  endif()
endforeach()
execute_process(COMMAND "${RUNNER}" ${ARGS}
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 2)
  message(FATAL_ERROR "cairn-conformance ${ARGS} exited ${rc}, not 2:\n${err}\n${out}")
endif()
if(NOT "${err}" MATCHES "${EXPECT}")
  message(FATAL_ERROR "cairn-conformance ${ARGS}: the error does not match "
                      "'${EXPECT}':\n${err}\n${out}")
endif()
if("${out}${err}" MATCHES "\\[ RUN      \\]")
  message(FATAL_ERROR "cairn-conformance ${ARGS} ran tests before refusing:\n${out}")
endif()
message(STATUS "cairn-conformance ${ARGS}: refused up front: ${err}")
