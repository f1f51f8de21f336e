#include "stream_order.h"

namespace cairn::cairnd {

std::string_view OrderedStream(const v1::Request& request) {
  switch (request.body_case()) {
    case v1::Request::kAppend:
      return request.append().stream();
    case v1::Request::kReadStream:
      return request.read_stream().stream();
    case v1::Request::kDeleteTo:
      return request.delete_to().stream();
    case v1::Request::kSaveSnapshot:
      return request.save_snapshot().snapshot().stream();
    case v1::Request::kLoadSnapshot:
      return request.load_snapshot().stream();
    case v1::Request::kDeleteSnapshot:
      return request.delete_snapshot().stream();
    case v1::Request::kDeleteSnapshots:
      return request.delete_snapshots().stream();
    case v1::Request::kHead:
      return request.head().stream();  // "" for the store's head
    default:
      return {};
  }
}

bool MayWaitForReplication(const v1::Request& request) {
  switch (request.body_case()) {
    case v1::Request::kAppend:
    case v1::Request::kDeleteTo:
    case v1::Request::kSaveSnapshot:
    case v1::Request::kDeleteSnapshot:
    case v1::Request::kDeleteSnapshots:
      return true;
    default:
      return false;
  }
}

}  // namespace cairn::cairnd
