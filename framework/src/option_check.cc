// Checking a plugin's options against its descriptors before open
// (cairn_option_desc; declared in cairn/plugin_registry.h).
#include <cairn/plugin_registry.h>
#include <cairn/sdk/common.hpp>
#include <cairn/status.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace cairn {
namespace {

bool AllDigits(std::string_view text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), [](char c) {
    return c >= '0' && c <= '9';
  });
}

// DURATION: digits, then nothing (ms), "ms", "s", "m" or "h".
bool IsDuration(std::string_view text) {
  size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9')
    ++digits;
  std::string_view number = text.substr(0, digits);
  std::string_view unit = text.substr(digits);
  uint64_t value = 0;
  if (number.empty() ||
      !sdk::Options::ParseUint("", std::string(number), &value).ok()) {
    return false;
  }
  return unit.empty() || unit == "ms" || unit == "s" || unit == "m" ||
         unit == "h";
}

// What is wrong with `value` for `option`, or "" if nothing.
std::string Problem(const OptionInfo& option, std::string_view value) {
  uint64_t parsed = 0;
  switch (option.type) {
    case CAIRN_OPT_UINT:
      if (!AllDigits(value) ||
          !sdk::Options::ParseUint(option.key, std::string(value), &parsed)
               .ok()) {
        return "not an unsigned integer (0..18446744073709551615)";
      }
      return "";
    case CAIRN_OPT_SIZE:
      if (!sdk::Options::ParseSize(option.key, std::string(value), &parsed)
               .ok()) {
        return "not a size (examples: 4096, 64KiB, 256MiB, 1GiB)";
      }
      return "";
    case CAIRN_OPT_BOOL:
      return value == "true" || value == "false" ? "" : "allowed: true, false";
    case CAIRN_OPT_ENUM:
      if (std::find(option.allowed.begin(), option.allowed.end(), value) !=
          option.allowed.end()) {
        return "";
      }
      return absl::StrCat("allowed: ", absl::StrJoin(option.allowed, ", "));
    case CAIRN_OPT_DURATION:
      return IsDuration(value) ? ""
                               : "not a duration (examples: 250ms, 5s, 2m, 1h; "
                                 "a plain number is ms)";
    case CAIRN_OPT_PATH:
      return value.empty() ? "not a path (it is empty)" : "";
    default:
      return "";
  }
}

}  // namespace

const char* OptionTypeName(uint32_t type) {
  switch (type) {
    case CAIRN_OPT_STRING:
      return "string";
    case CAIRN_OPT_UINT:
      return "uint";
    case CAIRN_OPT_SIZE:
      return "size";
    case CAIRN_OPT_BOOL:
      return "bool";
    case CAIRN_OPT_ENUM:
      return "enum";
    case CAIRN_OPT_DURATION:
      return "duration";
    case CAIRN_OPT_PATH:
      return "path";
    default:
      return "unknown";
  }
}

absl::Status CheckOptionValue(std::string_view section,
                              const OptionInfo& option,
                              std::string_view value) {
  std::string problem = Problem(option, value);
  if (problem.empty()) return absl::OkStatus();
  // absl here has its own string_view: pass std::strings.
  const std::string shown((option.flags & CAIRN_OPT_SECRET) != 0 ? "***"
                                                                 : value);
  return MakeStatus(CAIRN_E_INVALID_ARGUMENT,
                    absl::StrCat("[", std::string(section), "] ", option.key,
                                 " = '", shown, "': ", problem));
}

absl::Status CheckOptions(
    std::string_view section, std::string_view plugin,
    const std::vector<OptionInfo>& described,
    const std::vector<std::pair<std::string, std::string>>& options) {
  const std::string section_name(section), plugin_name(plugin);
  for (const auto& [key, value] : options) {
    auto it = std::find_if(described.begin(), described.end(),
                           [&](const OptionInfo& o) { return o.key == key; });
    if (it == described.end()) {
      std::vector<std::string> keys;
      for (const OptionInfo& o : described) keys.push_back(o.key);
      return MakeStatus(
          CAIRN_E_INVALID_ARGUMENT,
          absl::StrCat(
              "[", section_name, "] '", key, "' is not an option of ",
              section_name, " plugin '", plugin_name, "' (it accepts: ",
              keys.empty() ? "no options" : absl::StrJoin(keys, ", "), ")"));
    }
    absl::Status s = CheckOptionValue(section, *it, value);
    if (!s.ok()) return s;
  }
  for (const OptionInfo& o : described) {
    if ((o.flags & CAIRN_OPT_REQUIRED) == 0 ||
        (o.flags & CAIRN_OPT_HOST_DEFINED) != 0) {
      continue;
    }
    bool set = std::any_of(options.begin(), options.end(),
                           [&](const auto& kv) { return kv.first == o.key; });
    if (!set) {
      return MakeStatus(
          CAIRN_E_INVALID_ARGUMENT,
          absl::StrCat("[", section_name, "] ", o.key, " is required by ",
                       section_name, " plugin '", plugin_name, "' (",
                       OptionTypeName(o.type), o.help.empty() ? "" : ": ",
                       o.help, ")"));
    }
  }
  return absl::OkStatus();
}

}  // namespace cairn
