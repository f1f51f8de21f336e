// The reference plugins linked into a host, so it runs with no plugin files.
#ifndef CAIRN_BUILTINS_H_
#define CAIRN_BUILTINS_H_

#include <cairn/plugin_registry.h>

#include <string>
#include <vector>

#include "absl/status/status.h"

namespace cairn {

// Registers every built-in plugin of this build with `registry`.
absl::Status RegisterBuiltinPlugins(PluginRegistry& registry);

// "kind/name" of every built-in, for --help texts and `cairn plugins`.
std::vector<std::string> BuiltinPluginNames();

}  // namespace cairn

#endif  // CAIRN_BUILTINS_H_
