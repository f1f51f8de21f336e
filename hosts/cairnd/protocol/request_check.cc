#include "protocol/request_check.h"

#include "absl/strings/str_cat.h"
#include "cairn/event.h"
#include "cairn/names.h"

namespace cairn::protocol {
namespace {

std::optional<RequestError> Invalid(std::string message) {
  return RequestError{v1::INVALID_ARGUMENT, std::move(message)};
}

std::optional<RequestError> CheckMaxCount(int64_t max_count) {
  if (max_count < 0) {
    return Invalid(absl::StrCat("max_count is ", max_count,
                                "; it must be >= 0 (0 means up to the "
                                "server's page limit)"));
  }
  return std::nullopt;
}

std::optional<RequestError> CheckStream(std::string_view stream) {
  if (auto bad = CheckName(stream, "stream")) return Invalid(*bad);
  return std::nullopt;
}

// A name the request writes: the whole rule of cairn/names.h, which the
// Store applies too (reads take any name CheckName allows, so names stored
// before the rule stay readable).
std::optional<RequestError> CheckWrittenName(NameKind kind, std::string_view name,
                                             std::string_view prefix = "") {
  if (auto bad = NameProblem(kind, name)) return Invalid(std::string(prefix) + *bad);
  return std::nullopt;
}

std::optional<RequestError> CheckCriteria(const v1::SnapshotCriteria& c) {
  if (c.has_min_revision() && c.has_max_revision() &&
      c.min_revision() > c.max_revision()) {
    return Invalid(absl::StrCat("snapshot criteria: min_revision ",
                                c.min_revision(), " is above max_revision ",
                                c.max_revision()));
  }
  if (c.has_min_timestamp_us() && c.has_max_timestamp_us() &&
      c.min_timestamp_us() > c.max_timestamp_us()) {
    return Invalid(absl::StrCat("snapshot criteria: min_timestamp_us ",
                                c.min_timestamp_us(),
                                " is above max_timestamp_us ",
                                c.max_timestamp_us()));
  }
  return std::nullopt;
}

std::optional<RequestError> CheckAppend(const v1::AppendRequest& append,
                                        const RequestLimits& limits) {
  if (auto bad = CheckWrittenName(NameKind::kStream, append.stream())) return bad;
  if (!v1::ExpectedKind_IsValid(append.expected_kind())) {
    return Invalid(absl::StrCat("expected_kind ", append.expected_kind(),
                                " is not ANY (0), NO_STREAM (1) or EXACT (2)"));
  }
  if (append.idempotency_key().size() > 64) {
    return Invalid(
        absl::StrCat("append to '", append.stream(), "': idempotency_key is ",
                     append.idempotency_key().size(), " bytes; at most 64"));
  }
  if (append.events_size() == 0) {
    return Invalid(absl::StrCat("append to '", append.stream(),
                                "' has no events; send 1..",
                                limits.max_batch, " events"));
  }
  if (static_cast<uint64_t>(append.events_size()) > limits.max_batch) {
    return RequestError{
        v1::LIMIT_EXCEEDED,
        absl::StrCat("append to '", append.stream(), "' has ",
                     append.events_size(),
                     " events; the server's max-batch is ", limits.max_batch,
                     "; split it into smaller batches")};
  }
  for (int i = 0; i < append.events_size(); ++i) {
    const v1::EventData& event = append.events(i);
    const std::string prefix = absl::StrCat("event ", i, ": ");
    if (auto bad = CheckWrittenName(NameKind::kEventType, event.type(), prefix)) return bad;
    for (const std::string& tag : event.tags()) {
      if (auto bad = CheckWrittenName(NameKind::kTag, tag, prefix)) return bad;
    }
  }
  return std::nullopt;
}

std::optional<RequestError> CheckSubscribe(const v1::SubscribeRequest& sub,
                                           const RequestLimits& limits) {
  switch (sub.kind()) {
    case v1::SUBSCRIBE_ALL:
      if (!sub.name().empty()) {
        return Invalid("subscribe to all takes no name; use SUBSCRIBE_STREAM "
                       "or SUBSCRIBE_TAG to follow a stream or tag");
      }
      break;
    case v1::SUBSCRIBE_STREAM:
      if (auto bad = CheckStream(sub.name())) return bad;
      break;
    case v1::SUBSCRIBE_TAG:
      if (auto bad = CheckName(sub.name(), "tag")) return Invalid(*bad);
      break;
    default:
      return Invalid(absl::StrCat("subscription kind ", sub.kind(),
                                  " is not ALL (0), STREAM (1) or TAG (2)"));
  }
  if (sub.initial_credit() > limits.max_credit) {
    return RequestError{
        v1::LIMIT_EXCEEDED,
        absl::StrCat("initial_credit ", sub.initial_credit(),
                     " is above the server's max-credit of ",
                     limits.max_credit)};
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::string> CheckName(std::string_view name,
                                     std::string_view what_view) {
  const std::string what(what_view);
  if (name.empty()) {
    return absl::StrCat(what, " name is empty; it must be 1..",
                        kMaxNameBytes, " bytes of UTF-8");
  }
  if (name.size() > kMaxNameBytes) {
    return absl::StrCat(what, " name is ", name.size(),
                        " bytes; the limit is ", kMaxNameBytes);
  }
  if (name.find('\0') != std::string_view::npos) {
    return absl::StrCat(what, " name contains a NUL byte");
  }
  return std::nullopt;
}

std::optional<RequestError> CheckRequest(const v1::Request& request,
                                         const RequestLimits& limits) {
  switch (request.body_case()) {
    case v1::Request::kHello:
      return std::nullopt;
    case v1::Request::kAppend:
      return CheckAppend(request.append(), limits);
    case v1::Request::kReadStream: {
      const auto& read = request.read_stream();
      if (auto bad = CheckStream(read.stream())) return bad;
      if (auto bad = CheckMaxCount(read.max_count())) return bad;
      if (read.to_revision() != 0 && read.from_revision() > read.to_revision()) {
        return Invalid(absl::StrCat("from_revision ", read.from_revision(),
                                    " is above to_revision ",
                                    read.to_revision()));
      }
      return std::nullopt;
    }
    case v1::Request::kReadTag:
      if (auto bad = CheckName(request.read_tag().tag(), "tag")) {
        return Invalid(*bad);
      }
      return CheckMaxCount(request.read_tag().max_count());
    case v1::Request::kReadAll:
      return CheckMaxCount(request.read_all().max_count());
    case v1::Request::kSubscribe:
      return CheckSubscribe(request.subscribe(), limits);
    case v1::Request::kCredit:
      if (request.credit().credit() == 0) {
        return Invalid("credit of 0 grants nothing; send 1 or more");
      }
      if (request.credit().credit() > limits.max_credit) {
        return RequestError{
            v1::LIMIT_EXCEEDED,
            absl::StrCat("credit ", request.credit().credit(),
                         " is above the server's max-credit of ",
                         limits.max_credit)};
      }
      return std::nullopt;
    case v1::Request::kCancel:
      return std::nullopt;
    case v1::Request::kDeleteTo:
      return CheckWrittenName(NameKind::kStream, request.delete_to().stream());
    case v1::Request::kSaveSnapshot:
      if (!request.save_snapshot().has_snapshot()) {
        return Invalid("save_snapshot carries no snapshot");
      }
      return CheckWrittenName(NameKind::kStream, request.save_snapshot().snapshot().stream());
    case v1::Request::kLoadSnapshot:
      if (auto bad = CheckStream(request.load_snapshot().stream())) return bad;
      return CheckCriteria(request.load_snapshot().criteria());
    case v1::Request::kDeleteSnapshot:
      return CheckStream(request.delete_snapshot().stream());
    case v1::Request::kDeleteSnapshots:
      if (auto bad = CheckStream(request.delete_snapshots().stream())) {
        return bad;
      }
      return CheckCriteria(request.delete_snapshots().criteria());
    case v1::Request::kListStreams:
      return CheckMaxCount(request.list_streams().max_count());
    case v1::Request::kHead:
      if (!request.head().stream().empty()) {
        return CheckStream(request.head().stream());
      }
      return std::nullopt;
    case v1::Request::kServerInfo:
    case v1::Request::kFlush:
    case v1::Request::kPromote:
    case v1::Request::kBackupBegin:
      return std::nullopt;
    case v1::Request::kReadLog:
      return CheckMaxCount(request.read_log().max_count());
    case v1::Request::kRestoreBegin:
    case v1::Request::kApplyLog:
    case v1::Request::kRestoreEnd:
    case v1::Request::kVerify:
    case v1::Request::kRotateKey:
    case v1::Request::kMaintain:
      return std::nullopt;
    case v1::Request::BODY_NOT_SET:
      break;
  }
  return RequestError{
      v1::UNKNOWN_REQUEST,
      "the request has no body this server knows (an unknown or missing "
      "request type); see schemas/cairn/v1/client.proto for the types each "
      "minor version adds"};
}

const char* RequestName(const v1::Request& request) {
  switch (request.body_case()) {
    case v1::Request::kHello: return "hello";
    case v1::Request::kAppend: return "append";
    case v1::Request::kReadStream: return "read_stream";
    case v1::Request::kReadTag: return "read_tag";
    case v1::Request::kReadAll: return "read_all";
    case v1::Request::kSubscribe: return "subscribe";
    case v1::Request::kCredit: return "credit";
    case v1::Request::kCancel: return "cancel";
    case v1::Request::kDeleteTo: return "delete_to";
    case v1::Request::kSaveSnapshot: return "save_snapshot";
    case v1::Request::kLoadSnapshot: return "load_snapshot";
    case v1::Request::kDeleteSnapshot: return "delete_snapshot";
    case v1::Request::kDeleteSnapshots: return "delete_snapshots";
    case v1::Request::kListStreams: return "list_streams";
    case v1::Request::kHead: return "head";
    case v1::Request::kServerInfo: return "server_info";
    case v1::Request::kFlush: return "flush";
    case v1::Request::kPromote:
      return "promote";
    case v1::Request::kBackupBegin:
      return "backup_begin";
    case v1::Request::kReadLog:
      return "read_log";
    case v1::Request::kRestoreBegin:
      return "restore_begin";
    case v1::Request::kApplyLog:
      return "apply_log";
    case v1::Request::kRestoreEnd:
      return "restore_end";
    case v1::Request::kVerify:
      return "verify";
    case v1::Request::kRotateKey:
      return "rotate_key";
    case v1::Request::kMaintain:
      return "maintain";
    case v1::Request::BODY_NOT_SET: break;
  }
  return "unknown";
}

}  // namespace cairn::protocol
