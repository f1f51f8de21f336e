#include "stream_order.h"

#include <utility>

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

bool StreamOrder::Admit(v1::Request* request) {
  std::string_view stream = OrderedStream(*request);
  if (stream.empty()) return true;
  auto [it, inserted] = busy_.try_emplace(std::string(stream));
  if (inserted) return true;
  it->second.push_back(std::move(*request));
  ++held_;
  return false;
}

std::optional<v1::Request> StreamOrder::Done(std::string_view stream) {
  if (stream.empty()) return std::nullopt;
  auto it = busy_.find(std::string(stream));
  if (it == busy_.end()) return std::nullopt;
  if (it->second.empty()) {
    busy_.erase(it);
    return std::nullopt;
  }
  v1::Request next = std::move(it->second.front());
  it->second.pop_front();
  --held_;
  return next;
}

bool StreamOrder::Busy(std::string_view stream) const {
  return !stream.empty() && busy_.contains(std::string(stream));
}

}  // namespace cairn::cairnd
