#include <cairn/event.h>

namespace cairn {

std::string ExpectedRevision::ToString() const {
  switch (kind_) {
    case Kind::kAny: return "any";
    case Kind::kNoStream: return "no stream";
    case Kind::kExact: return std::to_string(revision_);
  }
  return "?";
}

}  // namespace cairn
