#include "backup.h"

#include <cairn/log_record.h>
#include <cairn/log_sink.h>
#include <cairn/names.h>
#include <cairn/status.h>

#include <fcntl.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "cairn/log/v1/log.pb.h"
#include "envelope.h"
#include "seal_registry.h"

namespace cairn::backup {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr const char* kChunkSuffix = ".cairnlog";
constexpr const char* kPartialSuffix = ".partial";
// Records per read_log call, and per apply_log call on restore (rounded up
// to the end of an atomic batch).
constexpr uint64_t kRecordsPerCall = 4096;
// Progress is reported, and --max-rate applied, at least this often.
constexpr uint64_t kPaceBytes = uint64_t{256} << 10;
// The largest frame a chunk may hold (a LogRecord's serialized size).
constexpr uint32_t kMaxFrameBytes = uint32_t{1} << 31;

absl::Status DataLoss(std::string_view message) {
  return MakeStatus(CAIRN_E_CORRUPTION, message);
}

std::string Hex(const unsigned char* bytes, size_t size) {
  static const char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(size * 2);
  for (size_t i = 0; i < size; ++i) {
    out.push_back(kDigits[bytes[i] >> 4]);
    out.push_back(kDigits[bytes[i] & 15]);
  }
  return out;
}

// SHA-256 over bytes given piece by piece (OpenSSL EVP).
class Sha256 {
 public:
  Sha256() : context_(EVP_MD_CTX_new()) {
    EVP_DigestInit_ex(context_, EVP_sha256(), nullptr);
  }
  ~Sha256() { EVP_MD_CTX_free(context_); }
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void Update(const void* data, size_t size) {
    EVP_DigestUpdate(context_, data, size);
  }
  std::string HexDigest() {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int size = 0;
    EVP_DigestFinal_ex(context_, digest, &size);
    return Hex(digest, size);
  }

 private:
  EVP_MD_CTX* context_;
};

std::string Sha256Of(std::string_view bytes) {
  Sha256 sha;
  sha.Update(bytes.data(), bytes.size());
  return sha.HexDigest();
}

absl::Status Errno(const char* what, const std::string& path) {
  return MakeStatus(
      CAIRN_E_IO, absl::StrCat(what, " '", path, "': ", std::strerror(errno)));
}

// A file written once, hashed as it goes, synced and renamed into place.
// Writes go through a 1 MiB buffer: a backup writes two small pieces a
// record (length and frame), and a write(2) and a hash update for each cost
// more than the copy (docs/benchmarks.md, "A backup beside a write load").
class OutputFile {
 public:
  ~OutputFile() {
    if (fd_ >= 0) ::close(fd_);
  }
  absl::Status Open(const std::string& path) {
    path_ = path;
    fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd_ < 0) return Errno("cannot create", path);
    buffer_.reserve(kBufferBytes);
    return absl::OkStatus();
  }
  absl::Status Write(std::string_view bytes) {
    size_ += bytes.size();
    sha_.Update(bytes.data(), bytes.size());
    if (buffer_.size() + bytes.size() > kBufferBytes) {
      absl::Status s = Flush();
      if (!s.ok()) return s;
    }
    if (bytes.size() >= kBufferBytes) return WriteOut(bytes);
    buffer_.append(bytes.data(), bytes.size());
    return absl::OkStatus();
  }
  // Syncs, closes and renames the file to `final_path`.
  absl::Status Finish(const std::string& final_path) {
    absl::Status flushed = Flush();
    if (!flushed.ok()) return flushed;
    if (::fsync(fd_) != 0) return Errno("cannot sync", path_);
    if (::close(fd_) != 0) {
      fd_ = -1;
      return Errno("cannot close", path_);
    }
    fd_ = -1;
    if (::rename(path_.c_str(), final_path.c_str()) != 0)
      return Errno("cannot rename", path_);
    return absl::OkStatus();
  }
  uint64_t size() const { return size_; }
  // The SHA-256 of every byte given to Write so far, buffered or not (it
  // finalises the hash: call it once, after the last Write).
  std::string HexDigest() { return sha_.HexDigest(); }

 private:
  static constexpr size_t kBufferBytes = size_t{1} << 20;

  absl::Status Flush() {
    absl::Status s = WriteOut(buffer_);
    buffer_.clear();
    return s;
  }
  absl::Status WriteOut(std::string_view bytes) {
    while (!bytes.empty()) {
      ssize_t n = ::write(fd_, bytes.data(), bytes.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return Errno("cannot write", path_);
      bytes.remove_prefix(static_cast<size_t>(n));
    }
    return absl::OkStatus();
  }

  std::string path_;
  int fd_ = -1;
  uint64_t size_ = 0;
  std::string buffer_;
  Sha256 sha_;
};

absl::Status SyncFolder(const std::string& folder) {
  int fd = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Errno("cannot open folder", folder);
  int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) return Errno("cannot sync folder", folder);
  return absl::OkStatus();
}

