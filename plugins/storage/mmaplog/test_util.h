// Helpers shared by the mmaplog tests: scratch directories and events.
#ifndef CAIRN_PLUGINS_STORAGE_MMAPLOG_TEST_UTIL_H_
#define CAIRN_PLUGINS_STORAGE_MMAPLOG_TEST_UTIL_H_

#include <cairn/plugin.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "crc32c.h"
#include "log.h"
#include "record.h"

namespace cairn::mmaplog::testing {

// Options for a small store in `path`: 64 KiB segments, no syncs, a small
// stream table (tests and fuzz targets).
inline LogOptions SmallStoreOptions(const std::string& path,
                                    bool create = true) {
  LogOptions o;
  o.path = path;
  o.create = create;
  o.segment_size = 64 << 10;
  o.fsync = FsyncMode::kNever;
  o.stream_bucket_bits = 8;
  return o;
}

// A fresh directory under $TMPDIR, removed with its contents on destruction.
class ScratchDir {
 public:
  ScratchDir() {
    std::string base = std::filesystem::temp_directory_path().string() +
                       "/mmaplog-test-XXXXXX";
    std::vector<char> buf(base.begin(), base.end());
    buf.push_back('\0');
    char* made = mkdtemp(buf.data());
    path_ = made != nullptr ? made : "";
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Copies the folder of a store that is open, as a kill -9 at that moment
// would leave it. The store's background thread may rename a file (its
// checkpoint.tmp) while the copy runs, which fails the copy with "No such
// file or directory"; the copy then starts again on an emptied target.
inline void CopyOpenStore(const std::string& from, const std::string& to) {
  for (int attempt = 1;; ++attempt) {
    std::filesystem::create_directories(to);
    // The store refuses a folder others can use: keep the source's mode.
    std::filesystem::permissions(to,
                                 std::filesystem::status(from).permissions());
    for (const auto& entry : std::filesystem::directory_iterator(to)) {
      std::filesystem::remove_all(entry.path());
    }
    std::error_code ec;
    std::filesystem::copy(from, to, std::filesystem::copy_options::recursive,
                          ec);
    if (!ec) return;
    if (ec != std::errc::no_such_file_or_directory || attempt == 50) {
      throw std::filesystem::filesystem_error("copy of an open store", from, to,
                                              ec);
    }
  }
}

// An event whose byte fields live in the object.
struct OwnedEvent {
  std::string type = "Type";
  std::string data;
  std::string metadata;
  std::string writer;
  int64_t timestamp_us = 1700000000000000;
  std::vector<std::string> tags;
  std::vector<cairn_bytes> tag_bytes;

  cairn_event View() {
    tag_bytes.clear();
    for (const std::string& t : tags) {
      tag_bytes.push_back(
          cairn_bytes{reinterpret_cast<const uint8_t*>(t.data()), t.size()});
    }
    cairn_event e{};
    e.size = sizeof e;
    e.type = Bytes(type);
    e.data = Bytes(data);
    e.metadata = Bytes(metadata);
    e.writer = Bytes(writer);
    e.timestamp_us = timestamp_us;
    e.tag_count = static_cast<uint32_t>(tag_bytes.size());
    e.tags = tag_bytes.empty() ? nullptr : tag_bytes.data();
    return e;
  }
  static cairn_bytes Bytes(const std::string& s) {
    return cairn_bytes{reinterpret_cast<const uint8_t*>(s.data()), s.size()};
  }
};

inline std::string Str(cairn_bytes b) {
  return std::string(reinterpret_cast<const char*>(b.data), b.size);
}

inline Expected Any() { return Expected{CAIRN_EXPECT_ANY, 0}; }
inline Expected NoStream() { return Expected{CAIRN_EXPECT_NO_STREAM, 0}; }
inline Expected Exact(uint64_t r) { return Expected{CAIRN_EXPECT_EXACT, r}; }

// Makes the closed store at `dir` look as a build from before control
// records left it after delete_to calls: appends (stream, revision) entries
// to deletes.log in its format (u32 length, u32 CRC32C, u64 revision,
// name) and lets the newest segment's durable mark claim them.
inline void WriteLegacyDeletes(
    const std::string& dir,
    const std::vector<std::pair<std::string, uint64_t>>& entries) {
  std::string bytes;
  for (const auto& [name, revision] : entries) {
    std::string body(8 + name.size(), '\0');
    std::memcpy(body.data(), &revision, 8);
    std::memcpy(body.data() + 8, name.data(), name.size());
    const uint32_t len = static_cast<uint32_t>(body.size());
    const uint32_t crc = Crc32c(0, body.data(), body.size());
    bytes.append(reinterpret_cast<const char*>(&len), 4);
    bytes.append(reinterpret_cast<const char*>(&crc), 4);
    bytes += body;
  }
  const std::string path = dir + "/deletes.log";
  {
    std::ofstream out(path, std::ios::binary | std::ios::app);
    out << bytes;
  }
  std::filesystem::permissions(path, std::filesystem::perms::owner_read |
                                         std::filesystem::perms::owner_write);
  // The newest segment in use (spares made ahead of need have flags 0).
  std::string newest;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    const std::string n = e.path().filename().string();
    if (n.size() != 12 || !n.ends_with(".log") || n <= newest) continue;
    std::ifstream in(e.path(), std::ios::binary);
    uint8_t h[16] = {};
    in.read(reinterpret_cast<char*>(h), sizeof h);
    uint32_t flags;
    std::memcpy(&flags, h + 12, 4);
    if ((flags & kSegmentInUse) != 0) newest = n;
  }
  std::fstream f(dir + "/" + newest,
                 std::ios::in | std::ios::out | std::ios::binary);
  uint8_t header[kSegmentHeaderSize];
  f.read(reinterpret_cast<char*>(header), sizeof header);
  DurableMark mark;
  if (!DecodeDurableMark(header, &mark)) mark = DurableMark{};
  mark.deletes_bytes = std::filesystem::file_size(path);
  EncodeDurableMark(header, mark);
  f.seekp(0);
  f.write(reinterpret_cast<const char*>(header), sizeof header);
}

}  // namespace cairn::mmaplog::testing

#endif  // CAIRN_PLUGINS_STORAGE_MMAPLOG_TEST_UTIL_H_
