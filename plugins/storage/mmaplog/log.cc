#include "log.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <map>

#if defined(__linux__)
#include <pthread.h>
#endif

#include "crc32c.h"
#include "record.h"
#include "store_folder.h"

namespace cairn::mmaplog {
namespace {

std::string Quote(std::string_view s) {
  return "'" + std::string(s) + "'";
}

// Names the calling background thread, so top -H and perf tell them apart
// (at most 15 characters). A no-op where there is no such call.
void NameThisThread(const char* name) {
#if defined(__linux__)
  pthread_setname_np(pthread_self(), name);
#else
  (void)name;
#endif
}

inline void CpuRelax() {
#if defined(__x86_64__)
  __builtin_ia32_pause();
#endif
}

}  // namespace

std::string Segment::name() const { return SegmentFileName(number); }

absl::Status ParseFsync(std::string_view text, FsyncMode* mode,
                        uint32_t* interval_ms) {
  if (text == "always") {
    *mode = FsyncMode::kAlways;
    return absl::OkStatus();
  }
  if (text == "never") {
    *mode = FsyncMode::kNever;
    return absl::OkStatus();
  }
  constexpr std::string_view kPrefix = "interval:";
  if (text.substr(0, kPrefix.size()) == kPrefix) {
    std::string_view ms = text.substr(kPrefix.size());
    uint64_t v = 0;
    bool ok = !ms.empty() && ms.size() <= 9;
    for (char c : ms) {
      if (c < '0' || c > '9') ok = false;
      v = v * 10 + static_cast<uint64_t>(c - '0');
    }
    if (ok && v > 0) {
      *mode = FsyncMode::kInterval;
      *interval_ms = static_cast<uint32_t>(v);
      return absl::OkStatus();
    }
  }
  return absl::InvalidArgumentError(
      "option 'fsync': '" + std::string(text) +
      "' is not one of always, never, interval:MS (MS > 0, e.g. interval:50)");
}

absl::Status ParseZeroFill(std::string_view text, ZeroFill* mode) {
  if (text == "auto") {
    *mode = ZeroFill::kAuto;
  } else if (text == "always") {
    *mode = ZeroFill::kAlways;
  } else if (text == "never") {
    *mode = ZeroFill::kNever;
  } else {
    return absl::InvalidArgumentError("option 'zero-fill': '" +
                                      std::string(text) +
                                      "' is not one of auto, always, never");
  }
  return absl::OkStatus();
}

Log::Log(const LogOptions& options)
    : options_(options),
      fs_(options.fs != nullptr ? options.fs : FileSystem::Default()),
      arena_(std::make_unique<IndexArena>(fs_, options.path + "/index")),
      segments_(arena_.get()),
      streams_(options.stream_bucket_bits, arena_.get()),
      tags_(12, arena_.get()),
      ordinals_(arena_.get()),
      sparse_(arena_.get()) {}

absl::StatusOr<std::unique_ptr<Log>> Log::Open(const LogOptions& options) {
  if (options.path.empty()) {
    return absl::InvalidArgumentError(
        "option 'path' is required: the directory that holds the log");
  }
  if (options.segment_size < (64u << 10) || options.segment_size > (1u << 30) ||
      options.segment_size % 4096 != 0) {
    return absl::InvalidArgumentError(
        "option 'segment-size': " + std::to_string(options.segment_size) +
        " bytes is not a multiple of 4 KiB between 64 KiB and 1 GiB");
  }
  if (options.allocation_step < (64u << 10) ||
      options.allocation_step % 4096 != 0) {
    return absl::InvalidArgumentError(
        "option 'allocation-step': " + std::to_string(options.allocation_step) +
        " bytes is not a multiple of 4 KiB of at least 64 KiB");
  }
  if (options.stream_bucket_bits < 4 || options.stream_bucket_bits > 26) {
    return absl::InvalidArgumentError("stream bucket bits must be 4..26");
  }
  std::unique_ptr<Log> log(new Log(options));
  auto folder = ClaimStoreFolder(log->fs_, options.path, options.create,
                                 options.repair);
  if (!folder.ok()) return folder.status();
  log->recovery_.store_created = folder->created;
  log->recovery_.store_adopted = folder->adopted;
  log->recovery_.foreign_files = std::move(folder->foreign);
  log->recovery_.repairs = std::move(folder->repairs);
  absl::Status s = log->fs_->CreateDirectories(options.path + "/snapshots");
  if (!s.ok()) return s;
  auto lock = log->fs_->LockDirectory(options.path);
  if (!lock.ok()) return lock.status();
  log->lock_ = std::move(*lock);
  s = log->arena_->Init();
  if (!s.ok()) return s;
  s = log->Recover();
  if (!s.ok()) return s;
  // A truncation a crash interrupted is finished before anything else.
  s = log->FinishTruncation();
  if (!s.ok()) return s;
  s = log->PrepareControlRecords();
  if (!s.ok()) return s;
  s = log->OpenCommittedFile();
  if (!s.ok()) return s;
  // Control records recovery queued take effect up to committed.
  log->ApplyCommittedControls();
  log->ResetKeys();
  log->recovered_ = true;
  log->flusher_ = std::thread([l = log.get()] {
    NameThisThread("mmaplog-flush");
    l->FlusherLoop();
  });
  log->preparer_ = std::thread([l = log.get()] {
    NameThisThread("mmaplog-prep");
    l->PreparerLoop();
  });
  // Before the background checkpoints start: a checkpoint never holds
  // state from deletes.log that the log does not.
  s = log->UpgradeLegacyFiles();
  if (!s.ok()) {
    log->recovered_ = false;  // closes as a crash would: no checkpoint
    return s;
  }
  log->maintenance_ = std::thread([l = log.get()] {
    NameThisThread("mmaplog-maint");
    l->MaintenanceLoop();
  });
  return log;
}

Log::~Log() {
  stopping_.store(true);
  for (FutexEvent& e : durable_changed_) e.WakeAll();
  {
    std::lock_guard<std::mutex> lk(commit_mu_);
    commit_cv_.notify_all();
  }
  {
    std::lock_guard<std::mutex> lk(flush_mu_);
    flush_cv_.notify_all();
  }
  {
    std::lock_guard<std::mutex> lk(spare_mu_);
    spare_cv_.notify_all();
  }
  WakeMaintenance();
  if (maintenance_.joinable()) maintenance_.join();
  if (flusher_.joinable()) flusher_.join();
  if (preparer_.joinable()) preparer_.join();
  // An open that failed (another process holds the lock, recovery refused)
  // must not touch the files.
  if (!recovered_) return;
  uint64_t synced = 0;
  absl::Status s = SyncCommitted(&synced);
  if (s.ok() && !failed_.load()) {
    WriteDurableMark(synced);
    s = active_.load()->file->Sync(0, kSegmentHeaderSize);
  }
  // A clean close leaves an index checkpoint so the next open need not
  // rescan; without one (failure, kill -9) the next open scans.
  if (s.ok() && !failed_.load()) s = WriteCheckpoint(/*closing=*/true);
  (void)s;  // no caller to tell; the next open scans instead
}

// ---- Segments -------------------------------------------------------------

absl::StatusOr<std::unique_ptr<Segment>> Log::CreateSegment(uint64_t number) {
  std::string path = options_.path + "/" + SegmentFileName(number);
  absl::StatusOr<std::unique_ptr<MappedFile>> file;
  if (fs_->Exists(path)) {
    // A spare of an earlier run: reuse it if it is still blank (never put in
    // use, all zeros after its header).
    file = fs_->OpenMapped(path);
    SegmentHeader h;
    bool blank = file.ok() && (*file)->size() == options_.segment_size &&
                 h.DecodeFrom((*file)->data()) && h.flags == 0 &&
                 h.number == number;
    // Holes read as zeros and are not read (MappedFile::NextData): the
    // steps not yet given blocks; the step that has them is populated
    // after the allocation below.
    if (blank) {
      ForEachDataPage(**file, kSegmentHeaderSize, (*file)->size(),
                      [&](size_t pos, size_t end) {
                        blank = AllZero((*file)->data() + pos, end - pos);
                        return blank;
                      });
    }
    if (!blank) {
      file = absl::UnknownError("");
      absl::Status rm = fs_->Remove(path);
      if (!rm.ok()) return rm;
    }
  }
  // With syncs on the append path, write the zeros (off that path) so
  // those syncs write back only data; with fsync=never nothing syncs a
  // segment until it is sealed, and writing it twice would only cost. A
  // reused spare is blank, so zeros may go anywhere in it too.
  const FileFill fill = ZeroFillPays() ? FileSystem::Fill::kWriteZeros
                                       : FileSystem::Fill::kAllocate;
  // A new store's first segment gets all of its blocks inside Open when
  // whole_first_segment asks (benchmarks of the steady state, where no
  // blocks are given and no zeros written while they measure), and all of
  // its zeros when zero-fill is always.
  //
  // With fsync=never every segment after a store's first is given all its
  // blocks here, ahead of need, as 1.0 gave every segment. A finished
  // segment is sealed with a sync of all of it (0.5-0.56 s for 256 MiB on
  // the benchmark VM), and fallocate on the same file system waited for it
  // (up to 0.35 s under strace); an appender that waits for no sync fills
  // a whole segment in less, so with steps it reached the end of the
  // allocated part and waited too (docs/benchmarks.md, session 21). A new
  // store's first segment still grows in steps (issue #17: a new store
  // takes one step of disk).
  const bool whole =
      (!recovered_ && (options_.whole_first_segment ||
                       (fill == FileSystem::Fill::kWriteZeros &&
                        options_.zero_fill == ZeroFill::kAlways))) ||
      (!SyncsAllocations() && number > 1);
  const uint64_t first_step =
      whole
          ? options_.segment_size
          : std::min<uint64_t>(options_.allocation_step, options_.segment_size);
  if (file.ok()) {
    absl::Status s = (*file)->Allocate(0, first_step, fill, SyncsAllocations());
    if (!s.ok()) return s;
    (*file)->Populate(0, first_step);
  } else {
    // Full size, blocks for the first step only: the rest is a hole until
    // ExtendSegment allocates it ahead of the appenders.
    file = fs_->CreateMapped(path, options_.segment_size, /*durable=*/true,
                             fill, first_step);
    if (!file.ok()) return file.status();
    absl::Status s = (*file)->Prefault(0, first_step);
    if (!s.ok()) return s;
  }
  auto seg = std::make_unique<Segment>();
  seg->number = number;
  seg->file = std::move(*file);
  seg->data = seg->file->data();
  seg->size = seg->file->size();
  seg->capacity_units = static_cast<uint32_t>((seg->size - 8) / 8);
  seg->allocated.store(std::min<uint64_t>(first_step, seg->size));
  seg->fill = fill;
  SegmentHeader h;
  h.number = number;
  h.size = seg->size;
  h.EncodeTo(seg->data);
  return seg;
}

bool Log::ZeroFillPays() const {
  if (options_.fsync == FsyncMode::kNever ||
      options_.zero_fill == ZeroFill::kNever) {
    return false;
  }
  if (options_.zero_fill == ZeroFill::kAlways) return true;
  // Unwritten extents cost each sync about one metadata write, whatever its
  // size; zeros cost every byte a second write. So zeros pay while syncs are
  // small (one writer, or many single events) and not once group commit
  // makes them large (8 writers of 100 events: about 150 KiB a sync, and a
  // new segment every second or so).
  constexpr uint64_t kZeroFillBelowBytesPerSync = 64u << 10;
  if (!recovered_) return options_.whole_first_segment;  // a new store's
  uint64_t syncs = syncs_in_last_segment_.load(std::memory_order_relaxed);
  // No segment has finished since open: nothing to judge by, and zeroing
  // the first spare would compete with the appends the open let in.
  if (syncs == kNoSegmentFinished) return false;
  return syncs > 0 &&
         options_.segment_size / syncs < kZeroFillBelowBytesPerSync;
}

absl::Status Log::Failed() const {
  std::lock_guard<std::mutex> lk(failed_mu_);
  return failure_;
}

absl::Status Log::RecordRecordsHeld() {
  std::lock_guard<std::mutex> lock(marker_mu_);
  if (marker_records_held_.load(std::memory_order_acquire)) {
    return absl::OkStatus();
  }
  if (!ReadMarkerHighWater(fs_, options_.path).records_held) {
    MarkerHighWater held;
    held.records_held = true;
    absl::Status s = WriteMarkerHighWater(fs_, options_.path, held);
    if (!s.ok()) {
      return absl::Status(
          s.code(), "append: cannot record in " + options_.path + "/" +
                        kStoreMarkerFile +
                        " that the log holds records (nothing was written): " +
                        std::string(s.message()));
    }
  }
  marker_records_held_.store(true, std::memory_order_release);
  return absl::OkStatus();
}

// Reserves `units` 8-byte units and `count` positions in the active segment
// with one fetch-add (or, for Apply, one CAS that also checks the first
// position). A reservation that overshoots the segment's capacity is void; the
// first overshooter (the one whose range started inside) rotates, the others
// wait for the new segment and retry. kMaxBatchBytes keeps the overshoot far
// from the 32-bit unit field's limit (32 GiB of 8-byte units): it would take
// about 500 appenders overshooting one 1 GiB segment at once with 64 MiB
// batches each.
absl::StatusOr<Log::Reservation> Log::Reserve(uint32_t count, uint32_t units,
                                              uint64_t required_first) {
  if (!marker_records_held_.load(std::memory_order_acquire)) [[unlikely]] {
    absl::Status s = RecordRecordsHeld();
    if (!s.ok()) return s;
  }
  const uint64_t delta = (uint64_t{count} << 32) | units;
  for (;;) {
    if (failed_.load(std::memory_order_acquire)) return Failed();
    uint64_t generation = rotation_generation_.load(std::memory_order_acquire);
    Segment* seg = active_.load(std::memory_order_acquire);
    uint64_t old;
    if (required_first == 0) {
      old = seg->reserve.fetch_add(delta, std::memory_order_acq_rel);
    } else {
      old = seg->reserve.load(std::memory_order_acquire);
      for (;;) {
        uint64_t next_position = seg->base_position + (old >> 32) + 1;
        if (static_cast<uint32_t>(old) <= seg->capacity_units &&
            next_position != required_first) {
          return absl::FailedPreconditionError(
              "apply: first position " + std::to_string(required_first) +
              " does not follow the head position " +
              std::to_string(next_position - 1));
        }
        if (seg->reserve.compare_exchange_weak(old, old + delta,
                                               std::memory_order_acq_rel)) {
          break;
        }
      }
    }
    uint32_t old_units = static_cast<uint32_t>(old);
    uint64_t old_count = old >> 32;
    if (uint64_t{old_units} + units <= seg->capacity_units) {
      const uint64_t end = (uint64_t{old_units} + units) * 8;
      if (!AllocatedAhead(seg, end)) {
        absl::Status s = EnsureAllocated(seg, end);
        if (!s.ok()) return s;
      }
      return Reservation{seg, old_units * 8u,
                         seg->base_position + old_count + 1};
    }
    if (old_units <= seg->capacity_units) {
      absl::Status s = Rotate(seg, old_units, seg->base_position + old_count);
      if (!s.ok()) return s;
      continue;
    }
    // Another appender is rotating: wait for the new segment.
    while (active_.load(std::memory_order_acquire) == seg &&
           !failed_.load(std::memory_order_acquire)) {
      rotation_generation_.wait(generation, std::memory_order_acquire);
      generation = rotation_generation_.load(std::memory_order_acquire);
    }
  }
}

absl::Status Log::Rotate(Segment* full, uint32_t end_units,
                         uint64_t last_position) {
  // The end marker goes where no reservation reached: it may need blocks.
  absl::Status as = EnsureAllocated(full, uint64_t{end_units} * 8 + 8);
  if (!as.ok()) return as;
  std::unique_ptr<Segment> next;
  {
    std::unique_lock<std::mutex> lk(spare_mu_);
    rotation_waiting_ = true;
    spare_cv_.notify_all();
    spare_cv_.wait(lk, [&] {
      return !spares_.empty() || !spare_error_.ok() || stopping_.load();
    });
    rotation_waiting_ = false;
    if (spares_.empty()) {
      absl::Status why = spare_error_.ok()
                             ? absl::CancelledError("the log is closing")
                             : spare_error_;
      lk.unlock();
      return FailLog(
          absl::Status(why.code(), "cannot start segment " +
                                       SegmentFileName(full->number + 1) +
                                       ": " + std::string(why.message())));
    }
    next = std::move(spares_.front());
    spares_.pop_front();
    spare_cv_.notify_all();
  }
  if (next->number != full->number + 1) {
    return absl::InternalError("spare segment " + next->name() +
                               " does not follow " + full->name());
  }
  next->base_position = last_position;
  SegmentHeader h;
  h.flags = kSegmentInUse;
  h.number = next->number;
  h.base_position = last_position;
  h.size = next->size;
  h.EncodeTo(next->data);
  next->reserve.store(kSegmentHeaderSize / 8, std::memory_order_relaxed);
  next->syncs_at_start = fsyncs_.load(std::memory_order_relaxed);
  syncs_in_last_segment_.store(next->syncs_at_start - full->syncs_at_start,
                               std::memory_order_relaxed);
  Segment* raw = next.get();
  {
    std::lock_guard<std::mutex> lk(segment_owner_mu_);
    segment_owner_.push_back(std::move(next));
  }
  segments_.Set(raw->number, reinterpret_cast<uint64_t>(raw));
  // The end marker comes after the next segment is findable, so the
  // committer that meets it can always move on.
  PublishLength(full->data + uint64_t{end_units} * 8, kEndOfSegment);
  Published();
  active_.store(raw, std::memory_order_release);
  rotation_generation_.fetch_add(1, std::memory_order_acq_rel);
  rotation_generation_.notify_all();
  TryAdvance();
  return absl::OkStatus();
}

absl::Status Log::FailLog(const absl::Status& why) {
  {
    std::lock_guard<std::mutex> flk(failed_mu_);
    if (failure_.ok()) {
      failure_ = absl::Status(why.code(),
                              std::string(why.message()) +
                                  "; the log refuses appends until reopened");
    }
  }
  failed_.store(true, std::memory_order_release);
  rotation_generation_.fetch_add(1, std::memory_order_acq_rel);
  rotation_generation_.notify_all();
  return Failed();
}

absl::Status Log::EnsureAllocated(Segment* seg, uint64_t end) {
  const uint64_t allocated = seg->allocated.load(std::memory_order_acquire);
  if (allocated >= seg->size) return absl::OkStatus();
  const uint64_t half_step = options_.allocation_step / 2;
  if (end + half_step <= allocated) return absl::OkStatus();
  if (end <= allocated) {
    // In the last half of what has blocks: the preparer allocates the next
    // step while appenders go on. One request per step.
    if (!seg->extend_requested.exchange(true, std::memory_order_acq_rel)) {
      std::lock_guard<std::mutex> lk(spare_mu_);
      extend_wanted_ = seg;
      spare_cv_.notify_all();
    }
    return absl::OkStatus();
  }
  // The preparer fell behind: allocate here rather than store into a hole
  // (a page fault there allocates too, but a full disk would be SIGBUS).
  allocation_steps_inline_.fetch_add(1, std::memory_order_relaxed);
  absl::Status s = ExtendSegment(seg, end, /*populate=*/false);
  if (!s.ok()) {
    return FailLog(absl::Status(s.code(), "cannot allocate disk for segment " +
                                              seg->name() + " up to offset " +
                                              std::to_string(end) + ": " +
                                              std::string(s.message())));
  }
  {
    // The preparer did not see this step: the spare may be due now.
    std::lock_guard<std::mutex> lk(spare_mu_);
    spare_cv_.notify_all();
  }
  return absl::OkStatus();
}

absl::Status Log::ExtendSegment(Segment* seg, uint64_t end, bool populate) {
  uint64_t from = 0;
  uint64_t allocated = 0;
  absl::Status s;
  {
    std::lock_guard<std::mutex> lk(seg->alloc_mu);
    from = allocated = seg->allocated.load(std::memory_order_acquire);
    while (allocated < std::min<uint64_t>(end, seg->size)) {
      const uint64_t next =
          std::min<uint64_t>(seg->size, allocated + options_.allocation_step);
      s = seg->file->Allocate(allocated, next - allocated, seg->fill,
                              SyncsAllocations());
      if (!s.ok()) break;
      allocated = next;
      seg->allocated.store(allocated, std::memory_order_release);
      allocation_steps_.fetch_add(1, std::memory_order_relaxed);
    }
  }
  // What this call published may already be taking stores: Populate only
  // asks the kernel to map pages in, it reads nothing here.
  if (populate && allocated > from) seg->file->Populate(from, allocated - from);
  return s;
}

void Log::PreparerLoop() {
  std::unique_lock<std::mutex> lk(spare_mu_);
  while (!stopping_.load()) {
    if (Segment* seg = std::exchange(extend_wanted_, nullptr)) {
      // First the active segment's next step: appenders are heading there.
      lk.unlock();
      absl::Status s;
      seg->extend_requested.store(false, std::memory_order_seq_cst);
      // Pinned, so retention cannot unmap it meanwhile (a segment that
      // stopped being the active one may be sealed and removed).
      SegmentRef ref(this);
      if (seg == active_.load(std::memory_order_acquire) &&
          ref.Switch(seg->number) == seg) {
        // Whole steps until half a step past where appenders have reserved
        // now (so one whose request came before the flag was cleared is
        // covered too): the headroom a request asks for. A full step past
        // it, rounded up to steps, left up to two steps allocated and
        // unwritten when the preparer woke late in a burst (64 MiB for
        // 36.6 MiB of records).
        const uint64_t reserved =
            (seg->reserve.load(std::memory_order_seq_cst) & 0xFFFFFFFFu) * 8;
        s = ExtendSegment(seg,
                          std::min<uint64_t>(seg->size, reserved) +
                              options_.allocation_step / 2,
                          /*populate=*/true);
      }
      ref.Release();
      lk.lock();
      if (!s.ok() && options_.warn) {
        options_.warn("cannot allocate the next step of segment " +
                      seg->name() +
                      " ahead of appends: " + std::string(s.message()) +
                      "; appenders will try again themselves");
      }
      continue;
    }
    if (spares_.size() >=
            std::max<uint32_t>(1, options_.preallocate_segments) ||
        !SpareDue()) {
      spare_cv_.wait(lk);
      continue;
    }
    uint64_t number = next_spare_number_;
    lk.unlock();
    auto seg = CreateSegment(number);
    lk.lock();
    if (seg.ok() && number != next_spare_number_) {
      // A truncation renumbered the spares meanwhile: this one would leave
      // a gap in the segment numbers.
      (void)fs_->Remove((*seg)->file->path());
      continue;
    }
    if (seg.ok()) {
      ++next_spare_number_;
      spare_error_ = absl::OkStatus();
      spares_.push_back(std::move(*seg));
      spare_cv_.notify_all();
    } else {
      spare_error_ = seg.status();
      spare_cv_.notify_all();
      // Retry later (disk full may clear); appenders waiting see the error.
      spare_cv_.wait_for(lk, std::chrono::milliseconds(200));
    }
  }
}

bool Log::SpareDue() const {
  if (rotation_waiting_ || options_.spare_at_percent == 0) return true;
  // Segments stay owned until close: the one loaded stays readable.
  const Segment* active = active_.load(std::memory_order_acquire);
  if (active == nullptr) return true;
  // The preparer is woken for each allocation step (extend_wanted_); once
  // the segment has all its blocks no further step will wake it.
  if (active->allocated.load(std::memory_order_acquire) >= active->size) {
    return true;
  }
  const uint64_t reserved =
      (active->reserve.load(std::memory_order_acquire) & 0xFFFFFFFFu) * 8;
  return reserved * 100 >= active->size * options_.spare_at_percent;
}

bool Log::WaitForSpares(std::chrono::milliseconds timeout) {
  const size_t wanted = std::max<uint32_t>(1, options_.preallocate_segments);
  std::unique_lock<std::mutex> lk(spare_mu_);
  spare_cv_.wait_for(lk, timeout, [&] {
    return spares_.size() >= wanted || !spare_error_.ok() || stopping_.load();
  });
  return spares_.size() >= wanted;
}

// ---- Append -----------------------------------------------------------------

void Log::WriteAndPublish(const Reservation& r, std::string_view stream,
                          const cairn_event* events, size_t count,
                          const uint32_t* sizes, uint64_t first_revision,
                          StreamState* state, std::string_view key) {
  uint8_t* base = r.segment->data;
  uint32_t offset = r.offset;
  uint32_t last_offset = offset;
  // A batch hint (see batch_hints_) only for an Append whose records the
  // committer has nothing to do for: not a stream's first event (ordinals
  // are handed out in commit order), no tags (tag lists are kept in
  // position order).
  bool hintable = state != nullptr && first_revision > 1;
  for (size_t i = 0; i < count; ++i) {
    std::string_view name =
        state != nullptr
            ? stream
            : std::string_view(
                  reinterpret_cast<const char*>(events[i].stream.data),
                  events[i].stream.size);
    uint64_t revision =
        state != nullptr ? first_revision + i : events[i].revision;
    if (i == 0 && !key.empty()) {
      EncodeKeyedRecord(base + offset, name, events[i], r.first_position,
                        revision, static_cast<uint32_t>(count), 0, sizes[i],
                        key);
    } else {
      EncodeRecord(base + offset, name, events[i], r.first_position + i,
                   revision, static_cast<uint32_t>(count),
                   static_cast<uint32_t>(i), sizes[i]);
    }
    StreamState* s = state != nullptr ? state : streams_.Find(name);
    const uint64_t location = MakeLocation(r.segment->number, offset);
    s->revisions.Set(revision - 1, location);
    const uint64_t position = r.first_position + i;
    if ((position - 1) % kSparseEvery == 0) {
      sparse_.Set((position - 1) / kSparseEvery, location);
    }
    hintable = hintable && events[i].tag_count == 0;
    last_offset = offset;
    offset += sizes[i];
  }
  if (hintable) {
    batch_hints_[r.first_position % kBatchHints].store(
        (uint64_t{static_cast<uint32_t>(r.first_position)} << 32) |
            (uint64_t{last_offset / 8} << 1) | 1,
        std::memory_order_release);
  }
  offset = r.offset;
  for (size_t i = 0; i < count; ++i) {
    PublishLength(base + offset, sizes[i]);
    offset += sizes[i];
  }
  Published();
}

absl::Status Log::FinishAppend(uint64_t last_position, bool durable) {
  // With fsync=always the appender sleeps for its sync anyway: spinning for
  // the watermark first would only take CPU from the appender it waits for.
  const int max_spins = options_.fsync == FsyncMode::kAlways ? 0 : 200;
  int spins = 0;
  for (;;) {
    uint64_t w = watermark_.load(std::memory_order_acquire);
    if (w >= last_position) break;
    TryAdvance();
    w = watermark_.load(std::memory_order_acquire);
    if (w >= last_position) break;
    // Another appender's batch before ours is being written: it is usually
    // a few hundred nanoseconds from publishing, so spin a little before
    // sleeping in the kernel.
    if (++spins < max_spins) {
      CpuRelax();
      continue;
    }
    watermark_changed_.WaitUntil(
        [&] { return watermark_.load(std::memory_order_seq_cst) != w; });
  }
  if (durable && options_.fsync == FsyncMode::kAlways) {
    return WaitDurable(last_position);
  }
  return absl::OkStatus();
}

// Inline: out of line its call cost a third of what it does for one event.
[[gnu::always_inline]] inline bool Log::MeasureBatch(
    std::string_view stream, const cairn_event* events, size_t count,
    uint32_t* sizes, uint64_t* total, std::string_view key) const {
  const uint64_t limit = std::min<uint64_t>(
      kMaxBatchBytes, options_.segment_size - kSegmentHeaderSize - 8);
  uint64_t sum = 0;
  for (size_t i = 0; i < count; ++i) {
    if (events[i].type.size > 0xFFFF || events[i].tag_count > 0xFFFF) {
      return false;
    }
    const size_t n = RecordSize(stream, events[i]);
    sum += n;
    if (sum > limit) return false;
    sizes[i] = static_cast<uint32_t>(n);
  }
  if (!key.empty() && count != 0) {
    // The batch's first record holds its key (outside the loop, so appends
    // without one pay nothing per event).
    const size_t keyed = KeyedRecordSize(stream, events[0], key);
    sum += keyed - sizes[0];
    if (sum > limit) return false;
    sizes[0] = static_cast<uint32_t>(keyed);
  }
  *total = sum;
  return true;
}

absl::Status Log::BatchTooLarge(std::string_view stream,
                                const cairn_event* events, size_t count) const {
  const uint64_t limit = std::min<uint64_t>(
      kMaxBatchBytes, options_.segment_size - kSegmentHeaderSize - 8);
  uint64_t sum = 0;
  for (size_t i = 0; i < count; ++i) {
    if (events[i].type.size > 0xFFFF) {
      return absl::InvalidArgumentError(
          "append: event " + std::to_string(i) + " type is " +
          std::to_string(events[i].type.size) + " bytes; at most 65535");
    }
    if (events[i].tag_count > 0xFFFF) {
      return absl::InvalidArgumentError("append: event " + std::to_string(i) +
                                        " has more than 65535 tags");
    }
    sum += RecordSize(stream, events[i]);
    if (sum > limit) break;
  }
  return absl::ResourceExhaustedError(
      "append: the batch needs more than " + std::to_string(limit) +
      " bytes, the most one batch may take; split it or raise segment-size");
}

namespace {

// An append's expected revision does not hold: Aborted, nothing written.
absl::Status WrongExpected(std::string_view stream, const Expected& expected,
                           uint64_t head) {
  return absl::AbortedError("stream " + Quote(stream) + ": expected " +
                            expected.Text() + " but the head is " +
                            std::to_string(head));
}

}  // namespace

absl::Status Log::Append(std::string_view stream, Expected expected,
                         const cairn_event* events, size_t count,
                         cairn_append_result* result, Sealer* sealer,
                         std::string_view key) {
  if (stopping_.load(std::memory_order_relaxed)) {
    return absl::CancelledError("append: the log is closed");
  }
  // In flight for group-commit gathering until it returns, whichever way.
  struct InFlight {
    Log* log;
    explicit InFlight(Log* l) : log(l) {
      if (log != nullptr) {
        log->appends_in_flight_.fetch_add(1, std::memory_order_seq_cst);
      }
    }
    ~InFlight() {
      if (log != nullptr) log->LeaveAppend();
    }
  } in_flight(options_.fsync == FsyncMode::kAlways ? this : nullptr);
  if (expected.kind > CAIRN_EXPECT_EXACT) {
    return absl::InvalidArgumentError("append: unknown expected-revision kind " +
                                      std::to_string(expected.kind));
  }
  if (key.size() > CAIRN_MAX_IDEMPOTENCY_KEY) {
    return absl::InvalidArgumentError(
        "append: the idempotency key is " + std::to_string(key.size()) +
        " bytes; at most " + std::to_string(CAIRN_MAX_IDEMPOTENCY_KEY));
  }
  if (count == 0) key = {};
  if (!key.empty() && !options_.create) {
    // A read-only open left an older active segment as it was: a key
    // needs version 3 (record.h).
    absl::Status s = MoveActiveSegmentToCurrentFormat();
    if (!s.ok()) return s;
  }
  // Sizes first: nothing is claimed until the batch is known to fit (with
  // a sealer the payload sizes are known only once sealed, under the claim).
  uint32_t small[64];
  std::unique_ptr<uint32_t[]> large;
  uint32_t* sizes = small;
  if (count > 64) {
    large.reset(new uint32_t[count]);
    sizes = large.get();
  }
  uint64_t total = 0;
  if (sealer == nullptr &&
      !MeasureBatch(stream, events, count, sizes, &total, key)) {
    return BatchTooLarge(stream, events, count);
  }

  bool created = false;
  StreamState* state = count == 0 ? streams_.Find(stream)
                                  : streams_.FindOrCreate(stream, &created);
  if (count == 0) {
    uint64_t head = state == nullptr ? 0 : state->head();
    if (!expected.Holds(head)) {
      return WrongExpected(stream, expected, head);
    }
    // Empty ranges (cairn_storage_api.append): next .. current head.
    const uint64_t at = watermark_.load(std::memory_order_acquire);
    *result = cairn_append_result{
        sizeof(cairn_append_result), head + 1, head, at + 1, at, 0, 0};
    return absl::OkStatus();
  }

  // Claim the stream: a CAS on its head word that checks the expected
  // revision. Exactly one of two racing appenders wins; the loser re-reads
  // the new head and is checked against it. With a key the check waits
  // for the claim: a repeat answers whatever the head is now.
  uint64_t word = state->head_and_claim.load(std::memory_order_acquire);
  int spins = 0;
  for (;;) {
    if ((word & StreamState::kClaimed) != 0) {
      if (++spins > 64) std::this_thread::yield();
      else CpuRelax();
      word = state->head_and_claim.load(std::memory_order_acquire);
      continue;
    }
    uint64_t head = word >> 1;
    if (key.empty() && !expected.Holds(head)) {
      return WrongExpected(stream, expected, head);
    }
    if (state->head_and_claim.compare_exchange_weak(
            word, word | StreamState::kClaimed, std::memory_order_acquire,
            std::memory_order_acquire)) {
      break;
    }
  }
  const uint64_t head = word >> 1;
  if (!key.empty()) {
    absl::Status loaded = absl::OkStatus();
    if (state->keys_loaded.load(std::memory_order_acquire) !=
        keys_generation_.load(std::memory_order_acquire)) {
      loaded = LoadOlderKeys(*state, head);
    }
    std::optional<IdempotencyKeys::Batch> found;
    if (loaded.ok()) found = keys_.Find(stream, key);
    if (!loaded.ok() || found.has_value() || !expected.Holds(head)) {
      state->head_and_claim.store(word, std::memory_order_release);
    }
    if (!loaded.ok()) return loaded;
    if (found.has_value()) {
      // A repeat: answered once its batch is as visible and durable as this
      // append's would be (its appender may still be writing it).
      const IdempotencyKeys::Batch& batch = *found;
      absl::Status s = FinishAppend(batch.last_position);
      if (!s.ok()) return s;
      *result = cairn_append_result{
          sizeof(cairn_append_result),  batch.first_revision,
          batch.last_revision,          batch.first_position,
          batch.last_position,          1,
          EpochAt(batch.first_position)};
      repeated_appends_.fetch_add(1, std::memory_order_relaxed);
      return absl::OkStatus();
    }
    if (!expected.Holds(head)) {
      return WrongExpected(stream, expected, head);
    }
  }
  if (sealer != nullptr) {
    // The revisions are fixed by the claim: seal, then measure what is
    // stored. On failure the claim is given back unchanged.
    absl::Status sealed = sealer->Seal(head + 1, &events);
    if (sealed.ok() &&
        !MeasureBatch(stream, events, count, sizes, &total, key)) {
      sealed = BatchTooLarge(stream, events, count);
    }
    if (!sealed.ok()) {
      state->head_and_claim.store(word, std::memory_order_release);
      return sealed;
    }
  }
  auto reservation =
      Reserve(static_cast<uint32_t>(count), static_cast<uint32_t>(total / 8), 0);
  if (!reservation.ok()) {
    state->head_and_claim.store(word, std::memory_order_release);
    return reservation.status();
  }
  uint64_t first = reservation->first_position;
  uint64_t last = first + count - 1;
  // The key is known before the claim ends, so a retry that claims next
  // finds it.
  if (!key.empty()) {
    keys_.Add(stream, key,
              IdempotencyKeys::Batch{head + 1, head + count, first, last});
  }
  // Position order within the stream follows revision order because the
  // reservation happened under the claim.
  state->head_and_claim.store((head + count) << 1, std::memory_order_release);
  WriteAndPublish(*reservation, stream, events, count, sizes, head + 1, state,
                  key);
  absl::Status s = FinishAppend(last);
  if (!s.ok()) return s;
  *result = cairn_append_result{
      sizeof(cairn_append_result), head + 1, head + count, first, last, 0, 0};
  return absl::OkStatus();
}

void Log::ResetKeys() {
  keys_.Clear();
  keys_horizon_.store(cursor_location_.load(std::memory_order_acquire),
                      std::memory_order_release);
  keys_generation_.fetch_add(1, std::memory_order_acq_rel);
}

absl::Status Log::LoadOlderKeys(StreamState& stream, uint64_t head) {
  ReadGuard guard(this);
  SegmentRef pin(this);
  const uint64_t generation = keys_generation_.load(std::memory_order_acquire);
  const uint64_t horizon = keys_horizon_.load(std::memory_order_acquire);
  key_loads_.fetch_add(1, std::memory_order_relaxed);
  // Locations grow with positions, so the stream's revisions below the
  // horizon are a prefix: find its last one (revisions written since, or
  // still being written, are at or past the horizon, or 0).
  auto below = [&](uint64_t revision) {
    const uint64_t loc = stream.revisions.Get(revision - 1);
    return loc != 0 && loc < horizon;
  };
  uint64_t lo = stream.trimmed_to.load(std::memory_order_acquire);
  uint64_t hi = head + 1;  // lo: below (or trimmed); hi: not below
  while (hi - lo > 1) {
    const uint64_t mid = lo + (hi - lo) / 2;
    if (below(mid)) {
      lo = mid;
    } else {
      hi = mid;
    }
  }
  // Then back through its newest batches there, each record published
  // before the open or the truncation that set the horizon.
  const uint8_t* rec = nullptr;
  RecordHeader h;
  auto read = [&](uint64_t revision, bool* held) -> absl::Status {
    *held = false;
    if (revision <= stream.trimmed_to.load(std::memory_order_acquire)) {
      return absl::OkStatus();  // retention took it
    }
    const uint64_t loc = stream.revisions.Get(revision - 1);
    Segment* seg = loc == 0 ? nullptr : pin.Switch(LocationSegment(loc));
    if (seg == nullptr) return absl::OkStatus();  // retention took it
    absl::Status st = ReadRecord(seg, LocationOffset(loc), &rec, &h);
    if (absl::IsUnavailable(st)) {
      return DamageAt(*seg, LocationOffset(loc),
                      "no record where stream " + Quote(stream.name) +
                          " revision " + std::to_string(revision) +
                          " is indexed, though the log is written past it "
                          "(a zeroed length)");
    }
    *held = st.ok();
    return st;
  };
  uint64_t revision = lo;
  for (size_t batches = 0; revision > 0 && batches < CAIRN_IDEMPOTENCY_WINDOW;
       ++batches) {
    bool held = false;
    absl::Status st = read(revision, &held);
    if (!st.ok()) return st;
    if (!held) break;
    if (h.batch_index >= revision) {
      return absl::DataLossError("stream " + Quote(stream.name) + " revision " +
                                 std::to_string(revision) + " is event " +
                                 std::to_string(h.batch_index) +
                                 " of its batch, past the stream's "
                                 "first revision");
    }
    const uint64_t first = revision - h.batch_index;
    if (first != revision) {
      st = read(first, &held);
      if (!st.ok()) return st;
      if (!held) break;
    }
    const std::string_view key = h.Key(rec);
    if (!key.empty()) {
      keys_.AddOlder(
          stream.name, key,
          IdempotencyKeys::Batch{first, first + h.batch_size - 1, h.position,
                                 h.position + h.batch_size - 1});
    }
    revision = first - 1;
  }
  stream.keys_loaded.store(generation, std::memory_order_release);
  return absl::OkStatus();
}

absl::Status Log::ApplyEvents(const cairn_event* events, size_t count,
                              std::string_view key) {
  if (stopping_.load(std::memory_order_relaxed)) {
    return absl::CancelledError("apply: the log is closed");
  }
  if (count == 0) return absl::OkStatus();
  // ApplyLog, its only caller, has refused a key over 64 bytes.
  if (!key.empty() && !options_.create) {
    absl::Status s = MoveActiveSegmentToCurrentFormat();  // as in Append
    if (!s.ok()) return s;
  }
  std::lock_guard<std::mutex> apply_lock(apply_mu_);
  std::unique_ptr<uint32_t[]> sizes(new uint32_t[count]);
  uint64_t total = 0;
  // The revision each stream must continue from, claimed below.
  std::map<std::string_view, std::pair<StreamState*, uint64_t>> touched;
  for (size_t i = 0; i < count; ++i) {
    const cairn_event& e = events[i];
    std::string_view name(reinterpret_cast<const char*>(e.stream.data),
                          e.stream.size);
    if (name.empty() || name.size() > 255 ||
        name.find('\0') != std::string_view::npos) {
      return absl::InvalidArgumentError("apply: event " + std::to_string(i) +
                                        " has an invalid stream name");
    }
    if (i > 0 && e.position != events[i - 1].position + 1) {
      return absl::FailedPreconditionError(
          "apply: positions are not contiguous at event " + std::to_string(i) +
          " (" + std::to_string(events[i - 1].position) + " then " +
          std::to_string(e.position) + ")");
    }
    size_t n = i == 0 && !key.empty() ? KeyedRecordSize(name, e, key)
                                      : RecordSize(name, e);
    total += n;
    if (total > kMaxBatchBytes ||
        total > options_.segment_size - kSegmentHeaderSize - 8) {
      return absl::ResourceExhaustedError("apply: batch too large");
    }
    sizes[i] = static_cast<uint32_t>(n);
    auto it = touched.find(name);
    if (it == touched.end()) {
      bool created = false;
      StreamState* s = streams_.FindOrCreate(name, &created);
      it = touched.emplace(name, std::make_pair(s, s->head())).first;
    }
    if (e.revision != it->second.second + 1) {
      return absl::FailedPreconditionError(
          "apply: stream " + Quote(name) + " event at position " +
          std::to_string(e.position) + " has revision " +
          std::to_string(e.revision) + " but the stream's head is " +
          std::to_string(it->second.second));
    }
    it->second.second = e.revision;
  }
  // Claim every stream (apply calls are serialised, appends hold one claim at
  // a time, so this cannot deadlock), re-checking the heads.
  std::vector<std::pair<StreamState*, uint64_t>> claimed;
  auto release = [&](bool advance) {
    for (auto& [s, old_word] : claimed) {
      uint64_t word = old_word;
      if (advance) {
        for (auto& [n, st] : touched) {
          if (st.first == s) word = st.second << 1;
        }
      }
      s->head_and_claim.store(word, std::memory_order_release);
    }
  };
  for (auto& [name, st] : touched) {
    StreamState* s = st.first;
    uint64_t word = s->head_and_claim.load(std::memory_order_acquire);
    for (;;) {
      if ((word & StreamState::kClaimed) != 0) {
        std::this_thread::yield();
        word = s->head_and_claim.load(std::memory_order_acquire);
        continue;
      }
      if (s->head_and_claim.compare_exchange_weak(
              word, word | StreamState::kClaimed, std::memory_order_acquire)) {
        break;
      }
    }
    claimed.emplace_back(s, word);
  }
  // Re-check the heads now that they cannot move.
  std::map<StreamState*, uint64_t> head_now;
  for (auto& [s, word] : claimed) head_now[s] = word >> 1;
  for (size_t i = 0; i < count; ++i) {
    std::string_view name(reinterpret_cast<const char*>(events[i].stream.data),
                          events[i].stream.size);
    StreamState* s = touched[name].first;
    if (events[i].revision != head_now[s] + 1) {
      release(false);
      return absl::FailedPreconditionError(
          "apply: stream " + Quote(name) + " moved on concurrently");
    }
    head_now[s] = events[i].revision;
  }
  auto reservation = Reserve(static_cast<uint32_t>(count),
                             static_cast<uint32_t>(total / 8),
                             events[0].position);
  if (!reservation.ok()) {
    release(false);
    return reservation.status();
  }
  // Held like an append's, so a replica promoted later answers its retry.
  if (!key.empty()) {
    const uint64_t first = reservation->first_position;
    keys_.Add(
        std::string_view(reinterpret_cast<const char*>(events[0].stream.data),
                         events[0].stream.size),
        key,
        IdempotencyKeys::Batch{events[0].revision,
                               events[0].revision + count - 1, first,
                               first + count - 1});
  }
  release(true);
  WriteAndPublish(*reservation, std::string_view(), events, count, sizes.get(),
                  0, nullptr, key);
  return FinishAppend(reservation->first_position + count - 1,
                      /*durable=*/false);
}

// ---- Committer --------------------------------------------------------------

void Log::TryAdvance() {
  for (;;) {
    bool expected = false;
    if (!advancing_.compare_exchange_strong(expected, true,
                                            std::memory_order_seq_cst)) {
      return;  // the holder re-checks after it lets go
    }
    // Taken before the walk: a batch published after this exchange sets
    // the flag again, so the check below sees it. The exchange reads the
    // publisher's store, so the walk sees what it published.
    advance_requested_.exchange(false, std::memory_order_seq_cst);
    bool progressed = AdvanceLocked();
    advancing_.store(false, std::memory_order_seq_cst);
    if (progressed) {
      // commit = durable without fsync = always: committed is written, so
      // control records the committer queued take effect now.
      if (!options_.commit_host && options_.fsync != FsyncMode::kAlways &&
          pending_controls_any_.load(std::memory_order_acquire)) {
        ApplyCommittedControls();
      }
      watermark_changed_.WakeAll();
      if (commit_waiters_.load(std::memory_order_seq_cst) > 0) {
        std::lock_guard<std::mutex> lk(commit_mu_);
        commit_cv_.notify_all();
      }
    }
    // A batch published while we held the flag may have found it taken:
    // its publisher set advance_requested_ before trying the flag (the
    // Dekker pattern, seq-cst on both sides), so it is seen here.
    if (!advance_requested_.load(std::memory_order_seq_cst)) return;
  }
}

// Inlined into its one caller, the committer's walk: called out of line it
// cost about 20 instructions per batch in passing its three results
// through memory.
[[gnu::always_inline]] inline bool Log::BatchComplete(
    const Segment* seg, uint32_t offset, uint64_t position, uint32_t* end,
    uint32_t* count, uint64_t* hint) const {
  // The first record is published (its length word read with acquire), so
  // its header and the hint its appender stored before it are visible.
  std::memcpy(count, seg->data + offset + 56, 4);
  *hint = batch_hints_[position % kBatchHints].load(std::memory_order_acquire);
  const uint32_t last = static_cast<uint32_t>(*hint >> 1) * 8;
  if ((*hint >> 32) == static_cast<uint32_t>(position) && (*hint & 1) != 0 &&
      last >= offset && last < seg->size) {
    // Records are published in order: the last one's length word being set
    // means every one before it is too.
    uint32_t l = LoadLength(seg->data + last);
    if (l == 0) return false;
    *end = last + l;
    return true;
  }
  *hint = 0;
  uint32_t at = offset;
  for (uint32_t i = 0; i < *count; ++i) {
    uint32_t l = LoadLength(seg->data + at);
    if (l == 0) return false;
    at += l;
  }
  *end = at;
  return true;
}

void Log::IndexRecord(Segment* segment, uint32_t offset, const uint8_t* record,
                      uint64_t revision, uint64_t position,
                      std::string_view name, bool recovering,
                      StreamState* known) {
  uint64_t loc = MakeLocation(segment->number, offset);
  uint16_t kind;
  std::memcpy(&kind, record + 12, 2);
  if (kind != kKindEvent) {  // a control record: no stream or tag entry
    ApplyControl(segment, offset, record);
    if ((position - 1) % kSparseEvery == 0) {
      sparse_.Set((position - 1) / kSparseEvery, loc);
    }
    return;
  }
  StreamState* s;
  if (recovering) {
    bool created = false;
    s = known != nullptr ? known : streams_.FindOrCreate(name, &created);
    s->revisions.Set(revision - 1, loc);
    s->head_and_claim.store(revision << 1, std::memory_order_relaxed);
    if (created) {
      uint64_t ordinal = stream_count_.load(std::memory_order_relaxed) + 1;
      s->ordinal.store(ordinal, std::memory_order_relaxed);
      ordinals_.Set(ordinal - 1, reinterpret_cast<uint64_t>(s));
      stream_count_.store(ordinal, std::memory_order_release);
    }
  } else if (revision == 1) {
    // Apply and Append both start a stream at revision 1, so its first
    // record is where it gets its ordinal, in commit order.
    s = streams_.Find(name);
    if (s != nullptr && s->ordinal.load(std::memory_order_relaxed) == 0) {
      uint64_t ordinal = stream_count_.load(std::memory_order_relaxed) + 1;
      s->ordinal.store(ordinal, std::memory_order_relaxed);
      ordinals_.Set(ordinal - 1, reinterpret_cast<uint64_t>(s));
      stream_count_.store(ordinal, std::memory_order_release);
    }
  }
  RecordHeader h;
  std::memcpy(&h.tag_count, record + 14, 2);
  if (h.tag_count != 0) {
    std::memcpy(&h.writer_len, record + 40, 4);
    std::memcpy(&h.metadata_len, record + 44, 4);
    std::memcpy(&h.data_len, record + 48, 4);
    std::memcpy(&h.type_len, record + 52, 2);
    h.stream_len = record[54];
    ForEachTag(record, h, [&](std::string_view tag) {
      bool created = false;
      TagState* t = tags_.FindOrCreate(tag, &created);
      uint64_t n = t->count.load(std::memory_order_relaxed);
      // A tag repeated on one event is indexed once.
      if (n > 0 && t->locations.Get(n - 1) == loc) return;
      t->locations.Set(n, loc);
      t->count.store(n + 1, std::memory_order_release);
    });
  }
  if ((position - 1) % kSparseEvery == 0) {
    sparse_.Set((position - 1) / kSparseEvery, loc);
  }
}

bool Log::AdvanceLocked() {
  Segment* seg = cursor_segment_;
  uint32_t off = cursor_offset_;
  uint64_t next = cursor_next_position_;
  bool progressed = false;
  for (;;) {
    uint32_t len = LoadLength(seg->data + off);
    if (len == 0) break;
    if (len == kEndOfSegment) {
      Segment* following = SegmentAt(seg->number + 1);
      if (following == nullptr) break;
      seg = following;
      off = kSegmentHeaderSize;
      committed_segment_.store(seg->number, std::memory_order_release);
      {
        std::lock_guard<std::mutex> lk(flush_mu_);
        flush_cv_.notify_all();  // the flusher seals the finished segment
      }
      continue;
    }
    uint32_t batch_size, end;
    uint64_t hint;
    if (!BatchComplete(seg, off, next, &end, &batch_size, &hint)) break;
    if (hint != 0) {
      // Its appender indexed it; the slot is free for a later batch.
      batch_hints_[next % kBatchHints].compare_exchange_strong(
          hint, 0, std::memory_order_relaxed);
    } else {
      uint32_t at = off;
      for (uint32_t i = 0; i < batch_size; ++i) {
        const uint8_t* rec = seg->data + at;
        uint32_t l = LoadLength(rec);
        uint64_t revision;
        std::memcpy(&revision, rec + 24, 8);
        std::string_view name(reinterpret_cast<const char*>(rec + 64), rec[54]);
        IndexRecord(seg, at, rec, revision, next + i, name, false);
        at += l;
      }
    }
    next += batch_size;
    off = end;
    watermark_.store(next - 1, std::memory_order_release);
    progressed = true;
  }
  cursor_segment_ = seg;
  cursor_offset_ = off;
  cursor_next_position_ = next;
  cursor_location_.store(MakeLocation(seg->number, off),
                         std::memory_order_seq_cst);
  return progressed;
}

// ---- Durability -------------------------------------------------------------

absl::Status Log::TimedSync(Segment* seg, size_t offset, size_t length) {
  auto start = std::chrono::steady_clock::now();
  absl::Status s = seg->file->Sync(offset, length);
  fsync_nanos_.fetch_add(
      static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                std::chrono::steady_clock::now() - start)
                                .count()),
      std::memory_order_relaxed);
  fsyncs_.fetch_add(1, std::memory_order_relaxed);
  return s;
}

