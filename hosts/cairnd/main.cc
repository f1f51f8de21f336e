// cairnd: serves a Cairn store over the cairn.v1 protocol (docs/server.md).
//
//   cairnd [--config site.ini] [--set section.key=value ...] [flags]
//
// Exit status: cairn::ExitCode (cairn/exit_code.h, docs/cli.md "Exit
// codes"), the table `cairn` uses too: 0 after a clean shutdown
// (SIGTERM/SIGINT), 1 for a bad flag, flag value, site file or setting, 2
// when the store, the sockets or the TLS files fail at start-up or the
// final flush fails.
#include <boost/program_options.hpp>
#include <iostream>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "cairn/builtins.h"
#include "cairn/config.h"
#include "cairn/exit_code.h"
#include "cairn/plugin_registry.h"
#include "cairn/plugin_search.h"
#include "cairn/store.h"
#include "google/protobuf/stubs/logging.h"
#include "log.h"
#include "metrics.h"
#include "request_executor.h"
#include "server.h"
#include "server_options.h"

namespace po = boost::program_options;

namespace {

// Flags that are shorthands for one site-file key.
struct FlagKey {
  const char* flag;
  const char* key;
  const char* help;
};

constexpr FlagKey kFlagKeys[] = {
    {"data", "store.path", "store folder ([store] path)"},
    {"storage", "storage.plugin", "storage plugin ([storage] plugin)"},
    {"listen", "server.listen", "protocol address ([server] listen)"},
    {"port", "server.port", "protocol port, 0 = any free ([server] port)"},
    {"port-file", "server.port-file", "write the bound port here"},
    {"io-threads", "server.io-threads", "I/O threads ([server] io-threads)"},
    {"workers", "server.workers", "store worker threads ([server] workers)"},
    {"http-listen", "http.listen", "HTTP address ([http] listen)"},
    {"http-port", "http.port", "HTTP port, 0 = any free, off ([http] port)"},
    {"http-port-file", "http.port-file", "write the bound HTTP port here"},
    {"tls-mode", "tls.mode", "on | off | auto ([tls] mode)"},
    {"tls-cert", "tls.cert-file", "PEM certificate chain ([tls] cert-file)"},
    {"tls-key", "tls.key-file", "PEM private key ([tls] key-file)"},
    {"tls-ca", "tls.ca-file", "PEM CA for client certs: mutual TLS"},
};

// cairnd's keys whose relative values in a site file name files beside it
// ([client] is cairn's: it lists its own).
const std::set<std::string>& HostPathKeys() {
  static const auto* keys = new std::set<std::string>{
      "server.port-file", "http.port-file", "tls.cert-file",
      "tls.key-file",     "tls.ca-file",    "audit.path"};
  return *keys;
}

constexpr char kExitCodesHelp[] =
    "Exit codes: 0 clean shutdown, 1 usage (bad flag, value, site file or "
    "setting),\n2 the store, sockets or TLS files failed. See docs/cli.md.\n";

// A usage error before logging starts: plain text on stderr, exit 1.
int UsageError(const std::string& message) {
  std::cerr << "cairnd: " << message << "\n(try 'cairnd --help')\n";
  return cairn::kExitUsage;
}

void LogError(const std::string& what, const absl::Status& status) {
  cairn::cairnd::Log(spdlog::level::err, what,
                     {{"error", std::string(status.message())}});
}

}  // namespace

