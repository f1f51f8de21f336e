#include "zstd_codec.h"

#include <zstd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <memory>
#include <new>
#include <sstream>

namespace cairn::zstdcodec {

struct Dictionaries {
  struct Entry {
    std::string path;
    ZSTD_DDict* ddict = nullptr;
  };
  // The dictionary new events use (null: none) and its id.
  ZSTD_CDict* cdict = nullptr;
  uint32_t encode_id = 0;
  std::map<uint32_t, Entry> by_id;

  Dictionaries() = default;
  Dictionaries(const Dictionaries&) = delete;
  Dictionaries& operator=(const Dictionaries&) = delete;
  ~Dictionaries() {
    ZSTD_freeCDict(cdict);
    for (auto& [id, entry] : by_id) ZSTD_freeDDict(entry.ddict);
  }
};

// Per thread and instance: a compression context with the instance's
// parameters set once, and a decompression context.
struct ZstdCodec::ThreadContexts {
  std::shared_ptr<const Dictionaries> dictionaries;  // keeps cdict alive
  ZSTD_CCtx* compress = nullptr;
  ZSTD_DCtx* decompress = nullptr;
  // Where decode writes before the frame's checksum is known good, for
  // events up to kScratchBytes (larger ones get a buffer of their own).
  std::unique_ptr<uint8_t[]> scratch;
  ~ThreadContexts() {
    ZSTD_freeCCtx(compress);
    ZSTD_freeDCtx(decompress);
  }
};

namespace {

sdk::Status ParseLevel(const std::string& text, int* level) {
  size_t digits_from = !text.empty() && text[0] == '-' ? 1 : 0;
  bool ok = text.size() > digits_from && text.size() - digits_from <= 6 &&
            text.find_first_not_of("0123456789", digits_from) ==
                std::string::npos;
  int value = ok ? std::stoi(text) : 0;
  if (!ok || value < ZSTD_minCLevel() || value > ZSTD_maxCLevel()) {
    return sdk::InvalidArgument(
        "codec 'zstd': option 'level': '" + text +
        "' is not a zstd level (an integer from " +
        std::to_string(ZSTD_minCLevel()) + " to " +
        std::to_string(ZSTD_maxCLevel()) + ")");
  }
  *level = value;
  return sdk::Status::Ok();
}

std::vector<std::string> SplitPaths(const std::string& text) {
  std::vector<std::string> paths;
  size_t begin = 0;
  while (begin <= text.size()) {
    size_t end = text.find(',', begin);
    if (end == std::string::npos) end = text.size();
    std::string path = text.substr(begin, end - begin);
    size_t first = path.find_first_not_of(" \t");
    size_t last = path.find_last_not_of(" \t");
    paths.push_back(first == std::string::npos
                        ? std::string()
                        : path.substr(first, last - first + 1));
    begin = end + 1;
  }
  return paths;
}

sdk::Status ReadDictionaryFile(const std::string& path, std::string* bytes) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) {
    return sdk::InvalidArgument("codec 'zstd': dictionary " + path +
                                " cannot be read: " + std::strerror(errno));
  }
  std::streamoff size = in.tellg();
  if (size <= 0 || static_cast<uint64_t>(size) > kMaxDictionaryFileSize) {
    return sdk::InvalidArgument(
        "codec 'zstd': dictionary " + path + " has " + std::to_string(size) +
        " bytes; a dictionary has 1 byte to 64 MiB");
  }
  bytes->resize(static_cast<size_t>(size));
  in.seekg(0);
  if (!in.read(bytes->data(), size)) {
    return sdk::InvalidArgument("codec 'zstd': dictionary " + path +
                                " cannot be read");
  }
  return sdk::Status::Ok();
}

