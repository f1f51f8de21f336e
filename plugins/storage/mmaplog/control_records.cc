// Control records of the ordered log (record.h, docs/mmaplog.md "Control
// records"): delete-to, snapshots and epochs written as records at gap-free
// positions, the state derived from them, read_log, apply_log and
// log_state.
#include <algorithm>
#include <chrono>
#include <cstring>
#include <map>
#include <optional>

#include "log.h"
#include "record.h"
#include "snapshot_store.h"

namespace cairn::mmaplog {
namespace {

bool Matches(const cairn_snapshot_criteria& c, uint64_t revision,
             int64_t timestamp) {
  return revision >= c.min_revision && revision <= c.max_revision &&
         timestamp >= c.min_timestamp_us && timestamp <= c.max_timestamp_us;
}

// SNAPSHOT_DELETE's body: the criteria, 4 x 8 bytes.
constexpr size_t kCriteriaBytes = 32;
std::string EncodeCriteria(const cairn_snapshot_criteria& c) {
  std::string out(kCriteriaBytes, '\0');
  std::memcpy(out.data(), &c.min_revision, 8);
  std::memcpy(out.data() + 8, &c.max_revision, 8);
  std::memcpy(out.data() + 16, &c.min_timestamp_us, 8);
  std::memcpy(out.data() + 24, &c.max_timestamp_us, 8);
  return out;
}
bool DecodeCriteria(cairn_bytes data, cairn_snapshot_criteria* c) {
  if (data.size != kCriteriaBytes) return false;
  c->size = sizeof *c;
  std::memcpy(&c->min_revision, data.data, 8);
  std::memcpy(&c->max_revision, data.data + 8, 8);
  std::memcpy(&c->min_timestamp_us, data.data + 16, 8);
  std::memcpy(&c->max_timestamp_us, data.data + 24, 8);
  return true;
}

int64_t NowMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

absl::Status CheckStreamName(std::string_view what, std::string_view name) {
  if (name.empty() || name.size() > 255 ||
      name.find('\0') != std::string_view::npos) {
    return absl::InvalidArgumentError(std::string(what) +
                                      ": the stream name must be 1..255 bytes "
                                      "without NUL");
  }
  return absl::OkStatus();
}

// Little-endian appends and reads for the checkpoint's control section.
template <typename T>
void Put(std::string* out, T v) {
  out->append(reinterpret_cast<const char*>(&v), sizeof v);
}
void PutName(std::string* out, std::string_view name) {
  out->push_back(static_cast<char>(name.size()));
  out->append(name);
}
class In {
 public:
  explicit In(std::string_view s) : s_(s) {}
  template <typename T>
  bool Get(T* v) {
    if (s_.size() < sizeof(T)) return false;
    std::memcpy(v, s_.data(), sizeof(T));
    s_.remove_prefix(sizeof(T));
    return true;
  }
  bool Name(std::string_view* name) {
    uint8_t n;
    if (!Get(&n) || s_.size() < n) return false;
    *name = s_.substr(0, n);
    s_.remove_prefix(n);
    return true;
  }
  bool done() const { return s_.empty(); }

