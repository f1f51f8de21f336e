#include <cairn/config.h>

#include <cairn/status.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <boost/program_options.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace cairn {
namespace {

namespace po = boost::program_options;

absl::Status ConfigError(const std::string& origin, const std::string& what) {
  return MakeStatus(CAIRN_E_INVALID_ARGUMENT, absl::StrCat(origin, ": ", what));
}

PluginChoice* SlotFor(SiteConfig& config, const std::string& section) {
  if (section == "storage") return &config.storage;
  if (section == "codec") return &config.codec;
  if (section == "cipher") return &config.cipher;
  if (section == "replication") return &config.replication;
  return nullptr;
}

// `path` taken relative to `base_dir` (the site file's folder); as given
// when it is absolute or there is no base (a flag, an override).
std::string Resolve(const std::string& base_dir, const std::string& path) {
  if (base_dir.empty() || path.empty()) return path;
  std::filesystem::path p(path);
  if (p.is_absolute()) return path;
  return (std::filesystem::path(base_dir) / p).lexically_normal().string();
}

// Where relative paths in a site file are taken from.
struct PathBase {
  std::string dir;                         // empty: keep paths as given
  const std::set<std::string>* host_keys;  // "section.key" holding paths
};

// Sets section.key = value, checking section and key names. Plugin option
// keys are checked later, against the chosen plugin, by Store::Open.
absl::Status Assign(SiteConfig& config, const std::string& origin,
                    const std::set<std::string>& host_sections,
                    const std::string& section, const std::string& key,
                    const std::string& value,
                    const PathBase& base = {"", nullptr}) {
  if (section.empty()) {
    return ConfigError(origin, absl::StrCat("key '", key,
                                            "' is outside any section; put it under [store], "
                                            "[storage], [codec], [cipher] or [replication]"));
  }
  if (key.empty()) {
    return ConfigError(origin, absl::StrCat("empty key in section [", section, "]"));
  }
  if (section == "store") {
    if (key == "path") {
      if (value.empty()) return ConfigError(origin, "[store] path is empty");
      config.path = Resolve(base.dir, value);
    } else if (key == "plugin-dirs") {
      config.plugin_dirs.clear();
      for (absl::string_view dir : absl::StrSplit(value, ',', absl::SkipWhitespace())) {
        config.plugin_dirs.push_back(
            Resolve(base.dir, std::string(absl::StripAsciiWhitespace(dir))));
      }
    } else if (key == "allow-plaintext" || key == "allow-new-keyring") {
      if (value != "true" && value != "false") {
        return ConfigError(origin, absl::StrCat("[store] ", key, " = ", value,
                                                ": expected true or false"));
      }
      (key == "allow-plaintext" ? config.allow_plaintext : config.allow_new_keyring) =
          value == "true";
    } else {
      return ConfigError(origin, absl::StrCat("unknown key '", key,
                                              "' in section [store] (known: path, plugin-dirs, "
                                              "allow-plaintext, allow-new-keyring)"));
    }
    return absl::OkStatus();
  }
  if (PluginChoice* slot = SlotFor(config, section)) {
    if (key == "plugin") {
      if (value.empty()) {
        return ConfigError(origin, absl::StrCat("[", section, "] plugin is empty"));
      }
      if (slot->plugin != value) {
        slot->options.clear();
        slot->option_dirs.clear();
      }
      slot->plugin = value;
      return absl::OkStatus();
    }
    // Which options are paths only the plugin's descriptor says: the folder
    // goes with the value, and Store::Open resolves it.
    if (base.dir.empty()) {
      slot->option_dirs.erase(key);
    } else {
      slot->option_dirs[key] = base.dir;
    }
    for (auto& [k, v] : slot->options) {
      if (k == key) {
        v = value;
        return absl::OkStatus();
      }
    }
    slot->options.emplace_back(key, value);
    return absl::OkStatus();
  }
  if (host_sections.count(section)) {
    const bool is_path = base.host_keys != nullptr &&
                         base.host_keys->count(absl::StrCat(section, ".", key));
    config.host_sections[section][key] =
        is_path ? Resolve(base.dir, value) : value;
    return absl::OkStatus();
  }
  std::vector<std::string> known = {"store", "storage", "codec", "cipher", "replication"};
  known.insert(known.end(), host_sections.begin(), host_sections.end());
  return ConfigError(origin, absl::StrCat("unknown section [", section, "] (known: ",
                                          absl::StrJoin(known, ", "), ")"));
}

}  // namespace

