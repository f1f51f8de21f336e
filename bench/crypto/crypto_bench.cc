// Per-core throughput of the zstd codec and the AEAD ciphers, called through
// the plugin C ABI exactly as the Store calls them, plus the whole append
// pipeline. Run (release build):
//
//   build/<dir>/bin/cairn-crypto-bench --benchmark_min_time=1
//
// Each benchmark is single-threaded, so its bytes_per_second is per core.
#include <benchmark/benchmark.h>
#include <cairn/builtins.h>
#include <cairn/plugin.h>
#include <cairn/store.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <vector>

// For ZSTD_c_literalCompressionMode (Debian's libzstd exports the whole
// experimental API; only the enum value is needed here).
#define ZSTD_STATIC_LINKING_ONLY
#include <zstd.h>

#include <fstream>

#include "bench/zstd_dictionary.h"
#include "keyring.h"

extern "C" cairn_status cairn_builtin_codec_zstd(
    const cairn_host_offer*, const cairn_plugin_descriptor**, cairn_error*);
extern "C" cairn_status cairn_builtin_cipher_aes_gcm(
    const cairn_host_offer*, const cairn_plugin_descriptor**, cairn_error*);
extern "C" cairn_status cairn_builtin_cipher_chacha20_poly1305(
    const cairn_host_offer*, const cairn_plugin_descriptor**, cairn_error*);

