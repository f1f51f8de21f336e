// StoreAccess over a cairnd server (`cairn --server HOST:PORT`), through
// the cairnd client library (hosts/cairnd/client, target cairn_client).
#ifndef CAIRN_HOSTS_CAIRN_REMOTE_STORE_ACCESS_H_
#define CAIRN_HOSTS_CAIRN_REMOTE_STORE_ACCESS_H_

#include <cairn/client.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "command.h"
#include "store_access.h"

namespace cairn::cli {

// Connects to the cairnd at options.server ("HOST:PORT" or "[v6]:PORT"),
// over TLS when options (or the [client] section of options.config_file:
// tls = on|off, tls-ca, tls-cert, tls-key, tls-server-name) ask for it;
// flags win over the file. Fails with the client's message
// (kInvalidArgument for a malformed address or a bad [client] key,
// kUnavailable when the server cannot be reached, or wants TLS and was
// spoken to in plain TCP).
absl::StatusOr<std::unique_ptr<StoreAccess>> OpenRemoteStore(
    const StoreOptions& options);

// The ClientOptions `options` select (the same rules, without connecting).
absl::StatusOr<ClientOptions> RemoteClientOptions(const StoreOptions& options);

}  // namespace cairn::cli

#endif  // CAIRN_HOSTS_CAIRN_REMOTE_STORE_ACCESS_H_
