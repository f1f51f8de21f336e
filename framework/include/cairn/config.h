// The site file: which plugins a site runs and with which options.
//
//   [store]
//   path = ./data
//   plugin-dirs = /usr/lib/cairn/plugins
//   [storage]
//   plugin = mmaplog
//   fsync = always
//   [codec]
//   plugin = zstd
//   level = 3
//   [cipher]
//   plugin = aes-gcm
//   keyring = /etc/cairn/keys
//   [replication]
//   plugin = none
//
// Read with Boost.Program_options; command-line flags override the file.
// A relative path in a site file ([store] path, [store] plugin-dirs, and the
// host keys a host names as paths, e.g. cairnd's [tls] cert-file) is taken
// relative to the site file's folder, not the process's current folder; a
// path given by a flag or an override keeps the current folder. A plugin
// option the plugin describes as CAIRN_OPT_PATH ([cipher] keyring, [codec]
// dictionary) is taken from the site file's folder too: the folder is kept
// beside the value (option_dirs), and Store::Open resolves it once the
// plugin's descriptor says the option is a path.
// Hosts may add sections of their own ([server], [http], ...) by declaring
// them; any other section, or a key the chosen plugin does not accept, is an
// error naming it.
#ifndef CAIRN_CONFIG_H_
#define CAIRN_CONFIG_H_

#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace cairn {

// One plugin slot: the plugin's name and its options in file order.
struct PluginChoice {
  std::string plugin;
  std::vector<std::pair<std::string, std::string>> options;
  // Option key -> the folder of the site file that set it. Keys set by a
  // flag, an override or code, or parsed without a folder, are absent.
  std::map<std::string, std::string> option_dirs = {};

  // `options`, with the relative value of each key in `path_keys` (the
  // options the plugin describes as CAIRN_OPT_PATH) taken from the folder
  // in option_dirs; other values, and keys without a folder, as given.
  std::vector<std::pair<std::string, std::string>> ResolvedOptions(
      const std::set<std::string>& path_keys) const;
};

struct SiteConfig {
  std::string path = "./data";         // [store] path: the store's folder
  std::vector<std::string> plugin_dirs;  // [store] plugin-dirs, comma-separated
  // Explicit, logged steps away from what a store recorded it was sealed
  // with (docs/security.md); never taken silently:
  //   [store] allow-plaintext = true    open with [cipher] plugin = none a
  //       store whose events are sealed, and append plaintext from now on;
  //   [store] allow-new-keyring = true  open with a keyring that cannot
  //       prove the recorded keys (events sealed under them stay unreadable;
  //       a recorded key id held as another key is never sealed with).
  bool allow_plaintext = false;
  bool allow_new_keyring = false;
  PluginChoice storage{"mmaplog", {}};
  PluginChoice codec{"identity", {}};
  PluginChoice cipher{"none", {}};
  PluginChoice replication{"none", {}};
  // Sections a host declared (e.g. "server"): key -> value, unchecked here.
  std::map<std::string, std::map<std::string, std::string>> host_sections;

  // Parses an INI text. `origin` names it in messages ("site.ini").
  // `host_sections` lists extra section names the host accepts. Relative
  // paths are resolved against `base_dir` when it is not empty (LoadFile
  // gives the site file's folder); `host_path_keys` names the host keys
  // ("tls.cert-file") whose values are paths.
  static absl::StatusOr<SiteConfig> Parse(
      const std::string& text, const std::string& origin,
      const std::set<std::string>& host_sections = {},
      const std::string& base_dir = "",
      const std::set<std::string>& host_path_keys = {});
  // Reads and parses the file `path`; relative paths in it are resolved
  // against its folder (made absolute).
  static absl::StatusOr<SiteConfig> LoadFile(
      const std::string& path, const std::set<std::string>& host_sections = {},
      const std::set<std::string>& host_path_keys = {});

  // Applies "section.key=value" (e.g. "storage.fsync=never",
  // "store.path=/x", "cipher.plugin=aes-gcm"), as a command-line flag would.
  // Host sections already present are accepted, and those in `host_sections`.
  absl::Status Override(const std::string& assignment,
                        const std::set<std::string>& extra_sections = {});
};

}  // namespace cairn

#endif  // CAIRN_CONFIG_H_
