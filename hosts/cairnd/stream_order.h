// Per-connection ordering of requests that name one stream: the protocol
// promises that requests sent on one connection that name the same stream
// take effect in the order they were sent (docs/server.md, "Ordering").
// Requests of a connection otherwise run on the worker pool concurrently;
// this queue holds a request back while an earlier one of its stream (on the
// same connection) is still running, and hands it out when that one is done.
// Requests of different streams, and those that name none, are never held.
//
// Not thread-safe: a connection uses its own StreamOrder on its strand.
#ifndef CAIRN_HOSTS_CAIRND_STREAM_ORDER_H_
#define CAIRN_HOSTS_CAIRND_STREAM_ORDER_H_

#include <cstddef>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "cairn/v1/client.pb.h"

namespace cairn::cairnd {

// The stream `request` reads or writes, or "" when it names none (read_tag,
// read_all, list_streams, head of the store, server_info, flush, and the
// strand's own hello/subscribe/credit/cancel, which are not ordered here).
std::string_view OrderedStream(const v1::Request& request);

// Whether `request` writes (append, delete_to, save_snapshot,
// delete_snapshot, delete_snapshots): a write may wait for replication to
// acknowledge it, so cairnd runs writes on a worker pool of their own.
bool MayWaitForReplication(const v1::Request& request);

// What StreamOrder holds: a v1::Request, or anything a `RequestOf` overload
// (found by argument-dependent lookup) maps to its request, such as a request
// with its access decision (connection.cc).
inline const v1::Request& RequestOf(const v1::Request& request) { return request; }

template <typename Item = v1::Request>
class StreamOrder {
 public:
  // True when `item` may run now: its request names no stream, or none of
  // its stream is running; the stream is then busy until Done(its stream).
  // False: `*item` was moved into the stream's queue; Done hands it out.
  bool Admit(Item* item) {
    std::string_view stream = OrderedStream(RequestOf(*item));
    if (stream.empty()) return true;
    auto [it, inserted] = busy_.try_emplace(std::string(stream));
    if (inserted) return true;
    it->second.push_back(std::move(*item));
    ++held_;
    return false;
  }

  // Called when an item admitted to run has finished, with the stream its
  // request named (OrderedStream; "" is a no-op). Returns the next held item
  // of that stream, which now runs (the stream stays busy), or nullopt (the
  // stream is free).
  std::optional<Item> Done(std::string_view stream) {
    if (stream.empty()) return std::nullopt;
    auto it = busy_.find(std::string(stream));
    if (it == busy_.end()) return std::nullopt;
    if (it->second.empty()) {
      busy_.erase(it);
      return std::nullopt;
    }
    Item next = std::move(it->second.front());
    it->second.pop_front();
    --held_;
    return next;
  }

  // True while a request of `stream` runs on this connection.
  bool Busy(std::string_view stream) const {
    return !stream.empty() && busy_.contains(std::string(stream));
  }

  // Items held back, all streams.
  size_t held() const { return held_; }

 private:
  // A busy stream and the items waiting behind the running one.
  std::unordered_map<std::string, std::deque<Item>> busy_;
  size_t held_ = 0;
};

}  // namespace cairn::cairnd

#endif  // CAIRN_HOSTS_CAIRND_STREAM_ORDER_H_
