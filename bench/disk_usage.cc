#include "bench/disk_usage.h"

#include <sys/stat.h>

#include <filesystem>
#include <system_error>

namespace cairn::bench {

uint64_t AllocatedBytes(const std::string& dir) {
  std::error_code error;
  uint64_t total = 0;
  std::filesystem::recursive_directory_iterator it(dir, error), end;
  for (; !error && it != end; it.increment(error)) {
    struct stat st;
    if (::lstat(it->path().c_str(), &st) == 0 && S_ISREG(st.st_mode)) {
      total += static_cast<uint64_t>(st.st_blocks) * 512;
    }
  }
  return total;
}

void RemoveTree(const std::string& dir) {
  std::error_code error;
  std::filesystem::remove_all(dir, error);
}

}  // namespace cairn::bench
