#include "command.h"

#include <cairn/names.h>
#include <cairn/plugin_search.h>
#include <cairn/sdk/size.hpp>
#include <cairn/status.h>

#include <exception>
#include <ostream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "store_access.h"

namespace cairn::cli {

namespace po = boost::program_options;

void AddStoreOptions(po::options_description& description, StoreOptions* options) {
  description.add_options()(
      "data", po::value<std::string>(&options->data_dir)->value_name("DIR"),
      "store folder (default ./data; overrides [store] path)")(
      "config",
      po::value<std::string>(&options->config_file)->value_name("FILE"),
      "site file (INI) choosing plugins and options")(
      "set",
      po::value<std::vector<std::string>>(&options->overrides)
          ->value_name("SECTION.KEY=VALUE")
          ->composing(),
      "override one site setting, e.g. storage.plugin=memory (repeatable)")(
      "server",
      po::value<std::string>(&options->server)->value_name("HOST:PORT"),
      "use a cairnd server instead of an embedded store")(
      "plugin-dir",
      po::value<std::vector<std::string>>(&options->plugin_dirs)
          ->value_name("DIR")
          ->composing(),
      "search DIR first for plugin files (repeatable)")(
      "tls", po::bool_switch(&options->tls), "talk TLS to the --server")(
      "tls-ca", po::value<std::string>(&options->tls_ca)->value_name("FILE"),
      "PEM CA that signed the server's certificate (turns TLS on)")(
      "tls-cert",
      po::value<std::string>(&options->tls_cert)->value_name("FILE"),
      "PEM client certificate, for a server with mutual TLS (turns TLS on)")(
      "tls-key", po::value<std::string>(&options->tls_key)->value_name("FILE"),
      "PEM private key of --tls-cert")(
      "tls-server-name",
      po::value<std::string>(&options->tls_server_name)->value_name("NAME"),
      "name to verify in the server's certificate (default: the --server "
      "host)");
}

std::optional<int> ParseCommandLine(CommandContext& context, const std::string& synopsis,
                                    const std::string& summary,
                                    const po::options_description& description,
                                    const po::positional_options_description& positional,
                                    po::variables_map* variables) {
  po::options_description all;
  all.add(description);
  all.add_options()("help,h", "show this help");
  const std::string usage = absl::StrCat("usage: cairn ", context.command,
                                         synopsis.empty() ? "" : " ", synopsis);
  // Arguments taken by position (STREAM, REV, FILE, ...) are options to
  // Boost but not flags to the user: the help does not list them and
  // `--stream S` for a positional STREAM is refused.
  std::set<std::string> by_position;
  for (unsigned i = 0; i < positional.max_total_count() && i < 8; ++i) {
    by_position.insert(positional.name_for_position(i));
  }
  po::options_description shown("Flags");
  for (const auto& option : all.options()) {
    if (!by_position.count(option->long_name())) shown.add(option);
  }
  for (const std::string& arg : context.args) {
    if (arg == "--") break;
    if (arg.rfind("--", 0) != 0) continue;
    const std::string name = arg.substr(2, arg.find('=') - 2);
    if (by_position.count(name)) {
      *context.err << "cairn " << context.command << ": '" << arg
                   << "' is not a flag; give that argument by position\n"
                   << usage << "\n(try 'cairn " << context.command
                   << " --help')\n";
      return kExitUsage;
    }
  }
  try {
    po::store(po::command_line_parser(context.args)
                  .options(all)
                  .positional(positional)
                  .style(po::command_line_style::default_style &
                         ~po::command_line_style::allow_guessing)
                  .run(),
              *variables);
    if (variables->count("help")) {
      *context.out
          << usage << "\n\n"
          << summary << "\n\n"
          << shown << "\n"
          << "Exit codes: 0 ok, 1 usage, 2 data or store error, 3 conflict, "
             "4 permission denied.\n";
      return kExitOk;
    }
    po::notify(*variables);
  } catch (const std::exception& e) {
    *context.err << "cairn " << context.command << ": " << e.what() << "\n"
                 << usage << "\n(try 'cairn " << context.command << " --help')\n";
    return kExitUsage;
  }
  return std::nullopt;
}

const std::set<std::string>& HostSections() {
  static const std::set<std::string> kSections = {"server", "http",  "tls",   "limits",
                                                  "access", "audit", "client"};
  return kSections;
}

const std::set<std::string>& HostPathKeys() {
  static const std::set<std::string> kKeys = {
      "client.tls-ca", "client.tls-cert", "client.tls-key"};
  return kKeys;
}

absl::StatusOr<std::vector<std::string>> PluginFolders(
    const StoreOptions& options, const SiteConfig& config) {
  PluginSearchInputs inputs;
  inputs.flag_dirs = options.plugin_dirs;
  inputs.site_dirs = config.plugin_dirs;
  return PluginSearchPaths(inputs);
}

absl::StatusOr<SiteConfig> ResolveSiteConfig(const StoreOptions& options) {
  SiteConfig config;
  if (!options.config_file.empty()) {
    absl::StatusOr<SiteConfig> loaded = SiteConfig::LoadFile(
        options.config_file, HostSections(), HostPathKeys());
    if (!loaded.ok()) return loaded.status();
    config = *std::move(loaded);
  }
  if (!options.data_dir.empty()) config.path = options.data_dir;
  for (const std::string& assignment : options.overrides) {
    absl::Status s = config.Override(assignment, HostSections());
    if (!s.ok()) return s;
  }
  return config;
}

int ReportError(CommandContext& context, const absl::Status& status) {
  *context.err << "cairn " << context.command << ": " << EscapeForTerminal(std::string(status.message()))
               << "\n";
  if (IsWrongExpectedRevision(status)) return kExitConflict;
  if (absl::IsPermissionDenied(status)) return kExitPermissionDenied;
  return kExitDataError;
}

int ReportUsageError(CommandContext& context, const std::string& message) {
  *context.err << "cairn " << context.command << ": " << EscapeForTerminal(message) << "\n"
               << "(try 'cairn " << context.command << " --help')\n";
  return kExitUsage;
}

StoreOptions MergeStoreOptions(const StoreOptions& before, const StoreOptions& command_flags) {
  StoreOptions merged = before;
  if (!command_flags.data_dir.empty()) merged.data_dir = command_flags.data_dir;
  if (!command_flags.config_file.empty()) merged.config_file = command_flags.config_file;
  if (!command_flags.server.empty()) merged.server = command_flags.server;
  merged.tls = merged.tls || command_flags.tls;
  for (auto field : {&StoreOptions::tls_ca, &StoreOptions::tls_cert, &StoreOptions::tls_key,
                     &StoreOptions::tls_server_name}) {
    if (!(command_flags.*field).empty()) merged.*field = command_flags.*field;
  }
  merged.overrides.insert(merged.overrides.end(), command_flags.overrides.begin(),
                          command_flags.overrides.end());
  merged.plugin_dirs.insert(merged.plugin_dirs.end(),
                            command_flags.plugin_dirs.begin(),
                            command_flags.plugin_dirs.end());
  return merged;
}

std::optional<int> OpenStoreOrReport(CommandContext& context, const StoreOptions& command_flags,
                                     StoreUse use, std::unique_ptr<StoreAccess>* store) {
  StoreOptions options = MergeStoreOptions(context.store_options, command_flags);
  options.create = use == StoreUse::kWrite;
  if (!options.server.empty()) {
    // HOST:PORT or [v6]:PORT, port 1..65535: a malformed address is a
    // usage error, found before any connection is tried.
    const std::string& address = options.server;
    size_t colon = address.rfind(':');
    uint32_t port = 0;
    std::string port_text = colon == std::string::npos ? "" : address.substr(colon + 1);
    if (colon == std::string::npos || colon == 0 || port_text.empty() || port_text[0] == '+' ||
        port_text[0] == '-' ||
        !absl::SimpleAtoi(absl::string_view(port_text.data(), port_text.size()), &port) ||
        port == 0 || port > 65535) {
      *context.err << "cairn " << context.command << ": --server takes HOST:PORT (port 1..65535), "
                   << "not '" << address << "'\n";
      return kExitUsage;
    }
  } else {
    // A malformed site file or --set is a usage error, found before anything
    // is opened.
    absl::StatusOr<SiteConfig> config = ResolveSiteConfig(options);
    if (!config.ok()) {
      *context.err << "cairn " << context.command << ": " << config.status().message() << "\n";
      return kExitUsage;
    }
    // So is a plugin folder named by the user that is not there.
    if (auto folders = PluginFolders(options, *config); !folders.ok()) {
      *context.err << "cairn " << context.command << ": "
                   << folders.status().message() << "\n";
      return kExitUsage;
    }
  }
  if (!context.open_store) {
    return ReportError(context, MakeStatus(CAIRN_E_INTERNAL, "no store opener configured"));
  }
  absl::StatusOr<std::unique_ptr<StoreAccess>> opened = context.open_store(options);
  if (!opened.ok()) return ReportError(context, opened.status());
  *store = *std::move(opened);
  return std::nullopt;
}

std::optional<int> ParseCountFlag(CommandContext& context, const std::string& flag,
                                  const std::string& text, uint64_t* value) {
  if (text.empty() || text[0] == '-' || text[0] == '+' ||
      !absl::SimpleAtoi(absl::string_view(text.data(), text.size()), value)) {
    return ReportUsageError(context, absl::StrCat(flag, " takes a non-negative integer, not '",
                                                  text, "'"));
  }
  return std::nullopt;
}

std::optional<int> ParseSizeFlag(CommandContext& context,
                                 const std::string& flag,
                                 const std::string& text, uint64_t* value) {
  std::string error;
  std::optional<uint64_t> bytes = sdk::ParseByteSize(text, &error);
  if (!bytes) return ReportUsageError(context, absl::StrCat(flag, " ", error));
  *value = *bytes;
  return std::nullopt;
}

}  // namespace cairn::cli
