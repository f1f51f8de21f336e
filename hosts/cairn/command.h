// What a `cairn` command is: a function from a CommandContext to an exit code.
//
// Every command (append, read, ..., and the commands other folders add, such
// as `keys` and `train-dict`) has the signature
//
//   int SomethingCommand(CommandContext& context);
//
// It parses context.args (the words after the command name) with
// ParseCommandLine, writes results to *context.out and errors to
// *context.err, and returns one of the ExitCode values. It never calls
// exit() and lets no exception escape, so tests run commands in-process.
#ifndef CAIRN_HOSTS_CAIRN_COMMAND_H_
#define CAIRN_HOSTS_CAIRN_COMMAND_H_

#include <cairn/config.h>
#include <cairn/exit_code.h>

#include <cstdint>
#include <functional>
#include <iosfwd>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <boost/program_options.hpp>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace cairn::cli {

// The exit codes of every command: cairn::ExitCode (cairn/exit_code.h),
// shared with cairnd and listed in docs/cli.md.
using ::cairn::ExitCode;

// How a command picks its store. Given before the command name or among the
// command's own flags (AddStoreOptions).
struct StoreOptions {
  std::string data_dir;                // --data DIR; empty: ./data
  std::string config_file;             // --config FILE (site INI)
  std::vector<std::string> overrides;  // --set section.key=value, in order
  std::string server;                  // --server HOST:PORT; empty: embedded
  // --plugin-dir DIR (repeatable): searched first for plugin files
  // (cairn/plugin_search.h has the whole order).
  std::vector<std::string> plugin_dirs;
  // TLS to the --server (also from the site file's [client] section; flags
  // win). Any of tls_ca, tls_cert or `tls` turns TLS on.
  bool tls = false;                    // --tls
  std::string tls_ca;                  // --tls-ca FILE: CA of the server's cert
  std::string tls_cert;                // --tls-cert FILE: client cert (mTLS)
  std::string tls_key;                 // --tls-key FILE: its private key
  std::string tls_server_name;         // --tls-server-name: name to verify
  // Whether an embedded store may be made where there is none; set from
  // the command's StoreUse by OpenStoreOrReport, not by a flag.
  bool create = true;
};

// What a command does with its store: a command that only reads never
// creates one (a mistyped --data is "no store at PATH", exit 2).
enum class StoreUse { kRead, kWrite };

class StoreAccess;

// Opens the store that `options` select (embedded Store, or a cairnd server).
using StoreOpener = std::function<absl::StatusOr<std::unique_ptr<StoreAccess>>(
    const StoreOptions& options)>;

struct CommandContext {
  std::string command;            // the command's name, e.g. "append"
  std::vector<std::string> args;  // the words after the command name
  StoreOptions store_options;     // given before the command name
  std::istream* in = nullptr;
  std::ostream* out = nullptr;
  std::ostream* err = nullptr;
  std::string program_path;  // the running `cairn` binary (to find siblings)
  StoreOpener open_store;    // tests inject their own
};

// Adds --data, --config, --set, --server, --plugin-dir and the TLS flags to
// `description`, stored into
// `options`; see MergeStoreOptions for how they combine with those given
// before the command name.
void AddStoreOptions(boost::program_options::options_description& description,
                     StoreOptions* options);

// Parses context.args against `description` and `positional`. On --help
// prints "usage: cairn <command> <synopsis>", `summary` and the flags to
// *context.out and returns kExitOk; on a malformed command line prints the
// reason and the usage line to *context.err and returns kExitUsage; returns
// nullopt when the command should go on with `variables` filled in.
std::optional<int> ParseCommandLine(
    CommandContext& context, const std::string& synopsis,
    const std::string& summary,
    const boost::program_options::options_description& description,
    const boost::program_options::positional_options_description& positional,
    boost::program_options::variables_map* variables);

// The site configuration `options` select: the site file (if any), then
// --data as [store] path, then each --set in order. Errors are
// kInvalidArgument/kNotFound naming the file, section or key.
absl::StatusOr<SiteConfig> ResolveSiteConfig(const StoreOptions& options);

// Prints "cairn <command>: <message>" to *context.err and returns the exit
// code for `status`: kExitConflict for WrongExpectedRevision,
// kExitPermissionDenied for a server's PERMISSION_DENIED, else
// kExitDataError.
int ReportError(CommandContext& context, const absl::Status& status);

// Prints "cairn <command>: <message>" and returns kExitUsage.
int ReportUsageError(CommandContext& context, const std::string& message);

// context.store_options with `command_flags` (the store flags given after
// the command name, via AddStoreOptions) applied on top: a flag given there
// replaces the earlier value; --set assignments are appended.
StoreOptions MergeStoreOptions(const StoreOptions& before,
                               const StoreOptions& command_flags);

// Opens the store selected by context.store_options merged with
// `command_flags`, for `use` (kRead: an embedded store must exist already),
// and reports failure: a site-file or --set error, or a malformed --server
// address, yields kExitUsage; any other failure (including no store at the
// path for kRead) kExitDataError. On success `*store` is set and nullopt
// returned.
std::optional<int> OpenStoreOrReport(CommandContext& context,
                                     const StoreOptions& command_flags, StoreUse use,
                                     std::unique_ptr<StoreAccess>* store);

// Parses a non-negative decimal integer given to `flag` (e.g. "--max").
// Returns nullopt with *value set, or reports a usage error and returns
// kExitUsage. (Boost would silently wrap "-1" to 2^64-1.)
std::optional<int> ParseCountFlag(CommandContext& context, const std::string& flag,
                                  const std::string& text, uint64_t* value);

// Parses a byte size given to `flag` by the one size grammar
// (cairn/sdk/size.hpp: 4096, 64KiB, 100MiB, 10M; 'kb' is refused as
// ambiguous). Returns nullopt with *value set, or reports a usage error
// naming the flag and returns kExitUsage.
std::optional<int> ParseSizeFlag(CommandContext& context,
                                 const std::string& flag,
                                 const std::string& text, uint64_t* value);

// The site-file sections that belong to hosts ([server], [http], ...): the
// CLI accepts a site file written for cairnd and ignores them.
const std::set<std::string>& HostSections();

// The host keys ("client.tls-ca", ...) whose relative values in a site file
// name files beside the site file.
const std::set<std::string>& HostPathKeys();

// The plugin folders for `options` and its site `config`, in the one search
// order (cairn/plugin_search.h): --plugin-dir, $CAIRN_PLUGIN_DIR, [store]
// plugin-dirs, the installed folder, the build tree's. Fails naming a
// folder given by the user that does not exist.
absl::StatusOr<std::vector<std::string>> PluginFolders(
    const StoreOptions& options, const SiteConfig& config);

}  // namespace cairn::cli

#endif  // CAIRN_HOSTS_CAIRN_COMMAND_H_
