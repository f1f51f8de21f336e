// SQLite peer: WAL mode, the journal schema Akka.Persistence.Sqlite uses
// (event_journal with ordering, persistence_id, sequence_nr, is_deleted,
// manifest, timestamp, payload, tags; unique (persistence_id, sequence_nr))
// plus its tag table (Akka's TagMode=TagTable) as the tag -> position index.
// Prepared statements, one transaction per batch. Writers take an in-process
// mutex before BEGIN IMMEDIATE, the faster of SQLite's two ways to serialize
// writers (the other is busy-sleeping on SQLITE_BUSY).
//
// synced: synchronous=FULL (WAL fsynced on every commit); os-cache:
// synchronous=OFF.
#ifndef CAIRN_BENCH_SQLITE_ENGINE_H_
#define CAIRN_BENCH_SQLITE_ENGINE_H_

#include <memory>

#include "bench/engine.h"

namespace cairn::bench {

std::unique_ptr<Engine> NewSqliteEngine();

}  // namespace cairn::bench

#endif  // CAIRN_BENCH_SQLITE_ENGINE_H_
