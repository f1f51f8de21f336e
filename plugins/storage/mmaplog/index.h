// In-memory indexes of mmaplog: lock-free for readers, with stable addresses.
//
//  - ChunkedArray: a growable array of atomic u64 whose elements never move
//    (chunk k holds kBase << k elements), so readers need no lock while a
//    writer grows it. Its memory comes from the file-backed IndexArena.
//  - StreamState / StreamDirectory: stream name -> head revision, deleted-to,
//    ordinal and revision -> location; a fixed array of buckets with chains
//    that only grow by CAS at the head, so lookups never lock.
//  - TagDirectory: tag -> locations in position order (single writer: the
//    committer).
//
// A location packs a segment number and a byte offset: (segment << 32) |
// offset. 0 means "none" (no record lies at offset 0: the segment header
// does).
#ifndef CAIRN_PLUGINS_STORAGE_MMAPLOG_INDEX_H_
#define CAIRN_PLUGINS_STORAGE_MMAPLOG_INDEX_H_

#include <algorithm>
#include <atomic>
#include <bit>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/hash/hash.h"
#include "index_arena.h"

namespace cairn::mmaplog {

inline uint64_t MakeLocation(uint64_t segment, uint32_t offset) {
  return (segment << 32) | offset;
}
inline uint64_t LocationSegment(uint64_t location) { return location >> 32; }
inline uint32_t LocationOffset(uint64_t location) {
  return static_cast<uint32_t>(location);
}

// A growable array of atomic u64 values (all 0 at first). Set() may run
// concurrently with Get() and with Set() of other indexes; elements never
// move. Its chunk directory and chunks come from an IndexArena (file-backed),
// so the object itself is two pointers. Memory: at most twice the highest
// index set, plus the directory.
class ChunkedArray {
 public:
  static_assert(sizeof(std::atomic<uint64_t>) == sizeof(uint64_t));
  static constexpr uint64_t kBaseShift = 4;  // chunk 0 holds 16 elements
  static constexpr int kChunks = 36;         // up to 16 * 2^36 elements

  explicit ChunkedArray(IndexArena* arena) : arena_(arena) {}
  ChunkedArray(const ChunkedArray&) = delete;
  ChunkedArray& operator=(const ChunkedArray&) = delete;

  // Stores `value` at `index` (release).
  void Set(uint64_t index, uint64_t value) {
    uint64_t within;
    int k = ChunkOf(index, &within);
    Directory* dir = directory_.load(std::memory_order_acquire);
    if (dir == nullptr) dir = GrowDirectory();
    std::atomic<uint64_t>* chunk = dir->chunks[k].load(std::memory_order_acquire);
    if (chunk == nullptr) chunk = Grow(dir, k);
    chunk[within].store(value, std::memory_order_release);
  }

  // The value at `index`, or 0 if never set (acquire).
  uint64_t Get(uint64_t index) const {
    uint64_t within;
    int k = ChunkOf(index, &within);
    const Directory* dir = directory_.load(std::memory_order_acquire);
    if (dir == nullptr) return 0;
    const std::atomic<uint64_t>* chunk =
        dir->chunks[k].load(std::memory_order_acquire);
    return chunk == nullptr ? 0 : chunk[within].load(std::memory_order_acquire);
  }

  // Calls fn(values, n) for [first, end) in order, one call per chunk it
  // touches; `values` is null where no chunk was ever allocated (read those
  // n as zeros). The values are read as plain memory: only for ranges no
  // thread sets any more, whose last Set happens-before this call (the
  // checkpoint's cut). Copying a chunk at a time is what makes writing a
  // checkpoint of hundreds of millions of locations cheap.
  template <typename Fn>
  void ForEachRange(uint64_t first, uint64_t end, Fn&& fn) const {
    const Directory* dir = directory_.load(std::memory_order_acquire);
    while (first < end) {
      uint64_t within;
      int k = ChunkOf(first, &within);
      uint64_t n = std::min(end - first,
                            (uint64_t{1} << (kBaseShift + k)) - within);
      const std::atomic<uint64_t>* chunk =
          dir == nullptr ? nullptr
                         : dir->chunks[k].load(std::memory_order_acquire);
      fn(chunk == nullptr
             ? nullptr
             : reinterpret_cast<const uint64_t*>(chunk + within),
         static_cast<size_t>(n));
      first += n;
    }
  }

