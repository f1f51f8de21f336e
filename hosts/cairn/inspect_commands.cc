// plugins, plugin-info, verify, stats, inspect.
#include <cairn/builtins.h>
#include <cairn/names.h>
#include <cairn/plugin.h>
#include <cairn/plugin_registry.h>
#include <cairn/status.h>

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <optional>
#include <ostream>
#include <tuple>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "commands.h"
#include "embedded_store_access.h"
#include "progress.h"
#include "store_access.h"

namespace cairn::cli {
namespace {

namespace po = boost::program_options;
using Json = nlohmann::ordered_json;  // fields in the order written

std::string Dump(const Json& value) {
  return value.dump(-1, ' ', false, Json::error_handler_t::replace);
}

std::vector<std::string> CapabilityNames(uint64_t capabilities) {
  static const std::pair<uint64_t, const char*> kNames[] = {
      {CAIRN_CAP_PERSISTENT, "persistent"},
      {CAIRN_CAP_LIVE_READS, "live-reads"},
      {CAIRN_CAP_TAGS, "tags"},
      {CAIRN_CAP_SNAPSHOTS, "snapshots"},
      {CAIRN_CAP_DELETE, "delete"},
      {CAIRN_CAP_APPLY, "apply"},
      {CAIRN_CAP_KEY_ROTATION, "key-rotation"},
      {CAIRN_CAP_MULTI_NODE, "multi-node"},
      {CAIRN_CAP_PASSTHROUGH, "passthrough"},
      {CAIRN_CAP_APPEND_MAY_BLOCK, "append-may-block"},
      {CAIRN_CAP_SEAL_IN_APPEND, "seal-in-append"},
      {CAIRN_CAP_ORDERED_LOG, "ordered-log"},
      {CAIRN_CAP_HOST_COMMIT, "host-commit"},
      {CAIRN_CAP_TRUNCATE, "truncate"},
      {CAIRN_CAP_EPOCHS, "epochs"},
      {CAIRN_CAP_IDEMPOTENT_APPEND, "idempotent-append"}};
  std::vector<std::string> names;
  uint64_t known = 0;
  for (const auto& [bit, name] : kNames) {
    known |= bit;
    if (capabilities & bit) names.push_back(name);
  }
  if (capabilities & ~known) {
    names.push_back(absl::StrCat("unknown-bits-0x", absl::Hex(capabilities & ~known)));
  }
  return names;
}

std::string AbiOf(const Plugin& plugin) {
  return absl::StrCat(plugin.descriptor().abi_major, ".", plugin.descriptor().abi_minor);
}

const char* OrEmpty(const char* text) { return text ? text : ""; }

std::vector<std::string> OptionFlagNames(uint32_t flags) {
  std::vector<std::string> names;
  if (flags & CAIRN_OPT_REQUIRED) names.push_back("required");
  if (flags & CAIRN_OPT_SECRET) names.push_back("secret");
  if (flags & CAIRN_OPT_HOST_DEFINED) names.push_back("host-defined");
  const uint32_t known =
      CAIRN_OPT_REQUIRED | CAIRN_OPT_SECRET | CAIRN_OPT_HOST_DEFINED;
  if (flags & ~known)
    names.push_back(absl::StrCat("unknown-bits-0x", absl::Hex(flags & ~known)));
  return names;
}

// A secret option's default is never printed (CAIRN_OPT_SECRET).
std::string DefaultOf(const OptionInfo& o) {
  return (o.flags & CAIRN_OPT_SECRET) && o.has_default ? "***"
                                                       : o.default_value;
}

// One option descriptor as a line, e.g.
//   zero-fill (enum: auto|always|never, default auto): pre-write new segments
std::string OptionLine(const OptionInfo& o) {
  std::vector<std::string> facts;
  facts.push_back(o.allowed.empty()
                      ? std::string(OptionTypeName(o.type))
                      : absl::StrCat(OptionTypeName(o.type), ": ",
                                     absl::StrJoin(o.allowed, "|")));
  facts.push_back(o.has_default ? absl::StrCat("default ", DefaultOf(o))
                                : "no default");
  for (std::string& flag : OptionFlagNames(o.flags))
    facts.push_back(std::move(flag));
  return absl::StrCat(o.key, " (", absl::StrJoin(facts, ", "), ")",
                      o.help.empty() ? "" : ": ", o.help);
}

Json OptionsJson(const Plugin& plugin) {
  Json options = Json::array();
  for (const OptionInfo& o : plugin.options()) {
    options.push_back(
        {{"key", o.key},
         {"type", OptionTypeName(o.type)},
         {"default", o.has_default ? Json(DefaultOf(o)) : Json(nullptr)},
         {"allowed", o.allowed},
         {"help", o.help},
         {"flags", OptionFlagNames(o.flags)}});
  }
  return options;
}

bool IsIntegral(double value) {
  return value == std::floor(value) && std::fabs(value) < 9.0e15;
}

// A stat as printed: counters as integers (absl's 6 significant digits
// would turn 268435456 into 2.68435e+08).
std::string StatText(double value) {
  return IsIntegral(value) ? absl::StrCat(static_cast<int64_t>(value))
                           : absl::StrCat(value);
}

// A stat in JSON: an integer when it is one.
Json Number(double value) {
  if (IsIntegral(value)) return static_cast<int64_t>(value);
  return value;
}

}  // namespace

int PluginsCommand(CommandContext& context) {
  StoreOptions store_flags;
  std::vector<std::string> dirs;
  po::options_description description("Flags");
  description.add_options()(
      "dir",
      po::value<std::vector<std::string>>(&dirs)->value_name("D")->composing(),
      "a plugin folder to list (repeatable); default: the folders every host "
      "searches, "
      "in order: --plugin-dir, $CAIRN_PLUGIN_DIR, [store] plugin-dirs (with "
      "--config), "
      "the installed folder, the build tree's")(
      "config",
      po::value<std::string>(&store_flags.config_file)->value_name("FILE"),
      "take the plugin folders from this site file")(
      "plugin-dir",
      po::value<std::vector<std::string>>(&store_flags.plugin_dirs)
          ->value_name("DIR")
          ->composing(),
      "a folder searched first, before the default ones (repeatable)")(
      "json", "one JSON line per plugin");
  po::variables_map variables;
  if (auto done = ParseCommandLine(
          context, "[--dir D]... [--config FILE] [--json]",
          "Lists the built-in plugins, then every plugin file in the plugin "
          "folders: kind,\n"
          "name, version, ABI and file, and under each the options it accepts. "
          "A file\n"
          "the loader refuses is reported on stderr with the reason; the exit "
          "code\n"
          "stays 0.",
          description, po::positional_options_description(), &variables)) {
    return *done;
  }
  if (dirs.empty()) {
    StoreOptions options = MergeStoreOptions(context.store_options, store_flags);
    SiteConfig site;
    if (!options.config_file.empty()) {
      absl::StatusOr<SiteConfig> config = ResolveSiteConfig(options);
      if (!config.ok()) {
        *context.err << "cairn plugins: " << config.status().message() << "\n";
        return kExitUsage;
      }
      site = *std::move(config);
    }
    absl::StatusOr<std::vector<std::string>> folders =
        PluginFolders(options, site);
    if (!folders.ok()) {
      *context.err << "cairn plugins: " << folders.status().message() << "\n";
      return kExitUsage;
    }
    dirs = *std::move(folders);
  }

  PluginRegistry builtins;
  if (absl::Status s = RegisterBuiltinPlugins(builtins); !s.ok()) return ReportError(context, s);
  // Files go into a registry of their own: a file of a built-in's name is
  // listed too, not refused as a duplicate.
  PluginRegistry files;
  for (const std::string& dir : dirs) files.AddSearchDir(dir);
  std::vector<absl::Status> refusals;
  std::vector<PluginPtr> plugins = builtins.List();
  for (PluginPtr& plugin : files.List(&refusals)) plugins.push_back(std::move(plugin));

  const bool json = variables.count("json") > 0;
  if (!json) {
    *context.out << std::left << std::setw(13) << "KIND" << std::setw(20) << "NAME"
                 << std::setw(10) << "VERSION" << std::setw(6) << "ABI" << "FILE\n";
  }
  for (const PluginPtr& plugin : plugins) {
    const std::string file =
        plugin->origin().rfind("built-in", 0) == 0 ? "built-in" : plugin->origin();
    if (json) {
      *context.out << Dump({{"kind", KindName(plugin->kind())},
                            {"name", plugin->name()},
                            {"version", plugin->version()},
                            {"abi", AbiOf(*plugin)},
                            {"file", file},
                            {"description",
                             OrEmpty(plugin->descriptor().description)},
                            {"options", OptionsJson(*plugin)}})
                   << '\n';
    } else {
      *context.out << std::left << std::setw(13) << KindName(plugin->kind()) << std::setw(20)
                   << plugin->name() << std::setw(10) << plugin->version() << std::setw(6)
                   << AbiOf(*plugin) << file << '\n';
      for (const OptionInfo& o : plugin->options()) {
        *context.out << "    option " << OptionLine(o) << '\n';
      }
    }
  }
  for (const absl::Status& refusal : refusals) {
    *context.err << "cairn plugins: refused: " << refusal.message() << "\n";
  }
  return kExitOk;
}

int PluginInfoCommand(CommandContext& context) {
  std::string file;
  po::options_description description("Flags");
  description.add_options()
      ("file", po::value<std::string>(&file)->value_name("FILE"), "the plugin library")
      ("json", "print one JSON object");
  po::positional_options_description positional;
  positional.add("file", 1);
  po::variables_map variables;
  if (auto done = ParseCommandLine(context, "FILE [--json]",
                                   "Loads one plugin file and prints "
                                   "everything in its descriptor: kind, name,\n"
                                   "version, description, ABI, capabilities, "
                                   "options (key, type, default, allowed\n"
                                   "values, flags, help) and table size. If "
                                   "the loader refuses the file, prints\n"
                                   "its reason and exits 2.",
                                   description, positional, &variables)) {
    return *done;
  }
  if (file.empty()) return ReportUsageError(context, "missing FILE");
  PluginRegistry registry;
  absl::StatusOr<PluginPtr> loaded = registry.LoadFile(file);
  if (!loaded.ok()) return ReportError(context, loaded.status());
  const Plugin& plugin = **loaded;
  const cairn_plugin_descriptor& d = plugin.descriptor();
  const uint32_t table_size = *static_cast<const uint32_t*>(d.table);
  const std::string host_abi = absl::StrCat(registry.host().major_max, ".", registry.host().minor);
  std::vector<std::string> capabilities =
      CapabilityNames(plugin.capabilities());
  if (variables.count("json")) {
    *context.out << Dump({{"file", plugin.origin()},
                          {"kind", KindName(plugin.kind())},
                          {"name", plugin.name()},
                          {"version", plugin.version()},
                          {"description", OrEmpty(d.description)},
                          {"abi", AbiOf(plugin)},
                          {"host_abi", host_abi},
                          {"capabilities", capabilities},
                          {"capability_bits", plugin.capabilities()},
                          {"options", OptionsJson(plugin)},
                          {"table_size", table_size},
                          {"required_table_size",
                           RequiredTableSize(plugin.kind())}})
                 << "\n";
    return kExitOk;
  }
  auto row = [&](const char* label, const std::string& value) {
    *context.out << std::left << std::setw(15) << label << value << "\n";
  };
  row("file:", plugin.origin());
  row("kind:", KindName(plugin.kind()));
  row("name:", plugin.name());
  row("version:", plugin.version());
  row("description:", OrEmpty(d.description));
  row("abi:", absl::StrCat(AbiOf(plugin), " (this host: ", host_abi, ")"));
  row("capabilities:",
      absl::StrCat("0x", absl::Hex(plugin.capabilities()),
                   capabilities.empty() ? "" : " ", absl::StrJoin(capabilities, " ")));
  std::vector<OptionInfo> options = plugin.options();
  if (options.empty()) {
    row("options:", "(none)");
  } else {
    *context.out << "options:\n";
  }
  for (const OptionInfo& o : options)
    *context.out << "  " << OptionLine(o) << "\n";
  row("table size:", absl::StrCat(table_size, " bytes (this host requires at least ",
                                  RequiredTableSize(plugin.kind()), ")"));
  return kExitOk;
}

int VerifyCommand(CommandContext& context) {
  StoreOptions store_flags;
  bool repair = false;
  bool deep = false;
  po::options_description description("Flags");
  description.add_options()("repair", po::bool_switch(&repair),
                            "open the store with the storage option "
                            "repair=true: damage the open refuses is cut "
                            "out or rebuilt, and every thing dropped is "
                            "printed (a copy is kept in quarantine/)")(
      "deep", po::bool_switch(&deep),
      "also open every event through its codec and cipher with the site's "
      "keyring (with or "
      "without a cipher configured, and after storage problems), naming "
      "stream, revision "
      "and position of each that fails");
  AddStoreOptions(description, &store_flags);
  po::variables_map variables;
  if (auto done = ParseCommandLine(
          context, "[--repair] [--deep]",
          "Runs the storage plugin's check of every stored record (checksums, "
          "structure,\n"
          "indexes) and, with a cipher configured, opens every event's seal, "
          "without\n"
          "changing anything. Prints each problem and what was checked; exits "
          "2 if there\n"
          "was a problem. A store whose open refuses damage (it names the file "
          "and\n"
          "offset) opens only with --repair, which prints each thing it "
          "repaired or\n"
          "dropped as 'repaired: ...' before checking what is left.",
          description, po::positional_options_description(), &variables)) {
    return *done;
  }
  if (repair) {
    if (!MergeStoreOptions(context.store_options, store_flags).server.empty()) {
      *context.err << "cairn verify: --repair works on the store's files; run it on the "
                      "server's machine with --data DIR while cairnd is stopped\n";
      return kExitUsage;
    }
    store_flags.overrides.push_back(std::string("storage.") + CAIRN_STORAGE_OPTION_REPAIR +
                                    "=true");
  }
  std::unique_ptr<StoreAccess> store;
  if (auto done = OpenStoreOrReport(context, store_flags, StoreUse::kRead, &store)) return *done;
  size_t problems = 0, repaired = 0;
  // On stderr, while the seal pass opens events (as inspect's: the total
  // is the log's positions, control records included).
  ProgressPrinter progress(context, "events");
  // Through a server nothing reports progress, so no server_info is asked
  // for (it would be one more audited admin action).
  uint64_t positions = 0;
  if (MergeStoreOptions(context.store_options, store_flags).server.empty()) {
    absl::StatusOr<StoreAccess::Summary> summary = store->GetSummary();
    if (summary.ok()) positions = summary->log.committed;
  }
  uint64_t opened = 0, opened_bytes = 0;
  absl::StatusOr<std::string> checked = store->Verify(
      [&](const std::string& problem) {
        if (IsRepairReport(problem)) {
          ++repaired;
          *context.out << EscapeForTerminal(problem) << "\n";
          return;
        }
        ++problems;
        *context.out << "problem: " << EscapeForTerminal(problem) << "\n";
      },
      deep,
      [&](uint64_t events, uint64_t bytes) {
        opened = events;
        opened_bytes = bytes;
        progress.Report(events, bytes, positions, false);
      });
  if (opened != 0) progress.Report(opened, opened_bytes, positions, true);
  if (!checked.ok()) return ReportError(context, checked.status());
  *context.out << "ok: " << store->Describe() << ": every record checks out (" << *checked
               << (repair ? absl::StrCat("; ", repaired, " repair(s) above") : "") << ")\n";
  return kExitOk;
}

int StatsCommand(CommandContext& context) {
  StoreOptions store_flags;
  po::options_description description("Flags");
  description.add_options()("json", "print one JSON object");
  AddStoreOptions(description, &store_flags);
  po::variables_map variables;
  if (auto done = ParseCommandLine(context, "[--json]",
                                   "Prints the storage and replication plugins' counters, "
                                   "one 'name value' a line.",
                                   description, po::positional_options_description(),
                                   &variables)) {
    return *done;
  }
  std::unique_ptr<StoreAccess> store;
  if (auto done = OpenStoreOrReport(context, store_flags, StoreUse::kRead, &store)) return *done;
  absl::StatusOr<std::map<std::string, double>> stats = store->Stats();
  if (!stats.ok()) return ReportError(context, stats.status());
  if (variables.count("json")) {
    *context.out << Dump(Json(*stats)) << "\n";
  } else {
    for (const auto& [name, value] : *stats)
      *context.out << name << " " << StatText(value) << "\n";
  }
  return kExitOk;
}

namespace {

struct StreamCount {
  std::string name;
  uint64_t events = 0;
  uint64_t bytes = 0;
};

std::string Mib(double bytes) {
  return absl::StrFormat("%.1f MiB", bytes / (1024.0 * 1024.0));
}

}  // namespace

int InspectCommand(CommandContext& context) {
  StoreOptions store_flags;
  uint64_t top = 10;
  po::options_description description("Flags");
  description.add_options()(
      "json", "print one JSON object (and progress as JSON lines on stderr)")(
      "top", po::value<uint64_t>(&top)->default_value(10),
      "largest streams listed");
  AddStoreOptions(description, &store_flags);
  po::variables_map variables;
  if (auto done = ParseCommandLine(
          context, "[--json] [--top N]",
          "Describes a store without changing it: its plugins, the log's "
          "watermarks and\n"
          "epoch, disk used (as the storage plugin measures its files) against "
          "the bytes\n"
          "of live events, the storage plugin's stats (segments, index, "
          "checkpoints), the\n"
          "streams and tags (counts, largest streams) and the codecs, ciphers "
          "and key ids\n"
          "the stored events were sealed with. Reads every live event once.",
          description, po::positional_options_description(), &variables)) {
    return *done;
  }
  std::unique_ptr<StoreAccess> store;
  if (auto done =
          OpenStoreOrReport(context, store_flags, StoreUse::kRead, &store))
    return *done;
  absl::StatusOr<StoreAccess::Summary> summary = store->GetSummary();
  if (!summary.ok()) return ReportError(context, summary.status());
  absl::StatusOr<std::map<std::string, double>> stats = store->Stats();
  if (!stats.ok()) return ReportError(context, stats.status());

  // One pass over the live events.
  std::unordered_map<std::string, StreamCount> streams;
  std::map<std::string, uint64_t> tags;
  // (codec, cipher, key id) -> events.
  std::map<std::tuple<std::string, std::string, uint32_t>, uint64_t> seals;
  uint64_t events = 0, event_bytes = 0;
  // On stderr; the total is the log's positions, control records included,
  // so the count may end below it.
  ProgressPrinter progress(context, "events", variables.count("json") > 0);
  const uint64_t positions = summary->log.committed;
  absl::Status read =
      store->ReadAll(0, UINT64_MAX, [&](const RecordedEvent& e) {
        const uint64_t bytes =
            e.data.size() + e.metadata.size() + e.type.size();
        StreamCount& s = streams[e.stream];
        if (s.name.empty()) s.name = e.stream;
        ++s.events;
        s.bytes += bytes;
        for (const std::string& tag : e.tags) ++tags[tag];
        ++seals[{e.codec.empty() ? "identity" : e.codec,
                 e.cipher.empty() ? "none" : e.cipher, e.key_id}];
        ++events;
        event_bytes += bytes;
        if (events % 4096 == 0) {
          progress.Report(events, event_bytes, positions, false);
        }
        return true;
      });
  if (!read.ok()) return ReportError(context, read);
  progress.Report(events, event_bytes, 0, true);
  std::vector<StreamCount> largest;
  largest.reserve(streams.size());
  for (auto& [name, count] : streams) largest.push_back(std::move(count));
  std::sort(largest.begin(), largest.end(),
            [](const StreamCount& a, const StreamCount& b) {
              return a.events != b.events ? a.events > b.events
                                          : a.name < b.name;
            });
  if (largest.size() > top) largest.resize(top);
  auto stat = [&](const std::string& key) -> std::optional<double> {
    auto it = stats->find(key);
    if (it == stats->end()) return std::nullopt;
    return it->second;
  };
  const std::optional<double> disk = stat("storage.bytes_on_disk");

  if (variables.count("json")) {
    Json storage_stats = Json::object();
    for (const auto& [key, value] : *stats) storage_stats[key] = Number(value);
    Json largest_json = Json::array();
    for (const StreamCount& s : largest) {
      largest_json.push_back(
          {{"stream", s.name}, {"events", s.events}, {"bytes", s.bytes}});
    }
    Json tags_json = Json::object();
    for (const auto& [tag, count] : tags) tags_json[tag] = count;
    Json seals_json = Json::array();
    for (const auto& [key, count] : seals) {
      seals_json.push_back({{"codec", std::get<0>(key)},
                            {"cipher", std::get<1>(key)},
                            {"key_id", std::get<2>(key)},
                            {"events", count}});
    }
    const LogState& log = summary->log;
    *context.out << Dump({{"store", store->Describe()},
                          {"plugins",
                           {{"storage", summary->storage},
                            {"codec", summary->codec},
                            {"cipher", summary->cipher},
                            {"replication", summary->replication}}},
                          {"log",
                           {{"first_position", log.first_position},
                            {"written", log.written},
                            {"durable", log.durable},
                            {"committed", log.committed},
                            {"epoch", log.epoch}}},
                          {"disk",
                           {{"bytes_on_disk",
                             disk ? Number(*disk) : Json(nullptr)},
                            {"live_event_bytes", event_bytes}}},
                          {"events", events},
                          {"streams", streams.size()},
                          {"largest_streams", largest_json},
                          {"tags", tags_json},
                          {"seals", seals_json},
                          {"stats", storage_stats}})
                 << "\n";
    return kExitOk;
  }
  std::ostream& out = *context.out;
  const LogState& log = summary->log;
  out << "store:        " << store->Describe() << "\n";
  out << "plugins:      storage " << summary->storage << ", codec "
      << summary->codec << ", cipher " << summary->cipher << ", replication "
      << summary->replication << "\n";
  out << "log:          positions " << log.first_position << ".." << log.written
      << " (committed " << log.committed << ", durable " << log.durable
      << "), epoch " << log.epoch << "\n";
  out << "disk:         " << (disk ? Mib(*disk) : std::string("(not reported)"))
      << " on disk; live events " << Mib(static_cast<double>(event_bytes))
      << " (" << events
      << " events: type, data and metadata as stored after the codec and cipher"
      << " are undone)\n";
  out << "streams:      " << streams.size() << "\n";
  for (const StreamCount& s : largest) {
    out << "  " << EscapeForTerminal(s.name) << "\t" << s.events << " events\t"
        << s.bytes << " bytes\n";
  }
  out << "tags:         " << tags.size() << "\n";
  for (const auto& [tag, count] : tags) {
    out << "  " << EscapeForTerminal(tag) << "\t" << count << " events\n";
  }
  out << "seals:\n";
  for (const auto& [key, count] : seals) {
    out << "  codec " << std::get<0>(key) << ", cipher " << std::get<1>(key)
        << ", key id " << std::get<2>(key) << ": " << count << " events\n";
  }
  out << "storage stats:\n";
  for (const auto& [key, value] : *stats)
    out << "  " << key << " " << StatText(value) << "\n";
  return kExitOk;
}

absl::StatusOr<std::string> NameVerified(const std::string& where,
                                         absl::StatusOr<std::string> checked) {
  if (checked.ok()) return checked;
  constexpr char kPrefix[] = "verify failed: ";
  std::string message(checked.status().message());
  if (absl::StartsWith(message, kPrefix)) message.erase(0, sizeof(kPrefix) - 1);
  return MakeStatus(CodeOf(checked.status()),
                    absl::StrCat("verify of ", where, " failed: ", message));
}

std::map<std::string, double> ReplicationStats(
    const std::map<std::string, double>& stats) {
  constexpr std::string_view kPrefix = "replication.";
  std::map<std::string, double> out;
  for (const auto& [key, value] : stats) {
    if (key.compare(0, kPrefix.size(), kPrefix) == 0)
      out[key.substr(kPrefix.size())] = value;
  }
  return out;
}

namespace {

const char* RoleWord(cairn_replication_role role) {
  switch (role) {
    case CAIRN_ROLE_PRIMARY:
      return "primary";
    case CAIRN_ROLE_REPLICA:
      return "replica";
    default:
      return "standalone";
  }
}

// What a command says when the replication plugin is single-node.
std::string SingleNode(const std::string& plugin) {
  return absl::StrCat(
      "replication plugin '", plugin,
      "' is single-node: there is no cluster, this node is standalone");
}

}  // namespace

int PromoteCommand(CommandContext& context) {
  StoreOptions store_flags;
  po::options_description description("Flags");
  AddStoreOptions(description, &store_flags);
  po::variables_map variables;
  if (auto done = ParseCommandLine(
          context, "",
          "Makes this node (the embedded store, or the --server's node) the "
          "primary of a new "
          "epoch through its replication plugin. Refused when a known peer "
          "holds records this "
          "node lacks.",
          description, po::positional_options_description(), &variables)) {
    return *done;
  }
  std::unique_ptr<StoreAccess> store;
  if (auto done =
          OpenStoreOrReport(context, store_flags, StoreUse::kWrite, &store))
    return *done;
  absl::StatusOr<StoreAccess::Cluster> before = store->ClusterStatus();
  if (!before.ok()) return ReportError(context, before.status());
  if (before->leader.role == CAIRN_ROLE_STANDALONE) {
    return ReportError(
        context, MakeStatus(CAIRN_E_UNSUPPORTED, SingleNode(before->plugin) +
                                                     "; nothing to promote"));
  }
  if (absl::Status promoted = store->Promote(); !promoted.ok()) {
    return ReportError(context, promoted);
  }
  absl::StatusOr<StoreAccess::Cluster> after = store->ClusterStatus();
  if (!after.ok()) return ReportError(context, after.status());
  *context.out << "promoted: " << store->Describe() << " is "
               << RoleWord(after->leader.role) << " in epoch "
               << after->leader.epoch << "\n";
  return kExitOk;
}

int MaintainCommand(CommandContext& context) {
  StoreOptions store_flags;
  po::options_description description("Flags");
  description.add_options()("json", "print one JSON object");
  AddStoreOptions(description, &store_flags);
  po::variables_map variables;
  if (auto done = ParseCommandLine(
          context, "[--json]",
          "Runs the storage plugin's maintenance now (retention as the site "
          "file configures it, index checkpoints), as storage otherwise does "
          "on its own schedule, and prints each change it made. With "
          "--server, on the running server's store (the admin right).",
          description, po::positional_options_description(), &variables)) {
    return *done;
  }
  std::unique_ptr<StoreAccess> store;
  if (auto done =
          OpenStoreOrReport(context, store_flags, StoreUse::kRead, &store))
    return *done;
  absl::StatusOr<std::vector<std::string>> changes = store->Maintain();
  if (!changes.ok()) return ReportError(context, changes.status());
  if (variables.count("json")) {
    *context.out << Dump(Json{{"store", store->Describe()},
                              {"changes", *changes}})
                 << "\n";
    return kExitOk;
  }
  for (const std::string& change : *changes) {
    *context.out << change << "\n";
  }
  *context.out << "maintained " << store->Describe() << ": "
               << (changes->empty()
                       ? std::string("nothing to do")
                       : absl::StrCat(changes->size(), " change(s)"))
               << "\n";
  return kExitOk;
}

int ClusterCommand(CommandContext& context) {
  StoreOptions store_flags;
  std::string action;
  po::options_description description("Flags");
  description.add_options()("json", "print one JSON object")(
      "action", po::value(&action), "status");
  AddStoreOptions(description, &store_flags);
  po::positional_options_description positional;
  positional.add("action", 1);
  po::variables_map variables;
  if (auto done = ParseCommandLine(
          context, "status [--json]",
          "Prints this node's replication role, epoch and leader, and the "
          "members the "
          "replication plugin reports (member.<node>.<what> in its stats).",
          description, positional, &variables)) {
    return *done;
  }
  if (action != "status") {
    return ReportError(
        context, MakeStatus(CAIRN_E_INVALID_ARGUMENT,
                            absl::StrCat("cluster: unknown action '", action,
                                         "'; the one action is 'status'")));
  }
  std::unique_ptr<StoreAccess> store;
  if (auto done =
          OpenStoreOrReport(context, store_flags, StoreUse::kRead, &store))
    return *done;
  absl::StatusOr<StoreAccess::Cluster> cluster = store->ClusterStatus();
  if (!cluster.ok()) return ReportError(context, cluster.status());
  const LeaderInfo& leader = cluster->leader;
  const bool single = leader.role == CAIRN_ROLE_STANDALONE;
  if (variables.count("json")) {
    nlohmann::ordered_json out;
    out["plugin"] = cluster->plugin;
    out["single_node"] = single;
    out["role"] = RoleWord(leader.role);
    out["epoch"] = leader.epoch;
    out["leader_known"] = leader.known;
    out["leader"] = leader.node;
    out["leader_address"] = leader.address;
    out["stats"] = Json(cluster->stats);
    *context.out << Dump(out) << "\n";
    return kExitOk;
  }
  if (single) {
    *context.out << SingleNode(cluster->plugin) << "\n";
    return kExitOk;
  }
  *context.out << "replication: " << cluster->plugin << "\n"
               << "role: " << RoleWord(leader.role) << "\n"
               << "epoch: " << leader.epoch << "\n"
               << "leader: "
               << (leader.known
                       ? absl::StrCat(leader.node,
                                      leader.address.empty() ? "" : " at ",
                                      leader.address)
                       : std::string("none known"))
               << "\n";
  // Members: stats named member.<node>.<what>, one line a member.
  std::map<std::string, std::vector<std::string>> members;
  for (const auto& [key, value] : cluster->stats) {
    constexpr std::string_view kMember = "member.";
    if (key.compare(0, kMember.size(), kMember) != 0) continue;
    const std::string rest = key.substr(kMember.size());
    const size_t dot = rest.rfind('.');
    if (dot == std::string::npos) continue;
    members[rest.substr(0, dot)].push_back(
        absl::StrCat(rest.substr(dot + 1), "=", static_cast<int64_t>(value)));
  }
  for (const auto& [node, values] : members) {
    *context.out << "member " << node << ": " << absl::StrJoin(values, " ")
                 << "\n";
  }
  if (members.empty()) *context.out << "members: the plugin reports none\n";
  return kExitOk;
}

}  // namespace cairn::cli