std::string NowUtc() {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::Now(),
                          absl::UTCTimeZone());
}

std::string View(cairn_bytes b) {
  return b.size == 0
             ? std::string()
             : std::string(reinterpret_cast<const char*>(b.data), b.size);
}

// ---- manifest.json ----

json PluginJson(const PluginInfo& p) {
  return json{{"name", p.name}, {"version", p.version}};
}

json BodyJson(const Manifest& m) {
  json codecs = json::array();
  for (const PluginInfo& c : m.codecs) codecs.push_back(PluginJson(c));
  json ciphers = json::array();
  for (const CipherUse& c : m.ciphers) {
    json entry = PluginJson(c.plugin);
    entry["key_ids"] = c.key_ids;
    ciphers.push_back(entry);
  }
  json chunks = json::array();
  for (const ChunkInfo& c : m.chunks) {
    chunks.push_back(json{{"name", c.name},
                          {"bytes", c.bytes},
                          {"first_position", c.first_position},
                          {"last_position", c.last_position},
                          {"records", c.records},
                          {"sha256", c.sha256}});
  }
  return json{{"format", "cairn-backup"},
              {"version", m.version},
              {"created_utc", m.created_utc},
              {"plugins", json{{"storage", PluginJson(m.storage)},
                               {"codecs", codecs},
                               {"ciphers", ciphers}}},
              {"base_position", m.base_position},
              {"first_position", m.first_position},
              {"last_position", m.last_position},
              {"previous_manifest_sha256", m.previous_manifest_sha256},
              {"chunks", chunks}};
}

std::string ManifestText(const Manifest& m) {
  json body = BodyJson(m);
  std::string body_sha = Sha256Of(body.dump());
  body["body_sha256"] = body_sha;
  return body.dump(2) + "\n";
}

PluginInfo PluginFromJson(const json& j) {
  return PluginInfo{j.at("name").get<std::string>(),
                    j.at("version").get<std::string>()};
}

absl::StatusOr<Manifest> ParseManifest(const std::string& text,
                                       const std::string& where) {
  json parsed = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded() || !parsed.is_object()) {
    return DataLoss(absl::StrCat(where, ": not JSON; the manifest is damaged"));
  }
  if (!parsed.contains("format") || parsed["format"] != "cairn-backup") {
    return DataLoss(
        absl::StrCat(where,
                     ": not a cairn backup manifest (no \"format\": "
                     "\"cairn-backup\")"));
  }
  if (!parsed.contains("body_sha256") || !parsed["body_sha256"].is_string()) {
    return DataLoss(
        absl::StrCat(where, ": no body_sha256; the manifest is damaged"));
  }
  const std::string recorded = parsed["body_sha256"].get<std::string>();
  parsed.erase("body_sha256");
  if (Sha256Of(parsed.dump()) != recorded) {
    return DataLoss(absl::StrCat(
        where,
        ": its contents do not match its body_sha256; the manifest "
        "was edited or damaged"));
  }
  Manifest m;
  try {
    m.version = parsed.at("version").get<int>();
    if (m.version != kFormatVersion) {
      return MakeStatus(
          CAIRN_E_UNSUPPORTED,
          absl::StrCat(where, ": backup format version ", m.version,
                       "; this cairn reads version ", kFormatVersion));
    }
    m.created_utc = parsed.at("created_utc").get<std::string>();
    const json& plugins = parsed.at("plugins");
    m.storage = PluginFromJson(plugins.at("storage"));
    for (const json& c : plugins.at("codecs"))
      m.codecs.push_back(PluginFromJson(c));
    for (const json& c : plugins.at("ciphers")) {
      m.ciphers.push_back(CipherUse{
          PluginFromJson(c), c.at("key_ids").get<std::vector<uint32_t>>()});
    }
    m.base_position = parsed.at("base_position").get<uint64_t>();
    m.first_position = parsed.at("first_position").get<uint64_t>();
    m.last_position = parsed.at("last_position").get<uint64_t>();
    m.previous_manifest_sha256 =
        parsed.at("previous_manifest_sha256").get<std::string>();
    for (const json& c : parsed.at("chunks")) {
      m.chunks.push_back(ChunkInfo{
          c.at("name").get<std::string>(), c.at("bytes").get<uint64_t>(),
          c.at("first_position").get<uint64_t>(),
          c.at("last_position").get<uint64_t>(),
          c.at("records").get<uint64_t>(), c.at("sha256").get<std::string>()});
    }
  } catch (const std::exception& e) {
    return DataLoss(absl::StrCat(where, ": ", e.what()));
  }
  for (const ChunkInfo& c : m.chunks) {
    if (c.name.empty() || c.name.find('/') != std::string::npos ||
        c.name == "." || c.name == ".." || c.name == kManifestName) {
      return DataLoss(absl::StrCat(where, ": chunk name '", c.name,
                                   "' is not a file name"));
    }
  }
  return m;
}

// ---- writing ----

