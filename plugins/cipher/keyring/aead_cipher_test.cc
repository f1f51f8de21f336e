// Both AEAD cipher plugins through the C ABI table a host calls.
#include <cairn/plugin.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "keyring.h"
#include "seal_usage.h"
#include "test_files.h"

extern "C" cairn_status cairn_builtin_cipher_aes_gcm(
    const cairn_host_offer*, const cairn_plugin_descriptor**, cairn_error*);
extern "C" cairn_status cairn_builtin_cipher_chacha20_poly1305(
    const cairn_host_offer*, const cairn_plugin_descriptor**, cairn_error*);

namespace cairn::keyring {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using testing::HexKey;
using testing::ModeOf;
using testing::ReadFile;
using testing::TempDir;
using testing::WriteFile;

// A cairn_buffer over a std::string.
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

cairn_bytes B(const std::string& s) {
  return cairn_bytes{reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

struct Sealed {
  cairn_status status;
  std::string bytes;
  uint32_t key_id;
  std::string message;
};

// One opened cipher instance of a plugin.
class CipherInstance {
 public:
  CipherInstance(const cairn_cipher_api* api, cairn_cipher* cipher)
      : api_(api), cipher_(cipher) {}
  ~CipherInstance() { api_->close(cipher_); }

  Sealed Seal(const std::string& associated, const std::string& plaintext) {
    Buffer out;
    char message[512] = "";
    cairn_error error{message, sizeof(message)};
    uint32_t key_id = 0;
    cairn_status status = api_->seal(cipher_, B(associated), B(plaintext),
                                     &out.raw, &key_id, &error);
    return Sealed{status, out.str(), key_id, message};
  }
  Sealed Open(uint32_t key_id, const std::string& associated,
              const std::string& sealed) {
    Buffer out;
    char message[512] = "";
    cairn_error error{message, sizeof(message)};
    cairn_status status = api_->open_sealed(cipher_, key_id, B(associated),
                                            B(sealed), &out.raw, &error);
    return Sealed{status, out.str(), key_id, message};
  }
  cairn_status Rotate(uint32_t* key_id, std::string* message_out) {
    char message[512] = "";
    cairn_error error{message, sizeof(message)};
    cairn_status status = api_->rotate(cipher_, key_id, &error);
    *message_out = message;
    return status;
  }

 private:
  const cairn_cipher_api* api_;
  cairn_cipher* cipher_;
};

struct Plugin {
  const char* name;
  cairn_plugin_entry_fn entry;
};

const cairn_plugin_descriptor* Describe(cairn_plugin_entry_fn entry) {
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
  if (entry(&offer, &descriptor, &error) != CAIRN_OK) return nullptr;
  return descriptor;
}

// Opens an instance with `keyring` as its keyring option; on failure
// returns null and sets *message.
// `max_seals`, if not empty, is the max-seals-per-key option.
std::unique_ptr<CipherInstance> OpenCipher(cairn_plugin_entry_fn entry,
                                           const std::string& keyring,
                                           cairn_status* status_out = nullptr,
                                           std::string* message_out = nullptr,
                                           const std::string& max_seals = "") {
  const cairn_plugin_descriptor* descriptor = Describe(entry);
  if (descriptor == nullptr) return nullptr;
  auto api = static_cast<const cairn_cipher_api*>(descriptor->table);
  std::vector<cairn_option> items;
  if (!keyring.empty()) items.push_back({"keyring", keyring.c_str()});
  if (!max_seals.empty()) items.push_back({"max-seals-per-key", max_seals.c_str()});
  cairn_options options{items.data(), items.size()};
  char message[512] = "";
  cairn_error error{message, sizeof(message)};
  cairn_cipher* cipher = nullptr;
  cairn_status status = api->open(&options, &cipher, &error);
  if (status_out != nullptr) *status_out = status;
  if (message_out != nullptr) *message_out = message;
  if (status != CAIRN_OK) return nullptr;
  return std::make_unique<CipherInstance>(api, cipher);
}

// Stream, revision and type, as the Store builds associated data.
const std::string kAssociated("orders-42\0\0\0\x07OrderPlaced", 24);

class AeadCipherTest : public ::testing::TestWithParam<Plugin> {
 protected:
  void SetUp() override {
    keyring_path_ = dir_.File("keys");
    WriteFile(keyring_path_,
              "key 1 " + HexKey('1') + "\nkey 2 " + HexKey('2') + " active\n",
              0600);
    cipher_ = OpenCipher(GetParam().entry, keyring_path_);
    ASSERT_NE(cipher_, nullptr);
  }

  // Seals an event, closes cipher_ (which gives its reservation back), runs
  // `break_counting`, and returns what a new instance answers to a seal,
  // checking that it output nothing and that the new instance still opens
  // the event (reading never needs the seal counts).
  Sealed SealWithCountingBroken(const std::function<void()>& break_counting) {
    Sealed sealed = cipher_->Seal(kAssociated, "sealed before");
    EXPECT_EQ(sealed.status, CAIRN_OK);
    cipher_.reset();
    break_counting();
    auto reader = OpenCipher(GetParam().entry, keyring_path_);
    if (reader == nullptr) {
      ADD_FAILURE() << "open failed";
      return Sealed{CAIRN_E_INTERNAL, "", 0, "open failed"};
    }
    EXPECT_EQ(reader->Open(2, kAssociated, sealed.bytes).bytes, "sealed before");
    Sealed refused = reader->Seal(kAssociated, "event");
    EXPECT_EQ(refused.bytes, "");
    return refused;
  }

  TempDir dir_;
  std::string keyring_path_;
  std::unique_ptr<CipherInstance> cipher_;
};


TEST_P(AeadCipherTest, DescriptorDeclaresKeyRotationAndItsOptions) {
  const cairn_plugin_descriptor* descriptor = Describe(GetParam().entry);
  ASSERT_NE(descriptor, nullptr);
  EXPECT_STREQ(descriptor->name, GetParam().name);
  EXPECT_EQ(descriptor->kind, static_cast<uint32_t>(CAIRN_KIND_CIPHER));
  EXPECT_NE(descriptor->capabilities & CAIRN_CAP_KEY_ROTATION, 0u);
  ASSERT_NE(descriptor->options[0], nullptr);
  EXPECT_STREQ(descriptor->options[0]->key, "keyring");
  EXPECT_EQ(descriptor->options[0]->type, uint32_t{CAIRN_OPT_PATH});
  EXPECT_NE(descriptor->options[0]->flags & CAIRN_OPT_REQUIRED, 0u);
  ASSERT_NE(descriptor->options[1], nullptr);
  EXPECT_STREQ(descriptor->options[1]->key, "max-seals-per-key");
  EXPECT_EQ(descriptor->options[1]->type, uint32_t{CAIRN_OPT_UINT});
  EXPECT_EQ(descriptor->options[2], nullptr);
}

TEST_P(AeadCipherTest, RoundTripsEverySizeUnderTheActiveKey) {
  for (size_t size : {0, 1, 15, 16, 17, 256, 4096, 100000}) {
    std::string plaintext(size, '\0');
    for (size_t i = 0; i < size; ++i) plaintext[i] = static_cast<char>(i * 7);
    Sealed sealed = cipher_->Seal(kAssociated, plaintext);
    ASSERT_EQ(sealed.status, CAIRN_OK) << sealed.message;
    EXPECT_EQ(sealed.key_id, 2u);
    // nonce || ciphertext || tag
    EXPECT_EQ(sealed.bytes.size(), 12 + size + 16);
    if (size >= 16) {
      EXPECT_EQ(sealed.bytes.find(plaintext.substr(0, 16)), std::string::npos);
    }
    Sealed opened = cipher_->Open(2, kAssociated, sealed.bytes);
    ASSERT_EQ(opened.status, CAIRN_OK) << opened.message;
    EXPECT_EQ(opened.bytes, plaintext) << "size " << size;
  }
}

TEST_P(AeadCipherTest, TwoSealsOfTheSameInputDiffer) {
  Sealed first = cipher_->Seal(kAssociated, "same event");
  Sealed second = cipher_->Seal(kAssociated, "same event");
  ASSERT_EQ(first.status, CAIRN_OK);
  ASSERT_EQ(second.status, CAIRN_OK);
  EXPECT_NE(first.bytes.substr(0, 12), second.bytes.substr(0, 12));
  EXPECT_NE(first.bytes, second.bytes);
}

TEST_P(AeadCipherTest, AnyFlippedByteIsAnIntegrityErrorWithNoOutput) {
  Sealed sealed = cipher_->Seal(kAssociated, std::string(64, 'x'));
  ASSERT_EQ(sealed.status, CAIRN_OK);
  for (size_t i = 0; i < sealed.bytes.size(); ++i) {
    std::string tampered = sealed.bytes;
    tampered[i] = static_cast<char>(tampered[i] ^ 0x01);
    Sealed opened = cipher_->Open(2, kAssociated, tampered);
    ASSERT_EQ(opened.status, CAIRN_E_INTEGRITY) << "byte " << i;
    EXPECT_EQ(opened.bytes, "") << "byte " << i;
    EXPECT_THAT(opened.message, HasSubstr("authentication failed"));
  }
}

TEST_P(AeadCipherTest, TruncatedOrExtendedRecordIsAnIntegrityError) {
  Sealed sealed = cipher_->Seal(kAssociated, "payload");
  ASSERT_EQ(sealed.status, CAIRN_OK);
  EXPECT_EQ(cipher_->Open(2, kAssociated, sealed.bytes.substr(0, 27)).status,
            CAIRN_E_INTEGRITY);
  EXPECT_EQ(cipher_->Open(2, kAssociated, "").status, CAIRN_E_INTEGRITY);
  EXPECT_EQ(cipher_->Open(2, kAssociated,
                          sealed.bytes.substr(0, sealed.bytes.size() - 1))
                .status,
            CAIRN_E_INTEGRITY);
  EXPECT_EQ(cipher_->Open(2, kAssociated, sealed.bytes + "x").status,
            CAIRN_E_INTEGRITY);
}

TEST_P(AeadCipherTest, OtherAssociatedDataIsAnIntegrityError) {
  Sealed sealed = cipher_->Seal(kAssociated, "payload");
  ASSERT_EQ(sealed.status, CAIRN_OK);
  std::string other_revision = kAssociated;
  other_revision[12] = 0x08;
  EXPECT_EQ(cipher_->Open(2, other_revision, sealed.bytes).status,
            CAIRN_E_INTEGRITY);
  EXPECT_EQ(cipher_->Open(2, "", sealed.bytes).status, CAIRN_E_INTEGRITY);
  EXPECT_EQ(cipher_->Open(2, kAssociated, sealed.bytes).status, CAIRN_OK);
}

TEST_P(AeadCipherTest, OtherKeyIsAnIntegrityError) {
  Sealed sealed = cipher_->Seal(kAssociated, "payload");
  ASSERT_EQ(sealed.status, CAIRN_OK);
  // Key 1 of the same keyring.
  EXPECT_EQ(cipher_->Open(1, kAssociated, sealed.bytes).status,
            CAIRN_E_INTEGRITY);
  // Key 2 of another keyring.
  std::string other = dir_.File("other-keys");
  WriteFile(other, "key 2 " + HexKey('9') + " active\n", 0600);
  auto stranger = OpenCipher(GetParam().entry, other);
  ASSERT_NE(stranger, nullptr);
  Sealed opened = stranger->Open(2, kAssociated, sealed.bytes);
  EXPECT_EQ(opened.status, CAIRN_E_INTEGRITY);
  EXPECT_EQ(opened.bytes, "");
}

TEST_P(AeadCipherTest, UnknownKeyIdIsNotFoundNamingTheId) {
  Sealed sealed = cipher_->Seal(kAssociated, "payload");
  Sealed opened = cipher_->Open(77, kAssociated, sealed.bytes);
  EXPECT_EQ(opened.status, CAIRN_E_NOT_FOUND);
  EXPECT_THAT(opened.message, HasSubstr("key id 77"));
  EXPECT_THAT(opened.message, HasSubstr(keyring_path_));
}

TEST_P(AeadCipherTest, RotationMakesANewKeyActiveAndOldKeysStillOpen) {
  Sealed before = cipher_->Seal(kAssociated, "before rotation");
  ASSERT_EQ(before.key_id, 2u);
  uint32_t new_id = 0;
  std::string message;
  ASSERT_EQ(cipher_->Rotate(&new_id, &message), CAIRN_OK) << message;
  EXPECT_EQ(new_id, 3u);
  EXPECT_EQ(ModeOf(keyring_path_), 0600u);
  Sealed after = cipher_->Seal(kAssociated, "after rotation");
  ASSERT_EQ(after.status, CAIRN_OK);
  EXPECT_EQ(after.key_id, 3u);
  EXPECT_EQ(cipher_->Open(2, kAssociated, before.bytes).bytes,
            "before rotation");
  EXPECT_EQ(cipher_->Open(3, kAssociated, after.bytes).bytes,
            "after rotation");
  // The file was updated: a new instance (another process) opens both.
  auto reopened = OpenCipher(GetParam().entry, keyring_path_);
  ASSERT_NE(reopened, nullptr);
  EXPECT_EQ(reopened->Open(2, kAssociated, before.bytes).bytes,
            "before rotation");
  EXPECT_EQ(reopened->Open(3, kAssociated, after.bytes).bytes,
            "after rotation");
  EXPECT_EQ(reopened->Seal(kAssociated, "x").key_id, 3u);
}

TEST_P(AeadCipherTest, OpenRefusesAMissingOrUnsafeKeyring) {
  cairn_status status = CAIRN_OK;
  std::string message;
  EXPECT_EQ(OpenCipher(GetParam().entry, "", &status, &message), nullptr);
  EXPECT_EQ(status, CAIRN_E_INVALID_ARGUMENT);
  EXPECT_THAT(message, HasSubstr("needs option 'keyring = PATH'"));

  ::chmod(keyring_path_.c_str(), 0644);
  EXPECT_EQ(OpenCipher(GetParam().entry, keyring_path_, &status, &message),
            nullptr);
  EXPECT_EQ(status, CAIRN_E_INVALID_ARGUMENT);
  EXPECT_THAT(message, HasSubstr(keyring_path_));
  EXPECT_THAT(message, HasSubstr("mode 0644"));

  std::string bad = dir_.File("bad-keys");
  WriteFile(bad, "key 1 " + std::string(40, 'a') + " active\n", 0600);
  EXPECT_EQ(OpenCipher(GetParam().entry, bad, &status, &message), nullptr);
  EXPECT_THAT(message, HasSubstr(bad + " line 1: short key"));
  EXPECT_THAT(message, Not(HasSubstr(std::string(40, 'a'))));
}

TEST_P(AeadCipherTest, SealAndOpenFromManyThreadsWhileRotating) {
  constexpr int kThreads = 4;
  constexpr int kRounds = 500;
  std::vector<std::thread> threads;
  std::vector<int> failures(kThreads, 0);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kRounds; ++i) {
        std::string plaintext = "thread " + std::to_string(t) + " event " +
                                std::to_string(i);
        Sealed sealed = cipher_->Seal(kAssociated, plaintext);
        Sealed opened = sealed.status == CAIRN_OK
                            ? cipher_->Open(sealed.key_id, kAssociated,
                                            sealed.bytes)
                            : sealed;
        if (opened.status != CAIRN_OK || opened.bytes != plaintext) {
          ++failures[t];
        }
      }
    });
  }
  for (int r = 0; r < 3; ++r) {
    uint32_t id = 0;
    std::string message;
    EXPECT_EQ(cipher_->Rotate(&id, &message), CAIRN_OK) << message;
  }
  for (std::thread& thread : threads) thread.join();
  for (int f : failures) EXPECT_EQ(f, 0);
}

