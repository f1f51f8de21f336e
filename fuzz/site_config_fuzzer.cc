// libFuzzer target: the site file parser (cairn::SiteConfig::Parse,
// framework/src/config.cc) on any text, and Override on any assignment.
// No crash, no hang; a parsed file serves an Override of its first line.
#include <cairn/config.h>

#include <cstddef>
#include <cstdint>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto config = cairn::SiteConfig::Parse(text, "fuzz.ini", {"server"});
  if (config.ok()) {
    (void)config->Override(text.substr(0, text.find('\n')), {"server"});
  }
  cairn::SiteConfig defaults;
  (void)defaults.Override(text);
  return 0;
}
