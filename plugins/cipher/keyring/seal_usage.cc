#include "seal_usage.h"

#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <limits>

#include "atomic_file.h"
#include "directive_text.h"

namespace cairn::keyring {
namespace {

constexpr char kLabel[] = "seal usage file";

// What to do about a usage file that cannot be trusted.
std::string Recovery(const std::string& origin) {
  return "; fix the line, or move the file aside and run 'cairn keys rotate' "
         "on its keyring so that sealing continues under a fresh key (a "
         "moved-aside file loses the counts of the older keys: " + origin +
         " must never be lowered or deleted while a key in it still seals)";
}

void OnForkInChild() { fork_generation.fetch_add(1, std::memory_order_relaxed); }
// glibc unregisters the handler if the plugin holding it is unloaded.
void RegisterForkHandler() {
  static std::once_flag registered;
  std::call_once(registered, [] { ::pthread_atfork(nullptr, nullptr, &OnForkInChild); });
}

std::string LockPath(const std::string& keyring_path) {
  return keyring_path + ".lock";
}

// Runs `update` on the usage file's counts under the keyring's lock and
// writes the result back atomically if `update` returns true.
template <typename Update>
sdk::Status UpdateUsage(const std::string& keyring_path, Update&& update) {
  const std::string path = SealUsagePath(keyring_path);
  ExclusiveFileLock lock;
  sdk::Status status = lock.Acquire(kLabel, path, LockPath(keyring_path));
  if (!status.ok()) return status;
  SealUsage usage;
  status = SealUsage::Load(keyring_path, &usage);
  if (!status.ok()) return status;
  if (!update(usage)) return sdk::Status::Ok();
  return ReplaceFileAtomically(kLabel, path, usage.Serialize(keyring_path),
                               /*create=*/false);
}

}  // namespace

std::string SealUsagePath(const std::string& keyring_path) {
  return keyring_path + ".usage";
}

sdk::Status SealUsage::Parse(std::string_view text, const std::string& origin,
                             SealUsage* out) {
  out->seals.clear();
  SealUsage parsed;
  std::map<uint32_t, size_t> line_of_id;
  auto directive = [&](size_t line_number,
                       const std::vector<std::string_view>& words)
      -> sdk::Status {
    const std::string where = std::string(kLabel) + " " + origin + " line " +
                              std::to_string(line_number) + ": ";
    if (words[0] != "seals" || words.size() != 3) {
      return sdk::InvalidArgument(
          where + "expected 'seals <key id> <count>' or a '#' comment" +
          Recovery(origin));
    }
    uint64_t id = 0;
    if (!ParseDecimal(words[1], std::numeric_limits<uint32_t>::max(), &id) ||
        id == 0) {
      return sdk::InvalidArgument(
          where + "key id must be a decimal number from 1 to 4294967295" +
          Recovery(origin));
    }
    uint64_t count = 0;
    if (!ParseDecimal(words[2], std::numeric_limits<uint64_t>::max(),
                      &count)) {
      return sdk::InvalidArgument(
          where + "seal count must be a decimal number from 0 to " +
          std::to_string(std::numeric_limits<uint64_t>::max()) +
          Recovery(origin));
    }
    auto previous = line_of_id.find(static_cast<uint32_t>(id));
    if (previous != line_of_id.end()) {
      return sdk::InvalidArgument(
          where + "duplicate key id " + std::to_string(id) +
          " (first on line " + std::to_string(previous->second) + ")" +
          Recovery(origin));
    }
    line_of_id[static_cast<uint32_t>(id)] = line_number;
    parsed.seals[static_cast<uint32_t>(id)] = count;
    return sdk::Status::Ok();
  };
  size_t line_count = 0;
  sdk::Status status = ForEachDirective(text, directive, &line_count);
  if (!status.ok()) return status;
  *out = std::move(parsed);
  return sdk::Status::Ok();
}

sdk::Status SealUsage::Load(const std::string& keyring_path, SealUsage* out) {
  out->seals.clear();
  const std::string path = SealUsagePath(keyring_path);
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int e = errno;
    if (e == ENOENT) return sdk::Status::Ok();
    return sdk::IoError(std::string(kLabel) + " " + path +
                        ": cannot open: " + ErrnoText(e));
  }
  struct stat info;
  if (::fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) {
    ::close(fd);
    return sdk::InvalidArgument(std::string(kLabel) + " " + path +
                                " is not a regular file" + Recovery(path));
  }
  std::string text;
  sdk::Status status = ReadWholeFile(fd, kLabel, path, &text);
  ::close(fd);
  if (!status.ok()) return status;
  return Parse(text, path, out);
}

std::string SealUsage::Serialize(const std::string& keyring_path) const {
  std::string text = "# Cairn seal counts of keyring " + keyring_path +
                     ": seals <key id> <count>\n"
                     "# Each count is at least the seals that key made. "
                     "Never lower or delete one.\n";
  for (const auto& [id, count] : seals) {
    text += "seals " + std::to_string(id) + " " + std::to_string(count) + "\n";
  }
  return text;
}