int main(int argc, char** argv) {
  po::options_description flags("cairnd options");
  std::string config_file;
  std::vector<std::string> assignments;
  std::vector<std::string> plugin_dirs;
  std::string log_level = "info";
  flags.add_options()("help,h", "show this help")(
      "version", "print the version")("config,c", po::value(&config_file),
                                      "site file (INI)")(
      "set", po::value(&assignments)->composing(),
      "override a site key: section.key=value (repeatable)")(
      "plugin-dir", po::value(&plugin_dirs)->composing(),
      "search this folder first for plugin files (repeatable)")(
      "log-level", po::value(&log_level), cairn::cairnd::kLogLevels);
  for (const FlagKey& f : kFlagKeys) {
    flags.add_options()(f.flag, po::value<std::string>(), f.help);
  }
  po::variables_map vm;
  try {
    po::store(po::parse_command_line(argc, argv, flags), vm);
    po::notify(vm);
  } catch (const std::exception& e) {
    return UsageError(e.what());
  }
  if (vm.count("help")) {
    std::cout
        << "usage: cairnd [--config FILE] [--set SECTION.KEY=VALUE]... "
           "[--plugin-dir DIR]... [flags]\n\n"
        << flags << "\nWith no config: store ./data, mmaplog, "
        << "127.0.0.1:7600 plain TCP, HTTP on 127.0.0.1:7601.\n"
        << "Plugin files are searched in --plugin-dir, $CAIRN_PLUGIN_DIR, "
           "[store] plugin-dirs,\nthen the installed plugin folder.\n"
        << kExitCodesHelp << "Keys and protocol: docs/server.md\n";
    return 0;
  }
  if (vm.count("version")) {
    std::cout << "cairnd " << cairn::cairnd::kServerVersion
              << " (protocol cairn.v1)\n";
    return 0;
  }

  auto level = cairn::cairnd::ParseLogLevel(log_level);
  if (!level.ok()) return UsageError(std::string(level.status().message()));
  cairn::cairnd::InitJsonLogging(*level);
  cairn::cairnd::RoutePluginLogs();
  // protobuf's own warnings (e.g. invalid UTF-8 in a hostile frame) go to
  // the debug log, not to stderr as free text.
  google::protobuf::SetLogHandler([](google::protobuf::LogLevel,
                                     const char* file, int line,
                                     const std::string& message) {
    cairn::cairnd::Log(spdlog::level::debug, "protobuf",
                       {{"detail", message},
                        {"at", absl::StrCat(file, ":", line)}});
  });

  const auto& sections = cairn::cairnd::HostSections();
  absl::StatusOr<cairn::SiteConfig> site =
      config_file.empty()
          ? cairn::SiteConfig()
          : cairn::SiteConfig::LoadFile(config_file, sections, HostPathKeys());
  if (!site.ok()) {
    LogError("cannot read the site file", site.status());
    return cairn::kExitUsage;
  }
  for (const FlagKey& f : kFlagKeys) {
    if (vm.count(f.flag)) {
      assignments.push_back(
          absl::StrCat(f.key, "=", vm[f.flag].as<std::string>()));
    }
  }
  for (const std::string& assignment : assignments) {
    if (auto s = site->Override(assignment, sections); !s.ok()) {
      LogError("bad override '" + assignment + "'", s);
      return cairn::kExitUsage;
    }
  }
  // The search order every host uses (cairn/plugin_search.h).
  cairn::PluginSearchInputs search;
  search.flag_dirs = plugin_dirs;
  search.site_dirs = site->plugin_dirs;
  auto folders = cairn::PluginSearchPaths(search);
  if (!folders.ok()) {
    LogError("bad plugin folder", folders.status());
    return cairn::kExitUsage;
  }
  site->plugin_dirs = *std::move(folders);
  auto options = cairn::cairnd::ServerOptionsFromSite(*site);
  if (!options.ok()) {
    const std::string at = cairn::cairnd::SiteFileLineOf(
        config_file, std::string(options.status().message()));
    cairn::cairnd::Log(spdlog::level::err, "bad server settings",
                       {{"error", std::string(options.status().message())},
                        {"at", at.empty() ? "a flag or --set" : at}});
    return cairn::kExitUsage;
  }

  cairn::PluginRegistry registry;
  if (auto s = cairn::RegisterBuiltinPlugins(registry); !s.ok()) {
    LogError("cannot register the built-in plugins", s);
    return cairn::kExitDataError;
  }
  auto store = cairn::Store::Open(*site, registry);
  if (!store.ok()) {
    LogError("cannot open the store at " + site->path, store.status());
    return cairn::kExitDataError;
  }
  cairn::cairnd::ResolveInlineAppends(**store, *options);

  cairn::cairnd::ServerMetrics metrics;
  int exit_code = cairn::kExitOk;
  {
    cairn::cairnd::Server server(*options, site->path, store->get(), &metrics);
    if (auto s = server.Start(); !s.ok()) {
      LogError("cannot start", s);
      exit_code = cairn::kExitDataError;
    } else {
      server.Run();  // returns after SIGTERM / SIGINT and the drain
    }
  }
  if (auto s = (*store)->Flush(); !s.ok()) {
    LogError("flush at shutdown failed", s);
    exit_code = cairn::kExitDataError;
  }
  store->reset();
  cairn::cairnd::Log(spdlog::level::info, "store closed",
                     {{"path", site->path}});
  return exit_code;
}
