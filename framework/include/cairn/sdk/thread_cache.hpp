// Per-thread state of a plugin instance, for plugins that keep something per
// calling thread (an OpenSSL EVP context with its key schedule loaded, a zstd
// context with its parameters set) so the hot path takes no lock:
//
//   class MyCodec : public cairn::sdk::Codec {
//     struct PerThread { ZSTD_CCtx* context; ... };
//     cairn::sdk::ThreadCache<PerThread, 4> per_thread_;
//     PerThread& ThisThread() {
//       if (PerThread* found = per_thread_.Find()) return *found;
//       return *per_thread_.Keep(std::make_shared<PerThread>(...));
//     }
//   };
//
// Each thread holds the states of the last `kSlots` instances it used, in
// one thread_local list shared by every ThreadCache<State, kSlots> of the
// process (or of the plugin module, which hides its symbols). An instance is
// found by an id unique in the process and never reused, never by address,
// so a closed instance's slot is never matched by a later one; it ages out
// when the thread keeps states for newer instances, or ends with the thread.
// A state that holds a secret must therefore also be wiped by its instance
// when the instance closes (keep a std::weak_ptr to it: see
// plugins/cipher/keyring/aead_cipher.cc).
#ifndef CAIRN_SDK_THREAD_CACHE_HPP_
#define CAIRN_SDK_THREAD_CACHE_HPP_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

namespace cairn::sdk {

template <typename State, size_t kSlots>
class ThreadCache {
  static_assert(kSlots > 0, "a ThreadCache keeps at least one slot a thread");

 public:
  ThreadCache() : instance_id_(NextInstanceId()) {}
  ThreadCache(const ThreadCache&) = delete;
  ThreadCache& operator=(const ThreadCache&) = delete;

  // The calling thread's state for this instance, or null when the thread
  // has none (never kept one, or it aged out).
  State* Find() const {
    for (Slot& slot : Slots()) {
      if (slot.instance_id == instance_id_) return slot.state.get();
    }
    return nullptr;
  }

  // Keeps `state` as the calling thread's state for this instance (call it
  // after Find returned null) and returns it. When the thread already holds
  // kSlots states, the one kept longest ago is released first.
  State* Keep(std::shared_ptr<State> state) {
    std::vector<Slot>& slots = Slots();
    if (slots.size() >= kSlots) slots.erase(slots.begin());
    slots.push_back(Slot{instance_id_, std::move(state)});
    return slots.back().state.get();
  }

  // How many states the calling thread holds, for every instance of this
  // State type. For tests.
  static size_t SlotsInUse() { return Slots().size(); }

 private:
  struct Slot {
    uint64_t instance_id;
    std::shared_ptr<State> state;
  };
  static std::vector<Slot>& Slots() {
    static thread_local std::vector<Slot> slots;
    return slots;
  }
  static uint64_t NextInstanceId() {
    static std::atomic<uint64_t> next{1};
    return next.fetch_add(1, std::memory_order_relaxed);
  }

  const uint64_t instance_id_;
};

}  // namespace cairn::sdk

#endif  // CAIRN_SDK_THREAD_CACHE_HPP_
