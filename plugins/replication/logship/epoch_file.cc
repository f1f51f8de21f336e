#include "epoch_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace cairn::logship {

namespace {
constexpr char kHeader[] = "cairn-logship-epoch 1";

absl::Status Errno(absl::string_view what, const std::string& path) {
  return absl::InternalError(
      absl::StrCat(what, " ", path, ": ", std::strerror(errno)));
}
}  // namespace

std::string EpochFilePath(const std::string& state_dir) {
  return state_dir + "/epoch";
}

absl::StatusOr<EpochRecord> LoadEpoch(const std::string& state_dir) {
  const std::string path = EpochFilePath(state_dir);
  std::ifstream in(path);
  if (!in) {
    if (errno == ENOENT) return EpochRecord{};
    return Errno("cannot read", path);
  }
  std::string header, line;
  std::getline(in, header);
  std::getline(in, line);
  if (header != kHeader) {
    return absl::DataLossError(absl::StrCat(
        path, ": line 1 is not '", kHeader,
        "' (not a logship epoch file; move it away to start afresh)"));
  }
  std::vector<std::string> parts = absl::StrSplit(line, ' ');
  EpochRecord record;
  if (parts.size() != 2 || !absl::SimpleAtoi(parts[0], &record.epoch)) {
    return absl::DataLossError(absl::StrCat(
        path, ": line 2 '", line, "' is not '<epoch> <primary node id>'"));
  }
  record.primary = parts[1];
  return record;
}

absl::Status SaveEpoch(const std::string& state_dir,
                       const EpochRecord& record) {
  if (::mkdir(state_dir.c_str(), 0755) != 0 && errno != EEXIST) {
    return Errno("cannot create state-dir", state_dir);
  }
  const std::string path = EpochFilePath(state_dir);
  const std::string temporary = path + ".tmp";
  const std::string text =
      absl::StrCat(kHeader, "\n", record.epoch, " ", record.primary, "\n");
  int fd =
      ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Errno("cannot create", temporary);
  const bool written = ::write(fd, text.data(), text.size()) ==
                           static_cast<ssize_t>(text.size()) &&
                       ::fsync(fd) == 0;
  const int saved = errno;
  ::close(fd);
  errno = saved;
  if (!written) return Errno("cannot write", temporary);
  if (::rename(temporary.c_str(), path.c_str()) != 0) {
    return Errno("cannot rename into", path);
  }
  int dir = ::open(state_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0) return Errno("cannot open", state_dir);
  const bool synced = ::fsync(dir) == 0;
  ::close(dir);
  if (!synced) return Errno("cannot fsync", state_dir);
  return absl::OkStatus();
}

}  // namespace cairn::logship