TEST_P(AeadCipherTest, InstancesOpenedAfterOthersClosedStartClean) {
  // Each instance caches contexts per thread; a closed instance's contexts
  // must never serve a later one, even from the same thread.
  for (int round = 0; round < 12; ++round) {
    std::string path = dir_.File("keys-" + std::to_string(round));
    WriteFile(path,
              "key 2 " + std::string(64, "abcdef0345678"[round]) +
                  " active\n",
              0600);
    auto cipher = OpenCipher(GetParam().entry, path);
    ASSERT_NE(cipher, nullptr);
    Sealed sealed = cipher->Seal(kAssociated, "round");
    ASSERT_EQ(sealed.status, CAIRN_OK);
    // Key 2 of the fixture's keyring differs: this must not open there.
    EXPECT_EQ(cipher_->Open(2, kAssociated, sealed.bytes).status,
              CAIRN_E_INTEGRITY);
    EXPECT_EQ(cipher->Open(2, kAssociated, sealed.bytes).bytes, "round");
  }
}

TEST_P(AeadCipherTest, SealingPastTheLimitFailsNamingTheKeyIdNeverTheKey) {
  auto limited = OpenCipher(GetParam().entry, keyring_path_, nullptr, nullptr,
                            "3");
  ASSERT_NE(limited, nullptr);
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(limited->Seal(kAssociated, "event").status, CAIRN_OK) << i;
  }
  Sealed refused = limited->Seal(kAssociated, "event");
  EXPECT_EQ(refused.status, CAIRN_E_RESOURCE_EXHAUSTED);
  EXPECT_EQ(refused.bytes, "");
  EXPECT_THAT(refused.message, HasSubstr(std::string(GetParam().name) +
                                         ": key id 2 has made its limit of 3"));
  EXPECT_THAT(refused.message, HasSubstr("cairn keys rotate"));
  EXPECT_THAT(refused.message, Not(HasSubstr(HexKey('2'))));
  EXPECT_THAT(refused.message, Not(HasSubstr(HexKey('2').substr(0, 16))));
  // A fresh key has a fresh budget; the old key still opens.
  uint32_t new_id = 0;
  std::string message;
  ASSERT_EQ(limited->Rotate(&new_id, &message), CAIRN_OK) << message;
  Sealed after = limited->Seal(kAssociated, "after rotation");
  ASSERT_EQ(after.status, CAIRN_OK) << after.message;
  EXPECT_EQ(after.key_id, new_id);
}