// Keeps the key ids and codecs the records need (from event envelopes and
// the seal registry), for the manifest.
class SealUseCollector {
 public:
  void Add(const cairn_log_record& record) {
    if (record.kind == CAIRN_RECORD_EVENT && record.event != nullptr) {
      AddEnvelope(View(record.event->data));
    } else if (record.kind == CAIRN_RECORD_SNAPSHOT_SAVE) {
      std::string stream = View(record.stream);
      if (stream == kSealRegistryStream) {
        absl::StatusOr<std::vector<SealKey>> keys =
            ParseSealRegistry(View(record.data), "the seal registry");
        if (keys.ok()) {
          for (const SealKey& key : *keys)
            ciphers_[key.cipher].insert(key.key_id);
        }
      } else {
        AddEnvelope(View(record.data));
      }
    }
  }

  void Fill(Manifest* m, PluginRegistry* registry) const {
    auto version = [registry](cairn_plugin_kind kind, const std::string& name) {
      if (registry == nullptr) return std::string();
      absl::StatusOr<PluginPtr> p = registry->Find(kind, name);
      return p.ok() ? (*p)->version() : std::string();
    };
    for (const std::string& c : codecs_) {
      m->codecs.push_back(PluginInfo{c, version(CAIRN_KIND_CODEC, c)});
    }
    for (const auto& [name, ids] : ciphers_) {
      m->ciphers.push_back(
          CipherUse{PluginInfo{name, version(CAIRN_KIND_CIPHER, name)},
                    std::vector<uint32_t>(ids.begin(), ids.end())});
    }
  }

 private:
  void AddEnvelope(const std::string& stored) {
    std::string_view payload;
    absl::StatusOr<Envelope> envelope =
        ReadEnvelope(stored, &payload, "backup");
    if (!envelope.ok()) return;  // not ours to judge here: `cairn verify` is
    if (!envelope->codec.empty()) codecs_.insert(envelope->codec);
    if (!envelope->cipher.empty())
      ciphers_[envelope->cipher].insert(envelope->key_id);
  }

  std::set<std::string> codecs_;
  std::map<std::string, std::set<uint32_t>> ciphers_;
};

class BackupWriter {
 public:
  BackupWriter(const BackupOptions& options, Manifest* manifest)
      : options_(options), manifest_(manifest) {}

  absl::Status Add(const cairn_log_record& record) {
    seals_.Add(record);
    OwnedLogRecord owned(record);
    ToProto(owned, &proto_);
    frame_.clear();
    if (!proto_.AppendToString(&frame_)) {
      return MakeStatus(CAIRN_E_INTERNAL,
                        absl::StrCat("cannot serialize the record at position ",
                                     record.position));
    }
    if (frame_.size() >= kMaxFrameBytes) {
      return MakeStatus(
          CAIRN_E_UNSUPPORTED,
          absl::StrCat("the record at position ", record.position, " is ",
                       frame_.size(), " bytes, more than a frame holds"));
    }
    if (chunk_ == nullptr) {
      absl::Status s = OpenChunk(record.position);
      if (!s.ok()) return s;
    }
    char length[4];
    uint32_t n = static_cast<uint32_t>(frame_.size());
    for (int i = 0; i < 4; ++i)
      length[i] = static_cast<char>((n >> (8 * i)) & 0xff);
    absl::Status s = chunk_->Write(std::string_view(length, 4));
    if (s.ok()) s = chunk_->Write(frame_);
    if (!s.ok()) return s;
    ChunkInfo& info = manifest_->chunks.back();
    info.last_position = record.position;
    ++info.records;
    ++records_;
    bytes_ += 4 + frame_.size();
    if (manifest_->first_position == 0)
      manifest_->first_position = record.position;
    manifest_->last_position = record.position;
    if (chunk_->size() >= options_.chunk_bytes) return CloseChunk();
    return absl::OkStatus();
  }

  absl::Status CloseChunk() {
    if (chunk_ == nullptr) return absl::OkStatus();
    ChunkInfo& info = manifest_->chunks.back();
    info.bytes = chunk_->size();
    absl::Status s =
        chunk_->Finish((fs::path(options_.dest) / info.name).string());
    info.sha256 = chunk_->HexDigest();
    chunk_.reset();
    return s;
  }

  uint64_t records() const { return records_; }
  uint64_t bytes() const { return bytes_; }
  const SealUseCollector& seals() const { return seals_; }

 private:
  absl::Status OpenChunk(uint64_t first_position) {
    ChunkInfo info;
    info.name = absl::StrFormat("chunk-%06d%s", manifest_->chunks.size() + 1,
                                kChunkSuffix);
    info.first_position = first_position;
    chunk_ = std::make_unique<OutputFile>();
    absl::Status s = chunk_->Open(
        (fs::path(options_.dest) / (info.name + kPartialSuffix)).string());
    if (!s.ok()) return s;
    manifest_->chunks.push_back(info);
    return absl::OkStatus();
  }

