# Runs ${BENCH} with ${ARGUMENT} (split at spaces); passes only if it exits
# with 2 and stderr holds ${MESSAGE}.
separate_arguments(arguments UNIX_COMMAND "${ARGUMENT}")
execute_process(COMMAND ${BENCH} ${arguments}
                RESULT_VARIABLE code ERROR_VARIABLE err OUTPUT_VARIABLE out)
string(FIND "${err}" "${MESSAGE}" found)
if(NOT code EQUAL 2 OR found EQUAL -1)
  message(FATAL_ERROR "expected exit 2 and '${MESSAGE}'; got exit ${code}, "
                      "stderr: ${err}")
endif()