TEST_P(AeadCipherTest, SealCountSurvivesReopen) {
  auto first = OpenCipher(GetParam().entry, keyring_path_, nullptr, nullptr,
                          "5");
  ASSERT_NE(first, nullptr);
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(first->Seal(kAssociated, "event").status, CAIRN_OK);
  }
  first.reset();
  SealUsage usage;
  ASSERT_TRUE(SealUsage::Load(keyring_path_, &usage).ok());
  EXPECT_EQ(usage.Of(2), 3u);
  auto second = OpenCipher(GetParam().entry, keyring_path_, nullptr, nullptr,
                           "5");
  ASSERT_NE(second, nullptr);
  EXPECT_EQ(second->Seal(kAssociated, "event").status, CAIRN_OK);
  EXPECT_EQ(second->Seal(kAssociated, "event").status, CAIRN_OK);
  EXPECT_EQ(second->Seal(kAssociated, "event").status,
            CAIRN_E_RESOURCE_EXHAUSTED);
}

TEST_P(AeadCipherTest, CorruptUsageFileRefusesSealsNamingItButOpensStillWork) {
  const std::string usage_path = SealUsagePath(keyring_path_);
  Sealed refused = SealWithCountingBroken(
      [&] { WriteFile(usage_path, "seals 2 lots\n", 0600); });
  EXPECT_EQ(refused.status, CAIRN_E_INVALID_ARGUMENT);
  EXPECT_THAT(refused.message, HasSubstr("key id 2"));
  EXPECT_THAT(refused.message, HasSubstr(usage_path + " line 1"));
  EXPECT_EQ(ReadFile(usage_path), "seals 2 lots\n");
}

