#include "bench/disk_usage.h"

#include <fcntl.h>
#include <linux/fiemap.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <memory>
#include <system_error>

namespace cairn::bench {
namespace {

// Bytes of `path`'s extents flagged unwritten (allocated, never written),
// or -1 if the filesystem cannot say (no FIEMAP).
int64_t UnwrittenBytes(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  constexpr uint32_t kExtents = 256;
  std::unique_ptr<uint8_t[]> memory(
      new uint8_t[sizeof(fiemap) + kExtents * sizeof(fiemap_extent)]);
  auto* map = reinterpret_cast<fiemap*>(memory.get());
  int64_t unwritten = 0;
  uint64_t start = 0;
  // Bounded: a file has finitely many extents and `start` only grows; the
  // cap guards against a filesystem that reports no progress.
  for (int round = 0; round < 1 << 20; ++round) {
    std::memset(map, 0, sizeof(fiemap));
    map->fm_start = start;
    map->fm_length = FIEMAP_MAX_OFFSET - start;
    map->fm_flags = round == 0 ? FIEMAP_FLAG_SYNC : 0;
    map->fm_extent_count = kExtents;
    if (::ioctl(fd, FS_IOC_FIEMAP, map) != 0) {
      ::close(fd);
      return -1;
    }
    if (map->fm_mapped_extents == 0) break;
    bool last = false;
    uint64_t next = start;
    for (uint32_t i = 0; i < map->fm_mapped_extents; ++i) {
      const fiemap_extent& extent = map->fm_extents[i];
      if (extent.fe_flags & FIEMAP_EXTENT_UNWRITTEN)
        unwritten += extent.fe_length;
      if (extent.fe_flags & FIEMAP_EXTENT_LAST) last = true;
      next = extent.fe_logical + extent.fe_length;
    }
    if (last || next <= start) break;
    start = next;
  }
  ::close(fd);
  return unwritten;
}

template <typename Fn>
void ForEachFile(const std::string& dir, Fn&& fn) {
  std::error_code error;
  std::filesystem::recursive_directory_iterator it(dir, error), end;
  for (; !error && it != end; it.increment(error)) {
    struct stat st;
    if (::lstat(it->path().c_str(), &st) == 0 && S_ISREG(st.st_mode))
      fn(it->path(), st);
  }
}

}  // namespace

DiskBytes MeasureDisk(const std::string& dir) {
  DiskBytes total;
  ForEachFile(dir, [&](const std::filesystem::path& path,
                       const struct stat& st) {
    uint64_t allocated = static_cast<uint64_t>(st.st_blocks) * 512;
    int64_t unwritten = UnwrittenBytes(path.string());
    total.allocated += allocated;
    total.written += unwritten < 0
                         ? allocated
                         : allocated - std::min<uint64_t>(allocated, unwritten);
  });
  return total;
}

uint64_t AllocatedBytes(const std::string& dir) {
  uint64_t total = 0;
  ForEachFile(dir, [&](const std::filesystem::path&, const struct stat& st) {
    total += static_cast<uint64_t>(st.st_blocks) * 512;
  });
  return total;
}

void RemoveTree(const std::string& dir) {
  std::error_code error;
  std::filesystem::remove_all(dir, error);
}

}  // namespace cairn::bench
