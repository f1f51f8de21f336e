#include "bench/sqlite_engine.h"

#include <sqlite3.h>

#include <mutex>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace cairn::bench {
namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS event_journal (
  ordering INTEGER PRIMARY KEY NOT NULL,
  persistence_id VARCHAR(255) NOT NULL,
  sequence_nr INTEGER(8) NOT NULL,
  is_deleted INTEGER(1) NOT NULL,
  manifest VARCHAR(255) NULL,
  timestamp INTEGER NOT NULL,
  payload BLOB NOT NULL,
  tags VARCHAR(2000) NULL,
  serializer_id INTEGER(4) NULL,
  writer_uuid VARCHAR(128) NULL,
  UNIQUE (persistence_id, sequence_nr)
);
CREATE TABLE IF NOT EXISTS event_tag (
  ordering_id INTEGER NOT NULL,
  tag VARCHAR(64) NOT NULL,
  sequence_nr INTEGER(8) NOT NULL,
  persistence_id VARCHAR(255) NOT NULL,
  PRIMARY KEY (tag, ordering_id)
) WITHOUT ROWID;
)sql";

std::string_view Text(sqlite3_stmt* statement, int column) {
  const char* text =
      reinterpret_cast<const char*>(sqlite3_column_text(statement, column));
  return std::string_view(text ? text : "",
                          static_cast<size_t>(sqlite3_column_bytes(statement, column)));
}

std::string_view Blob(sqlite3_stmt* statement, int column) {
  const char* blob =
      static_cast<const char*>(sqlite3_column_blob(statement, column));
  return std::string_view(blob ? blob : "",
                          static_cast<size_t>(sqlite3_column_bytes(statement, column)));
}

// One connection and its prepared statements; used by one thread at a time.
struct Connection {
  sqlite3* db = nullptr;
  sqlite3_stmt* begin = nullptr;
  sqlite3_stmt* commit = nullptr;
  sqlite3_stmt* rollback = nullptr;
  sqlite3_stmt* head = nullptr;
  sqlite3_stmt* insert_event = nullptr;
  sqlite3_stmt* insert_tag = nullptr;
  sqlite3_stmt* read_stream = nullptr;
  sqlite3_stmt* read_tag = nullptr;
  sqlite3_stmt* read_all = nullptr;

  ~Connection() {
    for (sqlite3_stmt* statement :
         {begin, commit, rollback, head, insert_event, insert_tag, read_stream,
          read_tag, read_all}) {
      sqlite3_finalize(statement);
    }
    sqlite3_close(db);
  }
};

class SqliteEngine : public Engine {
 public:
  ~SqliteEngine() override { (void)Close(); }

  std::string name() const override { return "sqlite"; }

  absl::Status Open(const EngineOptions& options) override {
    absl::Status folder = PrepareDir(options);
    if (!folder.ok()) return folder;
    path_ = options.dir + "/journal.db";
    durability_ = options.durability;
    auto first = Connect();
    if (!first.ok()) return first.status();
    std::unique_ptr<Connection> connection = *std::move(first);
    char* message = nullptr;
    if (sqlite3_exec(connection->db, kSchema, nullptr, nullptr, &message) !=
        SQLITE_OK) {
      std::string text = message ? message : "unknown error";
      sqlite3_free(message);
      return absl::InternalError(absl::StrCat("sqlite: creating the schema: ", text));
    }
    absl::Status prepared = Prepare(connection.get());
    if (!prepared.ok()) return prepared;
    sqlite3_stmt* last = nullptr;
    sqlite3_prepare_v2(connection->db, "SELECT COALESCE(MAX(ordering), 0) FROM event_journal",
                       -1, &last, nullptr);
    uint64_t visible = 0;
    if (last != nullptr && sqlite3_step(last) == SQLITE_ROW) {
      visible = static_cast<uint64_t>(sqlite3_column_int64(last, 0));
    }
    sqlite3_finalize(last);
    commit_signal().Reset(visible);
    std::lock_guard<std::mutex> lock(pool_mutex_);
    pool_.push_back(std::move(connection));
    return absl::OkStatus();
  }

  absl::StatusOr<uint64_t> Append(std::string_view stream, uint64_t expected_head,
                                  absl::Span<const EventData> events) override {
    auto lease = Acquire();
    if (!lease.ok()) return lease.status();
    Connection* c = lease->get();
    uint64_t first = 0, last = 0;
    absl::Status status;
    {
      std::lock_guard<std::mutex> writer(write_mutex_);
      status = Step(c, c->begin, "BEGIN IMMEDIATE");
      if (status.ok()) {
        status = AppendInTransaction(c, stream, expected_head, events, &first, &last);
        if (status.ok()) {
          status = Step(c, c->commit, "COMMIT");
        }
        if (!status.ok()) (void)Step(c, c->rollback, "ROLLBACK");
      }
      if (status.ok()) commit_signal().Complete(first, last - first + 1);
    }
    Release(*std::move(lease));
    if (!status.ok()) return status;
    return last;
  }