absl::Status Log::SyncCommitted(uint64_t* synced_position) {
  uint64_t w = watermark_.load(std::memory_order_acquire);
  absl::Status s = SyncSegments();
  if (s.ok()) *synced_position = w;
  return s;
}

absl::Status Log::SyncSegments(bool include_active) {
  uint64_t through = committed_segment_.load(std::memory_order_acquire);
  uint64_t last = include_active ? through : through - 1;
  for (uint64_t n = synced_segment_; n <= last; ++n) {
    Segment* seg = SegmentAt(n);
    if (seg == nullptr) continue;
    // A finished segment (every record committed) is stored to only by the
    // sealing below: unmap its pages first so writing them back does not
    // interrupt the appenders' CPUs once per page.
    if (n < through && !seg->sealed.load()) seg->file->DropPageTables();
    absl::Status s = TimedSync(seg, 0, seg->size);
    if (!s.ok()) return s;
    if (n < through && !seg->sealed.load()) {
      // Every record of this segment is committed and now durable: mark it
      // sealed, so recovery treats damage in it as corruption, not a torn
      // tail. The next segment's header goes to disk first: recovery takes a
      // sealed segment as proof that the next one is in use.
      if (Segment* next = SegmentAt(n + 1)) {
        s = TimedSync(next, 0, kSegmentHeaderSize);
        if (!s.ok()) return s;
      }
      {
        std::lock_guard<std::mutex> lk(header_mu_);
        SegmentHeader h;
        h.DecodeFrom(seg->data);
        h.flags |= kSegmentSealed;
        h.EncodeTo(seg->data);
      }
      s = TimedSync(seg, 0, kSegmentHeaderSize);
      if (!s.ok()) return s;
      seg->sealed.store(true);
      WakeMaintenance();  // a checkpoint and retention may now cover it
    }
  }
  // Without the active segment synced, it still holds records committed
  // and not synced: the next pass starts from it.
  synced_segment_ = include_active ? through : last + 1;
  return absl::OkStatus();
}

