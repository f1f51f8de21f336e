// Cipher conformance: round trip; a fresh nonce on every seal; tampered
// bytes, other associated data and another key fail with CAIRN_E_INTEGRITY
// and output nothing; an unknown key id is CAIRN_E_NOT_FOUND; after
// rotation older key ids still open; one instance serves many threads.
//
// A cipher that does not encrypt (the "none" cipher) is run with
// --passthrough-cipher: the suite then checks that seal really is a copy and
// skips what only an AEAD cipher can promise.
#include <cairn/status.h>

#include <atomic>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include <gtest/gtest.h>

#include "target.h"

namespace cairn::conformance {
namespace {

struct Sealed {
  cairn_status code = CAIRN_OK;
  std::string message;
  std::string bytes;
  uint32_t key_id = 0;
};

class CipherConformance : public ::testing::TestWithParam<Target> {
 protected:
  void SetUp() override {
    api_ = GetParam().plugin->cipher();
    ASSERT_NE(api_, nullptr);
    options_ = std::make_unique<OpenOptions>(GetParam());
    cairn_status st = api_->open(options_->get(), &cipher_, error_.get());
    ASSERT_EQ(st, CAIRN_OK) << "open failed: " << Describe(st, error_.message)
                            << (GetParam().options.empty()
                                    ? " (ciphers usually need options, e.g. "
                                      "--option keyring=PATH)"
                                    : "");
  }
  void TearDown() override {
    if (cipher_ != nullptr) api_->close(cipher_);
  }

  bool Passthrough() const { return GetParam().passthrough_cipher; }

  Sealed Seal(const std::string& associated, const std::string& plaintext) {
    Sealed out;
    OutputBuffer buffer;
    ErrorBuffer error;
    out.code = api_->seal(cipher_, Bytes(associated), Bytes(plaintext),
                          buffer.get(), &out.key_id, error.get());
    out.message = error.message;
    out.bytes = buffer.contents();
    return out;
  }
  Sealed MustSeal(const std::string& associated, const std::string& plaintext) {
    Sealed s = Seal(associated, plaintext);
    EXPECT_EQ(s.code, CAIRN_OK) << "seal failed: "
                                << Describe(s.code, s.message.c_str());
    return s;
  }
  // Opens into a buffer that already holds a marker, so a failed open that
  // wrote anything is caught.
  cairn_status Open(uint32_t key_id, const std::string& associated,
                    const std::string& sealed, std::string* plaintext,
                    std::string* message) {
    // The spare room after the marker holds canary bytes: a failed
    // open_sealed must leave them too (kRuleFailureWritesNothing).
    const std::string marker = "MARK";
    CanaryBuffer buffer(marker, sealed.size() + 64);
    ErrorBuffer error;
    cairn_status st = api_->open_sealed(cipher_, key_id, Bytes(associated),
                                        Bytes(sealed), buffer.get(),
                                        error.get());
    *message = error.message;
    std::string all = buffer.contents();
    EXPECT_EQ(all.substr(0, marker.size()), marker)
        << "open_sealed must append, not overwrite";
    *plaintext = all.substr(std::min(marker.size(), all.size()));
    if (st != CAIRN_OK) {
      EXPECT_EQ(*plaintext, "")
          << kRuleFailureWritesNothing << ": a failed open_sealed must output "
          << "nothing (output->size grew by " << plaintext->size() << ")";
      long at = buffer.FirstChangedSpareByte();
      EXPECT_EQ(at, -1) << kRuleFailureWritesNothing
                        << ": a failed open_sealed ("
                        << Describe(st, message->c_str()) << ") wrote byte "
                        << at << " of the buffer, past output->size";
    }
    return st;
  }
  void ExpectIntegrityError(uint32_t key_id, const std::string& associated,
                            const std::string& sealed,
                            const std::string& what) {
    std::string plaintext, message;
    cairn_status st = Open(key_id, associated, sealed, &plaintext, &message);
    EXPECT_EQ(st, CAIRN_E_INTEGRITY)
        << what << " must fail with an integrity error; got "
        << Describe(st, message.c_str());
    if (st != CAIRN_OK) {
      EXPECT_FALSE(message.empty()) << what << ": the error must say why";
    }
  }
  bool SkipAead(std::string* why) {
    if (!Passthrough()) return false;
    *why = NoteSkip("an encrypting cipher (--passthrough-cipher given)",
                    "nonces, tamper, associated-data and wrong-key checks");
    return true;
  }