  absl::Status ReadStream(std::string_view stream, uint64_t from_revision,
                          uint64_t max_count, const ReadFn& on_event) override {
    return Read([&](Connection* c) {
      sqlite3_stmt* s = c->read_stream;
      sqlite3_bind_text(s, 1, stream.data(), static_cast<int>(stream.size()), SQLITE_STATIC);
      sqlite3_bind_int64(s, 2, static_cast<sqlite3_int64>(from_revision));
      sqlite3_bind_int64(s, 3, Limit(max_count));
      return s;
    }, on_event);
  }

  absl::Status ReadTag(std::string_view tag, uint64_t after_position,
                       uint64_t max_count, const ReadFn& on_event) override {
    return Read([&](Connection* c) {
      sqlite3_stmt* s = c->read_tag;
      sqlite3_bind_text(s, 1, tag.data(), static_cast<int>(tag.size()), SQLITE_STATIC);
      sqlite3_bind_int64(s, 2, static_cast<sqlite3_int64>(after_position));
      sqlite3_bind_int64(s, 3, Limit(max_count));
      return s;
    }, on_event);
  }

  absl::Status ReadAll(uint64_t after_position, uint64_t max_count,
                       const ReadFn& on_event) override {
    return Read([&](Connection* c) {
      sqlite3_stmt* s = c->read_all;
      sqlite3_bind_int64(s, 1, static_cast<sqlite3_int64>(after_position));
      sqlite3_bind_int64(s, 2, Limit(max_count));
      return s;
    }, on_event);
  }

  absl::Status Close() override {
    std::lock_guard<std::mutex> lock(pool_mutex_);
    pool_.clear();  // the last connection to close checkpoints the WAL
    return absl::OkStatus();
  }

 private:
  static sqlite3_int64 Limit(uint64_t max_count) {
    return max_count > static_cast<uint64_t>(INT64_MAX)
               ? INT64_MAX
               : static_cast<sqlite3_int64>(max_count);
  }

  absl::Status Error(Connection* c, const std::string& what) const {
    return absl::InternalError(absl::StrCat("sqlite ", path_, ": ", what, ": ",
                                            sqlite3_errmsg(c->db)));
  }

