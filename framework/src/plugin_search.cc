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

// The binary or shared library holding this code.
std::string SelfPath(const PluginSearchInputs& inputs) {
  if (!inputs.self_path.empty()) return inputs.self_path;
  boost::system::error_code ec;
  boost::dll::fs::path self = boost::dll::this_line_location(ec);
  if (ec) return "";
  return self.string();
}

// <folder of the binary or shared library>/../plugins:
// build/<preset>/bin/cairn and build/<preset>/lib/libcairn-c.so both give
// build/<preset>/plugins.
std::string BuildTreeDir(const std::string& self) {
  if (self.empty()) return "";
  return (std::filesystem::path(self).parent_path().parent_path() / "plugins")
      .string();
}

// `folder` less its trailing components `tail` ("bin",
// "lib/x86_64-linux-gnu"), or "" if it does not end with them.
std::string PrefixBefore(const std::filesystem::path& folder,
                         const std::string& tail) {
  if (tail.empty()) return "";
  std::filesystem::path rest = folder.lexically_normal();
  if (!rest.empty() && rest.filename().empty()) rest = rest.parent_path();
  std::vector<std::string> parts;
  for (const auto& part : std::filesystem::path(tail).lexically_normal()) {
    if (!part.empty() && part != ".") parts.push_back(part.string());
  }
  for (auto it = parts.rbegin(); it != parts.rend(); ++it) {
    if (rest.filename() != *it) return "";
    rest = rest.parent_path();
  }
  return rest.string();
}

std::string StepFourDir(const PluginSearchInputs& inputs) {
  return inputs.install_dir.empty() ? InstallPluginDir(SelfPath(inputs))
                                    : inputs.install_dir;
}

std::string StepFiveDir(const PluginSearchInputs& inputs) {
  return inputs.build_tree_dir.empty() ? BuildTreeDir(SelfPath(inputs))
                                       : inputs.build_tree_dir;
}

}  // namespace

std::string InstallPluginDir(const std::string& self_path) {
#if defined(CAIRN_INSTALL_BINDIR) && defined(CAIRN_INSTALL_LIBDIR) && \
    defined(CAIRN_INSTALL_PLUGIN_SUBDIR)
  if (!self_path.empty()) {
    const std::filesystem::path folder =
        std::filesystem::path(self_path).parent_path();
    for (const char* tail : {CAIRN_INSTALL_BINDIR, CAIRN_INSTALL_LIBDIR}) {
      std::string prefix = PrefixBefore(folder, tail);
      if (prefix.empty()) continue;
      std::string dir =
          (std::filesystem::path(prefix) / CAIRN_INSTALL_PLUGIN_SUBDIR)
              .string();
      if (IsFolder(dir)) return dir;
    }
  }
#else
  (void)self_path;
#endif
#ifdef CAIRN_INSTALL_PLUGIN_DIR
  return CAIRN_INSTALL_PLUGIN_DIR;
#else
  return "";
#endif
}

std::vector<PluginDir> AbsentDefaultPluginDirs(
    const PluginSearchInputs& inputs) {
  std::vector<PluginDir> absent;
  const std::string install = StepFourDir(inputs);
  if (!install.empty() && !IsFolder(install)) {
    absent.push_back({install, PluginDirSource::kInstall});
  }
  const std::string build_tree = StepFiveDir(inputs);
  if (!build_tree.empty() && !IsFolder(build_tree)) {
    absent.push_back({build_tree, PluginDirSource::kBuildTree});
  }
  return absent;
}

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
  const std::string install = StepFourDir(inputs);
  if (!install.empty() && IsFolder(install)) {
    add(install, PluginDirSource::kInstall);
  }
  const std::string build_tree = StepFiveDir(inputs);
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
