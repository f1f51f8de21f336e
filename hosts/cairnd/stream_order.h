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

#include "cairn/v1/client.pb.h"

namespace cairn::cairnd {

// The stream `request` reads or writes, or "" when it names none (read_tag,
// read_all, list_streams, head of the store, server_info, flush, and the
// strand's own hello/subscribe/credit/cancel, which are not ordered here).
std::string_view OrderedStream(const v1::Request& request);

class StreamOrder {
 public:
  // True when `request` may run now: it names no stream, or none of its
  // stream is running; the stream is then busy until Done(its stream).
  // False: `*request` was moved into the stream's queue; Done hands it out.
  bool Admit(v1::Request* request);

  // Called when a request admitted to run has finished, with the stream it
  // named (OrderedStream; "" is a no-op). Returns the next held request of
  // that stream, which now runs (the stream stays busy), or nullopt (the
  // stream is free).
  std::optional<v1::Request> Done(std::string_view stream);

  // True while a request of `stream` runs on this connection.
  bool Busy(std::string_view stream) const;

  // Requests held back, all streams.
  size_t held() const { return held_; }

 private:
  // A busy stream and the requests waiting behind the running one.
  std::unordered_map<std::string, std::deque<v1::Request>> busy_;
  size_t held_ = 0;
};

}  // namespace cairn::cairnd

#endif  // CAIRN_HOSTS_CAIRND_STREAM_ORDER_H_