void Log::FailFlusher(const absl::Status& s) {
  {
    std::lock_guard<std::mutex> flk(failed_mu_);
    failure_ = absl::Status(s.code(),
                            std::string(s.message()) +
                                "; the log refuses appends until reopened");
  }
  failed_.store(true, std::memory_order_seq_cst);
  for (FutexEvent& e : durable_changed_) e.WakeAll();
  rotation_generation_.fetch_add(1);
  rotation_generation_.notify_all();
}

// The longest a flusher waits for appenders in flight to join a sync
// (gathering, Log::appends_in_flight_), whatever the last sync took.
constexpr uint64_t kMaxGatherNanos = 1'000'000;

void Log::FlusherLoop() {
  uint64_t sync_number = sync_target_.load() & 1;
  uint64_t last_sync_nanos = 0;  // the gathering budget (0: none yet)
  bool asked_for_marker = false;
  for (;;) {
    bool seal_only;
    {
      std::unique_lock<std::mutex> lk(flush_mu_);
      auto work = [&] {
        return stopping_.load() ||
               sync_wanted_ > durable_.load(std::memory_order_relaxed) ||
               committed_segment_.load() > synced_segment_;
      };
      if (options_.fsync == FsyncMode::kInterval) {
        flush_cv_.wait_for(lk,
                           std::chrono::milliseconds(options_.fsync_interval_ms),
                           work);
      } else {
        flush_cv_.wait(lk, work);
      }
      if (stopping_.load()) return;
      // With fsync=never a pass that only a finished segment asked for
      // seals it and leaves the active segment alone: syncing that would
      // write back (and write-protect, one TLB flush per page) the pages
      // the appenders are storing to, and nobody waits for it.
      seal_only = options_.fsync == FsyncMode::kNever &&
                  sync_wanted_ <= durable_.load(std::memory_order_relaxed);
      auto all_waiting = [&] {
        return stopping_.load() || AllAppendsWaiting();
      };
      const uint64_t budget = std::min(last_sync_nanos, kMaxGatherNanos);
      if (options_.fsync == FsyncMode::kAlways && budget > 0 &&
          sync_wanted_ > durable_.load(std::memory_order_relaxed) &&
          !all_waiting()) {
        gathering_.store(true, std::memory_order_seq_cst);
        flush_cv_.wait_for(lk, std::chrono::nanoseconds(budget), all_waiting);
        gathering_.store(false, std::memory_order_seq_cst);
      }
    }
    // A truncation lowers the watermarks between passes, never inside one.
    std::lock_guard<std::mutex> pass(sync_pass_mu_);
    if (seal_only) {
      absl::Status s = SyncSegments(/*include_active=*/false);
      if (!s.ok()) {
        FailFlusher(s);
        return;
      }
      continue;
    }
    // Announce what this sync covers before starting it, so a waiter can
    // tell whether it must wait for this sync or the next (WaitDurable).
    uint64_t synced = watermark_.load(std::memory_order_seq_cst);
    ++sync_number;
    sync_target_.store((synced << 1) | (sync_number & 1),
                       std::memory_order_seq_cst);
    // Only this thread syncs while it runs, so the fsync time counter's
    // growth is this pass's sync time.
    const uint64_t nanos_before = fsync_nanos_.load(std::memory_order_relaxed);
    absl::Status s = SyncSegments();
    if (!s.ok()) {
      FailFlusher(s);
      return;
    }
    last_sync_nanos =
        fsync_nanos_.load(std::memory_order_relaxed) - nanos_before;
    if (synced > durable_.load(std::memory_order_relaxed)) {
      durable_.store(synced, std::memory_order_seq_cst);
      // The first records synced: the background thread records them in
      // the marker (WriteCheckpoint), before any segment is sealed.
      if (!asked_for_marker && !marker_proves_records_.load()) {
        asked_for_marker = true;
        WakeMaintenance();
      }
      // Recovery's proof of what was durable: written only after the sync
      // returned, so it never claims more than is on disk; the next sync of
      // the active segment carries it there.
      WriteDurableMark(synced);
      // commit = durable with fsync = always: committed is durable_.
      if (options_.fsync == FsyncMode::kAlways && !options_.commit_host) {
        ApplyCommittedControls();
        WakeCommitWaiters();
      }
    }
    SyncCommittedFile();  // commit = host: its copy, if it moved
    durable_changed_[sync_number & 1].WakeAll();
  }
}

