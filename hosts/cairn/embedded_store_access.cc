#include "embedded_store_access.h"

#include <cairn/builtins.h>
#include <cairn/plugin.h>
#include <cairn/status.h>

#include <chrono>
#include <utility>

#include "absl/strings/str_cat.h"

namespace cairn::cli {
namespace {

// Serves the StoreAccess calls from a Store; owns the Store (and the
// registry its plugins came from) unless constructed over a borrowed one.
class EmbeddedStoreAccess : public StoreAccess {
 public:
  EmbeddedStoreAccess(std::unique_ptr<PluginRegistry> registry,
                      std::unique_ptr<Store> owned, Store* store, std::string where)
      : registry_(std::move(registry)),
        owned_(std::move(owned)),
        store_(store),
        where_(std::move(where)) {}

  ~EmbeddedStoreAccess() override {
    owned_.reset();  // closes the store before its plugins' registry goes
    registry_.reset();
  }

  std::string Describe() const override {
    return absl::StrCat(where_, " (storage ", store_->storage_plugin()->name(), ", codec ",
                        store_->codec_plugin()->name(), ", cipher ",
                        store_->cipher_plugin()->name(), ", replication ",
                        store_->replication_plugin()->name(), ")");
  }

  absl::StatusOr<AppendResult> Append(std::string_view stream, ExpectedRevision expected,
                                      absl::Span<const EventData> events) override {
    return store_->Append(stream, expected, events);
  }

  absl::Status ReadStream(std::string_view stream, uint64_t from_revision,
                          uint64_t to_revision, uint64_t max_count,
                          const EventFn& on_event) override {
    return store_->ReadStream(stream, from_revision, to_revision, max_count, on_event);
  }

  absl::Status ReadTag(std::string_view tag, uint64_t after_position, uint64_t max_count,
                       const EventFn& on_event) override {
    return store_->ReadTag(tag, after_position, max_count, on_event);
  }

  absl::Status ReadAll(uint64_t after_position, uint64_t max_count,
                       const EventFn& on_event) override {
    return store_->ReadAll(after_position, max_count, on_event);
  }

  absl::StatusOr<std::vector<StreamInfo>> ListStreams(uint64_t after_ordinal,
                                                      uint64_t max_count) override {
    return store_->ListStreams(after_ordinal, max_count);
  }

  absl::StatusOr<uint64_t> HeadRevision(std::string_view stream) override {
    return store_->HeadRevision(stream);
  }

  absl::StatusOr<uint64_t> HeadPosition() override { return store_->HeadPosition(); }

  absl::Status DeleteTo(std::string_view stream, uint64_t revision) override {
    return store_->DeleteTo(stream, revision);
  }

  absl::StatusOr<std::map<std::string, double>> Stats() override { return store_->Stats(); }

  absl::StatusOr<Cluster> ClusterStatus() override {
    Cluster out;
    out.plugin = store_->replication_plugin()->name();
    out.leader = store_->Leader();
    absl::StatusOr<std::map<std::string, double>> stats = store_->Stats();
    if (!stats.ok()) return stats.status();
    out.stats = ReplicationStats(*stats);
    return out;
  }

  absl::Status Promote() override { return store_->Promote(); }

  absl::StatusOr<uint32_t> RotateKey() override { return store_->RotateKey(); }

  absl::StatusOr<std::vector<std::string>> Maintain() override {
    return store_->Maintain();
  }

  absl::Status Follow(const SubscriptionFilter& filter, const EventFn& on_event,
                      const std::atomic<bool>& stop) override {
    std::unique_ptr<Subscription> subscription = store_->Subscribe(filter);
    while (!stop.load()) {
      absl::StatusOr<std::vector<RecordedEvent>> events =
          subscription->Next(256, std::chrono::milliseconds(200));
      if (!events.ok()) return events.status();
      for (const RecordedEvent& event : *events) {
        if (!on_event(event)) return absl::OkStatus();
      }
    }
    return absl::OkStatus();
  }

  absl::StatusOr<Summary> GetSummary() override {
    Summary summary;
    summary.storage = store_->storage_plugin()->name();
    summary.codec = store_->codec_plugin()->name();
    summary.cipher = store_->cipher_plugin()->name();
    summary.replication = store_->replication_plugin()->name();
    absl::StatusOr<LogState> log = store_->GetLogState();
    if (!log.ok()) return log.status();
    summary.log = *log;
    return summary;
  }

  absl::Status ReadLog(uint64_t after_position, uint64_t max_count,
                       const RecordFn& on_record) override {
    const cairn_storage_api* api = store_->storage_plugin()->storage();
    if (!store_->storage_plugin()->Has(CAIRN_CAP_ORDERED_LOG) ||
        !CAIRN_HAS_FIELD(cairn_storage_api, api, read_log) ||
        api->read_log == nullptr) {
      return MakeStatus(
          CAIRN_E_UNSUPPORTED,
          absl::StrCat("storage plugin '", store_->storage_plugin()->name(),
                       "' keeps no ordered log (no read_log)"));
    }
    char message[1024] = "";
    cairn_error error{message, sizeof(message)};
    cairn_status status = api->read_log(
        store_->raw_storage(), after_position, max_count,
        [](void* raw, const cairn_log_record* record) -> int {
          return (*static_cast<const RecordFn*>(raw))(*record) ? 0 : 1;
        },
        const_cast<RecordFn*>(&on_record), &error);
    if (status != CAIRN_OK) {
      return MakeStatus(status,
                        absl::StrCat("read_log of ", where_, " after position ",
                                     after_position, ": ", message));
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::string> Verify(
      const std::function<void(const std::string&)>& on_problem, bool deep,
      const Store::ProgressFn& on_progress) override {
    return NameVerified(where_, store_->Verify(on_problem, deep, on_progress));
  }

 private:
  std::unique_ptr<PluginRegistry> registry_;
  std::unique_ptr<Store> owned_;
  Store* store_;
  std::string where_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<StoreAccess>> OpenEmbeddedStore(
    const SiteConfig& site, const StoreOpenOptions& open_options) {
  auto registry = std::make_unique<PluginRegistry>();
  if (absl::Status s = RegisterBuiltinPlugins(*registry); !s.ok()) return s;
  const SiteConfig& config = site;
  absl::StatusOr<std::unique_ptr<Store>> store = Store::Open(config, *registry, open_options);
  if (!store.ok()) return store.status();
  Store* raw = store->get();
  return std::unique_ptr<StoreAccess>(new EmbeddedStoreAccess(
      std::move(registry), *std::move(store), raw,
      absl::StrCat("embedded store '", config.path, "'")));
}

std::unique_ptr<StoreAccess> WrapStore(Store* store) {
  return std::make_unique<EmbeddedStoreAccess>(nullptr, nullptr, store, "embedded store");
}

}  // namespace cairn::cli
