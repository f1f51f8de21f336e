// The index checkpoint: written at a clean close, read at the next open so
// that reopening does not rescan the segments.
//
// <path>/index/checkpoint (little-endian):
//   u64 magic "CAIRNCKP", u32 version (1), u32 0,
//   u64 watermark, u64 first segment, u64 active segment, u32 cursor offset,
//   u32 0,
//   u64 streams, then per stream in ordinal order: u8 name length, name,
//     u64 head revision, then head x u64 location (revision 1 first),
//   u64 tags, then per tag: u8 name length, name, u64 count, count x u64
//     location,
//   u64 sparse entries, then that many u64 locations,
//   u32 CRC32C of everything before it.
//
// The file is removed as soon as it is loaded, so it can only ever describe
// the log exactly as a clean close left it; any doubt (checksum, segments,
// a record after the recorded end) falls back to the full scan.
#include <algorithm>
#include <cstring>

#include "crc32c.h"
#include "log.h"
#include "record.h"

namespace cairn::mmaplog {
namespace {

constexpr uint64_t kCheckpointMagic = 0x504B434E52494143ull;  // "CAIRNCKP"
constexpr uint64_t kSparseEvery = 64;

class Writer {
 public:
  Writer(FileSystem* fs, std::string path) : fs_(fs), path_(std::move(path)) {}
  template <typename T>
  void Put(T v) {
    Bytes(&v, sizeof v);
  }
  void Bytes(const void* p, size_t n) {
    buffer_.append(static_cast<const char*>(p), n);
    if (buffer_.size() >= (4u << 20)) Spill(false);
  }
  absl::Status Finish() {
    uint32_t crc = Crc32c(crc_, buffer_.data(), buffer_.size());
    buffer_.append(reinterpret_cast<const char*>(&crc), 4);
    crc_ = 0;
    Spill(true);
    return status_;
  }

 private:
  void Spill(bool sync) {
    if (!status_.ok()) return;
    crc_ = Crc32c(crc_, buffer_.data(), buffer_.size());
    status_ = fs_->AppendFile(path_, buffer_, sync);
    buffer_.clear();
  }
  FileSystem* fs_;
  std::string path_;
  std::string buffer_;
  uint32_t crc_ = 0;
  absl::Status status_;
};

class Reader {
 public:
  explicit Reader(const std::string& s) : p_(s.data()), end_(s.data() + s.size()) {}
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
  bool Has(uint64_t count, size_t each) const {
    return count <= static_cast<uint64_t>(end_ - p_) / each;
  }

