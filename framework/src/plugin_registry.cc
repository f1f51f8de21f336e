#include <cairn/plugin_registry.h>

#include <cairn/plugin_search.h>
#include <cairn/status.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <system_error>

#include <boost/dll/shared_library.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace cairn {
namespace {

// The last field each kind had in ABI 2.0: a table must reach past it.
constexpr size_t kStorageV2_0 =
    offsetof(cairn_storage_api, maintain) + sizeof(cairn_storage_api::maintain);
constexpr size_t kCodecV2_0 =
    offsetof(cairn_codec_api, decode) + sizeof(cairn_codec_api::decode);
constexpr size_t kCipherV2_0 =
    offsetof(cairn_cipher_api, rotate) + sizeof(cairn_cipher_api::rotate);
constexpr size_t kReplicationV2_0 = offsetof(cairn_replication_api, promote) +
                                    sizeof(cairn_replication_api::promote);
constexpr size_t kDescriptorV2_0 = offsetof(cairn_plugin_descriptor, table) +
                                   sizeof(cairn_plugin_descriptor::table);

absl::Status Refuse(std::string_view origin, std::string_view reason) {
  return MakeStatus(CAIRN_E_FAILED_PRECONDITION,
                    absl::StrCat("plugin '", absl::string_view(origin.data(), origin.size()),
                                 "' refused: ", absl::string_view(reason.data(), reason.size())));
}

bool ValidPluginName(const char* name) {
  if (name == nullptr) return false;
  size_t n = std::strlen(name);
  if (n == 0 || n > 64) return false;
  for (size_t i = 0; i < n; ++i) {
    char c = name[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              (i > 0 && c == '-');
    if (!ok) return false;
  }
  return true;
}

// Checks that every function a plugin of this kind must have is present,
// and every optional one its capabilities promise.
absl::Status CheckFunctions(const cairn_plugin_descriptor* d,
                            std::string_view origin) {
  std::vector<std::string> missing;
  auto need = [&](auto fn, const char* name) {
    if (fn == nullptr) missing.push_back(name);
  };
  auto promised = [&](uint64_t cap, auto fn, const char* name) {
    if ((d->capabilities & cap) && fn == nullptr) missing.push_back(name);
  };
  switch (d->kind) {
    case CAIRN_KIND_STORAGE: {
      auto* t = static_cast<const cairn_storage_api*>(d->table);
      need(t->open, "open");
      need(t->close, "close");
      need(t->append, "append");
      need(t->read_stream, "read_stream");
      need(t->read_all, "read_all");
      need(t->head_revision, "head_revision");
      need(t->head_position, "head_position");
      need(t->list_streams, "list_streams");
      need(t->flush, "flush");
      promised(CAIRN_CAP_TAGS, t->read_tag, "read_tag");
      promised(CAIRN_CAP_LIVE_READS, t->wait_commit, "wait_commit");
      promised(CAIRN_CAP_DELETE, t->delete_to, "delete_to");
      promised(CAIRN_CAP_SNAPSHOTS, t->snapshot_save, "snapshot_save");
      promised(CAIRN_CAP_SNAPSHOTS, t->snapshot_load, "snapshot_load");
      promised(CAIRN_CAP_SNAPSHOTS, t->snapshot_delete, "snapshot_delete");
      promised(CAIRN_CAP_SNAPSHOTS, t->snapshot_delete_matching, "snapshot_delete_matching");
      if ((d->capabilities & CAIRN_CAP_APPLY) &&
          !(d->capabilities & CAIRN_CAP_ORDERED_LOG)) {
        return Refuse(origin,
                      "it declares CAIRN_CAP_APPLY without "
                      "CAIRN_CAP_ORDERED_LOG: since ABI 2.0 apply means "
                      "apply_log, which needs the ordered log");
      }
      promised(CAIRN_CAP_APPLY, t->apply_log, "apply_log");
      promised(CAIRN_CAP_ORDERED_LOG, t->read_log, "read_log");
      promised(CAIRN_CAP_ORDERED_LOG, t->apply_log, "apply_log");
      promised(CAIRN_CAP_ORDERED_LOG, t->log_state, "log_state");
      promised(CAIRN_CAP_HOST_COMMIT, t->set_committed, "set_committed");
      promised(CAIRN_CAP_TRUNCATE, t->truncate_after, "truncate_after");
      promised(CAIRN_CAP_EPOCHS, t->begin_epoch, "begin_epoch");
      promised(CAIRN_CAP_EPOCHS, t->epoch_end, "epoch_end");
      break;
    }
    case CAIRN_KIND_CODEC: {
      auto* t = static_cast<const cairn_codec_api*>(d->table);
      need(t->open, "open");
      need(t->close, "close");
      need(t->encode, "encode");
      need(t->decode, "decode");
      break;
    }
    case CAIRN_KIND_CIPHER: {
      auto* t = static_cast<const cairn_cipher_api*>(d->table);
      need(t->open, "open");
      need(t->close, "close");
      need(t->seal, "seal");
      need(t->open_sealed, "open_sealed");
      promised(CAIRN_CAP_KEY_ROTATION, t->rotate, "rotate");
      break;
    }
    case CAIRN_KIND_REPLICATION: {
      auto* t = static_cast<const cairn_replication_api*>(d->table);
      need(t->open, "open");
      need(t->close, "close");
      need(t->replicate, "replicate");
      need(t->role, "role");
      need(t->leader, "leader");
      need(t->promote, "promote");
      break;
    }
  }
  if (missing.empty()) return absl::OkStatus();
  return Refuse(origin, absl::StrCat("its ", KindName(static_cast<cairn_plugin_kind>(d->kind)),
                                     " table lacks required function(s): ",
                                     absl::StrJoin(missing, ", ")));
}

// A plugin that is part of the host binary.
class BuiltinPlugin : public Plugin {
 public:
  explicit BuiltinPlugin(const cairn_plugin_descriptor* d)
      : Plugin(d, "built-in") {}
};

// A plugin from a file; holds the library open for as long as it lives.
class FilePlugin : public Plugin {
 public:
  FilePlugin(const cairn_plugin_descriptor* d, std::string path,
             std::shared_ptr<boost::dll::shared_library> library)
      : Plugin(d, std::move(path)), library_(std::move(library)) {}

 private:
  std::shared_ptr<boost::dll::shared_library> library_;
};

cairn_host_offer MakeOffer(const HostAbi& host) {
  cairn_host_offer offer{};
  offer.size = sizeof(offer);
  offer.abi_major_min = host.major_min;
  offer.abi_major_max = host.major_max;
  offer.abi_minor = host.minor;
  offer.log = &HostLogCallback;
  offer.log_context = nullptr;
  return offer;
}

std::vector<std::string> PlatformFileNames(cairn_plugin_kind kind,
                                           const std::string& name) {
#if defined(_WIN32)
  const std::string ext = ".dll";
  const std::string lib = "";
#else
  const std::string ext = ".so";
  const std::string lib = "lib";
#endif
  std::string k = KindName(kind);
  return {lib + "cairn-" + k + "-" + name + ext, "cairn-" + k + "-" + name + ext,
          lib + name + ext, name + ext};
}

}  // namespace

Plugin::Plugin(const cairn_plugin_descriptor* descriptor, std::string origin)
    : descriptor_(descriptor),
      name_(descriptor->name),
      version_(descriptor->version ? descriptor->version : ""),
      origin_(std::move(origin)) {}

std::vector<std::string> Plugin::option_keys() const {
  std::vector<std::string> keys;
  for (const OptionInfo& o : options()) keys.push_back(o.key);
  return keys;
}

std::vector<OptionInfo> Plugin::options() const {
  std::vector<OptionInfo> out;
  if (descriptor_->options == nullptr) return out;
  for (const cairn_option_desc* const* p = descriptor_->options; *p != nullptr;
       ++p) {
    const cairn_option_desc* d = *p;
    if (!CAIRN_HAS_FIELD(cairn_option_desc, d, key) || d->key == nullptr) {
      continue;
    }
    OptionInfo o;
    o.key = d->key;
    if (CAIRN_HAS_FIELD(cairn_option_desc, d, type)) o.type = d->type;
    if (CAIRN_HAS_FIELD(cairn_option_desc, d, default_value) &&
        d->default_value != nullptr) {
      o.default_value = d->default_value;
      o.has_default = true;
    }
    if (CAIRN_HAS_FIELD(cairn_option_desc, d, allowed) &&
        d->allowed != nullptr) {
      for (const char* const* a = d->allowed; *a != nullptr; ++a) {
        o.allowed.emplace_back(*a);
      }
    }
    if (CAIRN_HAS_FIELD(cairn_option_desc, d, help) && d->help != nullptr) {
      o.help = d->help;
    }
    if (CAIRN_HAS_FIELD(cairn_option_desc, d, flags)) o.flags = d->flags;
    out.push_back(std::move(o));
  }
  return out;
}

const cairn_storage_api* Plugin::storage() const {
  return kind() == CAIRN_KIND_STORAGE
             ? static_cast<const cairn_storage_api*>(descriptor_->table)
             : nullptr;
}
const cairn_codec_api* Plugin::codec() const {
  return kind() == CAIRN_KIND_CODEC
             ? static_cast<const cairn_codec_api*>(descriptor_->table)
             : nullptr;
}
const cairn_cipher_api* Plugin::cipher() const {
  return kind() == CAIRN_KIND_CIPHER
             ? static_cast<const cairn_cipher_api*>(descriptor_->table)
             : nullptr;
}
const cairn_replication_api* Plugin::replication() const {
  return kind() == CAIRN_KIND_REPLICATION
             ? static_cast<const cairn_replication_api*>(descriptor_->table)
             : nullptr;
}

const char* KindName(cairn_plugin_kind kind) {
  switch (kind) {
    case CAIRN_KIND_STORAGE: return "storage";
    case CAIRN_KIND_CODEC: return "codec";
    case CAIRN_KIND_CIPHER: return "cipher";
    case CAIRN_KIND_REPLICATION: return "replication";
  }
  return "unknown";
}

absl::StatusOr<cairn_plugin_kind> ParseKind(std::string_view name) {
  for (cairn_plugin_kind k : {CAIRN_KIND_STORAGE, CAIRN_KIND_CODEC,
                              CAIRN_KIND_CIPHER, CAIRN_KIND_REPLICATION}) {
    if (name == KindName(k)) return k;
  }
  return MakeStatus(CAIRN_E_INVALID_ARGUMENT,
                    absl::StrCat("unknown plugin kind '",
                                 absl::string_view(name.data(), name.size()),
                                 "' (storage, codec, cipher or replication)"));
}

size_t RequiredTableSize(cairn_plugin_kind kind) {
  switch (kind) {
    case CAIRN_KIND_STORAGE:
      return kStorageV2_0;
    case CAIRN_KIND_CODEC:
      return kCodecV2_0;
    case CAIRN_KIND_CIPHER:
      return kCipherV2_0;
    case CAIRN_KIND_REPLICATION:
      return kReplicationV2_0;
  }
  return SIZE_MAX;
}

absl::Status CheckDescriptor(const cairn_plugin_descriptor* d,
                             const HostAbi& host, std::string_view origin) {
  if (d == nullptr) return Refuse(origin, "cairn_plugin_entry returned no descriptor");
  // size, magic and abi_major sit at the same offsets in every ABI major.
  if (d->magic != CAIRN_PLUGIN_MAGIC) {
    char buf[80];
    std::snprintf(buf, sizeof(buf), "bad magic 0x%08X (expected 0x%08X): not a Cairn plugin descriptor",
                  d->magic, CAIRN_PLUGIN_MAGIC);
    return Refuse(origin, buf);
  }
  if (d->abi_major == 1 && host.major_min > 1) {
    return MakeStatus(
        CAIRN_E_FAILED_PRECONDITION,
        absl::StrCat("plugin ", absl::string_view(origin.data(), origin.size()),
                     " was built for Cairn plugin ABI 1; this host needs ABI ",
                     host.major_min,
                     host.major_min == host.major_max
                         ? std::string()
                         : absl::StrCat("..", host.major_max),
                     ". See \"Migrating from ABI 1\" in docs/plugins.md."));
  }
  if (d->abi_major < host.major_min || d->abi_major > host.major_max) {
    return Refuse(origin,
                  absl::StrCat("it implements ABI ", d->abi_major, ".", d->abi_minor,
                               " but this host drives ABI major ", host.major_min,
                               host.major_min == host.major_max
                                   ? std::string()
                                   : absl::StrCat("..", host.major_max),
                               "; rebuild the plugin against a matching Cairn SDK"));
  }
  if (d->size < kDescriptorV2_0) {
    return Refuse(origin, absl::StrCat("its descriptor is ", d->size,
                                       " bytes, smaller than ABI 2.0's ",
                                       kDescriptorV2_0));
  }
  if (d->kind < CAIRN_KIND_STORAGE || d->kind > CAIRN_KIND_REPLICATION) {
    return Refuse(origin, absl::StrCat("unknown plugin kind ", d->kind));
  }
  if (!ValidPluginName(d->name)) {
    return Refuse(origin, absl::StrCat("invalid name '", d->name ? d->name : "(null)",
                                       "' (1..64 of a-z, 0-9, '-', not starting with '-')"));
  }
  if (d->version == nullptr) return Refuse(origin, "its descriptor has no version");
  if (d->table == nullptr) return Refuse(origin, "its descriptor has no function table");
  auto kind = static_cast<cairn_plugin_kind>(d->kind);
  uint32_t table_size = *static_cast<const uint32_t*>(d->table);
  if (table_size < RequiredTableSize(kind)) {
    return Refuse(
        origin,
        absl::StrCat("its ", KindName(kind), " table is ", table_size,
                     " bytes but this host requires at least ",
                     RequiredTableSize(kind), " (every field of ABI 2.0)"));
  }
  return CheckFunctions(d, origin);
}

PluginRegistry::PluginRegistry(HostAbi host) : host_(host) {}

absl::StatusOr<PluginPtr> PluginRegistry::Admit(PluginPtr plugin) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto key = std::make_pair(static_cast<int>(plugin->kind()), plugin->name());
  auto it = by_kind_name_.find(key);
  if (it != by_kind_name_.end()) {
    return Refuse(plugin->origin(),
                  absl::StrCat("a ", KindName(plugin->kind()), " plugin named '",
                               plugin->name(), "' is already registered from '",
                               it->second->origin(), "' (duplicate name)"));
  }
  by_kind_name_[key] = plugin;
  if (plugin->origin() != "built-in") by_file_[plugin->origin()] = plugin;
  return plugin;
}

