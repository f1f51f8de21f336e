// The zstd codec through the C ABI table a host calls.
#include <cairn/plugin.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <zdict.h>
#include <zstd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "zstd_codec.h"

extern "C" cairn_status cairn_builtin_codec_zstd(
    const cairn_host_offer*, const cairn_plugin_descriptor**, cairn_error*);

namespace cairn::zstdcodec {
namespace {

using ::testing::HasSubstr;

struct Buffer {
  std::string bytes;
  cairn_buffer raw{nullptr, 0, 0, &Grow, this};
  static int Grow(cairn_buffer* buffer, size_t additional) {
    Buffer* self = static_cast<Buffer*>(buffer->owner);
    self->bytes.resize(std::max(buffer->size + additional,
                                2 * self->bytes.size() + 16));
    buffer->data = reinterpret_cast<uint8_t*>(self->bytes.data());
    buffer->capacity = self->bytes.size();
    return 0;
  }
  std::string str() const { return bytes.substr(0, raw.size); }
};

struct Result {
  cairn_status status;
  std::string bytes;
  std::string message;
};

// The codec's table, asked for once (a host calls the entry once per load).
const cairn_codec_api* Api() {
  static const cairn_codec_api* const api = [] {
    cairn_host_offer offer{sizeof(cairn_host_offer),
                           CAIRN_ABI_MAJOR,
                           CAIRN_ABI_MAJOR,
                           0,
                           0,
                           nullptr,
                           nullptr};
    const cairn_plugin_descriptor* descriptor = nullptr;
    char message[256] = "";
    cairn_error error{message, sizeof(message)};
    if (cairn_builtin_codec_zstd(&offer, &descriptor, &error) != CAIRN_OK) {
      return static_cast<const cairn_codec_api*>(nullptr);
    }
    return static_cast<const cairn_codec_api*>(descriptor->table);
  }();
  return api;
}

class Codec {
 public:
  static std::unique_ptr<Codec> Open(
      const std::vector<std::pair<std::string, std::string>>& options,
      cairn_status* status_out = nullptr, std::string* message_out = nullptr) {
    std::vector<cairn_option> items;
    for (const auto& [key, value] : options) {
      items.push_back(cairn_option{key.c_str(), value.c_str()});
    }
    cairn_options list{items.data(), items.size()};
    char message[512] = "";
    cairn_error error{message, sizeof(message)};
    cairn_codec* codec = nullptr;
    cairn_status status = Api()->open(&list, &codec, &error);
    if (status_out != nullptr) *status_out = status;
    if (message_out != nullptr) *message_out = message;
    if (status != CAIRN_OK) return nullptr;
    return std::unique_ptr<Codec>(new Codec(codec));
  }
  ~Codec() { Api()->close(codec_); }

  Result Encode(const std::string& input) {
    return Run(Api()->encode, input);
  }
  Result Decode(const std::string& input) {
    return Run(Api()->decode, input);
  }