  const BackupOptions& options_;
  Manifest* manifest_;
  SealUseCollector seals_;
  std::unique_ptr<OutputFile> chunk_;
  log::v1::LogRecord proto_;
  std::string frame_;
  uint64_t records_ = 0;
  uint64_t bytes_ = 0;
};

absl::Status PrepareDest(const std::string& dest) {
  std::error_code ec;
  if (fs::exists(dest, ec)) {
    if (!fs::is_directory(dest, ec)) {
      return MakeStatus(CAIRN_E_INVALID_ARGUMENT,
                        absl::StrCat("backup destination '", dest,
                                     "' exists and is not a folder"));
    }
    if (!fs::is_empty(dest, ec)) {
      return MakeStatus(
          CAIRN_E_INVALID_ARGUMENT,
          absl::StrCat("backup destination '", dest,
                       "' is not empty; give a new or empty folder"));
    }
    return absl::OkStatus();
  }
  fs::create_directories(dest, ec);
  if (ec) {
    return MakeStatus(CAIRN_E_IO, absl::StrCat("cannot create backup folder '",
                                               dest, "': ", ec.message()));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return MakeStatus(CAIRN_E_NOT_FOUND,
                      absl::StrCat("cannot read '", path, "'"));
  std::string text((std::istreambuf_iterator<char>(in)),
                   std::istreambuf_iterator<char>());
  return text;
}

// ---- reading chunks ----

// Reads a chunk's frames in order; calls on_record for each parsed record.
// Fails naming the file and offset on a cut or unparsable frame.
absl::Status ReadChunk(
    const std::string& path,
    const std::function<absl::Status(OwnedLogRecord, uint64_t offset)>&
        on_record,
    Sha256* sha, uint64_t* size) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return MakeStatus(CAIRN_E_NOT_FOUND,
                      absl::StrCat("cannot read '", path, "'"));
  uint64_t offset = 0;
  std::string frame;
  log::v1::LogRecord proto;
  while (true) {
    unsigned char length[4];
    in.read(reinterpret_cast<char*>(length), 4);
    std::streamsize got = in.gcount();
    if (got == 0) break;
    if (sha != nullptr) sha->Update(length, static_cast<size_t>(got));
    if (got != 4) {
      return DataLoss(
          absl::StrCat(path, ": cut frame header at offset ", offset));
    }
    uint32_t n = uint32_t{length[0]} | uint32_t{length[1]} << 8 |
                 uint32_t{length[2]} << 16 | uint32_t{length[3]} << 24;
    if (n >= kMaxFrameBytes) {
      return DataLoss(absl::StrCat(path, ": frame at offset ", offset,
                                   " claims ", n, " bytes"));
    }
    frame.resize(n);
    in.read(frame.data(), n);
    if (static_cast<uint32_t>(in.gcount()) != n) {
      return DataLoss(
          absl::StrCat(path, ": frame at offset ", offset, " is cut short"));
    }
    if (sha != nullptr) sha->Update(frame.data(), n);
    if (!proto.ParseFromString(frame)) {
      return DataLoss(absl::StrCat(path, ": frame at offset ", offset,
                                   " is not a LogRecord"));
    }
    absl::StatusOr<OwnedLogRecord> record = FromProto(proto);
    if (!record.ok()) {
      return DataLoss(absl::StrCat(path, ": frame at offset ", offset, ": ",
                                   record.status().message()));
    }
    absl::Status s = on_record(*std::move(record), offset);
    if (!s.ok()) return s;
    offset += 4 + n;
  }
  if (size != nullptr) *size = offset;
  return absl::OkStatus();
}

// Installs a log sink for its lifetime that drops the Store's line about
// opening a sealed store with allow-plaintext (backup and restore never
// append; they read or write records as stored) and passes the rest on.
class QuietPlaintextNotice {
 public:
  QuietPlaintextNotice() {
    previous_ = SetLogSink(LogSink());
    LogSink previous = previous_;
    SetLogSink([previous](cairn_log_level level, std::string_view source,
                          std::string_view message) {
      if (message.find("allow-plaintext = true") != std::string_view::npos ||
          message.find("allow-new-keyring = true") != std::string_view::npos) {
        return;
      }
      if (previous) previous(level, source, message);
    });
  }
  ~QuietPlaintextNotice() { SetLogSink(std::move(previous_)); }
  QuietPlaintextNotice(const QuietPlaintextNotice&) = delete;
  QuietPlaintextNotice& operator=(const QuietPlaintextNotice&) = delete;

 private:
  LogSink previous_;
};

SiteConfig RecordsOnly(SiteConfig site, bool existing) {
  site.codec = PluginChoice{"identity", {}};
  site.cipher = PluginChoice{"none", {}};
  site.replication = PluginChoice{"none", {}};
  site.allow_plaintext = existing;
  site.allow_new_keyring = existing;
  return site;
}

std::string CallMessage(const char* message, cairn_status status) {
  return message[0] != '\0' ? std::string(message)
                            : std::string(CodeName(status));
}

}  // namespace