namespace {

// JSON-like events of about `size` bytes: an order with a few lines, with
// varied ids, amounts and names so zstd sees realistic (not repeated) text.
std::vector<std::string> JsonEvents(size_t size, size_t count) {
  std::mt19937_64 random(size * 7919 + count);
  static const char* kNames[] = {"Ada", "Grace", "Linus", "Barbara", "Ken",
                                 "Edsger", "Margaret", "Dennis"};
  static const char* kSkus[] = {"BOLT-M8", "NUT-M8", "WASHER-8", "GEAR-24T",
                                "BEARING-608", "SHAFT-120", "SPRING-C3"};
  std::vector<std::string> events;
  for (size_t n = 0; n < count; ++n) {
    std::string e = "{\"orderId\":\"ord-" + std::to_string(random() % 10000000) +
                    "\",\"customer\":{\"id\":" + std::to_string(random() % 100000) +
                    ",\"name\":\"" + kNames[random() % 8] +
                    "\"},\"currency\":\"EUR\",\"lines\":[";
    bool first = true;
    while (e.size() + 90 < size) {
      if (!first) e += ",";
      first = false;
      e += "{\"sku\":\"" + std::string(kSkus[random() % 7]) + "\",\"qty\":" +
           std::to_string(random() % 50 + 1) + ",\"price\":" +
           std::to_string(random() % 10000) + "." +
           std::to_string(random() % 100) + "}";
    }
    e += "],\"placedAt\":" + std::to_string(1764000000000000 + random() % 1000000000) + "}";
    if (e.size() < size) e.append(size - e.size(), ' ');
    e.resize(size);
    events.push_back(std::move(e));
  }
  return events;
}

struct Buffer {
  std::string bytes = std::string(64 << 10, '\0');
  cairn_buffer raw{reinterpret_cast<uint8_t*>(bytes.data()), 0, bytes.size(),
                   &Grow, this};
  static int Grow(cairn_buffer* buffer, size_t additional) {
    Buffer* self = static_cast<Buffer*>(buffer->owner);
    self->bytes.resize(2 * (buffer->size + additional));
    buffer->data = reinterpret_cast<uint8_t*>(self->bytes.data());
    buffer->capacity = self->bytes.size();
    return 0;
  }
  void Clear() { raw.size = 0; }
};

cairn_bytes Bytes(const std::string& s) {
  return cairn_bytes{reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

const void* Table(cairn_plugin_entry_fn entry) {
  cairn_host_offer offer{sizeof(cairn_host_offer),
                         CAIRN_ABI_MAJOR,
                         CAIRN_ABI_MAJOR,
                         0,
                         0,
                         nullptr,
                         nullptr};
  const cairn_plugin_descriptor* descriptor = nullptr;
  if (entry(&offer, &descriptor, nullptr) != CAIRN_OK) return nullptr;
  return descriptor->table;
}

// A keyring with one active key in a private temporary folder.
class BenchKeyring {
 public:
  BenchKeyring() {
    char pattern[] = "/tmp/cairn-crypto-bench-XXXXXX";
    dir_ = ::mkdtemp(pattern);
    path_ = dir_ + "/keys";
    uint32_t id = 0;
    cairn::keyring::CreateKeyringFile(path_, &id);
  }
  ~BenchKeyring() {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
  const std::string& path() const { return path_; }
  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
  std::string path_;
};

BenchKeyring& Keys() {
  static BenchKeyring keys;
  return keys;
}

constexpr size_t kEventCount = 1024;
const std::string kAssociated("orders-4711\0\0\0\0\0\0\0\x2aOrderPlaced", 30);

// A dictionary trained (as `cairn train-dict` does) on 4096 other events of
// `size` bytes; returns its path.
std::string TrainedDictionary(size_t size) {
  std::string path = Keys().dir() + "/dict-" + std::to_string(size);
  if (std::filesystem::exists(path)) return path;
  if (!cairn::bench::WriteZstdDictionary(JsonEvents(size, 4096 + 1), path).ok())
    return "";
  return path;
}

void ZstdEncode(benchmark::State& state, const char* level,
                bool with_dictionary) {
  auto api = static_cast<const cairn_codec_api*>(Table(&cairn_builtin_codec_zstd));
  std::string dictionary = with_dictionary ? TrainedDictionary(state.range(0)) : "";
  cairn_option items[] = {{"level", level}, {"dictionary", dictionary.c_str()}};
  cairn_options options{items, with_dictionary ? 2u : 1u};
  cairn_codec* codec = nullptr;
  if ((with_dictionary && dictionary.empty()) ||
      api->open(&options, &codec, nullptr) != CAIRN_OK) {
    state.SkipWithError("zstd open failed");
    return;
  }
  std::vector<std::string> events = JsonEvents(state.range(0), kEventCount);
  Buffer out;
  size_t i = 0;
  size_t encoded_bytes = 0;
  for (auto _ : state) {
    out.Clear();
    api->encode(codec, Bytes(events[i++ % kEventCount]), &out.raw, nullptr);
    encoded_bytes += out.raw.size;
    benchmark::DoNotOptimize(out.raw.data);
  }
  state.SetBytesProcessed(state.iterations() * state.range(0));
  state.counters["ratio"] =
      static_cast<double>(state.iterations() * state.range(0)) / encoded_bytes;
  api->close(codec);
}

// libzstd alone, no plugin call: a context with the zstd codec's
// parameters (level, no checksum, content size, no dictionary id) and
// ZSTD_compress2, as the codec calls it. `raw_literals` switches Huffman
// coding of literals off (ZSTD_c_literalCompressionMode, experimental):
// no longer honest level 1, shown to measure what the literal tables cost.
void BareZstdEncode(benchmark::State& state, int level, bool raw_literals,
                    bool with_dictionary) {
  ZSTD_CCtx* context = ZSTD_createCCtx();
  ZSTD_CCtx_setParameter(context, ZSTD_c_compressionLevel, level);
  ZSTD_CCtx_setParameter(context, ZSTD_c_checksumFlag, 0);
  ZSTD_CCtx_setParameter(context, ZSTD_c_contentSizeFlag, 1);
  ZSTD_CCtx_setParameter(context, ZSTD_c_dictIDFlag, 0);
  if (raw_literals) {
    ZSTD_CCtx_setParameter(context, ZSTD_c_literalCompressionMode,
                           ZSTD_ps_disable);
  }
  ZSTD_CDict* dictionary = nullptr;
  if (with_dictionary) {
    std::ifstream in(TrainedDictionary(state.range(0)), std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)),
                      std::istreambuf_iterator<char>());
    dictionary = ZSTD_createCDict(bytes.data(), bytes.size(), level);
    ZSTD_CCtx_refCDict(context, dictionary);
  }
  std::vector<std::string> events = JsonEvents(state.range(0), kEventCount);
  std::string out(ZSTD_compressBound(state.range(0)), '\0');
  size_t i = 0;
  size_t encoded_bytes = 0;
  for (auto _ : state) {
    const std::string& event = events[i++ % kEventCount];
    size_t written = ZSTD_compress2(context, out.data(), out.size(),
                                    event.data(), event.size());
    if (ZSTD_isError(written)) {
      state.SkipWithError(ZSTD_getErrorName(written));
      break;
    }
    encoded_bytes += written;
  }
  state.SetBytesProcessed(state.iterations() * state.range(0));
  state.counters["ratio"] =
      static_cast<double>(state.iterations() * state.range(0)) /
      static_cast<double>(encoded_bytes == 0 ? 1 : encoded_bytes);
  ZSTD_freeCCtx(context);
  ZSTD_freeCDict(dictionary);
}

void ZstdDecode(benchmark::State& state, const char* level) {
  auto api = static_cast<const cairn_codec_api*>(Table(&cairn_builtin_codec_zstd));
  cairn_option option{"level", level};
  cairn_options options{&option, 1};
  cairn_codec* codec = nullptr;
  api->open(&options, &codec, nullptr);
  std::vector<std::string> encoded;
  for (const std::string& event : JsonEvents(state.range(0), kEventCount)) {
    Buffer out;
    api->encode(codec, Bytes(event), &out.raw, nullptr);
    encoded.push_back(out.bytes.substr(0, out.raw.size));
  }
  Buffer out;
  size_t i = 0;
  for (auto _ : state) {
    out.Clear();
    if (api->decode(codec, Bytes(encoded[i++ % kEventCount]), &out.raw,
                    nullptr) != CAIRN_OK) {
      state.SkipWithError("decode failed");
      break;
    }
  }
  state.SetBytesProcessed(state.iterations() * state.range(0));
  api->close(codec);
}

// libzstd alone decoding what the codec's context would write at `level`
// (no plugin call, no header check, one reused ZSTD_DCtx): the floor under
// ZstdDecode, to tell the codec's cost from zstd's own.
void BareZstdDecode(benchmark::State& state, int level) {
  ZSTD_CCtx* compress = ZSTD_createCCtx();
  ZSTD_CCtx_setParameter(compress, ZSTD_c_compressionLevel, level);
  ZSTD_CCtx_setParameter(compress, ZSTD_c_checksumFlag, 0);
  ZSTD_CCtx_setParameter(compress, ZSTD_c_contentSizeFlag, 1);
  ZSTD_CCtx_setParameter(compress, ZSTD_c_dictIDFlag, 0);
  std::vector<std::string> frames;
  for (const std::string& event : JsonEvents(state.range(0), kEventCount)) {
    std::string frame(ZSTD_compressBound(event.size()), '\0');
    frame.resize(ZSTD_compress2(compress, frame.data(), frame.size(),
                                event.data(), event.size()));
    frames.push_back(std::move(frame));
  }
  ZSTD_freeCCtx(compress);
  ZSTD_DCtx* context = ZSTD_createDCtx();
  std::string out(state.range(0), '\0');
  size_t i = 0;
  for (auto _ : state) {
    const std::string& frame = frames[i++ % kEventCount];
    size_t written = ZSTD_decompressDCtx(context, out.data(), out.size(),
                                         frame.data(), frame.size());
    if (ZSTD_isError(written)) {
      state.SkipWithError(ZSTD_getErrorName(written));
      break;
    }
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(state.iterations() * state.range(0));
  ZSTD_freeDCtx(context);
}

cairn_cipher* OpenCipher(const cairn_cipher_api* api) {
  cairn_option option{"keyring", Keys().path().c_str()};
  cairn_options options{&option, 1};
  cairn_cipher* cipher = nullptr;
  if (api->open(&options, &cipher, nullptr) != CAIRN_OK) return nullptr;
  return cipher;
}

void Seal(benchmark::State& state, cairn_plugin_entry_fn entry) {
  auto api = static_cast<const cairn_cipher_api*>(Table(entry));
  cairn_cipher* cipher = OpenCipher(api);
  if (cipher == nullptr) {
    state.SkipWithError("cipher open failed");
    return;
  }
  std::vector<std::string> events = JsonEvents(state.range(0), kEventCount);
  Buffer out;
  size_t i = 0;
  uint32_t key_id = 0;
  for (auto _ : state) {
    out.Clear();
    api->seal(cipher, Bytes(kAssociated), Bytes(events[i++ % kEventCount]),
              &out.raw, &key_id, nullptr);
    benchmark::DoNotOptimize(out.raw.data);
  }
  state.SetBytesProcessed(state.iterations() * state.range(0));
  api->close(cipher);
}

void Open(benchmark::State& state, cairn_plugin_entry_fn entry) {
  auto api = static_cast<const cairn_cipher_api*>(Table(entry));
  cairn_cipher* cipher = OpenCipher(api);
  if (cipher == nullptr) {
    state.SkipWithError("cipher open failed");
    return;
  }
  std::vector<std::string> sealed;
  uint32_t key_id = 0;
  for (const std::string& event : JsonEvents(state.range(0), kEventCount)) {
    Buffer out;
    api->seal(cipher, Bytes(kAssociated), Bytes(event), &out.raw, &key_id,
              nullptr);
    sealed.push_back(out.bytes.substr(0, out.raw.size));
  }
  Buffer out;
  size_t i = 0;
  for (auto _ : state) {
    out.Clear();
    if (api->open_sealed(cipher, key_id, Bytes(kAssociated),
                         Bytes(sealed[i++ % kEventCount]), &out.raw,
                         nullptr) != CAIRN_OK) {
      state.SkipWithError("open failed");
      break;
    }
  }
  state.SetBytesProcessed(state.iterations() * state.range(0));
  api->close(cipher);
}

BENCHMARK_CAPTURE(ZstdEncode, level1, "1", false)->Arg(256)->Arg(4096);
BENCHMARK_CAPTURE(ZstdEncode, level1_dictionary, "1", true)->Arg(256)->Arg(4096);
BENCHMARK_CAPTURE(ZstdDecode, level1, "1")->Arg(256)->Arg(4096);
BENCHMARK_CAPTURE(ZstdDecode, level3, "3")->Arg(256);
BENCHMARK_CAPTURE(BareZstdDecode, level1, 1)->Arg(256);
BENCHMARK_CAPTURE(BareZstdDecode, level3, 3)->Arg(256);
BENCHMARK_CAPTURE(BareZstdEncode, level1, 1, false, false)->Arg(256)->Arg(4096);
BENCHMARK_CAPTURE(BareZstdEncode, level1_dictionary, 1, false, true)->Arg(256);
BENCHMARK_CAPTURE(BareZstdEncode, level1_raw_literals, 1, true, false)->Arg(256);
BENCHMARK_CAPTURE(BareZstdEncode, level_minus5, -5, false, false)->Arg(256);
BENCHMARK_CAPTURE(ZstdEncode, level3, "3", false)->Arg(256)->Arg(4096);
BENCHMARK_CAPTURE(Seal, aes_gcm, &cairn_builtin_cipher_aes_gcm)->Arg(256)->Arg(4096);
BENCHMARK_CAPTURE(Open, aes_gcm, &cairn_builtin_cipher_aes_gcm)->Arg(256)->Arg(4096);
BENCHMARK_CAPTURE(Seal, chacha20_poly1305, &cairn_builtin_cipher_chacha20_poly1305)
    ->Arg(256)->Arg(4096);
BENCHMARK_CAPTURE(Open, chacha20_poly1305, &cairn_builtin_cipher_chacha20_poly1305)
    ->Arg(256)->Arg(4096);

#ifdef CAIRN_CRYPTO_BENCH_HAVE_MMAPLOG
// The whole append pipeline through cairn::Store: codec + aes-gcm + mmaplog
// with fsync=never, batches of range(1) events of range(0) bytes, one
// stream per batch round-robin over 1000 streams. Reports events/s. The
// codec is zstd level 1 (the pipeline), zstd level 1 with a trained
// dictionary, or identity (to show what the rest of the pipeline costs).
// The site config of the pipeline benchmarks for `codec` in `data_dir`.
cairn::SiteConfig PipelineSite(const std::string& codec, const std::string& data_dir,
                               size_t event_size) {
  cairn::SiteConfig config;
  config.path = data_dir;
  config.storage = cairn::PluginChoice{"mmaplog", {{"fsync", "never"}}};
  if (codec ==
      "plain") {  // what `cairn bench` calls cairn: no codec, no cipher
    config.codec = cairn::PluginChoice{"identity", {}};
    return config;
  }
  if (codec == "identity") {
    config.codec = cairn::PluginChoice{"identity", {}};
  } else if (codec == "zstd1_dictionary") {
    config.codec = cairn::PluginChoice{
        "zstd", {{"level", "1"}, {"dictionary", TrainedDictionary(event_size)}}};
  } else if (codec ==
             "zstd3") {  // `cairn bench`'s cairn-sealed: zstd's default level
    config.codec = cairn::PluginChoice{"zstd", {{"level", "3"}}};
  } else {
    config.codec = cairn::PluginChoice{"zstd", {{"level", "1"}}};
  }
  config.cipher = cairn::PluginChoice{"aes-gcm", {{"keyring", Keys().path()}}};
  return config;
}

cairn::PluginRegistry& PipelineRegistry() {
  static cairn::PluginRegistry* registry = [] {
    auto* r = new cairn::PluginRegistry();
    (void)cairn::RegisterBuiltinPlugins(*r);
    return r;
  }();
  return *registry;
}

// Appends batches of `batch` events of `payloads` to streams "<prefix>N"
// (N cycling over 1000) for as long as the state runs.
void AppendBatches(benchmark::State& state, cairn::Store& store, const std::string& prefix,
                   const std::vector<std::string>& payloads, size_t batch) {
  std::vector<cairn::EventData> events(batch);
  for (auto& e : events) e.type = "OrderPlaced";
  size_t i = 0;
  uint64_t stream = 0;
  for (auto _ : state) {
    for (auto& e : events) e.data = payloads[i++ % payloads.size()];
    auto result = store.Append(prefix + std::to_string(stream++ % 1000),
                               cairn::ExpectedRevision::Any(), events);
    if (!result.ok()) {
      state.SkipWithError(std::string(result.status().message()).c_str());
      break;
    }
  }
  state.SetItemsProcessed(state.iterations() * batch);
  state.SetBytesProcessed(state.iterations() * batch * state.range(0));
}

void StoreAppend(benchmark::State& state, const char* codec) {
  std::string data_dir = Keys().dir() + "/store-" + codec + "-" +
                         std::to_string(state.range(0)) + "-" +
                         std::to_string(state.range(1));
  std::error_code ignored;
  std::filesystem::remove_all(data_dir, ignored);
  auto store = cairn::Store::Open(PipelineSite(codec, data_dir, state.range(0)),
                                  PipelineRegistry());
  if (!store.ok()) {
    state.SkipWithError(std::string(store.status().message()).c_str());
    return;
  }
  AppendBatches(state, **store, "orders-", JsonEvents(state.range(0), kEventCount),
                static_cast<size_t>(state.range(1)));
  store->reset();
  std::filesystem::remove_all(data_dir, ignored);
}

// The same pipeline with several writer threads on one store, each on its
// own 1000 streams. Timed in wall-clock time (UseRealTime): items_per_second
// is all threads' events over the elapsed time, what the store sustains with
// that many writers, not a per-core figure. Meaningful only on a machine
// with a free core per thread.
void StoreAppendThreads(benchmark::State& state, const char* codec) {
  static std::mutex mutex;
  static std::shared_ptr<cairn::Store> shared;
  static int users = 0;
  const std::string data_dir = Keys().dir() + "/store-threads-" + codec;
  std::shared_ptr<cairn::Store> store;
  {
    std::lock_guard<std::mutex> lock(mutex);
    if (users++ == 0) {
      std::error_code ignored;
      std::filesystem::remove_all(data_dir, ignored);
      auto opened = cairn::Store::Open(PipelineSite(codec, data_dir, state.range(0)),
                                       PipelineRegistry());
      if (opened.ok()) shared = std::move(*opened);
    }
    store = shared;
  }
  if (store == nullptr) {
    state.SkipWithError("store open failed");
  } else {
    AppendBatches(state, *store, "orders-" + std::to_string(state.thread_index()) + "-",
                  JsonEvents(state.range(0), kEventCount),
                  static_cast<size_t>(state.range(1)));
  }
  std::lock_guard<std::mutex> lock(mutex);
  store.reset();
  if (--users == 0) {
    shared.reset();
    std::error_code ignored;
    std::filesystem::remove_all(data_dir, ignored);
  }
}
// The read path through cairn::Store, as `cairn bench`'s read-stream reads:
// a store of 20 streams of 1000 events of range(0) bytes (written with
// fsync=never, closed and reopened), each iteration reading one whole
// stream, streams in turn. Every event is opened (authenticated) and decoded
// on the way, so items_per_second is events read per second of CPU.
// "plain" is the identity codec with no cipher, the baseline the sealed
// variants are compared with.
void StoreReadStream(benchmark::State& state, const char* codec) {
  constexpr int kStreams = 20;
  constexpr size_t kStreamLength = 1000;
  std::string data_dir =
      Keys().dir() + "/read-" + codec + "-" + std::to_string(state.range(0));
  std::error_code ignored;
  std::filesystem::remove_all(data_dir, ignored);
  cairn::SiteConfig site = PipelineSite(codec, data_dir, state.range(0));
  {
    auto store = cairn::Store::Open(site, PipelineRegistry());
    if (!store.ok()) {
      state.SkipWithError(std::string(store.status().message()).c_str());
      return;
    }
    std::vector<std::string> payloads = JsonEvents(state.range(0), kEventCount);
    std::vector<cairn::EventData> events(100);
    for (auto& e : events) e.type = "OrderPlaced";
    size_t i = 0;
    for (int s = 0; s < kStreams; ++s) {
      for (size_t n = 0; n < kStreamLength; n += events.size()) {
        for (auto& e : events) e.data = payloads[i++ % payloads.size()];
        auto result = (*store)->Append("orders-" + std::to_string(s),
                                       cairn::ExpectedRevision::Any(), events);
        if (!result.ok()) {
          state.SkipWithError(std::string(result.status().message()).c_str());
          return;
        }
      }
    }
  }
  auto store = cairn::Store::Open(site, PipelineRegistry());
  if (!store.ok()) {
    state.SkipWithError(std::string(store.status().message()).c_str());
    return;
  }
  uint64_t stream = 0;
  size_t bytes = 0;
  for (auto _ : state) {
    size_t count = 0;
    absl::Status s = (*store)->ReadStream(
        "orders-" + std::to_string(stream++ % kStreams), 1, cairn::kMaxRevision,
        kStreamLength, [&](const cairn::RecordedEvent& e) {
          bytes += e.data.size();
          ++count;
          return true;
        });
    if (!s.ok() || count != kStreamLength) {
      state.SkipWithError(s.ok() ? "short read"
                                 : std::string(s.message()).c_str());
      break;
    }
  }
  benchmark::DoNotOptimize(bytes);
  state.SetItemsProcessed(state.iterations() * kStreamLength);
  state.SetBytesProcessed(state.iterations() * kStreamLength * state.range(0));
  store->reset();
  std::filesystem::remove_all(data_dir, ignored);
}

BENCHMARK_CAPTURE(StoreReadStream, plain, "plain")
    ->Arg(256)
    ->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(StoreReadStream, identity, "identity")
    ->Arg(256)
    ->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(StoreReadStream, zstd3, "zstd3")
    ->Arg(256)
    ->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(StoreReadStream, zstd1_dictionary, "zstd1_dictionary")
    ->Arg(256)
    ->Unit(benchmark::kMicrosecond);

BENCHMARK_CAPTURE(StoreAppend, zstd1, "zstd1")
    ->Args({256, 1})->Args({256, 100})->Args({4096, 100})
    ->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(StoreAppend, zstd1_dictionary, "zstd1_dictionary")
    ->Args({256, 100})->Args({4096, 100})->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(StoreAppend, identity, "identity")
    ->Args({256, 100})->Args({4096, 100})->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(StoreAppendThreads, zstd1_dictionary, "zstd1_dictionary")
    ->Args({256, 100})->Threads(2)->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(StoreAppendThreads, identity, "identity")
    ->Args({256, 100})->Threads(2)->UseRealTime()->Unit(benchmark::kMicrosecond);
#endif

}  // namespace

BENCHMARK_MAIN();
