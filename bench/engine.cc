#include "bench/engine.h"

#include <filesystem>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "bench/cairn_engine.h"
#include "bench/disk_usage.h"
#include "bench/lmdb_engine.h"
#include "bench/rocksdb_engine.h"
#include "bench/sqlite_engine.h"

namespace cairn::bench {

const char* DurabilityName(Durability durability) {
  return durability == Durability::kSynced ? "synced" : "os-cache";
}

absl::StatusOr<uint64_t> Engine::WaitCommit(uint64_t after_position,
                                            std::chrono::milliseconds timeout) {
  return commit_signal_.Wait(after_position, timeout);
}

DiskBytes Engine::DiskUsage() const { return MeasureDisk(dir_); }

absl::Status Engine::PrepareDir(const EngineOptions& options) {
  dir_ = options.dir;
  std::error_code error;
  std::filesystem::create_directories(dir_, error);
  if (error) {
    return absl::InternalError(
        absl::StrCat(name(), ": cannot create ", dir_, ": ", error.message()));
  }
  return absl::OkStatus();
}

std::vector<std::string> KnownEngines() {
  return {"cairn",  "cairn-direct", "cairn-sealed", "cairn-sealed-dict",
          "sqlite", "rocksdb",      "lmdb"};
}

absl::StatusOr<std::unique_ptr<Engine>> MakeEngine(std::string_view name) {
  if (name == "cairn") return NewCairnEngine(CairnVariant::kPlain);
  if (name == "cairn-sealed") return NewCairnEngine(CairnVariant::kSealed);
  if (name == "cairn-sealed-dict")
    return NewCairnEngine(CairnVariant::kSealedDictionary);
  if (name == "cairn-direct") return NewCairnEngine(CairnVariant::kDirect);
  if (name == "sqlite") return NewSqliteEngine();
  if (name == "rocksdb") return NewRocksDbEngine();
  if (name == "lmdb") return NewLmdbEngine();
  return absl::InvalidArgumentError(
      absl::StrCat("unknown engine '", std::string(name.data(), name.size()),
                   "'; known engines: ", absl::StrJoin(KnownEngines(), ", ")));
}

}  // namespace cairn::bench
