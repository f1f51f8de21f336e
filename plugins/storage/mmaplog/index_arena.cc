#include "index_arena.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace cairn::mmaplog {

IndexArena::IndexArena(FileSystem* fs, std::string dir, size_t region_size)
    : fs_(fs), dir_(std::move(dir)), region_size_(region_size) {}

IndexArena::~IndexArena() {
  // The regions are scratch: the next open rebuilds (or loads the
  // checkpoint). Removing them frees the disk and spares the kernel writing
  // back their dirty pages.
  std::vector<std::string> paths;
  for (const auto& r : regions_) paths.push_back(r->path());
  regions_.clear();
  if (fs_ != nullptr) {
    for (const std::string& p : paths) (void)fs_->Remove(p);
  }
  for (void* p : heap_blocks_) std::free(p);
}

namespace {

// The generation of region file `name`: arena-GGGGGG-NNNNNN.idx gives G,
// a legacy arena-NNNNNN.idx 0; false if `name` is no region file.
bool RegionGeneration(const std::string& name, uint64_t* generation) {
  unsigned long long g = 0, n = 0;
  int used = 0;
  if (std::sscanf(name.c_str(), "arena-%llu-%llu.idx%n", &g, &n, &used) == 2 &&
      static_cast<size_t>(used) == name.size()) {
    *generation = g;
    return true;
  }
  used = 0;
  if (std::sscanf(name.c_str(), "arena-%llu.idx%n", &n, &used) == 1 &&
      static_cast<size_t>(used) == name.size()) {
    *generation = 0;
    return true;
  }
  return false;
}

}  // namespace

absl::Status IndexArena::Init() {
  if (fs_ == nullptr) return absl::OkStatus();
  absl::Status s = fs_->CreateDirectories(dir_);
  if (!s.ok()) return s;
  auto names = fs_->ListDirectory(dir_);
  if (!names.ok()) return names.status();
  uint64_t newest = 0;
  for (const std::string& n : *names) {
    uint64_t g = 0;
    if (RegionGeneration(n, &g)) newest = std::max(newest, g);
  }
  generation_ = newest + 1;
  return absl::OkStatus();
}

absl::StatusOr<size_t> IndexArena::RemoveStale() {
  if (fs_ == nullptr) return 0;
  auto names = fs_->ListDirectory(dir_);
  if (!names.ok()) return names.status();
  size_t removed = 0;
  for (const std::string& n : *names) {
    uint64_t g = 0;
    if (!RegionGeneration(n, &g) || g == generation_) continue;
    absl::Status s = fs_->Remove(dir_ + "/" + n);
    if (!s.ok()) return s;
    ++removed;
  }
  return removed;
}

void* IndexArena::Allocate(size_t bytes) {
  bytes = (bytes + 63) & ~size_t{63};
  std::lock_guard<std::mutex> lk(mu_);
  allocated_bytes_ += bytes;
  if (bytes > left_) {
    bool mapped = false;
    if (fs_ != nullptr) {
      // Regions double from 1 MiB up to region_size_, so a small store keeps
      // a small index file.
      size_t grown = std::min(region_size_, size_t{1} << (20 + std::min<size_t>(
                                                        regions_.size(), 12)));
      size_t size = std::max(grown, (bytes + 4095) & ~size_t{4095});
      char name[40];
      std::snprintf(name, sizeof name, "/arena-%06llu-%06zu.idx",
                    static_cast<unsigned long long>(generation_),
                    regions_.size() + 1);
      // Rebuilt at every open, so never synced.
      auto file = fs_->CreateMapped(dir_ + name, size, /*durable=*/false);
      if (file.ok()) {
        cursor_ = (*file)->data();
        left_ = size;
        file_bytes_ += size;
        regions_.push_back(std::move(*file));
        mapped = true;
      }
    }
    if (!mapped) {
      // Heap fallback: the index keeps working, only less memory-frugal.
      size_t size = std::max<size_t>(bytes, 1u << 20);
      void* p = std::aligned_alloc(64, size);
      if (p == nullptr) throw std::bad_alloc();
      std::memset(p, 0, size);
      heap_blocks_.push_back(p);
      heap_bytes_ += size;
      cursor_ = static_cast<uint8_t*>(p);
      left_ = size;
    }
  }
  void* out = cursor_;
  cursor_ += bytes;
  left_ -= bytes;
  return out;
}

void IndexArena::Release(void* p, size_t bytes) {
  auto* at = static_cast<uint8_t*>(p);
  std::lock_guard<std::mutex> lk(mu_);
  allocated_bytes_ -= std::min<uint64_t>(allocated_bytes_,
                                         (bytes + 63) & ~size_t{63});
  for (const auto& region : regions_) {
    if (at >= region->data() && at + bytes <= region->data() + region->size()) {
      size_t offset = static_cast<size_t>(at - region->data());
      const size_t page = 4096;
      size_t from = (offset + page - 1) / page * page;
      size_t to = (offset + bytes) / page * page;
      if (from < to && region->Discard(from, to - from).ok()) {
        released_bytes_ += to - from;
      }
      return;
    }
  }
}

uint64_t IndexArena::released_bytes() const {
  std::lock_guard<std::mutex> lk(mu_);
  return released_bytes_;
}

uint64_t IndexArena::allocated_bytes() const {
  std::lock_guard<std::mutex> lk(mu_);
  return allocated_bytes_;
}

uint64_t IndexArena::file_bytes() const {
  std::lock_guard<std::mutex> lk(mu_);
  return file_bytes_;
}

uint64_t IndexArena::heap_bytes() const {
  std::lock_guard<std::mutex> lk(mu_);
  return heap_bytes_;
}

}  // namespace cairn::mmaplog
