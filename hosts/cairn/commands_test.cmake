# Included by hosts/cairn/CMakeLists.txt after cairn_cli is defined: the
# tests of `cairn keys` and `cairn train-dict`, which run the commands
# in-process through RunCli.
cairn_add_test(cairn_keys_command_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/keys_command_test.cc
  LIBRARIES cairn_cli cairn_keyring)
cairn_add_test(cairn_train_dict_command_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/train_dict_command_test.cc
  LIBRARIES cairn_cli zstd::libzstd_shared nlohmann_json::nlohmann_json)
# `cairn backup` / `restore` (backup.h): in-process under a write load,
# chains, tampering, sealed stores; and a `cairn backup` child killed -9.
cairn_add_test(cairn_backup_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/backup_test.cc
  LIBRARIES cairn_cli cairn_keyring cairn_log_record_proto cairn_run_program
  TIMEOUT 300)
if(TARGET cairn_backup_test)
  target_include_directories(cairn_backup_test PRIVATE
    ${PROJECT_SOURCE_DIR}/plugins/cipher/keyring)
  add_dependencies(cairn_backup_test cairn_tool)
endif()
