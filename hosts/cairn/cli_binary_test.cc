// Runs the built `cairn` binary as a user would: exit codes, stdin, and a
// store that persists between invocations.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "run_program.h"

namespace {

using ::testing::HasSubstr;
using ::testing::Not;

using Result = cairn::testing::ProgramResult;

std::string Slurp(const std::filesystem::path& path) {
  std::ifstream file(path);
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

class CliBinaryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* bin = std::getenv("CAIRN_BIN_DIR");
    ASSERT_NE(bin, nullptr) << "CAIRN_BIN_DIR is not set (run through ctest)";
    cairn_ = std::filesystem::path(bin) / "cairn";
    ASSERT_TRUE(std::filesystem::exists(cairn_)) << cairn_;
    dir_ = std::filesystem::temp_directory_path() /
           ("cairn-cli-binary-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // Runs cairn in dir_ with `input` on stdin.
  Result Run(const std::vector<std::string>& args, const std::string& input = "") {
    return cairn::testing::RunProgram(cairn_, args, dir_, input);
  }

  std::filesystem::path cairn_;
  std::filesystem::path dir_;
};

TEST_F(CliBinaryTest, HelpExitsZeroAndNoCommandExitsOne) {
  Result help = Run({"--help"});
  EXPECT_EQ(help.code, 0);
  EXPECT_THAT(help.out, HasSubstr("usage: cairn"));
  Result none = Run({});
  EXPECT_EQ(none.code, 1);
  EXPECT_THAT(none.err, HasSubstr("no command given"));
  EXPECT_EQ(Run({"read", "--help"}).code, 0);
}

TEST_F(CliBinaryTest, ConflictExitsThree) {
  Result r = Run({"--set", "storage.plugin=memory", "append", "s", "--expect", "5"},
                 "{\"type\": \"A\"}\n");
  EXPECT_EQ(r.code, 3) << r.err;
  EXPECT_THAT(r.err, HasSubstr("cairn append:"));
}

TEST_F(CliBinaryTest, BadJsonExitsTwoNamingTheLine) {
  Result r = Run({"--set", "storage.plugin=memory", "append", "s"},
                 "{\"type\": \"A\"}\n\n\nnot json\n");
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, HasSubstr("stdin line 4"));
}

TEST_F(CliBinaryTest, ConfigErrorExitsOneNamingTheKey) {
  std::ofstream(dir_ / "site.ini") << "[codec]\nplugin = identity\n[store]\nwhere = x\n";
  Result r = Run({"--config", "site.ini", "streams"});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("site.ini"));
  EXPECT_THAT(r.err, HasSubstr("unknown key 'where' in section [store]"));
}

