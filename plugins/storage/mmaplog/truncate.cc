// truncate_after (cairn/plugin.h; docs/mmaplog.md, Truncation): removes
// every record after a position, crash-safely, through the intent file
// <path>/truncate, and the read grace period (ReadGuard) that lets reads run
// beside it.
#include <algorithm>
#include <cstring>
#include <string>
#include <thread>

#include "log.h"
#include "record.h"
#include "store_folder.h"

namespace cairn::mmaplog {
namespace {

constexpr char kTruncateFile[] = "truncate";
constexpr char kTruncateHeader[] = "cairn mmaplog truncate after ";

std::string IntentText(uint64_t position) {
  return kTruncateHeader + std::to_string(position) + "\n";
}

}  // namespace

// ---- The read grace period ----------------------------------------------

Log::ReadGuard::ReadGuard(const Log* log) : log_(log) {
  slot_ = log->reader_epoch_.load(std::memory_order_seq_cst) & 1;
  log->readers_[slot_].fetch_add(1, std::memory_order_seq_cst);
}

Log::ReadGuard::~ReadGuard() {
  log_->readers_[slot_].fetch_sub(1, std::memory_order_seq_cst);
}

void Log::WaitForReaders() {
  // Two flips of the epoch: a read that began before the caller lowered the
  // watermarks counted itself in one of the two slots before it loaded
  // them (both sequentially consistent), so once each slot has drained
  // after a flip, every such read has ended. Reads that begin later see the
  // lowered watermarks. A read whose callback blocks holds this up.
  for (int round = 0; round < 2; ++round) {
    const uint64_t old =
        reader_epoch_.fetch_add(1, std::memory_order_seq_cst) & 1;
    while (readers_[old].load(std::memory_order_seq_cst) > 0) {
      std::this_thread::yield();
    }
  }
}

// ---- truncate_after --------------------------------------------------------

absl::Status Log::TruncateAfter(uint64_t position, bool allow_committed) {
  if (stopping_.load()) return absl::CancelledError("truncate_after: closed");
  absl::Status failed = Failed();
  if (!failed.ok()) return failed;
  if (position < Committed() && !allow_committed) {
    return absl::FailedPreconditionError(
        "truncate_after: position " + std::to_string(position) +
        " is below the committed watermark " + std::to_string(Committed()) +
        "; cutting committed records needs CAIRN_TRUNCATE_COMMITTED");
  }
  if (position >= Written()) return absl::OkStatus();  // nothing after it
  if (position + 1 < FirstPosition()) {
    return absl::FailedPreconditionError(
        "truncate_after: position " + std::to_string(position) +
        " is before the first position still held (" +
        std::to_string(FirstPosition()) + "; retention removed the rest)");
  }
  // Everything written is made durable first, so the flusher has nothing
  // pending that the cut would invalidate.
  absl::Status s = Flush();
  if (!s.ok()) return s;
  // The intent, durable before anything is cut: an open that finds it
  // finishes the cut (FinishTruncation).
  s = fs_->WriteFileAtomic(options_.path + "/" + kTruncateFile,
                           IntentText(position));
  if (!s.ok()) return s;
  s = CutAfter(position);
  if (!s.ok()) {
    // Memory and files may now disagree: refuse further writes; the next
    // open finishes the cut from the intent file.
    FailFlusher(absl::InternalError(
        "truncate_after " + std::to_string(position) + " failed midway (" +
        std::string(s.message()) + "); reopen the store to finish it"));
    return s;
  }
  s = fs_->Remove(options_.path + "/" + kTruncateFile);
  if (s.ok()) s = fs_->SyncDirectory(options_.path);
  return s;
}

absl::Status Log::FinishTruncation() {
  const std::string path = options_.path + "/" + kTruncateFile;
  if (!fs_->Exists(path)) return absl::OkStatus();
  auto text = fs_->ReadFile(path);
  if (!text.ok()) return text.status();
  const std::string header = kTruncateHeader;
  uint64_t position = 0;
  bool ok = text->size() > header.size() + 1 &&
            text->compare(0, header.size(), header) == 0 &&
            text->back() == '\n';
  if (ok) {
    for (size_t i = header.size(); i + 1 < text->size(); ++i) {
      char c = (*text)[i];
      if (c < '0' || c > '9' || position > (UINT64_MAX - 9) / 10) {
        ok = false;
        break;
      }
      position = position * 10 + static_cast<uint64_t>(c - '0');
    }
  }
  if (!ok) {
    return absl::DataLossError(
        "'" + path + "': not a truncation intent ('" + header +
        "N'); it records a truncate_after that did not finish. Restore it or "
        "remove it if no truncation was running");
  }
  if (position < Written()) {
    if (position + 1 < FirstPosition()) {
      return absl::DataLossError("'" + path + "': position " +
                                 std::to_string(position) +
                                 " is before the first position held");
    }
    absl::Status s = CutAfter(position);
    if (!s.ok()) return s;
  }
  absl::Status s = fs_->Remove(path);
  if (s.ok()) s = fs_->SyncDirectory(options_.path);
  return s;
}

absl::Status Log::CutAfter(uint64_t position) {
  std::lock_guard<std::mutex> maintenance(maintenance_mu_);
  std::lock_guard<std::mutex> pass(sync_pass_mu_);
  // control_mu_ before apply_mu_, the order ApplyLog takes them in (the
  // contract keeps the two calls apart; ThreadSanitizer saw both orders).
  std::lock_guard<std::mutex> control(control_mu_);
  std::lock_guard<std::mutex> apply(apply_mu_);
  const uint64_t written = Written();
  if (position >= written) return absl::OkStatus();

  // 1. Where record position + 1 lies: from the sparse index entry at or
  // before it (or the first segment), walking forward across end markers.
  Segment* cut = nullptr;
  uint32_t cut_offset = 0;
  {
    uint64_t loc = sparse_.Get(position / kSparseEvery);
    Segment* seg = loc == 0 ? nullptr : SegmentAt(LocationSegment(loc));
    uint32_t off = LocationOffset(loc);
    if (seg == nullptr) {
      seg = SegmentAt(first_segment_.load());
      off = kSegmentHeaderSize;
    }
    while (seg != nullptr) {
      uint32_t len = LoadLength(seg->data + off);
      if (len == kEndOfSegment) {
        seg = SegmentAt(seg->number + 1);
        off = kSegmentHeaderSize;
        continue;
      }
      uint64_t p;
      std::memcpy(&p, seg->data + off + 16, 8);
      if (len == 0 || p > position) break;
      off += len;
    }
    if (seg == nullptr) {
      return absl::InternalError("truncate_after: position " +
                                 std::to_string(position + 1) +
                                 " was not found in the segments");
    }
    cut = seg;
    cut_offset = off;
  }

  // 2. Readers stop at `position` from now on; wait out those that began
  // before, then cut the indexes (nothing reachable points past the cut).
  // The truncation count is odd from before the watermarks are lowered
  // until the cut's last change (on every return): ReadLog, which holds
  // its ReadGuard only between callbacks, stops when the count moved
  // instead of taking what the cut zeroes for damage.
  truncations_.fetch_add(1, std::memory_order_seq_cst);
  struct Ended {
    Log* log;
    ~Ended() { log->truncations_.fetch_add(1, std::memory_order_seq_cst); }
  } ended{this};
  if (committed_.load() > position) committed_.store(position);
  watermark_.store(position, std::memory_order_seq_cst);
  if (durable_.load() > position) durable_.store(position);
  WaitForReaders();
  CutDerivedState(position);
  // Control-record state (deleted-to, the snapshot index, the epoch list)
  // is derived again from the records left, which end at the lowered
  // watermark.
  absl::Status rebuilt = RebuildControlState();
  if (!rebuilt.ok()) return rebuilt;
  // A read that began after the watermarks were lowered was not waited for
  // above, and read_stream and read_tag follow index entries, not
  // positions: one may still hold an entry past the cut, which it would
  // drop only once it reads the record's position. Reads that begin from
  // here find no such entry, so waiting out those in progress once more
  // means none can meet a record or segment the files step zeroes or
  // removes.
  WaitForReaders();

  // 3. Files, in an order after which every crash reopens to a log that
  // recovery accepts and the intent then cuts: first what proves records
  // past the cut (checkpoint, the marker's high-water mark, durable marks,
  // SEALED flags), then later segments (highest first), then the cut
  // segment's tail (from its end backwards).
  const std::string dir = options_.path;
  absl::Status s;
  if (fs_->Exists(dir + "/index/checkpoint")) {
    s = fs_->Remove(dir + "/index/checkpoint");
    if (!s.ok()) return s;
  }
  checkpointed_segment_ = 0;
  {
    // A high-water mark past the cut goes; what is left still held records
    // ("sealed 0 0"), unless the cut leaves nothing (the next append
    // records it again).
    std::lock_guard<std::mutex> lock(marker_mu_);
    const MarkerHighWater h = ReadMarkerHighWater(fs_, dir);
    if (h.position > position || (position == 0 && h.records_held)) {
      MarkerHighWater left;
      left.records_held = position > 0;
      s = WriteMarkerHighWater(fs_, dir, left);
      if (!s.ok()) return s;
      marker_proves_records_.store(false);
      marker_records_held_.store(left.records_held);
    }
  }
  const uint64_t last = active_.load()->number;
  {
    std::lock_guard<std::mutex> mark(mark_mu_);
    if (marked_position_ > position) marked_position_ = position;
    for (uint64_t n = first_segment_.load(); n <= last; ++n) {
      Segment* seg = SegmentAt(n);
      if (seg == nullptr) continue;
      DurableMark m;
      bool changed = false;
      if (DecodeDurableMark(seg->data, &m) && m.position > position) {
        m.position = position;
        EncodeDurableMark(seg->data, m);
        changed = true;
      }
      if (n >= cut->number && seg->sealed.load()) {
        std::lock_guard<std::mutex> header(header_mu_);
        SegmentHeader h;
        if (h.DecodeFrom(seg->data)) {
          h.flags &= ~kSegmentSealed;
          h.EncodeTo(seg->data);
        }
        seg->sealed.store(false);
        changed = true;
      }
      if (changed) {
        s = seg->file->Sync(0, kSegmentHeaderSize);
        if (!s.ok()) return s;
      }
    }
  }
  {
    // Spares were numbered after the old last segment: drop them, so the
    // next rotation takes cut + 1 (the preparer makes new ones).
    std::lock_guard<std::mutex> lk(spare_mu_);
    for (auto& spare : spares_) {
      const std::string path = spare->file->path();
      spare.reset();
      s = fs_->Remove(path);
      if (!s.ok()) return s;
    }
    spares_.clear();
    next_spare_number_ = cut->number + 1;
  }
  for (uint64_t n = last; n > cut->number; --n) {
    Segment* seg = SegmentAt(n);
    if (seg == nullptr) continue;
    seg->retired.store(true, std::memory_order_seq_cst);
    segments_.Set(n, 0);
    while (seg->pins.load(std::memory_order_seq_cst) != 0) {
      std::this_thread::yield();  // a read that pinned it before the cut
    }
    const std::string path = seg->file->path();
    seg->file.reset();
    seg->data = nullptr;
    s = fs_->Remove(path);
    if (!s.ok()) return s;
  }
  s = fs_->SyncDirectory(dir);
  if (!s.ok()) return s;
  // The cut segment's tail: its records after the cut and the end marker
  // after them (walked: a segment loaded from the checkpoint has no
  // reservation count), zeroed from the end back so that a crash leaves a
  // clean prefix.
  uint32_t reserved_end = cut_offset;
  while (reserved_end + 8 <= cut->size) {
    const uint32_t len = LoadLength(cut->data + reserved_end);
    if (len == 0) break;
    if (len == kEndOfSegment || len % 8 != 0 ||
        len > cut->size - reserved_end) {
      reserved_end += 8;  // the end marker (or damage): zeroed too
      break;
    }
    reserved_end += len;
  }
  for (uint32_t end = reserved_end; end > cut_offset;) {
    uint32_t begin = end - std::min<uint32_t>(end - cut_offset, 4096);
    std::memset(cut->data + begin, 0, end - begin);
    end = begin;
  }
  s = cut->file->Sync(0, cut->size);
  if (!s.ok()) return s;

  // 4. The engine's own state: appends go on at position + 1 in `cut`.
  cut->reserve.store((uint64_t{position - cut->base_position} << 32) |
                     (cut_offset / 8));
  active_.store(cut, std::memory_order_seq_cst);
  rotation_generation_.fetch_add(1);
  cursor_segment_ = cut;
  cursor_offset_ = cut_offset;
  cursor_next_position_ = position + 1;
  cursor_location_.store(MakeLocation(cut->number, cut_offset));
  // Keys of cut batches must not answer again.
  ResetKeys();
  committed_segment_.store(cut->number);
  for (auto& hint : batch_hints_) hint.store(0);
  {
    std::lock_guard<std::mutex> lk(flush_mu_);
    if (sync_wanted_ > position) sync_wanted_ = position;
    if (synced_segment_ > cut->number) synced_segment_ = cut->number;
    const uint64_t target = sync_target_.load();
    if ((target >> 1) > position) {
      sync_target_.store((position << 1) | (target & 1));
    }
  }
  WriteCommittedCopy(std::min(committed_.load(), position), /*sync=*/true);
  return absl::OkStatus();
}

// The in-memory state derived from records after `position` (no append
// runs; readers are bounded by the lowered watermarks).
void Log::CutDerivedState(uint64_t position) {
  SegmentRef pin(this);
  auto position_of = [&](uint64_t loc) -> uint64_t {
    Segment* seg = loc == 0 ? nullptr : pin.Switch(LocationSegment(loc));
    if (seg == nullptr) return 0;  // removed by retention: before the cut
    uint64_t p;
    std::memcpy(&p, seg->data + LocationOffset(loc) + 16, 8);
    return p;
  };
  // Streams: each one's head becomes its last revision at or before the
  // cut, the revision index entries after it are cleared. Ordinals follow
  // the positions of first events, so the streams whose first event was cut
  // are the last ordinals: they leave the directory (list_streams, head 0;
  // the name's node stays in the map, empty, and gets a new ordinal if the
  // stream is appended to again).
  const uint64_t count = stream_count_.load();
  uint64_t kept_streams = count;
  for (uint64_t o = 1; o <= count; ++o) {
    auto* s = reinterpret_cast<StreamState*>(ordinals_.Get(o - 1));
    if (s == nullptr) continue;
    const uint64_t head = s->head();
    uint64_t lo = s->trimmed_to.load(), hi = head + 1;
    // lo: at or before the cut (or trimmed); hi: after it.
    while (hi - lo > 1) {
      uint64_t mid = lo + (hi - lo) / 2;
      uint64_t p = position_of(s->revisions.Get(mid - 1));
      if (p != 0 && p <= position)
        lo = mid;
      else
        hi = mid;
    }
    const uint64_t new_head = lo;
    for (uint64_t r = new_head + 1; r <= head; ++r) s->revisions.Set(r - 1, 0);
    s->head_and_claim.store(new_head << 1, std::memory_order_release);
    // Deleted-to cannot exceed the head; CutAfter then derives it again
    // from the DELETE_TO records left.
    if (s->deleted_to.load() > new_head) s->deleted_to.store(new_head);
    if (new_head == 0 && s->trimmed_to.load() == 0) {
      s->ordinal.store(0);
      if (o <= kept_streams) kept_streams = o - 1;
    }
  }
  for (uint64_t o = kept_streams + 1; o <= count; ++o) ordinals_.Set(o - 1, 0);
  stream_count_.store(kept_streams, std::memory_order_release);
  // Tags: each list keeps its entries at or before the cut.
  tags_.ForEach([&](TagState* t) {
    const uint64_t n = t->count.load();
    uint64_t lo = t->first.load(), hi = n;
    while (lo < hi) {  // the first entry after the cut
      uint64_t mid = lo + (hi - lo) / 2;
      uint64_t p = position_of(t->locations.Get(mid));
      if (p <= position)
        lo = mid + 1;
      else
        hi = mid;
    }
    t->count.store(lo, std::memory_order_release);
    for (uint64_t i = lo; i < n; ++i) t->locations.Set(i, 0);
  });
  // The sparse position index: entries of positions after the cut.
  const uint64_t written_end = cursor_next_position_;  // old written + 1
  for (uint64_t i = (position + kSparseEvery - 1) / kSparseEvery;
       i * kSparseEvery + 1 < written_end; ++i) {
    sparse_.Set(i, 0);
  }
  // Control-record state (deleted-to, snapshots, epochs) is rebuilt from
  // the records left by the caller (CutAfter: RebuildControlState).
}

}  // namespace cairn::mmaplog
