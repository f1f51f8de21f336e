// libFuzzer target: an mmaplog store with one of its files damaged.
//
// Once per process a small store is built (three 64 KiB segments, a spare,
// a delete-to in deletes.log, the index checkpoint of a clean close) and its
// events recorded. Each input picks one of the store's files and damages it
// (flipped bytes, a truncation, bytes spliced in, or the whole file
// replaced); the damaged copy is opened without `create` and read by
// position, by stream and by tag. The oracle holds before and after any
// change to how recovery treats damage: no crash, no hang, and if the open
// succeeds every event any read returns is byte-identical to the original
// event at its position, and a read that ends without an error returned
// exactly the events the undamaged store returns to it, no fewer and none
// a delete hid (a read may stop with an error; a refused open is fine). A
// difference aborts, so libFuzzer keeps the input.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "log.h"
#include "test_util.h"

namespace {

namespace fs = std::filesystem;
using cairn::mmaplog::Log;
using cairn::mmaplog::testing::OwnedEvent;
using cairn::mmaplog::testing::SmallStoreOptions;
using cairn::mmaplog::testing::Str;

struct Original {
  std::string stream, type, writer, metadata, data;
  uint64_t revision = 0;
  int64_t timestamp_us = 0;
  std::vector<std::string> tags;
};

Original FromEvent(const cairn_event& e) {
  Original o;
  o.stream = Str(e.stream);
  o.type = Str(e.type);
  o.writer = Str(e.writer);
  o.metadata = Str(e.metadata);
  o.data = Str(e.data);
  o.revision = e.revision;
  o.timestamp_us = e.timestamp_us;
  for (uint32_t i = 0; i < e.tag_count; ++i) o.tags.push_back(Str(e.tags[i]));
  return o;
}

bool Same(const Original& a, const Original& b) {
  return a.stream == b.stream && a.type == b.type && a.writer == b.writer &&
         a.metadata == b.metadata && a.data == b.data &&
         a.revision == b.revision && a.timestamp_us == b.timestamp_us &&
         a.tags == b.tags;
}

[[noreturn]] void Fail(const std::string& what) {
  std::fprintf(stderr, "mmaplog_store_fuzzer: %s\n", what.c_str());
  std::abort();
}

// How many damaged stores were tried and how many opened (printed at exit,
// so a run shows the oracle was exercised, not only refusals).
uint64_t g_tried = 0;
uint64_t g_opened = 0;

struct Fixture {
  std::string root;
  std::string work;
  // Relative path -> bytes of every file of the undamaged store but LOCK.
  std::map<std::string, std::string> files;
  std::vector<std::string> names;  // the keys of `files`, in order
  std::map<uint64_t, Original> events;  // by position
  std::vector<std::string> streams;
  // What each read of the undamaged store returns (positions, in order).
  std::vector<uint64_t> all;
  std::map<std::string, std::vector<uint64_t>> by_stream;
  std::vector<uint64_t> tagged;
};

const Fixture& TheFixture() {
  static Fixture* fixture = [] {
    auto* f = new Fixture;
    char base[] = "/tmp/cairn-store-fuzz-XXXXXX";
    if (mkdtemp(base) == nullptr) Fail("mkdtemp failed");
    f->root = base;
    std::atexit([] {
      std::fprintf(stderr, "mmaplog_store_fuzzer: %llu damaged stores, %llu opened\n",
                   static_cast<unsigned long long>(g_tried),
                   static_cast<unsigned long long>(g_opened));
      std::error_code ec;
      fs::remove_all(TheFixture().root, ec);
    });
    f->work = f->root + "/work";
    const std::string pristine = f->root + "/pristine";
    f->streams = {"order-1", "order-2", "customer-7"};
    {
      auto log = Log::Open(SmallStoreOptions(pristine, true));
      if (!log.ok()) Fail("building the store: " + std::string(log.status().message()));
      for (int i = 0; i < 120; ++i) {
        const std::string& stream = f->streams[i % 3];
        OwnedEvent owned;
        owned.data.assign(200 + (i * 37) % 900, static_cast<char>('a' + i % 26));
        owned.type = "Type" + std::to_string(i % 5);
        owned.metadata = i % 4 == 0 ? "meta-" + std::to_string(i) : "";
        owned.writer = "fuzz";
        owned.timestamp_us += i;
        owned.tags = {"t" + std::to_string(i % 2)};
        cairn_event e = owned.View();
        cairn_append_result r{};
        r.size = sizeof r;
        absl::Status s = (*log)->Append(stream, {CAIRN_EXPECT_ANY, 0}, &e, 1, &r);
        if (!s.ok()) Fail("append: " + std::string(s.message()));
      }
      absl::Status s = (*log)->DeleteTo("order-2", 10);
      if (!s.ok()) Fail("delete-to: " + std::string(s.message()));
    }
    {
      auto log = Log::Open(SmallStoreOptions(pristine, false));
      if (!log.ok()) Fail("reopening the store: " + std::string(log.status().message()));
      absl::Status s = (*log)->ReadAll(0, UINT64_MAX, true, [&](const cairn_event& e) {
        f->events[e.position] = FromEvent(e);
        return true;
      });
      if (!s.ok() || f->events.size() != 120) Fail("reading the store back");
      for (const auto& [position, e] : f->events) f->all.push_back(position);
      for (const std::string& stream : f->streams) {
        s = (*log)->ReadStream(stream, 1, UINT64_MAX, UINT64_MAX,
                               [&](const cairn_event& e) {
                                 f->by_stream[stream].push_back(e.position);
                                 return true;
                               });
        if (!s.ok()) Fail("reading stream " + stream + " back");
      }
      s = (*log)->ReadTag("t1", 0, UINT64_MAX, [&](const cairn_event& e) {
        f->tagged.push_back(e.position);
        return true;
      });
      if (!s.ok() || f->tagged.empty()) Fail("reading tag t1 back");
      if (f->by_stream["order-2"].size() >= 40) {
        Fail("the delete-to hid nothing: the oracle would not see it undone");
      }
    }
    for (const auto& entry : fs::recursive_directory_iterator(pristine)) {
      if (!entry.is_regular_file()) continue;
      std::string rel = fs::relative(entry.path(), pristine).string();
      if (rel == "LOCK") continue;
      std::ifstream in(entry.path(), std::ios::binary);
      std::stringstream bytes;
      bytes << in.rdbuf();
      f->files[rel] = bytes.str();
    }
    // In name order, not the directory's: an input picks the same file in
    // every process, so a saved crash input reproduces.
    for (const auto& [rel, bytes] : f->files) f->names.push_back(rel);
    return f;
  }();
  return *fixture;
}

uint32_t Take24(const uint8_t*& p, const uint8_t* end) {
  uint32_t v = 0;
  for (int i = 0; i < 3 && p < end; ++i) v = (v << 8) | *p++;
  return v;
}

// Writes the store into f.work with `name` damaged as `input` says.
void WriteDamagedCopy(const Fixture& f, const uint8_t* data, size_t size) {
  const std::string& name = f.names[data[0] % f.names.size()];
  const int mode = data[1] % 4;
  const uint8_t* p = data + 2;
  const uint8_t* end = data + size;
  std::string bytes = f.files.at(name);
  switch (mode) {
    case 0:  // flip bytes: (u24 offset, u8 mask) pairs
      while (end - p >= 4 && !bytes.empty()) {
        uint32_t offset = Take24(p, end) % bytes.size();
        bytes[offset] = static_cast<char>(bytes[offset] ^ (*p++ | 1));
      }
      break;
    case 1:  // cut the file short
      bytes.resize(Take24(p, end) % (bytes.size() + 1));
      break;
    case 2: {  // splice the rest of the input in at an offset
      uint32_t offset = Take24(p, end) % (bytes.size() + 1);
      size_t n = std::min<size_t>(static_cast<size_t>(end - p), bytes.size() - offset);
      bytes.replace(offset, n, reinterpret_cast<const char*>(p), n);
      break;
    }
    default:  // the whole file is the rest of the input
      bytes.assign(reinterpret_cast<const char*>(p), static_cast<size_t>(end - p));
      break;
  }
  std::error_code ec;
  fs::remove_all(f.work, ec);
  for (const auto& [rel, original] : f.files) {
    fs::path path = fs::path(f.work) / rel;
    fs::create_directories(path.parent_path());
    std::ofstream(path, std::ios::binary) << (rel == name ? bytes : original);
  }
  // The store's own modes, or the open refuses before it reads anything.
  for (const auto& entry : fs::recursive_directory_iterator(f.work)) {
    chmod(entry.path().c_str(), entry.is_directory() ? 0700 : 0600);
  }
  chmod(f.work.c_str(), 0700);
}

void Check(const Fixture& f, const cairn_event& e, const char* read) {
  auto it = f.events.find(e.position);
  if (it == f.events.end()) {
    Fail(std::string(read) + " returned position " + std::to_string(e.position) +
         " that the store never had");
  }
  if (!Same(it->second, FromEvent(e))) {
    Fail(std::string(read) + " returned a different event at position " +
         std::to_string(e.position));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const Fixture& f = TheFixture();
  WriteDamagedCopy(f, data, size);
  auto log = Log::Open(SmallStoreOptions(f.work, false));
  ++g_tried;
  if (!log.ok()) return 0;  // refused: fine
  ++g_opened;
  // Every read that ends without an error must return what the undamaged
  // store returns: fewer is silent loss, more is a delete undone.
  auto same = [](const char* read, const std::vector<uint64_t>& got,
                 const std::vector<uint64_t>& want) {
    if (got == want) return;
    Fail(std::string(read) + " ended without an error but returned " +
         std::to_string(got.size()) +
         " event(s) where the undamaged store "
         "returns " +
         std::to_string(want.size()));
  };
  std::vector<uint64_t> got;
  absl::Status s =
      (*log)->ReadAll(0, UINT64_MAX, true, [&](const cairn_event& e) {
        Check(f, e, "read-all");
        got.push_back(e.position);
        return true;
      });
  if (s.ok()) same("read-all", got, f.all);
  for (const std::string& stream : f.streams) {
    got.clear();
    s = (*log)->ReadStream(
        stream, 1, UINT64_MAX, UINT64_MAX, [&](const cairn_event& e) {
          Check(f, e, "read-stream");
          if (Str(e.stream) != stream)
            Fail("read-stream " + stream + " returned another stream");
          got.push_back(e.position);
          return true;
        });
    if (s.ok())
      same(("read-stream " + stream).c_str(), got, f.by_stream.at(stream));
  }
  got.clear();
  s = (*log)->ReadTag("t1", 0, UINT64_MAX, [&](const cairn_event& e) {
    Check(f, e, "read-tag");
    bool tagged = false;
    for (uint32_t i = 0; i < e.tag_count; ++i) tagged |= Str(e.tags[i]) == "t1";
    if (!tagged) Fail("read-tag t1 returned an event without that tag");
    got.push_back(e.position);
    return true;
  });
  if (s.ok()) same("read-tag t1", got, f.tagged);
  return 0;
}
