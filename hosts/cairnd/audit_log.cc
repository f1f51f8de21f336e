#include "audit_log.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <vector>

#include "absl/strings/str_cat.h"
#include "audit_chain.h"
#include "log.h"

namespace cairn::cairnd {
namespace {

absl::Status Errno(const std::string& what, const std::string& path) {
  return absl::InternalError(
      absl::StrCat("audit log '", path, "': ", what, ": ", std::strerror(errno)));
}

// Appends the time now, RFC 3339 UTC with microseconds
// (2026-12-03T07:45:09.123456Z). The part up to the second is made once a
// second per thread: it is most of an audit line's formatting cost.
void AppendNowUtc(std::string* out) {
  thread_local std::time_t cached_second = -1;
  thread_local char cached[80];
  const auto us = std::chrono::duration_cast<std::chrono::microseconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count();
  const std::time_t second = static_cast<std::time_t>(us / 1000000);
  if (second != cached_second) {
    std::tm tm{};
    gmtime_r(&second, &tm);
    std::snprintf(cached, sizeof(cached), "%04d-%02d-%02dT%02d:%02d:%02d.",
                  tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                  tm.tm_min, tm.tm_sec);
    cached_second = second;
  }
  out->append(cached);
  char micros[8];
  long fraction = static_cast<long>(us % 1000000);
  for (int i = 5; i >= 0; --i) {
    micros[i] = static_cast<char>('0' + fraction % 10);
    fraction /= 10;
  }
  micros[6] = 'Z';
  out->append(micros, 7);
}

// Appends `text` JSON-escaped; most names need no escaping.
void AppendJson(std::string* out, std::string_view text) {
  for (char c : text) {
    if (c == '"' || c == '\\' || static_cast<unsigned char>(c) < 0x20) {
      out->append(JsonEscape(text));
      return;
    }
  }
  out->append(text);
}

// The last complete line of `path` ("" if none), or an error when the file
// ends in a cut-off line.
absl::StatusOr<std::string> LastLine(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return std::string();
    return Errno("cannot open to read its last line", path);
  }
  struct stat info {};
  if (::fstat(fd, &info) != 0) {
    ::close(fd);
    return Errno("cannot stat", path);
  }
  // Lines are far shorter than this (names are at most 255 bytes).
  constexpr off_t kTail = 64 * 1024;
  const off_t from = info.st_size > kTail ? info.st_size - kTail : 0;
  std::string tail(static_cast<size_t>(info.st_size - from), '\0');
  const ssize_t got = ::pread(fd, tail.data(), tail.size(), from);
  ::close(fd);
  if (got != static_cast<ssize_t>(tail.size())) {
    return Errno("cannot read its tail", path);
  }
  if (tail.empty()) return std::string();
  if (tail.back() != '\n') {
    return absl::DataLossError(absl::StrCat(
        "audit log '", path,
        "' ends in a cut-off line (no newline); check it with 'cairn audit "
        "verify' and move it away to start a new file"));
  }
  tail.pop_back();
  const size_t newline = tail.rfind('\n');
  return newline == std::string::npos ? tail : tail.substr(newline + 1);
}

}  // namespace