absl::StatusOr<std::unique_ptr<Store>> OpenForBackup(const SiteConfig& site,
                                                     PluginRegistry& registry) {
  QuietPlaintextNotice quiet;
  return Store::Open(RecordsOnly(site, true), registry,
                     StoreOpenOptions{.create = false});
}

absl::StatusOr<std::string> FileSha256(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return MakeStatus(CAIRN_E_NOT_FOUND,
                      absl::StrCat("cannot read '", path, "'"));
  Sha256 sha;
  std::vector<char> buffer(1 << 20);
  while (in) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    sha.Update(buffer.data(), static_cast<size_t>(in.gcount()));
  }
  return sha.HexDigest();
}

absl::StatusOr<Manifest> LoadManifest(const std::string& folder) {
  const std::string path = (fs::path(folder) / kManifestName).string();
  std::error_code ec;
  if (!fs::exists(path, ec)) {
    return MakeStatus(
        CAIRN_E_NOT_FOUND,
        absl::StrCat("backup '", folder, "' has no ", kManifestName,
                     ": not a complete backup (a backup that was interrupted "
                     "never writes one)"));
  }
  absl::StatusOr<std::string> text = ReadWholeFile(path);
  if (!text.ok()) return text.status();
  return ParseManifest(*text, path);
}

namespace {

class StoreSource : public LogSource {
 public:
  explicit StoreSource(Store& store) : store_(store) {}

  absl::StatusOr<Start> Begin(uint64_t after_position) override {
    const PluginPtr& storage = store_.storage_plugin();
    if (!storage->Has(CAIRN_CAP_ORDERED_LOG)) {
      return MakeStatus(
          CAIRN_E_UNSUPPORTED,
          absl::StrCat("storage plugin '", storage->name(),
                       "' keeps no ordered log (CAIRN_CAP_ORDERED_LOG); "
                       "cairn backup copies the ordered log"));
    }
    absl::StatusOr<LogState> state = store_.GetLogState();
    if (!state.ok()) return state.status();
    if (state->committed < after_position) {
      return MakeStatus(
          CAIRN_E_FAILED_PRECONDITION,
          absl::StrCat("the store's committed position ", state->committed,
                       " is behind the previous backup's last position ",
                       after_position, ": is it the same store?"));
    }
    return Start{PluginInfo{storage->name(), storage->version()},
                 state->committed};
  }

  absl::Status Read(uint64_t after_position, uint64_t to_position,
                    const RecordSink& on_record) override {
    struct Context {
      const RecordSink* sink;
      uint64_t to;
      absl::Status status;
    } context{&on_record, to_position, absl::OkStatus()};
    char message[512] = "";
    cairn_error error{message, sizeof(message)};
    cairn_status status = store_.storage_plugin()->storage()->read_log(
        store_.raw_storage(), after_position,
        std::min<uint64_t>(kRecordsPerCall, to_position - after_position),
        [](void* raw, const cairn_log_record* record) -> int {
          auto* c = static_cast<Context*>(raw);
          if (record->position > c->to) return 1;
          c->status = (*c->sink)(*record);
          return c->status.ok() ? 0 : 1;
        },
        &context, &error);
    if (!context.status.ok()) return context.status;
    if (status != CAIRN_OK) {
      return MakeStatus(
          status, absl::StrCat("read_log after position ", after_position, ": ",
                               CallMessage(message, status)));
    }
    return absl::OkStatus();
  }

 private:
  Store& store_;
};

}  // namespace

std::unique_ptr<LogSource> StoreLogSource(Store& store) {
  return std::make_unique<StoreSource>(store);
}

absl::StatusOr<BackupResult> WriteBackup(Store& store,
                                         const BackupOptions& options) {
  StoreSource source(store);
  return WriteBackup(source, options);
}

