#include "index.h"

namespace cairn::mmaplog {

uint64_t HashName(std::string_view name) {
  // FNV-1a, then a final mix so that low bits (the bucket) depend on all.
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : name) {
    h ^= c;
    h *= 1099511628211ull;
  }
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  return h;
}

}  // namespace cairn::mmaplog