sdk::Status LoadDictionaries(const std::string& option, int level,
                             Dictionaries* out) {
  std::vector<std::string> paths = SplitPaths(option);
  for (size_t i = 0; i < paths.size(); ++i) {
    const std::string& path = paths[i];
    if (path.empty()) {
      return sdk::InvalidArgument(
          "codec 'zstd': option 'dictionary' has an empty path (entry " +
          std::to_string(i + 1) + " of '" + option + "')");
    }
    std::string bytes;
    sdk::Status status = ReadDictionaryFile(path, &bytes);
    if (!status.ok()) return status;
    uint32_t id = ZSTD_getDictID_fromDict(bytes.data(), bytes.size());
    if (id == 0) {
      return sdk::InvalidArgument(
          "codec 'zstd': " + path +
          " is not a zstd dictionary (it has no dictionary id); train one "
          "with 'cairn train-dict'");
    }
    auto previous = out->by_id.find(id);
    if (previous != out->by_id.end()) {
      return sdk::InvalidArgument("codec 'zstd': dictionaries " +
                                  previous->second.path + " and " + path +
                                  " have the same id " + std::to_string(id));
    }
    ZSTD_DDict* ddict = ZSTD_createDDict(bytes.data(), bytes.size());
    if (ddict == nullptr) {
      return sdk::InvalidArgument("codec 'zstd': dictionary " + path +
                                  " is damaged (zstd refuses it)");
    }
    out->by_id[id] = Dictionaries::Entry{path, ddict};
    if (i == 0) {
      out->cdict = ZSTD_createCDict(bytes.data(), bytes.size(), level);
      if (out->cdict == nullptr) {
        return sdk::InvalidArgument("codec 'zstd': dictionary " + path +
                                    " is damaged (zstd refuses it)");
      }
      out->encode_id = id;
    }
  }
  return sdk::Status::Ok();
}

bool SetParameter(ZSTD_CCtx* context, ZSTD_cParameter parameter, int value) {
  return !ZSTD_isError(ZSTD_CCtx_setParameter(context, parameter, value));
}

void PutLittleEndian32(uint8_t* out, uint32_t value) {
  for (int i = 0; i < 4; ++i) out[i] = static_cast<uint8_t>(value >> (8 * i));
}

uint32_t GetLittleEndian32(const uint8_t* in) {
  uint32_t value = 0;
  for (int i = 0; i < 4; ++i) value |= static_cast<uint32_t>(in[i]) << (8 * i);
  return value;
}

}  // namespace

ZstdCodec::ZstdCodec(int level, uint64_t max_decoded_size,
                     std::shared_ptr<const Dictionaries> dictionaries)
    : level_(level),
      max_decoded_size_(max_decoded_size),
      dictionaries_(std::move(dictionaries)) {}

ZstdCodec::~ZstdCodec() = default;

sdk::Status ZstdCodec::Open(const sdk::Options& options,
                            std::unique_ptr<ZstdCodec>* out) {
  int level = kDefaultLevel;
  if (options.Has("level")) {
    sdk::Status status = ParseLevel(options.Get("level"), &level);
    if (!status.ok()) return status;
  }
  uint64_t max_decoded_size = 0;
  sdk::Status status = options.GetSize("max-decoded-size",
                                       kDefaultMaxDecodedSize,
                                       &max_decoded_size);
  if (!status.ok()) return sdk::InvalidArgument("codec 'zstd': " + status.message());
  if (max_decoded_size == 0 || max_decoded_size > (1ull << 31)) {
    return sdk::InvalidArgument(
        "codec 'zstd': option 'max-decoded-size' must be from 1 byte to 2GiB");
  }
  auto dictionaries = std::make_shared<Dictionaries>();
  if (options.Has("dictionary")) {
    status = LoadDictionaries(options.Get("dictionary"), level,
                              dictionaries.get());
    if (!status.ok()) return status;
  }
  out->reset(new ZstdCodec(level, max_decoded_size, std::move(dictionaries)));
  return sdk::Status::Ok();
}

uint32_t ZstdCodec::encode_dictionary_id() const {
  return dictionaries_->encode_id;
}