absl::StatusOr<BackupResult> WriteBackup(LogSource& source,
                                         const BackupOptions& options) {
  Manifest manifest;
  manifest.created_utc = NowUtc();
  if (!options.incremental_from.empty()) {
    absl::StatusOr<Manifest> previous = LoadManifest(options.incremental_from);
    if (!previous.ok()) return previous.status();
    absl::StatusOr<std::string> sha = FileSha256(
        (fs::path(options.incremental_from) / kManifestName).string());
    if (!sha.ok()) return sha.status();
    manifest.base_position = previous->last_position;
    manifest.previous_manifest_sha256 = *sha;
  }
  absl::StatusOr<LogSource::Start> begun = source.Begin(manifest.base_position);
  if (!begun.ok()) {
    if (options.incremental_from.empty()) return begun.status();
    return MakeStatus(CodeOf(begun.status()),
                      absl::StrCat(begun.status().message(), " (",
                                   options.incremental_from, ")"));
  }
  manifest.storage = begun->storage;
  const uint64_t target = begun->last_position;
  if (absl::Status s = PrepareDest(options.dest); !s.ok()) return s;

  BackupWriter writer(options, &manifest);
  const absl::Time start = absl::Now();
  uint64_t after = manifest.base_position;
  Progress progress;
  progress.total_records = target - manifest.base_position;
  uint64_t since_progress = 0;
  uint64_t paced_bytes = 0;
  // Progress and the rate limit, every kRecordsPerCall records or
  // kPaceBytes bytes.
  auto pace = [&]() {
    progress.records = writer.records();
    progress.bytes = writer.bytes();
    if (options.progress) options.progress(progress);
    if (options.max_bytes_per_second != 0) {
      const double due = static_cast<double>(writer.bytes()) /
                         static_cast<double>(options.max_bytes_per_second);
      const double spent = absl::ToDoubleSeconds(absl::Now() - start);
      if (due > spent) {
        std::this_thread::sleep_for(std::chrono::duration<double>(due - spent));
      }
    }
  };
  while (after < target) {
    uint64_t last = 0;
    absl::Status s = source.Read(
        after, target, [&](const cairn_log_record& record) -> absl::Status {
          if (record.position > target) {
            return DataLoss(absl::StrCat("the log source returned position ",
                                         record.position, " past the end ",
                                         target));
          }
          const uint64_t expected = (last != 0 ? last : after) + 1;
          if (record.position != expected) {
            if (last == 0 && after == manifest.base_position &&
                record.position > expected) {
              return MakeStatus(
                  CAIRN_E_NOT_FOUND,
                  absl::StrCat("the log no longer holds position ", expected,
                               " (it starts at ", record.position, ")"));
            }
            return DataLoss(absl::StrCat("read_log returned position ",
                                         record.position, " after ",
                                         expected - 1, "; the log has a gap"));
          }
          absl::Status added = writer.Add(record);
          if (!added.ok()) return added;
          last = record.position;
          if (++since_progress >= kRecordsPerCall ||
              writer.bytes() - paced_bytes >= kPaceBytes) {
            since_progress = 0;
            paced_bytes = writer.bytes();
            pace();
          }
          return absl::OkStatus();
        });
    if (!s.ok()) return s;
    if (last == 0) {
      return DataLoss(absl::StrCat(
          "read_log after position ", after,
          " returned nothing below the committed position ", target));
    }
    after = last;
  }
  pace();
  if (absl::Status s = writer.CloseChunk(); !s.ok()) return s;
  if (manifest.last_position == 0)
    manifest.last_position = manifest.base_position;
  writer.seals().Fill(&manifest, options.registry);

  // The manifest last: temp name, sync, rename, sync the folder.
  const std::string text = ManifestText(manifest);
  OutputFile file;
  const std::string final_path =
      (fs::path(options.dest) / kManifestName).string();
  absl::Status s = file.Open(final_path + kPartialSuffix);
  if (s.ok()) s = file.Write(text);
  if (s.ok()) s = file.Finish(final_path);
  const std::string manifest_sha = file.HexDigest();
  if (s.ok()) s = SyncFolder(options.dest);
  if (!s.ok()) return s;
  progress.records = writer.records();
  progress.bytes = writer.bytes();
  progress.done = true;
  if (options.progress) options.progress(progress);
  return BackupResult{std::move(manifest), manifest_sha, writer.records(),
                      writer.bytes()};
}

