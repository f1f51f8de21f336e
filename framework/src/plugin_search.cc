#include <cairn/plugin_search.h>

#include <cairn/status.h>

#include <algorithm>
#include <boost/dll/runtime_symbol_info.hpp>
#include <cstdlib>
#include <filesystem>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace cairn {
namespace {

bool IsFolder(const std::string& path) {
  std::error_code ec;
  return std::filesystem::is_directory(path, ec);
}

// <folder of the binary or shared library holding this code>/../plugins:
// build/<preset>/bin/cairn and build/<preset>/lib/libcairn-c.so both give
// build/<preset>/plugins.
std::string BuildTreeDir() {
  boost::system::error_code ec;
  boost::dll::fs::path self = boost::dll::this_line_location(ec);
  if (ec) return "";
  return (self.parent_path().parent_path() / "plugins").string();
}

}  // namespace

const char* PluginDirSourceName(PluginDirSource source) {
  switch (source) {
    case PluginDirSource::kFlag:
      return "flag";
    case PluginDirSource::kEnvironment:
      return "$CAIRN_PLUGIN_DIR";
    case PluginDirSource::kSiteFile:
      return "[store] plugin-dirs";
    case PluginDirSource::kInstall:
      return "install";
    case PluginDirSource::kBuildTree:
      return "build tree";
  }
  return "unknown";
}

absl::StatusOr<std::vector<PluginDir>> PluginSearchDirs(
    const PluginSearchInputs& inputs) {
  std::vector<PluginDir> dirs;
  auto add = [&](const std::string& path, PluginDirSource source) {
    auto same = [&](const PluginDir& d) { return d.path == path; };
    if (std::none_of(dirs.begin(), dirs.end(), same)) {
      dirs.push_back({path, source});
    }
  };
  auto must_exist = [&](const std::string& path, PluginDirSource source,
                        const std::string& where) -> absl::Status {
    if (!IsFolder(path)) {
      return MakeStatus(CAIRN_E_INVALID_ARGUMENT,
                        absl::StrCat(where, ": plugin folder '", path,
                                     "' does not exist or is not a folder"));
    }
    add(path, source);
    return absl::OkStatus();
  };

  for (const std::string& dir : inputs.flag_dirs) {
    if (absl::Status s =
            must_exist(dir, PluginDirSource::kFlag, "--plugin-dir");
        !s.ok()) {
      return s;
    }
  }
  const char* environment = inputs.environment;
  if (environment == nullptr && inputs.read_environment) {
    environment = std::getenv("CAIRN_PLUGIN_DIR");
  }
  if (environment != nullptr) {
    for (absl::string_view dir :
         absl::StrSplit(environment, ':', absl::SkipEmpty())) {
      if (absl::Status s =
              must_exist(std::string(dir), PluginDirSource::kEnvironment,
                         "$CAIRN_PLUGIN_DIR");
          !s.ok()) {
        return s;
      }
    }
  }
  for (const std::string& dir : inputs.site_dirs) {
    if (absl::Status s =
            must_exist(dir, PluginDirSource::kSiteFile, "[store] plugin-dirs");
        !s.ok()) {
      return s;
    }
  }
  std::string install = inputs.install_dir;
#ifdef CAIRN_INSTALL_PLUGIN_DIR
  if (install.empty()) install = CAIRN_INSTALL_PLUGIN_DIR;
#endif
  if (!install.empty() && IsFolder(install)) {
    add(install, PluginDirSource::kInstall);
  }
  const std::string build_tree =
      inputs.build_tree_dir.empty() ? BuildTreeDir() : inputs.build_tree_dir;
  if (!build_tree.empty() && IsFolder(build_tree)) {
    add(build_tree, PluginDirSource::kBuildTree);
  }
  return dirs;
}

absl::StatusOr<std::vector<std::string>> PluginSearchPaths(
    const PluginSearchInputs& inputs) {
  absl::StatusOr<std::vector<PluginDir>> dirs = PluginSearchDirs(inputs);
  if (!dirs.ok()) return dirs.status();
  std::vector<std::string> paths;
  for (const PluginDir& dir : *dirs) paths.push_back(dir.path);
  return paths;
}

}  // namespace cairn
