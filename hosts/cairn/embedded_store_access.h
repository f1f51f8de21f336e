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

// Opens the store `config` describes, with the built-in plugins registered
// and config.plugin_dirs searched (the caller has put the whole search
// order there: PluginFolders in command.h). Fails with
// Store::Open's message. With open_options.create false, a store that does
// not exist yet is not made (NotFound).
absl::StatusOr<std::unique_ptr<StoreAccess>> OpenEmbeddedStore(
    const SiteConfig& config, const StoreOpenOptions& open_options = {});

// Wraps a Store the caller owns and keeps open (tests share one store
// between several commands this way). `store` must outlive the result.
std::unique_ptr<StoreAccess> WrapStore(Store* store);

}  // namespace cairn::cli

#endif  // CAIRN_HOSTS_CAIRN_EMBEDDED_STORE_ACCESS_H_
