// The index checkpoint: the indexes up to a cut, so that an open reads them
// instead of rescanning the segments before the cut.
//
// The background thread writes one whenever a newer segment is sealed (cut =
// the end of the newest segment that, with every one before it, is sealed:
// complete and durable), and a clean close writes one whose cut is the end
// of the log. Either way it is written to checkpoint.tmp, synced, renamed
// over <path>/index/checkpoint and the directory synced, so a crash leaves
// the old one or the new one, never a torn one.
//
// <path>/index/checkpoint (little-endian):
//   u64 magic "CAIRNCKP", u32 version (3; 2 is read too), u32 0,
//   u64 cut segment, u64 its base position, u32 cut offset (0: the whole
//   segment, up to its end marker), u32 0, u64 cut position (the last
//   position the checkpoint covers),
//   u64 streams, then per stream in ordinal order from 1: u8 name length,
//     name, u64 first revision stored, u64 last revision (the stream's head
//     at the cut), then one u64 location per revision first..last,
//   u64 tags, then per tag: u8 name length, name, u64 first entry stored,
//     u64 entries at the cut, then one u64 location per entry stored,
//   u64 first sparse entry, u64 sparse entries, then their u64 locations,
//   (version 3) u64 length, then the control state (Log::EncodeControlState:
//     delete-to per stream, epochs, the snapshot index),
//   u32 CRC32C of everything before it.
//
// Records before the cut never change, so the checkpoint stays valid while
// the log grows after it; the open checks it against the files (checksum,
// the cut segment's records up to the cut, every segment before it sealed)
// and scans only what follows the cut. Locations in segments retention has
// removed since are dropped as it is loaded.
#include <algorithm>
#include <cstring>

#include "crc32c.h"
#include "log.h"
#include "record.h"
#include "store_folder.h"

namespace cairn::mmaplog {
namespace {

constexpr uint64_t kCheckpointMagic = 0x504B434E52494143ull;  // "CAIRNCKP"
constexpr uint32_t kCheckpointVersion = 3;
// Version 2 (before control records) has no control section.
constexpr uint32_t kOldCheckpointVersion = 2;
// A background checkpoint rewrites the whole index, so writing one at every
// seal would cost more per segment the bigger the log grows. One is written
// only once the log has grown, since the last one's cut, by at least this
// many times that checkpoint's size: checkpoints add at most 1/4 to the bytes
// the log writes, and a reopen after kill -9 scans at most the larger of one
// segment and 4 x the checkpoint's size, plus the active segment.
constexpr uint64_t kCheckpointSpacing = 4;

// Writes the checkpoint through a fixed buffer on the writing thread's stack,
// so writing one (hundreds of MiB for a large index) takes no heap memory:
// a heap buffer of megabytes is kept by malloc after it is freed and shows
// up as a permanent step in the process's anonymous memory.
class Writer {
 public:
  static constexpr size_t kBufferSize = 64 << 10;
  Writer(FileSystem* fs, std::string path) : fs_(fs), path_(std::move(path)) {}
  template <typename T>
  void Put(T v) {
    Bytes(&v, sizeof v);
  }
  void Bytes(const void* p, size_t n) {
    const char* in = static_cast<const char*>(p);
    size_ += n;
    while (n > 0) {
      size_t take = std::min(n, kBufferSize - used_);
      std::memcpy(buffer_ + used_, in, take);
      used_ += take;
      in += take;
      n -= take;
      if (used_ == kBufferSize) Spill(false);
    }
  }
  absl::Status Finish() {
    if (used_ + 4 > kBufferSize) Spill(false);
    uint32_t crc = Crc32c(crc_, buffer_, used_);
    std::memcpy(buffer_ + used_, &crc, 4);
    used_ += 4;
    size_ += 4;
    crc_ = 0;
    Spill(true);
    return status_;
  }
  uint64_t size() const { return size_; }
  // n locations from ChunkedArray::ForEachRange (null: zeros).
  void Locations(const uint64_t* values, size_t n) {
    if (values != nullptr) {
      Bytes(values, n * sizeof(uint64_t));
      return;
    }
    static constexpr uint64_t kZeros[64] = {};
    while (n > 0) {
      size_t take = std::min<size_t>(n, 64);
      Bytes(kZeros, take * sizeof(uint64_t));
      n -= take;
    }
  }

