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
// pass their checksums: evidence that bytes before them were not a torn
// tail. *last_position (if given) is the highest position among them.
uint64_t CountCheckedRecordsAfter(const uint8_t* data, uint32_t from,
                                  uint32_t limit,
                                  uint64_t* last_position = nullptr) {
  uint64_t found = 0;
  for (uint32_t probe = from; probe + kRecordHeaderSize <= limit; probe += 8) {
    RecordHeader h;
    if (CheckRecord(data + probe, limit - probe, &h) == RecordCheck::kOk) {
      ++found;
      if (last_position != nullptr && h.position > *last_position) {
        *last_position = h.position;
      }
    }
  }
  return found;
}

// "positions A..B (N events)", or "no position" when the range is empty.
std::string PositionRange(uint64_t first, uint64_t last) {
  if (last < first) return "no position";
  return "positions " + std::to_string(first) + ".." + std::to_string(last) +
         " (" + std::to_string(last - first + 1) + " event(s))";
}

// Where a damaged or dropped file named `name` is kept:
// <log>/quarantine/<name>.<unix seconds>[.N], a name not taken yet.
std::string QuarantinePath(FileSystem* fs, const std::string& log_dir,
                           const std::string& name) {
  auto now = std::chrono::duration_cast<std::chrono::seconds>(
                 std::chrono::system_clock::now().time_since_epoch())
                 .count();
  std::string base = log_dir + "/" + kQuarantineDir + "/" + name + "." + std::to_string(now);
  std::string path = base;
  for (int n = 1; fs->Exists(path) && n < 1000; ++n) path = base + "." + std::to_string(n);
  return path;
}