TEST_F(CliBinaryTest, PluginsListsTheBuiltins) {
  Result r = Run({"plugins"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("built-in"));
  EXPECT_THAT(r.out, HasSubstr("identity"));
}

#ifdef CAIRN_TEST_HAVE_MMAPLOG
uint32_t ModeOf(const std::filesystem::path& path) {
  struct stat st {};
  EXPECT_EQ(stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

// A small segment size: the default 256 MiB makes each new store slow.
const char kSmallSegments[] = "storage.segment-size=1MiB";

const char kTwoOrders[] =
    "{\"type\": \"OrderPlaced\", \"data\": {\"id\": 1}}\n"
    "{\"type\": \"OrderPaid\", \"data\": {\"id\": 1}}\n";

// Issue #13: a read-only command on a folder holding a RocksDB-style WAL
// used to delete it and make 512 MiB of segments there.
TEST_F(CliBinaryTest, AFolderThatIsNotAStoreIsNeitherWrittenNorDeletedFrom) {
  std::filesystem::create_directories(dir_ / "f");
  for (const char* name : {"000003.log", "1.log", "00000007.log"}) {
    std::ofstream(dir_ / "f" / name) << "WAL\n";
  }
  for (std::vector<std::string> args :
       {std::vector<std::string>{"--data", "f", "head", "s"},
        std::vector<std::string>{"--data", "f", "append", "s"}}) {
    Result r = Run(args, "{\"type\": \"A\"}\n");
    EXPECT_EQ(r.code, 2) << args[2] << ": " << r.err;
    EXPECT_THAT(r.err, HasSubstr("'f' is not a Cairn store"));
    size_t entries = 0;
    for (const auto& e : std::filesystem::directory_iterator(dir_ / "f")) {
      EXPECT_EQ(Slurp(e.path()), "WAL\n") << e.path();
      ++entries;
    }
    EXPECT_EQ(entries, 3u) << args[2];
  }
}

TEST_F(CliBinaryTest, ReadOnlyCommandsOnAMissingPathCreateNothing) {
  for (std::vector<std::string> command :
       {std::vector<std::string>{"head", "s"},
        {"read", "s"},
        {"read-all"},
        {"streams"},
        {"stats"},
        {"verify"},
        {"tail", "s"},
        {"read-log"}}) {
    std::vector<std::string> args = {"--data", "mistyped"};
    args.insert(args.end(), command.begin(), command.end());
    Result r = Run(args);
    EXPECT_EQ(r.code, 2) << command[0] << ": " << r.err;
    EXPECT_THAT(r.err, HasSubstr("no store at 'mistyped'")) << command[0];
    EXPECT_FALSE(std::filesystem::exists(dir_ / "mistyped")) << command[0];
  }
}

TEST_F(CliBinaryTest, AStoreIsPrivateWhateverTheUmask) {
  for (mode_t mask : {mode_t{022}, mode_t{000}}) {
    const std::string data = "data-" + std::to_string(mask);
    mode_t old = umask(mask);
    Result append =
        Run({"--data", data, "--set", kSmallSegments, "append", "orders-1"}, kTwoOrders);
    umask(old);
    ASSERT_EQ(append.code, 0) << append.err;
    EXPECT_EQ(ModeOf(dir_ / data), 0700u) << "umask " << mask;
    for (const auto& e : std::filesystem::recursive_directory_iterator(dir_ / data)) {
      EXPECT_EQ(ModeOf(e.path()), e.is_directory() ? 0700u : 0600u) << e.path();
    }
  }
}

TEST_F(CliBinaryTest, AStoreOthersCanReadIsRefusedNamingTheFix) {
  ASSERT_EQ(Run({"--set", kSmallSegments, "append", "orders-1"}, kTwoOrders).code, 0);
  std::filesystem::permissions(dir_ / "data", std::filesystem::perms(0755));
  Result r = Run({"--set", kSmallSegments, "head", "orders-1"});
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, HasSubstr("'./data' has mode 0755"));
  EXPECT_THAT(r.err, HasSubstr("chmod 700 ./data"));
}

// A store made before the MMAPLOG marker, with the modes a 022 umask gave.
TEST_F(CliBinaryTest, AStoreFromBeforeTheMarkerStillOpens) {
  ASSERT_EQ(Run({"--set", kSmallSegments, "append", "orders-1"}, kTwoOrders).code, 0);
  std::filesystem::remove(dir_ / "data" / "MMAPLOG");
  std::filesystem::permissions(dir_ / "data", std::filesystem::perms(0755));
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir_ / "data")) {
    std::filesystem::permissions(e.path(),
                                 std::filesystem::perms(e.is_directory() ? 0755 : 0644));
  }
  Result head = Run({"--set", kSmallSegments, "head", "orders-1"});
  EXPECT_EQ(head.code, 0) << head.err;
  EXPECT_EQ(head.out, "2\n");
  EXPECT_TRUE(std::filesystem::exists(dir_ / "data" / "MMAPLOG"));
  EXPECT_EQ(ModeOf(dir_ / "data"), 0700u);
}

TEST_F(CliBinaryTest, AFileInTheStoreItDidNotMakeIsKeptAndReportedByVerify) {
  ASSERT_EQ(Run({"--set", kSmallSegments, "append", "orders-1"}, kTwoOrders).code, 0);
  std::ofstream(dir_ / "data" / "000003.log") << "WAL\n";
  Result head = Run({"--set", kSmallSegments, "head", "orders-1"});
  EXPECT_EQ(head.code, 0) << head.err;
  EXPECT_THAT(head.err, HasSubstr("'000003.log' in the store folder was not made by mmaplog"));
  Result verify = Run({"--set", kSmallSegments, "verify"});
  EXPECT_EQ(verify.code, 2);
  EXPECT_THAT(verify.out,
              HasSubstr("problem: '000003.log' in the store folder was not made by mmaplog"));
  EXPECT_EQ(Slurp(dir_ / "data" / "000003.log"), "WAL\n");
}

// `count` JSON lines of about 1 KB each, for stores of several 64 KiB
// segments.
std::string BigEvents(int count) {
  std::string events;
  for (int i = 0; i < count; ++i) {
    events += "{\"type\": \"Big\", \"data\": {\"i\": " + std::to_string(i) + ", \"pad\": \"" +
              std::string(1000, 'x') + "\"}}\n";
  }
  return events;
}

