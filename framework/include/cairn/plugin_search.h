// Where every host (cairn, cairnd, libcairn-c) looks for plugin files: one
// search order, written once (docs/architecture.md, "Plugin search order").
//
//   1. folders given on the command line (cairn --plugin-dir, cairnd
//      --plugin-dir), in the order given;
//   2. each folder of $CAIRN_PLUGIN_DIR (colon-separated);
//   3. the site file's [store] plugin-dirs (comma-separated);
//   4. the install's plugin folder, <libdir>/cairn/plugins: found from
//      the running binary or library when that sits in an install's bindir
//      or libdir (so an install moved to another prefix finds its own
//      plugins), else as configured at build time
//      (/usr/lib/<multiarch>/cairn/plugins for the packages);
//   5. the build tree's plugin folder beside the running binary or library
//      (<bin>/../plugins, e.g. build/release/plugins).
//
// Built-in plugins are found before any file. Among files, the first folder
// holding a plugin's file wins. Every step is searched, not only the first
// that is set: a site file's folders do not hide the installed plugins.
#ifndef CAIRN_PLUGIN_SEARCH_H_
#define CAIRN_PLUGIN_SEARCH_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace cairn {

// The step of the search order a folder came from.
enum class PluginDirSource {
  kFlag,         // 1. the command line
  kEnvironment,  // 2. $CAIRN_PLUGIN_DIR
  kSiteFile,     // 3. [store] plugin-dirs
  kInstall,      // 4. <libdir>/cairn/plugins
  kBuildTree,    // 5. <bin>/../plugins
};

// "flag", "$CAIRN_PLUGIN_DIR", "[store] plugin-dirs", "install",
// "build tree".
const char* PluginDirSourceName(PluginDirSource source);

struct PluginDir {
  std::string path;
  PluginDirSource source;
};

// What the search order is built from. The defaults read the process:
// $CAIRN_PLUGIN_DIR, the compiled-in install folder, and the folder of the
// binary or shared library this code runs in. Tests set them.
struct PluginSearchInputs {
  std::vector<std::string> flag_dirs;  // step 1
  std::vector<std::string> site_dirs;  // step 3: SiteConfig::plugin_dirs
  // Step 2's value; unset: read $CAIRN_PLUGIN_DIR.
  const char* environment = nullptr;
  bool read_environment = true;
  // Steps 4 and 5; unset (empty): InstallPluginDir(self_path) and
  // <folder of self_path>/../plugins.
  std::string install_dir;
  std::string build_tree_dir;
  // The binary or shared library this code runs in; unset: found from the
  // running code.
  std::string self_path;
};

// Step 4's folder for code running from the file `self_path`: when the
// file's folder is the install's bindir (an executable, e.g. P/bin) or
// libdir (a library, e.g. P/lib/x86_64-linux-gnu) and
// P/<libdir>/cairn/plugins exists, that folder; otherwise the folder
// configured at build time ("" if none was).
std::string InstallPluginDir(const std::string& self_path);

// The folders of steps 4 and 5 that PluginSearchDirs would search but
// leaves out because they do not exist, each with its step ("install",
// "build tree"): what a "plugin not found" message lists beside the folders
// it searched.
std::vector<PluginDir> AbsentDefaultPluginDirs(
    const PluginSearchInputs& inputs = {});

// The folders to search, in the order above, each listed once (where it
// first appears). Folders of steps 1 to 3 are named by the user: one that
// does not exist (or is not a folder) fails with kInvalidArgument naming it
// and where it was given ("--plugin-dir /opt/x: no such folder"). Steps 4
// and 5 are kept only when the folder exists. Relative folders stay as
// given (the site file's are already resolved against its folder by
// SiteConfig::LoadFile).
absl::StatusOr<std::vector<PluginDir>> PluginSearchDirs(
    const PluginSearchInputs& inputs);

// PluginSearchDirs' paths alone, what SiteConfig::plugin_dirs and
// PluginRegistry::AddSearchDir take.
absl::StatusOr<std::vector<std::string>> PluginSearchPaths(
    const PluginSearchInputs& inputs);

}  // namespace cairn

#endif  // CAIRN_PLUGIN_SEARCH_H_