ZstdCodec::ThreadContexts* ZstdCodec::ThisThread(sdk::Status* status) {
  if (ThreadContexts* found = per_thread_.Find()) return found;
  auto contexts = std::make_shared<ThreadContexts>();
  contexts->dictionaries = dictionaries_;
  contexts->compress = ZSTD_createCCtx();
  contexts->decompress = ZSTD_createDCtx();
  ZSTD_CCtx* c = contexts->compress;
  if (c == nullptr || contexts->decompress == nullptr) {
    *status = sdk::ResourceExhausted("codec 'zstd': cannot allocate contexts");
    return nullptr;
  }
  bool ok = SetParameter(c, ZSTD_c_compressionLevel, level_) &&
            SetParameter(c, ZSTD_c_checksumFlag, 1) &&
            SetParameter(c, ZSTD_c_contentSizeFlag, 1) &&
            SetParameter(c, ZSTD_c_dictIDFlag, 0);
  if (ok && dictionaries_->cdict != nullptr) {
    ok = !ZSTD_isError(ZSTD_CCtx_refCDict(c, dictionaries_->cdict));
  }
  if (!ok) {
    *status = sdk::Internal("codec 'zstd': cannot set compression parameters");
    return nullptr;
  }
  return per_thread_.Keep(std::move(contexts));
}

sdk::Status ZstdCodec::Encode(std::string_view input,
                              sdk::BufferWriter& output) {
  if (input.size() > max_decoded_size_) {
    return sdk::InvalidArgument(
        "codec 'zstd': event of " + std::to_string(input.size()) +
        " bytes exceeds max-decoded-size (" +
        std::to_string(max_decoded_size_) + " bytes)");
  }
  if (input.size() < kSmallEventBytes && dictionaries_->cdict == nullptr &&
      !dictionary_hint_given_.load(std::memory_order_relaxed) &&
      !dictionary_hint_given_.exchange(true)) {
    sdk::LogInfo(
        "codec 'zstd': compressing events of " + std::to_string(input.size()) +
        " bytes without a dictionary; on events this small zstd spends most "
        "of its time building entropy tables (level 1: about 90 MB/s, ratio "
        "1.4 on 256-byte JSON). A dictionary trained with 'cairn train-dict' "
        "(option 'dictionary') is about 4x faster and compresses 2-3x "
        "better");
  }
  sdk::Status status;
  ThreadContexts* contexts = ThisThread(&status);
  if (contexts == nullptr) return status;
  const size_t bound = ZSTD_compressBound(input.size());
  uint8_t* out = output.Reserve(kHeaderBytes + bound);
  if (out == nullptr) {
    return sdk::ResourceExhausted("codec 'zstd': output buffer could not grow by " +
                                  std::to_string(kHeaderBytes + bound) +
                                  " bytes");
  }
  out[0] = kMagic0;
  out[1] = kMagic1;
  out[2] = kFramingVersion;
  out[3] = 0;
  PutLittleEndian32(out + 4, dictionaries_->encode_id);
  size_t written = ZSTD_compress2(contexts->compress, out + kHeaderBytes,
                                  bound, input.data(), input.size());
  if (ZSTD_isError(written)) {
    return sdk::Internal(std::string("codec 'zstd': compression failed: ") +
                         ZSTD_getErrorName(written));
  }
  output.Commit(kHeaderBytes + written);
  return sdk::Status::Ok();
}

