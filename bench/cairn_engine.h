// Cairn through its public Store: the same pipeline every host uses
// (codec -> cipher -> storage -> replication).
//
// kPlain: storage mmaplog, identity codec, no cipher. kSealed: mmaplog with
// zstd and aes-gcm. EngineOptions::cairn_overrides ("storage.plugin=memory",
// "storage.segment-size=64MiB", ...) apply after these defaults.
// synced: storage fsync=always; os-cache: fsync=never. A storage plugin
// without an "fsync" option cannot be run at either level: Open says so
// rather than measure something else under the same name.
#ifndef CAIRN_BENCH_CAIRN_ENGINE_H_
#define CAIRN_BENCH_CAIRN_ENGINE_H_

#include <memory>

#include "bench/engine.h"

namespace cairn::bench {

enum class CairnVariant { kPlain, kSealed };

std::unique_ptr<Engine> NewCairnEngine(CairnVariant variant);

}  // namespace cairn::bench

#endif  // CAIRN_BENCH_CAIRN_ENGINE_H_