TEST_P(AeadCipherTest, AnUnwritableKeyringFolderRefusesSealsNamingTheLockButOpens) {
  // What a read-only folder does to a writer (tests may run as root, which
  // chmod does not stop): the lock file cannot be opened for writing.
  Sealed refused = SealWithCountingBroken([&] {
    std::filesystem::remove(keyring_path_ + ".lock");
    std::filesystem::create_directory(keyring_path_ + ".lock");
  });
  EXPECT_EQ(refused.status, CAIRN_E_IO);
  EXPECT_THAT(refused.message, HasSubstr("cannot count this seal of key id 2"));
  EXPECT_THAT(refused.message, HasSubstr("cannot open lock file " + keyring_path_ + ".lock"));
}

TEST_P(AeadCipherTest, OpeningNeverCreatesTheUsageFile) {
  Sealed sealed = cipher_->Seal(kAssociated, "payload");
  cipher_.reset();
  std::filesystem::remove(SealUsagePath(keyring_path_));
  auto reader = OpenCipher(GetParam().entry, keyring_path_);
  ASSERT_NE(reader, nullptr);
  EXPECT_EQ(reader->Open(2, kAssociated, sealed.bytes).status, CAIRN_OK);
  reader.reset();
  EXPECT_FALSE(std::filesystem::exists(SealUsagePath(keyring_path_)));
}

