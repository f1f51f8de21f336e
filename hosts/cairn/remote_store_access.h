// StoreAccess over a cairnd server (`cairn --server HOST:PORT`), through
// the cairnd client library (hosts/cairnd/client, target cairn_client).
#ifndef CAIRN_HOSTS_CAIRN_REMOTE_STORE_ACCESS_H_
#define CAIRN_HOSTS_CAIRN_REMOTE_STORE_ACCESS_H_

#include <cairn/client.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "backup.h"
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

// The log of the store the cairnd at options.server serves, for `cairn
// backup --server` (BackupBeginRequest, then ReadLogRequest pages; the
// admin right). Connects as OpenRemoteStore does.
absl::StatusOr<std::unique_ptr<backup::LogSource>> OpenRemoteLogSource(
    const StoreOptions& options);

// Restores the checked `chain` into the store the cairnd at options.server
// serves, which must be empty (restore_begin, apply_log in whole atomic
// batches, restore_end; the admin right). Refuses a chain of sealed events
// (the server read its seal registry when it opened the store). Returns the
// head position the server reports after the restore; on any failure the
// connection closes and the server takes back what was applied.
absl::StatusOr<uint64_t> RestoreThroughServer(
    const StoreOptions& options, const backup::VerifiedChain& chain,
    const backup::ProgressFn& progress);

// The ClientOptions `options` select (the same rules, without connecting).
absl::StatusOr<ClientOptions> RemoteClientOptions(const StoreOptions& options);

}  // namespace cairn::cli

#endif  // CAIRN_HOSTS_CAIRN_REMOTE_STORE_ACCESS_H_