  absl::Status Step(Connection* c, sqlite3_stmt* statement, const std::string& what) {
    int rc = sqlite3_step(statement);
    sqlite3_reset(statement);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) return Error(c, what);
    return absl::OkStatus();
  }

  absl::Status AppendInTransaction(Connection* c, std::string_view stream,
                                   uint64_t expected_head,
                                   absl::Span<const EventData> events,
                                   uint64_t* first, uint64_t* last) {
    sqlite3_bind_text(c->head, 1, stream.data(), static_cast<int>(stream.size()),
                      SQLITE_STATIC);
    int rc = sqlite3_step(c->head);
    uint64_t head = rc == SQLITE_ROW
                        ? static_cast<uint64_t>(sqlite3_column_int64(c->head, 0))
                        : 0;
    sqlite3_reset(c->head);
    if (rc != SQLITE_ROW) return Error(c, "reading the stream head");
    if (head != expected_head) {
      return absl::AbortedError(absl::StrCat(
          "sqlite: stream '", std::string(stream), "' is at revision ", head,
          ", the append expected ", expected_head));
    }
    for (size_t i = 0; i < events.size(); ++i) {
      const EventData& event = events[i];
      uint64_t revision = head + 1 + i;
      sqlite3_stmt* s = c->insert_event;
      sqlite3_bind_text(s, 1, stream.data(), static_cast<int>(stream.size()), SQLITE_STATIC);
      sqlite3_bind_int64(s, 2, static_cast<sqlite3_int64>(revision));
      sqlite3_bind_text(s, 3, event.type.data(), static_cast<int>(event.type.size()),
                        SQLITE_STATIC);
      sqlite3_bind_int64(s, 4, event.timestamp_us);
      sqlite3_bind_blob(s, 5, event.data.data(), static_cast<int>(event.data.size()),
                        SQLITE_STATIC);
      sqlite3_bind_text(s, 6, event.writer.data(), static_cast<int>(event.writer.size()),
                        SQLITE_STATIC);
      if (sqlite3_step(s) != SQLITE_DONE) {
        sqlite3_reset(s);
        return Error(c, "inserting an event");
      }
      sqlite3_reset(s);
      uint64_t ordering = static_cast<uint64_t>(sqlite3_last_insert_rowid(c->db));
      if (i == 0) *first = ordering;
      *last = ordering;
      for (const std::string& tag : event.tags) {
        sqlite3_stmt* t = c->insert_tag;
        sqlite3_bind_int64(t, 1, static_cast<sqlite3_int64>(ordering));
        sqlite3_bind_text(t, 2, tag.data(), static_cast<int>(tag.size()), SQLITE_STATIC);
        sqlite3_bind_int64(t, 3, static_cast<sqlite3_int64>(revision));
        sqlite3_bind_text(t, 4, stream.data(), static_cast<int>(stream.size()),
                          SQLITE_STATIC);
        if (sqlite3_step(t) != SQLITE_DONE) {
          sqlite3_reset(t);
          return Error(c, "inserting a tag");
        }
        sqlite3_reset(t);
      }
    }
    return absl::OkStatus();
  }

  template <typename Bind>
  absl::Status Read(Bind bind, const ReadFn& on_event) {
    auto lease = Acquire();
    if (!lease.ok()) return lease.status();
    Connection* c = lease->get();
    sqlite3_stmt* s = bind(c);
    absl::Status status;
    for (;;) {
      int rc = sqlite3_step(s);
      if (rc == SQLITE_DONE) break;
      if (rc != SQLITE_ROW) {
        status = Error(c, "reading events");
        break;
      }
      ReadEvent event;
      event.position = static_cast<uint64_t>(sqlite3_column_int64(s, 0));
      event.stream = Text(s, 1);
      event.revision = static_cast<uint64_t>(sqlite3_column_int64(s, 2));
      event.type = Text(s, 3);
      event.timestamp_us = sqlite3_column_int64(s, 4);
      event.data = Blob(s, 5);
      if (!on_event(event)) break;
    }
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    Release(*std::move(lease));
    return status;
  }

  absl::StatusOr<std::unique_ptr<Connection>> Connect() {
    auto connection = std::make_unique<Connection>();
    if (sqlite3_open_v2(path_.c_str(), &connection->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                            SQLITE_OPEN_NOMUTEX,
                        nullptr) != SQLITE_OK) {
      return Error(connection.get(), "opening");
    }
    sqlite3_busy_timeout(connection->db, 30000);
    std::string pragmas = absl::StrCat(
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=",
        durability_ == Durability::kSynced ? "FULL" : "OFF", ";");
    if (sqlite3_exec(connection->db, pragmas.c_str(), nullptr, nullptr, nullptr) !=
        SQLITE_OK) {
      return Error(connection.get(), "setting WAL mode");
    }
    return connection;
  }

  absl::Status Prepare(Connection* c) {
    struct Sql {
      sqlite3_stmt** statement;
      const char* text;
    };
    const Sql sql[] = {
        {&c->begin, "BEGIN IMMEDIATE"},
        {&c->commit, "COMMIT"},
        {&c->rollback, "ROLLBACK"},
        {&c->head,
         "SELECT COALESCE(MAX(sequence_nr), 0) FROM event_journal "
         "WHERE persistence_id = ?1"},
        {&c->insert_event,
         "INSERT INTO event_journal (persistence_id, sequence_nr, is_deleted, "
         "manifest, timestamp, payload, tags, serializer_id, writer_uuid) "
         "VALUES (?1, ?2, 0, ?3, ?4, ?5, NULL, 0, ?6)"},
        {&c->insert_tag,
         "INSERT INTO event_tag (ordering_id, tag, sequence_nr, persistence_id) "
         "VALUES (?1, ?2, ?3, ?4)"},
        {&c->read_stream,
         "SELECT ordering, persistence_id, sequence_nr, manifest, timestamp, payload "
         "FROM event_journal WHERE persistence_id = ?1 AND sequence_nr >= ?2 "
         "ORDER BY sequence_nr LIMIT ?3"},
        {&c->read_tag,
         "SELECT e.ordering, e.persistence_id, e.sequence_nr, e.manifest, "
         "e.timestamp, e.payload FROM event_tag t JOIN event_journal e "
         "ON e.ordering = t.ordering_id WHERE t.tag = ?1 AND t.ordering_id > ?2 "
         "ORDER BY t.ordering_id LIMIT ?3"},
        {&c->read_all,
         "SELECT ordering, persistence_id, sequence_nr, manifest, timestamp, payload "
         "FROM event_journal WHERE ordering > ?1 ORDER BY ordering LIMIT ?2"},
    };
    for (const Sql& s : sql) {
      if (sqlite3_prepare_v3(c->db, s.text, -1, SQLITE_PREPARE_PERSISTENT, s.statement,
                             nullptr) != SQLITE_OK) {
        return Error(c, absl::StrCat("preparing '", s.text, "'"));
      }
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::unique_ptr<Connection>> Acquire() {
    {
      std::lock_guard<std::mutex> lock(pool_mutex_);
      if (!pool_.empty()) {
        std::unique_ptr<Connection> c = std::move(pool_.back());
        pool_.pop_back();
        return c;
      }
    }
    auto c = Connect();
    if (!c.ok()) return c.status();
    absl::Status prepared = Prepare(c->get());
    if (!prepared.ok()) return prepared;
    return c;
  }

  void Release(std::unique_ptr<Connection> c) {
    std::lock_guard<std::mutex> lock(pool_mutex_);
    pool_.push_back(std::move(c));
  }

  std::string path_;
  Durability durability_ = Durability::kSynced;
  std::mutex write_mutex_;
  std::mutex pool_mutex_;
  std::vector<std::unique_ptr<Connection>> pool_;
};

}  // namespace

std::unique_ptr<Engine> NewSqliteEngine() { return std::make_unique<SqliteEngine>(); }

}  // namespace cairn::bench