// `args` against the store "small" with 64 KiB segments.
std::vector<std::string> InSmallStore(std::vector<std::string> args) {
  const std::vector<std::string> store = {"--data", "small", "--set", "storage.segment-size=64KiB"};
  args.insert(args.begin(), store.begin(), store.end());
  return args;
}

void FlipByte(const std::filesystem::path& file, std::streamoff offset, char mask) {
  std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
  f.seekg(offset);
  char byte = 0;
  f.read(&byte, 1);
  f.seekp(offset);
  byte = static_cast<char>(byte ^ mask);
  f.write(&byte, 1);
}

TEST_F(CliBinaryTest, DefaultStoreInDataPersistsBetweenInvocations) {
  Result append = Run({"append", "orders-1"},
                      "{\"type\": \"OrderPlaced\", \"data\": {\"id\": 1}}\n"
                      "{\"type\": \"OrderPaid\", \"data\": {\"id\": 1}}\n");
  ASSERT_EQ(append.code, 0) << append.err;
  EXPECT_TRUE(std::filesystem::is_directory(dir_ / "data"));
  Result read = Run({"read", "orders-1"});
  ASSERT_EQ(read.code, 0) << read.err;
  EXPECT_THAT(read.out, HasSubstr("#2 @2 "));
  EXPECT_THAT(read.out, HasSubstr("OrderPaid {\"id\":1}"));
  EXPECT_EQ(Run({"head", "orders-1"}).out, "2\n");
  EXPECT_EQ(Run({"append", "orders-1", "--expect", "none"}, "{\"type\": \"X\"}\n").code, 3);
  EXPECT_EQ(Run({"streams"}).out, "orders-1\t2\n");
  Result verify = Run({"verify"});
  EXPECT_EQ(verify.code, 0) << verify.err << verify.out;
}

// `cairn maintain` on a store folder: with the default retention (none)
// nothing goes; with `retention = bytes:SIZE` every segment removed is
// named once, by maintain on stdout or, when the open's own pass got there
// first, in that pass's log line on stderr; the stream keeps its head and
// its newest events. A storage without maintenance says so.
TEST_F(CliBinaryTest, MaintainRemovesWhatRetentionLetsGoAndNamesEachSegment) {
  ASSERT_EQ(
      Run(InSmallStore({"append", "big", "--batch-size", "10"}), BigEvents(200))
          .code,
      0);
  Result keep = Run(InSmallStore({"maintain"}));
  ASSERT_EQ(keep.code, 0) << keep.err;
  EXPECT_THAT(keep.out + keep.err, Not(HasSubstr("removed segment")));
  EXPECT_THAT(keep.out, HasSubstr("maintained "));
  EXPECT_TRUE(std::filesystem::exists(dir_ / "small" / "00000001.log"));

  Result trim = Run(
      InSmallStore({"--set", "storage.retention=bytes:128KiB", "maintain"}));
  ASSERT_EQ(trim.code, 0) << trim.err;
  const std::string said = trim.out + trim.err;
  const std::string first = "removed segment 00000001.log (positions 1-";
  const size_t at = said.find(first);
  ASSERT_NE(at, std::string::npos) << said;
  EXPECT_EQ(said.find(first, at + 1), std::string::npos) << said;
  EXPECT_THAT(said, HasSubstr("retention bytes:131072)"));
  EXPECT_FALSE(std::filesystem::exists(dir_ / "small" / "00000001.log"));
  EXPECT_EQ(Run(InSmallStore({"head", "big"})).out, "200\n");
  Result tail = Run(InSmallStore({"read", "big", "--from", "200"}));
  ASSERT_EQ(tail.code, 0) << tail.err;
  EXPECT_THAT(tail.out, HasSubstr("#200 "));

  Result again = Run(InSmallStore(
      {"--set", "storage.retention=bytes:128KiB", "maintain", "--json"}));
  ASSERT_EQ(again.code, 0) << again.err;
  EXPECT_THAT(again.out, HasSubstr("{\"store\":"));
  EXPECT_THAT(again.out, HasSubstr("\"changes\":["));
  EXPECT_THAT(again.out + again.err, Not(HasSubstr("removed segment")));

  Result memory = Run({"--set", "storage.plugin=memory", "maintain"});
  EXPECT_EQ(memory.code, 2) << memory.out;
  EXPECT_THAT(memory.err, HasSubstr("maintenance of storage 'memory'"));
  EXPECT_THAT(memory.err, HasSubstr("no maintenance to run"));
}

