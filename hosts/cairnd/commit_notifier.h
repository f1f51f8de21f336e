// One thread that waits for commits (Store::WaitCommit) and wakes the
// subscriptions that found nothing new, so a live subscription costs no
// thread while it waits. With no subscription waiting it does not follow
// commits at all.
//
// Race-free use: read generation() before pulling from a subscription; if
// the pull finds nothing, Watch(that generation, wake). A commit that lands
// between the pull and the Watch has already moved the generation, so Watch
// calls `wake` at once instead of missing it.
#ifndef CAIRN_HOSTS_CAIRND_COMMIT_NOTIFIER_H_
#define CAIRN_HOSTS_CAIRND_COMMIT_NOTIFIER_H_

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "cairn/store.h"

namespace cairn::cairnd {

class CommitNotifier {
 public:
  explicit CommitNotifier(Store* store) : store_(store) {}
  ~CommitNotifier() { Stop(); }

  void Start();
  // Joins the thread; pending watchers are dropped without a call.
  void Stop();

  // Advances whenever the head position has moved. Thread-safe.
  uint64_t generation();

  // Calls `wake` (on the notifier's thread, or at once on the caller's) the
  // first time the generation differs from `seen`. `wake` must not block.
  void Watch(uint64_t seen, std::function<void()> wake);

 private:
  void Run();

  Store* store_;
  std::mutex mutex_;
  std::condition_variable watched_;  // a first watcher arrived, or stop
  uint64_t generation_ = 0;
  uint64_t head_ = 0;
  bool stop_ = false;
  bool polling_ = false;  // notifier thread only
  std::vector<std::function<void()>> watchers_;
  std::thread thread_;
};

}  // namespace cairn::cairnd

#endif  // CAIRN_HOSTS_CAIRND_COMMIT_NOTIFIER_H_
