// Retention by whole segments, and the background thread that runs it and
// the periodic index checkpoint after each rotation (docs/mmaplog.md,
// Retention).
//
// Removing the oldest segment, in this order:
//  1. the indexes: every stream with a record in it gets trimmed_to raised
//     to that record's revision before the record's entry is cleared; tags
//     move their first entry past it; the first position and first segment
//     move on; then the sparse entries are cleared. New reads skip it.
//  2. <path>/retention.state is replaced atomically: the first segment kept,
//     and every stream's trimmed_to (so heads of streams whose every event
//     was removed survive any reopen, with or without a checkpoint).
//  3. the segment is marked retired and unpublished; once no reader pins it
//     it is unmapped, unlinked and the directory synced.
// A crash after 2 leaves a file the state says is gone: the open removes it
// (RecoveryReport::completed_removals). A crash before 2 leaves the segment
// in the log, as if retention had not run.
//
// <path>/retention.state (little-endian): u64 magic "CAIRNRET", u32 version
// (1, or 2 once an EPOCH record was removed), u32 0, u64 first segment
// kept, u64 streams, then per stream: u8 name length, name, u64 trimmed_to;
// version 2 only: u64 epochs, then per epoch u64 epoch, u64 position of its
// removed EPOCH record; u32 CRC32C of everything before it.
//
// EPOCH records are not carried forward as DELETE_TO and SNAPSHOT_SAVE
// records are: an epoch begins where its record is (epoch_end answers from
// those positions, and a replica refuses a second EPOCH of the same epoch),
// so the removed ones are kept here, and the epoch list is rebuilt from
// them plus the EPOCH records the log still holds.
#include <cairn/sdk/common.hpp>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <map>
#include <thread>
#include <utility>
#include <vector>

#include "crc32c.h"
#include "log.h"
#include "record.h"

