// What an accept loop does when file descriptors run short: a reserve of
// descriptors kept free for the work already admitted (store files, sockets
// being answered), a back-off when accept() fails (EMFILE, ENFILE, ...), and
// one log line per episode instead of one per failure.
#ifndef CAIRN_HOSTS_CAIRND_ACCEPT_GUARD_H_
#define CAIRN_HOSTS_CAIRND_ACCEPT_GUARD_H_

#include <boost/system/error_code.hpp>
#include <chrono>
#include <string>

#include "metrics.h"

namespace cairn::cairnd {

class AcceptGuard {
 public:
  // `listener` names the loop in logs ("protocol", "http"). `reserve`:
  // descriptors below RLIMIT_NOFILE (read now) that accepted connections
  // may not use. `metrics` must outlive the guard.
  AcceptGuard(std::string listener, unsigned reserve, ServerMetrics* metrics);

  // Whether a connection accepted on descriptor `fd` may stay. Linux hands
  // out the lowest free descriptor, so `fd` at or above limit - reserve
  // means at most `reserve` are left: the caller closes the socket at once.
  // Counts and logs (once per episode) a refusal.
  bool Admit(int fd);

  // accept() failed with `ec` (not operation_aborted): counts it, logs the
  // first of an episode, and returns how long to wait before accepting
  // again (10 ms, doubling to 1 s while failures go on).
  std::chrono::milliseconds Failed(const boost::system::error_code& ec);

  uint64_t fd_limit() const { return fd_limit_; }

 private:
  // An accept worked: ends a failure episode, and a reserve episode when
  // `reserve_clear` (its descriptor is clear of twice the reserve).
  void Recovered(bool reserve_clear);

  const std::string listener_;
  const unsigned reserve_;
  ServerMetrics* const metrics_;
  uint64_t fd_limit_ = 0;  // RLIMIT_NOFILE soft limit; 0 = unknown
  // One thread (the acceptor's) uses these.
  uint64_t failures_in_episode_ = 0;
  uint64_t refusals_in_episode_ = 0;
  std::chrono::milliseconds backoff_{0};
};

}  // namespace cairn::cairnd

#endif  // CAIRN_HOSTS_CAIRND_ACCEPT_GUARD_H_
