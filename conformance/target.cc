#include "target.h"

#include <cairn/status.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>
#include <ostream>
#include <random>
#include <set>

namespace cairn::conformance {
namespace {

std::mutex& Mu() {
  static std::mutex mu;
  return mu;
}
std::vector<Target>& Targets() {
  static std::vector<Target> targets;
  return targets;
}
std::map<std::string, std::set<std::string>>& Skips() {
  static std::map<std::string, std::set<std::string>> skips;
  return skips;
}

}  // namespace

bool Target::AcceptsOption(const std::string& key) const {
  std::vector<std::string> keys = plugin->option_keys();
  return std::find(keys.begin(), keys.end(), key) != keys.end();
}

bool Target::HasOption(const std::string& key) const {
  return std::any_of(options.begin(), options.end(),
                     [&](const auto& kv) { return kv.first == key; });
}

void PrintTo(const Target& target, std::ostream* out) {
  *out << (target.plugin ? target.plugin->name() : "?") << " (" << target.path
       << ")";
}

absl::Status AddTarget(Target target) {
  if (target.plugin == nullptr) {
    return absl::InvalidArgumentError("AddTarget: no plugin loaded for '" +
                                      target.path + "'");
  }
  for (const auto& [key, value] : target.options) {
    if (!target.AcceptsOption(key)) {
      std::string accepted;
      for (const std::string& k : target.plugin->option_keys()) {
        accepted += (accepted.empty() ? "" : ", ") + k;
      }
      return absl::InvalidArgumentError(
          "option '" + key + "' is not one that plugin '" +
          target.plugin->name() + "' accepts (it accepts: " +
          (accepted.empty() ? "no options" : accepted) + ")");
    }
  }
  std::string section = KindName(target.plugin->kind());
  if (absl::Status s = CheckOptions(section, target.plugin->name(),
                                    target.plugin->options(), target.options);
      !s.ok()) {
    return s;
  }
  if (target.passthrough_cipher &&
      target.plugin->kind() != CAIRN_KIND_CIPHER) {
    return absl::InvalidArgumentError(
        "--passthrough-cipher applies to cipher plugins only; '" +
        target.plugin->name() + "' is a " + KindName(target.plugin->kind()) +
        " plugin");
  }
  std::lock_guard<std::mutex> lock(Mu());
  Targets().push_back(std::move(target));
  return absl::OkStatus();
}

absl::Status TrialOpen(const Target& target) {
  ErrorBuffer error;
  cairn_status st = CAIRN_OK;
  OpenOptions options(target);
  switch (target.plugin->kind()) {
    case CAIRN_KIND_STORAGE: {
      const cairn_storage_api* api = target.plugin->storage();
      cairn_storage* store = nullptr;
      st = api->open(options.get(), &store, error.get());
      if (st == CAIRN_OK) api->close(store);
      break;
    }
    case CAIRN_KIND_CODEC: {
      const cairn_codec_api* api = target.plugin->codec();
      cairn_codec* codec = nullptr;
      st = api->open(options.get(), &codec, error.get());
      if (st == CAIRN_OK) api->close(codec);
      break;
    }
    case CAIRN_KIND_CIPHER: {
      const cairn_cipher_api* api = target.plugin->cipher();
      cairn_cipher* cipher = nullptr;
      st = api->open(options.get(), &cipher, error.get());
      if (st == CAIRN_OK) api->close(cipher);
      break;
    }
    default:
      return absl::OkStatus();
  }
  if (st == CAIRN_OK) return absl::OkStatus();
  return absl::InvalidArgumentError(
      std::string(KindName(target.plugin->kind())) + " plugin '" +
      target.plugin->name() +
      "' refuses to open with these options: " + Describe(st, error.message));
}

namespace {
// "Plugin/Suite" -> "Suite", "Name/param" -> "Name".
std::string BaseName(const std::string& name, bool suite) {
  const size_t slash = name.find('/');
  if (slash == std::string::npos) return name;
  return suite ? name.substr(slash + 1) : name.substr(0, slash);
}
std::map<std::string, const char*>& TestRules() {
  static std::map<std::string, const char*> rules;
  return rules;
}
}  // namespace

bool RegisterTestRule(const char* suite, const char* test, const char* rule) {
  TestRules()[std::string(suite) + "." + test] = rule;
  return true;
}

const char* TestRule(const std::string& suite, const std::string& test) {
  auto it =
      TestRules().find(BaseName(suite, true) + "." + BaseName(test, false));
  return it == TestRules().end() ? nullptr : it->second;
}

std::string RuleOf(const std::string& message, const std::string& suite,
                   const std::string& test) {
  for (const char* rule : kAllRules) {
    if (message.find(rule) != std::string::npos) return rule;
  }
  const char* rule = TestRule(suite, test);
  return rule != nullptr ? rule : "unnamed rule";
}

std::string WithoutSourcePaths(const std::string& message) {
  std::string out;
  size_t begin = 0;
  while (begin <= message.size()) {
    size_t end = message.find('\n', begin);
    if (end == std::string::npos) end = message.size();
    std::string line = message.substr(begin, end - begin);
    begin = end + 1;
    if (line == "Google Test trace:") continue;
    // "<path>.<ext>:<line>: text" -> "text"
    size_t colon = line.find(": ");
    if (colon != std::string::npos) {
      size_t digits = line.rfind(':', colon - 1);
      if (digits != std::string::npos && digits + 1 < colon &&
          std::all_of(line.begin() + static_cast<long>(digits) + 1,
                      line.begin() + static_cast<long>(colon),
                      [](char c) {
                        return std::isdigit(static_cast<unsigned char>(c));
                      }) &&
          line.find(' ') > digits) {
        line = "while: " + line.substr(colon + 2);
      }
    }
    out += line;
    if (end < message.size()) out += '\n';
  }
  return out;
}

std::vector<Target> TargetsOfKind(cairn_plugin_kind kind) {
  std::lock_guard<std::mutex> lock(Mu());
  std::vector<Target> out;
  for (const Target& t : Targets()) {
    if (t.plugin->kind() == kind) out.push_back(t);
  }
  return out;
}

std::string TargetName(const ::testing::TestParamInfo<Target>& info) {
  std::string name = info.param.plugin->name();
  for (char& c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  }
  return name;
}

TempDir::TempDir(const std::string& parent) {
  std::filesystem::path base = parent.empty()
                                   ? std::filesystem::temp_directory_path()
                                   : std::filesystem::path(parent);
  std::string pattern = (base / "cairn-conformance-XXXXXX").string();
  std::vector<char> buffer(pattern.begin(), pattern.end());
  buffer.push_back('\0');
  if (mkdtemp(buffer.data()) == nullptr) {
    ADD_FAILURE() << "cannot create a temporary folder from " << pattern
                  << ": " << std::strerror(errno);
    return;
  }
  path_ = buffer.data();
}

TempDir::~TempDir() {
  if (path_.empty()) return;
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

OpenOptions::OpenOptions(const Target& target) : values_(target.options) {
  if (target.AcceptsOption("path")) {
    auto given = std::find_if(values_.begin(), values_.end(),
                              [](const auto& kv) { return kv.first == "path"; });
    if (given == values_.end()) {
      temp_ = std::make_unique<TempDir>();
      values_.emplace_back("path", temp_->path());
    } else {
      // A user-given path is the parent of a fresh folder per test, so tests
      // never share a store.
      temp_ = std::make_unique<TempDir>(given->second);
      given->second = temp_->path();
    }
    store_path_ = temp_->path();
  }
  for (const auto& [k, v] : values_) {
    items_.push_back(cairn_option{k.c_str(), v.c_str()});
  }
  options_.items = items_.empty() ? nullptr : items_.data();
  options_.count = items_.size();
}

std::string NoteSkip(const std::string& capability, const std::string& what) {
  {
    std::lock_guard<std::mutex> lock(Mu());
    Skips()[capability].insert(what);
  }
  return "the plugin does not declare " + capability + ": " + what +
         " not tested";
}

void PrintSkipSummary(std::ostream& out) {
  std::lock_guard<std::mutex> lock(Mu());
  if (Skips().empty()) {
    out << "[ CAIRN    ] skipped capabilities: none\n";
    return;
  }
  out << "[ CAIRN    ] skipped, because the plugin does not declare or "
         "offer:\n";
  for (const auto& [capability, whats] : Skips()) {
    out << "[ CAIRN    ]   " << capability << ": ";
    bool first = true;
    for (const std::string& w : whats) {
      out << (first ? "" : "; ") << w;
      first = false;
    }
    out << "\n";
  }
}

std::string Describe(cairn_status code, const char* message) {
  return std::string(CodeName(code)) + (message && *message ? ": " : "") +
         (message ? message : "");
}

std::string RandomBytes(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string out(n, '\0');
  for (char& c : out) c = static_cast<char>(rng());
  return out;
}

OutputBuffer::OutputBuffer(std::string prefix, bool exact_growth,
                           bool refuse_growth)
    : storage_(prefix.size() + kSlack, kSlackCanary),
      exact_growth_(exact_growth),
      refuse_growth_(refuse_growth) {
  std::copy(prefix.begin(), prefix.end(), storage_.begin());
  buffer_.data = storage_.data();
  buffer_.size = prefix.size();
  buffer_.capacity = prefix.size();
  buffer_.reserve = &OutputBuffer::Reserve;
  buffer_.owner = this;
}

OutputBuffer::~OutputBuffer() { CheckSlack(); }

void OutputBuffer::CheckSlack() const {
  for (size_t i = 0; i < kSlack; ++i) {
    if (storage_[buffer_.capacity + i] != kSlackCanary) {
      ADD_FAILURE() << kRuleWritesWithinReserved << ": the plugin wrote byte "
                    << buffer_.capacity + i << " of an output buffer whose "
                    << "capacity was " << buffer_.capacity << " (size "
                    << buffer_.size << ")";
      return;
    }
  }
}

int OutputBuffer::Reserve(cairn_buffer* buffer, size_t additional) {
  auto* self = static_cast<OutputBuffer*>(buffer->owner);
  if (self->refuse_growth_) return -1;
  size_t needed = buffer->size + additional;
  if (needed <= buffer->capacity) return 0;
  self->CheckSlack();
  size_t capacity = self->exact_growth_
                        ? needed
                        : std::max(needed, buffer->capacity * 2 + 64);
  self->storage_.resize(capacity + kSlack);
  std::fill(self->storage_.begin() + static_cast<long>(capacity),
            self->storage_.end(), kSlackCanary);
  buffer->data = self->storage_.data();
  buffer->capacity = capacity;
  return 0;
}

CanaryBuffer::CanaryBuffer(const std::string& prefix, size_t spare)
    : storage_(prefix.size() + spare + OutputBuffer::kSlack, kCanary) {
  std::copy(prefix.begin(), prefix.end(), storage_.begin());
  buffer_.data = storage_.data();
  buffer_.size = prefix.size();
  buffer_.capacity = prefix.size() + spare;
  buffer_.reserve = &CanaryBuffer::Reserve;
  buffer_.owner = this;
}

int CanaryBuffer::Reserve(cairn_buffer* buffer, size_t additional) {
  auto* self = static_cast<CanaryBuffer*>(buffer->owner);
  size_t needed = buffer->size + additional;
  if (needed <= buffer->capacity) return 0;
  size_t capacity = std::max(needed, buffer->capacity * 2);
  self->storage_.resize(capacity + OutputBuffer::kSlack, kCanary);
  buffer->data = self->storage_.data();
  buffer->capacity = capacity;
  return 0;
}

long CanaryBuffer::FirstChangedSpareByte() const {
  for (size_t i = buffer_.size; i < buffer_.capacity; ++i) {
    if (buffer_.data[i] != kCanary) return static_cast<long>(i);
  }
  return -1;
}

GuardedBuffer::GuardedBuffer() {
  buffer_.reserve = &GuardedBuffer::Reserve;
  buffer_.owner = this;
  Map(0);
}

GuardedBuffer::~GuardedBuffer() {
  if (map_ != nullptr) munmap(map_, map_size_);
}

bool GuardedBuffer::Map(size_t capacity) {
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  const size_t data_pages = (capacity + page - 1) / page;
  const size_t size = (data_pages + 1) * page;
  void* map = mmap(nullptr, size, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (map == MAP_FAILED) return false;
  uint8_t* guard = static_cast<uint8_t*>(map) + data_pages * page;
  if (mprotect(guard, page, PROT_NONE) != 0) {
    munmap(map, size);
    return false;
  }
  // The data ends exactly where the guard page begins.
  uint8_t* data = guard - capacity;
  if (buffer_.size != 0) std::memcpy(data, buffer_.data, buffer_.size);
  if (map_ != nullptr) munmap(map_, map_size_);
  map_ = map;
  map_size_ = size;
  buffer_.data = data;
  buffer_.capacity = capacity;
  return true;
}

int GuardedBuffer::Reserve(cairn_buffer* buffer, size_t additional) {
  auto* self = static_cast<GuardedBuffer*>(buffer->owner);
  size_t needed = buffer->size + additional;
  if (needed <= buffer->capacity) return 0;
  return self->Map(needed) ? 0 : -1;
}

ChildOutcome RunInChild(const std::function<std::string()>& check,
                        unsigned timeout_seconds) {
  ChildOutcome outcome;
  int fds[2];
  if (pipe(fds) != 0) {
    outcome.crash = std::string("cannot make a pipe: ") + std::strerror(errno);
    return outcome;
  }
  std::fflush(nullptr);
  pid_t pid = fork();
  if (pid < 0) {
    outcome.crash = std::string("cannot fork: ") + std::strerror(errno);
    close(fds[0]);
    close(fds[1]);
    return outcome;
  }
  if (pid == 0) {
    close(fds[0]);
    alarm(timeout_seconds);
    std::string failure = check();
    std::string report = "R" + failure;  // "R": the check returned
    size_t done = 0;
    while (done < report.size()) {
      ssize_t n = write(fds[1], report.data() + done, report.size() - done);
      if (n <= 0) break;
      done += static_cast<size_t>(n);
    }
    _exit(0);
  }
  close(fds[1]);
  std::string report;
  char chunk[4096];
  for (;;) {
    ssize_t n = read(fds[0], chunk, sizeof(chunk));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    report.append(chunk, static_cast<size_t>(n));
  }
  close(fds[0]);
  int wstatus = 0;
  while (waitpid(pid, &wstatus, 0) < 0 && errno == EINTR) {
  }
  if (WIFSIGNALED(wstatus)) {
    int sig = WTERMSIG(wstatus);
    outcome.crash =
        std::string("the child process died of signal ") + std::to_string(sig) +
        " (" + strsignal(sig) + ")" +
        (sig == SIGALRM ? " after " + std::to_string(timeout_seconds) + " s"
                        : "");
    return outcome;
  }
  if (!WIFEXITED(wstatus) || WEXITSTATUS(wstatus) != 0 || report.empty() ||
      report[0] != 'R') {
    outcome.crash = "the child process exited with status " +
                    std::to_string(WEXITSTATUS(wstatus)) + " before reporting";
    return outcome;
  }
  outcome.ran = true;
  outcome.failure = report.substr(1);
  return outcome;
}

}  // namespace cairn::conformance