std::vector<std::pair<std::string, std::string>> PluginChoice::ResolvedOptions(
    const std::set<std::string>& path_keys) const {
  std::vector<std::pair<std::string, std::string>> resolved = options;
  for (auto& [key, value] : resolved) {
    auto dir = option_dirs.find(key);
    if (dir != option_dirs.end() && path_keys.count(key)) {
      value = Resolve(dir->second, value);
    }
  }
  return resolved;
}

absl::StatusOr<SiteConfig> SiteConfig::Parse(
    const std::string& text, const std::string& origin,
    const std::set<std::string>& host_sections, const std::string& base_dir,
    const std::set<std::string>& host_path_keys) {
  SiteConfig config;
  // Lines Boost would call invalid are refused here first: Boost 1.74 builds
  // that error by replacing "%invalid_line%" in its message with the line,
  // and loops forever when the line holds that token (found by fuzzing).
  {
    std::istringstream lines(text);
    std::string line;
    for (int number = 1; std::getline(lines, line); ++number) {
      absl::string_view l = line;
      l = l.substr(0, l.find('#'));  // Boost drops what follows a '#'
      l = absl::StripAsciiWhitespace(l);
      if (l.empty()) continue;
      const bool section = l.front() == '[' && l.back() == ']';
      if (!section && l.find('=') == absl::string_view::npos) {
        return ConfigError(origin, absl::StrCat("not a valid INI file: line ", number,
                                                " is neither '[section]' nor 'key = value'"));
      }
    }
  }
  std::istringstream in(text);
  po::parsed_options parsed(nullptr);
  try {
    po::options_description none;
    parsed = po::parse_config_file(in, none, /*allow_unregistered=*/true);
  } catch (const std::exception& e) {
    return ConfigError(origin, absl::StrCat("not a valid INI file: ", e.what()));
  }
  std::set<std::string> seen;
  // Within a plugin section, "plugin" is applied first so that options
  // written above it are not dropped when the plugin is chosen.
  for (int pass = 0; pass < 2; ++pass) {
    for (const po::option& option : parsed.options) {
      const std::string& full = option.string_key;
      size_t dot = full.find('.');
      std::string section = dot == std::string::npos ? "" : full.substr(0, dot);
      std::string key = dot == std::string::npos ? full : full.substr(dot + 1);
      bool is_plugin_key = key == "plugin";
      if ((pass == 0) != is_plugin_key) continue;
      if (!seen.insert(full).second) {
        return ConfigError(origin, absl::StrCat("key '", key, "' is given twice in [",
                                                section, "]"));
      }
      std::string value = option.value.empty() ? "" : option.value.front();
      absl::Status s = Assign(config, origin, host_sections, section, key,
                              value, PathBase{base_dir, &host_path_keys});
      if (!s.ok()) return s;
    }
  }
  return config;
}

absl::StatusOr<SiteConfig> SiteConfig::LoadFile(
    const std::string& path, const std::set<std::string>& host_sections,
    const std::set<std::string>& host_path_keys) {
  std::ifstream file(path);
  if (!file) {
    return MakeStatus(CAIRN_E_NOT_FOUND,
                      absl::StrCat("cannot read site file '", path, "'"));
  }
  std::stringstream text;
  text << file.rdbuf();
  std::error_code ec;
  std::filesystem::path folder =
      std::filesystem::absolute(path, ec).parent_path();
  if (ec) {
    return MakeStatus(
        CAIRN_E_INVALID_ARGUMENT,
        absl::StrCat("site file '", path,
                     "': cannot tell its folder: ", ec.message()));
  }
  return Parse(text.str(), path, host_sections,
               folder.lexically_normal().string(), host_path_keys);
}

absl::Status SiteConfig::Override(const std::string& assignment,
                                  const std::set<std::string>& extra_sections) {
  size_t eq = assignment.find('=');
  size_t dot = assignment.find('.');
  if (eq == std::string::npos || dot == std::string::npos || dot > eq) {
    return ConfigError("override", absl::StrCat("'", assignment,
                                                "' is not of the form section.key=value"));
  }
  std::string section = assignment.substr(0, dot);
  std::string key = assignment.substr(dot + 1, eq - dot - 1);
  std::string value = assignment.substr(eq + 1);
  std::set<std::string> hosts = extra_sections;
  for (const auto& [name, values] : this->host_sections) hosts.insert(name);
  return Assign(*this, absl::StrCat("override '", assignment, "'"), hosts, section,
                key, value);
}

}  // namespace cairn
