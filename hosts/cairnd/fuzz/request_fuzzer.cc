// libFuzzer target: bytes as they would arrive on a cairnd connection go
// through the frame decoder, the Request parser, the request checks and the
// conversions to store types — everything the server does with client bytes
// before the store sees them. Built with clang by scripts/fuzz-cairnd.
#include <cstddef>
#include <cstdint>
#include <string>

#include "cairn/v1/client.pb.h"
#include "google/protobuf/stubs/logging.h"
#include "protocol/convert.h"
#include "protocol/frame.h"
#include "protocol/request_check.h"

namespace {

void Exercise(const cairn::v1::Request& request) {
  using cairn::v1::Request;
  cairn::protocol::RequestLimits limits;
  limits.max_batch = 64;
  limits.max_credit = 1000;
  if (cairn::protocol::CheckRequest(request, limits).has_value()) return;
  switch (request.body_case()) {
    case Request::kAppend:
      cairn::protocol::ExpectedFromProto(request.append());
      for (const auto& event : request.append().events()) {
        cairn::protocol::FromProto(event);
      }
      break;
    case Request::kSubscribe:
      cairn::protocol::FilterFromProto(request.subscribe());
      break;
    case Request::kLoadSnapshot:
      cairn::protocol::FromProto(request.load_snapshot().criteria());
      break;
    case Request::kDeleteSnapshots:
      cairn::protocol::FromProto(request.delete_snapshots().criteria());
      break;
    case Request::kSaveSnapshot:
      cairn::protocol::FromProto(request.save_snapshot().snapshot());
      break;
    default:
      break;
  }
  // What the server answers must always serialize.
  cairn::v1::Response response;
  response.set_request_id(request.request_id());
  response.mutable_error()->set_message(cairn::protocol::RequestName(request));
  std::string frame;
  cairn::protocol::AppendFrame(response, &frame);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  google::protobuf::SetLogHandler(nullptr);  // invalid UTF-8 warnings
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  cairn::protocol::FrameDecoder decoder(64 * 1024);
  // The first byte splits the rest into two reads, as TCP may.
  const size_t split = size == 0 ? 0 : (data[0] % (size + 1));
  const char* bytes = reinterpret_cast<const char*>(data);
  decoder.Append(bytes, split);
  for (int pass = 0; pass < 2; ++pass) {
    while (true) {
      std::string_view payload;
      std::string error;
      auto result = decoder.Next(&payload, &error);
      if (result != cairn::protocol::FrameDecoder::Result::kFrame) break;
      cairn::v1::Request request;
      if (request.ParseFromArray(payload.data(),
                                 static_cast<int>(payload.size()))) {
        Exercise(request);
      }
    }
    if (pass == 0) decoder.Append(bytes + split, size - split);
  }
  return 0;
}
