// The three watermarks of the ordered log (cairn/plugin.h, "The ordered
// log"; docs/mmaplog.md, Watermarks): written (the committer's watermark_),
// durable and committed, the committed head of a stream, and commit=host's
// SetCommitted with its persisted copy in <path>/committed.
#include <algorithm>
#include <cstring>
#include <string>

#include "crc32c.h"
#include "log.h"
#include "record.h"

namespace cairn::mmaplog {
namespace {

constexpr char kCommittedFile[] = "committed";
constexpr size_t kCommittedFileSize = 4096;

// <path>/committed holds two slots (16 bytes each, at offsets 0 and 64):
// u64 sequence, u32 CRC32C of the sequence and position, u32 0, then at +16
// u64 position. Writes alternate between the slots, so a write torn by a
// power failure leaves the other, older one; the valid slot with the
// highest sequence wins.
struct CommittedSlot {
  uint64_t sequence = 0;
  uint64_t position = 0;
};

uint32_t SlotCrc(const CommittedSlot& s) {
  uint8_t buf[16];
  std::memcpy(buf, &s.sequence, 8);
  std::memcpy(buf + 8, &s.position, 8);
  return Crc32c(0, buf, sizeof buf);
}

void WriteSlot(uint8_t* file, const CommittedSlot& s) {
  uint8_t* p = file + (s.sequence & 1) * 64;
  const uint32_t crc = SlotCrc(s);
  const uint32_t zero = 0;
  std::memcpy(p, &s.sequence, 8);
  std::memcpy(p + 8, &crc, 4);
  std::memcpy(p + 12, &zero, 4);
  std::memcpy(p + 16, &s.position, 8);
}

bool ReadSlot(const uint8_t* file, int which, CommittedSlot* s) {
  const uint8_t* p = file + which * 64;
  uint32_t crc;
  std::memcpy(&s->sequence, p, 8);
  std::memcpy(&crc, p + 8, 4);
  std::memcpy(&s->position, p + 16, 8);
  return s->sequence != 0 && crc == SlotCrc(*s);
}

// The newest valid slot (sequence 0: none).
CommittedSlot NewestSlot(const uint8_t* file) {
  CommittedSlot best, s;
  for (int i = 0; i < 2; ++i) {
    if (ReadSlot(file, i, &s) && s.sequence > best.sequence) best = s;
  }
  return best;
}

}  // namespace

uint64_t Log::CommittedHead(const StreamState* s) const {
  const uint64_t head = s->head();
  if (head == 0) return 0;
  const uint64_t committed = Committed();
  SegmentRef pin(this);
  // Whether revision r is at or below the committed watermark. Positions
  // rise with revisions, so this holds for a prefix of revisions. Revisions
  // retention removed were committed; one not indexed yet is not.
  auto committed_revision = [&](uint64_t r) {
    if (r <= s->trimmed_to.load(std::memory_order_acquire)) return true;
    uint64_t loc = s->revisions.Get(r - 1);
    if (loc == 0) return false;
    Segment* seg = pin.Switch(LocationSegment(loc));
    if (seg == nullptr) return true;  // removed by retention meanwhile
    uint64_t p;
    std::memcpy(&p, seg->data + LocationOffset(loc) + 16, 8);
    return p <= committed;
  };
  if (committed_revision(head)) return head;  // the common case
  uint64_t lo = s->trimmed_to.load(std::memory_order_acquire), hi = head;
  // Invariant: lo is committed (or 0), hi is not.
  while (hi - lo > 1) {
    uint64_t mid = lo + (hi - lo) / 2;
    if (committed_revision(mid))
      lo = mid;
    else
      hi = mid;
  }
  return lo;
}

uint64_t Log::HeadRevision(std::string_view stream) {
  StreamState* s = streams_.Find(stream);
  if (s == nullptr) return 0;
  uint64_t head_position = 0;
  {
    ReadGuard guard(this);
    const uint64_t committed_head = CommittedHead(s);
    const uint64_t head = s->head();
    if (committed_head == head || options_.commit_host ||
        options_.fsync != FsyncMode::kAlways) {
      return committed_head;
    }
    // commit = durable with fsync = always: the head's batch may be written
    // and waiting for the sync its appender asked for. Committed reaches it
    // within that sync: wait for it rather than answer a head that an
    // expected-revision check would refuse (a read-head-then-append loop
    // would spin for the whole sync). A head not yet written is answered
    // as committed.
    const uint64_t loc = s->revisions.Get(head - 1);
    SegmentRef pin(this);
    Segment* seg = loc == 0 ? nullptr : pin.Switch(LocationSegment(loc));
    if (seg != nullptr) {
      std::memcpy(&head_position, seg->data + LocationOffset(loc) + 16, 8);
    }
    if (head_position == 0 || head_position > Written()) return committed_head;
  }
  // A failed or closing log answers what is committed.
  (void)WaitDurable(head_position);
  ReadGuard guard(this);
  return CommittedHead(s);
}

void Log::LogState(cairn_log_state* state) const {
  const uint64_t committed = Committed();
  const uint64_t durable = Durable();
  const uint64_t written = Written();
  cairn_log_state out{};
  out.first_position =
      written >= FirstPosition() ? FirstPosition() : 0;  // 0: none held
  // Loaded from the lowest up, so committed <= durable <= written holds in
  // what is returned even while they move.
  out.written = written;
  out.durable = durable < written ? durable : written;
  out.committed = committed < out.durable ? committed : out.durable;
  {
    std::lock_guard<std::mutex> lk(state_mu_);
    out.epoch = epochs_.empty() ? 0 : epochs_.back().first;
  }
  // Filled only up to the caller's size (plugin.h, CAIRN_SET_FIELD).
  const uint32_t n = std::min<uint32_t>(state->size, sizeof out);
  out.size = state->size;
  std::memcpy(state, &out, n);
}

void Log::WakeCommitWaiters() {
  if (commit_waiters_.load(std::memory_order_seq_cst) > 0) {
    std::lock_guard<std::mutex> lk(commit_mu_);
    commit_cv_.notify_all();
  }
}

absl::Status Log::SetCommitted(uint64_t position) {
  if (!options_.commit_host) {
    return absl::FailedPreconditionError(
        "set_committed: the store was opened with commit = durable, which "
        "keeps committed = durable itself; open it with commit = host");
  }
  const uint64_t durable = Durable();
  if (position > durable) {
    return absl::FailedPreconditionError(
        "set_committed: position " + std::to_string(position) +
        " is past the durable watermark " + std::to_string(durable));
  }
  uint64_t now = committed_.load(std::memory_order_acquire);
  while (now < position && !committed_.compare_exchange_weak(
                               now, position, std::memory_order_seq_cst)) {
  }
  if (now >= position) return absl::OkStatus();  // lower: a no-op
  // The copy in <path>/committed: a store into its mapping (kept by the
  // page cache across kill -9); the flusher syncs it after its next sync.
  // (~0: the value committed_ holds under the copy's lock, so racing
  // callers never store a lower one last.)
  WriteCommittedCopy(~uint64_t{0}, /*sync=*/false);
  ApplyCommittedControls();
  WakeCommitWaiters();
  return absl::OkStatus();
}

void Log::WriteCommittedCopy(uint64_t position, bool sync) {
  if (committed_file_ == nullptr) return;
  std::lock_guard<std::mutex> lk(committed_mu_);
  if (position == ~uint64_t{0}) {
    position = committed_.load(std::memory_order_acquire);
  }
  CommittedSlot slot = NewestSlot(committed_file_->data());
  if (slot.position == position && slot.sequence != 0) return;
  slot.position = position;
  ++slot.sequence;
  WriteSlot(committed_file_->data(), slot);
  if (sync && committed_file_->Sync(0, kCommittedFileSize).ok()) {
    committed_synced_ = position;
  }
}

void Log::SyncCommittedFile() {
  if (!options_.commit_host || committed_file_ == nullptr) return;
  std::lock_guard<std::mutex> lk(committed_mu_);
  const uint64_t at = NewestSlot(committed_file_->data()).position;
  if (at == committed_synced_) return;
  if (committed_file_->Sync(0, kCommittedFileSize).ok()) {
    committed_synced_ = at;
  }
}

absl::Status Log::OpenCommittedFile() {
  const std::string path = options_.path + "/" + kCommittedFile;
  // commit = durable leaves a copy alone: a command that opens a store of
  // a replicated site without "commit" = "host" must not let the next host
  // run start past what the host had committed (a stale copy only hides
  // records until the host commits them again).
  if (!options_.commit_host) return absl::OkStatus();
  bool fresh = !fs_->Exists(path);
  auto file = fresh ? fs_->CreateMapped(path, kCommittedFileSize)
                    : fs_->OpenMapped(path);
  if (!file.ok()) return file.status();
  if ((*file)->size() != kCommittedFileSize) {
    return absl::DataLossError(
        "'" + path + "' is " + std::to_string((*file)->size()) +
        " bytes, not " + std::to_string(kCommittedFileSize) +
        "; remove it (committed then starts at the durable watermark)");
  }
  committed_file_ = std::move(*file);
  // A store that had no copy (new, or until now commit = durable) starts
  // with committed = durable, as commit = durable had it; otherwise at the
  // copy, at most durable.
  CommittedSlot slot = NewestSlot(committed_file_->data());
  const uint64_t durable = Durable();
  uint64_t start = fresh || slot.sequence == 0 ? durable : slot.position;
  if (start > durable) start = durable;
  committed_.store(start, std::memory_order_release);
  if (slot.position != start || slot.sequence == 0) {
    slot.position = start;
    ++slot.sequence;
    WriteSlot(committed_file_->data(), slot);
    absl::Status s = committed_file_->Sync(0, kCommittedFileSize);
    if (!s.ok()) return s;
  }
  committed_synced_ = start;
  return absl::OkStatus();
}

}  // namespace cairn::mmaplog
