// RocksDB peer: one column family per index, as its users write it.
//   events:  position (8 bytes BE) -> event record (record_format.h)
//   streams: stream\0revision -> position
//   tags:    tag\0position -> (empty)
// An append is one WriteBatch; WriteOptions.sync = true when synced, the
// WAL on and unsynced for os-cache. Writers to different streams call Write
// concurrently so RocksDB's own group commit works; positions are reserved
// up front and made readable in order (CommitSignal), as Cairn does.
#ifndef CAIRN_BENCH_ROCKSDB_ENGINE_H_
#define CAIRN_BENCH_ROCKSDB_ENGINE_H_

#include <memory>

#include "bench/engine.h"

namespace cairn::bench {

std::unique_ptr<Engine> NewRocksDbEngine();

}  // namespace cairn::bench

#endif  // CAIRN_BENCH_ROCKSDB_ENGINE_H_
