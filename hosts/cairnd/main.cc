// cairnd: serves a Cairn store over the cairn.v1 protocol (docs/server.md).
//
//   cairnd [--config site.ini] [--set section.key=value ...] [flags]
//
// Exit status: 0 after a clean shutdown (SIGTERM/SIGINT), 1 when start-up
// fails (the reason is logged), 2 for bad command-line flags.
#include <boost/program_options.hpp>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "cairn/builtins.h"
#include "cairn/config.h"
#include "cairn/plugin_registry.h"
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

void LogError(const std::string& what, const absl::Status& status) {
  cairn::cairnd::Log(spdlog::level::err, what,
                     {{"error", std::string(status.message())}});
}

}  // namespace

int main(int argc, char** argv) {
  po::options_description flags("cairnd options");
  std::string config_file;
  std::vector<std::string> assignments;
  std::string log_level = "info";
  flags.add_options()("help,h", "show this help")(
      "version", "print the version")(
      "config,c", po::value(&config_file), "site file (INI)")(
      "set", po::value(&assignments)->composing(),
      "override a site key: section.key=value (repeatable)")(
      "log-level", po::value(&log_level), "debug | info | warn | error");
  for (const FlagKey& f : kFlagKeys) {
    flags.add_options()(f.flag, po::value<std::string>(), f.help);
  }
  po::variables_map vm;
  try {
    po::store(po::parse_command_line(argc, argv, flags), vm);
    po::notify(vm);
  } catch (const std::exception& e) {
    std::cerr << "cairnd: " << e.what() << "\n" << flags << "\n";
    return 2;
  }
  if (vm.count("help")) {
    std::cout << flags << "\nWith no config: store ./data, mmaplog, "
              << "127.0.0.1:7600 plain TCP, HTTP on 127.0.0.1:7601.\n"
              << "Keys and protocol: docs/server.md\n";
    return 0;
  }
  if (vm.count("version")) {
    std::cout << "cairnd " << cairn::cairnd::kServerVersion
              << " (protocol cairn.v1)\n";
    return 0;
  }

  cairn::cairnd::InitJsonLogging(log_level);
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
      config_file.empty() ? cairn::SiteConfig()
                          : cairn::SiteConfig::LoadFile(config_file, sections);
  if (!site.ok()) {
    LogError("cannot read the site file", site.status());
    return 1;
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
      return 1;
    }
  }
#ifdef CAIRN_INSTALL_PLUGIN_DIR
  // Where the packages put plugin files; cairn and libcairn-c search it too.
  if (site->plugin_dirs.empty()) site->plugin_dirs.push_back(CAIRN_INSTALL_PLUGIN_DIR);
#endif
  auto options = cairn::cairnd::ServerOptionsFromSite(*site);
  if (!options.ok()) {
    const std::string at = cairn::cairnd::SiteFileLineOf(
        config_file, std::string(options.status().message()));
    cairn::cairnd::Log(spdlog::level::err, "bad server settings",
                       {{"error", std::string(options.status().message())},
                        {"at", at.empty() ? "a --set flag" : at}});
    return 1;
  }

  cairn::PluginRegistry registry;
  if (auto s = cairn::RegisterBuiltinPlugins(registry); !s.ok()) {
    LogError("cannot register the built-in plugins", s);
    return 1;
  }
  auto store = cairn::Store::Open(*site, registry);
  if (!store.ok()) {
    LogError("cannot open the store at " + site->path, store.status());
    return 1;
  }
  cairn::cairnd::ResolveInlineAppends(**store, *options);

  cairn::cairnd::ServerMetrics metrics;
  int exit_code = 0;
  {
    cairn::cairnd::Server server(*options, site->path, store->get(), &metrics);
    if (auto s = server.Start(); !s.ok()) {
      LogError("cannot start", s);
      exit_code = 1;
    } else {
      server.Run();  // returns after SIGTERM / SIGINT and the drain
    }
  }
  if (auto s = (*store)->Flush(); !s.ok()) {
    LogError("flush at shutdown failed", s);
    exit_code = 1;
  }
  store->reset();
  cairn::cairnd::Log(spdlog::level::info, "store closed",
                     {{"path", site->path}});
  return exit_code;
}
