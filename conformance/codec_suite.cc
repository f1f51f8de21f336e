// Codec conformance: round trips on empty, small, large, random and
// incompressible inputs; output appended after what the buffer held; tight
// and refused buffer growth; corrupted input fails with CAIRN_E_CORRUPTION,
// never a crash; concurrent use of one instance.
#include <cairn/status.h>

#include <atomic>
#include <random>
#include <thread>

#include <gtest/gtest.h>

#include "target.h"

namespace cairn::conformance {
namespace {

std::string Compressible(size_t n) {
  std::string out;
  out.reserve(n);
  const std::string phrase = "{\"type\":\"OrderPlaced\",\"qty\":1} ";
  while (out.size() < n) out += phrase;
  out.resize(n);
  return out;
}

class CodecConformance : public ::testing::TestWithParam<Target> {
 protected:
  void SetUp() override {
    api_ = GetParam().plugin->codec();
    ASSERT_NE(api_, nullptr);
    options_ = std::make_unique<OpenOptions>(GetParam());
    cairn_status st = api_->open(options_->get(), &codec_, error_.get());
    ASSERT_EQ(st, CAIRN_OK) << "open failed: " << Describe(st, error_.message);
  }
  void TearDown() override {
    if (codec_ != nullptr) api_->close(codec_);
  }

  // Encodes into a fresh buffer; fails the test on error.
  std::string Encode(const std::string& input) {
    OutputBuffer out;
    cairn_status st = api_->encode(codec_, Bytes(input), out.get(),
                                   error_.get());
    EXPECT_EQ(st, CAIRN_OK) << "encode of " << input.size()
                            << " bytes failed: "
                            << Describe(st, error_.message);
    return out.contents();
  }
  cairn_status Decode(const std::string& input, std::string* output,
                      std::string* message) {
    OutputBuffer out;
    ErrorBuffer error;
    cairn_status st = api_->decode(codec_, Bytes(input), out.get(),
                                   error.get());
    *output = out.contents();
    *message = error.message;
    return st;
  }
  void ExpectRoundTrip(const std::string& input, const std::string& what) {
    std::string encoded = Encode(input);
    std::string decoded, message;
    cairn_status st = Decode(encoded, &decoded, &message);
    ASSERT_EQ(st, CAIRN_OK) << what << ": decode of our own encoding failed: "
                            << Describe(st, message.c_str());
    EXPECT_EQ(decoded.size(), input.size()) << what;
    EXPECT_TRUE(decoded == input) << what << ": round trip changed the bytes";
  }
  // True if the codec leaves these inputs unchanged (the identity codec):
  // then every byte string is a valid encoding and corruption is
  // undetectable by design.
  bool Transparent() {
    for (const std::string& s : {std::string("abc"), Compressible(4096),
                                 RandomBytes(512, 3)}) {
      if (Encode(s) != s) return false;
    }
    return true;
  }