void Log::LeaveAppend() {
  appends_in_flight_.fetch_sub(1, std::memory_order_seq_cst);
  // One that leaves without waiting (a conflict, an error) may be the last
  // the gathering flusher waits for.
  if (gathering_.load(std::memory_order_seq_cst) && AllAppendsWaiting()) {
    std::lock_guard<std::mutex> lk(flush_mu_);
    flush_cv_.notify_one();
  }
}

absl::Status Log::WaitDurable(uint64_t position) {
  if (durable_.load(std::memory_order_acquire) >= position) {
    return absl::OkStatus();
  }
  sync_waiters_.fetch_add(1, std::memory_order_seq_cst);
  {
    std::lock_guard<std::mutex> lk(flush_mu_);
    if (sync_wanted_ < position) sync_wanted_ = position;
    // A gathering flusher is woken only by the waiter that completes the
    // set (each wake-up is a context switch on a busy CPU).
    if (!gathering_.load(std::memory_order_seq_cst) || AllAppendsWaiting()) {
      flush_cv_.notify_one();
    }
  }
  // Sleep where the sync that will cover `position` wakes: the one in
  // progress if it covers it, else the next. Syncs alternate between two
  // events, so a sync wakes only the appenders it made durable, not the
  // ones that committed while it ran. If the sync read as "next" turns out
  // to have started before this append committed (it announces itself
  // after reading the watermark), its end finds the announcement changed
  // and the waiter picks again.
  for (;;) {
    uint64_t announced = sync_target_.load(std::memory_order_seq_cst);
    bool covered = (announced >> 1) >= position;
    uint64_t slot = (announced ^ (covered ? 0 : 1)) & 1;
    bool done = false;
    durable_changed_[slot].WaitUntil([&] {
      done = durable_.load(std::memory_order_seq_cst) >= position ||
             failed_.load(std::memory_order_seq_cst) || stopping_.load();
      return done ||
             sync_target_.load(std::memory_order_seq_cst) != announced;
    });
    if (done) break;
  }
  sync_waiters_.fetch_sub(1, std::memory_order_seq_cst);
  if (durable_.load(std::memory_order_acquire) >= position) {
    return absl::OkStatus();
  }
  if (failed_.load(std::memory_order_acquire)) return Failed();
  return absl::CancelledError("the log closed before the append was durable");
}