TEST_F(CliBinaryTest, DamageTheOpenRefusesIsPassedOnlyByVerifyRepairWhichSaysWhatItDid) {
  ASSERT_EQ(Run(InSmallStore({"append", "big", "--batch-size", "10"}), BigEvents(200)).code, 0);
  FlipByte(dir_ / "small" / "00000001.log", 24, 0x04);  // segment 1's base position
  for (const char* command : {"verify", "read"}) {
    std::vector<std::string> args = {command};
    if (std::string(command) == "read") args.push_back("big");
    Result refused = Run(InSmallStore(args));
    EXPECT_EQ(refused.code, 2) << command << refused.out;
    EXPECT_THAT(refused.err, HasSubstr("segment 00000001.log offset 0"));
    EXPECT_THAT(refused.err, HasSubstr("cairn verify --repair"));
  }
  EXPECT_FALSE(std::filesystem::exists(dir_ / "small" / "quarantine"));
  Result repair = Run(InSmallStore({"verify", "--repair"}));
  EXPECT_EQ(repair.code, 0) << repair.err << repair.out;
  EXPECT_THAT(repair.out,
              HasSubstr("repaired: segment 00000001.log offset 0: damaged header rebuilt"));
  EXPECT_THAT(repair.out, HasSubstr("quarantine/00000001.log."));
  EXPECT_THAT(repair.out, Not(HasSubstr("problem:")));
  EXPECT_TRUE(std::filesystem::exists(dir_ / "small" / "quarantine"));
  Result verify = Run(InSmallStore({"verify"}));
  EXPECT_EQ(verify.code, 0) << verify.err << verify.out;
  EXPECT_EQ(Run(InSmallStore({"head", "big"})).out, "200\n");
  Result read = Run(InSmallStore({"read", "big", "--from", "1", "--max", "1"}));
  EXPECT_EQ(read.code, 0) << read.err;
  EXPECT_THAT(read.out, HasSubstr("#1 @1 "));
}

TEST_F(CliBinaryTest, VerifyFindsAFlippedByteInASealedSegment) {
  const std::string events = BigEvents(300);
  Result append = Run(InSmallStore({"append", "big", "--batch-size", "10"}), events);
  ASSERT_EQ(append.code, 0) << append.err;
  ASSERT_EQ(Run(InSmallStore({"verify"})).code, 0);
  ASSERT_TRUE(std::filesystem::exists(dir_ / "small" / "00000002.log"));
  FlipByte(dir_ / "small" / "00000001.log", 5000, static_cast<char>(0xff));
  Result verify = Run(InSmallStore({"verify"}));
  EXPECT_EQ(verify.code, 2);
  EXPECT_THAT(verify.out, HasSubstr("problem: segment 00000001.log offset"));
  Result read = Run(InSmallStore({"read", "big"}));
  EXPECT_EQ(read.code, 2);
  EXPECT_THAT(read.err, HasSubstr("checksum"));
  // Records in the other segments still read.
  Result tail = Run(InSmallStore({"read", "big", "--from", "290"}));
  EXPECT_EQ(tail.code, 0) << tail.err;
  EXPECT_THAT(tail.out, HasSubstr("#300 @300 "));
}
// CRC32C (Castagnoli), bit by bit: what mmaplog's records carry.
uint32_t Crc32c(const std::string& bytes) {
  uint32_t crc = 0xFFFFFFFFu;
  for (unsigned char c : bytes) {
    crc ^= c;
    for (int k = 0; k < 8; ++k)
      crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1u)));
  }
  return ~crc;
}

template <typename T>
T At(const std::string& bytes, size_t offset) {
  T value;
  std::memcpy(&value, bytes.data() + offset, sizeof value);
  return value;
}

