// LMDB peer: one environment, one named database per index, as its users
// write it.
//   events:  position (8 bytes BE) -> event record (record_format.h)
//   streams: stream\0revision -> position
//   tags:    tag\0position -> (empty)
// An append is one write transaction (LMDB allows one writer at a time, so
// positions commit in order). synced: LMDB's default (fsync at commit);
// os-cache: MDB_NOSYNC.
#ifndef CAIRN_BENCH_LMDB_ENGINE_H_
#define CAIRN_BENCH_LMDB_ENGINE_H_

#include <memory>

#include "bench/engine.h"

namespace cairn::bench {

std::unique_ptr<Engine> NewLmdbEngine();

}  // namespace cairn::bench

#endif  // CAIRN_BENCH_LMDB_ENGINE_H_