absl::Status Log::Flush() {
  return WaitDurable(watermark_.load(std::memory_order_acquire));
}

// ---- Reads ------------------------------------------------------------------

Segment* Log::SegmentRef::Switch(uint64_t number) {
  if (pinned_ != nullptr && pinned_->number == number) return pinned_;
  // Pin the new segment before letting go of the old one: retention removes
  // segments oldest first and waits for pins, so a reader walking forward
  // never finds its next segment removed under it.
  Segment* seg = log_->SegmentAt(number);
  if (seg != nullptr) {
    seg->pins.fetch_add(1, std::memory_order_seq_cst);
    if (seg->retired.load(std::memory_order_seq_cst)) {
      seg->pins.fetch_sub(1, std::memory_order_release);
      seg = nullptr;
    }
  }
  Release();
  pinned_ = seg;
  return seg;
}

void Log::SegmentRef::Release() {
  if (pinned_ != nullptr) {
    pinned_->pins.fetch_sub(1, std::memory_order_release);
    pinned_ = nullptr;
  }
}

absl::Status Log::ReadRecord(const Segment* seg, uint32_t off,
                             const uint8_t** record,
                             RecordHeader* header) const {
  const uint8_t* rec = seg->data + off;
  RecordCheck c = CheckRecord(rec, seg->size - 8 - off, header);
  if (c == RecordCheck::kOk) {
    *record = rec;
    return absl::OkStatus();
  }
  if (c == RecordCheck::kEmpty) {
    return absl::UnavailableError("not yet written");
  }
  std::string what = c == RecordCheck::kBadBody
                         ? "fails its body checksum (stream " +
                               Quote(header->StreamName(rec)) + " revision " +
                               std::to_string(header->revision) +
                               ", position " +
                               std::to_string(header->position) + ")"
                         : "has a damaged header";
  return absl::DataLossError("segment " + seg->name() + " offset " +
                             std::to_string(off) + ": record " + what +
                             "; run verify, restore the segment from a backup "
                             "or a replica");
}

