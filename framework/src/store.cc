#include <cairn/store.h>

#include <cairn/names.h>
#include <cairn/sdk/common.hpp>
#include <cairn/status.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <memory>
#include <mutex>
#include <new>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "commit_tracker.h"
#include "envelope.h"
#include "seal_registry.h"

namespace cairn {
namespace {

absl::string_view AV(std::string_view s) {
  return absl::string_view(s.data(), s.size());
}

cairn_bytes Bytes(std::string_view s) {
  return cairn_bytes{reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

std::string_view View(cairn_bytes b) {
  return b.size == 0 ? std::string_view()
                     : std::string_view(reinterpret_cast<const char*>(b.data), b.size);
}

// An error buffer for one plugin call. Only the first byte is cleared: a
// CallError is made for every plugin call on the write path, and zeroing
// the whole kilobyte each time showed up in profiles.
struct CallError {
  CallError() { message[0] = '\0'; }
  CallError(const CallError&) = delete;
  CallError& operator=(const CallError&) = delete;
  char message[1024];
  cairn_error error{message, sizeof(message)};
};

// Turns a plugin's status into an absl::Status, prefixing what was attempted.
absl::Status Check(cairn_status status, const CallError& e,
                   std::string_view context) {
  if (status == CAIRN_OK) return absl::OkStatus();
  std::string msg = e.message[0] ? std::string(e.message) : CodeName(status);
  return MakeStatus(status, absl::StrCat(AV(context), ": ", msg));
}

// Check for the per-event calls: `context()` builds the prefix only when
// the call failed (formatting it for every event cost more than a seal).
template <typename Context>
absl::Status CheckEach(cairn_status status, const CallError& e, Context&& context) {
  if (status == CAIRN_OK) return absl::OkStatus();
  return Check(status, e, context());
}

// Appends `bytes` to a cairn_buffer, growing it through its reserve:
// storage's in an append's seal callback, or an OutputBuffer's own. Throws
// std::bad_alloc if it cannot grow.
void AppendTo(cairn_buffer* out, std::string_view bytes) {
  if (out->capacity - out->size < bytes.size() &&
      (out->reserve == nullptr || out->reserve(out, bytes.size()) != 0 ||
       out->capacity - out->size < bytes.size())) {
    throw std::bad_alloc();
  }
  if (!bytes.empty())
    std::memcpy(out->data + out->size, bytes.data(), bytes.size());
  out->size += bytes.size();
}

// A byte buffer that plugins append to through a cairn_buffer. Unlike a
// std::string grown with resize() it never zero-fills what the plugin is
// about to overwrite. The write path keeps one per thread and reuses it.
class OutputBuffer {
 public:
  OutputBuffer() {
    raw_.reserve = &Grow;
    raw_.owner = this;
  }
  OutputBuffer(const OutputBuffer&) = delete;
  OutputBuffer& operator=(const OutputBuffer&) = delete;

  cairn_buffer* raw() { return &raw_; }
  size_t size() const { return raw_.size; }
  std::string_view view() const {
    return std::string_view(reinterpret_cast<const char*>(raw_.data), raw_.size);
  }
  std::string_view view(size_t begin, size_t end) const { return view().substr(begin, end - begin); }
  uint8_t* at(size_t offset) { return raw_.data + offset; }
  void Clear() { raw_.size = 0; }
  // Frees a buffer that grew past `limit` (one huge event must not pin its
  // memory in a thread for good).
  void Release(size_t limit) {
    if (raw_.capacity > limit) {
      bytes_.reset();
      raw_.data = nullptr;
      raw_.capacity = 0;
      raw_.size = 0;
    }
  }
  void Append(std::string_view bytes) { AppendTo(&raw_, bytes); }

 private:
  static int Grow(cairn_buffer* b, size_t additional) {
    auto* self = static_cast<OutputBuffer*>(b->owner);
    if (additional > SIZE_MAX / 2 - b->size) return 1;
    size_t capacity = std::max({b->size + additional, 2 * b->capacity, size_t{256}});
    std::unique_ptr<uint8_t[]> grown(new (std::nothrow) uint8_t[capacity]);
    if (grown == nullptr) return 1;
    if (b->size != 0) std::memcpy(grown.get(), b->data, b->size);
    self->bytes_ = std::move(grown);
    b->data = self->bytes_.get();
    b->capacity = capacity;
    return 0;
  }
  std::unique_ptr<uint8_t[]> bytes_;
  cairn_buffer raw_{};
};

// Thread buffers above this are freed after use.
constexpr size_t kKeptBufferBytes = 4u << 20;

// Lets a plugin append to a std::string through a cairn_buffer.
class StringOutput {
 public:
  explicit StringOutput(std::string* out) : out_(out) {
    buffer_.data = reinterpret_cast<uint8_t*>(out->data());
    buffer_.size = out->size();
    buffer_.capacity = out->size();
    buffer_.reserve = &Reserve;
    buffer_.owner = out;
  }
  ~StringOutput() { out_->resize(buffer_.size); }
  cairn_buffer* get() { return &buffer_; }

 private:
  static int Reserve(cairn_buffer* b, size_t additional) {
    try {
      auto* s = static_cast<std::string*>(b->owner);
      size_t need = b->size + additional;
      if (need > s->size()) s->resize(std::max(need, s->size() * 2 + 64));
      b->data = reinterpret_cast<uint8_t*>(s->data());
      b->capacity = s->size();
      return 0;
    } catch (...) {
      return 1;
    }
  }
  std::string* out_;
  cairn_buffer buffer_{};
};

int64_t NowMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string Describe(std::string_view stream, uint64_t revision) {
  return absl::StrCat("stream '", AV(stream), "' revision ", revision);
}

// Options for one plugin as the ABI wants them; the strings stay owned here.
class PluginOptions {
 public:
  PluginOptions(const std::vector<std::pair<std::string, std::string>>& pairs) {
    for (const auto& [k, v] : pairs) {
      keys_.push_back(k);
      values_.push_back(v);
    }
    for (size_t i = 0; i < keys_.size(); ++i) {
      items_.push_back(cairn_option{keys_[i].c_str(), values_[i].c_str()});
    }
    options_.items = items_.data();
    options_.count = items_.size();
  }
  const cairn_options* get() const { return &options_; }

 private:
  std::vector<std::string> keys_, values_;
  std::vector<cairn_option> items_;
  cairn_options options_{};
};

// `choice`'s options for `plugin`: a relative value from a site file of an
// option the plugin describes as CAIRN_OPT_PATH is taken from that file's
// folder (PluginChoice::ResolvedOptions), the rest as given.
std::vector<std::pair<std::string, std::string>> OptionsFor(
    const Plugin& plugin, const PluginChoice& choice) {
  std::set<std::string> paths;
  for (const OptionInfo& option : plugin.options()) {
    if (option.type == CAIRN_OPT_PATH) paths.insert(option.key);
  }
  return choice.ResolvedOptions(paths);
}

// Refuses options the plugin does not describe, values that do not fit
// their descriptor and missing required ones, naming section and key.
absl::Status CheckOptionKeys(const char* section, const Plugin& plugin,
                             const PluginChoice& choice) {
  return CheckOptions(section, plugin.name(), plugin.options(), choice.options);
}

// The host-defined storage option `create` (cairn/plugin.h), for a plugin
// that lists it: "false" if the host or the site says so, else "true".
absl::Status AddCreateOption(const std::vector<std::string>& accepted,
                             const StoreOpenOptions& open_options,
                             std::vector<std::pair<std::string, std::string>>* pairs) {
  if (std::find(accepted.begin(), accepted.end(), "create") == accepted.end()) {
    return absl::OkStatus();
  }
  auto site = std::find_if(pairs->begin(), pairs->end(),
                           [](const auto& kv) { return kv.first == "create"; });
  if (site == pairs->end()) {
    pairs->emplace_back("create", open_options.create ? "true" : "false");
    return absl::OkStatus();
  }
  if (site->second != "true" && site->second != "false") {
    return MakeStatus(CAIRN_E_INVALID_ARGUMENT,
                      absl::StrCat("[storage] create = ", site->second,
                                   ": not true or false"));
  }
  if (!open_options.create) site->second = "false";
  return absl::OkStatus();
}

// The host-defined storage option `commit` (cairn/plugin.h): "host" when
// the replication plugin declares CAIRN_CAP_MULTI_NODE (or the site asks
// for it), else "durable", for a storage plugin that lists the option.
// Sets *host when the Store must advance committed itself; refuses a
// storage that cannot let it, naming both plugins and what is missing.
absl::Status AddCommitOption(
    const Plugin& storage, const Plugin& replication,
    std::vector<std::pair<std::string, std::string>>* pairs, bool* host) {
  std::vector<std::string> accepted = storage.option_keys();
  const bool lists =
      std::find(accepted.begin(), accepted.end(), "commit") != accepted.end();
  auto site = std::find_if(pairs->begin(), pairs->end(),
                           [](const auto& kv) { return kv.first == "commit"; });
  const bool multi_node = replication.Has(CAIRN_CAP_MULTI_NODE);
  *host = multi_node || (site != pairs->end() && site->second == "host");
  if (!*host) {
    if (lists && site == pairs->end()) pairs->emplace_back("commit", "durable");
    return absl::OkStatus();
  }
  const cairn_storage_api* api = storage.storage();
  std::string missing;
  if (!storage.Has(CAIRN_CAP_HOST_COMMIT)) {
    missing = "does not declare CAIRN_CAP_HOST_COMMIT";
  } else if (!lists) {
    missing =
        "declares CAIRN_CAP_HOST_COMMIT but does not list the option 'commit'";
  } else if (!CAIRN_HAS_FIELD(cairn_storage_api, api, set_committed) ||
             api->set_committed == nullptr || api->log_state == nullptr) {
    missing =
        "declares CAIRN_CAP_HOST_COMMIT but lacks set_committed or log_state";
  }
  if (!missing.empty()) {
    std::string why =
        multi_node
            ? absl::StrCat(
                  "replication plugin '", replication.name(),
                  "' declares CAIRN_CAP_MULTI_NODE (it acknowledges appends "
                  "once peers have them)")
            : std::string("[storage] commit = host");
    return MakeStatus(
        CAIRN_E_FAILED_PRECONDITION,
        absl::StrCat(why,
                     ", so the host must advance storage's committed "
                     "watermark itself, but storage plugin '",
                     storage.name(), "' ", missing,
                     "; readers would see events replication "
                     "has not acknowledged. Choose a storage plugin that "
                     "declares CAIRN_CAP_HOST_COMMIT"));
  }
  if (site == pairs->end()) {
    pairs->emplace_back("commit", "host");
  } else if (site->second != "host") {
    return MakeStatus(
        CAIRN_E_INVALID_ARGUMENT,
        absl::StrCat(
            "[storage] commit = ", site->second, ": replication plugin '",
            replication.name(),
            "' declares CAIRN_CAP_MULTI_NODE, which needs commit = host "
            "(what the host passes); remove the key"));
  }
  return absl::OkStatus();
}

// Set on the appending thread when its seal recorded a key in the seal
// registry: a snapshot record no append range covers (host commit).
thread_local bool recorded_seal_key = false;

}  // namespace

struct Store::Impl {
  PluginRegistry* registry = nullptr;
  SiteConfig config;

  PluginPtr storage_plugin, codec_plugin, cipher_plugin, replication_plugin;
  const cairn_storage_api* st = nullptr;
  const cairn_codec_api* co = nullptr;
  const cairn_cipher_api* ci = nullptr;
  const cairn_replication_api* re = nullptr;
  cairn_storage* storage = nullptr;
  cairn_codec* codec = nullptr;
  cairn_cipher* cipher = nullptr;
  cairn_replication* replication = nullptr;
  bool apply_codec = false;   // codec is not identity
  bool apply_cipher = false;  // cipher is not none

  // Codecs named by old events but not configured now, opened on demand with
  // their default options so a site can change codec without rewriting.
  std::mutex extra_mutex;
  std::map<std::string, std::pair<PluginPtr, cairn_codec*>> extra_codecs;
  // Likewise ciphers named by old events (a site that moved from one cipher
  // to another), opened with the options of [cipher] they accept (its
  // keyring), so old events keep opening. Under extra_mutex.
  std::map<std::string, std::pair<PluginPtr, cairn_cipher*>> extra_ciphers;

  // The seal registry (seal_registry.h): what this store was sealed with.
  bool keeps_registry = false;     // storage has snapshots to keep it in
  std::mutex registry_mutex;
  std::vector<SealKey> seal_keys;  // under registry_mutex
  // Key ids of the configured cipher that the store recorded as another key
  // (opened with allow-new-keyring): never sealed with. Set at open.
  std::set<uint32_t> unproven_key_ids;
  // The last key id of the configured cipher found recorded: the check each
  // seal makes without taking registry_mutex.
  static constexpr uint64_t kNoKey = UINT64_MAX;
  std::atomic<uint64_t> proven_key_id{kNoKey};

  // Host commit ("commit" = "host", docs/architecture.md "Watermarks"):
  // the Store advances storage's committed watermark over the contiguous
  // prefix of positions replication acknowledged. Appends hold
  // write_order shared while inside storage, control writes hold it
  // exclusively, so the written watermark after a control write is its
  // own record's position.
  bool host_commit = false;
  std::unique_ptr<CommitTracker> tracker;  // host commit only
  // Acknowledgements handled (committed advanced if they allowed it).
  std::atomic<uint64_t> acknowledgements{0};
  absl::Mutex write_order;

  // ---- Replication's write gate (cairn_replication_host) ----
  // Host writes (appends, deletes, snapshot writes, a new primary's tail)
  // are admitted while no pause is in force and count in `writers` until
  // they have returned from storage and from replicate. pause_writes stops
  // admitting and waits for `writers` to reach 0; role_changed restarts
  // commit tracking; the tail worker offers a new primary's uncommitted
  // tail to replicate once writes resume, and appends are admitted only
  // once it has taken that tail.
  // std primitives, not absl::Mutex::Await: ThreadSanitizer sees through
  // them (Debian's Abseil is not instrumented).
  std::mutex gate_mu;
  std::condition_variable gate_changed;
  int pauses = 0;             // under gate_mu
  int writers = 0;            // under gate_mu
  bool closing = false;       // under gate_mu
  bool tail_pending = false;  // under gate_mu
  std::atomic<uint64_t> role_changes{0};
  // The newest epoch role_changed or leader() reported: while a write is
  // admitted, the epoch it is written in (AppendResult::epoch).
  std::atomic<uint64_t> epoch{0};
  void RaiseEpoch(uint64_t to) {
    uint64_t now = epoch.load(std::memory_order_relaxed);
    while (now < to && !epoch.compare_exchange_weak(now, to)) {
    }
  }
  cairn_replication_host host{};
  std::thread tail_worker;  // host commit only

  ~Impl() {
    {
      std::lock_guard<std::mutex> lock(gate_mu);
      closing = true;
    }
    gate_changed.notify_all();
    if (tail_worker.joinable()) tail_worker.join();
    if (storage != nullptr) {
      CallError e;
      st->flush(storage, &e.error);
    }
    if (replication != nullptr) re->close(replication);
    if (storage != nullptr) st->close(storage);
    if (cipher != nullptr) ci->close(cipher);
    if (codec != nullptr) co->close(codec);
    for (auto& [name, entry] : extra_codecs) entry.first->codec()->close(entry.second);
    for (auto& [name, entry] : extra_ciphers) entry.first->cipher()->close(entry.second);
  }

  // ---- Write side ----

  // The envelopes this store writes, built once at open: for events and for
  // snapshots (which keep no metadata inside). With a cipher, the last 4
  // bytes are the key id, patched per seal.
  std::string event_envelope, snapshot_envelope;

  void BuildEnvelopes() {
    Envelope envelope;
    if (apply_codec) envelope.codec = codec_plugin->name();
    if (apply_cipher) envelope.cipher = cipher_plugin->name();
    envelope.metadata_inside = apply_codec || apply_cipher;
    WriteEnvelope(envelope, &event_envelope);
    envelope.metadata_inside = false;
    WriteEnvelope(envelope, &snapshot_envelope);
  }

  // Encodes and seals `data` (and `metadata`, inside the payload for events)
  // for `fields.part`, binding every field in `fields` (envelope.h), and
  // appends envelope and payload to *stored. The cipher (or, without one,
  // the codec) appends straight into *stored; nothing is formatted unless a
  // plugin fails. The first seal under a key records it in the seal
  // registry first. On failure *stored holds a partial record: the caller
  // discards it. `stored` may be storage's buffer (the append's seal
  // callback) or the Store's own.
  absl::Status Seal(const SealedFields& fields, std::string_view metadata,
                    std::string_view data, cairn_buffer* stored) {
    const std::string_view stream = fields.stream;
    const uint64_t revision = fields.revision;
    const SealedPart part = fields.part;
    const std::string& header =
        part == SealedPart::kSnapshot ? snapshot_envelope : event_envelope;
    const size_t record_start = stored->size;
    AppendTo(stored, header);
    if (!apply_codec && !apply_cipher) {
      AppendTo(stored, data);
      return absl::OkStatus();
    }
    thread_local OutputBuffer plain, encoded;
    thread_local std::string aad;
    std::string_view input = data;
    if (part != SealedPart::kSnapshot) {
      plain.Clear();
      uint8_t length[4];
      for (int i = 0; i < 4; ++i) {
        length[i] = static_cast<uint8_t>((metadata.size() >> (8 * i)) & 0xff);
      }
      plain.Append(std::string_view(reinterpret_cast<const char*>(length), 4));
      plain.Append(metadata);
      plain.Append(data);
      input = plain.view();
    }
    if (apply_codec) {
      cairn_buffer* out = apply_cipher ? encoded.raw() : stored;
      if (apply_cipher) encoded.Clear();
      CallError e;
      absl::Status status =
          CheckEach(co->encode(codec, Bytes(input), out, &e.error), e, [&] {
            return absl::StrCat("codec '", codec_plugin->name(), "' encoding ",
                                Describe(stream, revision));
          });
      if (!status.ok()) return status;
      if (!apply_cipher) {
        plain.Release(kKeptBufferBytes);
        return absl::OkStatus();
      }
      input = encoded.view();
    }
    AssociatedData(kEnvelopeVersion, fields, &aad);
    uint32_t key_id = 0;
    CallError e;
    absl::Status status = CheckEach(
        ci->seal(cipher, Bytes(aad), Bytes(input), stored, &key_id, &e.error),
        e, [&] {
          return absl::StrCat("cipher '", cipher_plugin->name(), "' sealing ",
                              Describe(stream, revision));
        });
    if (!status.ok()) return status;
    uint8_t* key_bytes = stored->data + record_start + header.size() - 4;
    for (int i = 0; i < 4; ++i) key_bytes[i] = static_cast<uint8_t>((key_id >> (8 * i)) & 0xff);
    plain.Release(kKeptBufferBytes);
    encoded.Release(kKeptBufferBytes);
    return CheckSealKey(key_id, stream, revision);
  }

  // ---- Seal registry ----

  absl::Status LoadSealRegistry() {
    keeps_registry = st->snapshot_load != nullptr && st->snapshot_save != nullptr &&
                     storage_plugin->Has(CAIRN_CAP_SNAPSHOTS);
    if (!keeps_registry) return absl::OkStatus();
    cairn_snapshot_criteria all{};
    all.size = sizeof(all);
    all.max_revision = kMaxRevision;
    all.min_timestamp_us = INT64_MIN;
    all.max_timestamp_us = INT64_MAX;
    std::string text;
    auto keep = [](void* context, const cairn_snapshot* s) -> int {
      static_cast<std::string*>(context)->assign(View(s->data));
      return 1;
    };
    CallError e;
    absl::Status s = Check(st->snapshot_load(storage, Bytes(kSealRegistryStream), &all, keep,
                                             &text, &e.error),
                           e, "loading the store's seal registry");
    if (!s.ok()) return s;
    absl::StatusOr<std::vector<SealKey>> keys = ParseSealRegistry(
        text, absl::StrCat("the seal registry (snapshot '", AV(kSealRegistryStream), "')"));
    if (!keys.ok()) return keys.status();
    seal_keys = std::move(*keys);
    return absl::OkStatus();
  }

  bool Recorded(std::string_view cipher_name, uint32_t key_id) const {
    return std::any_of(seal_keys.begin(), seal_keys.end(), [&](const SealKey& k) {
      return k.cipher == cipher_name && k.key_id == key_id;
    });
  }

  // Called after each seal with the key id the cipher used: records a key
  // the first time it seals (a check value and a new registry snapshot,
  // stored before the events sealed under it), and refuses a key id the
  // store recorded as another key.
  absl::Status CheckSealKey(uint32_t key_id, std::string_view stream, uint64_t revision) {
    if (proven_key_id.load(std::memory_order_acquire) == key_id) return absl::OkStatus();
    std::lock_guard<std::mutex> lock(registry_mutex);
    const std::string& name = cipher_plugin->name();
    if (unproven_key_ids.count(key_id) != 0) {
      return MakeStatus(
          CAIRN_E_FAILED_PRECONDITION,
          absl::StrCat("cipher '", name, "' sealing ", Describe(stream, revision),
                       " with key id ", key_id, ": this store recorded another key under id ",
                       key_id, " (the keyring was opened with [store] allow-new-keyring = true); "
                       "events sealed with it could never be told apart from the old ones. "
                       "Rotate the keyring ('cairn keys rotate') until its active key id is "
                       "above ", *unproven_key_ids.rbegin(), ", then reopen the store"));
    }
    if (keeps_registry && !Recorded(name, key_id)) {
      OutputBuffer check;
      uint32_t check_id = 0;
      CallError e;
      absl::Status s = Check(
          ci->seal(cipher, Bytes(KeyCheckAssociatedData(name)), Bytes(kKeyCheckBlock),
                   check.raw(), &check_id, &e.error),
          e, absl::StrCat("cipher '", name, "' sealing the check value of key id ", key_id));
      if (!s.ok()) return s;
      if (check_id != key_id) {
        return MakeStatus(CAIRN_E_FAILED_PRECONDITION,
                          absl::StrCat("cipher '", name, "' changed its active key from ",
                                       key_id, " to ", check_id, " while sealing ",
                                       Describe(stream, revision),
                                       " (a rotation); nothing was written: retry"));
      }
      std::vector<SealKey> keys = seal_keys;
      keys.push_back(SealKey{name, key_id, std::string(check.view()), NowMicros()});
      std::string text = FormatSealRegistry(keys);
      cairn_snapshot snapshot{};
      snapshot.size = sizeof(snapshot);
      snapshot.stream = Bytes(kSealRegistryStream);
      snapshot.revision = keys.size();
      snapshot.timestamp_us = keys.back().recorded_us;
      snapshot.data = Bytes(text);
      CallError se;
      s = Check(st->snapshot_save(storage, &snapshot, &se.error), se,
                absl::StrCat("recording key id ", key_id, " of cipher '", name,
                             "' in the store's seal registry before its first seal is stored"));
      if (!s.ok()) return s;
      seal_keys = std::move(keys);
      recorded_seal_key = true;
      std::string line = absl::StrCat("first seal under cipher '", name, "' key id ", key_id,
                                      ": recorded in the store's seal registry");
      HostLog(CAIRN_LOG_INFO, "store", line.c_str());
    }
    proven_key_id.store(key_id, std::memory_order_release);
    return absl::OkStatus();
  }

  // ---- Host commit ----

  absl::StatusOr<cairn_log_state> ReadLogState() {
    cairn_log_state state{};
    state.size = sizeof(state);
    CallError e;
    absl::Status s = Check(
        st->log_state(storage, &state, &e.error), e,
        absl::StrCat("log state of storage '", storage_plugin->name(), "'"));
    if (!s.ok()) return s;
    return state;
  }

  // The log state with the tracker's generation and acknowledged position
  // it goes with: read under write_order (no append between them), since
  // after a Reset (a role change) an answer given for an older generation
  // is ignored, and a tail offered with a stale one would never commit.
  struct OrderedState {
    cairn_log_state log;
    uint64_t generation = 0;
    uint64_t acknowledged = 0;
  };
  absl::StatusOr<OrderedState> ReadOrderedStateLocked()
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_order) {
    absl::StatusOr<cairn_log_state> state = ReadLogState();
    if (!state.ok()) return state.status();
    return OrderedState{*state, tracker->generation(), tracker->acknowledged()};
  }
  absl::StatusOr<OrderedState> ReadOrderedState() {
    absl::WriterMutexLock lock(&write_order);
    return ReadOrderedStateLocked();
  }

  // Why writes stop after a failure, for every message that reports it.
  std::string Stalled(const absl::Status& failure) const {
    return absl::StrCat(
        failure.message(), "; committed cannot pass position ",
        tracker->failed_first() - 1,
        ", so this store accepts no more writes until it is reopened "
        "(opening offers the unacknowledged positions to replication again)");
  }

  // Host commit: refuses a write before it is stored once a range failed.
  absl::Status Fenced(std::string_view what) const {
    return Fenced([what] { return std::string(what); });
  }
  // `describe` names the write; it is called for a refusal only, so an
  // append formats nothing when it goes ahead.
  absl::Status Fenced(absl::FunctionRef<std::string()> describe) const {
    if (!host_commit) return absl::OkStatus();
    absl::Status failure = tracker->failure();
    if (failure.ok()) return failure;
    // Deposed: replication failed a range with NOT_LEADER; the role change
    // that follows restarts commit tracking.
    if (IsNotLeader(failure)) return NotLeader(describe());
    return MakeStatus(CAIRN_E_FAILED_PRECONDITION,
                      absl::StrCat(describe(), " refused, nothing written: ",
                                   Stalled(failure)));
  }

  // Host commit: set_committed(prefix), then wakes those waiting for it. A
  // storage whose durable watermark lags (an fsync policy that syncs
  // later) refuses past durable: flush, then once more. If it still fails,
  // committed stays where it is and the range fails.
  void CommitPrefix(uint64_t prefix) {
    CallError e;
    cairn_status code = st->set_committed(storage, prefix, &e.error);
    if (code == CAIRN_E_FAILED_PRECONDITION) {
      CallError flushed;
      st->flush(storage, &flushed.error);
      e.message[0] = '\0';
      code = st->set_committed(storage, prefix, &e.error);
    }
    absl::Status s =
        Check(code, e,
              absl::StrCat("storage '", storage_plugin->name(),
                           "' advancing its committed watermark to ", prefix));
    if (s.ok()) {
      tracker->Publish(prefix);
    } else {
      tracker->Fail(tracker->published() + 1, prefix, s);
    }
  }

  // The leader replication knows now (leader()); on failure, this node's
  // role with no leader known.
  LeaderInfo QueryLeader() const {
    LeaderInfo out;
    out.role = static_cast<cairn_replication_role>(re->role(replication));
    cairn_leader_info info{};
    info.size = sizeof(info);
    CallError e;
    if (re->leader(replication, &info, &e.error) != CAIRN_OK) return out;
    info.node[sizeof(info.node) - 1] = '\0';
    info.address[sizeof(info.address) - 1] = '\0';
    out.role = static_cast<cairn_replication_role>(info.role);
    out.epoch = info.epoch;
    out.known = info.known != 0;
    out.node = info.node;
    out.address = info.address;
    return out;
  }

  static std::string WhoLeads(const LeaderInfo& leader) {
    if (!leader.known) {
      return absl::StrCat("no leader is known at the moment (epoch ",
                          leader.epoch, ")");
    }
    return absl::StrCat("the leader is node '", leader.node, "'",
                        leader.address.empty() ? "" : " at ", leader.address,
                        " (epoch ", leader.epoch, ")");
  }

  // A NOT_LEADER status for `what`, naming the leader replication knows.
  // `stored`: the write reached storage before the node was deposed (it is
  // not committed, and the new primary decides whether it survives).
  absl::Status NotLeader(std::string_view what, bool stored = false) const {
    LeaderInfo leader = QueryLeader();
    return NotLeaderError(
        absl::StrCat(AV(what),
                     stored ? " not committed: this node stopped being the "
                              "primary before replication acknowledged it (it "
                              "survives only if the new primary has it); "
                            : " refused, nothing written: this node is not "
                              "the primary; ",
                     WhoLeads(leader)),
        leader);
  }

  // Admits one host write (waiting while replication has writes paused),
  // then refuses it with NOT_LEADER unless this node takes writes. An OK
  // answer must be matched by LeaveWrite once the write has returned from
  // storage and replicate.
  absl::Status AdmitWrite(std::string_view what) {
    return AdmitWrite([what] { return std::string(what); });
  }
  // `describe` names the write; it is called for a refusal only.
  absl::Status AdmitWrite(absl::FunctionRef<std::string()> describe) {
    {
      std::unique_lock<std::mutex> lock(gate_mu);
      // After a role change to primary, the tail thread takes the old tail
      // first: an append admitted before it would wait for that tail, and
      // the next pause would wait for the append, so neither could end.
      gate_changed.wait(
          lock, [this] { return (pauses == 0 && !tail_pending) || closing; });
      if (closing) {
        return MakeStatus(
            CAIRN_E_CLOSED,
            absl::StrCat(describe(), " refused: the store is closing"));
      }
      ++writers;
    }
    if (re->role(replication) == CAIRN_ROLE_REPLICA) {
      LeaveWrite();
      return NotLeader(describe());
    }
    return absl::OkStatus();
  }
  void LeaveWrite() {
    {
      std::lock_guard<std::mutex> lock(gate_mu);
      --writers;
    }
    gate_changed.notify_all();
  }
  struct LeaveOnExit {
    Impl* impl;
    ~LeaveOnExit() { impl->LeaveWrite(); }
  };

  // A replicate failure with NOT_LEADER names the leader (the plugin's
  // message says why it was deposed).
  absl::Status NameLeader(absl::Status status) const {
    if (!IsNotLeader(status) || NotLeaderOf(status)->known) return status;
    LeaderInfo leader = QueryLeader();
    return NotLeaderError(
        absl::StrCat(status.message(), "; ", WhoLeads(leader)), leader);
  }

  // cairn_replication_host callbacks; `context` is the Impl.
  static cairn_status PauseWrites(void* context, cairn_error* error) {
    auto* impl = static_cast<Impl*>(context);
    std::unique_lock<std::mutex> lock(impl->gate_mu);
    if (impl->closing) {
      sdk::WriteError(error, "pause_writes: the store is closing");
      return CAIRN_E_CLOSED;
    }
    ++impl->pauses;
    impl->gate_changed.wait(lock, [impl] { return impl->writers == 0; });
    return CAIRN_OK;
  }
  static void ResumeWrites(void* context) {
    auto* impl = static_cast<Impl*>(context);
    {
      std::lock_guard<std::mutex> lock(impl->gate_mu);
      if (impl->pauses == 0) {
        HostLog(
            CAIRN_LOG_ERROR, "store",
            "replication called resume_writes without a pause_writes; ignored");
        return;
      }
      --impl->pauses;
    }
    impl->gate_changed.notify_all();
  }
  static void RoleChanged(void* context, uint32_t role, uint64_t epoch) {
    auto* impl = static_cast<Impl*>(context);
    impl->role_changes.fetch_add(1, std::memory_order_relaxed);
    impl->RaiseEpoch(epoch);
    {
      std::lock_guard<std::mutex> lock(impl->gate_mu);
      if (impl->pauses == 0) {
        HostLog(CAIRN_LOG_ERROR, "store",
                "replication called role_changed without pausing writes "
                "first; writes in flight may see either role");
      }
    }
    HostLog(CAIRN_LOG_INFO, "store",
            absl::StrCat("replication '", impl->replication_plugin->name(),
                         "': this node is now ",
                         role == CAIRN_ROLE_PRIMARY   ? "primary"
                         : role == CAIRN_ROLE_REPLICA ? "a replica"
                                                      : "standalone",
                         " in epoch ", epoch)
                .c_str());
    if (!impl->host_commit) return;
    absl::StatusOr<cairn_log_state> state = impl->ReadLogState();
    if (!state.ok()) {
      HostLog(CAIRN_LOG_ERROR, "store",
              std::string(state.status().message()).c_str());
      return;
    }
    impl->tracker->Reset(state->committed);
    {
      // A replica commits nothing itself (writes are refused at the gate).
      std::lock_guard<std::mutex> lock(impl->gate_mu);
      impl->tail_pending = role != CAIRN_ROLE_REPLICA;
    }
    impl->gate_changed.notify_all();
  }

  // Host commit: the thread that replicates and commits a new primary's
  // uncommitted tail once the role change's pause ends (role_changed must
  // not wait for peers: it runs on a thread of the plugin).
  void TailLoop() {
    for (;;) {
      {
        std::unique_lock<std::mutex> lock(gate_mu);
        gate_changed.wait(
            lock, [this] { return closing || (tail_pending && pauses == 0); });
        if (closing) return;
        tail_pending = false;
        ++writers;
      }
      CommitTail("written before this node became primary");
      LeaveWrite();
    }
  }

  // Offers every record after committed to replication and commits it
  // (host commit; the caller counts as a writer). Logged on failure: the
  // store then refuses writes until the next role change or reopen.
  void CommitTail(const char* what) {
    absl::StatusOr<OrderedState> ordered = ReadOrderedState();
    if (!ordered.ok()) {
      HostLog(CAIRN_LOG_ERROR, "store",
              std::string(ordered.status().message()).c_str());
      return;
    }
    const cairn_log_state* state = &ordered->log;
    const uint64_t generation = ordered->generation;
    if (state->written <= state->committed) return;
    if (re->role(replication) == CAIRN_ROLE_REPLICA) {
      // Deposed again before the tail was offered. Appends admitted after
      // the role change wrote beyond it and wait for it to commit; they
      // must learn NOT_LEADER now, since the next role change pauses
      // writes and so waits for them to return.
      tracker->Fail(state->committed + 1, state->written,
                    NotLeader(what, /*stored=*/true), generation);
      return;
    }
    absl::Status s = ReplicateAndCommit(
        state->committed + 1, state->written,
        [what] { return std::string(what); }, generation);
    if (!s.ok())
      HostLog(CAIRN_LOG_ERROR, "store", std::string(s.message()).c_str());
  }

  // Asks replication to acknowledge positions first..last (`what` wrote
  // them) and returns once it has. With host commit, then advances
  // committed over the contiguous acknowledged prefix and returns only
  // once committed covers `last`; a replicate failure keeps committed
  // below `first` for good (Stalled).
  // `what()` is formatted only for a message. `generation`: the tracker's,
  // read while write_order was still held for the write (a truncation in
  // between makes the answer stale; the tracker then ignores it).
  template <typename What>
  absl::Status ReplicateAndCommit(uint64_t first, uint64_t last, What&& what,
                                  uint64_t generation) {
    CallError e;
    absl::Status replicated =
        CheckEach(re->replicate(replication, first, last, &e.error), e, [&] {
          return absl::StrCat("positions ", first, "..", last, " (", what(),
                              ") are stored locally but replication '",
                              replication_plugin->name(),
                              "' did not acknowledge them");
        });
    replicated = NameLeader(std::move(replicated));
    if (!host_commit) return replicated;
    if (!replicated.ok()) {
      tracker->Fail(first, last, replicated, generation);
      return replicated;
    }
    const uint64_t prefix = tracker->Acknowledge(first, last, generation);
    if (prefix > tracker->published()) CommitPrefix(prefix);
    acknowledgements.fetch_add(1, std::memory_order_release);
    absl::Status committed = tracker->Wait(last, generation);
    if (committed.ok()) return committed;
    if (absl::IsAborted(committed)) {  // TruncateAfter cut them
      return MakeStatus(
          CAIRN_E_FAILED_PRECONDITION,
          absl::StrCat("positions ", first, "..", last, " (", what(),
                       ") were not committed: ", committed.message()));
    }
    // Deposed before an earlier position was acknowledged.
    if (IsNotLeader(committed)) return NotLeader(what(), /*stored=*/true);
    return MakeStatus(
        CAIRN_E_FAILED_PRECONDITION,
        absl::StrCat("positions ", first, "..", last, " (", what(),
                     ") are stored and acknowledged but cannot be committed: ",
                     Stalled(committed)));
  }

  // Runs a control write (delete-to, snapshot save or delete, epoch),
  // which writes records at positions storage does not report. With host
  // commit it runs while no append is inside storage, so the written
  // watermark before and after brackets exactly its records; those are
  // then replicated and committed like an append's.
  //
  // With `cover_tail` (begin_epoch: a new primary), it first takes over
  // what storage committed without this Store (a replica's applied log),
  // then replicates and commits every record after that too, not only its
  // own: the tail a former replica holds uncommitted.
  absl::Status ControlWrite(std::string_view what,
                            const std::function<absl::Status()>& write,
                            bool cover_tail = false) {
    if (absl::Status admitted = AdmitWrite(what); !admitted.ok())
      return admitted;
    LeaveOnExit leave{this};
    if (!host_commit) return write();
    if (absl::Status fenced = Fenced(what); !fenced.ok()) return fenced;
    uint64_t first = 0, after = 0, generation = 0;
    {
      absl::WriterMutexLock lock(&write_order);
      absl::StatusOr<OrderedState> ordered = ReadOrderedStateLocked();
      if (!ordered.ok()) return ordered.status();
      const cairn_log_state* state = &ordered->log;
      generation = ordered->generation;
      first = state->written + 1;
      if (cover_tail) {
        if (state->committed > tracker->acknowledged()) {
          tracker->Acknowledge(tracker->acknowledged() + 1, state->committed);
          tracker->Publish(state->committed);
        }
        first = tracker->acknowledged() + 1;
      }
      absl::Status s = write();
      if (!s.ok()) return s;
      absl::StatusOr<cairn_log_state> written = ReadLogState();
      if (!written.ok()) return written.status();
      after = written->written;
    }
    if (after < first)
      return absl::OkStatus();  // nothing written (e.g. an unknown stream)
    return ReplicateAndCommit(
        first, after, [what] { return std::string(what); }, generation);
  }

  // Host commit: after an append whose seal recorded a key in the seal
  // registry (a snapshot record inside the append, at a position no range
  // reports), replicates and commits everything written so far.
  absl::Status CommitSealRegistry() {
    absl::StatusOr<OrderedState> ordered = ReadOrderedState();
    if (!ordered.ok()) return ordered.status();
    const uint64_t first = ordered->acknowledged + 1;
    if (ordered->log.written < first) return absl::OkStatus();
    return ReplicateAndCommit(
        first, ordered->log.written,
        [] { return std::string("the seal registry"); }, ordered->generation);
  }

  // ---- Read side ----

  // Plugin `name` of `kind`, named by a stored record but not configured
  // now: opened once with `options` (those of its section it accepts) and
  // kept in *extras. Under extra_mutex.
  template <typename Api, typename Instance>
  absl::StatusOr<std::pair<const Api*, Instance*>> OpenExtra(
      std::map<std::string, std::pair<PluginPtr, Instance*>>* extras,
      cairn_plugin_kind kind, const std::string& name,
      const PluginChoice& section, absl::FunctionRef<std::string()> what,
      std::string_view stored_with, const Api* (Plugin::*table)() const) {
    std::lock_guard<std::mutex> lock(extra_mutex);
    auto it = extras->find(name);
    if (it != extras->end()) return std::make_pair(((*it->second.first).*table)(), it->second.second);
    absl::StatusOr<PluginPtr> plugin = registry->Find(kind, name);
    if (!plugin.ok()) {
      return MakeStatus(CAIRN_E_FAILED_PRECONDITION,
                        absl::StrCat(what(), " ", AV(stored_with), " '", name,
                                     "', which cannot be loaded: ",
                                     plugin.status().message()));
    }
    std::vector<std::string> accepted = (*plugin)->option_keys();
    std::vector<std::pair<std::string, std::string>> shared;
    for (const auto& option : OptionsFor(**plugin, section)) {
      if (std::find(accepted.begin(), accepted.end(), option.first) != accepted.end()) {
        shared.push_back(option);
      }
    }
    PluginOptions options(shared);
    const Api* api = ((**plugin).*table)();
    Instance* instance = nullptr;
    CallError e;
    absl::Status s =
        Check(api->open(options.get(), &instance, &e.error), e,
              absl::StrCat(what(), " needs ", KindName(kind), " '", name, "'"));
    if (!s.ok()) return s;
    (*extras)[name] = {*plugin, instance};
    return std::make_pair(api, instance);
  }

  // The configured codec, or codec `name` with its default options.
  // `what()` names the event or key in errors; called only on the way to one
  // (it is formatted per event on the read path otherwise).
  absl::StatusOr<std::pair<const cairn_codec_api*, cairn_codec*>> CodecFor(
      const std::string& name, absl::FunctionRef<std::string()> what) {
    if (apply_codec && name == codec_plugin->name()) return std::make_pair(co, codec);
    return OpenExtra(&extra_codecs, CAIRN_KIND_CODEC, name, PluginChoice{}, what,
                     "was encoded with codec", &Plugin::codec);
  }

  // The configured cipher, or cipher `name` opened with the options of
  // [cipher] it accepts (a site that moved from one AEAD cipher to another
  // keeps its keyring). Only with a cipher configured.
  absl::StatusOr<std::pair<const cairn_cipher_api*, cairn_cipher*>> CipherFor(
      const std::string& name, absl::FunctionRef<std::string()> what) {
    if (name == cipher_plugin->name()) return std::make_pair(ci, cipher);
    return OpenExtra(&extra_ciphers, CAIRN_KIND_CIPHER, name, config.cipher, what,
                     "is sealed with cipher", &Plugin::cipher);
  }

  // Reverses Seal, checking the seal against `fields` as storage returned
  // them. *metadata and *data receive the plaintext.
  absl::Status Open(const SealedFields& fields, std::string_view stored,
                    std::string_view stored_metadata, RecordedEvent* event,
                    std::string* metadata, std::string* data) {
    // Runs per event read: error text (naming the event) is formatted only
    // on failure, and the buffers are per-thread and never zero-filled.
    auto what = [&fields] { return Describe(fields.stream, fields.revision); };
    std::string_view payload;
    absl::StatusOr<Envelope> envelope = ReadEnvelope(stored, &payload, {});
    if (!envelope.ok()) return ReadEnvelope(stored, &payload, what()).status();
    if (event != nullptr) {
      event->codec = envelope->codec;
      event->cipher = envelope->cipher;
      event->key_id = envelope->key_id;
      event->legacy_seal =
          !envelope->cipher.empty() && envelope->version == kLegacyEnvelopeVersion;
    }
    thread_local OutputBuffer opened, decoded;
    thread_local std::string aad;
    std::string_view input = payload;
    if (!envelope->cipher.empty()) {
      if (!apply_cipher) {
        return MakeStatus(
            CAIRN_E_FAILED_PRECONDITION,
            absl::StrCat(what(), " is sealed with cipher '", envelope->cipher,
                         "', which this site does not configure (it has "
                         "[cipher] plugin = ",
                         config.cipher.plugin, "); configure '",
                         envelope->cipher, "' with a keyring that holds key ",
                         envelope->key_id));
      }
      absl::StatusOr<std::pair<const cairn_cipher_api*, cairn_cipher*>> c =
          CipherFor(envelope->cipher, what);
      if (!c.ok()) return c.status();
      AssociatedData(envelope->version, fields, &aad);
      opened.Release(kKeptBufferBytes);
      opened.Clear();
      CallError e;
      cairn_status s =
          c->first->open_sealed(c->second, envelope->key_id, Bytes(aad),
                                Bytes(input), opened.raw(), &e.error);
      absl::Status status = CheckEach(s, e, [&] {
        return absl::StrCat(what(), " (cipher '", envelope->cipher, "', key ",
                            envelope->key_id, ")");
      });
      if (!status.ok()) return status;
      input = opened.view();
    }
    if (!envelope->codec.empty()) {
      absl::StatusOr<std::pair<const cairn_codec_api*, cairn_codec*>> c =
          CodecFor(envelope->codec, what);
      if (!c.ok()) return c.status();
      decoded.Release(kKeptBufferBytes);
      decoded.Clear();
      CallError e;
      cairn_status s =
          c->first->decode(c->second, Bytes(input), decoded.raw(), &e.error);
      absl::Status status = CheckEach(s, e, [&] {
        return absl::StrCat(what(), " (codec '", envelope->codec, "')");
      });
      if (!status.ok()) return status;
      input = decoded.view();
    }
    if (envelope->metadata_inside) {
      if (input.size() < 4) {
        return MakeStatus(
            CAIRN_E_CORRUPTION,
            absl::StrCat(what(),
                         ": payload too short for its metadata length"));
      }
      uint32_t n = 0;
      for (int i = 0; i < 4; ++i) n |= static_cast<uint32_t>(static_cast<uint8_t>(input[i])) << (8 * i);
      if (input.size() - 4 < n) {
        return MakeStatus(CAIRN_E_CORRUPTION,
                          absl::StrCat(what(), ": metadata length ", n,
                                       " exceeds the payload"));
      }
      if (metadata != nullptr) metadata->assign(input.substr(4, n));
      data->assign(input.substr(4 + n));
    } else {
      if (metadata != nullptr) metadata->assign(stored_metadata);
      data->assign(input);
    }
    return absl::OkStatus();
  }

  // What the newest stored event was sealed with, and whether the
  // configured cipher opens it: the check for stores older than the seal
  // registry (or whose storage cannot keep one).
  struct Newest {
    std::string cipher;  // empty: not sealed, or no event
    uint32_t key_id = 0;
    absl::Status opened;
  };
  absl::StatusOr<Newest> ProbeNewestEvent() {
    Newest newest;
    uint64_t head = 0;
    CallError e;
    absl::Status s = Check(st->head_position(storage, &head, &e.error), e, "head position");
    if (!s.ok() || head == 0) return s.ok() ? absl::StatusOr<Newest>(newest) : s;
    struct Probe {
      Impl* impl;
      Newest* newest;
    } probe{this, &newest};
    auto fn = [](void* context, const cairn_event* ev) -> int {
      auto* p = static_cast<Probe*>(context);
      std::string_view payload;
      absl::StatusOr<Envelope> envelope = ReadEnvelope(View(ev->data), &payload, "");
      if (envelope.ok()) {
        p->newest->cipher = envelope->cipher;
        p->newest->key_id = envelope->key_id;
      }
      if (p->impl->apply_cipher) {
        RecordedEvent event;
        p->newest->opened = p->impl->Decode(*ev, &event);
      }
      return 1;
    };
    s = Check(st->read_all(storage, head - 1, 1, 1, fn, &probe, &e.error), e,
              "reading the newest event to check the keyring");
    if (!s.ok()) return s;
    return newest;
  }

  // Refuses, before anything is written, a site that cannot open what this
  // store was sealed with (every key in the seal registry, and the newest
  // event): no cipher, or a keyring whose key id N is not the recorded key
  // N. A site steps away from that only explicitly — [store]
  // allow-plaintext / allow-new-keyring — and the step is logged.
  absl::Status CheckAtOpen() {
    // A replica never seals (appends are refused) and needs no keys.
    if (re->role(replication) == CAIRN_ROLE_REPLICA) return absl::OkStatus();
    absl::Status s = LoadSealRegistry();
    if (!s.ok()) return s;
    absl::StatusOr<Newest> newest = ProbeNewestEvent();
    if (!newest.ok()) return newest.status();
    if (!keeps_registry && apply_cipher) {
      std::string line = absl::StrCat(
          "storage plugin '", storage_plugin->name(),
          "' keeps no snapshots, so this store cannot record the keys it is sealed with; "
          "only its newest event is checked against the keyring at open");
      HostLog(CAIRN_LOG_WARN, "store", line.c_str());
    }
    if (!apply_cipher) return CheckNoCipher(*newest);
    std::vector<std::string> problems;
    cairn_status code = CAIRN_OK;
    auto problem = [&](const absl::Status& status, const std::string& cipher_name,
                       uint32_t key_id) {
      if (code == CAIRN_OK) code = CodeOf(status);
      problems.emplace_back(status.message());
      if (cipher_name == cipher_plugin->name()) unproven_key_ids.insert(key_id);
    };
    for (const SealKey& key : seal_keys) {
      std::string what = absl::StrCat("key id ", key.key_id, " of cipher '", key.cipher,
                                      "' (in the seal registry)");
      absl::StatusOr<std::pair<const cairn_cipher_api*, cairn_cipher*>> c =
          CipherFor(key.cipher, [&what] { return what; });
      if (!c.ok()) {
        problem(c.status(), key.cipher, key.key_id);
        continue;
      }
      std::string opened;
      CallError e;
      cairn_status opened_status;
      {
        StringOutput out(&opened);
        opened_status = c->first->open_sealed(c->second, key.key_id,
                                              Bytes(KeyCheckAssociatedData(key.cipher)),
                                              Bytes(key.check_value), out.get(), &e.error);
      }
      absl::Status status = Check(opened_status, e, what);
      if (status.ok() && opened != kKeyCheckBlock) {
        status = MakeStatus(CAIRN_E_INTEGRITY,
                            absl::StrCat(what, ": its check value opens to other bytes"));
      }
      if (!status.ok()) problem(status, key.cipher, key.key_id);
    }
    if (problems.empty() &&
        (IsIntegrityError(newest->opened) || CodeOf(newest->opened) == CAIRN_E_NOT_FOUND)) {
      problem(newest->opened, newest->cipher, newest->key_id);
    }
    if (problems.empty()) return absl::OkStatus();
    std::string message = absl::StrCat(
        "the configured cipher cannot open what this store was sealed with — is this the "
        "right keyring? (",
        absl::StrJoin(problems, "; "),
        "). Configure the keyring that sealed these events; only if this keyring is meant to "
        "replace it (events sealed with the old keys stay unreadable) set [store] "
        "allow-new-keyring = true, a step that is logged");
    if (!config.allow_new_keyring) {
      unproven_key_ids.clear();
      return MakeStatus(code, message);
    }
    std::string line = absl::StrCat("opening with [store] allow-new-keyring = true: ", message);
    HostLog(CAIRN_LOG_WARN, "store", line.c_str());
    return absl::OkStatus();
  }

  // With [cipher] plugin = none: refuses a store that recorded sealed events
  // (or whose newest event is sealed) unless the site allows plaintext.
  absl::Status CheckNoCipher(const Newest& newest) {
    std::map<std::string, std::vector<uint32_t>> sealed_with;
    for (const SealKey& key : seal_keys) sealed_with[key.cipher].push_back(key.key_id);
    if (!newest.cipher.empty()) {
      std::vector<uint32_t>& ids = sealed_with[newest.cipher];
      if (std::find(ids.begin(), ids.end(), newest.key_id) == ids.end()) {
        ids.push_back(newest.key_id);
      }
    }
    if (sealed_with.empty()) return absl::OkStatus();
    std::vector<std::string> ciphers;
    for (const auto& [name, ids] : sealed_with) {
      ciphers.push_back(absl::StrCat("cipher '", name, "' key ids ", absl::StrJoin(ids, ", ")));
    }
    std::string message = absl::StrCat(
        "this store's events are sealed (", absl::StrJoin(ciphers, "; "),
        ") but the site configures [cipher] plugin = ", config.cipher.plugin,
        ": appending would store plaintext beside them. Configure [cipher] plugin = ",
        sealed_with.begin()->first,
        " with the keyring holding those keys; only to store plaintext from now on, set "
        "[store] allow-plaintext = true (--set store.allow-plaintext=true), a step that is "
        "logged");
    if (!config.allow_plaintext) return MakeStatus(CAIRN_E_FAILED_PRECONDITION, message);
    std::string line = absl::StrCat("opening with [store] allow-plaintext = true: ", message);
    HostLog(CAIRN_LOG_WARN, "store", line.c_str());
    return absl::OkStatus();
  }

  absl::Status Decode(const cairn_event& ev, RecordedEvent* out) {
    out->stream.assign(View(ev.stream));
    out->revision = ev.revision;
    out->position = ev.position;
    out->type.assign(View(ev.type));
    out->timestamp_us = ev.timestamp_us;
    out->writer.assign(View(ev.writer));
    out->tags.clear();
    for (uint32_t i = 0; i < ev.tag_count; ++i) out->tags.emplace_back(View(ev.tags[i]));
    SealedFields fields{SealedPart::kData, out->stream, out->revision, out->type,
                        out->timestamp_us, out->writer, out->tags};
    return Open(fields, View(ev.data), View(ev.metadata), out, &out->metadata, &out->data);
  }
};

// Bridges a plugin's event callback to an EventFn, decoding on the way.
struct ReadContext {
  Store::Impl* impl;
  const Store::EventFn* fn;
  absl::Status status;
  RecordedEvent event;
};

static int OnStoredEvent(void* context, const cairn_event* ev) {
  auto* ctx = static_cast<ReadContext*>(context);
  ctx->status = ctx->impl->Decode(*ev, &ctx->event);
  if (!ctx->status.ok()) return 1;
  return (*ctx->fn)(ctx->event) ? 0 : 1;
}

Store::Store(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Store::~Store() = default;

absl::StatusOr<std::unique_ptr<Store>> Store::Open(const SiteConfig& config,
                                                   PluginRegistry& registry,
                                                   const StoreOpenOptions& open_options) {
  auto impl = std::make_unique<Impl>();
  impl->registry = &registry;
  impl->config = config;
  for (const std::string& dir : config.plugin_dirs) registry.AddSearchDir(dir);

  struct Slot {
    const char* section;
    cairn_plugin_kind kind;
    const PluginChoice* choice;
    PluginPtr* plugin;
  };
  Slot slots[] = {
      {"storage", CAIRN_KIND_STORAGE, &config.storage, &impl->storage_plugin},
      {"codec", CAIRN_KIND_CODEC, &config.codec, &impl->codec_plugin},
      {"cipher", CAIRN_KIND_CIPHER, &config.cipher, &impl->cipher_plugin},
      {"replication", CAIRN_KIND_REPLICATION, &config.replication,
       &impl->replication_plugin},
  };
  for (Slot& slot : slots) {
    absl::StatusOr<PluginPtr> plugin = registry.Find(slot.kind, slot.choice->plugin);
    if (!plugin.ok()) {
      return MakeStatus(CodeOf(plugin.status()),
                        absl::StrCat("[", slot.section, "] plugin = ", slot.choice->plugin,
                                     ": ", plugin.status().message()));
    }
    absl::Status keys = CheckOptionKeys(slot.section, **plugin, *slot.choice);
    if (!keys.ok()) return keys;
    *slot.plugin = *plugin;
  }
  impl->st = impl->storage_plugin->storage();
  impl->co = impl->codec_plugin->codec();
  impl->ci = impl->cipher_plugin->cipher();
  impl->re = impl->replication_plugin->replication();
  // A pass-through codec or cipher (its descriptor says so) is skipped.
  impl->apply_codec = !impl->codec_plugin->Has(CAIRN_CAP_PASSTHROUGH);
  impl->apply_cipher = !impl->cipher_plugin->Has(CAIRN_CAP_PASSTHROUGH);
  impl->BuildEnvelopes();

  CallError e;
  absl::Status s;
  {
    PluginOptions options(OptionsFor(*impl->codec_plugin, config.codec));
    s = Check(impl->co->open(options.get(), &impl->codec, &e.error), e,
              absl::StrCat("opening codec '", config.codec.plugin, "'"));
    if (!s.ok()) return s;
  }
  {
    PluginOptions options(OptionsFor(*impl->cipher_plugin, config.cipher));
    s = Check(impl->ci->open(options.get(), &impl->cipher, &e.error), e,
              absl::StrCat("opening cipher '", config.cipher.plugin, "'"));
    if (!s.ok()) return s;
  }
  {
    auto pairs = OptionsFor(*impl->storage_plugin, config.storage);
    std::vector<std::string> accepted = impl->storage_plugin->option_keys();
    bool takes_path = std::find(accepted.begin(), accepted.end(), "path") != accepted.end();
    bool has_path = std::any_of(pairs.begin(), pairs.end(),
                                [](const auto& kv) { return kv.first == "path"; });
    if (takes_path && !has_path) pairs.emplace_back("path", config.path);
    s = AddCreateOption(accepted, open_options, &pairs);
    if (!s.ok()) return s;
    s = AddCommitOption(*impl->storage_plugin, *impl->replication_plugin,
                        &pairs, &impl->host_commit);
    if (!s.ok()) return s;
    PluginOptions options(pairs);
    s = Check(impl->st->open(options.get(), &impl->storage, &e.error), e,
              absl::StrCat("opening storage '", config.storage.plugin, "' at '",
                           config.path, "'"));
    if (!s.ok()) return s;
  }
  if (impl->host_commit) {
    // Made before replication opens: its threads may change role (pause,
    // role_changed, which resets the tracker) before its open returns, as
    // logship does when a replica refuses a restarted primary (the tracker
    // was null then: a crash). A primary's committed moves only through the
    // Store; a replica's plugin commits itself, and the role change that
    // makes it primary resets the tracker to storage's committed.
    absl::StatusOr<cairn_log_state> state = impl->ReadLogState();
    if (!state.ok()) return state.status();
    impl->tracker = std::make_unique<CommitTracker>(state->committed);
  }
  {
    PluginOptions options(
        OptionsFor(*impl->replication_plugin, config.replication));
    impl->host = cairn_replication_host{
        sizeof(cairn_replication_host), impl.get(), &Impl::PauseWrites,
        &Impl::ResumeWrites, &Impl::RoleChanged};
    s = Check(
        impl->re->open(options.get(), impl->st, impl->storage, &impl->host,
                       &impl->replication, &e.error),
        e,
        absl::StrCat("opening replication '", config.replication.plugin, "'"));
    if (!s.ok()) return s;
    // A node that starts as primary of an epoch may not call role_changed.
    impl->RaiseEpoch(impl->QueryLeader().epoch);
  }
  if (impl->host_commit) {
    // Positions written but never committed (a failure or a crash before
    // replication acknowledged them) are offered to replication again; if
    // it still refuses, the store opens for reads and refuses writes.
    if (impl->AdmitWrite("committing the log's tail at open").ok()) {
      impl->CommitTail("written before this open");
      impl->LeaveWrite();
    }
    Store::Impl* raw = impl.get();
    impl->tail_worker = std::thread([raw] { raw->TailLoop(); });
  }
  std::unique_ptr<Store> store(new Store(std::move(impl)));

  absl::Status checked = store->impl_->CheckAtOpen();
  if (!checked.ok()) return checked;
  return store;
}

namespace {

// What an append's seal callback needs: the host's events, and the Store's
// own status when sealing fails (its code and message reach the caller).
struct SealContext {
  Store::Impl* impl;
  std::string_view stream;
  absl::Span<const EventData> events;
  int64_t now;
  absl::Status failure;
};

// cairn_seal_fn: storage has fixed `revision` for event `index`; encode and
// seal it (associated data binds the revision) into storage's buffer.
cairn_status SealForStorage(void* context, size_t index, uint64_t revision,
                            cairn_buffer* out, cairn_error* error) {
  auto* c = static_cast<SealContext*>(context);
  absl::Status status;
  if (index >= c->events.size() || out == nullptr) {
    status = MakeStatus(CAIRN_E_INTERNAL,
                        absl::StrCat("storage asked to seal event ", index,
                                     " of a batch of ", c->events.size(),
                                     out == nullptr ? " with no buffer" : ""));
  } else {
    try {
      const EventData& ev = c->events[index];
      SealedFields fields{SealedPart::kData,
                          c->stream,
                          revision,
                          ev.type,
                          ev.timestamp_us != 0 ? ev.timestamp_us : c->now,
                          ev.writer,
                          ev.tags};
      status = c->impl->Seal(fields, ev.metadata, ev.data, out);
    } catch (const std::bad_alloc&) {
      status = MakeStatus(CAIRN_E_RESOURCE_EXHAUSTED,
                          absl::StrCat("out of memory sealing ",
                                       Describe(c->stream, revision)));
    }
  }
  if (status.ok()) return CAIRN_OK;
  c->failure = status;
  if (error != nullptr && error->message != nullptr && error->capacity > 0) {
    size_t n = std::min(status.message().size(), error->capacity - 1);
    std::memcpy(error->message, status.message().data(), n);
    error->message[n] = '\0';
  }
  return CodeOf(status);
}

}  // namespace

absl::StatusOr<AppendResult> Store::Append(std::string_view stream,
                                           ExpectedRevision expected,
                                           absl::Span<const EventData> events,
                                           std::string_view idempotency_key) {
  if (absl::Status names = ValidateAppendNames(stream, events); !names.ok()) return names;
  if (idempotency_key.size() > CAIRN_MAX_IDEMPOTENCY_KEY) {
    return absl::InvalidArgumentError(absl::StrCat(
        "append to stream '", AV(stream), "': the idempotency key is ",
        idempotency_key.size(), " bytes; at most ", CAIRN_MAX_IDEMPOTENCY_KEY));
  }
  Impl& s = *impl_;
  auto describe = [stream] {
    return absl::StrCat("append to stream '", AV(stream), "'");
  };
  if (absl::Status admitted = s.AdmitWrite(describe); !admitted.ok())
    return admitted;
  Impl::LeaveOnExit leave{&s};
  if (s.host_commit) {
    absl::Status fenced = s.Fenced(describe);
    if (!fenced.ok()) return fenced;
  }
  const uint64_t epoch = s.epoch.load(std::memory_order_acquire);
  const int64_t now = NowMicros();
  cairn_append_request request{};
  request.size = sizeof(request);
  request.stream = Bytes(stream);
  request.idempotency_key = Bytes(idempotency_key);
  switch (expected.kind()) {
    case ExpectedRevision::Kind::kAny:
      request.expected_kind = CAIRN_EXPECT_ANY;
      break;
    case ExpectedRevision::Kind::kNoStream:
      request.expected_kind = CAIRN_EXPECT_NO_STREAM;
      break;
    case ExpectedRevision::Kind::kExact:
      request.expected_kind = CAIRN_EXPECT_EXACT;
      request.expected_revision = expected.revision();
      break;
  }

  // With a cipher, associated data binds each event's revision, which only
  // storage knows once it has ordered the batch: storage calls back to seal
  // (cairn_seal_fn), so no expectation ever changes and `any` never
  // conflicts. Without one, envelope and encoding do not depend on the
  // revision: they are made here, outside storage's ordering.
  const bool seal_in_storage = s.apply_cipher;
  SealContext seal{&s, stream, events, now, absl::OkStatus()};
  // One buffer for the batch's stored bytes, one for all tags, one for the
  // ABI events and their pointers: reused by this thread, so a batch
  // allocates nothing once the buffers have grown.
  thread_local OutputBuffer stored;
  thread_local std::vector<size_t> record_ends;
  thread_local std::vector<cairn_bytes> tags;
  thread_local std::vector<cairn_event> abi;
  thread_local std::vector<const cairn_event*> pointers;
  stored.Clear();
  record_ends.clear();
  tags.clear();
  if (!seal_in_storage) {
    const uint64_t base = expected.kind() == ExpectedRevision::Kind::kExact
                              ? expected.revision()
                              : 0;
    for (size_t i = 0; i < events.size(); ++i) {
      const EventData& ev = events[i];
      // Only error messages use the revision here (nothing binds it).
      SealedFields fields{SealedPart::kData, stream, base + 1 + i, ev.type,
                          ev.timestamp_us != 0 ? ev.timestamp_us : now, ev.writer, ev.tags};
      absl::Status sealed = s.Seal(fields, ev.metadata, ev.data, stored.raw());
      if (!sealed.ok()) return sealed;
      record_ends.push_back(stored.size());
    }
  }
  for (const EventData& ev : events) {
    for (const std::string& tag : ev.tags) tags.push_back(Bytes(tag));
  }
  // Pointers into the buffers are taken only now that they stop growing.
  abi.assign(events.size(), cairn_event{});
  pointers.resize(events.size());
  size_t record_start = 0;
  size_t tag_start = 0;
  const bool inside = s.apply_codec || s.apply_cipher;
  for (size_t i = 0; i < events.size(); ++i) {
    const EventData& ev = events[i];
    cairn_event& a = abi[i];
    a.size = sizeof(cairn_event);
    a.stream = Bytes(stream);
    a.type = Bytes(ev.type);
    // Stamped here, since the seal binds it; storage keeps it.
    a.timestamp_us = ev.timestamp_us != 0 ? ev.timestamp_us : now;
    a.writer = Bytes(ev.writer);
    if (!seal_in_storage) {
      a.metadata = inside ? cairn_bytes{nullptr, 0} : Bytes(ev.metadata);
      a.data = Bytes(stored.view(record_start, record_ends[i]));
      record_start = record_ends[i];
    }
    a.tags = ev.tags.empty() ? nullptr : tags.data() + tag_start;
    a.tag_count = static_cast<uint32_t>(ev.tags.size());
    tag_start += ev.tags.size();
    pointers[i] = &a;
  }
  request.events = pointers.empty() ? nullptr : pointers.data();
  request.count = pointers.size();
  if (seal_in_storage) {
    request.seal = &SealForStorage;
    request.seal_context = &seal;
  }
  cairn_append_result result{};
  result.size = sizeof(result);
  CallError e;
  cairn_status status;
  recorded_seal_key = false;
  uint64_t generation = 0;  // host commit: the tracker's (ReplicateAndCommit)
  if (s.host_commit) {
    absl::ReaderMutexLock lock(&s.write_order);
    status = s.st->append(s.storage, &request, &result, &e.error);
    generation = s.tracker->generation();
  } else {
    status = s.st->append(s.storage, &request, &result, &e.error);
  }
  stored.Release(kKeptBufferBytes);
  if (status != CAIRN_OK && !seal.failure.ok()) return seal.failure;
  absl::Status st = CheckEach(status, e, describe);
  if (!st.ok()) return st;
  if (s.host_commit && recorded_seal_key) {
    absl::Status registry = s.CommitSealRegistry();
    if (!registry.ok()) return registry;
  }
  if (!events.empty()) {
    absl::Status rs = s.ReplicateAndCommit(
        result.first_position, result.last_position, describe, generation);
    if (!rs.ok()) return rs;
  }
  // A repeat answers with the epoch its batch was written in, as the log's
  // EPOCH records say (a replication plugin that writes them: logship);
  // storage answers 0 where the log holds no epoch for it, and the epoch is
  // then this node's, as for a new append.
  const bool repeated = result.repeated != 0;
  return AppendResult{result.first_revision,
                      result.last_revision,
                      result.first_position,
                      result.last_position,
                      repeated && result.epoch != 0 ? result.epoch : epoch,
                      repeated};
}

absl::Status Store::ReadStream(std::string_view stream, uint64_t from_revision,
                               uint64_t to_revision, uint64_t max_count,
                               const EventFn& on_event) {
  ReadContext ctx{impl_.get(), &on_event, absl::OkStatus(), {}};
  CallError e;
  cairn_status st = impl_->st->read_stream(impl_->storage, Bytes(stream), from_revision,
                                           to_revision, max_count, &OnStoredEvent, &ctx,
                                           &e.error);
  if (!ctx.status.ok()) return ctx.status;
  return Check(st, e, absl::StrCat("read stream '", AV(stream), "'"));
}

absl::StatusOr<std::vector<RecordedEvent>> Store::ReadStream(std::string_view stream,
                                                             uint64_t from_revision,
                                                             uint64_t to_revision,
                                                             uint64_t max_count) {
  std::vector<RecordedEvent> out;
  absl::Status s = ReadStream(stream, from_revision, to_revision, max_count,
                              [&](const RecordedEvent& ev) {
                                out.push_back(ev);
                                return true;
                              });
  if (!s.ok()) return s;
  return out;
}

absl::Status Store::ReadTag(std::string_view tag, uint64_t after_position,
                            uint64_t max_count, const EventFn& on_event) {
  if (impl_->st->read_tag == nullptr || !impl_->storage_plugin->Has(CAIRN_CAP_TAGS)) {
    return MakeStatus(CAIRN_E_UNSUPPORTED,
                      absl::StrCat("storage plugin '", impl_->storage_plugin->name(),
                                   "' does not support reads by tag"));
  }
  ReadContext ctx{impl_.get(), &on_event, absl::OkStatus(), {}};
  CallError e;
  cairn_status st = impl_->st->read_tag(impl_->storage, Bytes(tag), after_position, max_count,
                                        &OnStoredEvent, &ctx, &e.error);
  if (!ctx.status.ok()) return ctx.status;
  return Check(st, e, absl::StrCat("read tag '", AV(tag), "'"));
}

absl::Status Store::ReadAll(uint64_t after_position, uint64_t max_count,
                            const EventFn& on_event) {
  ReadContext ctx{impl_.get(), &on_event, absl::OkStatus(), {}};
  CallError e;
  cairn_status st = impl_->st->read_all(impl_->storage, after_position, max_count, 0,
                                        &OnStoredEvent, &ctx, &e.error);
  if (!ctx.status.ok()) return ctx.status;
  return Check(st, e, "read all");
}

absl::StatusOr<uint64_t> Store::HeadRevision(std::string_view stream) {
  uint64_t revision = 0;
  CallError e;
  absl::Status s = Check(impl_->st->head_revision(impl_->storage, Bytes(stream), &revision,
                                                  &e.error),
                         e, absl::StrCat("head revision of stream '", AV(stream), "'"));
  if (!s.ok()) return s;
  return revision;
}

absl::StatusOr<uint64_t> Store::HeadPosition() {
  uint64_t position = 0;
  CallError e;
  absl::Status s = Check(impl_->st->head_position(impl_->storage, &position, &e.error), e,
                         "head position");
  if (!s.ok()) return s;
  return position;
}

absl::StatusOr<uint64_t> Store::WaitCommit(uint64_t after_position,
                                           std::chrono::milliseconds timeout) {
  if (impl_->st->wait_commit == nullptr || !impl_->storage_plugin->Has(CAIRN_CAP_LIVE_READS)) {
    return MakeStatus(CAIRN_E_UNSUPPORTED,
                      absl::StrCat("storage plugin '", impl_->storage_plugin->name(),
                                   "' does not support live reads"));
  }
  uint64_t position = 0;
  CallError e;
  auto ms = static_cast<uint32_t>(std::clamp<int64_t>(timeout.count(), 0, UINT32_MAX));
  cairn_status st = impl_->st->wait_commit(impl_->storage, after_position, ms, &position,
                                           &e.error);
  if (st == CAIRN_E_TIMEOUT || st == CAIRN_OK) return position;
  return Check(st, e, "wait for commit");
}

absl::Status Store::DeleteTo(std::string_view stream, uint64_t revision) {
  if (absl::Status name = ValidateName(NameKind::kStream, stream); !name.ok()) return name;
  if (impl_->st->delete_to == nullptr || !impl_->storage_plugin->Has(CAIRN_CAP_DELETE)) {
    return MakeStatus(CAIRN_E_UNSUPPORTED,
                      absl::StrCat("storage plugin '", impl_->storage_plugin->name(),
                                   "' does not support deletes"));
  }
  const std::string what =
      absl::StrCat("delete stream '", AV(stream), "' to revision ", revision);
  return impl_->ControlWrite(what, [&] {
    CallError e;
    return Check(
        impl_->st->delete_to(impl_->storage, Bytes(stream), revision, &e.error),
        e, what);
  });
}

namespace {
absl::Status NeedSnapshots(const Store::Impl& impl, const PluginPtr& plugin) {
  if (impl.st->snapshot_save == nullptr || !plugin->Has(CAIRN_CAP_SNAPSHOTS)) {
    return MakeStatus(CAIRN_E_UNSUPPORTED, absl::StrCat("storage plugin '", plugin->name(),
                                                        "' does not support snapshots"));
  }
  return absl::OkStatus();
}

// Snapshots under "$cairn/" are the Store's own (the seal registry).
absl::Status ReservedName(std::string_view stream) {
  return MakeStatus(CAIRN_E_INVALID_ARGUMENT,
                    absl::StrCat("stream name '", AV(stream), "' begins with '",
                                 AV(kReservedStreamPrefix), "', which is reserved for the store"));
}

cairn_snapshot_criteria ToAbi(const SnapshotCriteria& c) {
  cairn_snapshot_criteria abi{};
  abi.size = sizeof(abi);
  abi.min_revision = c.min_revision;
  abi.max_revision = c.max_revision;
  abi.min_timestamp_us = c.min_timestamp_us;
  abi.max_timestamp_us = c.max_timestamp_us;
  return abi;
}
}  // namespace

absl::Status Store::SaveSnapshot(const Snapshot& snapshot) {
  if (absl::Status name = ValidateName(NameKind::kStream, snapshot.stream); !name.ok()) {
    return name;
  }
  absl::Status need = NeedSnapshots(*impl_, impl_->storage_plugin);
  if (!need.ok()) return need;
  if (IsReservedStreamName(snapshot.stream)) return ReservedName(snapshot.stream);
  const int64_t timestamp_us = snapshot.timestamp_us != 0 ? snapshot.timestamp_us : NowMicros();
  const std::string what = absl::StrCat(
      "save snapshot of ", Describe(snapshot.stream, snapshot.revision));
  // Sealing may record a key in the seal registry: a record of this write.
  return impl_->ControlWrite(what, [&] {
    OutputBuffer stored;
    absl::Status s = impl_->Seal(SealedFields{SealedPart::kSnapshot,
                                              snapshot.stream,
                                              snapshot.revision,
                                              "",
                                              timestamp_us,
                                              "",
                                              {}},
                                 "", snapshot.data, stored.raw());
    if (!s.ok()) return s;
    cairn_snapshot abi{};
    abi.size = sizeof(abi);
    abi.stream = Bytes(snapshot.stream);
    abi.revision = snapshot.revision;
    abi.timestamp_us = timestamp_us;
    abi.data = Bytes(stored.view());
    CallError e;
    return Check(impl_->st->snapshot_save(impl_->storage, &abi, &e.error), e,
                 what);
  });
}

absl::StatusOr<std::optional<Snapshot>> Store::LoadSnapshot(std::string_view stream,
                                                            const SnapshotCriteria& criteria) {
  absl::Status need = NeedSnapshots(*impl_, impl_->storage_plugin);
  if (!need.ok()) return need;
  struct Found {
    bool found = false;
    Snapshot snapshot;
    std::string stored;
  } found;
  auto fn = [](void* context, const cairn_snapshot* s) -> int {
    auto* f = static_cast<Found*>(context);
    f->found = true;
    f->snapshot.stream.assign(View(s->stream));
    f->snapshot.revision = s->revision;
    f->snapshot.timestamp_us = s->timestamp_us;
    f->stored.assign(View(s->data));
    return 1;
  };
  cairn_snapshot_criteria abi = ToAbi(criteria);
  CallError e;
  absl::Status s = Check(impl_->st->snapshot_load(impl_->storage, Bytes(stream), &abi, fn,
                                                  &found, &e.error),
                         e, absl::StrCat("load snapshot of stream '", AV(stream), "'"));
  if (!s.ok()) return s;
  if (!found.found) return std::optional<Snapshot>();
  s = impl_->Open(SealedFields{SealedPart::kSnapshot, found.snapshot.stream,
                               found.snapshot.revision, "", found.snapshot.timestamp_us, "", {}},
                  found.stored, "", nullptr, nullptr, &found.snapshot.data);
  if (!s.ok()) return s;
  return std::optional<Snapshot>(std::move(found.snapshot));
}

absl::Status Store::DeleteSnapshot(std::string_view stream, uint64_t revision) {
  absl::Status need = NeedSnapshots(*impl_, impl_->storage_plugin);
  if (!need.ok()) return need;
  if (IsReservedStreamName(stream)) return ReservedName(stream);
  const std::string what =
      absl::StrCat("delete snapshot of ", Describe(stream, revision));
  return impl_->ControlWrite(what, [&] {
    CallError e;
    return Check(impl_->st->snapshot_delete(impl_->storage, Bytes(stream),
                                            revision, &e.error),
                 e, what);
  });
}

absl::Status Store::DeleteSnapshots(std::string_view stream, const SnapshotCriteria& criteria) {
  absl::Status need = NeedSnapshots(*impl_, impl_->storage_plugin);
  if (!need.ok()) return need;
  if (IsReservedStreamName(stream)) return ReservedName(stream);
  cairn_snapshot_criteria abi = ToAbi(criteria);
  const std::string what =
      absl::StrCat("delete snapshots of stream '", AV(stream), "'");
  return impl_->ControlWrite(what, [&] {
    CallError e;
    return Check(impl_->st->snapshot_delete_matching(
                     impl_->storage, Bytes(stream), &abi, &e.error),
                 e, what);
  });
}

absl::StatusOr<std::vector<StreamInfo>> Store::ListStreams(uint64_t after_ordinal,
                                                           uint64_t max_count) {
  std::vector<StreamInfo> out;
  auto fn = [](void* context, const cairn_stream_info* info) -> int {
    auto* v = static_cast<std::vector<StreamInfo>*>(context);
    v->push_back(StreamInfo{std::string(View(info->name)), info->ordinal,
                            info->head_revision, info->deleted_to});
    return 0;
  };
  CallError e;
  absl::Status s = Check(impl_->st->list_streams(impl_->storage, after_ordinal, max_count, fn,
                                                 &out, &e.error),
                         e, "list streams");
  if (!s.ok()) return s;
  return out;
}

absl::StatusOr<Store::SealCheck> Store::CheckSeals(
    const std::function<void(const std::string&)>& on_problem,
    const ProgressFn& on_progress) {
  struct Context {
    Impl* impl;
    const std::function<void(const std::string&)>* on_problem;
    const ProgressFn* on_progress;
    SealCheck check;
    RecordedEvent event;
    uint64_t bytes = 0;
  } context{impl_.get(), &on_problem, &on_progress, {}, {}};
  auto fn = [](void* raw, const cairn_event* ev) -> int {
    auto* c = static_cast<Context*>(raw);
    ++c->check.events;
    absl::Status s = c->impl->Decode(*ev, &c->event);
    if (s.ok()) {
      c->bytes += c->event.type.size() + c->event.data.size() +
                  c->event.metadata.size();
    }
    if (*c->on_progress && c->check.events % 4096 == 0) {
      (*c->on_progress)(c->check.events, c->bytes);
    }
    if (!s.ok()) {
      ++c->check.failed;
      // The message names stream and revision; the position finds the
      // record in the log.
      (*c->on_problem)(
          absl::StrCat(s.message(), " (position ", ev->position, ")"));
    } else if (!c->event.cipher.empty()) {
      ++c->check.sealed;
      if (c->event.legacy_seal) ++c->check.legacy;
    }
    return 0;
  };
  CallError e;
  absl::Status s = Check(impl_->st->read_all(impl_->storage, 0, kMaxPosition, 1, fn, &context,
                                             &e.error),
                         e, "reading every event to open its seal");
  if (!s.ok()) return s;
  if (on_progress) on_progress(context.check.events, context.bytes);
  return context.check;
}

absl::StatusOr<std::string> Store::Verify(
    const std::function<void(const std::string&)>& on_problem, bool deep,
    const ProgressFn& on_progress) {
  const Impl& s = *impl_;
  if (!CAIRN_HAS_FIELD(cairn_storage_api, s.st, verify) ||
      s.st->verify == nullptr) {
    return MakeStatus(CAIRN_E_UNSUPPORTED,
                      absl::StrCat("storage plugin '", s.storage_plugin->name(),
                                   "' has no verify function"));
  }
  struct Context {
    const std::function<void(const std::string&)>* on_problem;
    uint64_t problems = 0;
  } context{&on_problem};
  CallError e;
  const cairn_status status = s.st->verify(
      s.storage,
      [](void* raw, const char* description) {
        auto* c = static_cast<Context*>(raw);
        const char* text = description ? description : "(no description)";
        // What a repair open did is reported, not counted (plugin.h).
        if (!IsRepairReport(text)) ++c->problems;
        (*c->on_problem)(text);
      },
      &context, &e.error);
  absl::Status storage_check;
  if (status != CAIRN_OK || context.problems != 0) {
    const std::string detail =
        e.message[0] ? std::string(e.message)
                     : absl::StrCat(context.problems, " problem(s) found");
    storage_check = MakeStatus(status == CAIRN_OK ? CAIRN_E_CORRUPTION : status,
                               absl::StrCat("verify failed: ", detail));
    // A deep verify goes on: every event that still reads is opened, so
    // the report names each one that does not.
    if (!deep) return storage_check;
  }
  if (!deep && s.cipher_plugin->Has(CAIRN_CAP_PASSTHROUGH)) {
    return std::string(
        "checksums and structure only; seals were not opened (no cipher "
        "configured)");
  }
  const auto start = std::chrono::steady_clock::now();
  absl::StatusOr<SealCheck> seals = CheckSeals(on_problem, on_progress);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  if (!seals.ok()) {
    if (!storage_check.ok()) return storage_check;
    if (deep) on_problem(std::string(seals.status().message()));
    return seals.status();
  }
  if (seals->failed != 0) {
    return MakeStatus(
        CAIRN_E_INTEGRITY,
        absl::StrCat("verify failed: ", seals->failed, " of ", seals->events,
                     " event(s) do not open",
                     storage_check.ok()
                         ? std::string()
                         : absl::StrCat("; ", storage_check.message())));
  }
  if (!storage_check.ok()) return storage_check;
  const std::string legacy =
      seals->legacy == 0
          ? std::string()
          : absl::StrCat(", ", seals->legacy,
                         " of them legacy seals (tags, timestamp and writer "
                         "id not authenticated)");
  if (deep) {
    return absl::StrCat(
        "checksums and structure; deep: ", seals->events,
        " event(s) opened through codec ", s.codec_plugin->name(),
        " and cipher ", s.cipher_plugin->name(), " (", seals->sealed, " sealed",
        legacy, ") in ", absl::StrFormat("%.2f", seconds), " s");
  }
  return absl::StrCat("checksums and structure; ", seals->sealed,
                      " sealed event(s) opened with the configured keyring",
                      legacy);
}

bool Store::host_commit() const { return impl_->host_commit; }

absl::StatusOr<LogState> Store::GetLogState() {
  const Impl& s = *impl_;
  if (!CAIRN_HAS_FIELD(cairn_storage_api, s.st, log_state) ||
      s.st->log_state == nullptr ||
      !(s.storage_plugin->Has(CAIRN_CAP_ORDERED_LOG) ||
        s.storage_plugin->Has(CAIRN_CAP_HOST_COMMIT))) {
    return MakeStatus(CAIRN_E_UNSUPPORTED,
                      absl::StrCat("storage plugin '", s.storage_plugin->name(),
                                   "' does not report its log's watermarks (no "
                                   "CAIRN_CAP_ORDERED_LOG)"));
  }
  absl::StatusOr<cairn_log_state> state = impl_->ReadLogState();
  if (!state.ok()) return state.status();
  return LogState{state->first_position, state->written, state->durable,
                  state->committed, state->epoch};
}

namespace {
absl::Status NeedEpochs(const Store::Impl& impl) {
  if (!CAIRN_HAS_FIELD(cairn_storage_api, impl.st, epoch_end) ||
      impl.st->begin_epoch == nullptr || impl.st->epoch_end == nullptr ||
      !impl.storage_plugin->Has(CAIRN_CAP_EPOCHS)) {
    return MakeStatus(
        CAIRN_E_UNSUPPORTED,
        absl::StrCat("storage plugin '", impl.storage_plugin->name(),
                     "' does not support epochs"));
  }
  return absl::OkStatus();
}
}  // namespace

absl::StatusOr<uint64_t> Store::BeginEpoch(uint64_t epoch,
                                           std::string_view primary) {
  if (absl::Status need = NeedEpochs(*impl_); !need.ok()) return need;
  const std::string what = absl::StrCat("begin epoch ", epoch);
  uint64_t position = 0;
  absl::Status s = impl_->ControlWrite(
      what,
      [&] {
        CallError e;
        return Check(
            impl_->st->begin_epoch(impl_->storage, epoch, Bytes(primary),
                                   &position, &e.error),
            e, what);
      },
      /*cover_tail=*/true);
  if (!s.ok()) return s;
  return position;
}

absl::StatusOr<uint64_t> Store::EpochEnd(uint64_t epoch) {
  if (absl::Status need = NeedEpochs(*impl_); !need.ok()) return need;
  uint64_t position = 0;
  CallError e;
  absl::Status s =
      Check(impl_->st->epoch_end(impl_->storage, epoch, &position, &e.error), e,
            absl::StrCat("end of epoch ", epoch));
  if (!s.ok()) return s;
  return position;
}

absl::Status Store::TruncateAfter(uint64_t position, bool allow_committed) {
  Impl& s = *impl_;
  if (!CAIRN_HAS_FIELD(cairn_storage_api, s.st, truncate_after) ||
      s.st->truncate_after == nullptr ||
      !s.storage_plugin->Has(CAIRN_CAP_TRUNCATE)) {
    return MakeStatus(
        CAIRN_E_UNSUPPORTED,
        absl::StrCat("storage plugin '", s.storage_plugin->name(),
                     "' cannot truncate (no CAIRN_CAP_TRUNCATE)"));
  }
  const std::string what = absl::StrCat("truncate after position ", position);
  if (!s.host_commit) {
    return MakeStatus(
        CAIRN_E_FAILED_PRECONDITION,
        absl::StrCat(what,
                     ": needs commit = host (a MULTI_NODE replication "
                     "plugin, or [storage] commit = host), under which "
                     "the Store pauses appends for it; nothing was cut"));
  }
  absl::WriterMutexLock lock(&s.write_order);  // no write inside storage
  CallError e;
  absl::Status cut =
      Check(s.st->truncate_after(s.storage, position,
                                 allow_committed ? CAIRN_TRUNCATE_COMMITTED : 0,
                                 &e.error),
            e, what);
  if (!cut.ok()) return cut;
  absl::StatusOr<cairn_log_state> state = s.ReadLogState();
  if (!state.ok()) return state.status();
  s.tracker->Reset(state->committed);
  return absl::OkStatus();
}

absl::Status Store::Flush() {
  CallError e;
  return Check(impl_->st->flush(impl_->storage, &e.error), e, "flush");
}

absl::StatusOr<uint32_t> Store::RotateKey() {
  if (impl_->ci->rotate == nullptr || !impl_->cipher_plugin->Has(CAIRN_CAP_KEY_ROTATION)) {
    return MakeStatus(CAIRN_E_UNSUPPORTED,
                      absl::StrCat("cipher plugin '", impl_->cipher_plugin->name(),
                                   "' cannot rotate keys"));
  }
  uint32_t key_id = 0;
  CallError e;
  absl::Status s = Check(impl_->ci->rotate(impl_->cipher, &key_id, &e.error), e,
                         absl::StrCat("rotate key of cipher '", impl_->cipher_plugin->name(), "'"));
  if (!s.ok()) return s;
  return key_id;
}

absl::StatusOr<std::vector<std::string>> Store::Maintain() {
  const cairn_storage_api* st = impl_->st;
  if (!CAIRN_HAS_FIELD(cairn_storage_api, st, maintain) ||
      st->maintain == nullptr) {
    return MakeStatus(
        CAIRN_E_UNSUPPORTED,
        absl::StrCat("storage plugin '", impl_->storage_plugin->name(),
                     "' has no maintenance to run"));
  }
  std::vector<std::string> changes;
  auto collect = [](void* context, const char* description) {
    static_cast<std::vector<std::string>*>(context)->push_back(
        description != nullptr ? description : "");
  };
  CallError e;
  absl::Status s =
      Check(st->maintain(impl_->storage, collect, &changes, &e.error), e,
            absl::StrCat("maintenance of storage '",
                         impl_->storage_plugin->name(), "'"));
  if (!s.ok()) return s;
  return changes;
}

absl::StatusOr<std::map<std::string, double>> Store::Stats() {
  struct Collect {
    std::map<std::string, double> values;
    const char* prefix;
  } collect{{}, "storage."};
  auto fn = [](void* context, const char* name, double value) {
    auto* c = static_cast<Collect*>(context);
    c->values[std::string(c->prefix) + name] = value;
  };
  CallError e;
  if (impl_->st->stats != nullptr) {
    absl::Status s = Check(impl_->st->stats(impl_->storage, fn, &collect, &e.error), e,
                           "storage stats");
    if (!s.ok()) return s;
  }
  if (impl_->host_commit) {
    const CommitTracker& tracker = *impl_->tracker;
    collect.values["store.acknowledged"] =
        static_cast<double>(tracker.acknowledged());
    collect.values["store.committed"] =
        static_cast<double>(tracker.published());
    collect.values["store.acks_out_of_order"] =
        static_cast<double>(tracker.out_of_order());
    collect.values["store.acknowledgements"] = static_cast<double>(
        impl_->acknowledgements.load(std::memory_order_acquire));
    collect.values["store.commit_failed_at"] =
        static_cast<double>(tracker.failed_first());
  }
  collect.prefix = "replication.";
  if (impl_->re->stats != nullptr) {
    absl::Status s = Check(impl_->re->stats(impl_->replication, fn, &collect, &e.error), e,
                           "replication stats");
    if (!s.ok()) return s;
  }
  return collect.values;
}

std::unique_ptr<Subscription> Store::Subscribe(SubscriptionFilter filter) {
  return std::unique_ptr<Subscription>(new Subscription(this, std::move(filter)));
}

const PluginPtr& Store::storage_plugin() const { return impl_->storage_plugin; }
const PluginPtr& Store::codec_plugin() const { return impl_->codec_plugin; }
const PluginPtr& Store::cipher_plugin() const { return impl_->cipher_plugin; }
const PluginPtr& Store::replication_plugin() const { return impl_->replication_plugin; }
LeaderInfo Store::Leader() const { return impl_->QueryLeader(); }

absl::Status Store::Promote() {
  CallError e;
  return Check(impl_->re->promote(impl_->replication, &e.error), e,
               absl::StrCat("promote through replication '",
                            impl_->replication_plugin->name(), "'"));
}

uint64_t Store::role_changes() const {
  return impl_->role_changes.load(std::memory_order_relaxed);
}

cairn_replication_role Store::role() const {
  return static_cast<cairn_replication_role>(impl_->re->role(impl_->replication));
}
cairn_storage* Store::raw_storage() const { return impl_->storage; }

bool Store::IdempotentAppends() const {
  return impl_->storage_plugin->Has(CAIRN_CAP_IDEMPOTENT_APPEND);
}

bool Store::AppendMayBlock() const {
  if (impl_->replication_plugin->Has(CAIRN_CAP_APPEND_MAY_BLOCK)) return true;
  uint64_t caps = impl_->storage_plugin->capabilities();
  if (CAIRN_HAS_FIELD(cairn_storage_api, impl_->st, instance_capabilities) &&
      impl_->st->instance_capabilities != nullptr) {
    caps &= impl_->st->instance_capabilities(impl_->storage);
  }
  return (caps & CAIRN_CAP_APPEND_MAY_BLOCK) != 0;
}

Subscription::~Subscription() = default;

absl::StatusOr<std::vector<RecordedEvent>> Subscription::Next(
    size_t max, std::chrono::milliseconds timeout) {
  std::vector<RecordedEvent> out;
  if (max == 0) return out;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!cancelled()) {
    // The head is taken before the read: whatever commits after it makes
    // WaitCommit return at once, so nothing falls between read and wait.
    absl::StatusOr<uint64_t> head = store_->HeadPosition();
    if (!head.ok()) return head.status();
    Store::EventFn collect = [&](const RecordedEvent& ev) {
      out.push_back(ev);
      return true;
    };
    absl::Status s;
    switch (filter_.kind) {
      case SubscriptionFilter::Kind::kStream:
        if (filter_.after == kMaxRevision) return out;
        s = store_->ReadStream(filter_.name, filter_.after + 1, kMaxRevision, max, collect);
        break;
      case SubscriptionFilter::Kind::kTag:
        s = store_->ReadTag(filter_.name, filter_.after, max, collect);
        break;
      case SubscriptionFilter::Kind::kAll:
        s = store_->ReadAll(filter_.after, max, collect);
        break;
    }
    if (!s.ok()) return s;
    if (!out.empty()) {
      filter_.after = filter_.kind == SubscriptionFilter::Kind::kStream ? out.back().revision
                                                                        : out.back().position;
      return out;
    }
    auto now = std::chrono::steady_clock::now();
    if (now >= deadline) return out;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now);
    auto slice = std::min(left, cancel_check_interval_);
    absl::StatusOr<uint64_t> waited = store_->WaitCommit(*head, slice);
    if (!waited.ok()) return waited.status();
  }
  return out;
}

}  // namespace cairn