  // Elements below `old_below` were released before; those below
  // `new_below` are now 0 for good (retention: nobody sets them again, Get
  // then reads 0). Gives the memory of every chunk that now lies wholly
  // below `new_below` back to the arena. One thread at a time.
  void Release(uint64_t old_below, uint64_t new_below) {
    Directory* dir = directory_.load(std::memory_order_acquire);
    if (dir == nullptr) return;
    for (int k = 0; k < kChunks; ++k) {
      uint64_t start = ((uint64_t{1} << k) - 1) << kBaseShift;
      uint64_t end = ((uint64_t{1} << (k + 1)) - 1) << kBaseShift;
      if (end > new_below) break;
      if (end <= old_below) continue;  // released with an earlier range
      std::atomic<uint64_t>* chunk = dir->chunks[k].load(std::memory_order_acquire);
      if (chunk != nullptr) {
        arena_->Release(chunk, (end - start) * sizeof(std::atomic<uint64_t>));
      }
    }
  }

 private:
  struct Directory {
    std::atomic<std::atomic<uint64_t>*> chunks[kChunks];
  };

  static int ChunkOf(uint64_t index, uint64_t* within) {
    uint64_t q = (index >> kBaseShift) + 1;
    int k = static_cast<int>(std::bit_width(q)) - 1;
    *within = index - (((uint64_t{1} << k) - 1) << kBaseShift);
    return k;
  }
  // Arena memory is zeroed, which is the representation of null atomics and
  // zero values on every platform we build for. A CAS loser's block is left
  // unused in the arena (rare: two writers growing the same array at once).
  Directory* GrowDirectory() {
    auto* fresh = static_cast<Directory*>(arena_->Allocate(sizeof(Directory)));
    Directory* expected = nullptr;
    if (directory_.compare_exchange_strong(expected, fresh,
                                           std::memory_order_acq_rel)) {
      return fresh;
    }
    return expected;
  }
  std::atomic<uint64_t>* Grow(Directory* dir, int k) {
    size_t n = size_t{1} << (kBaseShift + k);
    auto* fresh = static_cast<std::atomic<uint64_t>*>(
        arena_->Allocate(n * sizeof(std::atomic<uint64_t>)));
    std::atomic<uint64_t>* expected = nullptr;
    if (dir->chunks[k].compare_exchange_strong(expected, fresh,
                                               std::memory_order_acq_rel)) {
      return fresh;
    }
    return expected;
  }

  IndexArena* const arena_;
  std::atomic<Directory*> directory_{nullptr};
};

// Everything mmaplog knows about one stream.
struct StreamState {
  StreamState(std::string_view n, IndexArena* arena)
      : revisions(arena), name(n) {}

  // Bit 0 set while an appender holds the stream's claim (it has checked the
  // expected revision and is reserving space); bits 1.. hold the head
  // revision: the highest revision reserved (committed or about to be).
  static constexpr uint64_t kClaimed = 1;
  std::atomic<uint64_t> head_and_claim{0};
  std::atomic<uint64_t> deleted_to{0};
  // Revisions <= trimmed_to were in segments retention removed; their
  // entries in `revisions` are 0. Written by the retention thread only.
  std::atomic<uint64_t> trimmed_to{0};
  std::atomic<uint64_t> ordinal{0};  // 0 until its first batch commits
  // The Log's keys generation (Log::keys_generation_) in which this
  // stream's keys from before the keys horizon were read back from the log
  // (Log::LoadOlderKeys); 0: not yet. Changed under the stream's claim.
  std::atomic<uint64_t> keys_loaded{0};
  ChunkedArray revisions;            // revision - 1 -> location
  const std::string name;
  StreamState* next = nullptr;  // bucket chain; immutable once published