 private:
  void Spill(bool sync) {
    if (status_.ok()) {
      crc_ = Crc32c(crc_, buffer_, used_);
      status_ = fs_->AppendFile(path_, std::string_view(buffer_, used_), sync);
    }
    used_ = 0;
  }
  FileSystem* fs_;
  std::string path_;
  char buffer_[kBufferSize];
  size_t used_ = 0;
  uint64_t size_ = 0;
  uint32_t crc_ = 0;
  absl::Status status_;
};

class Reader {
 public:
  explicit Reader(std::string_view s) : p_(s.data()), end_(s.data() + s.size()) {}
  template <typename T>
  bool Get(T* v) {
    if (end_ - p_ < static_cast<ptrdiff_t>(sizeof(T))) return false;
    std::memcpy(v, p_, sizeof(T));
    p_ += sizeof(T);
    return true;
  }
  bool Name(std::string_view* out) {
    uint8_t n;
    if (!Get(&n) || end_ - p_ < n) return false;
    *out = std::string_view(p_, n);
    p_ += n;
    return true;
  }
  uint64_t Remaining() const { return static_cast<uint64_t>(end_ - p_); }
  bool Has(uint64_t count, size_t each) const {
    return count <= static_cast<uint64_t>(end_ - p_) / each;
  }
  bool Skip(uint64_t count, size_t each) {
    if (!Has(count, each)) return false;
    p_ += count * each;
    return true;
  }