absl::StatusOr<std::unique_ptr<AuditLog>> AuditLog::Open(
    const AuditOptions& options) {
  std::unique_ptr<AuditLog> log(new AuditLog(options));
  if (!options.key_file.empty()) {
    auto key = ReadAuditKey(options.key_file);
    if (!key.ok()) return key.status();
    log->key_ = *std::move(key);
  }
  log->head_path_ = AuditHeadPath(options.path);
  // The chain goes on from the newest line: in the file, or in the last
  // rotated one when the file is missing or empty.
  const std::string rotated = options.path + ".1";
  std::string last_file = options.path;
  auto last = LastLine(options.path);
  if (last.ok() && last->empty()) {
    last_file = rotated;
    last = LastLine(rotated);
  }
  if (!last.ok()) return last.status();
  if (last->empty()) {
    log->last_hash_ = std::string(kAuditGenesis);
  } else {
    auto link = ParseAuditLink(*last);
    if (!link.ok()) {
      return absl::DataLossError(absl::StrCat(
          "audit log '", options.path, "': its last line is not an audit line (",
          link.status().message(), "); move the file away"));
    }
    log->added_ = link->seq;
    log->written_ = link->seq;
    log->last_hash_ = AuditLineHash(*last);
  }
  if (auto s = log->CheckHead(last_file); !s.ok()) {
    return absl::DataLossError(absl::StrCat(
        s.message(),
        ". cairnd does not continue an audit chain whose end it cannot vouch "
        "for (its next head would hide this): check the files with 'cairn "
        "audit verify', keep them as evidence, and move the log files and "
        "its head away to start a new chain"));
  }
  if (auto s = log->OpenFile(); !s.ok()) return s;
  return log;
}

absl::Status AuditLog::CheckHead(const std::string& last_file) const {
  auto head = ReadAuditHead(head_path_, key_);
  if (!head.ok()) return head.status();
  if (!head->has_value()) {
    if (added_ == 0) return absl::OkStatus();  // a new log
    return absl::DataLossError(absl::StrCat(
        "audit log '", options_.path, "' holds lines up to seq ", added_,
        " but has no head file '", head_path_,
        "': the head was removed (or the log was written by a cairnd that "
        "kept none), so a cut-off end cannot be detected"));
  }
  const AuditHeadCheck check{**head, head_path_};
  if (added_ <= check.head.seq) {
    return CheckAuditLastLine(options_.path, added_, last_hash_,
                              last_file + " (its last line)", check);
  }
  // Lines past the head (a crash between a group and its head): the head's
  // line is further back, in this file or, after a rotation, the one before.
  std::vector<std::string> files;
  if (std::filesystem::exists(options_.path + ".1")) {
    files.push_back(options_.path + ".1");
  }
  files.push_back(options_.path);
  return VerifyAuditChain(files, check).status();
}

AuditLog::~AuditLog() {
  if (fd_ >= 0) ::close(fd_);
  if (head_fd_ >= 0) ::close(head_fd_);
}

absl::Status AuditLog::OpenFile() {
  fd_ = ::open(options_.path.c_str(),
               O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd_ < 0) return Errno("cannot open for appending", options_.path);
  struct stat info {};
  if (::fstat(fd_, &info) != 0) return Errno("cannot stat", options_.path);
  size_ = static_cast<uint64_t>(info.st_size);
  return absl::OkStatus();
}

uint64_t AuditLog::Add(const AuditEntry& entry) {
  // Everything but seq and prev is formatted outside the lock.
  std::string body;
  body.reserve(200 + entry.identity.size() + entry.stream.size());
  body.append(",\"time\":\"");
  AppendNowUtc(&body);
  const std::pair<std::string_view, std::string_view> fields[] = {
      {"\",\"kind\":\"", entry.kind},         {"\",\"identity\":\"", entry.identity},
      {"\",\"peer\":\"", entry.peer},         {"\",\"op\":\"", entry.operation},
      {"\",\"stream\":\"", entry.stream},     {"\",\"right\":\"", entry.right},
      {"\",\"result\":\"", entry.result}};
  for (const auto& [name, value] : fields) {
    body.append(name);
    AppendJson(&body, value);
  }
  body.append("\",\"prev\":\"");
  std::lock_guard<std::mutex> lock(mutex_);
  const uint64_t seq = ++added_;
  const size_t start = queued_.size();
  absl::StrAppend(&queued_, "{\"seq\":", seq, body, last_hash_, "\"}");
  last_hash_ = AuditLineHash(std::string_view(queued_).substr(start));
  queued_.push_back('\n');
  return seq;
}