// Seals `seals` events from each of `threads` threads; returns the failures.
int SealFromThreads(CipherInstance& cipher, int threads, int seals) {
  std::vector<std::thread> running;
  std::vector<int> failures(threads, 0);
  for (int t = 0; t < threads; ++t) {
    running.emplace_back([&, t] {
      for (int i = 0; i < seals; ++i) {
        if (cipher.Seal(kAssociated, "event").status != CAIRN_OK) ++failures[t];
      }
    });
  }
  for (std::thread& thread : running) thread.join();
  int total = 0;
  for (int f : failures) total += f;
  return total;
}

TEST_P(AeadCipherTest, ConcurrentThreadsSealExactlyUpToTheLimit) {
  constexpr int kThreads = 4;
  constexpr int kSeals = 2000;
  auto limited = OpenCipher(GetParam().entry, keyring_path_, nullptr, nullptr,
                            std::to_string(kThreads * kSeals));
  ASSERT_NE(limited, nullptr);
  EXPECT_EQ(SealFromThreads(*limited, kThreads, kSeals), 0);
  EXPECT_EQ(limited->Seal(kAssociated, "one too many").status,
            CAIRN_E_RESOURCE_EXHAUSTED);
}

TEST_P(AeadCipherTest, ConcurrentThreadsAreCountedExactlyAfterClose) {
  constexpr int kThreads = 4;
  constexpr int kSeals = 3001;  // not a multiple of a thread's batch
  cipher_.reset();
  auto first = OpenCipher(GetParam().entry, keyring_path_);
  auto second = OpenCipher(GetParam().entry, keyring_path_);  // another process
  ASSERT_NE(first, nullptr);
  ASSERT_NE(second, nullptr);
  EXPECT_EQ(SealFromThreads(*first, kThreads, kSeals), 0);
  EXPECT_EQ(SealFromThreads(*second, kThreads, kSeals), 0);
  // This thread keeps its contexts (and a batch of seals) until close.
  ASSERT_EQ(first->Seal(kAssociated, "from the main thread").status, CAIRN_OK);
  first.reset();
  second.reset();
  SealUsage usage;
  ASSERT_TRUE(SealUsage::Load(keyring_path_, &usage).ok());
  EXPECT_EQ(usage.Of(2), 2u * kThreads * kSeals + 1);
}