namespace cairn::mmaplog {
namespace {

constexpr char kRetentionStateFile[] = "retention.state";
constexpr uint64_t kRetentionMagic = 0x5445524E52494143ull;  // "CAIRNRET"

template <typename T>
void Put(std::string* out, T v) {
  out->append(reinterpret_cast<const char*>(&v), sizeof v);
}

// Calls fn(offset, header) for every record of a sealed segment, in order,
// until the end marker. False if a record does not check out (its header)
// or fn returned false (stop).
template <typename Fn>
bool ForEachRecord(const Segment& seg, Fn&& fn) {
  const uint32_t limit = seg.capacity_units * 8;
  uint32_t off = kSegmentHeaderSize;
  for (;;) {
    uint32_t len = LoadLength(seg.data + off);
    if (len == kEndOfSegment) return true;
    if (len == 0) return false;
    RecordHeader h;
    if (CheckRecord(seg.data + off, limit - std::min(limit, off), &h,
                    /*check_body=*/false) != RecordCheck::kOk) {
      return false;
    }
    if (!fn(off, h)) return false;
    off += h.length;
  }
}

// The option's words: ParseRetention reads them, RetentionText writes them.
constexpr std::string_view kRetentionNone = "none";
constexpr std::string_view kRetentionDeleted = "deleted";
constexpr std::string_view kPrefix = "bytes:";  // then a size

// The option's value as a site writes it ("deleted", "bytes:1073741824").
std::string RetentionText(const LogOptions& options) {
  switch (options.retention) {
    case RetentionMode::kDeleted:
      return std::string(kRetentionDeleted);
    case RetentionMode::kBytes:
      return std::string(kPrefix) + std::to_string(options.retention_bytes);
    default:
      return std::string(kRetentionNone);
  }
}

}  // namespace

absl::Status ParseRetention(std::string_view text, RetentionMode* mode,
                            uint64_t* bytes) {
  if (text == kRetentionNone) {
    *mode = RetentionMode::kNone;
    return absl::OkStatus();
  }
  if (text == kRetentionDeleted) {
    *mode = RetentionMode::kDeleted;
    return absl::OkStatus();
  }
  if (text.substr(0, kPrefix.size()) == kPrefix) {
    uint64_t size = 0;
    sdk::Status s = sdk::Options::ParseSize(
        "retention", std::string(text.substr(kPrefix.size())), &size);
    if (s.ok() && size > 0) {
      *mode = RetentionMode::kBytes;
      *bytes = size;
      return absl::OkStatus();
    }
  }
  return absl::InvalidArgumentError(
      "option 'retention': '" + std::string(text) +
      "' is not one of none, deleted, bytes:SIZE (SIZE > 0, e.g. "
      "bytes:100GiB)");
}

void Log::WakeMaintenance() {
  std::lock_guard<std::mutex> lk(maintenance_wake_mu_);
  ++maintenance_requests_;
  maintenance_cv_.notify_all();
}

void Log::MaintenanceLoop() {
  // The last open's index region files (a kill -9 leaves them; IndexArena)
  // go here, off the open's path.
  auto stale = arena_->RemoveStale();
  if (!stale.ok() && options_.warn) {
    options_.warn("removing the index files of the last open: " +
                  std::string(stale.status().message()) +
                  "; the next open tries again");
  }
  // One pass at open: the log may have been reopened with a retention
  // setting that already applies.
  uint64_t seen = UINT64_MAX;
  for (;;) {
    if (seen != UINT64_MAX) {
      std::unique_lock<std::mutex> lk(maintenance_wake_mu_);
      maintenance_cv_.wait(lk, [&] {
        return stopping_.load() || maintenance_requests_ != seen;
      });
      if (stopping_.load()) return;
      seen = maintenance_requests_;
    } else {
      std::lock_guard<std::mutex> lk(maintenance_wake_mu_);
      seen = maintenance_requests_;
    }
    absl::Status s = RunMaintenance(options_.info, /*report_checkpoint=*/false);
    if (!s.ok() && options_.warn) {
      options_.warn("background maintenance (retention, index checkpoint): " +
                    std::string(s.message()) +
                    "; it is retried after the next rotation");
    }
  }
}

absl::Status Log::RunMaintenance(
    const std::function<void(const std::string&)>& on_change,
    bool report_checkpoint) {
  std::lock_guard<std::mutex> lk(maintenance_mu_);
  if (failed_.load(std::memory_order_acquire)) return absl::OkStatus();
  if (options_.retention != RetentionMode::kNone) {
    for (;;) {
      const uint64_t number = first_segment_.load(std::memory_order_acquire);
      const uint64_t first = FirstPosition();
      const Segment* seg = SegmentAt(number);
      const uint64_t bytes = seg != nullptr ? seg->size : 0;
      auto removed = RemoveOldestSegment();
      if (!removed.ok()) return removed.status();
      if (!*removed) break;
      if (on_change) {
        on_change("removed segment " + SegmentFileName(number) +
                  " (positions " + std::to_string(first) + "-" +
                  std::to_string(FirstPosition() - 1) + ", " +
                  std::to_string(bytes) + " bytes; retention " +
                  RetentionText(options_) + ")");
      }
    }
  }
  const uint64_t checkpoints = checkpoints_written_.load();
  absl::Status s = WriteCheckpoint(/*closing=*/false);
  if (s.ok() && on_change && report_checkpoint &&
      checkpoints_written_.load() != checkpoints) {
    on_change("wrote an index checkpoint");
  }
  return s;
}

bool Log::SegmentRemovable(Segment* seg, uint64_t last) const {
  switch (options_.retention) {
    case RetentionMode::kBytes: {
      // Each segment at its own size: one made before segment-size changed
      // keeps the size it was made with (counting it at the current
      // setting would drop history early after a raise).
      uint64_t in_use = 0;
      for (uint64_t n = seg->number; n <= last; ++n) {
        const Segment* s = SegmentAt(n);
        in_use += s != nullptr ? s->size : options_.segment_size;
      }
      return in_use > options_.retention_bytes;
    }
    case RetentionMode::kDeleted: {
      // Every event must be deleted (delete-to past it); a record that does
      // not check out keeps the segment.
      // Control records do not keep it: the live ones are carried forward
      // (CarryForwardControlRecords).
      return ForEachRecord(*seg, [&](uint32_t off, const RecordHeader& h) {
        if (h.kind != kKindEvent) return true;
        StreamState* st = streams_.Find(h.StreamName(seg->data + off));
        return st != nullptr &&
               h.revision <= st->deleted_to.load(std::memory_order_acquire);
      });
    }
    default:
      return false;
  }
}

absl::StatusOr<bool> Log::RemoveOldestSegment() {
  Segment* active = active_.load(std::memory_order_acquire);
  const uint64_t number = first_segment_.load(std::memory_order_acquire);
  if (number >= active->number) return false;  // the active one stays
  Segment* seg = SegmentAt(number);
  Segment* next = SegmentAt(number + 1);
  if (seg == nullptr || next == nullptr ||
      !seg->sealed.load(std::memory_order_acquire)) {
    return false;  // not complete and durable yet
  }
  // Only committed records go: a control record not committed yet has not
  // taken effect, so carrying it forward could not preserve it.
  if (next->base_position > Committed()) return false;
  if (!SegmentRemovable(seg, active->number)) return false;
  absl::Status carried = CarryForwardControlRecords(seg);
  if (!carried.ok()) return carried;

  // 1. Indexes: new reads skip the segment (trimmed_to, a tag's first
  //    entry). The entries themselves are cleared only after the segment is
  //    unmapped: a read that already pinned it goes on reading it, so no
  //    read sees a gap in the middle.
  std::vector<std::pair<ChunkedArray*, uint64_t>> entries;
  // What was trimmed before, so the chunks newly below can be released.
  std::map<StreamState*, uint64_t> old_trimmed;
  std::map<TagState*, uint64_t> old_first;
  const uint64_t old_sparse_below =
      (first_position_.load(std::memory_order_acquire) - 1) / kSparseEvery;
  bool whole = ForEachRecord(*seg, [&](uint32_t off, const RecordHeader& h) {
    if (h.kind != kKindEvent) return true;  // no stream or tag entry
    const uint8_t* rec = seg->data + off;
    const uint64_t location = MakeLocation(number, off);
    if (StreamState* st = streams_.Find(h.StreamName(rec))) {
      old_trimmed.emplace(st, st->trimmed_to.load(std::memory_order_relaxed));
      if (h.revision > st->trimmed_to.load(std::memory_order_relaxed)) {
        st->trimmed_to.store(h.revision, std::memory_order_release);
      }
      if (st->revisions.Get(h.revision - 1) == location) {
        entries.emplace_back(&st->revisions, h.revision - 1);
      }
    }
    if (h.tag_count != 0) {
      ForEachTag(rec, h, [&](std::string_view name) {
        TagState* t = tags_.Find(name);
        if (t == nullptr) return;
        uint64_t first = t->first.load(std::memory_order_relaxed);
        old_first.emplace(t, first);
        if (first < t->count.load(std::memory_order_acquire) &&
            t->locations.Get(first) == location) {
          t->first.store(first + 1, std::memory_order_release);
          entries.emplace_back(&t->locations, first);
        }
      });
    }
    return true;
  });
  if (!whole) {
    return absl::DataLossError("segment " + seg->name() +
                               " has a damaged record; retention keeps it");
  }
  const uint64_t first_position = next->base_position + 1;
  first_position_.store(first_position, std::memory_order_release);
  first_segment_.store(number + 1, std::memory_order_release);
  for (uint64_t i = seg->base_position / kSparseEvery;
       i < (first_position - 1) / kSparseEvery; ++i) {
    entries.emplace_back(&sparse_, i);
  }
  // The bucket that holds first_position starts in this segment if
  // first_position is not its first position: it goes too (readers then
  // walk from the first segment's start).
  if ((first_position - 1) % kSparseEvery != 0) {
    uint64_t i = (first_position - 1) / kSparseEvery;
    if (LocationSegment(sparse_.Get(i)) == number) entries.emplace_back(&sparse_, i);
  }

  // 2. Durable record of the removal, before the file goes. If it cannot be
  //    written the segment stays mapped and on disk, outside the log as
  //    readers see it; the next open, going by the old state, keeps it.
  absl::Status s = WriteRetentionState();
  if (!s.ok()) return s;

  // 3. Retire: no new pin succeeds after `retired`; wait for the pins taken
  //    before it, then unmap and unlink.
  seg->retired.store(true, std::memory_order_seq_cst);
  segments_.Set(number, 0);
  while (seg->pins.load(std::memory_order_seq_cst) != 0) {
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  std::string path = seg->file->path();
  seg->file.reset();
  seg->data = nullptr;
  s = fs_->Remove(path);
  if (!s.ok()) return s;
  s = fs_->SyncDirectory(options_.path);
  if (!s.ok()) return s;
  // Nothing can follow these entries any more: clear them, and give back
  // the index memory that now holds only cleared entries.
  for (auto& [array, index] : entries) array->Set(index, 0);
  for (auto& [st, before] : old_trimmed) {
    st->revisions.Release(before, st->trimmed_to.load(std::memory_order_relaxed));
  }
  for (auto& [t, before] : old_first) {
    t->locations.Release(before, t->first.load(std::memory_order_relaxed));
  }
  sparse_.Release(old_sparse_below, (first_position - 1) / kSparseEvery);
  segments_removed_.fetch_add(1, std::memory_order_relaxed);
  return true;
}

absl::Status Log::WriteRetentionState() {
  std::string out;
  // The epochs whose EPOCH record is now before the first position kept.
  std::vector<std::pair<uint64_t, uint64_t>> retired;
  {
    const uint64_t first = first_position_.load(std::memory_order_acquire);
    std::lock_guard<std::mutex> lk(state_mu_);
    for (const auto& e : epochs_) {
      if (e.second < first) retired.push_back(e);
    }
    retired_epochs_ = retired;
  }
  Put(&out, kRetentionMagic);
  Put(&out, uint32_t{retired.empty() ? 1u : 2u});
  Put(&out, uint32_t{0});
  Put(&out, first_segment_.load(std::memory_order_acquire));
  std::string entries;
  uint64_t count = 0;
  const uint64_t ordinals = stream_count_.load(std::memory_order_acquire);
  for (uint64_t o = 1; o <= ordinals; ++o) {
    auto* st = reinterpret_cast<StreamState*>(ordinals_.Get(o - 1));
    uint64_t trimmed = st->trimmed_to.load(std::memory_order_acquire);
    if (trimmed == 0) continue;
    entries.push_back(static_cast<char>(st->name.size()));
    entries.append(st->name);
    Put(&entries, trimmed);
    ++count;
  }
  Put(&out, count);
  out += entries;
  if (!retired.empty()) {
    Put(&out, uint64_t{retired.size()});
    for (auto [epoch, position] : retired) {
      Put(&out, epoch);
      Put(&out, position);
    }
  }
  Put(&out, Crc32c(0, out.data(), out.size()));
  return fs_->WriteFileAtomic(options_.path + "/" + kRetentionStateFile, out);
}

absl::Status Log::ReadRetentionState(uint64_t* first_segment) {
  *first_segment = 0;
  std::string path = options_.path + "/" + kRetentionStateFile;
  if (!fs_->Exists(path)) return absl::OkStatus();
  auto contents = fs_->ReadFile(path);
  if (!contents.ok()) return contents.status();
  const std::string& c = *contents;
  uint64_t magic = 0;
  uint32_t version = 0, crc = 0;
  bool ok = c.size() >= 36;
  if (ok) {
    std::memcpy(&magic, c.data(), 8);
    std::memcpy(&version, c.data() + 8, 4);
    std::memcpy(&crc, c.data() + c.size() - 4, 4);
    ok = magic == kRetentionMagic && (version == 1 || version == 2) &&
         Crc32c(0, c.data(), c.size() - 4) == crc;
  }
  // Version 2: the stream entries are followed by the removed epochs.
  size_t streams_end = c.size() - 4;
  std::vector<std::pair<uint64_t, uint64_t>> retired;
  if (ok && version == 2) {
    uint64_t count = 0;
    std::memcpy(&count, c.data() + 24, 8);
    size_t pos = 32;
    for (uint64_t i = 0; ok && i < count; ++i) {
      if (pos + 1 > c.size() - 4) {
        ok = false;
        break;
      }
      pos += 1 + static_cast<uint8_t>(c[pos]) + 8;
    }
    uint64_t epochs = 0;
    if (ok && pos + 8 <= c.size() - 4) {
      std::memcpy(&epochs, c.data() + pos, 8);
      streams_end = pos;
      pos += 8;
      ok = epochs <= (c.size() - 4 - pos) / 16;
    } else {
      ok = false;
    }
    for (uint64_t i = 0; ok && i < epochs; ++i, pos += 16) {
      uint64_t epoch, position;
      std::memcpy(&epoch, c.data() + pos, 8);
      std::memcpy(&position, c.data() + pos + 8, 8);
      retired.emplace_back(epoch, position);
    }
    ok = ok && pos == c.size() - 4;
  }
  if (!ok) {
    // It is replaced atomically, so this is damage, not a crash.
    recovery_.problems.push_back(
        std::string(kRetentionStateFile) +
        " is damaged: the heads of streams whose every event retention "
        "removed may be lost; restore it from a backup");
    return absl::OkStatus();
  }
  std::memcpy(first_segment, c.data() + 16, 8);
  retention_state_ = c.substr(24, streams_end - 24);
  retired_epochs_ = std::move(retired);
  return absl::OkStatus();
}

void Log::ApplyRetentionState() {
  const std::string& c = retention_state_;
  if (c.size() < 8) return;
  uint64_t count;
  std::memcpy(&count, c.data(), 8);
  size_t pos = 8;
  for (uint64_t i = 0; i < count && pos < c.size(); ++i) {
    size_t len = static_cast<uint8_t>(c[pos]);
    if (pos + 1 + len + 8 > c.size()) break;
    std::string_view name(c.data() + pos + 1, len);
    uint64_t trimmed;
    std::memcpy(&trimmed, c.data() + pos + 1 + len, 8);
    pos += 1 + len + 8;
    bool created = false;
    StreamState* st = streams_.FindOrCreate(name, &created);
    if (created) {
      uint64_t ordinal = stream_count_.load(std::memory_order_relaxed) + 1;
      st->ordinal.store(ordinal, std::memory_order_relaxed);
      ordinals_.Set(ordinal - 1, reinterpret_cast<uint64_t>(st));
      stream_count_.store(ordinal, std::memory_order_release);
    }
    if (trimmed > st->head()) st->head_and_claim.store(trimmed << 1);
    if (trimmed > st->trimmed_to.load()) st->trimmed_to.store(trimmed);
  }
  retention_state_.clear();
  MergeRetiredEpochs();
}

void Log::MergeRetiredEpochs() {
  std::lock_guard<std::mutex> lk(state_mu_);
  for (const auto& e : retired_epochs_) {
    auto at = std::lower_bound(epochs_.begin(), epochs_.end(), e,
                               [](const std::pair<uint64_t, uint64_t>& a,
                                  const std::pair<uint64_t, uint64_t>& b) {
                                 return a.second < b.second;
                               });
    if (at == epochs_.end() || at->second != e.second) epochs_.insert(at, e);
  }
}

}  // namespace cairn::mmaplog
