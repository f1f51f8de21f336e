#include "target.h"

#include <cairn/status.h>
#include <stdlib.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>
#include <random>
#include <ostream>
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
    : storage_(prefix.begin(), prefix.end()),
      exact_growth_(exact_growth),
      refuse_growth_(refuse_growth) {
  buffer_.data = storage_.data();
  buffer_.size = storage_.size();
  buffer_.capacity = storage_.size();
  buffer_.reserve = &OutputBuffer::Reserve;
  buffer_.owner = this;
}

int OutputBuffer::Reserve(cairn_buffer* buffer, size_t additional) {
  auto* self = static_cast<OutputBuffer*>(buffer->owner);
  if (self->refuse_growth_) return -1;
  size_t needed = buffer->size + additional;
  if (needed <= buffer->capacity) return 0;
  size_t capacity = self->exact_growth_
                        ? needed
                        : std::max(needed, buffer->capacity * 2 + 64);
  self->storage_.resize(capacity);
  buffer->data = self->storage_.data();
  buffer->capacity = capacity;
  return 0;
}

}  // namespace cairn::conformance