TEST_P(AeadCipherTest, AForkedChildNeitherUsesNorGivesBackItsParentsSeals) {
  cipher_.reset();
  auto cipher = OpenCipher(GetParam().entry, keyring_path_);
  ASSERT_NE(cipher, nullptr);
  for (int i = 0; i < 5; ++i) {
    ASSERT_EQ(cipher->Seal(kAssociated, "parent before").status, CAIRN_OK);
  }
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // The child seals with the inherited instance and closes it cleanly.
    int failures = 0;
    for (int i = 0; i < 10; ++i) {
      if (cipher->Seal(kAssociated, "child").status != CAIRN_OK) ++failures;
    }
    cipher.reset();
    ::_exit(failures == 0 ? 0 : 1);
  }
  int child_status = 0;
  ASSERT_EQ(::waitpid(child, &child_status, 0), child);
  ASSERT_TRUE(WIFEXITED(child_status));
  EXPECT_EQ(WEXITSTATUS(child_status), 0);
  for (int i = 0; i < 5; ++i) {
    ASSERT_EQ(cipher->Seal(kAssociated, "parent after").status, CAIRN_OK);
  }
  cipher.reset();
  SealUsage usage;
  ASSERT_TRUE(SealUsage::Load(keyring_path_, &usage).ok());
  // Never fewer than the 20 seals made. (The child's block, reserved in
  // the child and given back there, counts exactly; nothing else is lost.)
  EXPECT_EQ(usage.Of(2), 20u);
}