 private:
  const char* p_;
  const char* end_;
};

}  // namespace

absl::Status Log::WriteCheckpoint() {
  std::string dir = options_.path + "/index";
  std::string tmp = dir + "/checkpoint.tmp";
  absl::Status s = fs_->Remove(tmp);
  if (!s.ok()) return s;
  Writer w(fs_, tmp);
  uint64_t watermark = watermark_.load();
  w.Put(kCheckpointMagic);
  w.Put(uint32_t{1});
  w.Put(uint32_t{0});
  w.Put(watermark);
  w.Put(first_segment_);
  w.Put(cursor_segment_->number);
  w.Put(cursor_offset_);
  w.Put(uint32_t{0});
  uint64_t streams = stream_count_.load();
  w.Put(streams);
  for (uint64_t o = 1; o <= streams; ++o) {
    auto* st = reinterpret_cast<StreamState*>(ordinals_.Get(o - 1));
    w.Put(static_cast<uint8_t>(st->name.size()));
    w.Bytes(st->name.data(), st->name.size());
    uint64_t head = st->head();
    w.Put(head);
    for (uint64_t r = 0; r < head; ++r) w.Put(st->revisions.Get(r));
  }
  w.Put(tags_.size());
  tags_.ForEach([&](TagState* t) {
    w.Put(static_cast<uint8_t>(t->name.size()));
    w.Bytes(t->name.data(), t->name.size());
    uint64_t n = t->count.load();
    w.Put(n);
    for (uint64_t i = 0; i < n; ++i) w.Put(t->locations.Get(i));
  });
  uint64_t sparse = watermark == 0 ? 0 : (watermark - 1) / kSparseEvery + 1;
  w.Put(sparse);
  for (uint64_t i = 0; i < sparse; ++i) w.Put(sparse_.Get(i));
  s = w.Finish();
  if (!s.ok()) return s;
  return fs_->Rename(tmp, dir + "/checkpoint");
}

absl::StatusOr<bool> Log::LoadCheckpoint(
    const std::vector<std::unique_ptr<Segment>>& used) {
  std::string path = options_.path + "/index/checkpoint";
  if (!fs_->Exists(path)) return false;
  auto contents = fs_->ReadFile(path);
  if (!contents.ok()) return contents.status();
  // Whatever happens next, this checkpoint must not be trusted twice.
  absl::Status s = fs_->Remove(path);
  if (!s.ok()) return s;
  const std::string& c = *contents;
  if (c.size() < 64) return false;
  uint32_t crc;
  std::memcpy(&crc, c.data() + c.size() - 4, 4);
  if (Crc32c(0, c.data(), c.size() - 4) != crc) return false;
  Reader r(c);
  uint64_t magic, watermark, first, active;
  uint32_t version, zero, cursor_offset;
  if (!r.Get(&magic) || magic != kCheckpointMagic || !r.Get(&version) ||
      version != 1 || !r.Get(&zero) || !r.Get(&watermark) || !r.Get(&first) ||
      !r.Get(&active) || !r.Get(&cursor_offset) || !r.Get(&zero)) {
    return false;
  }
  Segment* last = used.back().get();
  if (first != used.front()->number || active != last->number ||
      watermark < last->base_position ||
      cursor_offset < kSegmentHeaderSize ||
      cursor_offset > last->capacity_units * 8) {
    return false;
  }
  // Nothing may follow the recorded end (it would be an append after the
  // checkpoint was written, which cannot happen after a clean close).
  uint32_t after = LoadLength(last->data + cursor_offset);
  if (after != 0 && after != kEndOfSegment) return false;
  // The unsealed segments (the tail) are checked record by record, as the
  // scan would: they must hold exactly the positions up to the watermark,
  // every checksum good, ending at the recorded offset.
  uint64_t position = 0;
  bool have_position = false;
  for (const auto& seg : used) {
    if (seg->sealed.load()) continue;
    if (!have_position) {
      position = seg->base_position;
      have_position = true;
    } else if (seg->base_position != position) {
      return false;
    }
    uint32_t off = kSegmentHeaderSize;
    const uint32_t limit = seg->capacity_units * 8;
    for (;;) {
      uint32_t len = LoadLength(seg->data + off);
      if (len == 0 || len == kEndOfSegment) break;
      RecordHeader h;
      if (CheckRecord(seg->data + off, limit - std::min(limit, off), &h) !=
              RecordCheck::kOk ||
          h.position != position + 1) {
        return false;
      }
      position = h.position;
      off += h.length;
    }
    if (seg.get() == last && off != cursor_offset) return false;
  }
  if (have_position && position != watermark) return false;

  uint64_t streams;
  if (!r.Get(&streams)) return false;
  for (uint64_t o = 1; o <= streams; ++o) {
    std::string_view name;
    uint64_t head;
    if (!r.Name(&name) || !r.Get(&head) || !r.Has(head, 8)) {
      return absl::InternalError("index checkpoint: stream table is cut short");
    }
    bool created = false;
    StreamState* st = streams_.FindOrCreate(name, &created);
    st->head_and_claim.store(head << 1);
    for (uint64_t i = 0; i < head; ++i) {
      uint64_t loc = 0;
      r.Get(&loc);
      st->revisions.Set(i, loc);
    }
    st->ordinal.store(o);
    ordinals_.Set(o - 1, reinterpret_cast<uint64_t>(st));
    stream_count_.store(o);
  }
  uint64_t tags;
  if (!r.Get(&tags)) return absl::InternalError("index checkpoint: no tags");
  for (uint64_t t = 0; t < tags; ++t) {
    std::string_view name;
    uint64_t count;
    if (!r.Name(&name) || !r.Get(&count) || !r.Has(count, 8)) {
      return absl::InternalError("index checkpoint: tag table is cut short");
    }
    bool created = false;
    TagState* tag = tags_.FindOrCreate(name, &created);
    for (uint64_t i = 0; i < count; ++i) {
      uint64_t loc = 0;
      r.Get(&loc);
      tag->locations.Set(i, loc);
    }
    tag->count.store(count);
  }
  uint64_t sparse;
  if (!r.Get(&sparse) || !r.Has(sparse, 8)) {
    return absl::InternalError("index checkpoint: sparse index is cut short");
  }
  for (uint64_t i = 0; i < sparse; ++i) {
    uint64_t loc = 0;
    r.Get(&loc);
    sparse_.Set(i, loc);
  }
  last->reserve.store(((watermark - last->base_position) << 32) |
                      (cursor_offset / 8));
  recovery_.records = watermark - used.front()->base_position;
  recovery_.from_checkpoint = true;
  watermark_.store(watermark);
  return true;
}

}  // namespace cairn::mmaplog
