# Included by hosts/cairn/CMakeLists.txt after cairn_cli is defined: the
# tests of `cairn keys` and `cairn train-dict`, which run the commands
# in-process through RunCli.
cairn_add_test(cairn_keys_command_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/keys_command_test.cc
  LIBRARIES cairn_cli cairn_keyring)
cairn_add_test(cairn_train_dict_command_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/train_dict_command_test.cc
  LIBRARIES cairn_cli zstd::libzstd_shared)
