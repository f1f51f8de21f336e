# cairn_plugin(<target>): for a plugin built out of tree against the SDK.
# Links Cairn::sdk, hides every symbol but cairn_plugin_entry, and names the
# file lib<target>.so so `cairn plugins --dir` and the loader find it.
function(cairn_plugin target)
  target_link_libraries(${target} PRIVATE Cairn::sdk)
  set_target_properties(${target} PROPERTIES
    PREFIX "lib"
    CXX_VISIBILITY_PRESET hidden
    C_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON)
  if(NOT WIN32 AND NOT APPLE)
    target_link_options(${target} PRIVATE
      -Wl,--version-script=${CMAKE_CURRENT_FUNCTION_LIST_DIR}/plugin-exports.map)
  endif()
endfunction()