absl::StatusOr<VerifiedChain> VerifyChain(
    const std::vector<std::string>& folders, const ProgressFn& progress) {
  if (folders.empty()) {
    return MakeStatus(CAIRN_E_INVALID_ARGUMENT, "no backup folder given");
  }
  VerifiedChain chain;
  Progress done;
  for (size_t i = 0; i < folders.size(); ++i) {
    const std::string& folder = folders[i];
    absl::StatusOr<Manifest> manifest = LoadManifest(folder);
    if (!manifest.ok()) return manifest.status();
    const std::string manifest_path =
        (fs::path(folder) / kManifestName).string();
    if (i == 0 && manifest->base_position != 0) {
      return MakeStatus(
          CAIRN_E_FAILED_PRECONDITION,
          absl::StrCat(manifest_path,
                       ": an incremental backup (records after position ",
                       manifest->base_position,
                       "); give its chain from the full backup first: cairn "
                       "restore FULL "
                       "INCREMENTAL... --data DIR"));
    }
    if (i > 0) {
      const std::string previous_path =
          (fs::path(folders[i - 1]) / kManifestName).string();
      absl::StatusOr<std::string> previous_sha = FileSha256(previous_path);
      if (!previous_sha.ok()) return previous_sha.status();
      if (manifest->base_position == 0 ||
          manifest->previous_manifest_sha256 != *previous_sha) {
        return DataLoss(absl::StrCat(manifest_path, ": not an incremental of ",
                                     previous_path,
                                     " (its previous_manifest_sha256 is '",
                                     manifest->previous_manifest_sha256,
                                     "', that file's is ", *previous_sha, ")"));
      }
      if (manifest->base_position != chain.last_position) {
        return DataLoss(absl::StrCat(
            manifest_path, ": starts after position ", manifest->base_position,
            " but ", previous_path, " ends at ", chain.last_position));
      }
    }
    // Exactly manifest.json and the chunks it lists.
    std::set<std::string> listed{kManifestName};
    for (const ChunkInfo& c : manifest->chunks) listed.insert(c.name);
    std::error_code ec;
    for (const fs::directory_entry& entry :
         fs::directory_iterator(folder, ec)) {
      const std::string name = entry.path().filename().string();
      if (listed.count(name) == 0) {
        return DataLoss(
            absl::StrCat("backup '", folder, "': file '", name,
                         "' is not listed in ", kManifestName,
                         "; the backup was changed (remove it only if you know "
                         "where it came from)"));
      }
    }
    if (ec) {
      return MakeStatus(CAIRN_E_IO, absl::StrCat("cannot list backup folder '",
                                                 folder, "': ", ec.message()));
    }
    uint64_t expected = manifest->base_position + 1;
    for (const ChunkInfo& chunk : manifest->chunks) {
      const std::string path = (fs::path(folder) / chunk.name).string();
      if (!fs::exists(path, ec)) {
        return DataLoss(absl::StrCat("backup '", folder, "': chunk '",
                                     chunk.name, "' listed in ", kManifestName,
                                     " is missing"));
      }
      const uint64_t on_disk = fs::file_size(path, ec);
      if (ec || on_disk != chunk.bytes) {
        return DataLoss(absl::StrCat(
            path, ": ", on_disk, " bytes, the manifest says ", chunk.bytes));
      }
      if (chunk.first_position != expected) {
        return DataLoss(absl::StrCat(
            manifest_path, ": chunk '", chunk.name, "' starts at position ",
            chunk.first_position, ", expected ", expected));
      }
      // One read: frames are parsed as the hash runs. A damaged chunk is
      // named by its hash whatever else it breaks.
      auto hash_mismatch = [&](const std::string& actual) {
        return DataLoss(absl::StrCat(
            path, ": SHA-256 ", actual, " does not match the ", chunk.sha256,
            " in ", kManifestName, "; the chunk is damaged or was changed"));
      };
      Sha256 sha;
      uint64_t records = 0;
      absl::Status s = ReadChunk(
          path,
          [&](OwnedLogRecord record, uint64_t offset) -> absl::Status {
            if (record.position != expected) {
              return DataLoss(absl::StrCat(path, ": frame at offset ", offset,
                                           " holds position ", record.position,
                                           ", expected ", expected));
            }
            ++expected;
            ++records;
            return absl::OkStatus();
          },
          &sha, nullptr);
      if (!s.ok()) {
        absl::StatusOr<std::string> file_sha = FileSha256(path);
        if (file_sha.ok() && *file_sha != chunk.sha256)
          return hash_mismatch(*file_sha);
        return s;
      }
      if (std::string actual = sha.HexDigest(); actual != chunk.sha256) {
        return hash_mismatch(actual);
      }
      if (records != chunk.records || expected - 1 != chunk.last_position) {
        return DataLoss(absl::StrCat(path, ": holds ", records,
                                     " records up to position ", expected - 1,
                                     "; the manifest says ", chunk.records,
                                     " up to ", chunk.last_position));
      }
      chain.records += records;
      chain.bytes += chunk.bytes;
      done.records = chain.records;
      done.bytes = chain.bytes;
      if (progress) progress(done);
    }
    if (expected - 1 != manifest->last_position) {
      return DataLoss(absl::StrCat(manifest_path, ": chunks end at position ",
                                   expected - 1, " but last_position is ",
                                   manifest->last_position));
    }
    chain.last_position = manifest->last_position;
    chain.folders.push_back(folder);
    chain.manifests.push_back(*std::move(manifest));
  }
  return chain;
}

bool EndsBatch(const OwnedLogRecord& record) {
  return record.kind != CAIRN_RECORD_EVENT ||
         record.batch_index + 1 >= record.batch_size;
}

