// The zstd codec: compresses event bytes with Zstandard (Debian's libzstd).
//
// Options:
//   level = N              compression level, ZSTD_minCLevel()..
//                          ZSTD_maxCLevel() (negative: faster); default 3
//   dictionary = PATH[,PATH...]
//                          zstd dictionaries (from `cairn train-dict`); the
//                          first compresses new events, all of them decode
//                          (so a site can move to a new dictionary and still
//                          read events compressed with older ones)
//   max-decoded-size = SIZE
//                          the largest event this codec encodes or decodes;
//                          default 64MiB. Decode refuses an input declaring
//                          more, instead of allocating it.
//
// Small events: without a dictionary zstd spends most of the time of a
// small event building its Huffman and FSE tables (docs/benchmarks.md,
// "Codec and cipher"): level 1 manages about 90 MB/s on 256-byte JSON. A
// dictionary brings pre-built tables. The first event under
// kSmallEventBytes that an instance without a dictionary encodes logs a
// hint (once per instance) saying so.
//
// Encoded format (docs/security.md, "zstd framing"):
//   bytes 0-1  magic "CZ"
//   byte  2    framing version, 1
//   byte  3    flags, 0 (reserved)
//   bytes 4-7  dictionary id, little endian; 0: no dictionary
//   then one zstd frame holding the decoded size and, since issue #19,
//   a checksum (4 bytes): the codec contract (cairn/plugin.h) says a changed
//   byte fails with CAIRN_E_CORRUPTION, never wrong bytes, whatever a cipher
//   or storage checks besides. Frames written before, without a checksum,
//   still decode. Decode writes to the caller's buffer only after the frame
//   checked out (it decodes into per-thread scratch memory and copies).
// Decode refuses, with CAIRN_E_CORRUPTION and a message saying which, input
// that is too short, has another magic, an unknown version or flags, names
// a dictionary that is not configured, declares no or an oversized decoded
// size, or whose zstd frame is damaged.
#ifndef CAIRN_PLUGINS_CODEC_ZSTD_ZSTD_CODEC_H_
#define CAIRN_PLUGINS_CODEC_ZSTD_ZSTD_CODEC_H_

#include <cairn/sdk/codec.hpp>
#include <cairn/sdk/thread_cache.hpp>

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace cairn::zstdcodec {

inline constexpr uint8_t kMagic0 = 'C';
inline constexpr uint8_t kMagic1 = 'Z';
inline constexpr uint8_t kFramingVersion = 1;
inline constexpr size_t kHeaderBytes = 8;
// Decoded events up to this size use a per-thread scratch buffer.
inline constexpr size_t kScratchBytes = size_t{1} << 20;
inline constexpr uint64_t kDefaultMaxDecodedSize = 64ull << 20;
inline constexpr int kDefaultLevel = 3;
// Events below this size get the dictionary hint (see above).
inline constexpr size_t kSmallEventBytes = 1024;
// A dictionary file larger than this is refused at open.
inline constexpr uint64_t kMaxDictionaryFileSize = 64ull << 20;

// The dictionaries of one codec instance, shared by the instance and by
// the per-thread contexts that reference them.
struct Dictionaries;

class ZstdCodec : public sdk::Codec {
 public:
  static sdk::Status Open(const sdk::Options& options,
                          std::unique_ptr<ZstdCodec>* out);
  ~ZstdCodec() override;

  // Thread-safe.
  sdk::Status Encode(std::string_view input,
                     sdk::BufferWriter& output) override;
  // Thread-safe.
  sdk::Status Decode(std::string_view input,
                     sdk::BufferWriter& output) override;

  int level() const { return level_; }
  // The id new events are compressed with (0: none).
  uint32_t encode_dictionary_id() const;

  struct ThreadContexts;

 private:
  ZstdCodec(int level, uint64_t max_decoded_size,
            std::shared_ptr<const Dictionaries> dictionaries);
  ThreadContexts* ThisThread(sdk::Status* status);

  const int level_;
  const uint64_t max_decoded_size_;
  const std::shared_ptr<const Dictionaries> dictionaries_;
  // This instance's contexts on each thread that used it lately. They
  // hold no secret, so a closed instance's simply age out.
  sdk::ThreadCache<ThreadContexts, 4> per_thread_;
  std::atomic<bool> dictionary_hint_given_{false};
};

}  // namespace cairn::zstdcodec

#endif  // CAIRN_PLUGINS_CODEC_ZSTD_ZSTD_CODEC_H_
