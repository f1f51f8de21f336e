// "rle": a run-length codec, written as a third party would write a Cairn
// plugin. It pays off on events with long runs (zero-filled buffers,
// padded records) and costs at most 1 byte in 128 plus a 12-byte header on
// anything else.
//
// Encoding:
//   magic "RLE1" | decoded size (u32, little-endian) | CRC-32 of the decoded
//   bytes (u32, little-endian) | tokens
// A token is a control byte c followed by
//   c < 0x80:  c + 1 literal bytes (1..128)
//   c >= 0x80: one byte, repeated (c - 0x80) + kMinRepeat times (2..129)
// Decoding checks the magic, every token against the declared size, the
// total and the CRC, so truncated, altered or foreign input fails with
// CAIRN_E_CORRUPTION instead of yielding wrong bytes; it decodes into its
// own memory first, so a failed decode leaves the caller's buffer as it was.
//
// Option "min-run" (3..8, default 3): the shortest run worth a repeat token.
// (Not 2: a 2-byte repeat token saves nothing, and runs of 2 between single
// literals would make the output 4/3 of the input, beyond Encode's bound.)
#include <cairn/sdk/codec.hpp>

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace rle {

constexpr char kMagic[4] = {'R', 'L', 'E', '1'};
constexpr size_t kHeaderSize = 12;
constexpr size_t kMaxLiteral = 128;
constexpr size_t kMinRepeat = 2;  // what control 0x80 stands for
constexpr size_t kMaxRepeat = 0x7F + kMinRepeat;
// Events are at most 4 GiB - 1 here: the header holds a u32 size.
constexpr uint64_t kMaxInput = 0xFFFFFFFFu;

uint32_t Crc32(std::string_view bytes) {
  static const std::array<uint32_t, 256> table = [] {
    std::array<uint32_t, 256> t{};
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  uint32_t crc = 0xFFFFFFFFu;
  for (unsigned char b : bytes) crc = table[(crc ^ b) & 0xFF] ^ (crc >> 8);
  return crc ^ 0xFFFFFFFFu;
}

void PutU32(uint8_t* out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out[i] = static_cast<uint8_t>(v >> (8 * i));
}
uint32_t GetU32(const unsigned char* in) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= static_cast<uint32_t>(in[i]) << (8 * i);
  return v;
}

class RleCodec : public cairn::sdk::Codec {
 public:
  static cairn::sdk::Status Open(const cairn::sdk::Options& options,
                                 std::unique_ptr<RleCodec>* out) {
    uint64_t min_run = 3;
    cairn::sdk::Status s = options.GetUint("min-run", 3, &min_run);
    if (!s.ok()) return s;
    if (min_run < 3 || min_run > 8) {
      return cairn::sdk::InvalidArgument(
          "rle: option 'min-run' is " + std::to_string(min_run) +
          "; use a value from 3 to 8");
    }
    *out = std::make_unique<RleCodec>(static_cast<size_t>(min_run));
    return cairn::sdk::Status::Ok();
  }

  explicit RleCodec(size_t min_run) : min_run_(min_run) {}

  cairn::sdk::Status Encode(std::string_view input,
                            cairn::sdk::BufferWriter& output) override {
    if (input.size() > kMaxInput) {
      return cairn::sdk::ResourceExhausted(
          "rle: input of " + std::to_string(input.size()) +
          " bytes exceeds the codec's 4 GiB limit");
    }
    // Worst case: one control byte per 128 literals, plus one. Each repeat
    // token covers >= 3 bytes with 2, which pays for the control byte of the
    // literal piece it interrupts, so mixing runs in never costs more.
    size_t bound = kHeaderSize + input.size() + input.size() / kMaxLiteral + 1;
    uint8_t* out = output.Reserve(bound);
    if (out == nullptr) {
      return cairn::sdk::ResourceExhausted(
          "rle: the output buffer could not grow by " + std::to_string(bound) +
          " bytes");
    }
    uint8_t* const start = out;
    std::memcpy(out, kMagic, 4);
    PutU32(out + 4, static_cast<uint32_t>(input.size()));
    PutU32(out + 8, Crc32(input));
    out += kHeaderSize;
    size_t i = 0;
    size_t literal_start = 0;
    auto flush_literals = [&](size_t end) {
      while (literal_start < end) {
        size_t n = std::min(kMaxLiteral, end - literal_start);
        *out++ = static_cast<uint8_t>(n - 1);
        std::memcpy(out, input.data() + literal_start, n);
        out += n;
        literal_start += n;
      }
    };
    while (i < input.size()) {
      size_t run = 1;
      while (i + run < input.size() && run < kMaxRepeat &&
             input[i + run] == input[i]) {
        ++run;
      }
      if (run >= min_run_) {
        flush_literals(i);
        *out++ = static_cast<uint8_t>(0x80 + (run - kMinRepeat));
        *out++ = static_cast<uint8_t>(input[i]);
        i += run;
        literal_start = i;
      } else {
        i += run;
      }
    }
    flush_literals(input.size());
    output.Commit(static_cast<size_t>(out - start));
    return cairn::sdk::Status::Ok();
  }

  cairn::sdk::Status Decode(std::string_view input,
                            cairn::sdk::BufferWriter& output) override {
    const auto* in = reinterpret_cast<const unsigned char*>(input.data());
    if (input.size() < kHeaderSize || std::memcmp(in, kMagic, 4) != 0) {
      return cairn::sdk::Corruption(
          "rle: input does not start with the 'RLE1' header; it is not this "
          "codec's output");
    }
    const size_t size = GetU32(in + 4);
    const uint32_t crc = GetU32(in + 8);
    // Tokens of 2 bytes decode to at most kMaxRepeat: a larger declared size
    // is damage, refused before allocating it.
    if (size > (input.size() - kHeaderSize) / 2 * kMaxRepeat) {
      return cairn::sdk::Corruption(
          "rle: the header declares " + std::to_string(size) +
          " bytes, more than " + std::to_string(input.size() - kHeaderSize) +
          " bytes of tokens can hold");
    }
    // Decode into memory of our own and hand it to the caller's buffer only
    // once the CRC checked out: a failed decode must leave that buffer as it
    // was (cairn/plugin.h).
    std::string scratch(size, '\0');
    auto* out = reinterpret_cast<uint8_t*>(scratch.data());
    size_t written = 0;
    size_t p = kHeaderSize;
    while (p < input.size()) {
      unsigned char c = in[p++];
      size_t n = c < 0x80 ? size_t{c} + 1 : size_t{c} - 0x80 + kMinRepeat;
      size_t needs = c < 0x80 ? n : 1;
      if (input.size() - p < needs) {
        return cairn::sdk::Corruption("rle: token at offset " +
                                      std::to_string(p - 1) +
                                      " runs past the end of the input");
      }
      if (n > size - written) {
        return cairn::sdk::Corruption(
            "rle: tokens decode to more than the declared " +
            std::to_string(size) + " bytes");
      }
      if (c < 0x80) {
        std::memcpy(out + written, in + p, n);
      } else {
        std::memset(out + written, in[p], n);
      }
      written += n;
      p += needs;
    }
    if (written != size) {
      return cairn::sdk::Corruption(
          "rle: input decodes to " + std::to_string(written) +
          " bytes, the header declares " + std::to_string(size) +
          " (truncated?)");
    }
    if (Crc32(scratch) != crc) {
      return cairn::sdk::Corruption("rle: decoded bytes fail their CRC-32");
    }
    return output.Append(scratch.data(), size);
  }

 private:
  size_t min_run_;
};

}  // namespace rle

CAIRN_CODEC_PLUGIN(rle::RleCodec, "rle", "1.0.0",
                   "run-length encoding with a CRC-32 (example third-party "
                   "plugin)",
                   0,
                   cairn::sdk::OptionDesc("min-run", CAIRN_OPT_UINT, "3",
                                          "shortest run that is encoded as "
                                          "a run"))