  const cairn_cipher_api* api_ = nullptr;
  cairn_cipher* cipher_ = nullptr;
  std::unique_ptr<OpenOptions> options_;
  ErrorBuffer error_;
};

CAIRN_TEST_P(CipherConformance, SealThenOpenRoundTrips, kRuleCipherRoundTrip) {
  for (const std::string& plaintext :
       {std::string(), std::string("x"), std::string("order 42 placed"),
        RandomBytes(1u << 20, 1)}) {
    Sealed s = MustSeal("stream|1|OrderPlaced", plaintext);
    std::string opened, message;
    cairn_status st =
        Open(s.key_id, "stream|1|OrderPlaced", s.bytes, &opened, &message);
    ASSERT_EQ(st, CAIRN_OK) << "opening " << plaintext.size()
                            << " sealed bytes failed: "
                            << Describe(st, message.c_str());
    EXPECT_TRUE(opened == plaintext) << "round trip of " << plaintext.size()
                                     << " bytes changed them";
  }
}

CAIRN_TEST_P(CipherConformance, SealHidesThePlaintextUnlessPassthrough,
             kRuleSealHidesPlaintext) {
  const std::string plaintext = "the quick brown fox pays invoice 4711 today";
  Sealed s = MustSeal("ad", plaintext);
  if (Passthrough()) {
    EXPECT_EQ(s.bytes, plaintext)
        << "--passthrough-cipher was given, but seal changed the bytes";
    return;
  }
  EXPECT_EQ(s.bytes.find("invoice 4711"), std::string::npos)
      << "the sealed bytes contain the plaintext";
  EXPECT_GT(s.bytes.size(), plaintext.size())
      << "an AEAD seal carries a nonce and a tag";
}

CAIRN_TEST_P(CipherConformance, EverySealUsesAFreshNonce, kRuleFreshNonce) {
  std::string why;
  if (SkipAead(&why)) GTEST_SKIP() << why;
  std::set<std::string> seen;
  for (int i = 0; i < 200; ++i) {
    Sealed s = MustSeal("ad", "same plaintext");
    EXPECT_TRUE(seen.insert(s.bytes).second)
        << "seal " << i << " repeated an earlier output: nonce reuse";
  }
}

CAIRN_TEST_P(CipherConformance, TamperedBytesFailWithIntegrityError,
             kRuleChangedByteFails) {
  std::string why;
  if (SkipAead(&why)) GTEST_SKIP() << why;
  Sealed s = MustSeal("ad", RandomBytes(1000, 2));
  ASSERT_FALSE(s.bytes.empty());
  for (size_t at : {size_t{0}, size_t{5}, s.bytes.size() / 2,
                    s.bytes.size() - 1}) {
    for (uint8_t bit : {uint8_t{0x01}, uint8_t{0x80}}) {
      std::string tampered = s.bytes;
      tampered[at] = static_cast<char>(tampered[at] ^ bit);
      ExpectIntegrityError(s.key_id, "ad", tampered,
                           "flipping bit " + std::to_string(bit) +
                               " of byte " + std::to_string(at));
    }
  }
  ExpectIntegrityError(s.key_id, "ad", s.bytes.substr(0, s.bytes.size() - 1),
                       "dropping the last byte");
  ExpectIntegrityError(s.key_id, "ad", s.bytes + "x", "adding a byte");
  ExpectIntegrityError(s.key_id, "ad", "", "empty sealed bytes");
  ExpectIntegrityError(s.key_id, "ad", s.bytes.substr(0, 8),
                       "bytes shorter than a nonce and tag");
}

// Every byte of a sealed value, changed, fails to open; so do bytes after
// it. (Rules shared with codecs: kRuleChangedByteFails,
// kRuleTrailingBytesRefused.)
CAIRN_TEST_P(CipherConformance,
             EveryChangedOrTrailingByteFailsWithIntegrityError,
             kRuleChangedByteFails) {
  std::string why;
  if (SkipAead(&why)) GTEST_SKIP() << why;
  int reported = 0;
  for (const std::string& plaintext :
       {std::string(), std::string("x"), RandomBytes(200, 31)}) {
    Sealed s = MustSeal("ad", plaintext);
    for (size_t at = 0; at < s.bytes.size(); ++at) {
      std::string changed = s.bytes;
      changed[at] = static_cast<char>(changed[at] ^ 0x01);
      std::string opened, message;
      cairn_status st = Open(s.key_id, "ad", changed, &opened, &message);
      if (st == CAIRN_E_INTEGRITY || ++reported > 5) continue;
      ADD_FAILURE() << kRuleChangedByteFails << ": byte " << at << " of "
                    << s.bytes.size() << " sealed bytes changed opened with "
                    << Describe(st, message.c_str())
                    << "; it must fail with CAIRN_E_INTEGRITY";
    }
    for (const std::string& junk :
         {std::string(1, '\0'), std::string("junk"), s.bytes}) {
      std::string opened, message;
      cairn_status st = Open(s.key_id, "ad", s.bytes + junk, &opened, &message);
      EXPECT_EQ(st, CAIRN_E_INTEGRITY)
          << kRuleTrailingBytesRefused << ": " << s.bytes.size()
          << " sealed bytes followed by " << junk.size() << " more opened with "
          << Describe(st, message.c_str());
    }
  }
  EXPECT_EQ(reported, 0) << kRuleChangedByteFails;
}

// seal and open_sealed write only into space they reserved (see the codec
// suite's WritesStayWithinTheReservedSpace).
CAIRN_TEST_P(CipherConformance, WritesStayWithinTheReservedSpace,
             kRuleWritesWithinReserved) {
  ChildOutcome child = RunInChild([&]() -> std::string {
    for (const std::string& plaintext :
         {std::string(), std::string("x"), RandomBytes(1000, 32),
          RandomBytes(70000, 33)}) {
      const std::string of =
          " of " + std::to_string(plaintext.size()) + " bytes";
      GuardedBuffer sealed;
      ErrorBuffer error;
      uint32_t key = 0;
      cairn_status st = api_->seal(cipher_, Bytes("ad"), Bytes(plaintext),
                                   sealed.get(), &key, error.get());
      if (st != CAIRN_OK)
        return "seal" + of + ": " + Describe(st, error.message);
      const std::string bytes = sealed.contents();
      GuardedBuffer opened;
      st = api_->open_sealed(cipher_, key, Bytes("ad"), Bytes(bytes),
                             opened.get(), error.get());
      if (st != CAIRN_OK) {
        return "open_sealed" + of + ": " + Describe(st, error.message);
      }
      if (opened.contents() != plaintext)
        return "open_sealed" + of + " changed them";
      if (bytes.empty()) continue;
      std::string changed = bytes;
      changed[bytes.size() / 2] ^= 0x01;
      GuardedBuffer out;
      api_->open_sealed(cipher_, key, Bytes("ad"), Bytes(changed), out.get(),
                        error.get());
    }
    return "";
  });
  if (!child.ran)
    ADD_FAILURE() << kRuleWritesWithinReserved << ": seal or "
                  << "open_sealed into a buffer grown only as asked, "
                  << "with a guard page after it, crashed: " << child.crash;
  EXPECT_EQ(child.failure, "") << "with a buffer grown only as asked";
}

CAIRN_TEST_P(CipherConformance, OtherAssociatedDataFailsWithIntegrityError,
             kRuleAssociatedDataAuthenticated) {
  std::string why;
  if (SkipAead(&why)) GTEST_SKIP() << why;
  Sealed s = MustSeal("orders-1|7|OrderPlaced", "payload");
  ExpectIntegrityError(s.key_id, "orders-1|8|OrderPlaced", s.bytes,
                       "opening with another revision in the associated data");
  ExpectIntegrityError(s.key_id, "", s.bytes,
                       "opening with empty associated data");
  Sealed empty_ad = MustSeal("", "payload");
  ExpectIntegrityError(empty_ad.key_id, "x", empty_ad.bytes,
                       "opening with associated data where none was sealed");
}

CAIRN_TEST_P(CipherConformance, UnknownKeyIdIsNotFound,
             kRuleKeyIdsNameTheirKeys) {
  Sealed s = MustSeal("ad", "payload");
  std::string opened, message;
  uint32_t unknown = s.key_id ^ 0x7FFF0000u;
  cairn_status st = Open(unknown, "ad", s.bytes, &opened, &message);
  EXPECT_EQ(st, CAIRN_E_NOT_FOUND)
      << "key id " << unknown << " was never issued; got "
      << Describe(st, message.c_str());
  EXPECT_NE(message.find(std::to_string(unknown)), std::string::npos)
      << "the message should name the unknown key id: " << message;
}

CAIRN_TEST_P(CipherConformance, OlderKeysStillOpenAfterRotation,
             kRuleKeyIdsNameTheirKeys) {
  if (!GetParam().Has(CAIRN_CAP_KEY_ROTATION)) {
    GTEST_SKIP() << NoteSkip("CAIRN_CAP_KEY_ROTATION", "key rotation");
  }
  Sealed before = MustSeal("ad", "sealed before rotation");
  uint32_t new_key = 0;
  cairn_status st = api_->rotate(cipher_, &new_key, error_.get());
  ASSERT_EQ(st, CAIRN_OK) << Describe(st, error_.message);
  EXPECT_NE(new_key, before.key_id) << "rotate must make a new key active";
  Sealed after = MustSeal("ad", "sealed after rotation");
  EXPECT_EQ(after.key_id, new_key) << "seal must use the rotated-in key";
  std::string opened, message;
  st = Open(before.key_id, "ad", before.bytes, &opened, &message);
  EXPECT_EQ(st, CAIRN_OK) << "the older key must still open: "
                          << Describe(st, message.c_str());
  EXPECT_EQ(opened, "sealed before rotation");
  st = Open(after.key_id, "ad", after.bytes, &opened, &message);
  EXPECT_EQ(st, CAIRN_OK) << Describe(st, message.c_str());
  EXPECT_EQ(opened, "sealed after rotation");
}

CAIRN_TEST_P(CipherConformance, AnotherKeyFailsWithIntegrityError,
             kRuleKeyIdsNameTheirKeys) {
  if (!GetParam().Has(CAIRN_CAP_KEY_ROTATION)) {
    GTEST_SKIP() << NoteSkip("CAIRN_CAP_KEY_ROTATION",
                             "wrong key (needs a second key from rotate)");
  }
  Sealed old_key = MustSeal("ad", "payload");
  uint32_t new_key = 0;
  ASSERT_EQ(api_->rotate(cipher_, &new_key, error_.get()), CAIRN_OK)
      << error_.message;
  Sealed new_seal = MustSeal("ad", "payload");
  ExpectIntegrityError(old_key.key_id, "ad", new_seal.bytes,
                       "opening bytes sealed under the new key with the old");
  ExpectIntegrityError(new_key, "ad", old_key.bytes,
                       "opening bytes sealed under the old key with the new");
}

CAIRN_TEST_P(CipherConformance, OneInstanceServesManyThreads,
             kRuleManyThreads) {
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) {
        std::string ad = "s" + std::to_string(t) + "|" + std::to_string(i);
        std::string plaintext = RandomBytes(10 + i, t * 1000 + i);
        OutputBuffer sealed;
        ErrorBuffer e;
        uint32_t key = 0;
        if (api_->seal(cipher_, Bytes(ad), Bytes(plaintext), sealed.get(),
                       &key, e.get()) != CAIRN_OK) {
          ++failures;
          continue;
        }
        OutputBuffer opened;
        std::string bytes = sealed.contents();
        if (api_->open_sealed(cipher_, key, Bytes(ad), Bytes(bytes),
                              opened.get(), e.get()) != CAIRN_OK ||
            opened.contents() != plaintext) {
          ++failures;
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0) << "round trips failed under concurrency";
}

// The threading contract (cairn/plugin.h): open_sealed runs beside seal
// and, for a cipher with CAIRN_CAP_KEY_ROTATION, rotate. A seal beside a
// rotate uses the old or the new key and reports which; every key ever
// active keeps opening. Openers read a corpus sealed up front and what the
// sealers sealed meanwhile; under ThreadSanitizer (scripts/test.d) this also
// catches a race that does not change the bytes.
CAIRN_TEST_P(CipherConformance, OpenRunsConcurrentlyWithSealAndRotate,
             kRuleManyThreads) {
  constexpr int kCorpus = 16;
  constexpr int kIterations = 150;
  constexpr int kRotations = 6;
  const bool rotates = GetParam().Has(CAIRN_CAP_KEY_ROTATION);
  struct Item {
    std::string ad, plaintext;
    Sealed sealed;
  };
  std::vector<Item> corpus;
  for (int i = 0; i < kCorpus; ++i) {
    Item item{"corpus|" + std::to_string(i),
              RandomBytes(20 + i * 61, static_cast<uint32_t>(9000 + i)),
              {}};
    item.sealed = MustSeal(item.ad, item.plaintext);
    corpus.push_back(std::move(item));
  }
  std::mutex mu;
  std::vector<Item> fresh;  // sealed during the run, guarded by mu
  std::set<uint32_t> keys = {corpus[0].sealed.key_id};  // guarded by mu
  std::atomic<int> seal_failures{0}, open_failures{0}, rotate_failures{0};
  std::string first_failure;
  auto fail = [&](std::atomic<int>& counter, const std::string& what) {
    ++counter;
    std::lock_guard<std::mutex> lock(mu);
    if (first_failure.empty()) first_failure = what;
  };
  auto open = [&](const Item& item) {
    OutputBuffer out;
    ErrorBuffer e;
    cairn_status st =
        api_->open_sealed(cipher_, item.sealed.key_id, Bytes(item.ad),
                          Bytes(item.sealed.bytes), out.get(), e.get());
    if (st != CAIRN_OK || out.contents() != item.plaintext) {
      fail(open_failures, item.ad + " (key " +
                              std::to_string(item.sealed.key_id) +
                              "): " + Describe(st, e.message));
    }
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      const bool opener = t % 2 == 0;
      for (int i = 0; i < kIterations; ++i) {
        if (opener) {
          open(corpus[(i + t) % kCorpus]);
          Item latest;
          bool have = false;
          {
            std::lock_guard<std::mutex> lock(mu);
            if (!fresh.empty()) {
              latest = fresh[static_cast<size_t>(i) % fresh.size()];
              have = true;
            }
          }
          if (have) open(latest);
          continue;
        }
        Item item{"fresh|" + std::to_string(t) + "|" + std::to_string(i),
                  RandomBytes(10 + (i * 29) % 2000,
                              static_cast<uint32_t>(t * 10000 + i)),
                  {}};
        OutputBuffer out;
        ErrorBuffer e;
        cairn_status st =
            api_->seal(cipher_, Bytes(item.ad), Bytes(item.plaintext),
                       out.get(), &item.sealed.key_id, e.get());
        if (st != CAIRN_OK) {
          fail(seal_failures, "seal: " + Describe(st, e.message));
          continue;
        }
        item.sealed.bytes = out.contents();
        std::lock_guard<std::mutex> lock(mu);
        fresh.push_back(std::move(item));
      }
    });
  }
  if (rotates) {
    threads.emplace_back([&] {
      for (int r = 0; r < kRotations; ++r) {
        uint32_t key = 0;
        ErrorBuffer e;
        cairn_status st = api_->rotate(cipher_, &key, e.get());
        if (st != CAIRN_OK) {
          fail(rotate_failures, "rotate: " + Describe(st, e.message));
          return;
        }
        std::lock_guard<std::mutex> lock(mu);
        keys.insert(key);
        std::this_thread::yield();
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(seal_failures.load(), 0) << first_failure;
  EXPECT_EQ(open_failures.load(), 0)
      << "open_sealed beside seal" << (rotates ? " and rotate" : "")
      << " failed: " << first_failure;
  EXPECT_EQ(rotate_failures.load(), 0) << first_failure;
  if (rotates) {
    EXPECT_EQ(keys.size(), size_t{kRotations} + 1)
        << "every rotate must make a new key active";
  }
  // Everything sealed during the run opens afterwards, under whichever key
  // its seal reported, and that key is one rotate made active.
  for (const Item& item : fresh) {
    open(item);
    EXPECT_EQ(keys.count(item.sealed.key_id), 1u)
        << item.ad << " was sealed under key " << item.sealed.key_id
        << ", which was never active";
  }
  EXPECT_EQ(open_failures.load(), 0) << first_failure;
}

GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(CipherConformance);
INSTANTIATE_TEST_SUITE_P(Plugin, CipherConformance,
                         ::testing::ValuesIn(TargetsOfKind(CAIRN_KIND_CIPHER)),
                         TargetName);

}  // namespace
}  // namespace cairn::conformance