absl::Status AuditLog::WaitWritten(uint64_t seq) {
  std::unique_lock<std::mutex> lock(mutex_);
  while (written_ < seq && failed_.ok()) {
    if (writing_) {
      written_cv_.wait(lock);
      continue;
    }
    // This thread writes the group: every line queued so far.
    writing_ = true;
    std::string group;
    group.swap(queued_);
    const uint64_t upto = added_;
    const std::string upto_hash = last_hash_;
    lock.unlock();
    absl::Status status = WriteOut(group, upto, upto_hash);
    lock.lock();
    writing_ = false;
    if (status.ok()) {
      written_ = upto;
    } else {
      failed_ = status;
      Log(spdlog::level::err, "audit log write failed; refusing requests",
          {{"error", std::string(status.message())}});
    }
    written_cv_.notify_all();
  }
  return written_ >= seq ? absl::OkStatus() : failed_;
}

uint64_t AuditLog::written() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return written_;
}

absl::Status AuditLog::WriteOut(const std::string& lines, uint64_t upto,
                                const std::string& hash) {
  if (lines.empty()) return absl::OkStatus();
  if (size_ > 0 && size_ + lines.size() > options_.max_size) {
    if (auto s = Rotate(); !s.ok()) return s;
  }
  size_t done = 0;
  while (done < lines.size()) {
    const ssize_t wrote = ::write(fd_, lines.data() + done, lines.size() - done);
    if (wrote < 0) {
      if (errno == EINTR) continue;
      return Errno("cannot write", options_.path);
    }
    done += static_cast<size_t>(wrote);
  }
  size_ += lines.size();
  if (options_.fsync && ::fdatasync(fd_) != 0) {
    return Errno("cannot fsync", options_.path);
  }
  // After the lines (and their fsync): the head never names a line the log
  // may not hold. A crash in between leaves lines past the head, which the
  // next start and 'cairn audit verify' accept.
  return WriteHead(upto, hash);
}

absl::Status AuditLog::WriteHead(uint64_t seq, const std::string& hash) {
  if (head_fd_ < 0) {
    head_fd_ = ::open(head_path_.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    if (head_fd_ < 0) return Errno("cannot open", head_path_);
  }
  // One pwrite of a fixed-size record over the old one. A reader racing it
  // may see a mix of both, which fails the MAC ('cairn audit verify' reads
  // it again).
  const std::string text = FormatAuditHead(seq, hash, key_);
  ssize_t wrote;
  do {
    wrote = ::pwrite(head_fd_, text.data(), text.size(), 0);
  } while (wrote < 0 && errno == EINTR);
  if (wrote != static_cast<ssize_t>(text.size())) {
    if (wrote >= 0) errno = EIO;
    return Errno("cannot write", head_path_);
  }
  if (options_.fsync && ::fdatasync(head_fd_) != 0) {
    return Errno("cannot fsync", head_path_);
  }
  return absl::OkStatus();
}

absl::Status AuditLog::Rotate() {
  if (options_.fsync && ::fdatasync(fd_) != 0) {
    return Errno("cannot fsync before rotating", options_.path);
  }
  ::close(fd_);
  fd_ = -1;
  const std::string& path = options_.path;
  if (options_.keep == 0) {
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
      return Errno("cannot remove to rotate", path);
    }
  } else {
    // path.N-1 -> path.N, ..., path -> path.1; the oldest falls off.
    for (unsigned i = options_.keep; i >= 1; --i) {
      const std::string from = i == 1 ? path : absl::StrCat(path, ".", i - 1);
      const std::string to = absl::StrCat(path, ".", i);
      if (::rename(from.c_str(), to.c_str()) != 0 && errno != ENOENT) {
        return Errno(absl::StrCat("cannot rename to ", to), from);
      }
    }
  }
  if (auto s = OpenFile(); !s.ok()) return s;
  if (options_.fsync) {
    // Make the renames and the new file durable.
    const size_t slash = path.rfind('/');
    const std::string dir = slash == std::string::npos ? "." : path.substr(0, slash + 1);
    const int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir_fd >= 0) {
      ::fsync(dir_fd);
      ::close(dir_fd);
    }
  }
  return absl::OkStatus();
}

}  // namespace cairn::cairnd