absl::Status Log::ReadStream(std::string_view stream, uint64_t from,
                             uint64_t to, uint64_t max_count, EventFn fn) {
  StreamState* s = streams_.Find(stream);
  if (s == nullptr || max_count == 0) return absl::OkStatus();
  ReadGuard guard(this);
  uint64_t watermark = Committed();
  // Every record before the committer's cursor was published when it was
  // loaded, here, before any record is read. (Loaded after a record read as
  // unpublished, it may have moved past that record in between: the record
  // was being written, not damaged.)
  const uint64_t published_below =
      cursor_location_.load(std::memory_order_acquire);
  uint64_t head = s->head();
  uint64_t start = std::max<uint64_t>(
      {from, 1, s->deleted_to.load(std::memory_order_acquire) + 1,
       s->trimmed_to.load(std::memory_order_acquire) + 1});
  uint64_t stop = std::min(to, head);
  uint64_t sent = 0;
  cairn_bytes tags[256];
  std::vector<cairn_bytes> many_tags;
  SegmentRef pin(this);
  RecordHeader h;  // ReadRecord sets every field a checked record uses
  for (uint64_t r = start; r <= stop && sent < max_count; ++r) {
    uint64_t loc = s->revisions.Get(r - 1);
    Segment* seg = loc == 0 ? nullptr : pin.Switch(LocationSegment(loc));
    if (seg == nullptr) {
      // Retention raises trimmed_to before it removes a segment, so a
      // revision it took meanwhile is skipped; otherwise the revision is
      // not written yet and the read ends here.
      uint64_t trimmed = s->trimmed_to.load(std::memory_order_acquire);
      if (r <= trimmed) {
        r = trimmed;
        continue;
      }
      if (loc == 0) break;
      return absl::NotFoundError("segment " +
                                 SegmentFileName(LocationSegment(loc)) +
                                 " is no longer present");
    }
    const uint8_t* rec;
    absl::Status st = ReadRecord(seg, LocationOffset(loc), &rec, &h);
    if (absl::IsUnavailable(st)) {
      // Not published yet, unless it was below the cursor when the read
      // began: then an empty record is damage (a zeroed length in a segment
      // the open did not rescan).
      if (loc < published_below) {
        return DamageAt(*seg, LocationOffset(loc),
                        "no record where stream " + Quote(stream) +
                            " revision " + std::to_string(r) +
                            " is indexed, though the log is written past it "
                            "(a zeroed length)");
      }
      break;
    }
    if (!st.ok()) return st;
    if (h.position > watermark) break;
    cairn_event e;
    cairn_bytes* tag_out = tags;
    if (h.tag_count > 256) {
      many_tags.resize(h.tag_count);
      tag_out = many_tags.data();
    }
    DecodeRecord(rec, h, &e, tag_out);
    ++sent;
    if (!fn(e)) break;
  }
  return absl::OkStatus();
}

