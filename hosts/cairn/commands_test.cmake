# Included by hosts/cairn/CMakeLists.txt after cairn_cli is defined.
# `cairn keys` and `cairn train-dict` (keys_command.cc, train_dict_command.cc,
# compiled into cairn_cli there) need the keyring library and libzstd's
# dictionary trainer; their tests run the commands in-process through RunCli.
if(TARGET cairn_cli)
  target_link_libraries(cairn_cli PRIVATE cairn_keyring zstd::libzstd_shared)
  cairn_add_test(cairn_keys_command_test
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/keys_command_test.cc
    LIBRARIES cairn_cli cairn_keyring)
  cairn_add_test(cairn_train_dict_command_test
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/train_dict_command_test.cc
    LIBRARIES cairn_cli zstd::libzstd_shared)
endif()
