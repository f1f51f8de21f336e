// Conversions between the cairn.v1 messages and the framework's types, and
// between absl::Status and the protocol's Error. Used by both ends.
#ifndef CAIRN_HOSTS_CAIRND_PROTOCOL_CONVERT_H_
#define CAIRN_HOSTS_CAIRND_PROTOCOL_CONVERT_H_

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "cairn/event.h"
#include "cairn/store.h"
#include "cairn/v1/client.pb.h"

namespace cairn::protocol {

EventData FromProto(const v1::EventData& in);
void ToProto(const EventData& in, v1::EventData* out);

RecordedEvent FromProto(const v1::RecordedEvent& in);
void ToProto(const RecordedEvent& in, v1::RecordedEvent* out);

Snapshot FromProto(const v1::Snapshot& in);
void ToProto(const Snapshot& in, v1::Snapshot* out);

SnapshotCriteria FromProto(const v1::SnapshotCriteria& in);
void ToProto(const SnapshotCriteria& in, v1::SnapshotCriteria* out);

StreamInfo FromProto(const v1::StreamInfo& in);
void ToProto(const StreamInfo& in, v1::StreamInfo* out);

// The request's expected revision (kind must be valid: see CheckRequest).
ExpectedRevision ExpectedFromProto(const v1::AppendRequest& in);
void ExpectedToProto(const ExpectedRevision& in, v1::AppendRequest* out);

SubscriptionFilter FilterFromProto(const v1::SubscribeRequest& in);
void FilterToProto(const SubscriptionFilter& in, v1::SubscribeRequest* out);

// A store status as sent to a client: the cairn_status code (1..12) and the
// message. OK gives code OK.
// The message is made valid UTF-8 (ValidUtf8).
void StatusToError(const absl::Status& status, v1::Error* out);

// `text` with every byte that does not start a well-formed UTF-8 sequence
// written as \xNN (backslash, x, two lower-case hex digits); UTF-8 text comes
// back unchanged.
std::string ValidUtf8(std::string_view text);

// An Error as a Status on the client side: store codes through MakeStatus
// (so IsWrongExpectedRevision etc. work), protocol codes as the closest absl
// code with the protocol code's name in front of the message.
absl::Status ErrorToStatus(const v1::Error& error);

// Replication's view of the leader, to and from the protocol.
void LeaderToProto(const LeaderInfo& leader, v1::LeaderHint* out);
LeaderInfo LeaderFromProto(const v1::LeaderHint& hint);

}  // namespace cairn::protocol

#endif  // CAIRN_HOSTS_CAIRND_PROTOCOL_CONVERT_H_