absl::StatusOr<PluginPtr> PluginRegistry::RegisterBuiltin(
    cairn_plugin_entry_fn entry) {
  cairn_host_offer offer = MakeOffer(host_);
  const cairn_plugin_descriptor* d = nullptr;
  char message[512] = "";
  cairn_error error{message, sizeof(message)};
  cairn_status st = entry(&offer, &d, &error);
  if (st != CAIRN_OK) {
    return Refuse("built-in", absl::StrCat("its entry failed: ", message));
  }
  std::string origin = absl::StrCat("built-in ", d && d->name ? d->name : "?");
  absl::Status check = CheckDescriptor(d, host_, origin);
  if (!check.ok()) return check;
  return Admit(std::make_shared<BuiltinPlugin>(d));
}

absl::StatusOr<PluginPtr> PluginRegistry::LoadFile(const std::string& path) {
  std::error_code ec;
  std::filesystem::path fs_path(path);
  std::string canonical = std::filesystem::weakly_canonical(fs_path, ec).string();
  if (ec) canonical = path;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = by_file_.find(canonical);
    if (it != by_file_.end()) return it->second;
  }
  if (!std::filesystem::exists(fs_path, ec)) {
    return Refuse(path, "the file does not exist");
  }
  if (!std::filesystem::is_regular_file(fs_path, ec)) {
    return Refuse(path, "it is not a regular file");
  }
  auto library = std::make_shared<boost::dll::shared_library>();
  boost::system::error_code load_error;
  library->load(boost::dll::fs::path(canonical),
                boost::dll::load_mode::rtld_now | boost::dll::load_mode::rtld_local,
                load_error);
  if (load_error) {
    const char* detail = nullptr;
#if !defined(_WIN32)
    detail = dlerror();
#endif
    return Refuse(path, absl::StrCat("it is not a shared library this host can load (",
                                     detail ? detail : load_error.message(), ")"));
  }
  if (!library->has(CAIRN_PLUGIN_ENTRY_SYMBOL)) {
    return Refuse(path, "it has no exported 'cairn_plugin_entry' symbol: not a Cairn plugin");
  }
  auto entry = library->get<std::remove_pointer_t<cairn_plugin_entry_fn>>(
      CAIRN_PLUGIN_ENTRY_SYMBOL);
  cairn_host_offer offer = MakeOffer(host_);
  const cairn_plugin_descriptor* d = nullptr;
  char message[512] = "";
  cairn_error error{message, sizeof(message)};
  cairn_status st = entry(&offer, &d, &error);
  if (st != CAIRN_OK) {
    return Refuse(path, absl::StrCat("cairn_plugin_entry failed with ",
                                     CodeName(st), ": ", message));
  }
  absl::Status check = CheckDescriptor(d, host_, path);
  if (!check.ok()) return check;
  return Admit(std::make_shared<FilePlugin>(d, canonical, std::move(library)));
}

