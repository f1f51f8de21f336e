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
#include "bench/workload.h"
#include "bench/zstd_dictionary.h"

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
    switch (variant_) {
      case CairnVariant::kPlain:
        return "cairn";
      case CairnVariant::kSealed:
        return "cairn-sealed";
      case CairnVariant::kSealedDictionary:
        return "cairn-sealed-dict";
      case CairnVariant::kDirect:
        return "cairn-direct";
    }
    return "cairn";
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
    if (variant_ == CairnVariant::kSealed ||
        variant_ == CairnVariant::kSealedDictionary) {
      config.codec.plugin = "zstd";
      config.cipher.plugin = "aes-gcm";
    }
    if (variant_ == CairnVariant::kSealedDictionary) {
      auto dictionary = ProvideDictionary(options.dir, options.event_bytes);
      if (!dictionary.ok()) return dictionary.status();
      config.codec.options.emplace_back("level", "1");
      config.codec.options.emplace_back("dictionary", *dictionary);
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
    if (variant_ == CairnVariant::kDirect) {
      api_ = store_->storage_plugin()->storage();
      storage_ = store_->raw_storage();
    }
    return absl::OkStatus();
  }

  absl::StatusOr<uint64_t> Append(std::string_view stream, uint64_t expected_head,
                                  absl::Span<const EventData> events) override {
    if (api_ != nullptr) return DirectAppend(stream, expected_head, events);
    auto result = store_->Append(stream,
                                 expected_head == 0 ? ExpectedRevision::NoStream()
                                                    : ExpectedRevision::Exact(expected_head),
                                 events);
    if (!result.ok()) return result.status();
    return result->last_position;
  }

  absl::Status ReadStream(std::string_view stream, uint64_t from_revision,
                          uint64_t max_count, const ReadFn& on_event) override {
    if (api_ != nullptr) {
      return Direct(api_->read_stream(storage_, Bytes(stream), from_revision,
                                      kMaxRevision, max_count, &DeliverDirect,
                                      const_cast<ReadFn*>(&on_event), Error()),
                    "read_stream");
    }
    return store_->ReadStream(stream, from_revision, kMaxRevision, max_count,
                              Adapt(on_event));
  }

  absl::Status ReadTag(std::string_view tag, uint64_t after_position,
                       uint64_t max_count, const ReadFn& on_event) override {
    if (api_ != nullptr) {
      return Direct(api_->read_tag(storage_, Bytes(tag), after_position,
                                   max_count, &DeliverDirect,
                                   const_cast<ReadFn*>(&on_event), Error()),
                    "read_tag");
    }
    return store_->ReadTag(tag, after_position, max_count, Adapt(on_event));
  }

  absl::Status ReadAll(uint64_t after_position, uint64_t max_count,
                       const ReadFn& on_event) override {
    if (api_ != nullptr) {
      return Direct(
          api_->read_all(storage_, after_position, max_count, 0, &DeliverDirect,
                         const_cast<ReadFn*>(&on_event), Error()),
          "read_all");
    }
    return store_->ReadAll(after_position, max_count, Adapt(on_event));
  }

  absl::StatusOr<uint64_t> WaitCommit(uint64_t after_position,
                                      std::chrono::milliseconds timeout) override {
    return store_->WaitCommit(after_position, timeout);
  }

  absl::Status Close() override {
    if (!store_) return absl::OkStatus();
    api_ = nullptr;
    storage_ = nullptr;
    absl::Status flushed = store_->Flush();
    store_.reset();
    registry_.reset();
    return flushed;
  }

 private:
  static cairn_bytes Bytes(std::string_view s) {
    return cairn_bytes{reinterpret_cast<const uint8_t*>(s.data()), s.size()};
  }
  static std::string_view View(cairn_bytes b) {
    return std::string_view(reinterpret_cast<const char*>(b.data), b.size);
  }

  // The calling thread's error slot for a direct call.
  static cairn_error* Error() {
    thread_local char message[1024];
    thread_local cairn_error error{message, sizeof(message)};
    message[0] = '\0';
    return &error;
  }

  absl::Status Direct(cairn_status status, const char* call) const {
    if (status == CAIRN_OK) return absl::OkStatus();
    return absl::Status(
        status == CAIRN_E_WRONG_EXPECTED_REVISION ? absl::StatusCode::kAborted
                                                  : absl::StatusCode::kInternal,
        absl::StrCat(name(), ": storage ", call, " failed (status ",
                     static_cast<int>(status), "): ", Error()->message));
  }

  static int DeliverDirect(void* context, const cairn_event* e) {
    ReadEvent event;
    event.stream = View(e->stream);
    event.revision = e->revision;
    event.position = e->position;
    event.timestamp_us = e->timestamp_us;
    event.type = View(e->type);
    event.data = View(e->data);
    return (*static_cast<ReadFn*>(context))(event) ? 0 : 1;
  }

  // The events as they are, straight to storage's append: no names check,
  // no envelope, no write gate, no replication (the plain store has none).
  absl::StatusOr<uint64_t> DirectAppend(std::string_view stream,
                                        uint64_t expected_head,
                                        absl::Span<const EventData> events) {
    thread_local std::vector<cairn_event> abi;
    thread_local std::vector<const cairn_event*> pointers;
    thread_local std::vector<cairn_bytes> tags;
    tags.clear();
    for (const EventData& ev : events) {
      for (const std::string& tag : ev.tags) tags.push_back(Bytes(tag));
    }
    abi.assign(events.size(), cairn_event{});
    pointers.resize(events.size());
    size_t tag_start = 0;
    for (size_t i = 0; i < events.size(); ++i) {
      const EventData& ev = events[i];
      cairn_event& a = abi[i];
      a.size = sizeof(cairn_event);
      a.stream = Bytes(stream);
      a.type = Bytes(ev.type);
      a.timestamp_us = ev.timestamp_us;
      a.writer = Bytes(ev.writer);
      a.metadata = Bytes(ev.metadata);
      a.data = Bytes(ev.data);
      a.tags = ev.tags.empty() ? nullptr : tags.data() + tag_start;
      a.tag_count = static_cast<uint32_t>(ev.tags.size());
      tag_start += ev.tags.size();
      pointers[i] = &a;
    }
    cairn_append_request request{};
    request.size = sizeof(request);
    request.stream = Bytes(stream);
    request.expected_kind =
        expected_head == 0 ? CAIRN_EXPECT_NO_STREAM : CAIRN_EXPECT_EXACT;
    request.expected_revision = expected_head;
    request.events = pointers.empty() ? nullptr : pointers.data();
    request.count = pointers.size();
    cairn_append_result result{};
    result.size = sizeof(result);
    absl::Status status =
        Direct(api_->append(storage_, &request, &result, Error()), "append");
    if (!status.ok()) return status;
    return result.last_position;
  }

  // A zstd dictionary trained on 4096 events like the workload's (as
  // `cairn train-dict` trains one on a store's events), written beside the
  // store once; a reopen uses the one already there.
  absl::StatusOr<std::string> ProvideDictionary(const std::string& dir,
                                                size_t event_bytes) {
    std::string path = dir + "/bench.dict";
    if (std::filesystem::exists(path)) return path;
    std::mt19937_64 random(4711);
    std::vector<std::string> samples;
    for (int i = 0; i < 4096; ++i)
      samples.push_back(MakePayload(random, event_bytes));
    absl::Status written = WriteZstdDictionary(samples, path);
    if (!written.ok()) {
      return absl::Status(written.code(),
                          absl::StrCat(name(), ": ", event_bytes,
                                       "-byte events: ", written.message()));
    }
    return path;
  }

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
  // kDirect: storage's table and instance, owned by store_.
  const cairn_storage_api* api_ = nullptr;
  cairn_storage* storage_ = nullptr;
};

}  // namespace

std::unique_ptr<Engine> NewCairnEngine(CairnVariant variant) {
  return std::make_unique<CairnEngine>(variant);
}

}  // namespace cairn::bench
