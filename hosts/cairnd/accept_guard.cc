#include "accept_guard.h"

#include <sys/resource.h>

#include <algorithm>

#include "log.h"

namespace cairn::cairnd {

AcceptGuard::AcceptGuard(std::string listener, unsigned reserve,
                         ServerMetrics* metrics)
    : listener_(std::move(listener)), reserve_(reserve), metrics_(metrics) {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY) {
    fd_limit_ = limit.rlim_cur;
  }
}

bool AcceptGuard::Admit(int fd) {
  if (fd_limit_ == 0 || fd < 0 ||
      static_cast<uint64_t>(fd) + reserve_ < fd_limit_) {
    // A reserve episode ends once descriptors are well clear of the
    // reserve, not when one frees up at its edge (that would log each flap).
    Recovered(/*reserve_clear=*/fd_limit_ == 0 || fd < 0 ||
              static_cast<uint64_t>(fd) + 2 * uint64_t{reserve_} < fd_limit_);
    return true;
  }
  metrics_->fd_reserve_refusals_total.fetch_add(1);
  if (refusals_in_episode_++ == 0) {
    Log(spdlog::level::warn,
        "file descriptors low: closing new connections at accept",
        {{"listener", listener_},
         {"fd", std::to_string(fd)},
         {"fd_limit", std::to_string(fd_limit_)},
         {"reserve", std::to_string(reserve_)}});
  }
  return false;
}

std::chrono::milliseconds AcceptGuard::Failed(
    const boost::system::error_code& ec) {
  metrics_->accept_errors_total.fetch_add(1);
  if (failures_in_episode_++ == 0) {
    Log(spdlog::level::warn, "accept failing; backing off until it works",
        {{"listener", listener_}, {"error", ec.message()}});
  }
  backoff_ = std::clamp(backoff_ * 2, std::chrono::milliseconds(10),
                        std::chrono::milliseconds(1000));
  return backoff_;
}

void AcceptGuard::Recovered(bool reserve_clear) {
  const uint64_t refusals = reserve_clear ? refusals_in_episode_ : 0;
  if (failures_in_episode_ > 0 || refusals > 0) {
    Log(spdlog::level::info, "accepting again",
        {{"listener", listener_},
         {"accept_failures", std::to_string(failures_in_episode_)},
         {"refused_for_fds", std::to_string(refusals)}});
  }
  failures_in_episode_ = 0;
  if (reserve_clear) refusals_in_episode_ = 0;
  backoff_ = std::chrono::milliseconds(0);
}

}  // namespace cairn::cairnd