absl::Status Log::ReadTag(std::string_view tag, uint64_t after_position,
                          uint64_t max_count, EventFn fn) {
  TagState* t = tags_.Find(tag);
  if (t == nullptr || max_count == 0) return absl::OkStatus();
  ReadGuard guard(this);
  uint64_t watermark = Committed();
  uint64_t n = t->count.load(std::memory_order_acquire);
  SegmentRef pin(this);
  // Binary search the first entry with position > after_position; each probe
  // reads the position from the record header, checked first: a damaged
  // position would send the search past entries, and the read would return
  // fewer with no error. Entries retention removed (a prefix) count as
  // position 0.
  absl::Status probe = absl::OkStatus();
  auto position_of = [&](uint64_t i) -> uint64_t {
    uint64_t loc = t->locations.Get(i);
    Segment* seg = loc == 0 ? nullptr : pin.Switch(LocationSegment(loc));
    if (seg == nullptr) return 0;
    const uint8_t* rec;
    RecordHeader h;
    absl::Status st = ReadRecord(seg, LocationOffset(loc), &rec, &h);
    // Not published yet: past the watermark, so past after_position (were
    // it damage instead, the loop below meets it and fails).
    if (absl::IsUnavailable(st)) return UINT64_MAX;
    if (!st.ok() && probe.ok()) probe = st;
    return st.ok() ? h.position : 0;
  };
  uint64_t lo = t->first.load(std::memory_order_acquire), hi = std::max(lo, n);
  while (lo < hi && probe.ok()) {
    uint64_t mid = lo + (hi - lo) / 2;
    if (position_of(mid) <= after_position) lo = mid + 1;
    else hi = mid;
  }
  if (!probe.ok()) return probe;
  uint64_t sent = 0;
  std::vector<cairn_bytes> tag_buf;
  RecordHeader h;  // ReadRecord sets every field a checked record uses
  for (uint64_t i = lo; i < n && sent < max_count; ++i) {
    uint64_t loc = t->locations.Get(i);
    Segment* seg = loc == 0 ? nullptr : pin.Switch(LocationSegment(loc));
    if (seg == nullptr) continue;  // removed by retention meanwhile
    const uint8_t* rec;
    absl::Status st = ReadRecord(seg, LocationOffset(loc), &rec, &h);
    if (!st.ok()) return st;
    if (h.position > watermark) break;
    if (any_deletes_.load(std::memory_order_acquire)) {
      StreamState* s = streams_.Find(h.StreamName(rec));
      if (s != nullptr &&
          h.revision <= s->deleted_to.load(std::memory_order_acquire)) {
        continue;
      }
    }
    if (h.tag_count > tag_buf.size()) tag_buf.resize(h.tag_count);
    cairn_event e;
    DecodeRecord(rec, h, &e, tag_buf.data());
    ++sent;
    if (!fn(e)) break;
  }
  return absl::OkStatus();
}