  uint64_t head() const {
    return head_and_claim.load(std::memory_order_acquire) >> 1;
  }
};

// A tag's positions, appended in position order by the committer only.
struct TagState {
  TagState(std::string_view n, IndexArena* arena) : locations(arena), name(n) {}
  ChunkedArray locations;           // i -> location of the i-th tagged event
  std::atomic<uint64_t> count{0};   // entries published
  // Entries < first were in segments retention removed (and are 0). Written
  // by the retention thread only.
  std::atomic<uint64_t> first{0};
  const std::string name;
  TagState* next = nullptr;
};

// FNV-1a with a final mix: stable across processes and builds, for names
// that reach the disk (legacy snapshot file names). The in-memory maps use
// IndexHash.
uint64_t HashName(std::string_view name);

// The hash of the in-memory name maps: Abseil's (seeded per process, never
// written anywhere), several bytes a step. FNV-1a's byte-at-a-time loop was
// 28% of the scan a reopen does (perf of cairn bench recovery-kill9).
inline uint64_t IndexHash(std::string_view name) {
  return absl::Hash<std::string_view>{}(name);
}

// A lock-free hash map from name to a node type with `name` and `next`
// members, holding nodes until destruction. Find never blocks; FindOrCreate
// inserts by CAS on the bucket head.
template <typename Node>
class NameMap {
 public:
  NameMap(uint32_t bucket_bits, IndexArena* arena)
      : arena_(arena),
        mask_((uint64_t{1} << bucket_bits) - 1),
        buckets_(new std::atomic<Node*>[mask_ + 1]()) {}
  ~NameMap() {
    for (uint64_t i = 0; i <= mask_; ++i) {
      Node* n = buckets_[i].load(std::memory_order_relaxed);
      while (n != nullptr) {
        Node* next = n->next;
        delete n;
        n = next;
      }
    }
  }
  NameMap(const NameMap&) = delete;
  NameMap& operator=(const NameMap&) = delete;

  Node* Find(std::string_view name) const {
    return FindFrom(
        buckets_[IndexHash(name) & mask_].load(std::memory_order_acquire),
        name);
  }

  // The node for `name`, created if absent. *created tells which.
  Node* FindOrCreate(std::string_view name, bool* created) {
    std::atomic<Node*>& bucket = buckets_[IndexHash(name) & mask_];
    Node* head = bucket.load(std::memory_order_acquire);
    if (Node* n = FindFrom(head, name)) {
      *created = false;
      return n;
    }
    auto fresh = std::make_unique<Node>(name, arena_);
    for (;;) {
      fresh->next = head;
      if (bucket.compare_exchange_weak(head, fresh.get(),
                                       std::memory_order_acq_rel,
                                       std::memory_order_acquire)) {
        size_.fetch_add(1, std::memory_order_relaxed);
        node_bytes_.fetch_add(sizeof(Node) + name.size(),
                              std::memory_order_relaxed);
        *created = true;
        return fresh.release();
      }
      // Someone inserted meanwhile: it may be our name.
      if (Node* n = FindFrom(head, name)) {
        *created = false;
        return n;
      }
    }
  }

  uint64_t size() const { return size_.load(std::memory_order_relaxed); }
  uint64_t BucketBytes() const { return (mask_ + 1) * sizeof(void*); }
  // Heap bytes of the nodes (each sizeof(Node) plus its name).
  uint64_t NodeBytes() const {
    return node_bytes_.load(std::memory_order_relaxed);
  }

  // Calls fn(Node*) for every node (no particular order). Safe concurrently
  // with inserts (may or may not see new nodes).
  template <typename Fn>
  void ForEach(Fn&& fn) const {
    for (uint64_t i = 0; i <= mask_; ++i) {
      for (Node* n = buckets_[i].load(std::memory_order_acquire); n != nullptr;
           n = n->next) {
        fn(n);
      }
    }
  }

 private:
  static Node* FindFrom(Node* n, std::string_view name) {
    for (; n != nullptr; n = n->next) {
      if (n->name == name) return n;
    }
    return nullptr;
  }

  IndexArena* const arena_;
  const uint64_t mask_;
  std::unique_ptr<std::atomic<Node*>[]> buckets_;
  std::atomic<uint64_t> size_{0};
  std::atomic<uint64_t> node_bytes_{0};
};

}  // namespace cairn::mmaplog

#endif  // CAIRN_PLUGINS_STORAGE_MMAPLOG_INDEX_H_
