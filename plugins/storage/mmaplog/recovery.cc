// Log::Recover (open-time recovery) and Log::Verify.
#include <algorithm>
#include <chrono>
#include <cstring>
#include <map>

#include "crc32c.h"
#include "log.h"
#include "record.h"
#include "store_folder.h"

namespace cairn::mmaplog {
namespace {

constexpr char kDeletesFile[] = "deletes.log";

bool ParseSegmentName(const std::string& name, uint64_t* number) {
  return ParseSegmentFileName(name, number);
}

constexpr char kQuarantineDir[] = "quarantine";

// Records from `from` on (8-byte aligned probes) whose header and body both
// pass their checksums: evidence that bytes before them were not a torn tail.
uint64_t CountCheckedRecordsAfter(const uint8_t* data, uint32_t from,
                                  uint32_t limit) {
  uint64_t found = 0;
  for (uint32_t probe = from; probe + kRecordHeaderSize <= limit; probe += 8) {
    RecordHeader h;
    if (CheckRecord(data + probe, limit - probe, &h) == RecordCheck::kOk) ++found;
  }
  return found;
}

// Where a damaged or dropped segment named `name` is kept:
// <log>/quarantine/<name>.<unix seconds>.
std::string QuarantinePath(const std::string& log_dir, const std::string& name) {
  auto now = std::chrono::duration_cast<std::chrono::seconds>(
                 std::chrono::system_clock::now().time_since_epoch())
                 .count();
  return log_dir + "/" + kQuarantineDir + "/" + name + "." + std::to_string(now);
}

// Zeroes the pages of [from, to) that hold anything, leaving all-zero pages
// untouched (not dirtied); returns the bytes zeroed.
uint64_t ZeroRange(uint8_t* data, size_t from, size_t to) {
  uint64_t zeroed = 0;
  size_t pos = from;
  while (pos < to) {
    size_t end = std::min(to, (pos + 4096) & ~size_t{4095});
    if (!AllZero(data + pos, end - pos)) {
      std::memset(data + pos, 0, end - pos);
      zeroed += end - pos;
    }
    pos = end;
  }
  return zeroed;
}

const char* CheckText(RecordCheck c) {
  switch (c) {
    case RecordCheck::kBadLength:
      return "impossible record length";
    case RecordCheck::kBadHeader:
      return "record header fails its checksum";
    case RecordCheck::kBadBody:
      return "record body fails its checksum";
    default:
      return "unexpected record";
  }
}

}  // namespace

absl::Status Log::Recover() {
  uint64_t retained_from = 0;
  absl::Status rs = ReadRetentionState(&retained_from);
  if (!rs.ok()) return rs;
  auto names = fs_->ListDirectory(options_.path);
  if (!names.ok()) return names.status();
  std::map<uint64_t, std::string> files;
  for (const std::string& n : *names) {
    uint64_t number;
    if (ParseSegmentName(n, &number)) files[number] = n;
  }
  // Files named like segments that mmaplog did not make are left alone.
  absl::Status foreign = SetAsideForeignSegmentFiles(
      fs_, options_.path, &files, &recovery_.foreign_files);
  if (!foreign.ok()) return foreign;
  // A crash after retention recorded a removal but before it unlinked the
  // segment leaves the file behind: finish the removal.
  while (!files.empty() && files.begin()->first < retained_from) {
    absl::Status s = fs_->Remove(options_.path + "/" + files.begin()->second);
    if (!s.ok()) return s;
    files.erase(files.begin());
    ++recovery_.completed_removals;
  }
  if (recovery_.completed_removals > 0) {
    absl::Status s = fs_->SyncDirectory(options_.path);
    if (!s.ok()) return s;
  }
  // Open every segment; those never put in use (spares) are removed.
  std::vector<std::unique_ptr<Segment>> used;
  std::vector<std::string> unused;
  for (auto& [number, name] : files) {
    std::string path = options_.path + "/" + name;
    auto file = fs_->OpenMapped(path);
    SegmentHeader h;
    bool valid = file.ok() && (*file)->size() >= (64u << 10) &&
                 h.DecodeFrom((*file)->data()) && h.number == number &&
                 h.size == (*file)->size();
    if (!valid || (h.flags & kSegmentInUse) == 0) {
      // A spare made ahead of need, or one whose creation a crash cut short.
      // Harmless unless a later segment is in use (checked next).
      unused.push_back(path);
      continue;
    }
    if (!unused.empty()) {
      return absl::DataLossError(
          "segment " + name + " is in use but an earlier segment (" +
          unused.front().substr(unused.front().rfind('/') + 1) +
          ") is damaged or was never started; restore it from a backup");
    }
    if (!used.empty() && used.back()->number + 1 != number) {
      return absl::DataLossError("segment " + SegmentFileName(number - 1) +
                                 " is missing before " + name +
                                 "; restore it from a backup");
    }
    auto seg = std::make_unique<Segment>();
    seg->number = number;
    seg->base_position = h.base_position;
    seg->file = std::move(*file);
    seg->data = seg->file->data();
    seg->size = seg->file->size();
    seg->capacity_units = static_cast<uint32_t>((seg->size - 8) / 8);
    seg->sealed.store((h.flags & kSegmentSealed) != 0);
    used.push_back(std::move(seg));
  }
  // The spare right after the last segment in use may be reused (the
  // preparer checks it is still blank); every other unused file goes.
  std::string keep_spare =
      used.empty() ? "" : options_.path + "/" + SegmentFileName(used.back()->number + 1);
  for (const std::string& path : unused) {
    if (path == keep_spare) continue;
    absl::Status s = fs_->Remove(path);
    if (!s.ok()) return s;
  }

  if (used.empty()) {
    uint64_t number =
        std::max(retained_from, files.empty() ? 1 : files.rbegin()->first + 1);
    auto seg = CreateSegment(number);
    if (!seg.ok()) return seg.status();
    SegmentHeader h;
    h.flags = kSegmentInUse;
    h.number = number;
    h.base_position = 0;
    h.size = (*seg)->size;
    h.EncodeTo((*seg)->data);
    absl::Status s = (*seg)->file->Sync(0, kSegmentHeaderSize);
    if (!s.ok()) return s;
    used.push_back(std::move(*seg));
  }

  first_segment_.store(used.front()->number);
  first_position_.store(used.front()->base_position + 1);
  auto scan_start = std::chrono::steady_clock::now();
  uint64_t expected = used.front()->base_position;
  size_t keep = used.size();
  for (auto& seg : used) {
    segments_.Set(seg->number, reinterpret_cast<uint64_t>(seg.get()));
  }
  // The checkpoint covers the log up to its cut; only what follows is
  // scanned. Without one (or if it does not match the files) everything is.
  size_t scan_index = 0;
  uint32_t scan_from = kSegmentHeaderSize;
  auto checkpoint = LoadCheckpoint(used, &scan_index, &scan_from, &expected);
  if (!checkpoint.ok()) return checkpoint.status();
  // Streams retention trimmed: their heads and trimmed_to, before the scan
  // checks revisions against heads.
  ApplyRetentionState();
  for (size_t i = scan_index; i < used.size(); ++i) {
    Segment* seg = used[i].get();
    const uint32_t from = i == scan_index ? scan_from : kSegmentHeaderSize;
    if (from == kSegmentHeaderSize && seg->base_position != expected) {
      if (!seg->sealed.load() || recovery_.problems.empty()) {
        if (!seg->sealed.load()) {
          // The previous segment lost its tail; nothing here can be
          // committed after a gap.
          keep = i;
          break;
        }
        return absl::DataLossError(
            "segment " + seg->name() + " starts after position " +
            std::to_string(seg->base_position) + " but the log before it ends at " +
            std::to_string(expected) + "; restore the segments from a backup");
      }
      expected = seg->base_position;  // resynchronise after reported damage
    }
    bool truncated = false;
    absl::Status s = ScanSegment(seg, from, &expected, &truncated);
    if (!s.ok()) return s;
    if (truncated) {
      keep = i + 1;
      break;
    }
  }
  for (size_t i = keep; i < used.size(); ++i) {
    std::string path = used[i]->file->path();
    std::string name = used[i]->name();
    const bool has_records = used[i]->size >= kSegmentHeaderSize + 4 &&
                             LoadLength(used[i]->data + kSegmentHeaderSize) != 0;
    segments_.Set(used[i]->number, 0);
    used[i].reset();
    // A segment after a truncated one may hold records that were
    // acknowledged before the damage: keep its bytes for the operator.
    absl::Status s;
    if (has_records) {
      std::string kept = QuarantinePath(options_.path, name);
      s = fs_->CreateDirectories(options_.path + "/" + kQuarantineDir);
      if (s.ok()) s = fs_->Rename(path, kept);
      if (s.ok()) {
        recovery_.problems.push_back("segment " + name +
                                     " follows a truncated segment and was taken out of the "
                                     "log; its bytes are kept in " + kept);
      }
    } else {
      s = fs_->Remove(path);
    }
    if (!s.ok()) return s;
    ++recovery_.dropped_segments;
  }
  used.resize(keep);
  if (recovery_.dropped_segments > 0) {
    absl::Status s = fs_->SyncDirectory(options_.path);
    if (!s.ok()) return s;
  }

  recovery_.scan_seconds = std::chrono::duration<double>(
                               std::chrono::steady_clock::now() - scan_start)
                               .count();
  Segment* last = used.back().get();
  uint32_t end = static_cast<uint32_t>(last->reserve.load() & 0xFFFFFFFFu) * 8;
  // Segments before the last that ended without an end marker (the crash came
  // between installing the next segment and marking this one) get one now, so
  // readers walk on.
  for (size_t i = scan_index; i + 1 < used.size(); ++i) {
    Segment* seg = used[i].get();
    uint32_t seg_end =
        static_cast<uint32_t>(seg->reserve.load() & 0xFFFFFFFFu) * 8;
    if (LoadLength(seg->data + seg_end) != kEndOfSegment) {
      PublishLength(seg->data + seg_end, kEndOfSegment);
    }
  }
  recovery_.segments = used.size();
  cursor_segment_ = last;
  cursor_offset_ = end;
  cursor_next_position_ = expected + 1;
  cursor_location_.store(MakeLocation(last->number, end));
  committed_segment_.store(last->number);
  watermark_.store(expected);
  active_.store(last);
  next_spare_number_ = last->number + 1;
  synced_segment_ = used.front()->number;
  for (auto& seg : used) {
    if (!seg->sealed.load()) break;
    synced_segment_ = seg->number + 1;
  }
  synced_segment_ = std::min(synced_segment_, last->number);
  for (auto& seg : used) segment_owner_.push_back(std::move(seg));

  // Make what recovery kept (and repaired) durable, and seal finished
  // segments, before anyone reads it as committed.
  uint64_t synced = 0;
  absl::Status s = SyncCommitted(&synced);
  if (!s.ok()) return s;
  durable_.store(synced);
  return LoadDeletes();
}

absl::Status Log::ScanSegment(Segment* seg, uint32_t from, uint64_t* expected,
                              bool* truncated) {
  const bool sealed = seg->sealed.load();
  const uint32_t limit = seg->capacity_units * 8;
  uint32_t off = from;
  uint64_t count = *expected - seg->base_position;  // records before `from`
  struct Pending {
    uint32_t offset;
    RecordHeader header;
  };
  std::vector<Pending> batch;
  auto problem = [&](uint32_t at, const std::string& what) {
    recovery_.problems.push_back("segment " + seg->name() + " offset " +
                                 std::to_string(at) + ": " + what);
  };
  // Ends the scan of an unsealed (tail) segment at `at`, dropping the
  // incomplete batch and zeroing what follows.
  auto truncate_at = [&](uint32_t at) -> absl::Status {
    uint32_t cut = batch.empty() ? at : batch.front().offset;
    recovery_.dropped_records += batch.size();
    batch.clear();
    recovery_.truncated_bytes += ZeroRange(seg->data, cut, seg->size);
    absl::Status s = seg->file->Sync(0, seg->size);
    if (!s.ok()) return s;
    off = cut;
    *truncated = true;
    return absl::OkStatus();
  };
  for (;;) {
    uint32_t len = off + 4 <= seg->size ? LoadLength(seg->data + off) : 0;
    if (len == 0 || len == kEndOfSegment) {
      if (!batch.empty()) {
        if (sealed) {
          problem(batch.front().offset, "batch of " +
                                            std::to_string(batch.front().header.batch_size) +
                                            " records is incomplete");
          batch.clear();
        } else {
          absl::Status s = truncate_at(off);
          if (!s.ok()) return s;
          break;
        }
      }
      if (len == 0 && !sealed) {
        // The log ends here. An appender killed between reserving and
        // publishing leaves a hole, and records published after the hole
        // (never committed: the watermark cannot pass a hole) are still in
        // the file. Zero them, or a later append that lands in the hole
        // would make them look published again.
        uint64_t zeroed = ZeroRange(seg->data, off, seg->size);
        if (zeroed > 0) {
          recovery_.truncated_bytes += zeroed;
          absl::Status s = seg->file->Sync(0, seg->size);
          if (!s.ok()) return s;
        }
      }
      break;
    }
    RecordHeader h;
    // Sealed segments were verified when written and synced; open checks
    // their record headers only (reads and verify check bodies), which
    // keeps reopening fast.
    RecordCheck c = CheckRecord(seg->data + off, limit - std::min(limit, off),
                                &h, /*check_body=*/!sealed);
    bool usable = c == RecordCheck::kOk || (sealed && c == RecordCheck::kBadBody);
    uint64_t want = *expected + batch.size() + 1;
    if (usable && h.position != want) {
      usable = false;
      c = RecordCheck::kBadHeader;
    }
    if (usable && h.batch_index != batch.size()) usable = false;
    if (usable && !batch.empty() &&
        h.batch_size != batch.front().header.batch_size) {
      usable = false;
    }
    if (!usable) {
      if (!sealed) {
        // A torn write is the usual cause; but if records after this one
        // still pass their checksums, the bad bytes may be damage to
        // records that were acknowledged. Either way the log must end here
        // (positions cannot skip), so the segment as found is copied aside
        // first and the loss is reported as a problem, not just a warning.
        uint64_t later = CountCheckedRecordsAfter(seg->data, off + 8, limit);
        if (later > 0) {
          std::string kept = QuarantinePath(options_.path, seg->name());
          absl::Status q = fs_->CreateDirectories(options_.path + "/" + kQuarantineDir);
          if (q.ok()) {
            q = fs_->WriteFileAtomic(
                kept, std::string(reinterpret_cast<const char*>(seg->data), seg->size));
          }
          if (!q.ok()) return q;
          problem(off, std::string(CheckText(c)) + "; " + std::to_string(later) +
                           " later record(s) still pass their checksums, so this may be "
                           "damage rather than a torn write: the log is truncated here and "
                           "the segment as found is kept in " + kept);
        }
        absl::Status s = truncate_at(off);
        if (!s.ok()) return s;
        break;
      }
      // Damage inside a sealed segment: report it and resynchronise on the
      // next record whose header checks out.
      problem(off, c == RecordCheck::kOk || c == RecordCheck::kBadBody
                       ? "record out of sequence (expected position " +
                             std::to_string(want) + ")"
                       : CheckText(c));
      batch.clear();
      uint32_t probe = off + 8;
      bool found = false;
      for (; probe + kRecordHeaderSize <= limit; probe += 8) {
        RecordHeader ph;
        RecordCheck pc = CheckRecord(seg->data + probe, limit - probe, &ph);
        if ((pc == RecordCheck::kOk || pc == RecordCheck::kBadBody) &&
            ph.position > *expected && ph.batch_index == 0) {
          *expected = ph.position - 1;
          found = true;
          break;
        }
        uint32_t l = LoadLength(seg->data + probe);
        if (l == kEndOfSegment) break;
      }
      if (!found) break;
      off = probe;
      continue;
    }
    if (c == RecordCheck::kBadBody) {
      problem(off, std::string(CheckText(c)) + " (stream '" +
                       std::string(h.StreamName(seg->data + off)) +
                       "' revision " + std::to_string(h.revision) +
                       ", position " + std::to_string(h.position) + ")");
    }
    batch.push_back(Pending{off, h});
    recovery_.scanned_bytes += h.length;
    off += h.length;
    if (h.batch_index + 1 == h.batch_size) {
      for (const Pending& p : batch) {
        // A sealed last segment the checkpoint covered is scanned again
        // only to find its end; its records are indexed already.
        if (p.header.position <= recovery_.checkpoint_position) continue;
        ++recovery_.scanned_records;
        const uint8_t* rec = seg->data + p.offset;
        std::string_view name = p.header.StreamName(rec);
        StreamState* st = streams_.Find(name);
        uint64_t head = st == nullptr ? 0 : st->head();
        bool fresh_after_retention =
            head == 0 && seg->number == first_segment_.load() && *expected > 0;
        if (p.header.revision != head + 1 && !fresh_after_retention) {
          problem(p.offset, "stream '" + std::string(name) + "' revision " +
                                std::to_string(p.header.revision) +
                                " does not follow its head " +
                                std::to_string(head));
        }
        if (p.header.revision > head) {
          IndexRecord(seg, p.offset, rec, p.header.revision,
                      p.header.position, name, true);
        }
      }
      count += batch.size();
      *expected += batch.size();
      for (const Pending& p : batch) {
        if (p.header.position > recovery_.checkpoint_position) ++recovery_.records;
      }
      batch.clear();
    }
  }
  seg->reserve.store((count << 32) | (off / 8));
  return absl::OkStatus();
}

absl::Status Log::LoadDeletes() {
  std::string path = options_.path + "/" + kDeletesFile;
  if (!fs_->Exists(path)) return absl::OkStatus();
  auto contents = fs_->ReadFile(path);
  if (!contents.ok()) return contents.status();
  const std::string& c = *contents;
  size_t pos = 0;
  while (pos + 8 <= c.size()) {
    uint32_t len, crc;
    std::memcpy(&len, c.data() + pos, 4);
    std::memcpy(&crc, c.data() + pos + 4, 4);
    if (len < 9 || len > 8 + 255 || pos + 8 + len > c.size() ||
        Crc32c(0, c.data() + pos + 8, len) != crc) {
      break;
    }
    uint64_t revision;
    std::memcpy(&revision, c.data() + pos + 8, 8);
    std::string_view name(c.data() + pos + 16, len - 8);
    if (StreamState* s = streams_.Find(name)) {
      if (revision > s->deleted_to.load()) s->deleted_to.store(revision);
      any_deletes_.store(true);
    }
    pos += 8 + len;
  }
  if (pos != c.size()) {
    // A torn last record (crash during delete_to, which then never
    // returned): drop it.
    absl::Status s = fs_->Truncate(path, pos);
    if (!s.ok()) return s;
    recovery_.truncated_bytes += c.size() - pos;
  }
  return absl::OkStatus();
}

absl::Status Log::Verify(absl::FunctionRef<void(const std::string&)> report) {
  uint64_t problems = 0;
  auto problem = [&](const std::string& p) {
    ++problems;
    report(p);
  };
  uint64_t watermark = watermark_.load(std::memory_order_acquire);
  Segment* active = active_.load(std::memory_order_acquire);
  uint64_t expected = 0;
  bool have_expected = false;
  SegmentRef pin(this);
  for (uint64_t n = first_segment_.load(); n <= active->number; ++n) {
    Segment* seg = pin.Switch(n);
    if (seg == nullptr && n < first_segment_.load()) {
      have_expected = false;  // removed by retention meanwhile
      continue;
    }
    if (seg == nullptr) {
      problem("segment " + SegmentFileName(n) + " is missing");
      have_expected = false;
      continue;
    }
    SegmentHeader h;
    bool header_ok;
    {
      std::lock_guard<std::mutex> lk(header_mu_);
      header_ok = h.DecodeFrom(seg->data);
    }
    if (!header_ok) {
      problem("segment " + seg->name() + " offset 0: damaged segment header");
    }
    if (!have_expected) {
      expected = seg->base_position;
      have_expected = true;
    } else if (seg->base_position != expected) {
      problem("segment " + seg->name() + ": starts after position " +
              std::to_string(seg->base_position) + ", expected " +
              std::to_string(expected));
      expected = seg->base_position;
    }
    const uint32_t limit = seg->capacity_units * 8;
    uint32_t off = kSegmentHeaderSize;
    while (expected < watermark && off + 4 <= seg->size) {
      uint32_t len = LoadLength(seg->data + off);
      if (len == kEndOfSegment || len == 0) break;
      RecordHeader rh;
      RecordCheck c = CheckRecord(seg->data + off, limit - std::min(limit, off),
                                  &rh);
      if (c == RecordCheck::kOk || c == RecordCheck::kBadBody) {
        if (c == RecordCheck::kBadBody) {
          problem("segment " + seg->name() + " offset " + std::to_string(off) +
                  ": record body fails its checksum (stream '" +
                  std::string(rh.StreamName(seg->data + off)) + "' revision " +
                  std::to_string(rh.revision) + ", position " +
                  std::to_string(rh.position) + ")");
        }
        if (rh.position != expected + 1) {
          problem("segment " + seg->name() + " offset " + std::to_string(off) +
                  ": position " + std::to_string(rh.position) +
                  " where " + std::to_string(expected + 1) + " was expected");
        }
        expected = rh.position;
        off += rh.length;
        continue;
      }
      problem("segment " + seg->name() + " offset " + std::to_string(off) +
              ": " + CheckText(c));
      // Resynchronise on the next record with a valid header.
      uint32_t probe = off + 8;
      bool found = false;
      for (; probe + kRecordHeaderSize <= limit; probe += 8) {
        RecordHeader ph;
        RecordCheck pc = CheckRecord(seg->data + probe, limit - probe, &ph);
        if ((pc == RecordCheck::kOk || pc == RecordCheck::kBadBody) &&
            ph.position > expected) {
          found = true;
          break;
        }
      }
      if (!found) {
        have_expected = false;
        break;
      }
      off = probe;
    }
  }
  // The stream index must point at the right records.
  streams_.ForEach([&](StreamState* s) {
    uint64_t head = s->head();
    for (uint64_t r = 1; r <= head; ++r) {
      uint64_t loc = s->revisions.Get(r - 1);
      if (loc == 0) continue;  // before retention, or not yet written
      Segment* seg = pin.Switch(LocationSegment(loc));
      if (seg == nullptr) continue;  // removed by retention
      const uint8_t* rec = seg->data + LocationOffset(loc);
      RecordHeader rh;
      RecordCheck c = CheckRecord(
          rec, seg->capacity_units * 8 - LocationOffset(loc), &rh);
      if (c == RecordCheck::kEmpty) continue;  // in flight
      if ((c == RecordCheck::kOk || c == RecordCheck::kBadBody) &&
          rh.position > watermark) {
        continue;
      }
      if ((c == RecordCheck::kOk || c == RecordCheck::kBadBody) &&
          (rh.revision != r || rh.StreamName(rec) != s->name)) {
        problem("index: stream '" + s->name + "' revision " +
                std::to_string(r) + " points at segment " + seg->name() +
                " offset " + std::to_string(LocationOffset(loc)) +
                ", which holds another event");
      }
    }
  });
  if (problems > 0) {
    return absl::DataLossError("verify found " + std::to_string(problems) +
                               " problem(s); see the report");
  }
  return absl::OkStatus();
}

}  // namespace cairn::mmaplog