sdk::Status ZstdCodec::Decode(std::string_view input,
                              sdk::BufferWriter& output) {
  const uint8_t* in = reinterpret_cast<const uint8_t*>(input.data());
  if (input.size() < kHeaderBytes) {
    return sdk::Corruption("codec 'zstd': input of " +
                           std::to_string(input.size()) +
                           " bytes is shorter than the zstd codec's " +
                           std::to_string(kHeaderBytes) +
                           "-byte header; it was not written by this codec");
  }
  if (in[0] != kMagic0 || in[1] != kMagic1) {
    return sdk::Corruption(
        "codec 'zstd': input does not start with the zstd codec's magic "
        "'CZ'; it was written by another codec or is damaged");
  }
  if (in[2] != kFramingVersion) {
    return sdk::Corruption("codec 'zstd': framing version " +
                           std::to_string(in[2]) +
                           " is unknown to this build (it reads version " +
                           std::to_string(kFramingVersion) +
                           "); upgrade the zstd plugin");
  }
  if (in[3] != 0) {
    return sdk::Corruption("codec 'zstd': header flags " +
                           std::to_string(in[3]) +
                           " are not defined in framing version 1");
  }
  const uint32_t dictionary_id = GetLittleEndian32(in + 4);
  const ZSTD_DDict* ddict = nullptr;
  if (dictionary_id != 0) {
    auto it = dictionaries_->by_id.find(dictionary_id);
    if (it == dictionaries_->by_id.end()) {
      return sdk::Corruption(
          "codec 'zstd': event was compressed with dictionary id " +
          std::to_string(dictionary_id) +
          ", which is not among the configured dictionaries; add its file to "
          "option 'dictionary'");
    }
    ddict = it->second.ddict;
  }
  const uint8_t* frame = in + kHeaderBytes;
  const size_t frame_size = input.size() - kHeaderBytes;
  unsigned long long declared = ZSTD_getFrameContentSize(frame, frame_size);
  if (declared == ZSTD_CONTENTSIZE_ERROR) {
    return sdk::Corruption(
        "codec 'zstd': the bytes after the header are not a zstd frame");
  }
  if (declared == ZSTD_CONTENTSIZE_UNKNOWN) {
    return sdk::Corruption(
        "codec 'zstd': the zstd frame does not declare its decoded size, "
        "which this codec always writes");
  }
  if (declared > max_decoded_size_) {
    return sdk::Corruption("codec 'zstd': the frame declares " +
                           std::to_string(declared) +
                           " decoded bytes, more than max-decoded-size (" +
                           std::to_string(max_decoded_size_) +
                           "); refusing to allocate it");
  }
  sdk::Status status;
  ThreadContexts* contexts = ThisThread(&status);
  if (contexts == nullptr) return status;
  // Decode into scratch memory and copy only once the frame (and its
  // checksum) checked out: a failed decode leaves the caller's buffer as it
  // was, spare capacity included (cairn/plugin.h).
  uint8_t empty[1];
  std::unique_ptr<uint8_t[]> large;
  uint8_t* out = empty;
  if (declared > kScratchBytes) {
    large.reset(new (std::nothrow) uint8_t[declared]);
    out = large.get();
  } else if (declared != 0) {
    if (contexts->scratch == nullptr) {
      contexts->scratch.reset(new (std::nothrow) uint8_t[kScratchBytes]);
    }
    out = contexts->scratch.get();
  }
  if (out == nullptr) {
    return sdk::ResourceExhausted("codec 'zstd': cannot allocate " +
                                  std::to_string(declared) +
                                  " bytes to decode into");
  }
  size_t decoded =
      ddict != nullptr
          ? ZSTD_decompress_usingDDict(contexts->decompress, out, declared,
                                       frame, frame_size, ddict)
          : ZSTD_decompress_usingDict(contexts->decompress, out, declared,
                                      frame, frame_size, nullptr, 0);
  if (ZSTD_isError(decoded)) {
    return sdk::Corruption(std::string("codec 'zstd': the zstd frame is "
                                       "damaged: ") +
                           ZSTD_getErrorName(decoded));
  }
  if (decoded != declared) {
    return sdk::Corruption("codec 'zstd': the frame decoded to " +
                           std::to_string(decoded) + " bytes but declares " +
                           std::to_string(declared));
  }
  if (declared != 0) {
    sdk::Status appended = output.Append(out, declared);
    if (!appended.ok()) {
      return sdk::ResourceExhausted("codec 'zstd': " + appended.message());
    }
  }
  return sdk::Status::Ok();
}

}  // namespace cairn::zstdcodec

CAIRN_CODEC_PLUGIN(
    cairn::zstdcodec::ZstdCodec, "zstd", "1.0.0",
    "Zstandard compression, with optional trained dictionaries", 0,
    cairn::sdk::OptionDesc("level", CAIRN_OPT_STRING, "3",
                           "compression level, -7..22 "
                           "(negative: faster)"),
    cairn::sdk::OptionDesc("dictionary", CAIRN_OPT_PATH, nullptr,
                           "trained dictionary file(s) (cairn train-dict)"),
    cairn::sdk::OptionDesc("max-decoded-size", CAIRN_OPT_SIZE, "64MiB",
                           "largest event a decode may produce, up to 2GiB"))