absl::Status ForEachRecord(
    const VerifiedChain& chain,
    const std::function<absl::Status(OwnedLogRecord)>& on_record,
    const std::function<void(const ChunkInfo&)>& on_chunk) {
  for (size_t i = 0; i < chain.folders.size(); ++i) {
    for (const ChunkInfo& chunk : chain.manifests[i].chunks) {
      const std::string path =
          (fs::path(chain.folders[i]) / chunk.name).string();
      absl::Status s = ReadChunk(
          path,
          [&](OwnedLogRecord record, uint64_t) {
            return on_record(std::move(record));
          },
          nullptr, nullptr);
      if (!s.ok()) return s;
      if (on_chunk) on_chunk(chunk);
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<RestoreResult> Restore(const RestoreOptions& options) {
  RestoreResult result;
  absl::StatusOr<VerifiedChain> chain = VerifyChain(options.sources, nullptr);
  if (!chain.ok()) return chain.status();
  result.chain = *std::move(chain);

  const std::string& target = options.site.path;
  std::error_code ec;
  if (fs::exists(target, ec)) {
    if (!fs::is_directory(target, ec)) {
      return MakeStatus(
          CAIRN_E_INVALID_ARGUMENT,
          absl::StrCat("restore target '", target, "' is not a folder"));
    }
    if (!fs::is_empty(target, ec)) {
      if (!options.force) {
        return MakeStatus(
            CAIRN_E_FAILED_PRECONDITION,
            absl::StrCat("restore target '", target,
                         "' is not empty; restore into a new folder, or give "
                         "--force to delete what it holds first"));
      }
      for (const fs::directory_entry& entry :
           fs::directory_iterator(target, ec)) {
        fs::remove_all(entry.path(), ec);
        if (ec) {
          return MakeStatus(CAIRN_E_IO, absl::StrCat("--force: cannot remove '",
                                                     entry.path().string(),
                                                     "': ", ec.message()));
        }
        ++result.removed_entries;
      }
    }
  }
  if (options.registry == nullptr) {
    return MakeStatus(CAIRN_E_INTERNAL, "restore needs a plugin registry");
  }
  {
    QuietPlaintextNotice quiet;
    absl::StatusOr<std::unique_ptr<Store>> store =
        Store::Open(RecordsOnly(options.site, false), *options.registry,
                    StoreOpenOptions{.create = true});
    if (!store.ok()) return store.status();
    const PluginPtr& storage = (*store)->storage_plugin();
    if (!storage->Has(CAIRN_CAP_ORDERED_LOG) ||
        !storage->Has(CAIRN_CAP_APPLY)) {
      return MakeStatus(
          CAIRN_E_UNSUPPORTED,
          absl::StrCat(
              "storage plugin '", storage->name(),
              "' cannot apply an ordered log (needs ORDERED_LOG and "
              "APPLY); choose one that can with --set storage.plugin="));
    }
    const cairn_storage_api* api = storage->storage();
    std::vector<OwnedLogRecord> pending;
    Progress progress;
    progress.total_records = result.chain.records;
    auto apply = [&]() -> absl::Status {
      if (pending.empty()) return absl::OkStatus();
      std::vector<const cairn_log_record*> views = LogRecordViews(pending);
      // An edited backup must not bring in a name appends would refuse.
      for (const cairn_log_record* record : views) {
        if (absl::Status names = ValidateRecordNames(*record); !names.ok()) {
          return names;
        }
      }
      char message[512] = "";
      cairn_error error{message, sizeof(message)};
      cairn_status status = api->apply_log((*store)->raw_storage(),
                                           views.data(), views.size(), &error);
      if (status != CAIRN_OK) {
        return MakeStatus(
            status,
            absl::StrCat("apply_log of positions ", pending.front().position,
                         "..", pending.back().position, " into '", target,
                         "': ", CallMessage(message, status)));
      }
      progress.records += pending.size();
      if (options.progress) options.progress(progress);
      pending.clear();
      return absl::OkStatus();
    };
    absl::Status s = ForEachRecord(
        result.chain,
        [&](OwnedLogRecord record) -> absl::Status {
          const bool ends_batch = EndsBatch(record);
          pending.push_back(std::move(record));
          if (ends_batch && pending.size() >= kRecordsPerCall) return apply();
          return absl::OkStatus();
        },
        [&](const ChunkInfo& chunk) { progress.bytes += chunk.bytes; });
    if (!s.ok()) return s;
    if (absl::Status s = apply(); !s.ok()) return s;
    absl::StatusOr<LogState> state = (*store)->GetLogState();
    if (!state.ok()) return state.status();
    if (state->committed < result.chain.last_position) {
      return MakeStatus(
          CAIRN_E_FAILED_PRECONDITION,
          absl::StrCat("after applying every record, '", target,
                       "' has committed position ", state->committed,
                       ", below the backup's ", result.chain.last_position));
    }
    if (absl::Status s = (*store)->Flush(); !s.ok()) return s;
    progress.done = true;
    if (options.progress) options.progress(progress);
  }
  // Reopen and check the head as a user will see it.
  QuietPlaintextNotice quiet;
  absl::StatusOr<std::unique_ptr<Store>> reopened =
      Store::Open(RecordsOnly(options.site, true), *options.registry,
                  StoreOpenOptions{.create = false});
  if (!reopened.ok()) {
    return MakeStatus(CodeOf(reopened.status()),
                      absl::StrCat("reopening the restored store '", target,
                                   "': ", reopened.status().message()));
  }
  absl::StatusOr<uint64_t> head = (*reopened)->HeadPosition();
  if (!head.ok()) return head.status();
  result.head_position = *head;
  if (*head != result.chain.last_position) {
    return DataLoss(absl::StrCat(
        "the restored store '", target, "' reopens at head position ", *head,
        ", not the backup's ", result.chain.last_position));
  }
  return result;
}

}  // namespace cairn::backup
