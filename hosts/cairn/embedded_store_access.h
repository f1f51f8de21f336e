// StoreAccess over a cairn::Store opened in this process, with the built-in
// plugins registered (so `cairn` needs no plugin files) plus the site's
// plugin folders.
#ifndef CAIRN_HOSTS_CAIRN_EMBEDDED_STORE_ACCESS_H_
#define CAIRN_HOSTS_CAIRN_EMBEDDED_STORE_ACCESS_H_

#include <cairn/config.h>
#include <cairn/plugin_registry.h>
#include <cairn/store.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "store_access.h"

namespace cairn::cli {

// Plugin folders used when the site names none ([store] plugin-dirs): each
// folder of $CAIRN_PLUGIN_DIR (colon-separated), then the build tree's
// plugins folder beside this program (<bin>/../plugins) and the installed
// one (<libdir>/cairn/plugins), those that exist.
std::vector<std::string> DefaultPluginDirs();

// Opens the store `config` describes, with the built-in plugins registered
// and DefaultPluginDirs() searched if config.plugin_dirs is empty. Fails with
// Store::Open's message. With open_options.create false, a store that does
// not exist yet is not made (NotFound).
absl::StatusOr<std::unique_ptr<StoreAccess>> OpenEmbeddedStore(
    const SiteConfig& config, const StoreOpenOptions& open_options = {});

// Wraps a Store the caller owns and keeps open (tests share one store
// between several commands this way). `store` must outlive the result.
std::unique_ptr<StoreAccess> WrapStore(Store* store);

}  // namespace cairn::cli

#endif  // CAIRN_HOSTS_CAIRN_EMBEDDED_STORE_ACCESS_H_
