#include "cli.h"

#include <cairn/log_sink.h>
#include <cairn/names.h>
#include <cairn/status.h>

#include <iomanip>
#include <mutex>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "commands.h"
#include "embedded_store_access.h"
#include "store_access.h"

#include "backup_command.h"
#include "keys_command.h"
#include "read_log_command.h"
#include "train_dict_command.h"
#ifdef CAIRN_CLI_HAVE_REMOTE
#include "remote_store_access.h"
#endif
#ifdef CAIRN_CLI_HAVE_AUDIT_COMMAND
#include "audit_command.h"
#endif

namespace cairn::cli {
namespace {

struct CommandEntry {
  const char* name;
  int (*run)(CommandContext&);
  const char* summary;
};

const std::vector<CommandEntry>& Commands() {
  // One line a command, longer than the column limit, so it reads as a table.
  // clang-format off
  static const std::vector<CommandEntry> kCommands = {
      {"append", AppendCommand, "append JSON-line events from stdin to a stream"},
      {"read", ReadCommand, "print a stream's events (--from --to --max --json)"},
      {"read-all", ReadAllCommand, "print every event, or those with --tag, by position"},
      {"streams", StreamsCommand, "list the streams and their head revisions"},
      {"head", HeadCommand, "print a stream's head revision (or the store's head position)"},
      {"tail", TailCommand, "follow new events live (a stream, a tag or all)"},
      {"delete-to", DeleteToCommand, "logically delete a stream's events up to a revision"},
      {"backup", BackupCommand, "copy the store's log into a folder, with a checked manifest"},
      {"restore", RestoreCommand, "check a backup (chain) whole, then restore it into --data DIR"},
      {"verify", VerifyCommand, "check every stored record; exit 2 on a problem"},
      {"stats", StatsCommand, "print the storage and replication counters"},
      {"inspect", InspectCommand, "describe a store: log, disk vs live data, streams, tags, key ids"},
      {"read-log", ReadLogCommand, "print the ordered log's records with their SHA-256 (--json)"},
      {"maintain", MaintainCommand, "run the storage's maintenance (retention) now"},
      {"promote", PromoteCommand, "make this node the replication primary of a new epoch"},
      {"cluster", ClusterCommand, "cluster status: role, epoch, leader and members"},
      {"plugins", PluginsCommand, "list built-in plugins and plugin files (--dir D)"},
      {"plugin-info", PluginInfoCommand, "print a plugin file's descriptor, or why it is refused"},
      {"keys", KeysCommand, "manage a cipher keyring: keys new|list|rotate --keyring FILE"},
#ifdef CAIRN_CLI_HAVE_AUDIT_COMMAND
      {"audit", AuditCommand, "check cairnd's audit log chain: audit verify FILE..."},
#endif
      {"train-dict", TrainDictCommand, "train a zstd dictionary from a store's events"},
      {"bench", BenchCommand, "run the benchmark harness (cairn-bench; see 'cairn bench --help')"},
  };
  // clang-format on
  return kCommands;
}

// Plugin log lines (and the framework's own) while a command runs, in the
// CLI's way: on `err`, after the command's name, e.g.
//   cairn head: mmaplog: warning: mmaplog ./data: 'notes.txt' in the store ...
// Info lines carry no level word; debug lines are dropped.
LogSink CommandLogSink(std::ostream& err, const std::string& command) {
  auto mutex = std::make_shared<std::mutex>();
  return [&err, command, mutex](cairn_log_level level, std::string_view source,
                                std::string_view message) {
    if (level < CAIRN_LOG_INFO) return;
    const char* word = level == CAIRN_LOG_WARN    ? "warning: "
                       : level == CAIRN_LOG_ERROR ? "error: "
                                                  : "";
    std::lock_guard<std::mutex> lock(*mutex);
    err << "cairn " << command << ": " << EscapeForTerminal(source) << ": "
        << word << EscapeForTerminal(message) << "\n";
  };
}

void PrintHelp(std::ostream& out) {
  out << "usage: cairn [--data DIR | --config FILE] [--set "
         "SECTION.KEY=VALUE]... "
         "[--plugin-dir DIR]...\n"
         "             [--server HOST:PORT] COMMAND [ARGS...]\n\n"
         "Cairn is an event store. Without --config or --data, commands use "
         "the store in\n"
         "./data (mmaplog storage). The store flags may also follow the "
         "command.\n\n"
         "Commands:\n";
  for (const CommandEntry& command : Commands()) {
    out << "  " << std::left << std::setw(13) << command.name << command.summary << "\n";
  }
  out << "\nStore flags:\n"
         "  --data DIR         the store's folder (default ./data)\n"
         "  --config FILE      a site file (INI) naming plugins and options\n"
         "  --set S.K=V        override one site setting, e.g. "
         "storage.fsync=never\n"
         "  --plugin-dir DIR   search DIR first for plugin files (repeatable); "
         "then\n"
         "                     $CAIRN_PLUGIN_DIR, [store] plugin-dirs, the "
         "installed folder\n"
         "  --server HOST:PORT talk to a cairnd server instead\n"
         "  --tls, --tls-ca FILE, --tls-cert FILE, --tls-key FILE, "
         "--tls-server-name NAME\n"
         "                     TLS and mutual TLS to the server (or the site "
         "file's [client])\n\n"
         "'cairn COMMAND --help' describes a command. Exit codes: 0 ok, 1 "
         "usage,\n"
         "2 data or store error, 3 conflict (wrong expected revision), 4 "
         "permission\n"
         "denied by the server. See docs/cli.md.\n";
}

// The global flags that take a value, as given before the command name.
std::string* GlobalValueFlag(StoreOptions& options, const std::string& name,
                             std::vector<std::string>** list) {
  *list = nullptr;
  if (name == "--data") return &options.data_dir;
  if (name == "--config") return &options.config_file;
  if (name == "--server") return &options.server;
  if (name == "--tls-ca") return &options.tls_ca;
  if (name == "--tls-cert") return &options.tls_cert;
  if (name == "--tls-key") return &options.tls_key;
  if (name == "--tls-server-name") return &options.tls_server_name;
  if (name == "--set") {
    *list = &options.overrides;
    return nullptr;
  }
  if (name == "--plugin-dir") {
    *list = &options.plugin_dirs;
    return nullptr;
  }
  return nullptr;
}

}  // namespace

StoreOpener DefaultStoreOpener() {
  return [](const StoreOptions& options) -> absl::StatusOr<std::unique_ptr<StoreAccess>> {
    if (!options.server.empty()) {
#ifdef CAIRN_CLI_HAVE_REMOTE
      return OpenRemoteStore(options);
#else
      return MakeStatus(CAIRN_E_UNSUPPORTED,
                        absl::StrCat("--server ", options.server,
                                     ": this cairn was built without the cairnd client "
                                     "library (hosts/cairnd/client); use an embedded store "
                                     "(--data or --config) instead"));
#endif
    }
    absl::StatusOr<SiteConfig> config = ResolveSiteConfig(options);
    if (!config.ok()) return config.status();
    absl::StatusOr<std::vector<std::string>> folders =
        PluginFolders(options, *config);
    if (!folders.ok()) return folders.status();
    config->plugin_dirs = *std::move(folders);
    return OpenEmbeddedStore(*config, StoreOpenOptions{.create = options.create});
  };
}

int RunCli(const std::vector<std::string>& args, const std::string& program_path,
           std::istream& in, std::ostream& out, std::ostream& err, StoreOpener opener) {
  CommandContext context;
  context.in = &in;
  context.out = &out;
  context.err = &err;
  context.program_path = program_path;
  context.open_store = std::move(opener);

  size_t i = 0;
  for (; i < args.size(); ++i) {
    const std::string& word = args[i];
    if (word == "--help" || word == "-h" || word == "help") {
      PrintHelp(out);
      return kExitOk;
    }
    if (word.empty() || word[0] != '-') break;
    if (word == "--tls") {
      context.store_options.tls = true;
      continue;
    }
    std::string name = word, value;
    bool has_value = false;
    if (size_t eq = word.find('='); eq != std::string::npos) {
      name = word.substr(0, eq);
      value = word.substr(eq + 1);
      has_value = true;
    }
    std::vector<std::string>* list = nullptr;
    std::string* target = GlobalValueFlag(context.store_options, name, &list);
    if (target == nullptr && list == nullptr) {
      err << "cairn: unknown flag '" << word << "' before the command\n"
          << "(try 'cairn --help')\n";
      return kExitUsage;
    }
    if (!has_value) {
      if (i + 1 >= args.size()) {
        err << "cairn: " << name << " needs a value\n(try 'cairn --help')\n";
        return kExitUsage;
      }
      value = args[++i];
    }
    if (list != nullptr) {
      list->push_back(value);
    } else {
      *target = value;
    }
  }
  if (i == args.size()) {
    err << "cairn: no command given\n\n";
    PrintHelp(err);
    return kExitUsage;
  }
  context.command = args[i];
  context.args.assign(args.begin() + static_cast<std::ptrdiff_t>(i) + 1, args.end());
  for (const CommandEntry& command : Commands()) {
    if (context.command == command.name) {
      // Until the command returns: the store it opens is closed by then.
      ScopedLogSink plugin_lines(CommandLogSink(err, context.command));
      try {
        return command.run(context);
      } catch (const std::exception& e) {
        // Commands report their own errors; this is a last guard so a bug
        // still ends with a message and a data-error code, not an abort.
        err << "cairn " << context.command << ": internal error: " << e.what() << "\n";
        return kExitDataError;
      }
    }
  }
  err << "cairn: unknown command '" << context.command << "'\n(try 'cairn --help')\n";
  return kExitUsage;
}

}  // namespace cairn::cli
