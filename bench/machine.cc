#include "bench/machine.h"

#include <fcntl.h>
#include <sys/statfs.h>
#include <sys/sysinfo.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <vector>

#include "absl/strings/str_cat.h"
#include "bench/stats.h"

namespace cairn::bench {
namespace {

std::string FilesystemName(const std::string& dir) {
  struct statfs fs;
  if (statfs(dir.c_str(), &fs) != 0) return "unknown";
  switch (static_cast<unsigned long>(fs.f_type)) {
    case 0xEF53: return "ext4";
    case 0x58465342: return "xfs";
    case 0x9123683E: return "btrfs";
    case 0x01021994: return "tmpfs";
    case 0x794c7630: return "overlayfs";
    case 0x2FC12FC1: return "zfs";
    default: return absl::StrCat("0x", absl::Hex(static_cast<unsigned long>(fs.f_type)));
  }
}

}  // namespace

absl::StatusOr<MachineProfile> MeasureMachine(const std::string& dir) {
  MachineProfile machine;
  machine.cores = static_cast<unsigned>(sysconf(_SC_NPROCESSORS_ONLN));
  std::ifstream cpuinfo("/proc/cpuinfo");
  for (std::string line; std::getline(cpuinfo, line);) {
    if (line.rfind("model name", 0) == 0) {
      size_t colon = line.find(':');
      if (colon != std::string::npos) machine.cpu_model = line.substr(colon + 2);
      break;
    }
  }
  struct sysinfo info;
  if (sysinfo(&info) == 0) {
    machine.memory_bytes = static_cast<uint64_t>(info.totalram) * info.mem_unit;
  }
  struct utsname name;
  if (uname(&name) == 0) machine.kernel = name.release;
  machine.filesystem = FilesystemName(dir);
  double loads[1];
  if (getloadavg(loads, 1) == 1) machine.load_average = loads[0];

  absl::StatusOr<LatencySummary> fsync = MeasureFsync(dir, 200);
  if (!fsync.ok()) return fsync.status();
  machine.fsync_p50_us = fsync->p50_us;
  machine.fsync_p99_us = fsync->p99_us;

  // memcpy: best of 8 copies of 64 MiB (pages touched first).
  constexpr size_t kBytes = size_t{64} << 20;
  std::vector<char> from(kBytes, 1), to(kBytes, 0);
  double best = 0;
  for (int i = 0; i < 8; ++i) {
    from[static_cast<size_t>(i) * 4096] = static_cast<char>(i);
    auto start = std::chrono::steady_clock::now();
    std::memcpy(to.data(), from.data(), kBytes);
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
            .count();
    if (seconds > 0) best = std::max(best, kBytes / seconds / 1e9);
  }
  if (to[4096] != from[4096])
    return absl::InternalError("memcpy probe copied wrongly");
  machine.memcpy_gb_per_s = best;
  return machine;
}

absl::StatusOr<LatencySummary> MeasureFsync(const std::string& dir,
                                            int rounds) {
  // Overwrite 4 KiB blocks of a small file and fdatasync each.
  std::string path = dir + "/.cairn-bench-fsync-probe";
  int fd = ::open(path.c_str(), O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0644);
  if (fd < 0) {
    return absl::InternalError(absl::StrCat("cannot create ", path, " to time fsync: ",
                                            std::strerror(errno)));
  }
  std::vector<char> block(4096, 'x');
  std::vector<double> samples;
  for (int i = 0; i < rounds; ++i) {
    auto start = std::chrono::steady_clock::now();
    off_t offset = static_cast<off_t>(i % 64) * 4096;
    if (::pwrite(fd, block.data(), block.size(), offset) != 4096 || ::fdatasync(fd) != 0) {
      ::close(fd);
      ::unlink(path.c_str());
      return absl::InternalError(absl::StrCat("writing/syncing ", path, ": ",
                                              std::strerror(errno)));
    }
    samples.push_back(std::chrono::duration<double, std::micro>(
                          std::chrono::steady_clock::now() - start).count());
  }
  ::close(fd);
  ::unlink(path.c_str());
  return Summarize(samples);
}

}  // namespace cairn::bench
