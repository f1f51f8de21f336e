// Parsing helpers for the line-oriented text files of the keyring folder
// (the keyring and its seal usage file): words and decimal numbers.
#ifndef CAIRN_PLUGINS_CIPHER_KEYRING_DIRECTIVE_TEXT_H_
#define CAIRN_PLUGINS_CIPHER_KEYRING_DIRECTIVE_TEXT_H_

#include <cairn/sdk/common.hpp>

#include <cstdint>
#include <string_view>
#include <vector>

namespace cairn::keyring {

// Splits a line into words separated by spaces or tabs.
inline std::vector<std::string_view> Words(std::string_view line) {
  std::vector<std::string_view> words;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    size_t start = i;
    while (i < line.size() && line[i] != ' ' && line[i] != '\t') ++i;
    if (i > start) words.push_back(line.substr(start, i - start));
  }
  return words;
}

// Parses a decimal number of digits only, at most `max`. False for an empty
// word, any other character, or a value above `max` (no overflow).
inline bool ParseDecimal(std::string_view word, uint64_t max, uint64_t* out) {
  if (word.empty() || word.size() > 20) return false;
  uint64_t value = 0;
  for (char c : word) {
    if (c < '0' || c > '9') return false;
    uint64_t digit = static_cast<uint64_t>(c - '0');
    if (value > (max - digit) / 10) return false;
    value = value * 10 + digit;
  }
  *out = value;
  return true;
}

// Calls `directive(line_number, words)` (returning sdk::Status) for each
// line of `text` that is neither blank nor a '#' comment, stopping at the
// first failure, which it returns. Lines end with LF or CRLF. Sets
// *line_count to the number of lines.
template <typename Directive>
sdk::Status ForEachDirective(std::string_view text, Directive&& directive,
                             size_t* line_count) {
  size_t line_number = 0;
  size_t begin = 0;
  sdk::Status status;
  while (begin <= text.size() && status.ok()) {
    size_t end = text.find('\n', begin);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(begin, end - begin);
    ++line_number;
    begin = end + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    std::vector<std::string_view> words = Words(line);
    if (!words.empty() && words[0][0] != '#') {
      status = directive(line_number, words);
    }
    if (end == text.size()) break;
  }
  *line_count = line_number;
  return status;
}

}  // namespace cairn::keyring

#endif  // CAIRN_PLUGINS_CIPHER_KEYRING_DIRECTIVE_TEXT_H_
