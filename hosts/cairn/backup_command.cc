#include "backup_command.h"

#include <cairn/builtins.h>
#include <cairn/status.h>

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <ostream>
#include <set>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "backup.h"
#include "backup_archive.h"
#include "progress.h"
#ifdef CAIRN_CLI_HAVE_REMOTE
#include "remote_store_access.h"
#endif

namespace cairn::cli {
namespace {

namespace po = boost::program_options;

// backup.h Progress, printed by progress.h's printer.
class BackupProgress {
 public:
  BackupProgress(CommandContext& context, bool json)
      : printer_(context, "records", json) {}
  void operator()(const backup::Progress& p) {
    printer_.Report(p.records, p.bytes, p.total_records, p.done);
  }

 private:
  ProgressPrinter printer_;
};

// The site config and plugin registry for `store_flags` (embedded only).
std::optional<int> ResolveEmbedded(CommandContext& context,
                                   const StoreOptions& store_flags,
                                   SiteConfig* config,
                                   PluginRegistry* registry) {
  StoreOptions options = MergeStoreOptions(context.store_options, store_flags);
  if (!options.server.empty()) {
    // backup and restore take --server before they come here.
    return ReportError(context,
                       MakeStatus(CAIRN_E_INTERNAL,
                                  absl::StrCat("--server: ", context.command,
                                               " resolved an embedded store")));
  }
  absl::StatusOr<SiteConfig> resolved = ResolveSiteConfig(options);
  if (!resolved.ok())
    return ReportUsageError(context, std::string(resolved.status().message()));
  absl::StatusOr<std::vector<std::string>> folders =
      PluginFolders(options, *resolved);
  if (!folders.ok())
    return ReportUsageError(context, std::string(folders.status().message()));
  resolved->plugin_dirs = *std::move(folders);
  *config = *std::move(resolved);
  if (absl::Status s = RegisterBuiltinPlugins(*registry); !s.ok()) {
    return ReportError(context, s);
  }
  for (const std::string& dir : config->plugin_dirs)
    registry->AddSearchDir(dir);
  return std::nullopt;
}

// A private folder removed with everything in it.
class ScratchFolder {
 public:
  ~ScratchFolder() {
    std::error_code ignored;
    if (!path_.empty()) std::filesystem::remove_all(path_, ignored);
  }
  // Under `parent`, or $TMPDIR (else /tmp) if it is empty.
  absl::Status Make(const std::string& parent) {
    const char* tmp = std::getenv("TMPDIR");
    std::string base = !parent.empty()                    ? parent
                       : (tmp != nullptr && *tmp != '\0') ? tmp
                                                          : "/tmp";
    std::string pattern = base + "/.cairn-backup-XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) {
      return MakeStatus(CAIRN_E_IO,
                        "cannot make a scratch folder in '" + base + "'");
    }
    path_ = pattern;
    return absl::OkStatus();
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Unpacks archive `name` ('-': `in`) into the new folder `folder`.
absl::Status Unpack(const std::string& name, const std::string& folder,
                    std::istream* in = nullptr) {
  std::filesystem::create_directories(folder);
  if (name == "-") {
    if (in == nullptr)
      return MakeStatus(CAIRN_E_INVALID_ARGUMENT, "'-' is not a backup here");
    return backup::UnpackArchive(*in, "(stdin)", folder);
  }
  std::ifstream file(name, std::ios::binary);
  if (!file)
    return MakeStatus(CAIRN_E_NOT_FOUND, "cannot read archive '" + name + "'");
  return backup::UnpackArchive(file, name, folder);
}

// Packs backup `folder` into `dest` ('-': `out`), the file under a temporary
// name synced and renamed, so a cut run leaves no DEST.
absl::Status Pack(const std::string& folder, const std::string& dest,
                  std::ostream& out) {
  if (dest == "-") return backup::PackFolder(folder, out);
  const std::string partial = dest + ".partial";
  {
    std::ofstream file(partial, std::ios::binary | std::ios::trunc);
    if (!file) return MakeStatus(CAIRN_E_IO, "cannot create '" + partial + "'");
    if (absl::Status s = backup::PackFolder(folder, file); !s.ok()) return s;
    file.close();
    if (!file) return MakeStatus(CAIRN_E_IO, "cannot write '" + partial + "'");
  }
  int fd = ::open(partial.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0 || ::fsync(fd) != 0) {
    if (fd >= 0) ::close(fd);
    return MakeStatus(CAIRN_E_IO, "cannot sync '" + partial + "'");
  }
  ::close(fd);
  std::error_code ec;
  std::filesystem::rename(partial, dest, ec);
  if (ec)
    return MakeStatus(CAIRN_E_IO,
                      "cannot rename '" + partial + "': " + ec.message());
  return absl::OkStatus();
}

}  // namespace

int BackupCommand(CommandContext& context) {
  StoreOptions store_flags;
  std::string dest, previous, chunk_text, rate_text;
  po::options_description description("Flags");
  description.add_options()("dest", po::value<std::string>(&dest),
                            "backup folder")(
      "incremental-from", po::value<std::string>(&previous)->value_name("PREV"),
      "hold only the records after backup PREV's last position")(
      "chunk-size", po::value<std::string>(&chunk_text)->value_name("SIZE"),
      "start a new chunk file after SIZE bytes (default 64MiB)")(
      "max-rate", po::value<std::string>(&rate_text)->value_name("SIZE"),
      "write at most SIZE bytes a second (default: no limit)")(
      "json",
      "progress as JSON lines on stderr, the result as one JSON object");
  AddStoreOptions(description, &store_flags);
  po::positional_options_description positional;
  positional.add("dest", 1);
  po::variables_map variables;
  if (auto done =
          ParseCommandLine(context,
                           "DEST [--incremental-from PREV] [--chunk-size SIZE] "
                           "[--max-rate SIZE] [--json]",
                           "Copies the store's ordered log, up to its "
                           "committed position when the\n"
                           "backup starts, into the new or empty folder DEST: "
                           "chunk files of records\n"
                           "as stored (sealed: no key is read or written) and "
                           "manifest.json (the\n"
                           "plugins and key ids the data needs, every file's "
                           "SHA-256), written last.\n"
                           "DEST FILE.tar.zst (or -, stdout) writes them as "
                           "one zstd tar archive.\n"
                           "With --server HOST:PORT the records stream from "
                           "a running cairnd (the admin\n"
                           "right), which goes on serving; the backup is the "
                           "same.\n"
                           "Restore with 'cairn restore DEST --data DIR'.",
                           description, positional, &variables)) {
    return *done;
  }
  if (dest.empty())
    return ReportUsageError(context, "missing DEST (a new or empty folder)");
  // An archive (DEST '-' or FILE.tar.zst; PREV FILE.tar.zst): the backup
  // is made in a scratch folder beside it, then packed.
  const bool to_archive = backup::IsArchiveName(dest);
  if (to_archive && dest != "-" && std::filesystem::exists(dest)) {
    return ReportUsageError(context, "'" + dest + "' exists; give a new file");
  }
  ScratchFolder scratch;
  if (to_archive || backup::IsArchiveName(previous)) {
    std::string parent =
        dest == "-" || !to_archive
            ? std::string()
            : std::filesystem::path(dest).parent_path().string();
    if (absl::Status s = scratch.Make(parent); !s.ok())
      return ReportError(context, s);
  }
  backup::BackupOptions options;
  options.dest = to_archive ? scratch.path() + "/backup" : dest;
  options.incremental_from = previous;
  if (backup::IsArchiveName(previous)) {
    options.incremental_from = scratch.path() + "/previous";
    if (absl::Status s = Unpack(previous, options.incremental_from); !s.ok()) {
      return ReportError(context, s);
    }
  }
  if (!chunk_text.empty()) {
    if (auto done = ParseSizeFlag(context, "--chunk-size", chunk_text,
                                  &options.chunk_bytes)) {
      return *done;
    }
    if (options.chunk_bytes == 0)
      return ReportUsageError(context, "--chunk-size must be > 0");
  }
  if (!rate_text.empty()) {
    if (auto done = ParseSizeFlag(context, "--max-rate", rate_text,
                                  &options.max_bytes_per_second)) {
      return *done;
    }
  }
  // The records come from the store here (--data), or stream from a
  // running cairnd (--server); one writer makes the backup either way.
  SiteConfig config;
  PluginRegistry registry;
  std::unique_ptr<Store> store;
  std::unique_ptr<backup::LogSource> source;
  const StoreOptions merged =
      MergeStoreOptions(context.store_options, store_flags);
  if (!merged.server.empty()) {
#ifdef CAIRN_CLI_HAVE_REMOTE
    // Builtin plugins only: they name the codec and cipher versions.
    if (absl::Status s = RegisterBuiltinPlugins(registry); !s.ok())
      return ReportError(context, s);
    absl::StatusOr<std::unique_ptr<backup::LogSource>> remote =
        OpenRemoteLogSource(merged);
    if (!remote.ok()) return ReportError(context, remote.status());
    source = *std::move(remote);
#else
    return ReportError(
        context, MakeStatus(CAIRN_E_UNSUPPORTED,
                            "--server: this cairn was built without "
                            "the cairnd client (CAIRN_BUILD_SERVER=OFF)"));
#endif
  } else {
    if (auto done = ResolveEmbedded(context, store_flags, &config, &registry))
      return *done;
    absl::StatusOr<std::unique_ptr<Store>> opened =
        backup::OpenForBackup(config, registry);
    if (!opened.ok()) return ReportError(context, opened.status());
    store = *std::move(opened);
    source = backup::StoreLogSource(*store);
  }
  const bool json = variables.count("json") > 0;
  BackupProgress printer(context, json);
  options.registry = &registry;
  options.progress = [&printer](const backup::Progress& p) { printer(p); };
  absl::StatusOr<backup::BackupResult> result =
      backup::WriteBackup(*source, options);
  if (!result.ok()) return ReportError(context, result.status());
  std::ostream* report = context.out;
  if (to_archive) {
    absl::Status s = Pack(options.dest, dest, *context.out);
    if (!s.ok()) return ReportError(context, s);
    if (dest == "-") report = context.err;  // stdout holds the archive
  }
  const backup::Manifest& m = result->manifest;
  if (json) {
    *report << nlohmann::ordered_json{{"backup", dest},
                                      {"base_position", m.base_position},
                                      {"last_position", m.last_position},
                                      {"records", result->records},
                                      {"chunks", m.chunks.size()},
                                      {"bytes", result->bytes},
                                      {"incremental_from",
                                       m.base_position
                                           ? nlohmann::ordered_json(previous)
                                           : nullptr},
                                      {"manifest_sha256",
                                       result->manifest_sha256}}
                   .dump()
            << "\n";
    return kExitOk;
  }
  const std::string range =
      m.last_position > m.base_position
          ? absl::StrCat("positions ", m.base_position + 1, "..",
                         m.last_position)
          : absl::StrCat("no records after position ", m.base_position);
  *report << "backup " << dest << ": " << range << " (" << result->records
          << " records, " << m.chunks.size() << " chunk(s), " << result->bytes
          << " bytes)"
          << (m.base_position ? absl::StrCat(", incremental from ", previous)
                              : "")
          << "; manifest sha256 " << result->manifest_sha256 << "\n";
  return kExitOk;
}

namespace {

// `cairn restore SRC... --server`: the chain is checked here, whole, before
// anything is sent; then the server restores it into its empty store.
int RestoreRemote(CommandContext& context, const StoreOptions& options,
                  const std::vector<std::string>& sources, bool json) {
#ifdef CAIRN_CLI_HAVE_REMOTE
  BackupProgress printer(context, json);
  absl::StatusOr<backup::VerifiedChain> chain = backup::VerifyChain(sources);
  if (!chain.ok()) return ReportError(context, chain.status());
  absl::StatusOr<uint64_t> head = RestoreThroughServer(
      options, *chain, [&printer](const backup::Progress& p) { printer(p); });
  if (!head.ok()) return ReportError(context, head.status());
  if (json) {
    *context.out << nlohmann::ordered_json{{"restored", chain->records},
                                           {"backups", chain->folders.size()},
                                           {"server", options.server},
                                           {"head_position", *head}}
                        .dump()
                 << "\n";
    return kExitOk;
  }
  *context.out << "restored " << chain->records << " records from "
               << chain->folders.size() << " backup(s) into the store cairnd "
               << options.server << " serves; head position " << *head << "\n";
  return kExitOk;
#else
  (void)options;
  (void)sources;
  (void)json;
  return ReportError(context,
                     MakeStatus(CAIRN_E_UNSUPPORTED,
                                "--server: this cairn was built without "
                                "the cairnd client (CAIRN_BUILD_SERVER=OFF)"));
#endif
}

}  // namespace

int RestoreCommand(CommandContext& context) {
  StoreOptions store_flags;
  std::vector<std::string> sources;
  bool force = false;
  po::options_description description("Flags");
  description.add_options()(
      "src", po::value<std::vector<std::string>>(&sources), "backups")(
      "force", po::bool_switch(&force),
      "empty a non-empty target folder first (after the backup checked out)")(
      "json",
      "progress as JSON lines on stderr, the result as one JSON object");
  AddStoreOptions(description, &store_flags);
  po::positional_options_description positional;
  positional.add("src", -1);
  po::variables_map variables;
  if (auto done = ParseCommandLine(
          context, "SRC [INCREMENTAL...] --data DIR [--force] [--json]",
          "Checks the backup SRC (and the incrementals after it, in order) "
          "whole:\n"
          "manifest, chain, every file's SHA-256 and record; then, only if all "
          "of\n"
          "it holds, writes its records into the store at DIR (which must be "
          "empty\n"
          "unless --force), reopens it and checks its head position. Needs no\n"
          "keyring: records stay sealed; open the store with the keyring "
          "after.\n"
          "With --server HOST:PORT instead of --data: into the empty store a "
          "running\n"
          "cairnd serves (the admin right; not a backup of sealed events).",
          description, positional, &variables)) {
    return *done;
  }
  if (sources.empty())
    return ReportUsageError(context, "missing SRC (a backup folder)");
  StoreOptions merged = MergeStoreOptions(context.store_options, store_flags);
  const bool remote = !merged.server.empty();
  if (remote && (force || !merged.data_dir.empty())) {
    return ReportUsageError(
        context, force ? "--force does not go through --server: a restore "
                         "through the server goes only into an empty store"
                       : "give the target with --data DIR or --server "
                         "HOST:PORT, not both");
  }
  if (!remote && merged.data_dir.empty() && merged.config_file.empty()) {
    return ReportUsageError(
        context, "give the target with --data DIR (or --config FILE)");
  }
  backup::RestoreOptions options;
  options.sources = sources;
  options.force = force;
  // Archives are unpacked into a scratch folder and checked from there.
  ScratchFolder scratch;
  for (size_t i = 0; i < sources.size(); ++i) {
    if (!backup::IsArchiveName(sources[i])) continue;
    if (scratch.path().empty()) {
      if (absl::Status s = scratch.Make(""); !s.ok())
        return ReportError(context, s);
    }
    options.sources[i] = absl::StrCat(scratch.path(), "/", i);
    if (absl::Status s = Unpack(sources[i], options.sources[i], context.in);
        !s.ok()) {
      return ReportError(context, s);
    }
  }
  const bool json = variables.count("json") > 0;
  if (remote) return RestoreRemote(context, merged, options.sources, json);
  PluginRegistry registry;
  if (auto done =
          ResolveEmbedded(context, store_flags, &options.site, &registry))
    return *done;
  BackupProgress printer(context, json);
  options.registry = &registry;
  options.progress = [&printer](const backup::Progress& p) { printer(p); };
  absl::StatusOr<backup::RestoreResult> result = backup::Restore(options);
  if (!result.ok()) return ReportError(context, result.status());
  std::map<std::string, std::set<uint32_t>> sealed_with;
  for (const backup::Manifest& m : result->chain.manifests) {
    for (const backup::CipherUse& c : m.ciphers) {
      sealed_with[c.plugin.name].insert(c.key_ids.begin(), c.key_ids.end());
    }
  }
  if (json) {
    nlohmann::ordered_json ciphers = nlohmann::ordered_json::array();
    for (const auto& [cipher, key_ids] : sealed_with) {
      ciphers.push_back({{"cipher", cipher}, {"key_ids", key_ids}});
    }
    *context.out
        << nlohmann::ordered_json{{"restored", result->chain.records},
                                  {"backups", result->chain.folders.size()},
                                  {"target", options.site.path},
                                  {"head_position", result->head_position},
                                  {"removed_entries", result->removed_entries},
                                  {"sealed_with", ciphers}}
               .dump()
        << "\n";
    return kExitOk;
  }
  *context.out << "restored " << result->chain.records << " records from "
               << result->chain.folders.size() << " backup(s) into "
               << options.site.path << "; head position "
               << result->head_position
               << (result->removed_entries
                       ? absl::StrCat(" (--force removed ",
                                      result->removed_entries,
                                      " entries that were there)")
                       : "")
               << "\n";
  for (const auto& [cipher, key_ids] : sealed_with) {
    std::string ids;
    for (uint32_t id : key_ids)
      absl::StrAppend(&ids, ids.empty() ? "" : ", ", id);
    *context.out << "its events are sealed with cipher '" << cipher
                 << "' key id(s) " << ids
                 << ": open it with the keyring that holds them\n";
  }
  return kExitOk;
}

}  // namespace cairn::cli