// A sealed (aes-gcm) mmaplog store with one ciphertext byte flipped in a
// segment file. With the record's checksums made to match (damage before
// the checksum was taken, or an edit that knew the format) only the seal
// catches it: verify --deep names stream, revision and position, exit 2.
// Without (a plain flip), the storage check names segment and offset.
TEST_F(CliBinaryTest, VerifyDeepFindsAFlippedCiphertextByteInASealedStore) {
  {
    std::ofstream keys(dir_ / "keys");
    keys << "key 1 " << std::string(64, 'b') << " active\n";
  }
  std::filesystem::permissions(
      dir_ / "keys",
      std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  auto sealed = [](std::vector<std::string> args) {
    args = InSmallStore(std::move(args));
    for (const char* a :
         {"--set", "cipher.plugin=aes-gcm", "--set", "cipher.keyring=keys"}) {
      args.push_back(a);
    }
    return args;
  };
  std::string events;
  for (int i = 1; i <= 3; ++i) {
    events += "{\"type\": \"T\", \"data\": {\"secret\": \"value number " +
              std::to_string(i) + "\"}}\n";
  }
  ASSERT_EQ(Run(sealed({"append", "secret"}), events).code, 0);
  Result clean = Run(sealed({"verify", "--deep"}));
  ASSERT_EQ(clean.code, 0) << clean.err << clean.out;
  EXPECT_THAT(clean.out, HasSubstr("deep: 3 event(s) opened"));

  const std::filesystem::path segment = dir_ / "small" / "00000001.log";
  std::string bytes = Slurp(segment);
  // Revision `revision` of stream "secret": offset of its record.
  auto find = [&](uint64_t revision) -> size_t {
    for (size_t off = 64; off + 64 <= bytes.size();) {
      const uint32_t length = At<uint32_t>(bytes, off);
      if (length == 0 || length == 0xFFFFFFFFu) break;
      const uint8_t stream_len = At<uint8_t>(bytes, off + 54);
      if (At<uint16_t>(bytes, off + 12) == 0 &&
          bytes.compare(off + 64, stream_len, "secret") == 0 &&
          At<uint64_t>(bytes, off + 24) == revision) {
        return off;
      }
      off += length;
    }
    return 0;
  };
  const size_t record = find(2);
  ASSERT_NE(record, 0u);
  const uint64_t position = At<uint64_t>(bytes, record + 16);
  const size_t body = record + 64 + At<uint8_t>(bytes, record + 54);
  const size_t body_size =
      At<uint16_t>(bytes, record + 52) + At<uint32_t>(bytes, record + 40) +
      At<uint32_t>(bytes, record + 44) + At<uint32_t>(bytes, record + 48);
  ASSERT_EQ(At<uint16_t>(bytes, record + 14), 0) << "no tags";
  bytes[body + body_size - 20] ^= 0x10;  // in the ciphertext, before the tag
  const uint32_t crc = Crc32c(bytes.substr(body, body_size));
  std::memcpy(bytes.data() + record + 8, &crc, 4);
  // The header checksum covers the body checksum (bytes 8..64 and the name).
  const uint32_t header_crc =
      Crc32c(bytes.substr(record + 8, body - record - 8));
  std::memcpy(bytes.data() + record + 4, &header_crc, 4);
  {
    std::fstream f(segment, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(record + 4));
    f.write(bytes.data() + record + 4,
            static_cast<std::streamsize>(body - record - 4 + body_size));
  }
  Result deep = Run(sealed({"verify", "--deep"}));
  EXPECT_EQ(deep.code, 2) << deep.err << deep.out;
  EXPECT_THAT(deep.out, HasSubstr("problem: stream 'secret' revision 2"));
  EXPECT_THAT(deep.out,
              HasSubstr("(position " + std::to_string(position) + ")"));
  EXPECT_THAT(deep.out, Not(HasSubstr("ok: ")));

  // A plain flip in revision 3's ciphertext: its checksum fails first.
  const size_t third = find(3);
  ASSERT_NE(third, 0u);
  FlipByte(segment, static_cast<std::streamoff>(third + 64 + 6 + 30), 0x01);
  Result flipped = Run(sealed({"verify", "--deep"}));
  EXPECT_EQ(flipped.code, 2) << flipped.err << flipped.out;
  EXPECT_THAT(flipped.out + flipped.err, HasSubstr("00000001.log"));
}

// inspect on a real store: the disk its files take and the live data.
TEST_F(CliBinaryTest, InspectReportsDiskUsedAndLiveData) {
  ASSERT_EQ(
      Run(InSmallStore({"append", "big", "--batch-size", "10"}), BigEvents(100))
          .code,
      0);
  Result r = Run(InSmallStore({"inspect"}));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("plugins:      storage mmaplog"));
  EXPECT_THAT(r.out, HasSubstr("live events 0.1 MiB (100 events"));
  EXPECT_THAT(r.out, HasSubstr("storage.bytes_on_disk "));
  EXPECT_THAT(r.out, HasSubstr("  big\t100 events"));
}
#endif

}  // namespace