absl::Status Log::ReadAll(uint64_t after_position, uint64_t max_count,
                          bool include_deleted, EventFn fn) {
  ReadGuard guard(this);
  uint64_t watermark = Committed();
  if (after_position >= watermark || max_count == 0) return absl::OkStatus();
  uint64_t want = after_position + 1;
  SegmentRef pin(this);
  Segment* seg = nullptr;
  uint32_t off = 0;
  absl::Status walk = StartWalk(&want, &pin, &seg, &off, "read_all");
  if (!walk.ok()) return walk;
  uint64_t sent = 0;
  StreamState* last_stream = nullptr;
  std::vector<cairn_bytes> tag_buf;
  bool check_deletes =
      !include_deleted && any_deletes_.load(std::memory_order_acquire);
  // Where the walk is, so that one that finds no record before the
  // watermark (a zeroed length or end marker in a segment the open did not
  // rescan, a missing next segment) fails naming the place instead of
  // returning less (readers hold the watermark: records below it are
  // published, and truncation waits for this ReadGuard).
  uint64_t reached = want - 1;  // the last position walked from want on
  WalkEnd end;
  RecordHeader h;  // CheckRecord sets every field a checked record uses
  while (sent < max_count) {
    if (!NextRecord(&pin, &seg, &off, &end)) break;
    const uint8_t* rec = seg->data + off;
    RecordCheck c = CheckRecord(rec, seg->size - 8 - off, &h);
    if (c != RecordCheck::kOk) [[unlikely]] {
      if (c == RecordCheck::kBadBody && h.position < want) {
        off += h.length;  // skipping it: its damage is not this read's concern
        continue;
      }
      absl::Status st = ReadRecord(seg, off, &rec, &h);
      if (absl::IsUnavailable(st)) {
        end.At(seg, off);
        break;
      }
      return st;
    }
    if (h.position > watermark) break;
    // Every record from `want` on follows the one before; `reached` stays
    // at want - 1 while the walk steps over the records before `want` (it
    // starts at a sparse-index entry up to kSparseEvery before), so the
    // first one returned must be `want` itself.
    if (h.position != reached + 1) [[unlikely]] {
      if (h.position < want) {
        off += h.length;
        continue;
      }
      return WalkSkipped(*seg, off, reached, h.position);
    }
    reached = h.position;
    off += h.length;
    if (h.kind != kKindEvent) continue;
    if (check_deletes) {
      std::string_view name = h.StreamName(rec);
      if (last_stream == nullptr || last_stream->name != name) {
        last_stream = streams_.Find(name);
      }
      if (last_stream != nullptr &&
          h.revision <=
              last_stream->deleted_to.load(std::memory_order_acquire)) {
        continue;
      }
    }
    if (h.tag_count > tag_buf.size()) tag_buf.resize(h.tag_count);
    cairn_event e;
    DecodeRecord(rec, h, &e, tag_buf.data());
    ++sent;
    if (!fn(e)) break;
  }
  if (end.ended && reached < watermark) {
    return WalkEndedEarly(end.segment, end.offset, reached, watermark);
  }
  return absl::OkStatus();
}

absl::Status Log::WalkEndedEarly(uint64_t segment, uint32_t offset,
                                 uint64_t reached, uint64_t watermark) {
  return absl::DataLossError(
      "segment " + SegmentFileName(segment) + " offset " +
      std::to_string(offset) + ": no record where position " +
      std::to_string(reached + 1) +
      " should follow (a zeroed length or end-of-segment marker, or the "
      "next segment missing), but the log holds positions up to " +
      std::to_string(watermark) +
      "; run 'cairn verify' ('cairn verify --repair' writes a missing end "
      "marker back), or restore the segment from a backup or a replica");
}

absl::Status Log::WalkSkipped(const Segment& seg, uint32_t offset,
                              uint64_t reached, uint64_t position) {
  return DamageAt(seg, offset,
                  "the record there holds position " +
                      std::to_string(position) + " where position " +
                      std::to_string(reached + 1) +
                      " should follow: the walk skipped records before it "
                      "(an end-of-segment marker over a record's length)");
}

absl::Status Log::DamageAt(const Segment& seg, uint32_t offset,
                           const std::string& what) {
  return absl::DataLossError(
      "segment " + seg.name() + " offset " + std::to_string(offset) + ": " +
      what +
      "; run 'cairn verify', or restore the segment from a backup or a "
      "replica");
}

absl::Status Log::WaitCommit(uint64_t after_position, uint32_t timeout_ms,
                             uint64_t* position) {
  auto deadline = std::chrono::steady_clock::now() +
                  std::chrono::milliseconds(timeout_ms);
  uint64_t w = Committed();
  if (w > after_position) {
    *position = w;
    return absl::OkStatus();
  }
  std::unique_lock<std::mutex> lk(commit_mu_);
  commit_waiters_.fetch_add(1, std::memory_order_seq_cst);
  bool woke = commit_cv_.wait_until(lk, deadline, [&] {
    return Committed() > after_position || stopping_.load();
  });
  commit_waiters_.fetch_sub(1, std::memory_order_relaxed);
  *position = Committed();
  if (*position > after_position) return absl::OkStatus();
  if (stopping_.load()) return absl::CancelledError("the log is closing");
  (void)woke;
  return absl::DeadlineExceededError(
      "wait_commit: no commit after position " +
      std::to_string(after_position) + " within " +
      std::to_string(timeout_ms) + " ms");
}

absl::Status Log::ListStreams(
    uint64_t after_ordinal, uint64_t max_count,
    absl::FunctionRef<bool(const cairn_stream_info&)> fn) {
  ReadGuard guard(this);
  uint64_t n = stream_count_.load(std::memory_order_acquire);
  uint64_t sent = 0;
  for (uint64_t o = after_ordinal + 1; o <= n && sent < max_count; ++o) {
    auto* s = reinterpret_cast<StreamState*>(ordinals_.Get(o - 1));
    if (s == nullptr) break;  // cut by a truncation meanwhile
    // Ordinals follow the positions of first events: the first stream
    // whose first event is not committed ends the list.
    const uint64_t head = CommittedHead(s);
    if (head == 0 && s->trimmed_to.load(std::memory_order_acquire) == 0) break;
    cairn_stream_info info;
    info.size = sizeof info;
    info.name = cairn_bytes{reinterpret_cast<const uint8_t*>(s->name.data()),
                            s->name.size()};
    info.ordinal = o;
    info.head_revision = head;
    info.deleted_to = s->deleted_to.load(std::memory_order_acquire);
    ++sent;
    if (!fn(info)) break;
  }
  return absl::OkStatus();
}

void Log::Stats(absl::FunctionRef<void(const char*, double)> fn) const {
  Segment* active = active_.load(std::memory_order_acquire);
  uint64_t segments = active->number - first_segment_.load() + 1;
  // Running counts, not a walk over every stream: scrapes stay cheap with
  // millions of streams.
  const uint64_t index_bytes = streams_.BucketBytes() + tags_.BucketBytes() +
                               streams_.NodeBytes() + tags_.NodeBytes() +
                               arena_->allocated_bytes();
  fn("segments", static_cast<double>(segments));
  // The files as they are, not segments x the segment-size setting (wrong
  // after a change of it, and for files that get disk in steps): disk
  // blocks and logical sizes of the segments in use and the spares made
  // ahead. One stat(2) a file.
  uint64_t disk = 0;
  uint64_t file_bytes = 0;
  const uint64_t first = first_segment_.load(std::memory_order_acquire);
  const uint64_t last =
      active->number + std::max<uint32_t>(1, options_.preallocate_segments);
  for (uint64_t n = first; n <= last; ++n) {
    const std::string path = options_.path + "/" + SegmentFileName(n);
    auto blocks = fs_->DiskUsage(path);
    if (!blocks.ok()) continue;  // a spare not made yet, a segment just removed
    disk += *blocks;
    if (auto size = fs_->FileSize(path); size.ok()) file_bytes += *size;
  }
  fn("bytes_on_disk", static_cast<double>(disk));
  fn("segment_file_bytes", static_cast<double>(file_bytes));
  fn("head_position", static_cast<double>(HeadPosition()));
  fn("first_position", static_cast<double>(FirstPosition()));
  fn("segments_removed_total", static_cast<double>(segments_removed_.load()));
  fn("repeated_appends_total", static_cast<double>(repeated_appends_.load()));
  fn("idempotency_keys", static_cast<double>(keys_.size()));
  fn("idempotency_key_loads_total", static_cast<double>(key_loads_.load()));
  fn("allocation_steps_total", static_cast<double>(allocation_steps_.load()));
  fn("allocation_steps_inline_total",
     static_cast<double>(allocation_steps_inline_.load()));
  fn("checkpoints_written_total",
     static_cast<double>(checkpoints_written_.load()));
  fn("recovery_scanned_records",
     static_cast<double>(recovery_.scanned_records));
  fn("durable_position",
     static_cast<double>(durable_.load(std::memory_order_acquire)));
  fn("streams", static_cast<double>(stream_count_.load()));
  fn("tags", static_cast<double>(tags_.size()));
  fn("fsyncs_total", static_cast<double>(fsyncs_.load()));
  fn("fsync_seconds_total", static_cast<double>(fsync_nanos_.load()) / 1e9);
  fn("appends_in_flight", static_cast<double>(appends_in_flight_.load()));
  fn("sync_waiters", static_cast<double>(sync_waiters_.load()));
  fn("index_memory_bytes", static_cast<double>(index_bytes));
  fn("index_file_bytes", static_cast<double>(arena_->file_bytes()));
  fn("index_heap_bytes", static_cast<double>(arena_->heap_bytes()));
  fn("index_released_bytes_total",
     static_cast<double>(arena_->released_bytes()));
  fn("recovery_truncated_bytes", static_cast<double>(recovery_.truncated_bytes));
  fn("recovery_dropped_records", static_cast<double>(recovery_.dropped_records));
  fn("recovery_corrupt_records",
     static_cast<double>(recovery_.problems.size()));
}

}  // namespace cairn::mmaplog
