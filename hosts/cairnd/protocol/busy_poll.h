// Runs an io_context like io_context::run(), but after each batch of work it
// keeps polling for up to `spin` before it blocks in the kernel. A request
// (or reply) that arrives within that window is picked up without waking a
// sleeping CPU: on virtual machines that wake-up (an inter-processor
// interrupt into a halted vCPU) costs tens of microseconds, more than the
// rest of a round trip (docs/server.md, "Busy polling"). Idle threads still
// block: spinning stops `spin` after the last piece of work.
#ifndef CAIRN_HOSTS_CAIRND_PROTOCOL_BUSY_POLL_H_
#define CAIRN_HOSTS_CAIRND_PROTOCOL_BUSY_POLL_H_

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <future>

namespace cairn::protocol {

inline void RunWithBusyPoll(boost::asio::io_context& context,
                            std::chrono::microseconds spin) {
  if (spin.count() <= 0) {
    context.run();
    return;
  }
  using Clock = std::chrono::steady_clock;
  while (!context.stopped()) {
    auto deadline = Clock::now() + spin;
    while (Clock::now() < deadline) {
      if (context.poll() > 0) deadline = Clock::now() + spin;
      if (context.stopped()) return;
    }
    context.run_one();
  }
}

// Waits for `future` like future.wait_for(timeout), spinning for up to
// `spin` first (same reason as above).
template <typename Future, typename Duration>
bool WaitWithBusyPoll(const Future& future, std::chrono::microseconds spin,
                      Duration timeout) {
  using Clock = std::chrono::steady_clock;
  const auto deadline = Clock::now() + spin;
  while (Clock::now() < deadline) {
    if (future.wait_for(std::chrono::seconds(0)) == std::future_status::ready) {
      return true;
    }
  }
  return future.wait_for(timeout) == std::future_status::ready;
}

}  // namespace cairn::protocol

#endif  // CAIRN_HOSTS_CAIRND_PROTOCOL_BUSY_POLL_H_