// Zeroes the pages of [from, to) of `file` that hold anything, leaving
// all-zero pages untouched (not dirtied) and holes unread (they read as
// zeros: MappedFile::NextData); returns the bytes zeroed.
uint64_t ZeroRange(const MappedFile& file, size_t from, size_t to) {
  uint8_t* data = file.data();
  uint64_t zeroed = 0;
  ForEachDataPage(file, from, to, [&](size_t pos, size_t end) {
    if (!AllZero(data + pos, end - pos)) {
      std::memset(data + pos, 0, end - pos);
      zeroed += end - pos;
    }
    return true;
  });
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

void Log::Prove(uint64_t position, const std::string& by) {
  if (position > recovery_.proven_position) {
    recovery_.proven_position = position;
    recovery_.proven_by = by;
  }
}

absl::Status Log::CheckCut(const std::string& file, uint64_t offset,
                           uint64_t cut_position, const std::string& what) const {
  if (options_.repair || cut_position >= recovery_.proven_position) {
    return absl::OkStatus();
  }
  return absl::DataLossError(
      file + " offset " + std::to_string(offset) + ": " + what +
      "; the log would end at position " + std::to_string(cut_position) +
      ", but position " + std::to_string(recovery_.proven_position) +
      " was durable (" + recovery_.proven_by +
      "), so this is damage, not a torn tail. Nothing was changed; run "
      "'cairn verify --repair' to cut the log there (it lists what it drops "
      "and keeps a copy in quarantine/), or restore the store from a backup");
}

absl::StatusOr<std::string> Log::Quarantine(const std::string& name,
                                            std::string_view bytes) {
  std::string kept = QuarantinePath(fs_, options_.path, name);
  absl::Status s = fs_->CreateDirectories(options_.path + "/" + kQuarantineDir);
  if (s.ok()) s = fs_->WriteFileAtomic(kept, std::string(bytes));
  if (!s.ok()) return s;
  return kept;
}

absl::StatusOr<std::string> Log::MoveToQuarantine(const std::string& path,
                                                  const std::string& name) {
  std::string kept = QuarantinePath(fs_, options_.path, name);
  absl::Status s = fs_->CreateDirectories(options_.path + "/" + kQuarantineDir);
  if (s.ok()) s = fs_->Rename(path, kept);
  if (!s.ok()) return s;
  return kept;
}

void Log::AddRetentionEntries(uint64_t count, std::string_view entries) {
  if (count == 0) return;
  uint64_t had = 0;
  if (retention_state_.size() >= 8) {
    std::memcpy(&had, retention_state_.data(), 8);
  } else {
    retention_state_.assign(8, '\0');
  }
  had += count;
  std::memcpy(retention_state_.data(), &had, 8);
  retention_state_.append(entries);
}

void Log::WriteDurableMark(uint64_t position) {
  std::lock_guard<std::mutex> lk(mark_mu_);
  marked_position_ = std::max(marked_position_, position);
  Segment* seg = active_.load(std::memory_order_acquire);
  if (seg != nullptr) {
    EncodeDurableMark(seg->data, DurableMark{marked_position_, deletes_durable_.load()});
  }
}

absl::Status Log::Recover() {
  uint64_t retained_from = 0;
  absl::Status rs = ReadRetentionState(&retained_from);
  if (!rs.ok()) return rs;
  // The marker's high-water mark: the log reached the end of the newest
  // segment sealed (store_folder.h), even if every segment is gone.
  std::string marker_damaged;
  const MarkerHighWater high_water =
      ReadMarkerHighWater(fs_, options_.path, &marker_damaged);
  if (!marker_damaged.empty()) recovery_.problems.push_back(marker_damaged);
  // What the marker's high-water line says about its position.
  const std::string high_water_says =
      std::string(kStoreMarkerFile) +
      (high_water.sealed_segment > 0
           ? " records that segment " +
                 SegmentFileName(high_water.sealed_segment) +
                 " was sealed there"
           : " records that the log was synced up to it before any segment "
             "was sealed");
  if (high_water.position > 0) {
    Prove(high_water.position, high_water_says);
    marker_proves_records_.store(true);
  }
  marker_records_held_.store(high_water.records_held);
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
  // Refusals before anything is changed name the file and what to run.
  auto refuse = [](const std::string& where, const std::string& what,
                   const std::string& repair) {
    return absl::DataLossError(
        where + ": " + what + ". Nothing was changed; run 'cairn verify "
        "--repair' to " + repair + " (it lists what it drops and keeps a copy "
        "in quarantine/), or restore the store from a backup");
  };
  // Open every segment. A file whose header fails its checksum is a spare
  // whose creation a crash cut short only if nothing was ever written after
  // the header; one holding records was in use, and its header is damage.
  std::vector<std::unique_ptr<Segment>> used;
  std::vector<std::string> unused;
  bool cut_listing = false;  // repair: the log ends before a gap
  for (auto& [number, name] : files) {
    std::string path = options_.path + "/" + name;
    auto file = fs_->OpenMapped(path);
    if (!file.ok()) {
      auto size = fs_->FileSize(path);
      if (size.ok() && *size == 0) {  // created, never sized: a spare
        unused.push_back(path);
        continue;
      }
      return file.status();
    }
    uint8_t* data = (*file)->data();
    const size_t file_size = (*file)->size();
    SegmentHeader h;
    bool header_ok = file_size >= kSegmentHeaderSize && h.DecodeFrom(data);
    const bool has_records = file_size >= kSegmentHeaderSize + 4 &&
                             LoadLength(data + kSegmentHeaderSize) != 0;
    if (header_ok && (h.flags & kSegmentInUse) == 0) {
      unused.push_back(path);  // a spare made ahead of need
      continue;
    }
    if (!header_ok && file_size >= kSegmentHeaderSize) {
      if (const uint32_t v = SegmentHeader::UnknownVersion(data); v != 0) {
        return absl::FailedPreconditionError(
            "segment " + name + " offset 8: segment format version " +
            std::to_string(v) + ", but this build of mmaplog reads versions " +
            std::to_string(kOldestFormatVersion) + " to " +
            std::to_string(kFormatVersion) +
            "; open the store with the newer cairn that wrote it. Nothing "
            "was changed");
      }
    }
    if (!header_ok && !has_records) {
      unused.push_back(path);  // a spare whose creation a crash cut short
      continue;
    }
    if (!header_ok) {
      const std::string what =
          "the segment header fails its checksum, but the segment holds "
          "records, so it was in use";
      if (!options_.repair) {
        return refuse("segment " + name + " offset 0", what,
                      "rebuild the header from the segment's records");
      }
      // Rebuilt from the file: number from its name, size from its length,
      // base position from its first record (whose header must check out).
      RecordHeader first;
      RecordCheck c = CheckRecord(data + kSegmentHeaderSize,
                                  file_size - kSegmentHeaderSize, &first,
                                  /*check_body=*/false);
      if (c != RecordCheck::kOk || first.batch_index != 0 ||
          file_size < (64u << 10) || first.position == 0) {
        return absl::DataLossError(
            "segment " + name + " offset 0: " + what +
            ", and its first record is damaged too, so the header cannot be "
            "rebuilt; restore the segment from a backup");
      }
      auto kept = Quarantine(name, std::string_view(
                                       reinterpret_cast<const char*>(data), file_size));
      if (!kept.ok()) return kept.status();
      h = SegmentHeader();
      h.flags = kSegmentInUse;
      h.number = number;
      h.base_position = first.position - 1;
      h.size = file_size;
      h.EncodeTo(data);
      EncodeDurableMark(data, DurableMark{});
      absl::Status s = (*file)->Sync(0, kSegmentHeaderSize);
      if (!s.ok()) return s;
      recovery_.repairs.push_back(
          "segment " + name + " offset 0: damaged header rebuilt (in use, "
          "unsealed, base position " + std::to_string(h.base_position) +
          ", from its first record); the segment as found is kept in " + *kept);
    }
    if (h.number != number) {
      return absl::DataLossError(
          "segment " + name + " offset 0: its header says it is segment " +
          SegmentFileName(h.number) +
          "; a file was renamed or copied in. Restore the store from a backup");
    }
    if (h.size != file_size) {
      const std::string what = "its header says the file is " +
                               std::to_string(h.size) + " bytes, but it is " +
                               std::to_string(file_size) +
                               " (cut short or extended)";
      if (!options_.repair) {
        return refuse("segment " + name + " offset " +
                          std::to_string(std::min<uint64_t>(h.size, file_size)),
                      what, "set the file back to its size and cut the log where its records end");
      }
      auto kept = Quarantine(name, std::string_view(
                                       reinterpret_cast<const char*>(data), file_size));
      if (!kept.ok()) return kept.status();
      file->reset();
      absl::Status s = fs_->Truncate(path, h.size);
      if (!s.ok()) return s;
      file = fs_->OpenMapped(path);
      if (!file.ok()) return file.status();
      recovery_.repairs.push_back("segment " + name + ": " + what +
                                  "; set back to " + std::to_string(h.size) +
                                  " bytes (the file as found is kept in " + *kept +
                                  "); what that cut off is listed below");
    }
    // A segment in use after a missing, blank or damaged one: positions
    // cannot skip, so the log can only end before the gap.
    std::string gap, missing;
    if (!cut_listing && !unused.empty()) {
      missing = unused.front().substr(unused.front().rfind('/') + 1);
      gap = "segment " + name + " is in use but the earlier segment " + missing +
            " is blank, damaged or was never started";
    } else if (!cut_listing && !used.empty() && used.back()->number + 1 != number) {
      missing = SegmentFileName(used.back()->number + 1);
      gap = "segment " + missing + " is missing before " + name;
    }
    if (!gap.empty()) {
      if (!options_.repair) {
        return refuse("segment " + missing, gap,
                      "end the log before " + missing + " (the segments in use after it "
                      "go to quarantine/)");
      }
      recovery_.repairs.push_back(gap + "; the log now ends before " + missing);
      cut_listing = true;
    }
    if (cut_listing) {
      uint64_t last_position = 0;
      const uint64_t records = CountCheckedRecordsAfter(
          (*file)->data(), kSegmentHeaderSize,
          static_cast<uint32_t>((*file)->size() - 8), &last_position);
      file->reset();
      auto kept = MoveToQuarantine(path, name);
      if (!kept.ok()) return kept.status();
      recovery_.repairs.push_back("dropped segment " + name + " (" + std::to_string(records) +
                                  " record(s) in it pass their checksums, up to position " +
                                  std::to_string(last_position) + "); its bytes are kept in " +
                                  *kept);
      ++recovery_.dropped_segments;
      continue;
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
  // Every segment gone: a new store only if nothing says the log ever held
  // an event; otherwise refused, or with repair an empty log after the last
  // position known, as if retention had removed everything.
  uint64_t first_expected = retained_from > 0 ? retained_from : 1;
  uint64_t empty_log_base = 0;  // with repair: the empty log starts after it
  bool empty_log = false;       // with repair: every segment was lost
  if (used.empty()) {
    // What says events existed. Each proof of a position is one written
    // only after that position was durable.
    std::vector<std::string> evidence;
    if (high_water.position > 0) {
      evidence.push_back("position " + std::to_string(high_water.position) +
                         " (" + high_water_says + ")");
    } else if (high_water.records_held) {
      evidence.push_back(
          std::string(kStoreMarkerFile) +
          " records that records were appended to the log (its first "
          "append wrote that before it was acknowledged; no position was "
          "proven synced after it)");
    }
    {
      // The checkpoint's cut, apart from the other proofs.
      const uint64_t before = recovery_.proven_position;
      const std::string before_by = recovery_.proven_by;
      recovery_.proven_position = 0;
      size_t unused_index = 0;
      uint32_t unused_from = 0;
      uint64_t unused_expected = 0;
      auto loaded =
          LoadCheckpoint(used, &unused_index, &unused_from, &unused_expected);
      if (!loaded.ok()) return loaded.status();
      if (recovery_.proven_position > 0) {
        evidence.push_back("position " +
                           std::to_string(recovery_.proven_position) + " (" +
                           recovery_.proven_by + ")");
      }
      Prove(before, before_by);
    }
    if (retained_from > 0) {
      evidence.push_back("retention.state says the log keeps segments from " +
                         SegmentFileName(retained_from));
    }
    auto deletes = fs_->FileSize(options_.path + "/" + kDeletesFile);
    if (deletes.ok() && *deletes > 0) {
      evidence.push_back(
          std::string(kDeletesFile) + " holds " + std::to_string(*deletes) +
          " bytes of delete-to records, written only for streams "
          "that had events");
    }
    std::string lost;
    for (const std::string& e : evidence)
      lost += (lost.empty() ? "" : "; ") + e;
    if (!lost.empty()) {
      lost =
          "every segment of the store is missing (no segment in use is "
          "left), but the store held events: " +
          lost;
      if (!options_.repair) {
        return refuse("'" + options_.path + "'", lost,
                      recovery_.proven_position > 0
                          ? "start an empty log after position " +
                                std::to_string(recovery_.proven_position)
                          : std::string("start an empty log (nothing proves "
                                        "a position: positions start again "
                                        "at 1)"));
      }
      first_expected =
          std::max(retained_from, high_water.sealed_segment + 1) + 1;
      empty_log_base = recovery_.proven_position;
      empty_log = true;
      recovery_.repairs.push_back(
          lost + "; the log now starts empty at " +
          SegmentFileName(first_expected) +
          (empty_log_base > 0
               ? " after position " + std::to_string(empty_log_base) + ": " +
                     PositionRange(1, empty_log_base) + " are gone"
               : ": every event is gone, and positions start again at 1") +
          " (recorded in retention.state, as retention would). Streams keep "
          "the heads the checkpoint, retention.state and deletes.log show "
          "(their revisions go on after them); any other stream starts again "
          "at revision 1; snapshots/ is left as it was");
      if (deletes.ok() && *deletes > 0) {
        // A stream reached at least the revision deleted to: its head. Each
        // record: u32 length, u32 CRC32C of the rest, u64 revision, name
        // (LoadDeletes); damaged bytes are stepped over.
        auto c = fs_->ReadFile(options_.path + "/" + kDeletesFile);
        if (!c.ok()) return c.status();
        std::string entries;
        uint64_t count = 0;
        for (size_t at = 0; at + 16 <= c->size();) {
          uint32_t len, crc;
          std::memcpy(&len, c->data() + at, 4);
          std::memcpy(&crc, c->data() + at + 4, 4);
          if (len < 9 || len > 8 + 255 || at + 8 + len > c->size() ||
              Crc32c(0, c->data() + at + 8, len) != crc) {
            ++at;
            continue;
          }
          entries.push_back(static_cast<char>(len - 8));
          entries.append(*c, at + 16, len - 8);
          entries.append(*c, at + 8, 8);
          ++count;
          at += 8 + len;
        }
        AddRetentionEntries(count, entries);
        // Its deletes are of events that are gone: out of the new log (a
        // copy stays in quarantine/).
        auto kept =
            MoveToQuarantine(options_.path + "/" + kDeletesFile, kDeletesFile);
        if (!kept.ok()) return kept.status();
        recovery_.repairs.push_back(std::string(kDeletesFile) +
                                    " (deletes of the events that are gone) is "
                                    "moved to " +
                                    *kept);
      }
    }
  }
  // Segments missing at the start: the first one is 1, or the one
  // retention.state says it kept (retention never removes the active one).
  const bool first_missing =
      !used.empty() && used.front()->number != first_expected;
  uint64_t missing_before = 0;  // positions lost with missing first segments
  if (first_missing) {
    const std::string why =
        retained_from > 0
            ? "retention.state says the log keeps segments from " +
                  SegmentFileName(retained_from)
            : fs_->Exists(options_.path + "/retention.state")
                  ? "retention.state is damaged"
                  : "retention never removed a segment (there is no retention.state)";
    const std::string what = "segment " + SegmentFileName(first_expected) +
                             " is missing: the log starts at " +
                             used.front()->name() + " (after position " +
                             std::to_string(used.front()->base_position) +
                             "), but " + why;
    if (!options_.repair) {
      return refuse(options_.path, what,
                    "start the log at " + used.front()->name() +
                        " as if retention had removed what is missing");
    }
    missing_before = used.front()->base_position;
    recovery_.repairs.push_back(
        what + "; the log now starts at " + used.front()->name() + ", " +
        (retained_from > 0 ? "the events before it are gone"
                           : PositionRange(1, used.front()->base_position) +
                                 " are gone") +
        " (recorded in retention.state, as retention would)");
  }
  // A segment is sealed only once the next one is in use (and that one's
  // header is synced first): a sealed last segment means the one after it
  // is missing or its header damaged.
  if (!used.empty() && used.back()->sealed.load()) {
    Segment* last = used.back().get();
    const std::string what = "segment " + last->name() +
                             " is sealed, so segment " +
                             SegmentFileName(last->number + 1) +
                             " was in use, but it is missing or blank";
    if (!options_.repair) {
      return refuse(options_.path + "/" + SegmentFileName(last->number + 1), what,
                    "let the log end at " + last->name() + " and go on from there");
    }
    std::lock_guard<std::mutex> lk(header_mu_);
    SegmentHeader h;
    h.DecodeFrom(last->data);
    h.flags &= ~kSegmentSealed;
    h.EncodeTo(last->data);
    last->sealed.store(false);
    recovery_.repairs.push_back(what + "; the log now ends in " + last->name() +
                                " (unsealed); everything that was in " +
                                SegmentFileName(last->number + 1) + " is gone");
  }
  // Proof of durability: the newest durable mark in any segment header.
  for (auto& seg : used) {
    DurableMark mark;
    if (DecodeDurableMark(seg->data, &mark)) {
      Prove(mark.position, "the durable mark in the header of segment " + seg->name());
      recovery_.proven_deletes_bytes =
          std::max(recovery_.proven_deletes_bytes, mark.deletes_bytes);
    }
  }
  // Unused files are blank (nothing was written after their header): the
  // spare right after the last segment in use may be reused (the preparer
  // checks it is still blank); every other one goes.
  std::string keep_spare =
      used.empty() ? "" : options_.path + "/" + SegmentFileName(used.back()->number + 1);
  for (const std::string& path : unused) {
    if (path == keep_spare) continue;
    absl::Status s = fs_->Remove(path);
    if (!s.ok()) return s;
  }

  if (used.empty()) {
    auto seg = CreateSegment(first_expected);
    if (!seg.ok()) return seg.status();
    SegmentHeader h;
    h.flags = kSegmentInUse;
    h.number = first_expected;
    h.base_position = empty_log_base;
    h.size = (*seg)->size;
    h.EncodeTo((*seg)->data);
    absl::Status s = (*seg)->file->Sync(0, kSegmentHeaderSize);
    if (!s.ok()) return s;
    (*seg)->base_position = empty_log_base;
    used.push_back(std::move(*seg));
  }

  first_segment_.store(used.front()->number);
  // Segments are numbered from 1 and only ever removed from the front
  // (retention, or a repair that lets the log start later), so the count
  // removed over the store's life survives a reopen without being stored.
  segments_removed_.store(used.front()->number - 1);
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
      // The previous segment ended early (a hole a crash left before the
      // rotation) or this one starts elsewhere. A sealed segment was
      // complete and synced, and so was every one before it.
      Segment* prev = i > 0 ? used[i - 1].get() : nullptr;
      const std::string file = prev != nullptr ? "segment " + prev->name() : seg->name();
      const uint64_t prev_end =
          prev == nullptr ? 0 : (prev->reserve.load() & 0xFFFFFFFFu) * 8;
      const std::string what = "segment " + seg->name() + " starts after position " +
                               std::to_string(seg->base_position) +
                               " but the log before it ends at " +
                               std::to_string(expected);
      if (seg->sealed.load() && !options_.repair) {
        return refuse("segment " + seg->name() + " offset 0",
                      what + " although " + seg->name() + " is sealed",
                      "cut the log at position " + std::to_string(expected));
      }
      absl::Status s = CheckCut(file, prev_end, expected, what);
      if (!s.ok()) return s;
      keep = i;
      break;
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
    uint64_t last_position = 0;
    const uint64_t records =
        has_records ? CountCheckedRecordsAfter(used[i]->data, kSegmentHeaderSize,
                                               used[i]->capacity_units * 8,
                                               &last_position)
                    : 0;
    segments_.Set(used[i]->number, 0);
    used[i].reset();
    // A segment after a truncated one may hold records that were
    // acknowledged before the damage: keep its bytes for the operator.
    absl::Status s;
    if (has_records) {
      auto moved = MoveToQuarantine(path, name);
      s = moved.status();
      if (s.ok()) {
        const std::string& kept = *moved;
        std::string line = "segment " + name +
                           " follows the end of the log and was taken out of it (" +
                           std::to_string(records) +
                           " record(s) in it pass their checksums, up to position " +
                           std::to_string(last_position) + "); its bytes are kept in " +
                           kept;
        if (options_.repair) {
          recovery_.repairs.push_back("dropped " + line);
        } else {
          recovery_.problems.push_back(line);
        }
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
  // Everything proven durable must be there: a checkpoint or durable mark
  // beyond the end means segments (or their tails) went missing.
  if (expected < recovery_.proven_position) {
    const std::string what =
        "the log ends at position " + std::to_string(expected) + ", but " +
        PositionRange(expected + 1, recovery_.proven_position) + " were durable (" +
        recovery_.proven_by + "): a segment or its tail is missing";
    if (!options_.repair) {
      return refuse("segment " + used.back()->name() + " offset " +
                        std::to_string((used.back()->reserve.load() & 0xFFFFFFFFu) * 8),
                    what, "let the log end at position " + std::to_string(expected));
    }
    recovery_.repairs.push_back(what + "; they are gone");
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
      // On a plain open this is a crash's unfinished rotation; a repair
      // lists it, since verify reported it as a problem.
      if (options_.repair) {
        recovery_.repairs.push_back(
            "segment " + seg->name() + " offset " + std::to_string(seg_end) +
            ": wrote back its end-of-segment marker (nothing dropped)");
      }
    }
  }
  // The last segment is where appends go on: an end marker left in it (its
  // successor never made it to disk, or a repair cut the log here) goes.
  if (end + 4 <= last->size && LoadLength(last->data + end) == kEndOfSegment) {
    PublishLength(last->data + end, 0);
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
  // What a recovered segment has blocks for is not known (an older mmaplog
  // allocated whole segments, this one allocates steps): at least every
  // page up to its end of records (a segment made here knows its own). Later
  // steps are only fallocated (FileFill::kAllocate), which never changes bytes
  // already there.
  for (auto& seg : used) {
    const uint64_t end = (seg->reserve.load() & 0xFFFFFFFFu) * 8 + 8;
    seg->allocated.store(std::max<uint64_t>(
        seg->allocated.load(),
        std::min<uint64_t>(seg->size, (end + 4095) / 4096 * 4096)));
  }
  for (auto& seg : used) segment_owner_.push_back(std::move(seg));

  if (options_.repair && !recovery_.repairs.empty()) {
    // What the checkpoint, durable marks and retention.state said no longer
    // holds after a cut: the next open must not refuse what this one fixed.
    absl::Status s = fs_->Remove(options_.path + "/index/checkpoint");
    if (!s.ok()) return s;
    // The marker's high-water mark may claim what the repair cut; the
    // background pass at open records the log as it now is.
    s = WriteMarkerHighWater(fs_, options_.path, MarkerHighWater{});
    if (!s.ok()) return s;
    marker_proves_records_.store(false);
    marker_records_held_.store(false);  // the next append records it again
    if (missing_before > 0 || first_missing || empty_log) {
      // As retention would have left it: streams that lost their first
      // revisions are trimmed to just before the first one kept.
      const uint64_t ordinals = stream_count_.load();
      for (uint64_t o = 1; o <= ordinals; ++o) {
        auto* st = reinterpret_cast<StreamState*>(ordinals_.Get(o - 1));
        uint64_t r = st->trimmed_to.load() + 1;
        while (r <= st->head() && st->revisions.Get(r - 1) == 0) ++r;
        if (r - 1 > st->trimmed_to.load()) st->trimmed_to.store(r - 1);
      }
      s = WriteRetentionState();
      if (!s.ok()) return s;
    }
  }

  // Make what recovery kept (and repaired) durable, and seal finished
  // segments, before anyone reads it as committed; then record it as
  // durable in the active segment's header.
  uint64_t synced = 0;
  absl::Status s = SyncCommitted(&synced);
  if (!s.ok()) return s;
  durable_.store(synced);
  s = LoadDeletes();
  if (!s.ok()) return s;
  if (options_.repair) {
    // Marks written before the repair may claim what it cut: only the one
    // written now stands.
    for (auto& seg : segment_owner_) {
      if (seg.get() == last) continue;
      EncodeDurableMark(seg->data, DurableMark{});
      s = seg->file->Sync(0, kSegmentHeaderSize);
      if (!s.ok()) return s;
    }
  }
  WriteDurableMark(synced);
  return last->file->Sync(0, kSegmentHeaderSize);
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
  // Ends the log at `at` (the start of the incomplete batch there, if any),
  // found because of `what`: dropping the incomplete batch and zeroing what
  // follows. Allowed as a torn tail only past what is proven durable (a
  // sealed segment is durable whole); otherwise it is refused, or with
  // repair done, copied to quarantine first and listed.
  auto truncate_at = [&](uint32_t at, const std::string& what) -> absl::Status {
    uint32_t cut = batch.empty() ? at : batch.front().offset;
    const std::string where = "segment " + seg->name();
    if (sealed && !options_.repair) {
      return absl::DataLossError(
          where + " offset " + std::to_string(cut) + ": " + what + "; " +
          seg->name() +
          " is sealed (complete and synced), so this is damage, not a torn "
          "tail. Nothing was changed; run 'cairn verify --repair' to cut the "
          "log there (it lists what it drops and keeps a copy in "
          "quarantine/), or restore the store from a backup");
    }
    absl::Status s = CheckCut(where, cut, *expected, what);
    if (!s.ok()) return s;
    // Records after the damaged one that still pass both checksums are
    // evidence of damage rather than a torn write.
    uint64_t last_position = 0;
    const uint64_t later =
        CountCheckedRecordsAfter(seg->data, at + 8, limit, &last_position);
    const bool proven = sealed || *expected < recovery_.proven_position;
    if (later > 0 || proven) {
      auto kept = Quarantine(seg->name(),
                             std::string_view(reinterpret_cast<const char*>(seg->data),
                                              seg->size));
      if (!kept.ok()) return kept.status();
      if (proven) {  // only with repair: refused above otherwise
        recovery_.repairs.push_back(
            "dropped " + where + " offsets " + std::to_string(cut) + ".." +
            std::to_string(limit) + " (" + what + "): the log now ends at position " +
            std::to_string(*expected) + "; lost: " +
            PositionRange(*expected + 1,
                          std::max({last_position, recovery_.proven_position,
                                    *expected + batch.size()})) +
            (later > 0 ? ", " + std::to_string(later) +
                             " of them still passing their checksums"
                       : std::string()) +
            "; the segment as found is kept in " + *kept);
      } else {
        problem(cut, what + "; " + std::to_string(later) +
                         " later record(s) still pass their checksums, so this may be "
                         "damage rather than a torn write: the log is truncated here and "
                         "the segment as found is kept in " + *kept);
      }
    }
    if (sealed) {
      std::lock_guard<std::mutex> lk(header_mu_);
      SegmentHeader h;
      h.DecodeFrom(seg->data);
      h.flags &= ~kSegmentSealed;
      h.EncodeTo(seg->data);
      seg->sealed.store(false);
    }
    recovery_.dropped_records += batch.size();
    batch.clear();
    recovery_.truncated_bytes += ZeroRange(*seg->file, cut, seg->size);
    s = seg->file->Sync(0, seg->size);
    if (!s.ok()) return s;
    off = cut;
    *truncated = true;
    return absl::OkStatus();
  };
  for (;;) {
    uint32_t len = off + 4 <= seg->size ? LoadLength(seg->data + off) : 0;
    if (len == 0 || len == kEndOfSegment) {
      if (!batch.empty()) {
        absl::Status s = truncate_at(
            off, "batch of " + std::to_string(batch.front().header.batch_size) +
                     " records is incomplete");
        if (!s.ok()) return s;
        break;
      }
      if (len == 0 && !sealed) {
        // The log ends here: a torn tail only if nothing proven durable
        // comes after it.
        absl::Status s = CheckCut("segment " + seg->name(), off, *expected,
                                  "no record where position " +
                                      std::to_string(*expected + 1) + " should be");
        if (!s.ok()) return s;
        // An appender killed between reserving and publishing leaves a
        // hole, and records published after the hole (never committed: the
        // watermark cannot pass a hole) are still in the file. Zero them,
        // or a later append that lands in the hole would make them look
        // published again.
        if (*expected < recovery_.proven_position) {
          // Only with repair (CheckCut refused otherwise).
          absl::Status t = truncate_at(off, "no record where position " +
                                                std::to_string(*expected + 1) +
                                                " should be");
          if (!t.ok()) return t;
          break;
        }
        uint64_t zeroed = ZeroRange(*seg->file, off, seg->size);
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
    // The text is made only for a record that ends the log (a heap string
    // per record was 8% of a reopen's scan).
    std::string what;
    if (!usable) what = CheckText(c);
    if (usable && h.position != want) {
      usable = false;
      what = "record out of sequence (position " + std::to_string(h.position) +
             ", expected " + std::to_string(want) + ")";
    }
    if (usable && (h.batch_index != batch.size() ||
                   (!batch.empty() && h.batch_size != batch.front().header.batch_size))) {
      usable = false;
      what = "record out of its batch";
    }
    if (!usable) {
      // A torn write is the usual cause in an unsealed segment; positions
      // cannot skip, so the log ends here either way (truncate_at decides
      // whether that is allowed).
      absl::Status s = truncate_at(off, what);
      if (!s.ok()) return s;
      break;
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
        if (p.header.kind != kKindEvent) {  // a control record
          IndexRecord(seg, p.offset, rec, p.header.revision, p.header.position,
                      name, true);
          continue;
        }
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
          IndexRecord(seg, p.offset, rec, p.header.revision, p.header.position,
                      name, true, st);
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
  const uint64_t proven = recovery_.proven_deletes_bytes;
  const std::string proof =
      "the durable mark in a segment header says " + std::to_string(proven) +
      " bytes of it were synced";
  if (!fs_->Exists(path)) {
    if (proven == 0) return absl::OkStatus();
    if (!options_.repair) {
      return absl::DataLossError(
          std::string(kDeletesFile) + " is missing, but " + proof +
          ". Nothing was changed; run 'cairn verify --repair' to go on without "
          "it (every delete-to is lost: those events read again), or restore "
          "it from a backup");
    }
    recovery_.repairs.push_back(std::string(kDeletesFile) + " is missing (" + proof +
                                "): every delete-to in it is lost");
    return absl::OkStatus();
  }
  auto contents = fs_->ReadFile(path);
  if (!contents.ok()) return contents.status();
  const std::string& c = *contents;
  if (c.size() < proven) {
    const std::string what = std::string(kDeletesFile) + " offset " +
                             std::to_string(c.size()) + ": the file ends there, but " +
                             proof;
    if (!options_.repair) {
      return absl::DataLossError(
          what + ". Nothing was changed; run 'cairn verify --repair' to go on "
          "with what is left (the deletes cut off are lost: those events read "
          "again), or restore it from a backup");
    }
    recovery_.repairs.push_back(what + "; the deletes in the missing " +
                                std::to_string(proven - c.size()) +
                                " bytes are lost");
  }
  // A record: u32 length (9..263), u32 CRC32C of the rest, u64 revision,
  // stream name. Whether one checks out at `at` (and its length).
  auto record_at = [&](size_t at, uint32_t* len) {
    uint32_t crc;
    if (at + 8 > c.size()) return false;
    std::memcpy(len, c.data() + at, 4);
    std::memcpy(&crc, c.data() + at + 4, 4);
    return *len >= 9 && *len <= 8 + 255 && at + 8 + *len <= c.size() &&
           Crc32c(0, c.data() + at + 8, *len) == crc;
  };
  std::string kept_records;  // with repair: the file without damaged bytes
  bool repaired = false;
  size_t pos = 0;
  while (pos < c.size()) {
    uint32_t len = 0;
    if (!record_at(pos, &len)) {
      // deletes.log is append-only and each delete_to appends one record
      // (and syncs it before returning, unless fsync=never): a torn write
      // can only be the last record, cut short or unfinished (zeros), and
      // that delete never returned. Anything else is damage to deletes
      // that were acknowledged. So it is torn exactly when no record after
      // it checks out and it lies past what a durable mark proves synced.
      size_t next = pos + 1;
      while (next < c.size() && !record_at(next, &len)) ++next;
      if (next >= c.size() && pos >= proven) break;
      uint64_t later = 0;
      for (size_t at = next; at < c.size() && record_at(at, &len); at += 8 + len) ++later;
      const std::string what =
          std::string(kDeletesFile) + " offset " + std::to_string(pos) +
          ": a delete record fails its checksum, and " +
          (later > 0 ? std::to_string(later) + " later record(s) check out"
                     : proof) +
          ", so this is damage, not a torn write";
      if (!options_.repair) {
        return absl::DataLossError(
            what + ". Nothing was changed; run 'cairn verify --repair' to drop "
            "the damaged bytes (the deletes in them are lost: those events "
            "read again; it keeps a copy in quarantine/), or restore the store "
            "from a backup");
      }
      if (!repaired) {
        auto copy = Quarantine(kDeletesFile, c);
        if (!copy.ok()) return copy.status();
        recovery_.repairs.push_back(std::string(kDeletesFile) + " as found is kept in " +
                                    *copy);
        kept_records = c.substr(0, pos);
        repaired = true;
      }
      recovery_.repairs.push_back(
          "dropped " + std::string(kDeletesFile) + " offsets " + std::to_string(pos) +
          ".." + std::to_string(next) + " (" + std::to_string(next - pos) +
          " damaged byte(s), at least one delete record: the events it deleted "
          "read again until deleted anew)");
      pos = next;
      continue;
    }
    uint64_t revision;
    std::memcpy(&revision, c.data() + pos + 8, 8);
    std::string_view name(c.data() + pos + 16, len - 8);
    legacy_deletes_.emplace_back(name, revision);
    if (StreamState* s = streams_.Find(name)) {
      // A repair may have cut the stream below what was deleted.
      revision = std::min(revision, s->head());
      if (revision > s->deleted_to.load()) s->deleted_to.store(revision);
      any_deletes_.store(true);
    }
    if (repaired) kept_records.append(c, pos, 8 + len);
    pos += 8 + len;
  }
  if (repaired) {
    absl::Status s = fs_->WriteFileAtomic(path, kept_records);
    if (!s.ok()) return s;
    pos = kept_records.size();
  } else if (pos != c.size()) {
    // A torn last record (crash during delete_to, which then never
    // returned): drop it.
    absl::Status s = fs_->Truncate(path, pos);
    if (!s.ok()) return s;
    recovery_.truncated_bytes += c.size() - pos;
  } else if (pos > proven) {
    // Written but maybe never synced (fsync=never): sync it before the
    // durable mark claims it.
    absl::Status s = fs_->AppendFile(path, "", /*sync=*/true);
    if (!s.ok()) return s;
  }
  deletes_durable_.store(pos);
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
    } else if (seg->base_position != expected &&
               (expected < watermark || seg->base_position < expected)) {
      // (A walk that stopped at the watermark, loaded before `active`, did
      // not reach the end of its segment: records past it may fill that
      // segment, so a later base is no gap. An earlier one still overlaps.)
      problem("segment " + seg->name() + ": starts after position " +
              std::to_string(seg->base_position) + ", expected " +
              std::to_string(expected));
      expected = seg->base_position;
    }
    const uint32_t limit = seg->capacity_units * 8;
    uint32_t off = kSegmentHeaderSize;
    while (expected < watermark && off + 4 <= seg->size) {
      uint32_t len = LoadLength(seg->data + off);
      if (len == 0 && n < active->number) {
        // Walks of the log (read-all) stop here: only a scan at open (as
        // 'verify --repair' runs) writes the marker back.
        problem("segment " + seg->name() + " offset " + std::to_string(off) +
                ": no end-of-segment marker after its last record (position " +
                std::to_string(expected) +
                "); 'cairn verify --repair' writes it back if the next "
                "segment goes on from there");
      }
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
