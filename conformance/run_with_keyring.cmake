# Runs cairn-conformance on a keyring cipher plugin with a fresh keyring.
#   cmake -DRUNNER=<cairn-conformance> -DPLUGIN=<plugin file>
#         -DWORK_DIR=<folder> -P run_with_keyring.cmake
# The keyring format is the one plugins/cipher/keyring/keyring.h defines:
# "key <id> <64 hex digits> active", in a file with mode 0600.
foreach(v RUNNER PLUGIN WORK_DIR)
  if(NOT DEFINED ${v})
    message(FATAL_ERROR "run_with_keyring.cmake: -D${v}=... is required")
  endif()
endforeach()
file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}")
string(RANDOM LENGTH 64 ALPHABET 0123456789abcdef key)
set(keyring "${WORK_DIR}/keyring")
file(WRITE "${keyring}" "# conformance test keyring\nkey 1 ${key} active\n")
file(CHMOD "${keyring}" PERMISSIONS OWNER_READ OWNER_WRITE)
execute_process(COMMAND "${RUNNER}" --plugin "${PLUGIN}"
                        --option "keyring=${keyring}"
                RESULT_VARIABLE rc)
file(REMOVE_RECURSE "${WORK_DIR}")
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "cairn-conformance failed (${rc}) on ${PLUGIN}")
endif()
