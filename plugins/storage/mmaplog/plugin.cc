// The mmaplog storage plugin: adapts Log (log.h) to the plugin ABI through
// the SDK. Snapshots are records of the log (control_records.cc);
// SnapshotStore only verifies what an older store's snapshots/ may hold.
#include <cairn/sdk/absl_status.hpp>
#include <cairn/sdk/storage.hpp>

#include <memory>

#include "log.h"
#include "snapshot_store.h"

namespace cairn::mmaplog {
namespace {

// The engine's absl statuses by the framework's mapping (sdk/absl_status.hpp).
sdk::Status ToSdk(const absl::Status& s) { return sdk::FromAbsl(s); }

// zero-fill's values.
const char* const kZeroFillValues[] = {"auto", "always", "never", nullptr};
// commit's values (host-defined, cairn/plugin.h).
const char* const kCommitValues[] = {"durable", "host", nullptr};

// How the log and verify name a file in the store folder mmaplog did not make.
std::string ForeignFileText(const std::string& name) {
  return "'" + name +
         "' in the store folder was not made by mmaplog; it is left alone "
         "(move it out of the store folder)";
}

class MmapLogStorage : public sdk::Storage {
 public:
  static sdk::Status Open(const sdk::Options& options,
                          std::unique_ptr<MmapLogStorage>* out) {
    LogOptions lo;
    lo.path = options.Get("path");
    if (lo.path.empty()) {
      return sdk::InvalidArgument(
          "mmaplog: option 'path' is required (the directory of the log)");
    }
    // `create` is host-defined (cairn/plugin.h): false for a command that
    // only reads, so a mistyped path is an error, not a new store.
    const std::string create = options.Get("create", "true");
    if (create != "true" && create != "false") {
      return sdk::InvalidArgument("option 'create': '" + create +
                                  "' is not true or false");
    }
    lo.create = create == "true";
    // `commit` is host-defined too (cairn/plugin.h, "The ordered log").
    const std::string commit =
        options.Get(CAIRN_STORAGE_OPTION_COMMIT, "durable");
    if (commit != "durable" && commit != "host") {
      return sdk::InvalidArgument("option 'commit': '" + commit +
                                  "' is not durable or host");
    }
    lo.commit_host = commit == "host";
    sdk::Status s = options.GetSize("segment-size", lo.segment_size,
                                    &lo.segment_size);
    if (!s.ok()) return s;
    absl::Status as = ParseFsync(options.Get("fsync", "always"), &lo.fsync,
                                 &lo.fsync_interval_ms);
    if (!as.ok()) return ToSdk(as);
    uint64_t spares = 1;
    s = options.GetUint("preallocate-segments", 1, &spares);
    if (!s.ok()) return s;
    if (spares < 1 || spares > 16) {
      return sdk::InvalidArgument(
          "option 'preallocate-segments': " + std::to_string(spares) +
          " is not between 1 and 16");
    }
    lo.preallocate_segments = static_cast<uint32_t>(spares);
    uint64_t spare_at = lo.spare_at_percent;
    s = options.GetUint("spare-at-percent", spare_at, &spare_at);
    if (!s.ok()) return s;
    if (spare_at > 100) {
      return sdk::InvalidArgument(
          "option 'spare-at-percent': " + std::to_string(spare_at) +
          " is not between 0 and 100");
    }
    lo.spare_at_percent = static_cast<uint32_t>(spare_at);
    s = options.GetSize("allocation-step", lo.allocation_step,
                        &lo.allocation_step);
    if (!s.ok()) return s;
    uint64_t streams_hint = 0;
    s = options.GetUint("expected-streams", 100000, &streams_hint);
    if (!s.ok()) return s;
    uint32_t bits = 4;
    while (bits < 22 && (uint64_t{1} << bits) < streams_hint) ++bits;
    lo.stream_bucket_bits = bits;
    as = ParseRetention(options.Get("retention", "none"), &lo.retention,
                        &lo.retention_bytes);
    if (!as.ok()) return ToSdk(as);
    as = ParseZeroFill(options.Get("zero-fill", "auto"), &lo.zero_fill);
    if (!as.ok()) return ToSdk(as);
    const std::string repair = options.Get("repair", "false");
    if (repair != "true" && repair != "false") {
      return sdk::InvalidArgument("option 'repair': '" + repair +
                                  "' is not true or false");
    }
    lo.repair = repair == "true";
    lo.warn = [path = lo.path](const std::string& m) {
      sdk::LogWarn("mmaplog " + path + ": " + m);
    };
    lo.info = [path = lo.path](const std::string& m) {
      sdk::LogInfo("mmaplog " + path + ": " + m);
    };
    auto log = Log::Open(lo);
    if (!log.ok()) return ToSdk(log.status());
    auto storage = std::make_unique<MmapLogStorage>();
    storage->log_ = std::move(*log);
    storage->snapshots_ = std::make_unique<SnapshotStore>(
        FileSystem::Default(), lo.path + "/snapshots",
        lo.fsync != FsyncMode::kNever);
    const RecoveryReport& r = storage->log_->recovery();
    if (r.store_adopted) {
      sdk::LogWarn("mmaplog " + lo.path +
                   ": a store from before the MMAPLOG marker: wrote the "
                   "marker and made the folder 0700 and its files 0600");
    }
    for (const std::string& name : r.foreign_files) {
      sdk::LogWarn("mmaplog " + lo.path + ": " + ForeignFileText(name));
    }
    if (r.truncated_bytes > 0 || r.dropped_records > 0 ||
        r.dropped_segments > 0) {
      sdk::LogWarn("mmaplog " + lo.path + ": recovery dropped " +
                   std::to_string(r.dropped_records) +
                   " record(s) of incomplete batches, zeroed " +
                   std::to_string(r.truncated_bytes) +
                   " torn byte(s), removed " +
                   std::to_string(r.dropped_segments) + " segment(s)");
    }
    if (!r.checkpoint_rejected.empty()) {
      sdk::LogWarn("mmaplog " + lo.path + ": " + r.checkpoint_rejected);
    }
    if (r.completed_removals > 0) {
      sdk::LogInfo("mmaplog " + lo.path + ": removed " +
                   std::to_string(r.completed_removals) +
                   " segment(s) that retention had recorded as removed "
                   "before the last run ended");
    }
    for (const std::string& p : r.problems) {
      sdk::LogError("mmaplog " + lo.path + ": " + p);
    }
    for (const std::string& p : r.repairs) {
      sdk::LogWarn("mmaplog " + lo.path + ": repair: " + p);
    }
    *out = std::move(storage);
    return sdk::Status::Ok();
  }

