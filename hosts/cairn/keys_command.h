// `cairn keys`: manages the keyring file of the aes-gcm and
// chacha20-poly1305 cipher plugins (format: docs/security.md).
//
//   cairn keys new    --keyring FILE   create FILE (mode 0600) with key 1 active
//   cairn keys list   --keyring FILE   print each key's id, fingerprint, seal
//                                      count (FILE.usage) against the site's
//                                      max-seals-per-key, which is active;
//                                      never the key itself
//   cairn keys rotate --keyring FILE   add a fresh key and make it active;
//                                      older keys stay so old events open
//
// Without --keyring the keyring comes from the site (--config / --set): the
// [cipher] section's `keyring` option.
//
// Exit codes (command.h): 0 done; 1 usage (unknown action, no keyring
// named); 2 the keyring was refused or could not be written, with the
// keyring library's message naming the file (and line).
//
// Keys never appear in the output or in messages. A store that is open
// while `keys rotate` runs keeps sealing with the key that was active when
// it opened until it reopens (or rotates through its own cipher).
#ifndef CAIRN_HOSTS_CAIRN_KEYS_COMMAND_H_
#define CAIRN_HOSTS_CAIRN_KEYS_COMMAND_H_

#include <sys/types.h>

#include <string>

#include "command.h"

namespace cairn::cli {

int KeysCommand(CommandContext& context);

// Why `keys ACTION` (new or rotate) run with effective user `euid` must
// not write the keyring `path`, or "": root (euid 0) writing into a folder
// another user owns would leave a root-owned 0600 keyring (and lock file)
// that user cannot read, and the cipher refuses a keyring its process does
// not own (a packaged cairnd runs as `cairn`, its keyring folder
// /var/lib/cairn/keys is cairn's). The message names the folder's owner and
// the command to run as that user. A folder that cannot be examined is left
// to the keyring library to report.
std::string RootWritingAnotherUsersKeyring(const std::string& action,
                                           const std::string& path, uid_t euid);

}  // namespace cairn::cli

#endif  // CAIRN_HOSTS_CAIRN_KEYS_COMMAND_H_