sdk::Status ReserveSeals(const std::string& keyring_path, uint32_t key_id,
                         uint64_t wanted, uint64_t limit, uint64_t* granted,
                         uint64_t* count_after) {
  return UpdateUsage(keyring_path, [&](SealUsage& usage) {
    uint64_t& count = usage.seals[key_id];
    uint64_t left = count >= limit ? 0 : limit - count;
    *granted = std::min(wanted, left);
    count += *granted;
    *count_after = count;
    return *granted != 0;
  });
}

sdk::Status ReturnSeals(const std::string& keyring_path, uint32_t key_id,
                        uint64_t unused) {
  if (unused == 0) return sdk::Status::Ok();
  return UpdateUsage(keyring_path, [&](SealUsage& usage) {
    auto it = usage.seals.find(key_id);
    if (it == usage.seals.end()) return false;
    it->second -= std::min(it->second, unused);
    return true;
  });
}

SealBudget::SealBudget(std::string plugin, std::string keyring_path,
                       uint32_t key_id, uint64_t limit, WarnFn warn)
    : plugin_(std::move(plugin)),
      keyring_path_(std::move(keyring_path)),
      key_id_(key_id),
      limit_(limit),
      warn_(warn) {
  RegisterForkHandler();
  generation_.store(ForkGeneration(), std::memory_order_relaxed);
}

SealBudget::~SealBudget() {
  uint64_t unused = available_.exchange(0);
  if (unused != 0 && generation_.load(std::memory_order_relaxed) == ForkGeneration()) {
    (void)ReturnSeals(keyring_path_, key_id_, unused);
  }
}

void SealBudget::ForgetParentsSeals() {
  // No lock: the child's other threads, if any, were started after fork and
  // see the same state; a lock held by a parent's thread at fork time would
  // never be released here.
  available_.store(0, std::memory_order_relaxed);
  generation_.store(ForkGeneration(), std::memory_order_relaxed);
}

sdk::Status SealBudget::Take(uint64_t most, uint64_t* taken) {
  if (generation_.load(std::memory_order_relaxed) != ForkGeneration()) {
    ForgetParentsSeals();
  }
  for (;;) {
    uint64_t available = available_.load(std::memory_order_relaxed);
    while (available != 0) {
      uint64_t n = near_limit_.load(std::memory_order_relaxed)
                       ? 1
                       : std::min(available, std::max<uint64_t>(most, 1));
      if (available_.compare_exchange_weak(available, available - n,
                                           std::memory_order_relaxed)) {
        *taken = n;
        return sdk::Status::Ok();
      }
    }
    sdk::Status status = Refill();
    if (!status.ok()) return status;
  }
}

// Reserves the next block unless seals became available meanwhile (another
// thread refilled, or seals were given back).
sdk::Status SealBudget::Refill() {
  std::lock_guard<std::mutex> lock(refill_mutex_);
  if (available_.load(std::memory_order_relaxed) != 0) {
    return sdk::Status::Ok();
  }
  const std::string usage_path = SealUsagePath(keyring_path_);
  auto exhausted = [&] {
    return sdk::ResourceExhausted(
        plugin_ + ": key id " + std::to_string(key_id_) +
        " has made its limit of " + std::to_string(limit_) +
        " seals (max-seals-per-key; counted in " + usage_path +
        "); a key must not seal more with random nonces: run 'cairn keys "
        "rotate --keyring " + keyring_path_ +
        "' and reopen the store (or rotate through the store) to seal with "
        "a fresh key");
  };
  if (exhausted_) return exhausted();
  const auto now = std::chrono::steady_clock::now();
  if (last_refill_ != std::chrono::steady_clock::time_point{} &&
      now - last_refill_ < std::chrono::seconds(1)) {
    next_block_ = std::min(next_block_ * 2, kMaxBlock);
  }
  uint64_t granted = 0;
  uint64_t count_after = 0;
  sdk::Status status = ReserveSeals(keyring_path_, key_id_, next_block_,
                                    limit_, &granted, &count_after);
  if (!status.ok()) {
    return sdk::Status(status.code(),
                       plugin_ + ": cannot count this seal of key id " +
                           std::to_string(key_id_) + ": " + status.message());
  }
  if (granted == 0) {
    exhausted_ = true;
    return exhausted();
  }
  last_refill_ = now;
  if (!warned_ && warn_ != nullptr &&
      static_cast<double>(count_after) >=
          kWarnFraction * static_cast<double>(limit_)) {
    warned_ = true;
    warn_(plugin_ + ": key id " + std::to_string(key_id_) + " has made or "
          "reserved " + std::to_string(count_after) + " of its " +
          std::to_string(limit_) + " seals (max-seals-per-key); rotate it "
          "soon with 'cairn keys rotate --keyring " + keyring_path_ + "'");
  }
  near_limit_.store(limit_ - count_after < kNearLimit,
                    std::memory_order_relaxed);
  available_.fetch_add(granted, std::memory_order_relaxed);
  return sdk::Status::Ok();
}

}  // namespace cairn::keyring
