// Byte sizes written by people — site-file values such as
// `segment-size = 256MiB`, command-line flags such as `--max-bytes 100MiB` —
// parsed by one grammar for every host and plugin. Header-only, C++17, no
// dependencies, so out-of-tree plugins use it too.
//
// Grammar (case-sensitive; docs/architecture.md, "Sizes"):
//
//   size   = digits [spaces] [unit]
//   digits = one or more of 0-9 (no sign, no fraction, no exponent)
//   unit   = B                      bytes (also: no unit)
//          | KiB | MiB | GiB | TiB  powers of 1024 (binary)
//          | k   | M   | G   | T    powers of 1000 (decimal, SI)
//
// Anything else is refused. In particular `kb`, `KB`, `kB`, `K`, `mb`,
// `MB`, `m`, `gb`, `GB`, `g` are refused as ambiguous (some tools read them
// as 1000, others as 1024): the message says to write KiB or k (MiB or M,
// ...) and what each would mean. A value above 2^64 - 1 bytes is refused.
#ifndef CAIRN_SDK_SIZE_HPP_
#define CAIRN_SDK_SIZE_HPP_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace cairn::sdk {

// One line for messages and help texts.
inline constexpr const char kSizeGrammar[] =
    "a byte size: digits, optionally followed by B, KiB, MiB, GiB, TiB "
    "(powers of 1024) or k, M, G, T (powers of 1000), e.g. 4096, 64KiB, "
    "256MiB, 10M";

namespace size_detail {

struct Unit {
  const char* name;
  uint64_t scale;
};

inline constexpr Unit kUnits[] = {
    {"", 1},
    {"B", 1},
    {"KiB", uint64_t{1} << 10},
    {"MiB", uint64_t{1} << 20},
    {"GiB", uint64_t{1} << 30},
    {"TiB", uint64_t{1} << 40},
    {"k", 1000},
    {"M", 1000 * 1000},
    {"G", 1000 * 1000 * 1000},
    {"T", uint64_t{1000} * 1000 * 1000 * 1000},
};

// For an ambiguous unit such as "kb": the binary and decimal spellings
// ("KiB", "k"), or nullptrs when `unit` is not one of them.
inline std::pair<const char*, const char*> Ambiguous(std::string_view unit) {
  if (unit.empty() || unit.size() > 2) return {nullptr, nullptr};
  if (unit.size() == 2 && unit[1] != 'b' && unit[1] != 'B') {
    return {nullptr, nullptr};
  }
  switch (unit[0]) {
    case 'k':
    case 'K':
      return {"KiB", "k"};
    case 'm':
    case 'M':
      return {"MiB", "M"};
    case 'g':
    case 'G':
      return {"GiB", "G"};
    case 't':
    case 'T':
      return {"TiB", "T"};
    default:
      return {nullptr, nullptr};
  }
}

}  // namespace size_detail

// Parses `text` by the grammar above into bytes. On failure returns nullopt
// and, when `error` is not null, sets it to a message that quotes `text` and
// says what is wrong ("'64kb': unit 'kb' is ambiguous; write 64KiB (65536
// bytes) or 64k (64000 bytes)"); the caller adds which key or flag it was.
inline std::optional<uint64_t> ParseByteSize(std::string_view text,
                                             std::string* error = nullptr) {
  auto fail = [&](const std::string& why) -> std::optional<uint64_t> {
    if (error != nullptr) *error = "'" + std::string(text) + "': " + why;
    return std::nullopt;
  };
  size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') {
    ++digits;
  }
  if (digits == 0) {
    return fail(std::string("not a size; expected ") + kSizeGrammar);
  }
  uint64_t number = 0;
  for (size_t i = 0; i < digits; ++i) {
    const uint64_t digit = static_cast<uint64_t>(text[i] - '0');
    if (number > (UINT64_MAX - digit) / 10) {
      return fail("too large (above 2^64 - 1 bytes)");
    }
    number = number * 10 + digit;
  }
  std::string_view unit = text.substr(digits);
  while (!unit.empty() && unit.front() == ' ') unit.remove_prefix(1);
  for (const size_detail::Unit& known : size_detail::kUnits) {
    if (unit != known.name) continue;
    if (number > UINT64_MAX / known.scale) {
      return fail("too large (above 2^64 - 1 bytes)");
    }
    return number * known.scale;
  }
  const std::string digits_text(text.substr(0, digits));
  if (auto [binary, decimal] = size_detail::Ambiguous(unit);
      binary != nullptr) {
    std::string why = "unit '" + std::string(unit) + "' is ambiguous; write " +
                      digits_text + binary;
    std::string decimal_text = digits_text + decimal;
    // Show what each spelling means when it fits in 64 bits.
    std::optional<uint64_t> as_binary =
        ParseByteSize(digits_text + binary, nullptr);
    std::optional<uint64_t> as_decimal = ParseByteSize(decimal_text, nullptr);
    if (as_binary) why += " (" + std::to_string(*as_binary) + " bytes)";
    why += " or " + decimal_text;
    if (as_decimal) why += " (" + std::to_string(*as_decimal) + " bytes)";
    return fail(why);
  }
  if (unit.find('.') == 0 || unit.find(',') == 0) {
    return fail(
        "fractions are not accepted; use a smaller unit (1536MiB, "
        "not 1.5GiB)");
  }
  return fail("unknown unit '" + std::string(unit) + "'; expected " +
              kSizeGrammar);
}

}  // namespace cairn::sdk

#endif  // CAIRN_SDK_SIZE_HPP_
