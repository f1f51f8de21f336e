// FutexEvent: threads sleep until a condition on other atomics holds, and the
// thread that changes those atomics wakes them.
//
// It replaces std::atomic<uint64_t>::wait/notify_all, which in libstdc++ 12
// spins with four sched_yield calls before every sleep and again after every
// wake, and parks waiters of all 64-bit atomics in a few shared, address-hashed
// pools. With 64 single-event appenders on 2 cores the yields alone took 43%
// of the CPU (perf, fsync=always). Here a waiter spins not at all: it sleeps
// on a futex (Linux; std::atomic<uint32_t>::wait elsewhere) of its own event,
// and WakeAll costs one uncontended atomic add when nobody waits.
#ifndef CAIRN_PLUGINS_STORAGE_MMAPLOG_FUTEX_EVENT_H_
#define CAIRN_PLUGINS_STORAGE_MMAPLOG_FUTEX_EVENT_H_

#include <atomic>
#include <climits>
#include <cstdint>

#if defined(__linux__)
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

namespace cairn::mmaplog {

class FutexEvent {
 public:
  // Returns once `done()` is true. `done` reads atomics that the waking
  // thread stores before it calls WakeAll. Thread-safe.
  template <typename Done>
  void WaitUntil(Done&& done) {
    if (done()) return;
    waiters_.fetch_add(1, std::memory_order_seq_cst);
    for (;;) {
      uint32_t seen = word_.load(std::memory_order_seq_cst);
      if (done()) break;
      Sleep(seen);
    }
    waiters_.fetch_sub(1, std::memory_order_release);
  }

  // Wakes every waiter, so each re-checks its condition. Call after storing
  // what the conditions read. Thread-safe.
  void WakeAll() {
    // A read-modify-write, not a load (and no fence, which ThreadSanitizer
    // cannot check): it and the waiter's increment are ordered in waiters_'
    // modification order. If it comes first, the waiter's increment reads
    // from it and so sees every store made before this call; if second, it
    // sees the waiter.
    if (waiters_.fetch_add(0, std::memory_order_seq_cst) == 0) return;
    word_.fetch_add(1, std::memory_order_seq_cst);
#if defined(__linux__)
    syscall(SYS_futex, reinterpret_cast<uint32_t*>(&word_), FUTEX_WAKE_PRIVATE,
            INT_MAX, nullptr, nullptr, 0);
#else
    word_.notify_all();
#endif
  }

 private:
  // Sleeps unless the word has moved on from `seen` (may return early).
  void Sleep(uint32_t seen) {
#if defined(__linux__)
    syscall(SYS_futex, reinterpret_cast<uint32_t*>(&word_), FUTEX_WAIT_PRIVATE,
            seen, nullptr, nullptr, 0);
#else
    word_.wait(seen, std::memory_order_seq_cst);
#endif
  }

  static_assert(sizeof(std::atomic<uint32_t>) == sizeof(uint32_t));
  std::atomic<uint32_t> word_{0};      // bumped by each WakeAll with waiters
  std::atomic<uint32_t> waiters_{0};   // threads inside WaitUntil
};

}  // namespace cairn::mmaplog

#endif  // CAIRN_PLUGINS_STORAGE_MMAPLOG_FUTEX_EVENT_H_