void PluginRegistry::AddSearchDir(const std::string& dir) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (std::find(search_dirs_.begin(), search_dirs_.end(), dir) ==
      search_dirs_.end()) {
    search_dirs_.push_back(dir);
  }
}

absl::StatusOr<PluginPtr> PluginRegistry::Find(cairn_plugin_kind kind,
                                               const std::string& name) {
  std::vector<std::string> dirs;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = by_kind_name_.find({static_cast<int>(kind), name});
    if (it != by_kind_name_.end()) return it->second;
    dirs = search_dirs_;
  }
  for (const std::string& dir : dirs) {
    for (const std::string& file : PlatformFileNames(kind, name)) {
      std::filesystem::path candidate = std::filesystem::path(dir) / file;
      std::error_code ec;
      if (!std::filesystem::exists(candidate, ec)) continue;
      absl::StatusOr<PluginPtr> plugin = LoadFile(candidate.string());
      if (!plugin.ok()) return plugin.status();
      if ((*plugin)->kind() != kind) {
        return Refuse(candidate.string(),
                      absl::StrCat("it is a ", KindName((*plugin)->kind()),
                                   " plugin, not a ", KindName(kind), " plugin (wrong kind)"));
      }
      if ((*plugin)->name() != name) {
        return Refuse(candidate.string(),
                      absl::StrCat("it names itself '", (*plugin)->name(),
                                   "', not '", name, "'"));
      }
      return plugin;
    }
  }
  // Every folder tried, and the default folders left out for not existing
  // (a moved or partial install shows here).
  std::string absent;
  for (const PluginDir& d : AbsentDefaultPluginDirs()) {
    if (std::find(dirs.begin(), dirs.end(), d.path) != dirs.end()) continue;
    absl::StrAppend(&absent, absent.empty() ? "" : ", ", d.path, " (",
                    PluginDirSourceName(d.source), ")");
  }
  const std::vector<std::string> names = PlatformFileNames(kind, name);
  return MakeStatus(
      CAIRN_E_NOT_FOUND,
      absl::StrCat(
          "no ", KindName(kind), " plugin named '", name, "': not built in, ",
          dirs.empty()
              ? std::string("and no plugin folder was searched")
              : absl::StrCat("and none of ", absl::StrJoin(names, ", "),
                             " is in the plugin folders searched: ",
                             absl::StrJoin(dirs, ", ")),
          absent.empty() ? std::string()
                         : absl::StrCat("; not searched, as they do not "
                                        "exist: ",
                                        absent)));
}

std::vector<PluginPtr> PluginRegistry::List(
    std::vector<absl::Status>* load_errors) {
  std::vector<std::string> dirs;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    dirs = search_dirs_;
  }
  for (const std::string& dir : dirs) {
    std::error_code ec;
    std::vector<std::string> files;
    for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
      std::string ext = entry.path().extension().string();
      if (entry.is_regular_file(ec) && (ext == ".so" || ext == ".dll" || ext == ".dylib")) {
        files.push_back(entry.path().string());
      }
    }
    if (ec && load_errors) {
      load_errors->push_back(MakeStatus(
          CAIRN_E_IO, absl::StrCat("cannot list plugin folder '", dir, "': ", ec.message())));
    }
    std::sort(files.begin(), files.end());
    for (const std::string& file : files) {
      absl::StatusOr<PluginPtr> plugin = LoadFile(file);
      if (!plugin.ok() && load_errors) load_errors->push_back(plugin.status());
    }
  }
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<PluginPtr> all;
  for (const auto& [key, plugin] : by_kind_name_) all.push_back(plugin);
  return all;
}

}  // namespace cairn
