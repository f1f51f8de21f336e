// The entry of a plugin module built by cairn_add_plugin(): the plugin's
// objects are compiled once, with their entry named
// cairn_builtin_<kind>_<name> for linking into hosts; a module exports that
// entry under the name every host looks up, cairn_plugin_entry.
#include <cairn/plugin.h>

#ifndef CAIRN_PLUGIN_BUILTIN_ENTRY
#error "CAIRN_PLUGIN_BUILTIN_ENTRY names the plugin's renamed entry"
#endif

extern "C" cairn_status CAIRN_PLUGIN_BUILTIN_ENTRY(
    const cairn_host_offer* offer, const cairn_plugin_descriptor** descriptor,
    cairn_error* error);

extern "C" CAIRN_PLUGIN_EXPORT cairn_status cairn_plugin_entry(
    const cairn_host_offer* offer, const cairn_plugin_descriptor** descriptor,
    cairn_error* error) {
  return CAIRN_PLUGIN_BUILTIN_ENTRY(offer, descriptor, error);
}
