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

absl::Status IndexArena::Init() {
  if (fs_ == nullptr) return absl::OkStatus();
  absl::Status s = fs_->CreateDirectories(dir_);
  if (!s.ok()) return s;
  auto names = fs_->ListDirectory(dir_);
  if (!names.ok()) return names.status();
  for (const std::string& n : *names) {
    if (n.rfind("arena-", 0) == 0) {
      s = fs_->Remove(dir_ + "/" + n);
      if (!s.ok()) return s;
    }
  }
  return absl::OkStatus();
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
      char name[32];
      std::snprintf(name, sizeof name, "/arena-%06zu.idx", regions_.size() + 1);
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
