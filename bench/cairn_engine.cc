#include "bench/cairn_engine.h"

#include <cairn/builtins.h>
#include <cairn/config.h>
#include <cairn/plugin_registry.h>
#include <cairn/store.h>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace cairn::bench {
namespace {

bool Accepts(const Plugin& plugin, const std::string& key) {
  std::vector<std::string> keys = plugin.option_keys();
  return std::find(keys.begin(), keys.end(), key) != keys.end();
}

class CairnEngine : public Engine {
 public:
  explicit CairnEngine(CairnVariant variant) : variant_(variant) {}
  ~CairnEngine() override { (void)Close(); }

  std::string name() const override {
    return variant_ == CairnVariant::kPlain ? "cairn" : "cairn-sealed";
  }

  absl::Status Open(const EngineOptions& options) override {
    absl::Status prepared = PrepareDir(options);
    if (!prepared.ok()) return prepared;
    registry_ = std::make_unique<PluginRegistry>();
    absl::Status registered = RegisterBuiltinPlugins(*registry_);
    if (!registered.ok()) return registered;
    if (const char* dir = std::getenv("CAIRN_PLUGIN_DIR")) registry_->AddSearchDir(dir);

    SiteConfig config;
    config.path = options.dir + "/store";
    config.storage.plugin = "mmaplog";
    if (variant_ == CairnVariant::kSealed) {
      config.codec.plugin = "zstd";
      config.cipher.plugin = "aes-gcm";
    }
    for (const std::string& assignment : options.cairn_overrides) {
      absl::Status s = config.Override(assignment);
      if (!s.ok()) return s;
    }
    absl::Status durable = ApplyDurability(options.durability, &config);
    if (!durable.ok()) return durable;
    absl::Status keyed = ProvideKey(options.dir, &config);
    if (!keyed.ok()) return keyed;

    auto store = Store::Open(config, *registry_);
    if (!store.ok()) {
      return absl::Status(store.status().code(),
                          absl::StrCat(name(), ": ", store.status().message()));
    }
    store_ = *std::move(store);
    return absl::OkStatus();
  }

  absl::StatusOr<uint64_t> Append(std::string_view stream, uint64_t expected_head,
                                  absl::Span<const EventData> events) override {
    auto result = store_->Append(stream,
                                 expected_head == 0 ? ExpectedRevision::NoStream()
                                                    : ExpectedRevision::Exact(expected_head),
                                 events);
    if (!result.ok()) return result.status();
    return result->last_position;
  }

  absl::Status ReadStream(std::string_view stream, uint64_t from_revision,
                          uint64_t max_count, const ReadFn& on_event) override {
    return store_->ReadStream(stream, from_revision, kMaxRevision, max_count,
                              Adapt(on_event));
  }

  absl::Status ReadTag(std::string_view tag, uint64_t after_position,
                       uint64_t max_count, const ReadFn& on_event) override {
    return store_->ReadTag(tag, after_position, max_count, Adapt(on_event));
  }

  absl::Status ReadAll(uint64_t after_position, uint64_t max_count,
                       const ReadFn& on_event) override {
    return store_->ReadAll(after_position, max_count, Adapt(on_event));
  }

  absl::StatusOr<uint64_t> WaitCommit(uint64_t after_position,
                                      std::chrono::milliseconds timeout) override {
    return store_->WaitCommit(after_position, timeout);
  }

  absl::Status Close() override {
    if (!store_) return absl::OkStatus();
    absl::Status flushed = store_->Flush();
    store_.reset();
    registry_.reset();
    return flushed;
  }

 private:
  static Store::EventFn Adapt(const ReadFn& on_event) {
    return [&on_event](const RecordedEvent& recorded) {
      ReadEvent event;
      event.stream = recorded.stream;
      event.revision = recorded.revision;
      event.position = recorded.position;
      event.timestamp_us = recorded.timestamp_us;
      event.type = recorded.type;
      event.data = recorded.data;
      return on_event(event);
    };
  }

  // Maps the durability level onto the storage plugin's fsync option.
  absl::Status ApplyDurability(Durability durability, SiteConfig* config) {
    auto storage = registry_->Find(CAIRN_KIND_STORAGE, config->storage.plugin);
    if (!storage.ok()) {
      return absl::Status(storage.status().code(),
                          absl::StrCat(name(), ": ", storage.status().message()));
    }
    if (!Accepts(**storage, "fsync")) {
      return absl::FailedPreconditionError(absl::StrCat(
          name(), ": storage plugin '", config->storage.plugin,
          "' has no 'fsync' option, so neither 'synced' nor 'os-cache' describes it"));
    }
    auto& pairs = config->storage.options;
    bool set = std::any_of(pairs.begin(), pairs.end(),
                           [](const auto& kv) { return kv.first == "fsync"; });
    if (!set) {
      pairs.emplace_back("fsync", durability == Durability::kSynced ? "always" : "never");
    }
    return absl::OkStatus();
  }

  // A sealing cipher needs a keyring: if the cipher takes one and none was
  // given, use the one beside the store, or write a fresh random 256-bit key
  // there, in the
  // keyring format of plugins/cipher/keyring/keyring.h, mode 0600.
  absl::Status ProvideKey(const std::string& dir, SiteConfig* config) {
    if (config->cipher.plugin == "none") return absl::OkStatus();
    auto cipher = registry_->Find(CAIRN_KIND_CIPHER, config->cipher.plugin);
    if (!cipher.ok()) {
      return absl::Status(cipher.status().code(),
                          absl::StrCat(name(), ": ", cipher.status().message()));
    }
    auto& pairs = config->cipher.options;
    if (!Accepts(**cipher, "keyring") ||
        std::any_of(pairs.begin(), pairs.end(),
                    [](const auto& kv) { return kv.first == "keyring"; })) {
      return absl::OkStatus();
    }
    std::string path = dir + "/bench.keyring";
    if (std::filesystem::exists(path)) {  // a reopen: the store's own key
      pairs.emplace_back("keyring", path);
      return absl::OkStatus();
    }
    unsigned char key[32];
    std::ifstream random("/dev/urandom", std::ios::binary);
    random.read(reinterpret_cast<char*>(key), sizeof(key));
    if (!random) return absl::InternalError(absl::StrCat(name(), ": cannot read /dev/urandom"));
    std::string text = "# cairn-bench: a throw-away key for one run\nkey 1 ";
    for (unsigned char byte : key) absl::StrAppend(&text, absl::Hex(byte, absl::kZeroPad2));
    text += " active\n";
    int fd = ::open(path.c_str(), O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0600);
    bool written = fd >= 0 && ::write(fd, text.data(), text.size()) ==
                                  static_cast<ssize_t>(text.size());
    if (fd >= 0) ::close(fd);
    if (!written) {
      return absl::InternalError(absl::StrCat(name(), ": cannot write keyring ", path));
    }
    pairs.emplace_back("keyring", path);
    return absl::OkStatus();
  }

  CairnVariant variant_;
  std::unique_ptr<PluginRegistry> registry_;
  std::unique_ptr<Store> store_;
};

}  // namespace

std::unique_ptr<Engine> NewCairnEngine(CairnVariant variant) {
  return std::make_unique<CairnEngine>(variant);
}

}  // namespace cairn::bench