 private:
  explicit Codec(cairn_codec* codec) : codec_(codec) {}
  template <typename Fn>
  Result Run(Fn fn, const std::string& input) {
    Buffer out;
    char message[512] = "";
    cairn_error error{message, sizeof(message)};
    cairn_bytes bytes{reinterpret_cast<const uint8_t*>(input.data()),
                      input.size()};
    cairn_status status = fn(codec_, bytes, &out.raw, &error);
    return Result{status, out.str(), message};
  }
  cairn_codec* codec_;
};

// A JSON-like event as an order system would store it.
std::string JsonEvent(int i, size_t pad = 0) {
  std::string event =
      "{\"orderId\":\"ord-" + std::to_string(100000 + i) +
      "\",\"customerId\":\"cust-" + std::to_string(i % 97) +
      "\",\"status\":\"placed\",\"currency\":\"EUR\",\"lines\":[{\"sku\":"
      "\"SKU-" + std::to_string(i % 13) + "\",\"quantity\":" +
      std::to_string(i % 5 + 1) + ",\"unitPrice\":" +
      std::to_string(i % 300) + ".95}],\"placedAt\":\"2026-11-25T19:" +
      std::to_string(10 + i % 50) + ":00Z\"}";
  event.append(pad, ' ');
  return event;
}

class TempDir {
 public:
  TempDir() {
    std::string pattern = "/tmp/cairn-zstd-test-XXXXXX";
    path_ = ::mkdtemp(pattern.data());
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// Trains a small dictionary on JSON events offset by `seed` and writes it.
std::string TrainDictionary(const std::string& path, int seed) {
  std::string samples;
  std::vector<size_t> sizes;
  for (int i = 0; i < 2000; ++i) {
    std::string event = JsonEvent(seed * 1000 + i);
    samples += event;
    sizes.push_back(event.size());
  }
  std::string dictionary(8192, '\0');
  size_t size = ZDICT_trainFromBuffer(dictionary.data(), dictionary.size(),
                                      samples.data(), sizes.data(),
                                      static_cast<unsigned>(sizes.size()));
  EXPECT_FALSE(ZDICT_isError(size)) << ZDICT_getErrorName(size);
  dictionary.resize(ZDICT_isError(size) ? 0 : size);
  std::ofstream(path, std::ios::binary) << dictionary;
  return dictionary;
}

TEST(ZstdCodec, DescriptorListsItsOptions) {
  cairn_host_offer offer{sizeof(cairn_host_offer),
                         CAIRN_ABI_MAJOR,
                         CAIRN_ABI_MAJOR,
                         0,
                         0,
                         nullptr,
                         nullptr};
  const cairn_plugin_descriptor* descriptor = nullptr;
  ASSERT_EQ(cairn_builtin_codec_zstd(&offer, &descriptor, nullptr), CAIRN_OK);
  EXPECT_STREQ(descriptor->name, "zstd");
  std::vector<std::string> keys;
  for (const cairn_option_desc* const* option = descriptor->options;
       *option != nullptr; ++option) {
    keys.push_back((*option)->key);
  }
  EXPECT_EQ(keys, (std::vector<std::string>{"level", "dictionary",
                                            "max-decoded-size"}));
}

TEST(ZstdCodec, RoundTripsAtSeveralLevels) {
  for (const char* level : {"-5", "1", "3", "19"}) {
    auto codec = Codec::Open({{"level", level}});
    ASSERT_NE(codec, nullptr) << level;
    for (size_t pad : {0, 1, 200, 4000, 200000}) {
      std::string event = pad == 200000 ? std::string() : JsonEvent(7, pad);
      Result encoded = codec->Encode(event);
      ASSERT_EQ(encoded.status, CAIRN_OK) << encoded.message;
      ASSERT_GE(encoded.bytes.size(), kHeaderBytes);
      EXPECT_EQ(encoded.bytes.substr(0, 4), std::string("CZ\x01\x00", 4));
      Result decoded = codec->Decode(encoded.bytes);
      ASSERT_EQ(decoded.status, CAIRN_OK) << decoded.message;
      EXPECT_EQ(decoded.bytes, event) << "level " << level << " pad " << pad;
    }
  }
}

TEST(ZstdCodec, CompressesJsonEvents) {
  auto codec = Codec::Open({{"level", "1"}});
  std::string event = JsonEvent(1, 0) + JsonEvent(2, 0) + JsonEvent(3, 0);
  Result encoded = codec->Encode(event);
  ASSERT_EQ(encoded.status, CAIRN_OK);
  EXPECT_LT(encoded.bytes.size(), event.size());
}

TEST(ZstdCodec, RefusesABadLevel) {
  for (const char* level : {"fast", "", "-", "1.5", "23", "-200000", "9999999"}) {
    cairn_status status;
    std::string message;
    EXPECT_EQ(Codec::Open({{"level", level}}, &status, &message), nullptr)
        << level;
    EXPECT_EQ(status, CAIRN_E_INVALID_ARGUMENT);
    EXPECT_THAT(message, HasSubstr("option 'level'"));
  }
}

TEST(ZstdCodec, RefusesABadMaxDecodedSize) {
  cairn_status status;
  std::string message;
  EXPECT_EQ(Codec::Open({{"max-decoded-size", "lots"}}, &status, &message),
            nullptr);
  EXPECT_THAT(message, HasSubstr("max-decoded-size"));
  EXPECT_EQ(Codec::Open({{"max-decoded-size", "0"}}, &status, &message),
            nullptr);
  EXPECT_THAT(message, HasSubstr("max-decoded-size"));
}

TEST(ZstdCodec, RefusesForeignInputNamingWhatIsWrong) {
  auto codec = Codec::Open({});
  struct Case {
    std::string input;
    std::string message;
  };
  Result good = codec->Encode(JsonEvent(1));
  std::string other_version = good.bytes;
  other_version[2] = 2;
  std::string flags = good.bytes;
  flags[3] = 1;
  std::string plain_zstd(ZSTD_compressBound(10), '\0');
  plain_zstd.resize(ZSTD_compress(plain_zstd.data(), plain_zstd.size(),
                                  "0123456789", 10, 1));
  std::string not_a_frame = good.bytes.substr(0, kHeaderBytes) + "garbage!";
  for (const Case& c : std::vector<Case>{
           {"", "shorter than the zstd codec's 8-byte header"},
           {"CZ\x01", "shorter than"},
           {JsonEvent(1), "does not start with the zstd codec's magic"},
           {plain_zstd, "does not start with the zstd codec's magic"},
           {other_version, "framing version 2 is unknown"},
           {flags, "header flags 1"},
           {not_a_frame, "not a zstd frame"}}) {
    Result decoded = codec->Decode(c.input);
    EXPECT_EQ(decoded.status, CAIRN_E_CORRUPTION) << c.message;
    EXPECT_THAT(decoded.message, HasSubstr(c.message));
    EXPECT_EQ(decoded.bytes, "");
  }
}

TEST(ZstdCodec, DamagedFramesFailCleanlyAtEveryByteAndLength) {
  auto codec = Codec::Open({});
  std::string event = JsonEvent(3, 300);
  Result encoded = codec->Encode(event);
  ASSERT_EQ(encoded.status, CAIRN_OK);
  for (size_t length = 0; length < encoded.bytes.size(); ++length) {
    Result decoded = codec->Decode(encoded.bytes.substr(0, length));
    EXPECT_EQ(decoded.status, CAIRN_E_CORRUPTION) << "length " << length;
  }
  // The frame carries a checksum: every flipped byte fails, none decodes
  // to other bytes, and a failed decode outputs nothing.
  for (size_t i = 0; i < encoded.bytes.size(); ++i) {
    std::string damaged = encoded.bytes;
    damaged[i] = static_cast<char>(damaged[i] ^ 0x5a);
    Result decoded = codec->Decode(damaged);
    EXPECT_EQ(decoded.status, CAIRN_E_CORRUPTION) << "byte " << i;
    EXPECT_EQ(decoded.bytes, "") << "byte " << i;
  }
}

TEST(ZstdCodec, RefusesAnOversizedDeclaredSizeWithoutAllocating) {
  auto big = Codec::Open({});
  Result encoded = big->Encode(std::string(1 << 20, 'a'));
  ASSERT_EQ(encoded.status, CAIRN_OK);
  auto small = Codec::Open({{"max-decoded-size", "64KiB"}});
  Result decoded = small->Decode(encoded.bytes);
  EXPECT_EQ(decoded.status, CAIRN_E_CORRUPTION);
  EXPECT_THAT(decoded.message, HasSubstr("declares 1048576 decoded bytes"));
  EXPECT_THAT(decoded.message, HasSubstr("refusing to allocate"));
  Result refused = small->Encode(std::string((64 << 10) + 1, 'a'));
  EXPECT_EQ(refused.status, CAIRN_E_INVALID_ARGUMENT);
  EXPECT_THAT(refused.message, HasSubstr("exceeds max-decoded-size"));
}

TEST(ZstdCodec, DictionaryRoundTripAndSmallerOutput) {
  TempDir dir;
  std::string path = dir.File("orders.dict");
  std::string dictionary = TrainDictionary(path, 1);
  ASSERT_FALSE(dictionary.empty());
  auto plain = Codec::Open({{"level", "3"}});
  auto with_dict = Codec::Open({{"level", "3"}, {"dictionary", path}});
  ASSERT_NE(with_dict, nullptr);
  size_t plain_total = 0;
  size_t dict_total = 0;
  for (int i = 0; i < 50; ++i) {
    std::string event = JsonEvent(5000 + i);
    Result a = plain->Encode(event);
    Result b = with_dict->Encode(event);
    ASSERT_EQ(b.status, CAIRN_OK) << b.message;
    plain_total += a.bytes.size();
    dict_total += b.bytes.size();
    EXPECT_NE(b.bytes.substr(4, 4), std::string(4, '\0'));  // dictionary id
    Result decoded = with_dict->Decode(b.bytes);
    ASSERT_EQ(decoded.status, CAIRN_OK) << decoded.message;
    EXPECT_EQ(decoded.bytes, event);
    // Events written before the dictionary still decode.
    EXPECT_EQ(with_dict->Decode(a.bytes).bytes, event);
  }
  EXPECT_LT(dict_total * 2, plain_total) << "the dictionary should pay off "
                                            "on small similar events";
  // Without the dictionary configured: a clear error naming its id.
  Result missing = plain->Decode(with_dict->Encode(JsonEvent(1)).bytes);
  EXPECT_EQ(missing.status, CAIRN_E_CORRUPTION);
  EXPECT_THAT(missing.message, HasSubstr("dictionary id " +
                                         std::to_string(ZSTD_getDictID_fromDict(
                                             dictionary.data(),
                                             dictionary.size()))));
  EXPECT_THAT(missing.message, HasSubstr("option 'dictionary'"));
}

TEST(ZstdCodec, ANewDictionaryStillReadsEventsOfTheOldOne) {
  TempDir dir;
  std::string old_path = dir.File("old.dict");
  std::string new_path = dir.File("new.dict");
  TrainDictionary(old_path, 1);
  TrainDictionary(new_path, 2);
  auto old_codec = Codec::Open({{"dictionary", old_path}});
  ASSERT_NE(old_codec, nullptr);
  std::string event = JsonEvent(42);
  Result old_encoded = old_codec->Encode(event);
  auto new_codec =
      Codec::Open({{"dictionary", new_path + ", " + old_path}});
  ASSERT_NE(new_codec, nullptr);
  Result new_encoded = new_codec->Encode(event);
  EXPECT_NE(old_encoded.bytes.substr(4, 4), new_encoded.bytes.substr(4, 4));
  EXPECT_EQ(new_codec->Decode(old_encoded.bytes).bytes, event);
  EXPECT_EQ(new_codec->Decode(new_encoded.bytes).bytes, event);
  EXPECT_EQ(old_codec->Decode(new_encoded.bytes).status, CAIRN_E_CORRUPTION);
}

TEST(ZstdCodec, RefusesBadDictionaryFiles) {
  TempDir dir;
  std::string raw = dir.File("raw.dict");
  std::ofstream(raw) << "just some text, not a trained dictionary";
  cairn_status status;
  std::string message;
  EXPECT_EQ(Codec::Open({{"dictionary", raw}}, &status, &message), nullptr);
  EXPECT_EQ(status, CAIRN_E_INVALID_ARGUMENT);
  EXPECT_THAT(message, HasSubstr(raw + " is not a zstd dictionary"));
  EXPECT_EQ(Codec::Open({{"dictionary", dir.File("absent")}}, &status,
                        &message),
            nullptr);
  EXPECT_THAT(message, HasSubstr(dir.File("absent") + " cannot be read"));
  std::string good = dir.File("good.dict");
  TrainDictionary(good, 3);
  EXPECT_EQ(Codec::Open({{"dictionary", good + "," + good}}, &status,
                        &message),
            nullptr);
  EXPECT_THAT(message, HasSubstr("have the same id"));
  EXPECT_EQ(Codec::Open({{"dictionary", good + ",,"}}, &status, &message),
            nullptr);
  EXPECT_THAT(message, HasSubstr("empty path"));
}

std::vector<std::string> logged;
void RecordLog(void*, cairn_log_level, const char* plugin, const char* message) {
  logged.push_back(std::string(plugin) + ": " + message);
}

// Binds the plugin's logger to RecordLog, as a host's load does, and
// unbinds it again when destroyed.
class LogCapture {
 public:
  LogCapture() {
    (void)Api();  // its first call binds the logger to no sink
    Bind(&RecordLog);
    logged.clear();
  }
  ~LogCapture() { Bind(nullptr); }

 private:
  static void Bind(void (*log)(void*, cairn_log_level, const char*,
                               const char*)) {
    cairn_host_offer offer{sizeof(cairn_host_offer),
                           CAIRN_ABI_MAJOR,
                           CAIRN_ABI_MAJOR,
                           0,
                           0,
                           log,
                           nullptr};
    const cairn_plugin_descriptor* descriptor = nullptr;
    cairn_builtin_codec_zstd(&offer, &descriptor, nullptr);
  }
};

TEST(ZstdCodec, SmallEventsWithoutADictionaryLogTheDictionaryHintOnce) {
  LogCapture capture;
  auto codec = Codec::Open({{"level", "1"}});
  ASSERT_NE(codec, nullptr);
  EXPECT_TRUE(logged.empty());
  ASSERT_EQ(codec->Encode(std::string(5000, 'x')).status, CAIRN_OK);
  EXPECT_TRUE(logged.empty());  // large events: no hint
  ASSERT_EQ(codec->Encode(JsonEvent(1)).status, CAIRN_OK);
  ASSERT_EQ(codec->Encode(JsonEvent(2)).status, CAIRN_OK);
  ASSERT_EQ(logged.size(), 1u);
  EXPECT_THAT(logged[0], HasSubstr("zstd: codec 'zstd': compressing events of"));
  EXPECT_THAT(logged[0], HasSubstr("cairn train-dict"));
}

TEST(ZstdCodec, SmallEventsWithADictionaryLogNoHint) {
  TempDir dir;
  std::string path = dir.File("dict");
  TrainDictionary(path, 1);
  LogCapture capture;
  auto codec = Codec::Open({{"level", "1"}, {"dictionary", path}});
  ASSERT_NE(codec, nullptr);
  ASSERT_EQ(codec->Encode(JsonEvent(1)).status, CAIRN_OK);
  EXPECT_TRUE(logged.empty());
}

TEST(ZstdCodec, EncodesAndDecodesFromManyThreadsAndInstances) {
  auto fast = Codec::Open({{"level", "1"}});
  auto strong = Codec::Open({{"level", "9"}});
  std::vector<std::thread> threads;
  std::vector<int> failures(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 300; ++i) {
        Codec& codec = (i + t) % 2 == 0 ? *fast : *strong;
        std::string event = JsonEvent(t * 1000 + i, i);
        Result encoded = codec.Encode(event);
        Result decoded = (i % 3 == 0 ? *fast : *strong).Decode(encoded.bytes);
        if (decoded.status != CAIRN_OK || decoded.bytes != event) ++failures[t];
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (int f : failures) EXPECT_EQ(f, 0);
}

TEST(ZstdCodec, ManyInstancesOnOneThreadEachKeepTheirOwnSettings) {
  // More instances than the per-thread cache holds, opened and closed in
  // turn: every one must compress with its own dictionary and level.
  TempDir dir;
  std::string path = dir.File("d.dict");
  TrainDictionary(path, 4);
  for (int round = 0; round < 10; ++round) {
    auto codec = round % 2 == 0 ? Codec::Open({{"dictionary", path}})
                                : Codec::Open({{"level", "1"}});
    ASSERT_NE(codec, nullptr);
    Result encoded = codec->Encode(JsonEvent(round));
    bool has_dictionary = encoded.bytes.substr(4, 4) != std::string(4, '\0');
    EXPECT_EQ(has_dictionary, round % 2 == 0) << "round " << round;
    EXPECT_EQ(codec->Decode(encoded.bytes).bytes, JsonEvent(round));
  }
}

}  // namespace
}  // namespace cairn::zstdcodec
