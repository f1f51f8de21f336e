#include "seal_registry.h"

#include <cairn/status.h>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace cairn {
namespace {

bool ParseHex(absl::string_view hex, std::string* out) {
  if (hex.empty() || hex.size() % 2 != 0) return false;
  for (char c : hex) {
    if (!absl::ascii_isxdigit(static_cast<unsigned char>(c))) return false;
  }
  *out = absl::HexStringToBytes(hex);
  return true;
}

}  // namespace

std::string FormatSealRegistry(const std::vector<SealKey>& keys) {
  std::string out = "# cairn seal registry v1: key <cipher> <key id> <check value> <recorded us>\n";
  for (const SealKey& key : keys) {
    absl::StrAppend(&out, "key ", key.cipher, " ", key.key_id, " ",
                    absl::BytesToHexString(key.check_value), " ", key.recorded_us, "\n");
  }
  return out;
}

absl::StatusOr<std::vector<SealKey>> ParseSealRegistry(std::string_view text,
                                                       std::string_view what) {
  std::vector<SealKey> keys;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(absl::string_view(text.data(), text.size()), '\n')) {
    ++line_number;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line[0] == '#') continue;
    std::vector<absl::string_view> words = absl::StrSplit(line, ' ', absl::SkipEmpty());
    SealKey key;
    std::string check_value;
    bool ok = words.size() == 5 && words[0] == "key" && !words[1].empty() &&
              absl::SimpleAtoi(words[2], &key.key_id) && key.key_id != 0 &&
              ParseHex(words[3], &check_value) &&
              absl::SimpleAtoi(words[4], &key.recorded_us);
    if (!ok) {
      return MakeStatus(CAIRN_E_CORRUPTION,
                        absl::StrCat(absl::string_view(what.data(), what.size()), " line ",
                                     line_number,
                                     ": expected 'key <cipher> <key id 1..4294967295> "
                                     "<check value in hex> <recorded at, us>'"));
    }
    key.cipher = std::string(words[1]);
    key.check_value = std::move(check_value);
    keys.push_back(std::move(key));
  }
  return keys;
}

}  // namespace cairn
