// Finding, loading and checking plugins (Boost.DLL underneath).
#ifndef CAIRN_PLUGIN_REGISTRY_H_
#define CAIRN_PLUGIN_REGISTRY_H_

#include <cairn/log_sink.h>
#include <cairn/plugin.h>

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace cairn {

// The ABI this host drives. Tests construct other values to pin negotiation.
struct HostAbi {
  uint16_t major_min = CAIRN_ABI_MAJOR;
  uint16_t major_max = CAIRN_ABI_MAJOR;
  uint16_t minor = CAIRN_ABI_MINOR;
};

// A plugin that passed every check. Holds its library: the library stays
// loaded while this object, or any instance opened from it (which keeps a
// shared_ptr to it), lives.
// One option a plugin accepts (cairn_option_desc, read within its size).
struct OptionInfo {
  std::string key;
  uint32_t type = CAIRN_OPT_STRING;  // cairn_option_type
  std::string default_value;
  bool has_default = false;
  std::vector<std::string> allowed;  // CAIRN_OPT_ENUM
  std::string help;
  uint32_t flags = 0;  // CAIRN_OPT_*
};

// The type's name as docs and `cairn plugin-info` print it: "string",
// "uint", "size", "bool", "enum", "duration", "path" ("type N" if unknown).
const char* OptionTypeName(uint32_t type);

// Checks `value` against option `option` of a plugin configured in
// [`section`]: UINT a decimal unsigned 64-bit integer, SIZE a byte size
// (cairn::sdk::Options::ParseSize), BOOL true|false, ENUM one of `allowed`,
// DURATION a number with ms|s|m|h (a plain number is ms), PATH non-empty;
// STRING anything. The error names section, key, the value ("***" for a
// CAIRN_OPT_SECRET option) and what is allowed, e.g.
//   [storage] zero-fill = 'sometimes': allowed: auto, always, never
absl::Status CheckOptionValue(std::string_view section,
                              const OptionInfo& option, std::string_view value);

// Checks a plugin's options before open: every key must be one of
// `described` (else an error naming section, key, plugin and the keys it
// accepts), every value must fit its type (CheckOptionValue), and every
// CAIRN_OPT_REQUIRED option must be set. A CAIRN_OPT_HOST_DEFINED option
// counts as set: the host fills it in itself.
absl::Status CheckOptions(
    std::string_view section, std::string_view plugin,
    const std::vector<OptionInfo>& described,
    const std::vector<std::pair<std::string, std::string>>& options);

class Plugin {
 public:
  virtual ~Plugin() = default;

  const cairn_plugin_descriptor& descriptor() const { return *descriptor_; }
  cairn_plugin_kind kind() const {
    return static_cast<cairn_plugin_kind>(descriptor_->kind);
  }
  const std::string& name() const { return name_; }
  const std::string& version() const { return version_; }
  uint64_t capabilities() const { return descriptor_->capabilities; }
  bool Has(uint64_t capability) const {
    return (capabilities() & capability) == capability;
  }
  // The file it came from, or "built-in".
  const std::string& origin() const { return origin_; }
  std::vector<std::string> option_keys() const;
  // The options open() accepts, as the plugin describes them.
  std::vector<OptionInfo> options() const;

  // The kind's table; nullptr if the kind differs.
  const cairn_storage_api* storage() const;
  const cairn_codec_api* codec() const;
  const cairn_cipher_api* cipher() const;
  const cairn_replication_api* replication() const;

 protected:
  Plugin(const cairn_plugin_descriptor* descriptor, std::string origin);

 private:
  const cairn_plugin_descriptor* descriptor_;
  std::string name_;
  std::string version_;
  std::string origin_;
};

using PluginPtr = std::shared_ptr<const Plugin>;

// Checks a descriptor against the host: magic, ABI major within range, kind,
// name, and a table large enough for every field this host requires. Returns
// a message naming `origin` and the reason, or OK. Pure: tests call it with
// synthetic descriptors to pin negotiation both ways.
absl::Status CheckDescriptor(const cairn_plugin_descriptor* descriptor,
                             const HostAbi& host, std::string_view origin);

// The smallest table size this host accepts for `kind` (every required
// function present).
size_t RequiredTableSize(cairn_plugin_kind kind);

const char* KindName(cairn_plugin_kind kind);  // "storage", "codec", ...
absl::StatusOr<cairn_plugin_kind> ParseKind(std::string_view name);

// Every plugin a host knows: built-ins first, then files. Thread-safe.
class PluginRegistry {
 public:
  explicit PluginRegistry(HostAbi host = HostAbi());

  // Registers a statically linked plugin. Refuses a duplicate name per kind.
  absl::StatusOr<PluginPtr> RegisterBuiltin(cairn_plugin_entry_fn entry);

  // Loads a plugin file. Refuses, naming the file and the reason: missing
  // file, not a shared library, no cairn_plugin_entry, entry failure, bad
  // magic, ABI major mismatch, table too small, a name already registered
  // for that kind. A file already loaded returns the same Plugin.
  absl::StatusOr<PluginPtr> LoadFile(const std::string& path);

  // Adds a folder searched by Find for files named after the plugin.
  void AddSearchDir(const std::string& dir);

  // A plugin of `kind` named `name`: built-in or already loaded, else a file
  // in the search folders (libcairn-<kind>-<name>.so, cairn-<kind>-<name>.so
  // or <name>.so; .dll on Windows). Fails listing where it looked.
  // `expected_kind` refusal: a file found by that name with another kind.
  absl::StatusOr<PluginPtr> Find(cairn_plugin_kind kind,
                                 const std::string& name);

  // Loads every plugin file in the search folders (errors are returned per
  // file, not fatal) and returns all known plugins.
  std::vector<PluginPtr> List(std::vector<absl::Status>* load_errors = nullptr);

  const HostAbi& host() const { return host_; }

 private:
  absl::StatusOr<PluginPtr> Admit(PluginPtr plugin);

  HostAbi host_;
  std::mutex mutex_;
  std::vector<std::string> search_dirs_;
  std::map<std::pair<int, std::string>, PluginPtr> by_kind_name_;
  std::map<std::string, PluginPtr> by_file_;
};

}  // namespace cairn

#endif  // CAIRN_PLUGIN_REGISTRY_H_
