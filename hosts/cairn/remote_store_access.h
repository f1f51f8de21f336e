// StoreAccess over a cairnd server (`cairn --server HOST:PORT`), through
// the cairnd client library (hosts/cairnd/client, target cairn_client).
#ifndef CAIRN_HOSTS_CAIRN_REMOTE_STORE_ACCESS_H_
#define CAIRN_HOSTS_CAIRN_REMOTE_STORE_ACCESS_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "store_access.h"

namespace cairn::cli {

// Connects to the cairnd at `address` ("HOST:PORT" or "[v6]:PORT") over
// plain TCP. Fails with the client's message (kInvalidArgument for a
// malformed address, kUnavailable when the server cannot be reached).
absl::StatusOr<std::unique_ptr<StoreAccess>> OpenRemoteStore(
    const std::string& address);

}  // namespace cairn::cli

#endif  // CAIRN_HOSTS_CAIRN_REMOTE_STORE_ACCESS_H_