TEST_P(AeadCipherTest, OpenRefusesABadSealLimit) {
  for (const char* bad : {"0", "-1", "many", "1e9", "18446744073709551616"}) {
    cairn_status status = CAIRN_OK;
    std::string message;
    EXPECT_EQ(OpenCipher(GetParam().entry, keyring_path_, &status, &message,
                         bad),
              nullptr)
        << bad;
    EXPECT_EQ(status, CAIRN_E_INVALID_ARGUMENT) << bad;
    EXPECT_THAT(message, HasSubstr("'max-seals-per-key'")) << bad;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Ciphers, AeadCipherTest,
    ::testing::Values(Plugin{"aes-gcm", &cairn_builtin_cipher_aes_gcm},
                      Plugin{"chacha20-poly1305",
                             &cairn_builtin_cipher_chacha20_poly1305}),
    [](const ::testing::TestParamInfo<Plugin>& info) {
      std::string name = info.param.name;
      for (char& c : name) {
        if (c == '-') c = '_';
      }
      return name;
    });

TEST(AeadCiphers, OneCipherCannotOpenWhatTheOtherSealed) {
  TempDir dir;
  std::string path = dir.File("keys");
  WriteFile(path, "key 1 " + HexKey('5') + " active\n", 0600);
  auto aes = OpenCipher(&cairn_builtin_cipher_aes_gcm, path);
  auto chacha = OpenCipher(&cairn_builtin_cipher_chacha20_poly1305, path);
  ASSERT_NE(aes, nullptr);
  ASSERT_NE(chacha, nullptr);
  Sealed sealed = aes->Seal("ad", "payload");
  EXPECT_EQ(chacha->Open(1, "ad", sealed.bytes).status, CAIRN_E_INTEGRITY);
  sealed = chacha->Seal("ad", "payload");
  EXPECT_EQ(aes->Open(1, "ad", sealed.bytes).status, CAIRN_E_INTEGRITY);
}

}  // namespace
}  // namespace cairn::keyring