  const cairn_codec_api* api_ = nullptr;
  cairn_codec* codec_ = nullptr;
  std::unique_ptr<OpenOptions> options_;
  ErrorBuffer error_;
};

CAIRN_TEST_P(CodecConformance, RoundTripsEmptyInput, kRuleCodecRoundTrip) {
  ExpectRoundTrip("", "empty");
}

CAIRN_TEST_P(CodecConformance, RoundTripsSmallInputs, kRuleCodecRoundTrip) {
  for (size_t n = 1; n <= 64; ++n) {
    ExpectRoundTrip(RandomBytes(n, static_cast<uint32_t>(n)),
                    std::to_string(n) + " random bytes");
  }
  ExpectRoundTrip("a", "one byte");
  ExpectRoundTrip(std::string(1, '\0'), "one NUL byte");
  ExpectRoundTrip(std::string(300, 'x'), "a run of 300");
}

CAIRN_TEST_P(CodecConformance, RoundTripsLargeCompressibleInput,
             kRuleCodecRoundTrip) {
  ExpectRoundTrip(Compressible(8u << 20), "8 MiB of repeated JSON");
  ExpectRoundTrip(std::string(4u << 20, '\0'), "4 MiB of zeros");
}

CAIRN_TEST_P(CodecConformance, RoundTripsRandomInputs, kRuleCodecRoundTrip) {
  std::mt19937 rng(20261125);
  for (int i = 0; i < 200; ++i) {
    size_t n = rng() % 5000;
    // Mix random bytes with runs so run-based codecs see both.
    std::string input = RandomBytes(n, rng());
    for (size_t p = 0; p + 20 < input.size(); p += 1 + rng() % 200) {
      std::fill_n(input.begin() + p, rng() % 20, input[p]);
    }
    ExpectRoundTrip(input, "random input #" + std::to_string(i));
  }
}

CAIRN_TEST_P(CodecConformance, RoundTripsIncompressibleInput,
             kRuleCodecRoundTrip) {
  std::string input = RandomBytes(1u << 20, 7);
  ExpectRoundTrip(input, "1 MiB of random bytes");
}

CAIRN_TEST_P(CodecConformance, AppendsAfterWhatTheBufferHolds,
             kRuleOutputThroughReserve) {
  const std::string prefix = "PREFIX";
  const std::string input = Compressible(10000);
  OutputBuffer encoded(prefix);
  ASSERT_EQ(api_->encode(codec_, Bytes(input), encoded.get(), error_.get()),
            CAIRN_OK)
      << error_.message;
  std::string e = encoded.contents();
  ASSERT_EQ(e.substr(0, prefix.size()), prefix)
      << "encode must append, not overwrite";
  OutputBuffer decoded(prefix);
  std::string body = e.substr(prefix.size());
  ASSERT_EQ(api_->decode(codec_, Bytes(body), decoded.get(), error_.get()),
            CAIRN_OK)
      << error_.message;
  EXPECT_EQ(decoded.contents(), prefix + input)
      << "decode must append, not overwrite";
}

CAIRN_TEST_P(CodecConformance, WorksWithABufferThatGrowsOnlyAsAsked,
             kRuleOutputThroughReserve) {
  const std::string input = RandomBytes(100000, 11) + Compressible(100000);
  OutputBuffer encoded("", /*exact_growth=*/true);
  ASSERT_EQ(api_->encode(codec_, Bytes(input), encoded.get(), error_.get()),
            CAIRN_OK)
      << error_.message;
  OutputBuffer decoded("", /*exact_growth=*/true);
  std::string e = encoded.contents();
  ASSERT_EQ(api_->decode(codec_, Bytes(e), decoded.get(), error_.get()),
            CAIRN_OK)
      << error_.message;
  EXPECT_TRUE(decoded.contents() == input);
}

CAIRN_TEST_P(CodecConformance, BufferThatCannotGrowIsAnErrorNotACrash,
             kRuleOutputThroughReserve) {
  OutputBuffer refused("", false, /*refuse_growth=*/true);
  cairn_status st = api_->encode(codec_, Bytes(RandomBytes(4096, 5)),
                                 refused.get(), error_.get());
  EXPECT_NE(st, CAIRN_OK)
      << "encode must fail when the output buffer cannot grow";
  EXPECT_STRNE(error_.message, "") << "and say why";
}

CAIRN_TEST_P(CodecConformance, CorruptedInputFailsWithCorruptionNeverACrash,
             kRuleCorruptionIsCorruption) {
  const bool transparent = Transparent();
  const std::string original = Compressible(30000) + RandomBytes(30000, 9);
  const std::string encoded = Encode(original);
  ASSERT_FALSE(encoded.empty());
  std::vector<std::pair<std::string, std::string>> corrupted;
  corrupted.emplace_back("truncated to half", encoded.substr(0, encoded.size() / 2));
  corrupted.emplace_back("truncated by one byte",
                         encoded.substr(0, encoded.size() - 1));
  corrupted.emplace_back("foreign bytes", RandomBytes(777, 13));
  corrupted.emplace_back("0xFF bytes", std::string(64, '\xFF'));
  for (size_t at : {size_t{0}, size_t{1}, size_t{4}, encoded.size() / 2,
                    encoded.size() - 1}) {
    std::string flipped = encoded;
    flipped[at] = static_cast<char>(flipped[at] ^ 0x5A);
    corrupted.emplace_back("byte " + std::to_string(at) + " flipped", flipped);
  }
  std::string trailing = encoded + "junk";
  corrupted.emplace_back("trailing junk", trailing);
  int detected = 0;
  for (const auto& [what, input] : corrupted) {
    std::string output, message;
    cairn_status st = Decode(input, &output, &message);
    if (st == CAIRN_OK) {
      // Undetected: acceptable only if the bytes are a valid encoding of
      // something (checked below for codecs that are not transparent).
      continue;
    }
    ++detected;
    EXPECT_EQ(st, CAIRN_E_CORRUPTION)
        << what << ": bad input must fail with Corruption, got "
        << Describe(st, message.c_str());
    EXPECT_FALSE(message.empty()) << what << ": the error must say what is wrong";
  }
  if (transparent) {
    std::cout << "[ CAIRN    ] codec '" << GetParam().plugin->name()
              << "' leaves bytes unchanged: every input is a valid encoding, "
                 "so corruption is undetectable by design; checked only "
                 "that decode never crashes\n";
    return;
  }
  // A codec that transforms its input must at least notice truncation and
  // foreign bytes.
  for (const char* what : {"truncated to half", "truncated by one byte",
                           "foreign bytes"}) {
    for (const auto& [name, input] : corrupted) {
      if (name != what) continue;
      std::string output, message;
      EXPECT_NE(Decode(input, &output, &message), CAIRN_OK)
          << "decode accepted input " << what
          << "; a codec that transforms its input must reject it";
    }
  }
  EXPECT_GT(detected, 0);
}

// Encodings the byte-level rules below sweep: several shapes of input.
std::vector<std::string> SweepInputs() {
  return {std::string(), std::string("x"), RandomBytes(300, 21),
          Compressible(3000), RandomBytes(2000, 22) + Compressible(2000)};
}

// Positions to change in an encoding of `size` bytes: all of a short one;
// the first and last 128 and 256 spread between of a longer one.
std::vector<size_t> SweepPositions(size_t size) {
  std::vector<size_t> at;
  if (size <= 512) {
    for (size_t i = 0; i < size; ++i) at.push_back(i);
    return at;
  }
  for (size_t i = 0; i < 128; ++i) at.push_back(i);
  for (size_t k = 1; k < 256; ++k) at.push_back(128 + (size - 256) * k / 256);
  for (size_t i = size - 128; i < size; ++i) at.push_back(i);
  return at;
}

// Every changed byte of an encoding fails with CAIRN_E_CORRUPTION, or, in a
// bit the format ignores, decodes to the very same bytes; never to others.
CAIRN_TEST_P(CodecConformance, EveryChangedByteFailsWithCorruption,
             kRuleChangedByteFails) {
  if (Transparent()) {
    GTEST_SKIP() << NoteSkip("a codec that transforms its input",
                             "changed-byte and trailing-byte checks");
  }
  int reported = 0;
  size_t tried = 0, same = 0;
  for (const std::string& input : SweepInputs()) {
    const std::string encoded = Encode(input);
    for (size_t at : SweepPositions(encoded.size())) {
      for (uint8_t mask : {uint8_t{0x01}, uint8_t{0x80}}) {
        std::string changed = encoded;
        changed[at] = static_cast<char>(changed[at] ^ mask);
        std::string output, message;
        cairn_status st = Decode(changed, &output, &message);
        ++tried;
        if (st == CAIRN_E_CORRUPTION) continue;
        // A bit the format ignores (padding in an entropy-coded stream):
        // the bytes are still right.
        if (st == CAIRN_OK && output == input) {
          ++same;
          continue;
        }
        if (++reported > 5) continue;
        ADD_FAILURE() << kRuleChangedByteFails << ": in the " << encoded.size()
                      << "-byte encoding of " << input.size() << " bytes, byte "
                      << at << " xor " << int{mask} << " decoded to "
                      << (st == CAIRN_OK ? "CAIRN_OK with " +
                                               std::to_string(output.size()) +
                                               " other bytes"
                                         : Describe(st, message.c_str()))
                      << "; it must fail with CAIRN_E_CORRUPTION";
      }
    }
  }
  EXPECT_EQ(reported, 0) << kRuleChangedByteFails << ": " << reported << " of "
                         << tried << " changed encodings";
  if (same != 0) {
    std::cout << "[ CAIRN    ] codec '" << GetParam().plugin->name()
              << "': " << same << " of " << tried
              << " changed encodings decoded to "
              << "the original bytes (bits the format ignores); allowed\n";
  }
}

CAIRN_TEST_P(CodecConformance, TrailingBytesAfterAnEncodingAreRefused,
             kRuleTrailingBytesRefused) {
  if (Transparent()) {
    GTEST_SKIP() << NoteSkip("a codec that transforms its input",
                             "changed-byte and trailing-byte checks");
  }
  for (const std::string& input : SweepInputs()) {
    const std::string encoded = Encode(input);
    for (const auto& [what, junk] :
         std::vector<std::pair<std::string, std::string>>{
             {"one NUL byte", std::string(1, '\0')},
             {"'junk'", "junk"},
             {"4096 zero bytes", std::string(4096, '\0')},
             {"a second copy of the encoding", encoded}}) {
      std::string output, message;
      cairn_status st = Decode(encoded + junk, &output, &message);
      EXPECT_EQ(st, CAIRN_E_CORRUPTION)
          << kRuleTrailingBytesRefused << ": the " << encoded.size()
          << "-byte encoding of " << input.size() << " bytes followed by "
          << what << " decoded to "
          << (st == CAIRN_OK
                  ? "CAIRN_OK (" + std::to_string(output.size()) + " bytes)"
                  : Describe(st, message.c_str()));
    }
  }
}

// A failed decode leaves the caller's buffer as it was: not only its size,
// but every byte of its spare capacity (a decoder must not write output
// before its integrity check passed). Checked on every way to spoil an
// encoding, into a buffer with spare room and into one that must grow.
CAIRN_TEST_P(CodecConformance, AFailedDecodeLeavesTheOutputBufferUntouched,
             kRuleFailureWritesNothing) {
  const std::string prefix = "PREFIX";
  std::vector<std::pair<std::string, std::string>> spoiled;
  for (const std::string& input : SweepInputs()) {
    const std::string encoded = Encode(input);
    const std::string of = " of the " + std::to_string(encoded.size()) +
                           "-byte encoding of " + std::to_string(input.size()) +
                           " bytes";
    for (size_t at : SweepPositions(encoded.size())) {
      std::string changed = encoded;
      changed[at] = static_cast<char>(changed[at] ^ 0x01);
      spoiled.emplace_back("byte " + std::to_string(at) + of + " changed",
                           changed);
    }
    if (!encoded.empty()) {
      spoiled.emplace_back("the last byte" + of + " cut",
                           encoded.substr(0, encoded.size() - 1));
    }
    spoiled.emplace_back("a byte after the end" + of, encoded + "x");
  }
  int reported = 0;
  for (const auto& [what, bytes] : spoiled) {
    for (size_t spare : {size_t{0}, bytes.size() * 4 + 4096}) {
      CanaryBuffer out(prefix, spare);
      ErrorBuffer error;
      cairn_status st =
          api_->decode(codec_, Bytes(bytes), out.get(), error.get());
      if (st == CAIRN_OK) continue;  // the rules above judge that
      std::string wrong;
      if (out.size() != prefix.size()) {
        wrong = "output->size went from " + std::to_string(prefix.size()) +
                " to " + std::to_string(out.size());
      } else if (out.contents() != prefix) {
        wrong = "the bytes before output->size changed";
      } else if (long at = out.FirstChangedSpareByte(); at >= 0) {
        wrong = "byte " + std::to_string(at) +
                " of the buffer, past output->size, was written";
      }
      if (wrong.empty() || ++reported > 5) continue;
      ADD_FAILURE() << kRuleFailureWritesNothing << ": decode of " << what
                    << " failed (" << Describe(st, error.message) << ") but "
                    << wrong << " (buffer with "
                    << (spare == 0 ? "no spare room" : "spare room") << ")";
    }
  }
  EXPECT_EQ(reported, 0) << kRuleFailureWritesNothing;
}

// Encode and decode write only into space they reserved: the buffer grows
// by exactly what reserve() asks, with an inaccessible page after it. Run in
// a child process, so a write past it fails this rule, not the runner.
CAIRN_TEST_P(CodecConformance, WritesStayWithinTheReservedSpace,
             kRuleWritesWithinReserved) {
  std::vector<std::string> inputs = SweepInputs();
  inputs.push_back(RandomBytes(70000, 23));
  inputs.push_back(std::string(100000, 'z'));
  ChildOutcome child = RunInChild([&]() -> std::string {
    for (const std::string& input : inputs) {
      const std::string of = " of " + std::to_string(input.size()) + " bytes";
      GuardedBuffer encoded;
      ErrorBuffer error;
      cairn_status st =
          api_->encode(codec_, Bytes(input), encoded.get(), error.get());
      if (st != CAIRN_OK)
        return "encode" + of + ": " + Describe(st, error.message);
      const std::string bytes = encoded.contents();
      GuardedBuffer decoded;
      st = api_->decode(codec_, Bytes(bytes), decoded.get(), error.get());
      if (st != CAIRN_OK)
        return "decode" + of + ": " + Describe(st, error.message);
      if (decoded.contents() != input) return "decode" + of + " changed them";
      for (size_t at : {size_t{0}, bytes.size() / 2, bytes.size() - 1}) {
        if (bytes.empty()) break;
        std::string changed = bytes;
        changed[at] = static_cast<char>(changed[at] ^ 0x01);
        GuardedBuffer out;
        api_->decode(codec_, Bytes(changed), out.get(), error.get());
      }
    }
    return "";
  });
  if (!child.ran)
    ADD_FAILURE() << kRuleWritesWithinReserved << ": encode or decode "
                  << "into a buffer grown only as asked, with a guard "
                  << "page after it, crashed: " << child.crash;
  EXPECT_EQ(child.failure, "") << "with a buffer grown only as asked";
}

CAIRN_TEST_P(CodecConformance, OneInstanceServesManyThreads, kRuleManyThreads) {
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 100; ++i) {
        std::string input = RandomBytes(100 + (i * 37) % 3000,
                                        static_cast<uint32_t>(t * 1000 + i)) +
                            Compressible(i * 50);
        OutputBuffer encoded;
        ErrorBuffer e;
        if (api_->encode(codec_, Bytes(input), encoded.get(), e.get()) !=
            CAIRN_OK) {
          ++failures;
          continue;
        }
        OutputBuffer decoded;
        std::string enc = encoded.contents();
        if (api_->decode(codec_, Bytes(enc), decoded.get(), e.get()) !=
                CAIRN_OK ||
            decoded.contents() != input) {
          ++failures;
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0) << "round trips failed under concurrency";
}

// The threading contract (cairn/plugin.h): decode runs beside encode on
// other threads. Decoders open a corpus encoded up front while encoders
// encode new inputs; under ThreadSanitizer (scripts/test.d) this also
// catches a race that does not change the bytes.
CAIRN_TEST_P(CodecConformance, DecodeRunsConcurrentlyWithEncode,
             kRuleManyThreads) {
  constexpr int kCorpus = 16;
  constexpr int kIterations = 120;
  std::vector<std::string> inputs, encoded;
  for (int i = 0; i < kCorpus; ++i) {
    inputs.push_back(RandomBytes(50 + i * 97, static_cast<uint32_t>(7000 + i)) +
                     Compressible(i * 200));
    encoded.push_back(Encode(inputs.back()));
  }
  std::atomic<int> encode_failures{0}, decode_failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      const bool decoder = t % 2 == 0;
      for (int i = 0; i < kIterations; ++i) {
        ErrorBuffer e;
        if (decoder) {
          const int k = (i + t) % kCorpus;
          OutputBuffer out;
          if (api_->decode(codec_, Bytes(encoded[k]), out.get(), e.get()) !=
                  CAIRN_OK ||
              out.contents() != inputs[k]) {
            ++decode_failures;
          }
        } else {
          std::string input =
              RandomBytes(10 + (i * 53) % 4000,
                          static_cast<uint32_t>(t * 10000 + i)) +
              Compressible(i * 31);
          OutputBuffer out;
          if (api_->encode(codec_, Bytes(input), out.get(), e.get()) !=
              CAIRN_OK) {
            ++encode_failures;
            continue;
          }
          OutputBuffer back;
          std::string bytes = out.contents();
          if (api_->decode(codec_, Bytes(bytes), back.get(), e.get()) !=
                  CAIRN_OK ||
              back.contents() != input) {
            ++encode_failures;
          }
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(decode_failures.load(), 0)
      << "decode beside encode returned an error or wrong bytes";
  EXPECT_EQ(encode_failures.load(), 0)
      << "encode beside decode returned an error or bytes that do not decode";
}

GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(CodecConformance);
INSTANTIATE_TEST_SUITE_P(Plugin, CodecConformance,
                         ::testing::ValuesIn(TargetsOfKind(CAIRN_KIND_CODEC)),
                         TargetName);

}  // namespace
}  // namespace cairn::conformance
