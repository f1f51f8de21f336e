#include "keys_command.h"

#include <cairn/status.h>

#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <ostream>
#include <set>

#include "keyring.h"
#include "seal_usage.h"
#include "store_access.h"

namespace cairn::cli {
namespace {

namespace po = boost::program_options;

int ReportKeyringError(CommandContext& context, const sdk::Status& status) {
  return ReportError(context, MakeStatus(status.code(), status.message()));
}

// The site's [cipher] option `name`, or "". A relative `is_path` one from
// a site file is taken from that file's folder, as Store::Open takes it.
absl::StatusOr<std::string> CipherOptionFromSite(const StoreOptions& options,
                                                 const std::string& name,
                                                 bool is_path = false) {
  absl::StatusOr<SiteConfig> config = ResolveSiteConfig(options);
  if (!config.ok()) return config.status();
  std::set<std::string> paths;
  if (is_path) paths.insert(name);
  for (const auto& [key, value] : config->cipher.ResolvedOptions(paths)) {
    if (key == name) return value;
  }
  return std::string();
}

int New(CommandContext& context, const std::string& path) {
  uint32_t id = 0;
  sdk::Status status = keyring::CreateKeyringFile(path, &id);
  if (!status.ok()) return ReportKeyringError(context, status);
  keyring::Keyring created;
  status = keyring::Keyring::Load(path, &created);
  if (!status.ok()) return ReportKeyringError(context, status);
  *context.out << "created keyring " << path << " (mode 0600) with key " << id
               << " active, fingerprint " << created.Fingerprint(id) << "\n"
               << "back it up: events sealed with its keys cannot be read "
                  "without it\n";
  return kExitOk;
}

// `max_seals` is the site's max-seals-per-key (empty: the default).
int List(CommandContext& context, const std::string& path,
         const std::string& max_seals) {
  keyring::Keyring keys;
  sdk::Status status = keyring::Keyring::Load(path, &keys);
  if (!status.ok()) return ReportKeyringError(context, status);
  keyring::SealUsage usage;
  status = keyring::SealUsage::Load(path, &usage);
  if (!status.ok()) return ReportKeyringError(context, status);
  uint64_t limit = keyring::kDefaultMaxSealsPerKey;
  if (!max_seals.empty() &&
      !sdk::Options::ParseUint("max-seals-per-key", max_seals, &limit).ok()) {
    limit = keyring::kDefaultMaxSealsPerKey;
  }
  *context.out << "keyring " << path << ": " << keys.ids().size()
               << " key(s); seal counts from " << keyring::SealUsagePath(path)
               << " (an upper bound: running writers' reservations count)\n";
  for (uint32_t id : keys.ids()) {
    const uint64_t seals = usage.Of(id);
    *context.out << "key " << id << "  fingerprint " << keys.Fingerprint(id)
                 << "  seals " << seals << " of " << limit
                 << (seals >= limit ? " (limit reached: rotate)" : "")
                 << (id == keys.active_id() ? "  active" : "") << "\n";
  }
  return kExitOk;
}

int Rotate(CommandContext& context, const std::string& path) {
  uint32_t id = 0;
  keyring::Keyring updated;
  sdk::Status status = keyring::RotateKeyringFile(path, &id, &updated);
  if (!status.ok()) return ReportKeyringError(context, status);
  *context.out << "added key " << id << " to keyring " << path
               << " and made it active (fingerprint " << updated.Fingerprint(id)
               << "); older keys stay for reading; stores pick it up when "
                  "they next open\n";
  return kExitOk;
}

// `keys rotate --server`: the rotate_key request (the admin right).
int RotateThroughServer(CommandContext& context,
                        const StoreOptions& store_flags) {
  std::unique_ptr<StoreAccess> store;
  if (auto done =
          OpenStoreOrReport(context, store_flags, StoreUse::kWrite, &store)) {
    return *done;
  }
  absl::StatusOr<uint32_t> id = store->RotateKey();
  if (!id.ok()) return ReportError(context, id.status());
  *context.out << "key " << *id << " is now active on " << store->Describe()
               << " (its cipher added it to its keyring); older keys stay for "
                  "reading\n";
  return kExitOk;
}

// The name of user `uid`, or "uid N" if it has none.
std::string UserName(uid_t uid) {
  struct passwd entry;
  struct passwd* found = nullptr;
  char buffer[4096];
  if (::getpwuid_r(uid, &entry, buffer, sizeof buffer, &found) == 0 &&
      found != nullptr) {
    return found->pw_name;
  }
  return "uid " + std::to_string(uid);
}

}  // namespace

std::string RootWritingAnotherUsersKeyring(const std::string& action,
                                           const std::string& path,
                                           uid_t euid) {
  if (euid != 0) return "";
  std::string folder = std::filesystem::path(path).parent_path().string();
  if (folder.empty()) folder = ".";
  struct stat info;
  if (::stat(folder.c_str(), &info) != 0 || info.st_uid == 0) return "";
  const std::string owner = UserName(info.st_uid);
  const bool named = owner.rfind("uid ", 0) != 0;
  return "keyring " + path + ": its folder " + folder + " belongs to " +
         (named ? "user " + owner + " (uid " + std::to_string(info.st_uid) + ")"
                : owner) +
         ", but this command runs as root: the keyring would be root's (mode "
         "0600), which processes running as " +
         owner +
         " (such as cairnd) cannot read, and the cipher refuses a keyring "
         "its process does not own. Nothing was written; run the command "
         "as that user: 'sudo -u " +
         (named ? owner : "#" + std::to_string(info.st_uid)) + " cairn keys " +
         action + " --keyring " + path +
         "' (or give the folder to root if root is to use the keyring)";
}

int KeysCommand(CommandContext& context) {
  StoreOptions store_flags;
  std::string action;
  std::string keyring_path;
  po::options_description description("Flags");
  description.add_options()
      ("action", po::value<std::string>(&action)->value_name("ACTION"),
       "new, list or rotate")
      ("keyring", po::value<std::string>(&keyring_path)->value_name("FILE"),
       "the keyring file (default: the site's [cipher] keyring option)");
  AddStoreOptions(description, &store_flags);
  po::positional_options_description positional;
  positional.add("action", 1);
  po::variables_map variables;
  if (auto done = ParseCommandLine(
          context, "new|list|rotate [--keyring FILE]",
          "Manages a keyring of the aes-gcm and chacha20-poly1305 ciphers.\n"
          "  new     creates FILE (mode 0600) holding one fresh active key, id "
          "1\n"
          "  list    prints each key's id, fingerprint and seal count, and "
          "marks\n"
          "          the active one\n"
          "  rotate  adds a fresh key and makes it active; older keys stay, "
          "so\n"
          "          events sealed with them still open\n"
          "Keys are never printed. Without --keyring, the [cipher] section's\n"
          "'keyring' option of the site (--config, --set) names the file.\n"
          "With --server HOST:PORT, 'rotate' asks a running cairnd to rotate "
          "its\n"
          "cipher's key (the admin right); it seals with the new key at once.",
          description, positional, &variables)) {
    return *done;
  }
  if (action.empty()) {
    return ReportUsageError(context, "missing ACTION (new, list or rotate)");
  }
  if (action != "new" && action != "list" && action != "rotate") {
    return ReportUsageError(context, "unknown action '" + action +
                                         "' (expected new, list or rotate)");
  }
  const StoreOptions site = MergeStoreOptions(context.store_options, store_flags);
  if (!site.server.empty()) {
    // The server's own cipher rotates: it persists the key (in its keyring)
    // and seals with it from the next append on, without a restart.
    if (action != "rotate" || !keyring_path.empty()) {
      return ReportUsageError(
          context,
          "with --server only 'keys rotate' (without --keyring) works: the "
          "server's cipher rotates its own keyring; 'new' and 'list' read and "
          "write the keyring file, so run them on the server's machine");
    }
    return RotateThroughServer(context, store_flags);
  }
  if (keyring_path.empty()) {
    absl::StatusOr<std::string> from_site =
        CipherOptionFromSite(site, "keyring", /*is_path=*/true);
    if (!from_site.ok()) {
      return ReportUsageError(context, std::string(from_site.status().message()));
    }
    keyring_path = *from_site;
  }
  if (keyring_path.empty()) {
    return ReportUsageError(context,
                            "missing --keyring FILE (or a site file whose "
                            "[cipher] section sets 'keyring')");
  }
  if (action != "list") {
    const std::string problem =
        RootWritingAnotherUsersKeyring(action, keyring_path, ::geteuid());
    if (!problem.empty()) {
      return ReportError(context, absl::FailedPreconditionError(problem));
    }
  }
  if (action == "new") return New(context, keyring_path);
  if (action == "list") {
    absl::StatusOr<std::string> max_seals =
        CipherOptionFromSite(site, "max-seals-per-key");
    return List(context, keyring_path, max_seals.ok() ? *max_seals : "");
  }
  return Rotate(context, keyring_path);
}

}  // namespace cairn::cli