 private:
  const char* p_;
  const char* end_;
};

}  // namespace

absl::Status Log::WriteCheckpoint(bool closing) {
  // The cut: at a clean close the end of the log (nothing else runs); in the
  // background the end of the newest sealed segment with only sealed ones
  // before it, whose records are all committed and durable.
  uint64_t cut_segment, cut_base, cut_position;
  uint32_t cut_offset;
  if (closing) {
    cut_segment = cursor_segment_->number;
    cut_base = cursor_segment_->base_position;
    cut_offset = cursor_offset_;
    cut_position = watermark_.load();
  } else {
    Segment* active = active_.load(std::memory_order_acquire);
    uint64_t n = first_segment_.load(std::memory_order_acquire);
    cut_segment = 0;
    for (; n < active->number; ++n) {
      Segment* seg = SegmentAt(n);
      if (seg == nullptr || !seg->sealed.load(std::memory_order_acquire)) break;
      cut_segment = n;
    }
    if (cut_segment == 0) {
      // Nothing sealed yet: the marker still records, once, that records
      // were synced, so that losing the first segment stays provable.
      const uint64_t synced = durable_.load(std::memory_order_acquire);
      if (synced == 0 || marker_proves_records_.load()) return absl::OkStatus();
      std::lock_guard<std::mutex> lock(marker_mu_);
      if (ReadMarkerHighWater(fs_, options_.path).position == 0) {
        absl::Status s = WriteMarkerHighWater(fs_, options_.path,
                                              MarkerHighWater{0, synced});
        if (!s.ok()) return s;
      }
      marker_proves_records_.store(true);
      return absl::OkStatus();
    }
    // The marker's high-water mark (store_folder.h) follows every seal, so
    // that losing every segment stays provable without a checkpoint. Once
    // per segment, in this background thread: the append path never waits
    // for it.
    if (Segment* next = SegmentAt(cut_segment + 1)) {
      std::lock_guard<std::mutex> lock(marker_mu_);
      const MarkerHighWater now{cut_segment, next->base_position};
      const MarkerHighWater recorded = ReadMarkerHighWater(fs_, options_.path);
      if (recorded.sealed_segment != now.sealed_segment ||
          recorded.position != now.position) {
        absl::Status s = WriteMarkerHighWater(fs_, options_.path, now);
        if (!s.ok()) return s;
      }
    }
    if (cut_segment <= checkpointed_segment_) {
      return absl::OkStatus();  // nothing new is sealed
    }
    const uint64_t grown =
        (cut_segment - checkpointed_segment_) * options_.segment_size;
    if (grown < kCheckpointSpacing * checkpoint_bytes_) {
      return absl::OkStatus();  // not worth rewriting the index yet
    }
    Segment* seg = SegmentAt(cut_segment);
    Segment* next = SegmentAt(cut_segment + 1);
    if (seg == nullptr || next == nullptr) return absl::OkStatus();
    cut_base = seg->base_position;
    cut_offset = 0;
    cut_position = next->base_position;
  }
  auto in_cut = [&](uint64_t location) {
    return location != 0 && LocationSegment(location) <= cut_segment &&
           (cut_offset == 0 || LocationSegment(location) < cut_segment ||
            LocationOffset(location) < cut_offset);
  };

  std::string dir = options_.path + "/index";
  std::string tmp = dir + "/checkpoint.tmp";
  absl::Status s = fs_->Remove(tmp);
  if (!s.ok()) return s;
  Writer w(fs_, tmp);
  w.Put(kCheckpointMagic);
  w.Put(kCheckpointVersion);
  w.Put(uint32_t{0});
  w.Put(cut_segment);
  w.Put(cut_base);
  w.Put(cut_offset);
  w.Put(uint32_t{0});
  w.Put(cut_position);
  // Streams in ordinal order, up to the last one with anything at or before
  // the cut (ordinals follow the position of a stream's first event, so the
  // ones after it have all their events after the cut and the scan finds
  // them).
  // (Each stream's range is worked out twice, once to count and once to
  // write, rather than kept in a vector of one entry per stream: the walk
  // back is a few steps, a vector would be megabytes of heap.)
  const uint64_t ordinals = stream_count_.load(std::memory_order_acquire);
  auto range = [&](StreamState* st) {  // first, last revision stored
    uint64_t trimmed = st->trimmed_to.load(std::memory_order_acquire);
    uint64_t last = st->head();
    // Revisions after the cut (or not yet written) are at the end: walk back
    // over them.
    while (last > trimmed && !in_cut(st->revisions.Get(last - 1))) --last;
    return std::pair<uint64_t, uint64_t>(trimmed + 1, last);
  };
  auto stream = [&](uint64_t o) {
    return reinterpret_cast<StreamState*>(ordinals_.Get(o - 1));
  };
  uint64_t streams = 0;
  for (uint64_t o = 1; o <= ordinals; ++o) {
    if (range(stream(o)).second > 0) streams = o;
  }
  w.Put(streams);
  for (uint64_t o = 1; o <= streams; ++o) {
    StreamState* st = stream(o);
    auto [first, last] = range(st);
    w.Put(static_cast<uint8_t>(st->name.size()));
    w.Bytes(st->name.data(), st->name.size());
    w.Put(first);
    w.Put(last);
    if (first <= last) {
      st->revisions.ForEachRange(
          first - 1, last,
          [&](const uint64_t* v, size_t n) { w.Locations(v, n); });
    }
  }
  std::vector<TagState*> tags;
  tags_.ForEach([&](TagState* t) { tags.push_back(t); });
  std::vector<std::pair<uint64_t, uint64_t>> tag_ranges;
  uint64_t tags_written = 0;
  for (TagState* t : tags) {
    uint64_t first = t->first.load(std::memory_order_acquire);
    uint64_t count = t->count.load(std::memory_order_acquire);
    while (count > first && !in_cut(t->locations.Get(count - 1))) --count;
    tag_ranges.emplace_back(first, count);
    if (count > first) ++tags_written;
  }
  w.Put(tags_written);
  for (size_t i = 0; i < tags.size(); ++i) {
    auto [first, count] = tag_ranges[i];
    if (count <= first) continue;
    w.Put(static_cast<uint8_t>(tags[i]->name.size()));
    w.Bytes(tags[i]->name.data(), tags[i]->name.size());
    w.Put(first);
    w.Put(count);
    tags[i]->locations.ForEachRange(
        first, count, [&](const uint64_t* v, size_t n) { w.Locations(v, n); });
  }
  uint64_t sparse_first =
      (first_position_.load(std::memory_order_acquire) - 1) / kSparseEvery;
  uint64_t sparse_end =
      cut_position == 0 ? 0 : (cut_position - 1) / kSparseEvery + 1;
  sparse_first = std::min(sparse_first, sparse_end);
  w.Put(sparse_first);
  w.Put(sparse_end - sparse_first);
  sparse_.ForEachRange(sparse_first, sparse_end,
                       [&](const uint64_t* v, size_t n) { w.Locations(v, n); });
  const std::string control = EncodeControlState();
  w.Put(uint64_t{control.size()});
  w.Bytes(control.data(), control.size());
  s = w.Finish();
  if (!s.ok()) return s;
  s = fs_->Rename(tmp, dir + "/checkpoint");
  if (!s.ok()) return s;
  checkpointed_segment_ = cut_segment;
  checkpoint_bytes_ = w.size();
  checkpoints_written_.fetch_add(1, std::memory_order_relaxed);
  return absl::OkStatus();
}

absl::StatusOr<bool> Log::LoadCheckpoint(
    const std::vector<std::unique_ptr<Segment>>& used, size_t* scan_segment,
    uint32_t* scan_from, uint64_t* expected) {
  std::string path = options_.path + "/index/checkpoint";
  if (!fs_->Exists(path)) return false;
  // Mapped, not read into the heap: a large index's checkpoint is hundreds
  // of MiB, and its pages are file-backed and dropped once it is loaded.
  auto size = fs_->FileSize(path);
  if (!size.ok()) return size.status();
  auto reject = [&](const std::string& why) {
    recovery_.checkpoint_rejected = "index checkpoint not used (" + why +
                                    "); the whole log was scanned instead";
    return false;
  };
  if (*size < 64) return reject("it is cut short");
  auto mapped = fs_->OpenMapped(path);
  if (!mapped.ok()) return mapped.status();
  const std::string_view c(reinterpret_cast<const char*>((*mapped)->data()),
                           (*mapped)->size());
  uint32_t crc;
  std::memcpy(&crc, c.data() + c.size() - 4, 4);
  if (Crc32c(0, c.data(), c.size() - 4) != crc) {
    return reject("it fails its checksum");
  }
  Reader r(c);
  uint64_t magic, cut_segment, cut_base, cut_position;
  uint32_t version, zero, cut_offset;
  if (!r.Get(&magic) || magic != kCheckpointMagic || !r.Get(&version) ||
      (version != kCheckpointVersion && version != kOldCheckpointVersion) ||
      !r.Get(&zero) || !r.Get(&cut_segment) || !r.Get(&cut_base) ||
      !r.Get(&cut_offset) || !r.Get(&zero) || !r.Get(&cut_position)) {
    return reject("unknown format or version");
  }
  if (used.empty()) {
    // Every segment is gone (Recover refuses unless it repairs); a cut past
    // position 0 still proves the log held events.
    if (cut_position > 0) {
      Prove(cut_position,
            "index/checkpoint covers the log up to it, in segment " +
                SegmentFileName(cut_segment));
    }
    if (options_.repair && cut_position > 0) {
      // The repair starts an empty log as if retention had removed
      // everything: streams keep their heads at the cut (as retention.state
      // entries, applied by the open), so revisions are not reused.
      uint64_t streams = 0;
      std::string entries;
      uint64_t count = 0;
      bool whole = r.Get(&streams);
      for (uint64_t o = 1; whole && o <= streams; ++o) {
        std::string_view name;
        uint64_t first, last;
        whole = r.Name(&name) && r.Get(&first) && r.Get(&last) && first != 0 &&
                (last < first || r.Skip(last - first + 1, 8));
        if (!whole || last == 0) continue;
        entries.push_back(static_cast<char>(name.size()));
        entries.append(name);
        entries.append(reinterpret_cast<const char*>(&last), 8);
        ++count;
      }
      AddRetentionEntries(count, entries);
    }
    return reject("no segment is left");
  }
  const uint64_t first_number = used.front()->number;
  if (cut_segment < first_number) {
    Prove(cut_position, "index/checkpoint covers the log up to it");
    return reject("its cut segment " + SegmentFileName(cut_segment) +
                  " was removed by retention");
  }
  if (cut_segment > used.back()->number) {
    // The segments up to the cut existed when it was written: the open
    // refuses (see Recover) unless it repairs.
    Prove(cut_position, "index/checkpoint covers the log up to it, in segment " +
                            SegmentFileName(cut_segment));
    return reject("the log ends before its cut segment " +
                  SegmentFileName(cut_segment));
  }
  size_t cut_index = static_cast<size_t>(cut_segment - first_number);
  Segment* cut = used[cut_index].get();
  if (cut->base_position != cut_base) {
    return reject("segment " + cut->name() + " starts at another position");
  }
  // Whether or not it is used, a checkpoint of this log proves the log
  // reached its cut (it is written only over records synced before it).
  Prove(cut_position, "index/checkpoint covers the log up to it");
  if (options_.repair) return reject("the open repairs, so it scans everything");
  for (size_t i = 0; i < cut_index; ++i) {
    if (!used[i]->sealed.load()) {
      return reject("segment " + used[i]->name() + " before the cut is not sealed");
    }
  }
  if (cut_offset == 0 && !cut->sealed.load()) {
    return reject("its cut segment " + cut->name() + " is not sealed");
  }
  // The cut segment's records up to the cut must be exactly the positions
  // up to the cut position, every checksum good (headers only if sealed, as
  // the scan checks them).
  {
    const bool sealed = cut->sealed.load();
    const uint32_t limit = cut->capacity_units * 8;
    uint64_t position = cut->base_position;
    uint32_t off = kSegmentHeaderSize;
    for (;;) {
      if (cut_offset != 0 && off >= cut_offset) break;
      uint32_t len = LoadLength(cut->data + off);
      if (len == 0 || len == kEndOfSegment) break;
      RecordHeader h;
      RecordCheck check = CheckRecord(cut->data + off,
                                      limit - std::min(limit, off), &h,
                                      /*check_body=*/!sealed);
      if (check != RecordCheck::kOk || h.position != position + 1) {
        return reject("segment " + cut->name() + " offset " +
                      std::to_string(off) + " does not match it");
      }
      position = h.position;
      off += h.length;
    }
    if (position != cut_position || (cut_offset != 0 && off != cut_offset)) {
      return reject("segment " + cut->name() + " does not end where it says");
    }
    if (cut_offset == 0 && LoadLength(cut->data + off) != kEndOfSegment &&
        cut_index + 1 < used.size()) {
      return reject("segment " + cut->name() + " has no end marker");
    }
    if (cut_index + 1 < used.size() &&
        used[cut_index + 1]->base_position != cut_position &&
        cut_offset == 0) {
      return reject("segment " + used[cut_index + 1]->name() +
                    " does not follow its cut");
    }
  }
  // Locations in segments retention has removed since the checkpoint was
  // written are dropped.
  auto kept = [&](uint64_t location) {
    return LocationSegment(location) >= first_number ? location : 0;
  };
  uint64_t streams;
  if (!r.Get(&streams)) return reject("no stream table");
  for (uint64_t o = 1; o <= streams; ++o) {
    std::string_view name;
    uint64_t first, last;
    if (!r.Name(&name) || !r.Get(&first) || !r.Get(&last) || first == 0 ||
        (last >= first && !r.Has(last - first + 1, 8))) {
      return absl::InternalError("index checkpoint: stream table is cut short");
    }
    bool created = false;
    StreamState* st = streams_.FindOrCreate(name, &created);
    st->head_and_claim.store(last << 1);
    for (uint64_t rev = first; rev <= last; ++rev) {
      uint64_t loc = 0;
      r.Get(&loc);
      loc = kept(loc);
      if (loc != 0) st->revisions.Set(rev - 1, loc);
    }
    st->ordinal.store(o);
    ordinals_.Set(o - 1, reinterpret_cast<uint64_t>(st));
    stream_count_.store(o);
  }
  uint64_t tags;
  if (!r.Get(&tags)) return absl::InternalError("index checkpoint: no tags");
  for (uint64_t t = 0; t < tags; ++t) {
    std::string_view name;
    uint64_t first, count;
    if (!r.Name(&name) || !r.Get(&first) || !r.Get(&count) || count < first ||
        !r.Has(count - first, 8)) {
      return absl::InternalError("index checkpoint: tag table is cut short");
    }
    bool created = false;
    TagState* tag = tags_.FindOrCreate(name, &created);
    uint64_t retained = first;
    for (uint64_t i = first; i < count; ++i) {
      uint64_t loc = 0;
      r.Get(&loc);
      loc = kept(loc);
      if (loc != 0) {
        tag->locations.Set(i, loc);
      } else if (retained == i) {
        retained = i + 1;
      }
    }
    tag->first.store(retained);
    tag->count.store(count);
  }
  uint64_t sparse_first, sparse;
  if (!r.Get(&sparse_first) || !r.Get(&sparse) || !r.Has(sparse, 8)) {
    return absl::InternalError("index checkpoint: sparse index is cut short");
  }
  for (uint64_t i = sparse_first; i < sparse_first + sparse; ++i) {
    uint64_t loc = 0;
    r.Get(&loc);
    loc = kept(loc);
    if (loc != 0) sparse_.Set(i, loc);
  }
  if (version == kCheckpointVersion) {
    uint64_t control_size = 0;
    if (!r.Get(&control_size) || !r.Has(control_size, 1)) {
      return absl::InternalError(
          "index checkpoint: control state is cut short");
    }
    std::string_view control(c.data() + (c.size() - r.Remaining()),
                             control_size);
    if (!DecodeControlState(control)) {
      return absl::InternalError("index checkpoint: control state is damaged");
    }
  }
  // The scan goes on after the cut: inside the cut segment (a clean close's
  // checkpoint) or from the start of the next one; a sealed last segment is
  // rescanned (its records are already indexed and are skipped) so that its
  // end is known.
  if (cut_offset != 0) {
    *scan_segment = cut_index;
    *scan_from = cut_offset;
    *expected = cut_position;
  } else if (cut_index + 1 < used.size()) {
    *scan_segment = cut_index + 1;
    *scan_from = kSegmentHeaderSize;
    *expected = cut_position;
  } else {
    *scan_segment = cut_index;
    *scan_from = kSegmentHeaderSize;
    *expected = cut->base_position;
  }
  // The next background checkpoint is due once a segment after the one
  // this checkpoint covers whole is sealed (and the log has grown enough,
  // kCheckpointSpacing).
  checkpointed_segment_ = cut_offset == 0 ? cut_segment : cut_segment - 1;
  checkpoint_bytes_ = c.size();
  recovery_.records = cut_position - used.front()->base_position;
  recovery_.checkpoint_position = cut_position;
  recovery_.from_checkpoint = true;
  return true;
}

}  // namespace cairn::mmaplog