  sdk::Status Append(sdk::AppendBatch& batch,
                     cairn_append_result* result) override {
    const Expected expected{batch.expected_kind(), batch.expected_revision()};
    if (!batch.has_seal()) {
      return ToSdk(log_->Append(batch.stream(), expected, batch.events(),
                                batch.size(), result, nullptr,
                                batch.idempotency_key()));
    }
    // The host's seal runs once the log has fixed the revisions.
    struct BatchSealer : Sealer {
      sdk::AppendBatch* batch;
      sdk::Status failure;
      absl::Status Seal(uint64_t first_revision,
                        const cairn_event** events) override {
        failure = batch->Seal(first_revision);
        if (!failure.ok()) return absl::CancelledError("seal failed");
        *events = batch->events();
        return absl::OkStatus();
      }
    } sealer;
    sealer.batch = &batch;
    absl::Status s =
        log_->Append(batch.stream(), expected, batch.events(), batch.size(),
                     result, &sealer, batch.idempotency_key());
    if (!sealer.failure.ok()) return sealer.failure;  // the seal's own status
    return ToSdk(s);
  }
  uint64_t InstanceCapabilities() const override {
    // An append waits for a sync only with fsync = always.
    return log_->options().fsync == FsyncMode::kAlways
               ? ~uint64_t{0}
               : ~uint64_t{CAIRN_CAP_APPEND_MAY_BLOCK};
  }
  sdk::Status ReadStream(std::string_view stream, uint64_t from, uint64_t to,
                         uint64_t max_count,
                         const sdk::EventSink& sink) override {
    return ToSdk(log_->ReadStream(stream, from, to, max_count,
                                  [&](const cairn_event& e) { return sink(e); }));
  }
  sdk::Status ReadAll(uint64_t after, uint64_t max_count, bool include_deleted,
                      const sdk::EventSink& sink) override {
    return ToSdk(log_->ReadAll(after, max_count, include_deleted,
                               [&](const cairn_event& e) { return sink(e); }));
  }
  sdk::Status ReadTag(std::string_view tag, uint64_t after, uint64_t max_count,
                      const sdk::EventSink& sink) override {
    return ToSdk(log_->ReadTag(tag, after, max_count,
                               [&](const cairn_event& e) { return sink(e); }));
  }
  sdk::Status HeadRevision(std::string_view stream,
                           uint64_t* revision) override {
    *revision = log_->HeadRevision(stream);
    return sdk::Status::Ok();
  }
  sdk::Status HeadPosition(uint64_t* position) override {
    *position = log_->HeadPosition();
    return sdk::Status::Ok();
  }
  sdk::Status WaitCommit(uint64_t after, uint32_t timeout_ms,
                         uint64_t* position) override {
    return ToSdk(log_->WaitCommit(after, timeout_ms, position));
  }
  sdk::Status DeleteTo(std::string_view stream, uint64_t revision) override {
    return ToSdk(log_->DeleteTo(stream, revision));
  }
  sdk::Status ListStreams(uint64_t after, uint64_t max_count,
                          const sdk::StreamSink& sink) override {
    return ToSdk(log_->ListStreams(
        after, max_count,
        [&](const cairn_stream_info& info) { return sink(info); }));
  }
  sdk::Status Flush() override { return ToSdk(log_->Flush()); }
  sdk::Status SnapshotSave(const cairn_snapshot& snapshot) override {
    return ToSdk(log_->SnapshotSave(snapshot));
  }
  sdk::Status SnapshotLoad(std::string_view stream,
                           const cairn_snapshot_criteria& criteria,
                           const sdk::SnapshotSink& sink) override {
    return ToSdk(log_->SnapshotLoad(stream, criteria,
                                    [&](const cairn_snapshot& s) { sink(s); }));
  }
  sdk::Status SnapshotDelete(std::string_view stream,
                             uint64_t revision) override {
    // One revision: criteria min = max = revision, any timestamp (plugin.h).
    cairn_snapshot_criteria c{sizeof c, revision, revision, INT64_MIN,
                              INT64_MAX};
    return ToSdk(log_->SnapshotDeleteMatching(stream, c));
  }
  sdk::Status SnapshotDeleteMatching(
      std::string_view stream,
      const cairn_snapshot_criteria& criteria) override {
    return ToSdk(log_->SnapshotDeleteMatching(stream, criteria));
  }
  sdk::Status Stats(const sdk::StatSink& sink) override {
    log_->Stats([&](const char* name, double value) { sink(name, value); });
    return sdk::Status::Ok();
  }
  sdk::Status ReadLog(uint64_t after, uint64_t max_count,
                      const sdk::RecordSink& sink) override {
    return ToSdk(log_->ReadLog(
        after, max_count, [&](const cairn_log_record& r) { return sink(r); }));
  }
  sdk::Status ApplyLog(const cairn_log_record* const* records,
                       size_t count) override {
    return ToSdk(log_->ApplyLog(records, count));
  }
  sdk::Status LogState(cairn_log_state* state) override {
    log_->LogState(state);
    return sdk::Status::Ok();
  }
  sdk::Status BeginEpoch(uint64_t epoch, std::string_view primary,
                         uint64_t* position) override {
    return ToSdk(log_->BeginEpoch(epoch, primary, position));
  }
  sdk::Status EpochEnd(uint64_t epoch, uint64_t* position) override {
    *position = log_->EpochEnd(epoch);
    return sdk::Status::Ok();
  }
  sdk::Status SetCommitted(uint64_t position) override {
    return ToSdk(log_->SetCommitted(position));
  }
  sdk::Status TruncateAfter(uint64_t position, uint32_t flags) override {
    if ((flags & ~uint32_t{CAIRN_TRUNCATE_COMMITTED}) != 0) {
      return sdk::InvalidArgument("truncate_after: unknown flags " +
                                  std::to_string(flags));
    }
    return ToSdk(
        log_->TruncateAfter(position, (flags & CAIRN_TRUNCATE_COMMITTED) != 0));
  }
  sdk::Status Maintain(cairn_change_fn fn, void* context) override {
    return ToSdk(log_->RunMaintenance([&](const std::string& change) {
      if (fn != nullptr) fn(context, change.c_str());
    }));
  }
  sdk::Status Verify(cairn_problem_fn fn, void* context) override {
    uint64_t problems = 0;
    auto report = [&](const std::string& p) {
      ++problems;
      if (fn != nullptr) fn(context, p.c_str());
    };
    // What the open repaired (option `repair`) comes first, marked so that
    // hosts print it as done rather than as a problem found (plugin.h,
    // verify).
    if (fn != nullptr) {
      for (const std::string& r : log_->recovery().repairs) {
        fn(context, (std::string(CAIRN_VERIFY_REPAIRED_PREFIX) + r).c_str());
      }
    }
    for (const std::string& name : log_->recovery().foreign_files) {
      report(ForeignFileText(name));
    }
    absl::Status s = log_->Verify(report);
    snapshots_->Verify(report);
    if (problems > 0) {
      return sdk::Corruption("verify found " + std::to_string(problems) +
                             " problem(s) in the store");
    }
    return ToSdk(s);
  }

