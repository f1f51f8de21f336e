// Checks a decoded Request before it reaches the store: everything the
// protocol itself forbids (names that break the rule of cairn/names.h,
// negative counts, unknown enum values, batches above the limit). The store
// checks the rest.
#ifndef CAIRN_HOSTS_CAIRND_PROTOCOL_REQUEST_CHECK_H_
#define CAIRN_HOSTS_CAIRND_PROTOCOL_REQUEST_CHECK_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "cairn/v1/client.pb.h"

namespace cairn::protocol {

// The per-request limits the check enforces (the server's [limits]).
struct RequestLimits {
  uint32_t max_batch = 1000;      // events in one append
  uint64_t max_credit = 100000;   // outstanding credit of one subscription
};

struct RequestError {
  v1::ErrorCode code;  // INVALID_ARGUMENT, UNKNOWN_REQUEST or LIMIT_EXCEEDED
  std::string message;
};

// nullopt when `request` may be executed. A LIMIT_EXCEEDED error means the
// client broke a server limit (the server then disconnects it); the other
// codes leave the connection usable. Pure; safe from any thread.
std::optional<RequestError> CheckRequest(const v1::Request& request,
                                         const RequestLimits& limits);

// A stream name or tag a request reads: 1..255 bytes, no NUL, as storage
// requires, so names stored before the rule of cairn/names.h stay readable.
// (What a request writes — append's stream, event types and tags, delete_to,
// save_snapshot — must keep that whole rule.) `what` names the field in the
// message ("stream", "tag").
std::optional<std::string> CheckName(std::string_view name,
                                     std::string_view what);

// The name of the request's body ("append", "read_stream", ...), or
// "unknown" / "none".
const char* RequestName(const v1::Request& request);

}  // namespace cairn::protocol

#endif  // CAIRN_HOSTS_CAIRND_PROTOCOL_REQUEST_CHECK_H_