 private:
  std::string_view s_;
};

// Calls fn(offset, header) for each record of `seg` in order, up to one
// at position `last` (a record that does not check out ends the walk).
template <typename Fn>
void ForEachRecordUpTo(const Segment* seg, uint64_t last, Fn&& fn) {
  uint32_t off = kSegmentHeaderSize;
  for (;;) {
    uint32_t len = LoadLength(seg->data + off);
    if (len == 0 || len == kEndOfSegment) return;
    RecordHeader h;
    if (CheckRecord(seg->data + off, seg->size - 8 - off, &h, false) !=
            RecordCheck::kOk ||
        h.position > last) {
      return;
    }
    fn(off, h);
    off += h.length;
  }
}

}  // namespace

absl::Status Log::AppendControl(uint16_t kind, std::string_view stream,
                                uint64_t revision, int64_t timestamp_us,
                                std::string_view data,
                                uint64_t required_position,
                                uint64_t* position) {
  if (stopping_.load(std::memory_order_relaxed)) {
    return absl::CancelledError("the log is closed");
  }
  cairn_event e{};
  e.size = sizeof e;
  e.revision = revision;
  e.timestamp_us = timestamp_us;
  e.data =
      cairn_bytes{reinterpret_cast<const uint8_t*>(data.data()), data.size()};
  const size_t size = RecordSize(stream, e);
  if (size > kMaxBatchBytes ||
      size > options_.segment_size - kSegmentHeaderSize - 8) {
    return absl::ResourceExhaustedError(
        "the record needs " + std::to_string(size) +
        " bytes, more than one segment or batch may take (" +
        std::to_string(std::min<uint64_t>(
            kMaxBatchBytes, options_.segment_size - kSegmentHeaderSize - 8)) +
        "); raise segment-size or store less");
  }
  if (!options_.create) {
    // A read-only open left a version-1 active segment as it was.
    absl::Status s = MoveActiveSegmentToCurrentFormat();
    if (!s.ok()) return s;
  }
  auto r = Reserve(1, static_cast<uint32_t>(size / 8), required_position);
  if (!r.ok()) return r.status();
  uint8_t* out = r->segment->data + r->offset;
  EncodeRecord(out, stream, e, r->first_position, revision, 1, 0,
               static_cast<uint32_t>(size), kind);
  PublishLength(out, static_cast<uint32_t>(size));
  Published();
  *position = r->first_position;
  absl::Status s =
      FinishAppend(r->first_position, /*durable=*/required_position == 0);
  // Its effect is visible to the writer once it returns, if committed (with
  // commit=host, once set_committed covers it).
  ApplyCommittedControls();
  return s;
}

void Log::ApplyControl(Segment* segment, uint32_t offset,
                       const uint8_t* record) {
  RecordHeader h;
  if (CheckRecord(record, LoadLength(record), &h, /*check_body=*/false) !=
      RecordCheck::kOk) {
    return;  // recovery and the committer only pass checked records
  }
  {
    std::lock_guard<std::mutex> lk(state_mu_);
    // Taken in already: recovery rescans what a checkpoint's control state
    // covers (records after its cut written before it was encoded, and a
    // sealed last segment). Its deleted-to values are applied only after
    // the scan (checkpoint_deletes_), so the covered records must not be
    // queued again.
    if (h.position <= control_applied_) return;
    control_applied_ = h.position;
    if (h.kind == kKindEpoch) {
      // The epoch list follows the written log (apply_log and begin_epoch
      // check new records against it).
      ApplyControlLocked(segment, offset, record, h);
      return;
    }
    if (h.kind != kKindDeleteTo && h.kind != kKindSnapshotSave &&
        h.kind != kKindSnapshotDelete) {
      return;
    }
    pending_controls_.emplace_back(h.position,
                                   MakeLocation(segment->number, offset));
    pending_controls_any_.store(true, std::memory_order_release);
  }
  ApplyCommittedControls();
}

void Log::ApplyCommittedControls() {
  if (!pending_controls_any_.load(std::memory_order_acquire)) return;
  const uint64_t committed = Committed();
  SegmentRef pin(this);
  std::lock_guard<std::mutex> lk(state_mu_);
  while (!pending_controls_.empty() &&
         pending_controls_.front().first <= committed) {
    const uint64_t location = pending_controls_.front().second;
    pending_controls_.pop_front();
    Segment* seg = pin.Switch(LocationSegment(location));
    if (seg == nullptr) continue;  // retention keeps uncommitted segments
    const uint8_t* record = seg->data + LocationOffset(location);
    RecordHeader h;
    if (CheckRecord(record, LoadLength(record), &h, /*check_body=*/false) !=
        RecordCheck::kOk) {
      continue;
    }
    ApplyControlLocked(seg, LocationOffset(location), record, h);
  }
  pending_controls_any_.store(!pending_controls_.empty(),
                              std::memory_order_release);
}

void Log::ApplyControlLocked(Segment* segment, uint32_t offset,
                             const uint8_t* record, const RecordHeader& h) {
  const std::string_view name = h.StreamName(record);
  const uint8_t* data = record + kRecordHeaderSize + h.stream_len + h.type_len +
                        h.writer_len + h.metadata_len;
  switch (h.kind) {
    case kKindDeleteTo: {
      StreamState* s = streams_.Find(name);
      if (s == nullptr) return;
      uint64_t target = std::min(h.revision, s->head());
      if (target > s->deleted_to.load(std::memory_order_acquire)) {
        s->deleted_to.store(target, std::memory_order_release);
      }
      any_deletes_.store(true, std::memory_order_release);
      uint64_t& at = last_delete_at_[std::string(name)];
      at = std::max(at, h.position);
      return;
    }
    case kKindSnapshotSave: {
      auto it = snapshots_.find(name);
      if (it == snapshots_.end()) {
        it = snapshots_.emplace(std::string(name), std::vector<SnapshotEntry>())
                 .first;
      }
      std::vector<SnapshotEntry>& v = it->second;
      auto at = std::lower_bound(
          v.begin(), v.end(), h.revision,
          [](const SnapshotEntry& e, uint64_t r) { return e.revision < r; });
      SnapshotEntry entry{h.revision, h.timestamp_us,
                          MakeLocation(segment->number, offset), h.position};
      if (at != v.end() && at->revision == h.revision) {
        *at = entry;
      } else {
        v.insert(at, entry);
      }
      return;
    }
    case kKindSnapshotDelete: {
      cairn_snapshot_criteria c;
      auto it = snapshots_.find(name);
      if (it == snapshots_.end() ||
          !DecodeCriteria(cairn_bytes{data, h.data_len}, &c)) {
        return;
      }
      std::erase_if(it->second, [&](const SnapshotEntry& e) {
        return Matches(c, e.revision, e.timestamp_us);
      });
      if (it->second.empty()) snapshots_.erase(it);
      return;
    }
    case kKindEpoch:
      if (epochs_.empty() || (h.position > epochs_.back().second &&
                              h.revision > epochs_.back().first)) {
        epochs_.emplace_back(h.revision, h.position);
      }
      return;
    default:
      return;
  }
}

absl::Status Log::MoveActiveSegmentToCurrentFormat() {
  Segment* active = active_.load(std::memory_order_acquire);
  SegmentHeader h;
  if (active != nullptr && h.DecodeFrom(active->data) &&
      h.version < kFormatVersion) {
    // A version-1 segment must not receive control records: an older build
    // would read them as events. Its records stay valid as version 2.
    std::lock_guard<std::mutex> lk(header_mu_);
    h.version = kFormatVersion;
    h.EncodeTo(active->data);
    absl::Status s = active->file->Sync(0, kSegmentHeaderSize);
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status Log::PrepareControlRecords() {
  // Only an open that may write upgrades the format: one for a command that
  // only reads (create = false) reads a version-1 segment as it is, and the
  // first control record written moves it on (AppendControl).
  if (options_.create) {
    absl::Status s = MoveActiveSegmentToCurrentFormat();
    if (!s.ok()) return s;
  }
  const uint64_t written = watermark_.load(std::memory_order_acquire);
  {
    std::lock_guard<std::mutex> lk(state_mu_);
    if (control_applied_ <= written) {
      ApplyCheckpointDeletesLocked();
      return absl::OkStatus();
    }
    recovery_.control_state_rebuilt =
        "the checkpoint's control state includes the control record at "
        "position " +
        std::to_string(control_applied_) + ", but the log ends at " +
        std::to_string(written) + "; derived again from the log";
  }
  // The checkpoint's control state includes records recovery did not keep
  // (a torn tail after the checkpoint): derive it again from the log alone.
  return RebuildControlState();
}

void Log::ApplyCheckpointDeletesLocked() {
  for (const auto& [name, revision] : checkpoint_deletes_) {
    StreamState* st = streams_.Find(name);
    if (st == nullptr) continue;  // cut by a truncation since
    const uint64_t d = std::min(revision, st->head());
    if (d > st->deleted_to.load()) st->deleted_to.store(d);
    any_deletes_.store(true);
  }
  checkpoint_deletes_.clear();
}

absl::Status Log::RebuildControlState() {
  {
    std::lock_guard<std::mutex> lk(state_mu_);
    snapshots_.clear();
    last_delete_at_.clear();
    // Epochs whose EPOCH record retention removed (retention.state) stay.
    epochs_ = retired_epochs_;
    control_applied_ = 0;
    checkpoint_deletes_.clear();
    pending_controls_.clear();
    pending_controls_any_.store(false, std::memory_order_release);
    const uint64_t ordinals = stream_count_.load();
    for (uint64_t o = 1; o <= ordinals; ++o) {
      reinterpret_cast<StreamState*>(ordinals_.Get(o - 1))->deleted_to.store(0);
    }
  }
  ForEachControlRecord([&](Segment* seg, uint32_t off, const RecordHeader&) {
    ApplyControl(seg, off, seg->data + off);
  });
  // An older store's deletes.log, until the upgrade removed it.
  return fs_->Exists(options_.path + "/deletes.log") ? LoadDeletes()
                                                     : absl::OkStatus();
}

void Log::ForEachControlRecord(
    absl::FunctionRef<void(Segment*, uint32_t, const RecordHeader&)> fn) {
  const uint64_t written = watermark_.load(std::memory_order_acquire);
  Segment* active = active_.load(std::memory_order_acquire);
  SegmentRef pin(this);
  for (uint64_t n = first_segment_.load();
       active != nullptr && n <= active->number; ++n) {
    Segment* seg = pin.Switch(n);
    if (seg == nullptr) continue;
    ForEachRecordUpTo(seg, written, [&](uint32_t off, const RecordHeader& h) {
      if (h.kind != kKindEvent) fn(seg, off, h);
    });
  }
}

absl::Status Log::SyncSegmentsFrom(uint64_t number) {
  for (uint64_t n = number; n <= active_.load()->number; ++n) {
    if (Segment* seg = SegmentAt(n)) {
      absl::Status s = seg->file->Sync(0, seg->size);
      if (!s.ok()) return s;
    }
  }
  return absl::OkStatus();
}

absl::Status Log::CarryForwardControlRecords(Segment* seg) {
  struct Carry {
    uint16_t kind;
    std::string stream;
    uint64_t revision;
    int64_t timestamp_us;
    uint64_t location;
  };
  std::vector<Carry> carry;
  {
    std::lock_guard<std::mutex> lk(state_mu_);
    // (A damaged record ends the walk: retention refuses such a segment.)
    ForEachRecordUpTo(
        seg, UINT64_MAX, [&](uint32_t off, const RecordHeader& h) {
          const std::string_view name = h.StreamName(seg->data + off);
          if (h.kind == kKindDeleteTo) {
            auto it = last_delete_at_.find(name);
            StreamState* st = streams_.Find(name);
            if (st != nullptr &&
                (it == last_delete_at_.end() || it->second <= h.position)) {
              carry.push_back({kKindDeleteTo, std::string(name),
                               st->deleted_to.load(std::memory_order_acquire),
                               0, 0});
            }
          } else if (h.kind == kKindSnapshotSave) {
            auto it = snapshots_.find(name);
            if (it != snapshots_.end()) {
              for (const SnapshotEntry& e : it->second) {
                if (e.position == h.position) {
                  carry.push_back({kKindSnapshotSave, std::string(name),
                                   e.revision, e.timestamp_us, e.location});
                }
              }
            }
          }
        });
  }
  if (carry.empty()) return absl::OkStatus();
  std::lock_guard<std::mutex> lk(control_mu_);
  const uint64_t first_written = active_.load()->number;
  uint64_t position;
  for (const Carry& c : carry) {
    absl::Status s;
    if (c.kind == kKindDeleteTo) {
      s = AppendControl(kKindDeleteTo, c.stream, c.revision, NowMicros(), {}, 0,
                        &position);
    } else {
      const uint8_t* rec = seg->data + LocationOffset(c.location);
      RecordHeader h;
      if (CheckRecord(rec, LoadLength(rec), &h) != RecordCheck::kOk) {
        return absl::DataLossError(
            "segment " + seg->name() + " offset " +
            std::to_string(LocationOffset(c.location)) +
            ": the snapshot record retention was to carry forward is damaged; "
            "retention keeps the segment");
      }
      cairn_event e;
      DecodeRecord(rec, h, &e, nullptr);
      s = AppendControl(
          kKindSnapshotSave, c.stream, c.revision, c.timestamp_us,
          std::string_view(reinterpret_cast<const char*>(e.data.data),
                           e.data.size),
          0, &position);
    }
    if (!s.ok()) return s;
  }
  // Durable before the segment goes, whatever the fsync option.
  return SyncSegmentsFrom(first_written);
}

absl::Status Log::UpgradeLegacyFiles() {
  const std::string deletes_path = options_.path + "/deletes.log";
  const std::string snapshot_dir = options_.path + "/snapshots";
  const bool have_deletes = fs_->Exists(deletes_path);
  SnapshotStore legacy(fs_, snapshot_dir, true);
  bool have_snapshots = false;
  absl::Status s =
      legacy.ForEachSnapshot([&](const std::string&, const cairn_snapshot&) {
        have_snapshots = true;
        return absl::CancelledError("");  // one is enough to know
      });
  if (!s.ok() && !absl::IsCancelled(s)) return s;
  if (!have_deletes && !have_snapshots) return absl::OkStatus();
  if (!options_.create) {
    // A command that only reads rewrites nothing: deletes.log is applied as
    // it is (LoadDeletes) and SnapshotLoad also reads snapshots/; the next
    // open that may write upgrades the store.
    legacy_snapshots_.store(have_snapshots);
    return absl::OkStatus();
  }
  auto hook = [&](std::string_view step) {
    return options_.upgrade_hook ? options_.upgrade_hook(step)
                                 : absl::OkStatus();
  };
  // What the log already holds (an earlier upgrade may have stopped after
  // writing some records): the highest DELETE_TO per stream. Snapshots
  // written are in the index. One walk of the record headers, once.
  std::map<std::string, uint64_t, std::less<>> recorded;
  ForEachControlRecord([&](Segment* seg, uint32_t off, const RecordHeader& h) {
    if (h.kind != kKindDeleteTo) return;
    uint64_t& r = recorded[std::string(h.StreamName(seg->data + off))];
    r = std::max(r, h.revision);
  });
  std::lock_guard<std::mutex> lk(control_mu_);
  const uint64_t first_segment = active_.load()->number;
  std::map<std::string, uint64_t, std::less<>> wanted;
  for (const auto& [name, revision] : legacy_deletes_) {
    StreamState* st = streams_.Find(name);
    if (st == nullptr) continue;
    uint64_t& w = wanted[name];
    w = std::max(w, std::min(revision, st->head()));
  }
  uint64_t position;
  for (const auto& [name, revision] : wanted) {
    auto it = recorded.find(name);
    if (revision == 0 || (it != recorded.end() && it->second >= revision)) {
      continue;
    }
    s = AppendControl(kKindDeleteTo, name, revision, NowMicros(), {}, 0,
                      &position);
    if (!s.ok()) return s;
  }
  s = hook("deletes-written");
  if (!s.ok()) return s;
  s = legacy.ForEachSnapshot(
      [&](const std::string&, const cairn_snapshot& snap) {
        std::string_view stream(reinterpret_cast<const char*>(snap.stream.data),
                                snap.stream.size);
        {
          std::lock_guard<std::mutex> state(state_mu_);
          auto it = snapshots_.find(stream);
          if (it != snapshots_.end()) {
            for (const SnapshotEntry& e : it->second) {
              if (e.revision == snap.revision &&
                  e.timestamp_us == snap.timestamp_us) {
                return absl::OkStatus();  // written by an earlier upgrade
              }
            }
          }
        }
        return AppendControl(
            kKindSnapshotSave, stream, snap.revision, snap.timestamp_us,
            std::string_view(reinterpret_cast<const char*>(snap.data.data),
                             snap.data.size),
            0, &position);
      });
  if (!s.ok()) return s;
  // Durable before anything is removed, whatever the fsync option.
  s = SyncSegmentsFrom(first_segment);
  if (!s.ok()) return s;
  s = hook("records-durable");
  if (!s.ok()) return s;
  if (have_deletes) {
    // No durable mark may claim deletes.log bytes once it is gone.
    deletes_durable_.store(0);
    for (uint64_t n = first_segment_.load(); n <= active_.load()->number; ++n) {
      Segment* seg = SegmentAt(n);
      if (seg == nullptr) continue;
      DurableMark mark;
      if (!DecodeDurableMark(seg->data, &mark) || mark.deletes_bytes == 0) {
        continue;
      }
      mark.deletes_bytes = 0;
      {
        std::lock_guard<std::mutex> marks(mark_mu_);
        EncodeDurableMark(seg->data, mark);
      }
      s = seg->file->Sync(0, kSegmentHeaderSize);
      if (!s.ok()) return s;
    }
    s = hook("marks-cleared");
    if (!s.ok()) return s;
    s = fs_->Remove(deletes_path);
    if (!s.ok()) return s;
    s = fs_->SyncDirectory(options_.path);
    if (!s.ok()) return s;
  }
  if (have_snapshots) {
    auto names = fs_->ListDirectory(snapshot_dir);
    if (!names.ok()) return names.status();
    for (const std::string& name : *names) {
      if (name.size() < 5 || name.compare(name.size() - 5, 5, ".snap") != 0) {
        continue;
      }
      s = fs_->Remove(snapshot_dir + "/" + name);
      if (!s.ok()) return s;
    }
    s = fs_->SyncDirectory(snapshot_dir);
    if (!s.ok()) return s;
  }
  legacy_deletes_.clear();
  recovery_.upgraded = true;
  return absl::OkStatus();
}

// ---- Writes -----------------------------------------------------------------

absl::Status Log::DeleteTo(std::string_view stream, uint64_t revision) {
  std::lock_guard<std::mutex> lk(control_mu_);
  StreamState* s = streams_.Find(stream);
  if (s == nullptr) return absl::OkStatus();
  const uint64_t target = std::min(revision, s->head());
  if (target <= s->deleted_to.load(std::memory_order_acquire)) {
    return absl::OkStatus();
  }
  uint64_t position;
  return AppendControl(kKindDeleteTo, stream, target, NowMicros(), {}, 0,
                       &position);
}

absl::Status Log::SnapshotSave(const cairn_snapshot& snapshot) {
  std::string_view stream(reinterpret_cast<const char*>(snapshot.stream.data),
                          snapshot.stream.size);
  absl::Status s = CheckStreamName("snapshot_save", stream);
  if (!s.ok()) return s;
  std::lock_guard<std::mutex> lk(control_mu_);
  uint64_t position;
  return AppendControl(
      kKindSnapshotSave, stream, snapshot.revision, snapshot.timestamp_us,
      std::string_view(reinterpret_cast<const char*>(snapshot.data.data),
                       snapshot.data.size),
      0, &position);
}

absl::Status Log::SnapshotDeleteMatching(
    std::string_view stream, const cairn_snapshot_criteria& criteria) {
  absl::Status s = CheckStreamName("snapshot_delete", stream);
  if (!s.ok()) return s;
  std::lock_guard<std::mutex> lk(control_mu_);
  {
    // Nothing matching: nothing to record. (While control records wait to
    // be committed, a save among them may match: then it is recorded.)
    std::lock_guard<std::mutex> state(state_mu_);
    auto it = snapshots_.find(stream);
    if (pending_controls_.empty() && it == snapshots_.end()) {
      return absl::OkStatus();
    }
    if (pending_controls_.empty() &&
        std::none_of(it->second.begin(), it->second.end(),
                     [&](const SnapshotEntry& e) {
                       return Matches(criteria, e.revision, e.timestamp_us);
                     })) {
      return absl::OkStatus();
    }
  }
  uint64_t position;
  return AppendControl(kKindSnapshotDelete, stream, 0, NowMicros(),
                       EncodeCriteria(criteria), 0, &position);
}

absl::Status Log::SnapshotLoad(
    std::string_view stream, const cairn_snapshot_criteria& criteria,
    absl::FunctionRef<void(const cairn_snapshot&)> fn) {
  SnapshotEntry best{};
  bool found = false;
  const uint64_t committed = Committed();  // readers see committed records
  {
    std::lock_guard<std::mutex> lk(state_mu_);
    auto it = snapshots_.find(stream);
    const std::vector<SnapshotEntry> none;
    for (const SnapshotEntry& e : it == snapshots_.end() ? none : it->second) {
      if (e.position > committed) continue;
      if (!Matches(criteria, e.revision, e.timestamp_us)) continue;
      if (!found || e.revision > best.revision ||
          (e.revision == best.revision && e.timestamp_us > best.timestamp_us)) {
        best = e;
        found = true;
      }
    }
  }
  if (legacy_snapshots_.load()) {
    // A read-only open of a store from before snapshots were records: its
    // snapshots/ files count too, the best of both wins.
    SnapshotStore legacy(fs_, options_.path + "/snapshots", false);
    std::string data;
    cairn_snapshot from_file{};
    bool in_file = false;
    absl::Status s =
        legacy.Load(stream, criteria, [&](const cairn_snapshot& x) {
          from_file = x;
          data.assign(reinterpret_cast<const char*>(x.data.data), x.data.size);
          in_file = true;
        });
    if (!s.ok()) return s;
    if (in_file && (!found || from_file.revision > best.revision ||
                    (from_file.revision == best.revision &&
                     from_file.timestamp_us > best.timestamp_us))) {
      from_file.stream = cairn_bytes{
          reinterpret_cast<const uint8_t*>(stream.data()), stream.size()};
      from_file.data = cairn_bytes{
          reinterpret_cast<const uint8_t*>(data.data()), data.size()};
      fn(from_file);
      return absl::OkStatus();
    }
  }
  if (!found) return absl::OkStatus();
  SegmentRef pin(this);
  Segment* seg = pin.Switch(LocationSegment(best.location));
  if (seg == nullptr) {
    return absl::NotFoundError(
        "snapshot of stream '" + std::string(stream) + "' revision " +
        std::to_string(best.revision) + ": its record at position " +
        std::to_string(best.position) + " was in segment " +
        SegmentFileName(LocationSegment(best.location)) +
        ", which is no longer present");
  }
  const uint8_t* rec;
  RecordHeader h;
  absl::Status s = ReadRecord(seg, LocationOffset(best.location), &rec, &h);
  if (!s.ok()) return s;
  cairn_event e;
  DecodeRecord(rec, h, &e, nullptr);
  cairn_snapshot snap{sizeof(cairn_snapshot), e.stream, h.revision,
                      h.timestamp_us, e.data};
  fn(snap);
  return absl::OkStatus();
}

absl::Status Log::BeginEpoch(uint64_t epoch, std::string_view primary,
                             uint64_t* position) {
  if (primary.size() > kMaxBatchBytes) {
    return absl::InvalidArgumentError("begin_epoch: primary id too long");
  }
  std::lock_guard<std::mutex> lk(control_mu_);
  uint64_t current;
  {
    std::lock_guard<std::mutex> state(state_mu_);
    current = epochs_.empty() ? 0 : epochs_.back().first;
  }
  if (epoch <= current) {
    return absl::FailedPreconditionError(
        "begin_epoch: epoch " + std::to_string(epoch) +
        " does not exceed the current epoch " + std::to_string(current));
  }
  return AppendControl(kKindEpoch, {}, epoch, NowMicros(), primary, 0,
                       position);
}

uint64_t Log::EpochEnd(uint64_t epoch) const {
  const uint64_t written = watermark_.load(std::memory_order_acquire);
  std::lock_guard<std::mutex> lk(state_mu_);
  // Records before the first EPOCH record with a greater epoch have epochs
  // <= `epoch`.
  auto it =
      std::upper_bound(epochs_.begin(), epochs_.end(), epoch,
                       [](uint64_t e, const std::pair<uint64_t, uint64_t>& s) {
                         return e < s.first;
                       });
  if (it == epochs_.end()) return written;
  return std::min(written, it->second - 1);
}

uint64_t Log::EpochAt(uint64_t position) const {
  std::lock_guard<std::mutex> lk(state_mu_);
  auto it =
      std::upper_bound(epochs_.begin(), epochs_.end(), position,
                       [](uint64_t p, const std::pair<uint64_t, uint64_t>& s) {
                         return p < s.second;
                       });
  return it == epochs_.begin() ? 0 : std::prev(it)->first;
}

// ---- read_log and apply_log
// --------------------------------------------------

absl::Status Log::StartWalk(uint64_t* want, SegmentRef* pin, Segment** seg,
                            uint32_t* off, const char* what) {
  *seg = nullptr;
  while (*seg == nullptr) {
    // A read from before the first retained position starts there.
    const uint64_t first = first_position_.load(std::memory_order_acquire);
    *want = std::max(*want, first);
    uint64_t loc = sparse_.Get((*want - 1) / kSparseEvery);
    if (loc != 0) {
      *seg = pin->Switch(LocationSegment(loc));
      *off = LocationOffset(loc);
    }
    if (*seg == nullptr) {
      // The index entry lay in a segment retention removed (want is then
      // within kSparseEvery of the first position): walk from the first
      // segment's start.
      if (loc == 0 && first == 1) {
        return absl::InternalError(std::string(what) +
                                   ": no index entry for position " +
                                   std::to_string(*want));
      }
      *seg = pin->Switch(first_segment_.load(std::memory_order_acquire));
      *off = kSegmentHeaderSize;
      // Retention may have removed more segments since `first` was loaded:
      // the walk starts at this segment's first record, and the positions
      // before it are gone, not skipped.
      if (*seg != nullptr) *want = std::max(*want, (*seg)->base_position + 1);
    }
  }
  return absl::OkStatus();
}

bool Log::NextRecordInNextSegment(SegmentRef* pin, Segment** seg,
                                  uint32_t* off) {
  for (;;) {
    *seg = pin->Switch((*seg)->number + 1);
    if (*seg == nullptr) return false;
    *off = kSegmentHeaderSize;
    const uint32_t len = LoadLength((*seg)->data + *off);
    if (len != kEndOfSegment) return len != 0;
  }
}

bool Log::NextRecordOrEnd(SegmentRef* pin, Segment** seg, uint32_t* off,
                          WalkEnd* end) {
  const uint64_t was = (*seg)->number;
  const uint32_t was_at = *off;
  if (NextRecord(pin, seg, off)) return true;
  if (*seg != nullptr) {
    end->At(*seg, *off);
  } else {  // the next segment is missing: where the walk left the last one
    end->ended = true;
    end->segment = was;
    end->offset = was_at;
  }
  return false;
}

// read_log holds a ReadGuard only while it walks, never while its callback
// runs (a callback that blocks, such as the shipper's, must not hold a
// truncation up while the truncation holds the locks appends need), and is
// still sure that a walk ending below the position it should reach is
// damage, not a concurrent cut. Each stretch between callbacks takes the
// guard, then loads the written watermark (lowering `bound`), then the
// truncation count (truncations_, odd while a CutAfter runs), all
// sequentially consistent; a count other than the one the read began with
// ends the read without an error (a cut began or ended since: the place it
// walks to may have been zeroed, removed or written again). With the count
// unchanged, take a truncation T and the single order S of those
// operations: if T raised the count after the stretch loaded it, the
// stretch registered before T lowered the watermarks, so T's
// WaitForReaders waits for the stretch to end before T changes any record;
// if T raised it (to odd) before the read began and has not ended, either
// the stretch registered before T's first epoch flip (T waits for it, and
// changed nothing yet) or after, and then its watermark load saw T's
// lowered one: the walk stays at or below the cut, which T leaves alone.
// A T that ended before the read began changed nothing the read sees. So a
// record the walk reads is never being changed, and a zeroed length or end
// marker, or a missing segment, below `bound` is the log's, reported as
// DataLoss like read_all does (where the walk is). The segment of the
// record handed to the callback stays pinned while it runs (its bytes are
// the record's): a cut that removes that very segment still waits for the
// callback, as for any pin.
absl::Status Log::ReadLog(uint64_t after_position, uint64_t max_count,
                          RecordFn fn) {
  if (max_count == 0) return absl::OkStatus();
  std::optional<ReadGuard> guard;
  guard.emplace(this);
  const uint64_t written = watermark_.load(std::memory_order_seq_cst);
  const uint64_t truncations = truncations_.load(std::memory_order_seq_cst);
  const uint64_t first = first_position_.load(std::memory_order_acquire);
  if (after_position >= written) return absl::OkStatus();
  SegmentRef pin(this);
  if (after_position + 1 < first) {
    return absl::NotFoundError(
        "read_log: position " + std::to_string(after_position + 1) +
        " is no longer held (retention dropped it); the oldest is " +
        std::to_string(first));
  }
  uint64_t want = after_position + 1;
  Segment* seg = nullptr;
  uint32_t off = 0;
  absl::Status walk = StartWalk(&want, &pin, &seg, &off, "read_log");
  if (!walk.ok()) return walk;
  if (want != after_position + 1) {
    return absl::NotFoundError("read_log: position " +
                               std::to_string(after_position + 1) +
                               " is no longer held (retention dropped it)");
  }
  uint64_t bound = written;     // the walk reads no record past it
  uint64_t reached = want - 1;  // the last position walked
  WalkEnd end;
  uint64_t sent = 0;
  std::vector<cairn_bytes> tag_buf;
  while (sent < max_count && reached < bound) {
    if (!NextRecord(&pin, &seg, &off, &end)) break;
    const uint8_t* rec;
    RecordHeader h;
    absl::Status st = ReadRecord(seg, off, &rec, &h);
    if (absl::IsUnavailable(st)) {
      end.At(seg, off);
      break;
    }
    if (!st.ok()) return st;
    if (h.position > bound) break;
    if (h.position >= want && h.position != reached + 1) {
      return WalkSkipped(*seg, off, reached, h.position);
    }
    reached = h.position;
    off += h.length;
    if (h.position < want) continue;
    tag_buf.resize(h.tag_count);
    cairn_event e;
    DecodeRecord(rec, h, &e, tag_buf.data());
    cairn_log_record r{};
    r.size = sizeof r;
    r.position = h.position;
    r.epoch = EpochAt(h.position);
    r.batch_size = h.batch_size;
    r.batch_index = h.batch_index;
    cairn_snapshot_criteria criteria{};
    if (h.kind == kKindEvent) {
      r.kind = CAIRN_RECORD_EVENT;
      r.event = &e;
      const std::string_view key = h.Key(rec);
      r.idempotency_key =
          cairn_bytes{reinterpret_cast<const uint8_t*>(key.data()), key.size()};
    } else {
      r.kind = h.kind;
      r.stream = h.stream_len == 0 ? cairn_bytes{nullptr, 0} : e.stream;
      switch (h.kind) {
        case kKindDeleteTo:
          r.revision = h.revision;
          break;
        case kKindSnapshotSave:
          r.revision = h.revision;
          r.timestamp_us = h.timestamp_us;
          r.data = e.data;
          break;
        case kKindSnapshotDelete:
          if (!DecodeCriteria(e.data, &criteria)) {
            return absl::DataLossError(
                "segment " + seg->name() + " position " +
                std::to_string(h.position) +
                ": a snapshot-delete record whose criteria are " +
                std::to_string(e.data.size) + " bytes, not 32");
          }
          r.criteria = &criteria;
          break;
        case kKindEpoch:
          r.data = e.data;
          break;
      }
    }
    ++sent;
    guard.reset();  // the callback runs without it (see above)
    if (!fn(r)) return absl::OkStatus();
    guard.emplace(this);
    bound = std::min(bound, watermark_.load(std::memory_order_seq_cst));
    if (truncations_.load(std::memory_order_seq_cst) != truncations) {
      return absl::OkStatus();  // a cut ran beside the callback
    }
  }
  if (end.ended && reached < bound) {
    return WalkEndedEarly(end.segment, end.offset, reached, bound);
  }
  return absl::OkStatus();
}

absl::Status Log::ApplyLog(const cairn_log_record* const* records,
                           size_t count) {
  if (count == 0) return absl::OkStatus();
  std::lock_guard<std::mutex> lk(control_mu_);
  const uint64_t written = watermark_.load(std::memory_order_acquire);
  auto refuse = [](size_t i, const std::string& why) {
    return absl::FailedPreconditionError("apply_log: record " +
                                         std::to_string(i) + " " + why);
  };
  // Check everything first, so that nothing is written unless all of it
  // follows: positions, batches, revisions (per stream), epochs.
  uint64_t epoch;
  {
    std::lock_guard<std::mutex> state(state_mu_);
    epoch = epochs_.empty() ? 0 : epochs_.back().first;
  }
  std::map<std::string_view, uint64_t> heads;
  for (size_t i = 0; i < count; ++i) {
    const cairn_log_record& r = *records[i];
    if (r.position != written + 1 + i) {
      return refuse(i, "is at position " + std::to_string(r.position) +
                           ", expected " + std::to_string(written + 1 + i) +
                           " (the written watermark is " +
                           std::to_string(written) + ")");
    }
    if (r.kind == CAIRN_RECORD_EPOCH) {
      if (r.epoch <= epoch) {
        return refuse(i, "begins epoch " + std::to_string(r.epoch) +
                             ", which does not exceed the current epoch " +
                             std::to_string(epoch));
      }
      epoch = r.epoch;
      continue;
    }
    if (r.epoch != epoch) {
      return refuse(i, "carries epoch " + std::to_string(r.epoch) +
                           " but the newest epoch before it is " +
                           std::to_string(epoch));
    }
    if (r.idempotency_key.size != 0 &&
        (r.kind != CAIRN_RECORD_EVENT || r.batch_index != 0 ||
         r.idempotency_key.size > CAIRN_MAX_IDEMPOTENCY_KEY)) {
      return refuse(i, "carries an idempotency key of " +
                           std::to_string(r.idempotency_key.size) +
                           " bytes; keys are 1.." +
                           std::to_string(CAIRN_MAX_IDEMPOTENCY_KEY) +
                           " bytes, on the first event of a batch only");
    }
    if (r.kind == CAIRN_RECORD_EVENT) {
      if (r.event == nullptr || r.batch_size == 0) {
        return refuse(i, "is an event record without an event");
      }
      if (r.batch_index == 0 && i + r.batch_size > count) {
        return refuse(i, "starts a batch of " + std::to_string(r.batch_size) +
                             " events that this call does not hold whole");
      }
      if (r.batch_index != 0 &&
          (i == 0 || records[i - 1]->kind != CAIRN_RECORD_EVENT ||
           records[i - 1]->batch_index + 1 != r.batch_index ||
           records[i - 1]->batch_size != r.batch_size)) {
        return refuse(i, "is event " + std::to_string(r.batch_index) +
                             " of a batch whose start is not before it");
      }
      if (r.event->position != r.position) {
        return refuse(i, "holds an event at position " +
                             std::to_string(r.event->position));
      }
      std::string_view name(reinterpret_cast<const char*>(r.event->stream.data),
                            r.event->stream.size);
      auto it = heads.find(name);
      if (it == heads.end()) {
        // The written head, not the committed one HeadRevision answers: a
        // replica applies a stream's next batch before the primary has told
        // it the previous one is committed (commit = host).
        const StreamState* stream = streams_.Find(name);
        it = heads.emplace(name, stream == nullptr ? 0 : stream->head()).first;
      }
      if (r.event->revision != it->second + 1) {
        return refuse(i, "is stream '" + std::string(name) + "' revision " +
                             std::to_string(r.event->revision) +
                             " but the stream's head is " +
                             std::to_string(it->second));
      }
      it->second = r.event->revision;
      continue;
    }
    if (r.kind < CAIRN_RECORD_DELETE_TO || r.kind > CAIRN_RECORD_EPOCH) {
      return refuse(i, "has unknown kind " + std::to_string(r.kind));
    }
    if (r.kind == CAIRN_RECORD_SNAPSHOT_DELETE && r.criteria == nullptr) {
      return refuse(i, "is a snapshot delete without criteria");
    }
    std::string_view name(reinterpret_cast<const char*>(r.stream.data),
                          r.stream.size);
    absl::Status s = CheckStreamName("apply_log", name);
    if (!s.ok()) return refuse(i, std::string(s.message()));
  }
  for (size_t i = 0; i < count;) {
    const cairn_log_record& r = *records[i];
    std::string_view name(reinterpret_cast<const char*>(r.stream.data),
                          r.stream.size);
    uint64_t position;
    absl::Status s;
    switch (r.kind) {
      case CAIRN_RECORD_EVENT: {
        std::vector<cairn_event> batch(r.batch_size);
        for (uint32_t j = 0; j < r.batch_size; ++j) {
          batch[j] = *records[i + j]->event;
        }
        s = ApplyEvents(batch.data(), batch.size(),
                        std::string_view(reinterpret_cast<const char*>(
                                             r.idempotency_key.data),
                                         r.idempotency_key.size));
        i += r.batch_size;
        if (!s.ok()) return s;
        continue;
      }
      case CAIRN_RECORD_DELETE_TO:
        s = AppendControl(kKindDeleteTo, name, r.revision, NowMicros(), {},
                          r.position, &position);
        break;
      case CAIRN_RECORD_SNAPSHOT_SAVE:
        s = AppendControl(
            kKindSnapshotSave, name, r.revision, r.timestamp_us,
            std::string_view(reinterpret_cast<const char*>(r.data.data),
                             r.data.size),
            r.position, &position);
        break;
      case CAIRN_RECORD_SNAPSHOT_DELETE:
        s = AppendControl(kKindSnapshotDelete, name, 0, NowMicros(),
                          EncodeCriteria(*r.criteria), r.position, &position);
        break;
      case CAIRN_RECORD_EPOCH:
        s = AppendControl(
            kKindEpoch, {}, r.epoch, NowMicros(),
            std::string_view(reinterpret_cast<const char*>(r.data.data),
                             r.data.size),
            r.position, &position);
        break;
    }
    if (!s.ok()) return s;
    ++i;
  }
  // One sync for the whole call: a replica applies a frame of many batches,
  // and a sync per batch made its acknowledgements (and so every sync and
  // quorum append) wait for one sync per batch, one after the other.
  if (options_.fsync == FsyncMode::kAlways) {
    absl::Status s = WaitDurable(records[count - 1]->position);
    if (!s.ok()) return s;
    // Control records written above take effect once committed; without
    // commit = host that is once durable, which is now.
    ApplyCommittedControls();
  }
  return absl::OkStatus();
}

// ---- Checkpoint section -----------------------------------------------------

// u64 position of the last control record applied, u64 streams with a
// delete-to, then per stream: u8 name length, name, u64 deleted to;
// u64 epochs, then per epoch u64 epoch, u64 position; u64 streams with
// snapshots, then per stream: u8 name length, name, u64 entries, then per
// entry u64 revision, i64 timestamp_us, u64 location, u64 position; then,
// only if control records are written but not committed yet, u64 count and
// per record u64 position, u64 location (the queue ApplyCommittedControls
// works through).
std::string Log::EncodeControlState() {
  std::string out;
  std::lock_guard<std::mutex> lk(state_mu_);
  Put(&out, control_applied_);
  std::string deletes;
  uint64_t deleted_streams = 0;
  const uint64_t ordinals = stream_count_.load(std::memory_order_acquire);
  for (uint64_t o = 1; o <= ordinals; ++o) {
    auto* st = reinterpret_cast<StreamState*>(ordinals_.Get(o - 1));
    const uint64_t d = st->deleted_to.load(std::memory_order_acquire);
    if (d == 0) continue;
    PutName(&deletes, st->name);
    Put(&deletes, d);
    ++deleted_streams;
  }
  Put(&out, deleted_streams);
  out += deletes;
  Put(&out, uint64_t{epochs_.size()});
  for (auto [epoch, position] : epochs_) {
    Put(&out, epoch);
    Put(&out, position);
  }
  Put(&out, uint64_t{snapshots_.size()});
  for (const auto& [name, entries] : snapshots_) {
    PutName(&out, name);
    Put(&out, uint64_t{entries.size()});
    for (const SnapshotEntry& e : entries) {
      Put(&out, e.revision);
      Put(&out, e.timestamp_us);
      Put(&out, e.location);
      Put(&out, e.position);
    }
  }
  // The queue of written, uncommitted control records (locations), which
  // the checkpoint's cut may lie after. Older builds refuse a checkpoint
  // with these trailing bytes and rescan the log.
  if (!pending_controls_.empty()) {
    Put(&out, uint64_t{pending_controls_.size()});
    for (auto [position, location] : pending_controls_) {
      Put(&out, position);
      Put(&out, location);
    }
  }
  return out;
}

bool Log::DecodeControlState(std::string_view bytes) {
  In in(bytes);
  uint64_t applied, n;
  if (!in.Get(&applied) || !in.Get(&n)) return false;
  std::lock_guard<std::mutex> lk(state_mu_);
  for (uint64_t i = 0; i < n; ++i) {
    std::string_view name;
    uint64_t d;
    if (!in.Name(&name) || !in.Get(&d)) return false;
    // Not applied yet: the state was encoded after the cut was chosen, so
    // it may name revisions (and streams) only the scan after the cut
    // brings back, and the scan skips the records it covers.
    checkpoint_deletes_.emplace_back(std::string(name), d);
  }
  if (!in.Get(&n)) return false;
  for (uint64_t i = 0; i < n; ++i) {
    uint64_t epoch, position;
    if (!in.Get(&epoch) || !in.Get(&position)) return false;
    epochs_.emplace_back(epoch, position);
  }
  if (!in.Get(&n)) return false;
  for (uint64_t i = 0; i < n; ++i) {
    std::string_view name;
    uint64_t entries;
    if (!in.Name(&name) || !in.Get(&entries)) return false;
    std::vector<SnapshotEntry>& v = snapshots_[std::string(name)];
    for (uint64_t j = 0; j < entries; ++j) {
      SnapshotEntry e;
      if (!in.Get(&e.revision) || !in.Get(&e.timestamp_us) ||
          !in.Get(&e.location) || !in.Get(&e.position)) {
        return false;
      }
      v.push_back(e);
    }
  }
  if (!in.done()) {
    if (!in.Get(&n)) return false;
    for (uint64_t i = 0; i < n; ++i) {
      uint64_t position, location;
      if (!in.Get(&position) || !in.Get(&location)) return false;
      pending_controls_.emplace_back(position, location);
    }
    pending_controls_any_.store(!pending_controls_.empty());
  }
  control_applied_ = applied;
  return in.done();
}

}  // namespace cairn::mmaplog