 private:
  std::unique_ptr<Log> log_;
  std::unique_ptr<SnapshotStore> snapshots_;
};

}  // namespace
}  // namespace cairn::mmaplog

CAIRN_STORAGE_PLUGIN(
    cairn::mmaplog::MmapLogStorage, "mmaplog", "1.0.0",
    "memory-mapped segmented log: lock-free appends, group "
    "commit, crash recovery, indexes",
    CAIRN_CAP_PERSISTENT | CAIRN_CAP_LIVE_READS | CAIRN_CAP_TAGS |
        CAIRN_CAP_SNAPSHOTS | CAIRN_CAP_DELETE | CAIRN_CAP_APPLY |
        CAIRN_CAP_APPEND_MAY_BLOCK | CAIRN_CAP_SEAL_IN_APPEND |
        CAIRN_CAP_HOST_COMMIT | CAIRN_CAP_TRUNCATE | CAIRN_CAP_ORDERED_LOG |
        CAIRN_CAP_EPOCHS | CAIRN_CAP_IDEMPOTENT_APPEND,
    cairn::sdk::OptionDesc(CAIRN_STORAGE_OPTION_PATH, CAIRN_OPT_PATH, nullptr,
                           "the store folder", nullptr,
                           CAIRN_OPT_REQUIRED | CAIRN_OPT_HOST_DEFINED),
    cairn::sdk::OptionDesc("segment-size", CAIRN_OPT_SIZE, "256MiB",
                           "bytes per segment file"),
    cairn::sdk::OptionDesc("fsync", CAIRN_OPT_STRING, "always",
                           "always | interval:MS | never: when appends are "
                           "synced (always: before an append returns)"),
    cairn::sdk::OptionDesc("preallocate-segments", CAIRN_OPT_UINT, "1",
                           "spare segments made ahead of need, 1..16"),
    cairn::sdk::OptionDesc("spare-at-percent", CAIRN_OPT_UINT, "50",
                           "spares are made once appends fill this percent "
                           "of the active segment, 0..100 (0: at once)"),
    cairn::sdk::OptionDesc("allocation-step", CAIRN_OPT_SIZE, "16MiB",
                           "disk is given to a segment this much at a time, "
                           "ahead of appends (a new store takes one step)"),
    cairn::sdk::OptionDesc("expected-streams", CAIRN_OPT_UINT, "100000",
                           "sizes the stream table; not a limit"),
    cairn::sdk::OptionDesc("retention", CAIRN_OPT_STRING, "none",
                           "none | deleted | bytes:SIZE: drop whole old "
                           "segments whose events are all deleted, or "
                           "beyond SIZE"),
    cairn::sdk::OptionDesc("zero-fill", CAIRN_OPT_ENUM, "auto",
                           "pre-write new segments with zeros",
                           cairn::mmaplog::kZeroFillValues),
    cairn::sdk::OptionDesc(CAIRN_STORAGE_OPTION_CREATE, CAIRN_OPT_BOOL, "true",
                           "false: open only an existing store", nullptr,
                           CAIRN_OPT_HOST_DEFINED),
    cairn::sdk::OptionDesc(CAIRN_STORAGE_OPTION_COMMIT, CAIRN_OPT_ENUM,
                           "durable",
                           "durable: readers see what is durable; host: "
                           "what set_committed allowed",
                           cairn::mmaplog::kCommitValues,
                           CAIRN_OPT_HOST_DEFINED),
    cairn::sdk::OptionDesc(CAIRN_STORAGE_OPTION_REPAIR, CAIRN_OPT_BOOL, "false",
                           "repair what recovery refuses, listing what is "
                           "dropped (cairn verify --repair)"))
