#include "protocol/convert.h"

#include "absl/strings/str_cat.h"
#include "cairn/status.h"

namespace cairn::protocol {

EventData FromProto(const v1::EventData& in) {
  EventData out;
  out.type = in.type();
  out.data = in.data();
  out.metadata = in.metadata();
  out.tags.assign(in.tags().begin(), in.tags().end());
  out.writer = in.writer();
  out.timestamp_us = in.timestamp_us();
  return out;
}

void ToProto(const EventData& in, v1::EventData* out) {
  out->set_type(in.type);
  out->set_data(in.data);
  out->set_metadata(in.metadata);
  for (const auto& tag : in.tags) out->add_tags(tag);
  out->set_writer(in.writer);
  out->set_timestamp_us(in.timestamp_us);
}

RecordedEvent FromProto(const v1::RecordedEvent& in) {
  RecordedEvent out;
  out.stream = in.stream();
  out.revision = in.revision();
  out.position = in.position();
  out.type = in.type();
  out.timestamp_us = in.timestamp_us();
  out.writer = in.writer();
  out.metadata = in.metadata();
  out.data = in.data();
  out.tags.assign(in.tags().begin(), in.tags().end());
  out.codec = in.codec();
  out.cipher = in.cipher();
  out.key_id = in.key_id();
  return out;
}

void ToProto(const RecordedEvent& in, v1::RecordedEvent* out) {
  out->set_stream(in.stream);
  out->set_revision(in.revision);
  out->set_position(in.position);
  out->set_type(in.type);
  out->set_timestamp_us(in.timestamp_us);
  out->set_writer(in.writer);
  out->set_metadata(in.metadata);
  out->set_data(in.data);
  for (const auto& tag : in.tags) out->add_tags(tag);
  out->set_codec(in.codec);
  out->set_cipher(in.cipher);
  out->set_key_id(in.key_id);
}

Snapshot FromProto(const v1::Snapshot& in) {
  Snapshot out;
  out.stream = in.stream();
  out.revision = in.revision();
  out.timestamp_us = in.timestamp_us();
  out.data = in.data();
  return out;
}

void ToProto(const Snapshot& in, v1::Snapshot* out) {
  out->set_stream(in.stream);
  out->set_revision(in.revision);
  out->set_timestamp_us(in.timestamp_us);
  out->set_data(in.data);
}

SnapshotCriteria FromProto(const v1::SnapshotCriteria& in) {
  SnapshotCriteria out;
  if (in.has_min_revision()) out.min_revision = in.min_revision();
  if (in.has_max_revision()) out.max_revision = in.max_revision();
  if (in.has_min_timestamp_us()) out.min_timestamp_us = in.min_timestamp_us();
  if (in.has_max_timestamp_us()) out.max_timestamp_us = in.max_timestamp_us();
  return out;
}

void ToProto(const SnapshotCriteria& in, v1::SnapshotCriteria* out) {
  const SnapshotCriteria all;
  if (in.min_revision != all.min_revision) out->set_min_revision(in.min_revision);
  if (in.max_revision != all.max_revision) out->set_max_revision(in.max_revision);
  if (in.min_timestamp_us != all.min_timestamp_us) {
    out->set_min_timestamp_us(in.min_timestamp_us);
  }
  if (in.max_timestamp_us != all.max_timestamp_us) {
    out->set_max_timestamp_us(in.max_timestamp_us);
  }
}

StreamInfo FromProto(const v1::StreamInfo& in) {
  StreamInfo out;
  out.name = in.name();
  out.ordinal = in.ordinal();
  out.head_revision = in.head_revision();
  out.deleted_to = in.deleted_to();
  return out;
}

void ToProto(const StreamInfo& in, v1::StreamInfo* out) {
  out->set_name(in.name);
  out->set_ordinal(in.ordinal);
  out->set_head_revision(in.head_revision);
  out->set_deleted_to(in.deleted_to);
}

ExpectedRevision ExpectedFromProto(const v1::AppendRequest& in) {
  switch (in.expected_kind()) {
    case v1::EXPECTED_NO_STREAM:
      return ExpectedRevision::NoStream();
    case v1::EXPECTED_EXACT:
      return ExpectedRevision::Exact(in.expected_revision());
    default:
      return ExpectedRevision::Any();
  }
}

void ExpectedToProto(const ExpectedRevision& in, v1::AppendRequest* out) {
  switch (in.kind()) {
    case ExpectedRevision::Kind::kAny:
      out->set_expected_kind(v1::EXPECTED_ANY);
      break;
    case ExpectedRevision::Kind::kNoStream:
      out->set_expected_kind(v1::EXPECTED_NO_STREAM);
      break;
    case ExpectedRevision::Kind::kExact:
      out->set_expected_kind(v1::EXPECTED_EXACT);
      out->set_expected_revision(in.revision());
      break;
  }
}

SubscriptionFilter FilterFromProto(const v1::SubscribeRequest& in) {
  SubscriptionFilter out;
  switch (in.kind()) {
    case v1::SUBSCRIBE_STREAM:
      out.kind = SubscriptionFilter::Kind::kStream;
      break;
    case v1::SUBSCRIBE_TAG:
      out.kind = SubscriptionFilter::Kind::kTag;
      break;
    default:
      out.kind = SubscriptionFilter::Kind::kAll;
      break;
  }
  out.name = in.name();
  out.after = in.after();
  return out;
}

void FilterToProto(const SubscriptionFilter& in, v1::SubscribeRequest* out) {
  switch (in.kind) {
    case SubscriptionFilter::Kind::kStream:
      out->set_kind(v1::SUBSCRIBE_STREAM);
      break;
    case SubscriptionFilter::Kind::kTag:
      out->set_kind(v1::SUBSCRIBE_TAG);
      break;
    case SubscriptionFilter::Kind::kAll:
      out->set_kind(v1::SUBSCRIBE_ALL);
      break;
  }
  out->set_name(in.name);
  out->set_after(in.after);
}

std::string ValidUtf8(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  const auto* bytes = reinterpret_cast<const unsigned char*>(text.data());
  size_t i = 0;
  while (i < text.size()) {
    const unsigned char lead = bytes[i];
    // The length of a well-formed sequence starting here (RFC 3629: no
    // overlong forms, no surrogates, nothing above U+10FFFF), or 0.
    size_t length = 0;
    unsigned char low = 0x80, high = 0xBF;  // bounds of the second byte
    if (lead < 0x80) {
      length = 1;
    } else if (lead >= 0xC2 && lead <= 0xDF) {
      length = 2;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
      length = 3;
      if (lead == 0xE0) low = 0xA0;
      if (lead == 0xED) high = 0x9F;
    } else if (lead >= 0xF0 && lead <= 0xF4) {
      length = 4;
      if (lead == 0xF0) low = 0x90;
      if (lead == 0xF4) high = 0x8F;
    }
    bool ok = length > 0 && i + length <= text.size();
    for (size_t k = 1; ok && k < length; ++k) {
      const unsigned char b = bytes[i + k];
      ok = k == 1 ? (b >= low && b <= high) : (b >= 0x80 && b <= 0xBF);
    }
    if (ok) {
      out.append(text.substr(i, length));
      i += length;
    } else {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[lead >> 4];
      out += kHex[lead & 0xF];
      ++i;
    }
  }
  return out;
}

void StatusToError(const absl::Status& status, v1::Error* out) {
  cairn_status code = CodeOf(status);
  if (!status.ok() && code == CAIRN_OK) code = CAIRN_E_INTERNAL;
  out->set_code(static_cast<v1::ErrorCode>(code));
  // A store message may quote a name that is not UTF-8; Error.message is a
  // proto `string`, which must be.
  out->set_message(
      ValidUtf8({status.message().data(), status.message().size()}));
  if (std::optional<LeaderInfo> leader = NotLeaderOf(status)) {
    LeaderToProto(*leader, out->mutable_leader());
  }
}

void LeaderToProto(const LeaderInfo& leader, v1::LeaderHint* out) {
  out->set_known(leader.known);
  out->set_node(ValidUtf8(leader.node));
  out->set_address(ValidUtf8(leader.address));
  out->set_epoch(leader.epoch);
}

LeaderInfo LeaderFromProto(const v1::LeaderHint& hint) {
  LeaderInfo leader;
  leader.role = CAIRN_ROLE_REPLICA;  // the answering node refused a write
  leader.known = hint.known();
  leader.node = hint.node();
  leader.address = hint.address();
  leader.epoch = hint.epoch();
  return leader;
}

absl::Status ErrorToStatus(const v1::Error& error) {
  const int code = error.code();
  if (code == v1::OK) return absl::OkStatus();
  if (code == v1::NOT_LEADER) {
    return NotLeaderError(error.message(), LeaderFromProto(error.leader()));
  }
  if (code >= CAIRN_E_INVALID_ARGUMENT && code <= CAIRN_STATUS_LAST) {
    return MakeStatus(static_cast<cairn_status>(code), error.message());
  }
  const std::string message =
      absl::StrCat(v1::ErrorCode_Name(error.code()), ": ", error.message());
  switch (code) {
    case v1::UNSUPPORTED_VERSION:
      return absl::FailedPreconditionError(message);
    case v1::MALFORMED_FRAME:
    case v1::UNKNOWN_REQUEST:
      return absl::InvalidArgumentError(message);
    case v1::FRAME_TOO_LARGE:
    case v1::LIMIT_EXCEEDED:
    case v1::TOO_MANY_CONNECTIONS:
      return absl::ResourceExhaustedError(message);
    case v1::SHUTTING_DOWN:
    case v1::IDLE_TIMEOUT:
      return absl::UnavailableError(message);
    case v1::UNKNOWN_SUBSCRIPTION:
      return absl::NotFoundError(message);
    case v1::PERMISSION_DENIED:
      return absl::PermissionDeniedError(message);
    case v1::TLS_REQUIRED:
      return absl::UnavailableError(message);
    default:
      return absl::UnknownError(absl::StrCat("error code ", code, ": ",
                                             error.message()));
  }
}

}  // namespace cairn::protocol
