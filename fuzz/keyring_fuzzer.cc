// libFuzzer target: the keyring file parser (plugins/cipher/keyring). No
// crash, no hang; a keyring that parses serializes to text that parses to
// the same keys, and serializes the same again.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "keyring.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  cairn::keyring::Keyring parsed;
  if (!cairn::keyring::Keyring::Parse(text, "fuzz", &parsed).ok()) return 0;
  const std::string serialized = parsed.Serialize();
  cairn::keyring::Keyring again;
  auto status = cairn::keyring::Keyring::Parse(serialized, "serialized", &again);
  if (!status.ok() || again.Serialize() != serialized ||
      again.active_id() != parsed.active_id() || again.ids() != parsed.ids()) {
    std::fprintf(stderr, "keyring_fuzzer: a parsed keyring does not survive Serialize\n");
    std::abort();
  }
  return 0;
}
