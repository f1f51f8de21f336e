// Cairn through its public Store: the same pipeline every host uses
// (codec -> cipher -> storage -> replication).
//
// kPlain ("cairn"): storage mmaplog, identity codec, no cipher.
// kSealed ("cairn-sealed"): mmaplog with zstd (its default level, no
// dictionary) and aes-gcm.
// kSealedDictionary ("cairn-sealed-dict"): mmaplog with zstd level 1 and a
// dictionary trained, as `cairn train-dict` does, on 4096 events of the
// workload's kind and size (other random values than the ones appended),
// and aes-gcm: how a site with small events should run sealed.
// kDirect ("cairn-direct"): the plain store's storage plugin driven through
// its C ABI alone (Store::raw_storage()), events passed as they are: what
// the storage costs without the framework, so `cairn` against
// `cairn-direct` is the framework's own cost (issue 20).
// EngineOptions::cairn_overrides ("storage.plugin=memory",
// "storage.segment-size=64MiB", ...) apply after these defaults.
// synced: storage fsync=always; os-cache: fsync=never. A storage plugin
// without an "fsync" option cannot be run at either level: Open says so
// rather than measure something else under the same name.
#ifndef CAIRN_BENCH_CAIRN_ENGINE_H_
#define CAIRN_BENCH_CAIRN_ENGINE_H_

#include <memory>

#include "bench/engine.h"

namespace cairn::bench {

enum class CairnVariant { kPlain, kSealed, kSealedDictionary, kDirect };

std::unique_ptr<Engine> NewCairnEngine(CairnVariant variant);

}  // namespace cairn::bench

#endif  // CAIRN_BENCH_CAIRN_ENGINE_H_
