/*
 * TEST HEADER, not an ABI: cairn/plugin.h 2.0 as a hypothetical minor 2.1
 * would grow it. framework/tests/abi/cairn_plugin_2_0.h verbatim, plus one
 * field at the end of every growable struct and one function at the end of
 * every table (each named added_in_2_1), and CAIRN_ABI_MINOR 1. The growth
 * test builds fixture plugins and a host against both and drives them
 * across (framework/tests/abi/growth_*.cc).
 */
/*
 * Cairn plugin ABI, version 2.
 *
 * This header is the whole contract between a Cairn host and a plugin. It is
 * plain C so that a plugin built with another compiler or standard library
 * still loads.
 *
 * Rules (see docs/plugins.md for the long form):
 *  - A plugin library exports exactly one symbol, `cairn_plugin_entry`. The
 *    host calls it with the ABI range it supports (cairn_host_offer); the
 *    plugin answers with a descriptor whose `table` points at the function
 *    table of its kind.
 *  - Growth. Every struct that crosses the boundary begins with its own
 *    `uint32_t size` and only ever grows at the end; within one ABI major a
 *    minor version only appends fields (and functions at the end of a
 *    table); a major version may change anything. So that either side may be
 *    the newer one:
 *      * a reader touches a field only if `size` covers it (CAIRN_HAS_FIELD);
 *      * a sized struct is never passed as an array: batches are arrays of
 *        pointers (`const cairn_event* const* events`), each element with its
 *        own size;
 *      * an output struct is allocated by the caller, who sets `size`; the
 *        callee writes a field only if that size covers it (CAIRN_SET_FIELD)
 *        and never writes sizeof of its own struct;
 *      * a function table is read up to its `size`: a function past it is
 *        absent, exactly as a NULL one.
 *    The only structs without a size, cairn_bytes, cairn_option, cairn_error
 *    and cairn_buffer, are frozen for the life of ABI 2.
 *  - Threading. Each function says who may call it and what may run beside
 *    it. Where a function says nothing more, it may be called from any
 *    thread, concurrently with any function of the same instance except
 *    close. `close` is called once, when no other call on the instance is in
 *    flight; after it the instance pointer is dead.
 *  - Functions return a cairn_status and, on failure, write a NUL-terminated
 *    message into the caller's cairn_error buffer. No exception, no C++ type
 *    and no allocation crosses the boundary: memory is freed by the side that
 *    allocated it. Data a plugin hands to a callback is valid only during
 *    that call.
 *  - Options reach a plugin as key/value strings. A plugin describes every
 *    option it accepts (cairn_option_desc: key, type, default, allowed
 *    values, help) in its descriptor; the host rejects unknown keys and
 *    values that do not fit the type before open, naming section, key and
 *    what is allowed. Hosts never hard-code a plugin's option or name: what a
 *    host must know comes from capability flags.
 *  - Plugins log through the host (cairn_host_offer.log), never to stdout or
 *    stderr.
 *
 * Migrating from ABI 1: see "Migrating from ABI 1" in docs/plugins.md.
 */
#ifndef CAIRN_PLUGIN_H_
#define CAIRN_PLUGIN_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Versioning ------------------------------------------------------- */

#define CAIRN_PLUGIN_MAGIC 0x4352414Eu /* "CRAN" read big-endian: Cairn */
#define CAIRN_ABI_MAJOR 2
#define CAIRN_ABI_MINOR 1

/* True if a struct of `size` bytes holds the member `field` of `type`.
 * `ptr` may be NULL (false). The NULL check is in a function, so that
 * `CAIRN_HAS_FIELD(type, &reference, field)` in C++ does not trip
 * -Werror=nonnull-compare; `size` is every sized struct's first member. */
static inline int cairn_size_covers(const void* ptr, size_t end) {
  return ptr != NULL && (size_t)(*(const uint32_t*)ptr) >= end;
}
#define CAIRN_HAS_FIELD(type, ptr, field) \
  ((void)sizeof((ptr)->size),             \
   cairn_size_covers((ptr),               \
                     offsetof(type, field) + sizeof(((type*)0)->field)))

/* Writes `value` into the member `field` of a caller-allocated struct only if
 * the caller's declared size covers it. */
#define CAIRN_SET_FIELD(type, ptr, field, value) \
  do {                                           \
    if (CAIRN_HAS_FIELD(type, ptr, field)) {     \
      (ptr)->field = (value);                    \
    }                                            \
  } while (0)

#if defined(_WIN32)
#define CAIRN_PLUGIN_EXPORT __declspec(dllexport)
#else
#define CAIRN_PLUGIN_EXPORT __attribute__((visibility("default")))
#endif

/* ---- Status and errors ------------------------------------------------ */

typedef enum cairn_status {
  CAIRN_OK = 0,
  CAIRN_E_INVALID_ARGUMENT = 1,        /* the caller's input is malformed */
  CAIRN_E_NOT_FOUND = 2,               /* no such stream, snapshot, key, ... */
  CAIRN_E_WRONG_EXPECTED_REVISION = 3, /* optimistic concurrency conflict */
  CAIRN_E_CORRUPTION = 4,              /* stored bytes fail their checksum */
  CAIRN_E_INTEGRITY = 5,               /* authenticated decryption failed */
  CAIRN_E_IO = 6,                      /* the operating system refused */
  CAIRN_E_UNSUPPORTED = 7,             /* the plugin lacks this capability */
  CAIRN_E_CLOSED = 8,                  /* the instance is closed or closing */
  CAIRN_E_RESOURCE_EXHAUSTED = 9,      /* disk full, too large, out of memory */
  CAIRN_E_TIMEOUT = 10,                /* a wait ended without the condition */
  CAIRN_E_FAILED_PRECONDITION = 11,    /* state forbids it (e.g. replica) */
  CAIRN_E_INTERNAL = 12, /* a bug: the plugin broke its own rules */
  /* This node does not accept writes: it is a replica, or a primary that was
   * deposed while the call ran. The replication plugin's leader() names the
   * node that does (hosts attach it to the error they return). */
  CAIRN_E_NOT_LEADER = 13
} cairn_status;

/* The highest cairn_status this header defines. A host maps an unknown
 * higher code from a newer plugin to CAIRN_E_INTERNAL. */
#define CAIRN_STATUS_LAST CAIRN_E_NOT_LEADER

/* A caller-owned buffer for an error message. A plugin writes at most
 * `capacity` bytes including the terminating NUL, and truncates if needed. */
typedef struct cairn_error {
  char* message;
  size_t capacity;
} cairn_error;

/* ---- Plain values ----------------------------------------------------- */

/* Bytes that are not owned by the receiver. `data` may be NULL if size is 0. */
typedef struct cairn_bytes {
  const uint8_t* data;
  size_t size;
} cairn_bytes;

/* A key/value option from the site config, both NUL-terminated UTF-8. */
typedef struct cairn_option {
  const char* key;
  const char* value;
} cairn_option;

typedef struct cairn_options {
  const cairn_option* items;
  size_t count;
} cairn_options;

/* A growable output buffer owned by the caller. The callee appends at
 * `data + size`; when it needs room it calls `reserve(buffer, n)`, which makes
 * capacity - size >= n (and may move `data`) or returns non-zero on failure.
 * A call whose reserve fails fails too (with a message), never CAIRN_OK. */
typedef struct cairn_buffer {
  uint8_t* data;
  size_t size;
  size_t capacity;
  int (*reserve)(struct cairn_buffer* buffer, size_t additional);
  void* owner; /* for the caller's reserve() */
} cairn_buffer;

/* ---- Plugin kinds and the entry point --------------------------------- */

typedef enum cairn_plugin_kind {
  CAIRN_KIND_STORAGE = 1,
  CAIRN_KIND_CODEC = 2,
  CAIRN_KIND_CIPHER = 3,
  CAIRN_KIND_REPLICATION = 4
} cairn_plugin_kind;

/* Capability flags: optional features a plugin declares it has, and facts
 * about it a host needs. The conformance suite skips exactly the features a
 * plugin does not declare. */
#define CAIRN_CAP_PERSISTENT (1ull << 0)   /* storage: survives close/reopen */
#define CAIRN_CAP_LIVE_READS (1ull << 1)   /* storage: wait_commit works */
#define CAIRN_CAP_TAGS (1ull << 2)         /* storage: read_tag works */
#define CAIRN_CAP_SNAPSHOTS (1ull << 3)    /* storage: snapshot_* work */
#define CAIRN_CAP_DELETE (1ull << 4)       /* storage: delete_to works */
/* Storage: apply_log works (the replica side of the ordered log); needs
 * CAIRN_CAP_ORDERED_LOG, without which the host refuses the plugin. */
#define CAIRN_CAP_APPLY (1ull << 5)
#define CAIRN_CAP_KEY_ROTATION (1ull << 6) /* cipher: rotate works */
#define CAIRN_CAP_MULTI_NODE (1ull << 7)   /* replication: ships to peers */
/* Codec or cipher: leaves bytes unchanged. A host may skip calling it (no
 * envelope, no copy); events stored without it read back the same. */
#define CAIRN_CAP_PASSTHROUGH (1ull << 8)
/* Storage or replication: append (or replicate) may wait, e.g. for an fsync
 * or for replicas. A server runs such calls off its I/O threads. A storage
 * instance may clear this for itself (storage `instance_capabilities`, e.g.
 * when configured never to sync). */
#define CAIRN_CAP_APPEND_MAY_BLOCK (1ull << 9)
/* Storage: append honours cairn_append_request.seal (it always must in ABI
 * 2; the flag is there so a host can tell a 2.0 plugin that ignores it from
 * one that calls it, and the conformance suite checks it). */
#define CAIRN_CAP_SEAL_IN_APPEND (1ull << 10)
/* Storage: keeps one ordered log (see "The ordered log" below): delete_to
 * and snapshot writes are records in it, and read_log, apply_log and
 * log_state work. */
#define CAIRN_CAP_ORDERED_LOG (1ull << 11)
/* Storage: accepts the host-defined option "commit" = "host" and then
 * advances its committed watermark only through set_committed. */
#define CAIRN_CAP_HOST_COMMIT (1ull << 12)
/* Storage: truncate_after works. */
#define CAIRN_CAP_TRUNCATE (1ull << 13)
/* Storage: begin_epoch and epoch_end work. */
#define CAIRN_CAP_EPOCHS (1ull << 14)
/* Storage: append honours cairn_append_request.idempotency_key, the key is
 * stored with its batch (durable as the batch is), read_log returns it and
 * apply_log stores it (cairn_log_record.idempotency_key). */
#define CAIRN_CAP_IDEMPOTENT_APPEND (1ull << 15)

/* Log levels for the host's log callback. */
typedef enum cairn_log_level {
  CAIRN_LOG_DEBUG = 0,
  CAIRN_LOG_INFO = 1,
  CAIRN_LOG_WARN = 2,
  CAIRN_LOG_ERROR = 3
} cairn_log_level;

/* What the host offers when it calls cairn_plugin_entry. */
typedef struct cairn_host_offer {
  uint32_t size;
  uint16_t abi_major_min; /* oldest ABI major the host can drive */
  uint16_t abi_major_max; /* newest ABI major the host can drive */
  uint16_t abi_minor;     /* the host's minor within abi_major_max */
  uint16_t reserved;
  /* Optional: a sink for the plugin's log lines. May be NULL. Any thread,
   * concurrently; the host adds the plugin's name and a timestamp. */
  void (*log)(void* log_context, cairn_log_level level, const char* plugin,
              const char* message);
  void* log_context;
  uint64_t added_in_2_1; /* 2.1 */
} cairn_host_offer;

/* ---- Option descriptors ---------------------------------------------- */

/* How the host checks an option's value before open. */
typedef enum cairn_option_type {
  CAIRN_OPT_STRING = 1,   /* any UTF-8 text; the plugin checks it */
  CAIRN_OPT_UINT = 2,     /* decimal unsigned 64-bit integer */
  CAIRN_OPT_SIZE = 3,     /* a byte size: 4096, 64KiB, 256MiB, 1GiB, 10M */
  CAIRN_OPT_BOOL = 4,     /* true | false */
  CAIRN_OPT_ENUM = 5,     /* one of `allowed` */
  CAIRN_OPT_DURATION = 6, /* 250ms, 5s, 2m, 1h (a plain number is ms) */
  CAIRN_OPT_PATH = 7      /* a file or folder; site-file paths resolve
                             against the site file's folder */
} cairn_option_type;

/* Flags of an option descriptor. */
#define CAIRN_OPT_REQUIRED (1u << 0) /* open fails without it */
#define CAIRN_OPT_SECRET (1u << 1)   /* never print the value (print "***") */
/* Host-defined: the host fills the value in itself (see the storage options
 * "path" and "create"); a site file may set it too. */
#define CAIRN_OPT_HOST_DEFINED (1u << 2)

/* One option a plugin accepts. Static storage. */
typedef struct cairn_option_desc {
  uint32_t size;
  uint32_t type;              /* cairn_option_type */
  const char* key;            /* [a-z0-9][a-z0-9-]*, e.g. "segment-size" */
  const char* default_value;  /* the value used when unset; NULL: none */
  const char* const* allowed; /* ENUM: NULL-terminated list; else NULL */
  const char* help;           /* one line for `cairn plugin-info` */
  uint32_t flags;             /* CAIRN_OPT_* */
  const char* added_in_2_1;   /* 2.1 */
} cairn_option_desc;

/* The plugin's answer. Static storage: valid while the library is loaded. */
typedef struct cairn_plugin_descriptor {
  uint32_t size;
  uint32_t magic;          /* CAIRN_PLUGIN_MAGIC */
  uint16_t abi_major;      /* the major this descriptor and table follow */
  uint16_t abi_minor;      /* the minor the plugin was built against */
  uint32_t kind;           /* cairn_plugin_kind */
  const char* name;        /* unique per kind: [a-z0-9][a-z0-9-]*, at most 64 */
  const char* version;     /* the plugin's own version, e.g. "1.2.0" */
  const char* description; /* one line for `cairn plugins` */
  uint64_t capabilities;   /* CAIRN_CAP_* */
  /* NULL-terminated array of pointers to the options open() accepts. */
  const cairn_option_desc* const* options;
  /* Points at the table for `kind` (cairn_storage_api, ...), which begins
   * with its own uint32_t size. */
  const void* table;
  uint64_t added_in_2_1; /* 2.1 */
} cairn_plugin_descriptor;

/* The one exported symbol. Returns CAIRN_OK and sets *descriptor, or a
 * status with a message (for example CAIRN_E_UNSUPPORTED when the host's
 * ABI range holds no major the plugin implements). Called by the host once
 * per load, on one thread, before anything else. The descriptor's magic,
 * abi_major and size are at the same offsets in every major, so a host can
 * name the major of a plugin it cannot drive. */
typedef cairn_status (*cairn_plugin_entry_fn)(
    const cairn_host_offer* offer, const cairn_plugin_descriptor** descriptor,
    cairn_error* error);

#define CAIRN_PLUGIN_ENTRY_SYMBOL "cairn_plugin_entry"

/* ---- Events ------------------------------------------------------------ */

/* One event. On append storage reads type, timestamp_us, writer, tags and,
 * unless the request has a seal function, metadata and data; it ignores
 * stream, revision and position, which it assigns. It keeps timestamp_us as
 * given (the host stamps it; 0 is stored as 0). On read every field is
 * filled and points into plugin memory valid during the callback. */
typedef struct cairn_event {
  uint32_t size;
  uint32_t tag_count;
  cairn_bytes stream;      /* 1..255 bytes, no NUL, not a path; cairn/names.h */
  uint64_t revision;       /* 1-based, contiguous within the stream */
  uint64_t position;       /* the event's record in the ordered log */
  cairn_bytes type;        /* event type / manifest; may be empty */
  int64_t timestamp_us;    /* microseconds since the Unix epoch, UTC */
  cairn_bytes writer;      /* writer id; may be empty */
  cairn_bytes metadata;    /* opaque; may be empty */
  cairn_bytes data;        /* opaque; may be empty */
  const cairn_bytes* tags; /* tag_count tags, each as stream names are */
  uint64_t added_in_2_1;   /* 2.1 */
} cairn_event;

/* Expected revision for an append. */
typedef enum cairn_expected_kind {
  CAIRN_EXPECT_ANY = 0,       /* no check; never a conflict */
  CAIRN_EXPECT_NO_STREAM = 1, /* the stream has no events yet (head 0) */
  CAIRN_EXPECT_EXACT = 2      /* the stream's head revision is `revision` */
} cairn_expected_kind;

/* Produces the bytes storage keeps as the payload of event `index` of an
 * append, now that storage has fixed its revision: appends them to `out`
 * (a buffer storage owns; grow it through out->reserve). Storage stores
 * those bytes as the event's data and stores empty metadata.
 *
 * Storage calls it for index 0..count-1 in order, once each, on the thread
 * that called append, after it has fixed the batch's revisions and before it
 * publishes anything; the revisions are those the append will report. It
 * may run for several batches (of different streams, or of one stream one
 * after another) at once. While it runs, storage holds no lock that its
 * read, head, wait, list, snapshot and stats functions take (appends may
 * wait): the host may call those from inside it, but not append, apply_log
 * or delete_to. If it fails, the append fails with its
 * status and message, nothing is stored, and no revision or position is
 * used up. */
typedef cairn_status (*cairn_seal_fn)(void* context, size_t index,
                                      uint64_t revision, cairn_buffer* out,
                                      cairn_error* error);

/* One atomic append. Allocated by the host. */
typedef struct cairn_append_request {
  uint32_t size;
  uint32_t expected_kind;           /* cairn_expected_kind */
  uint64_t expected_revision;       /* for CAIRN_EXPECT_EXACT */
  cairn_bytes stream;               /* cairn/names.h */
  const cairn_event* const* events; /* count pointers; NULL if count is 0 */
  size_t count;
  cairn_seal_fn seal; /* NULL: store metadata and data as given */
  void* seal_context;
  /* 0..CAIRN_MAX_IDEMPOTENCY_KEY bytes chosen by the writer, the same on
   * every retry of one append; empty: none. Honoured with
   * CAIRN_CAP_IDEMPOTENT_APPEND (see append), ignored otherwise. */
  cairn_bytes idempotency_key;
  uint64_t added_in_2_1; /* 2.1 */
} cairn_append_request;

#define CAIRN_MAX_IDEMPOTENCY_KEY 64
/* How many of a stream's newest batches, at least, storage searches for an
 * append's idempotency key. */
#define CAIRN_IDEMPOTENCY_WINDOW 1024

/* Filled by storage up to the caller's `size` (CAIRN_SET_FIELD). */
typedef struct cairn_append_result {
  uint32_t size;
  uint64_t first_revision;
  uint64_t last_revision; /* the stream's head after the append */
  uint64_t first_position;
  uint64_t last_position;
  /* 1: the append repeated an earlier one's idempotency key; nothing was
   * written and the ranges above are that earlier batch's. 0 otherwise. */
  uint32_t repeated;
  /* With repeated: the epoch the earlier batch was written in (the newest
   * EPOCH record before it; 0 if none or without CAIRN_CAP_EPOCHS).
   * Otherwise 0: the host knows the epoch it admitted the append in. */
  uint64_t epoch;
  uint64_t added_in_2_1; /* 2.1 */
} cairn_append_result;

/* Called once per event, in order, on the thread that called the read.
 * Return 0 to go on, non-zero to stop. It may call read and head functions
 * of the same storage, not append or delete. */
typedef int (*cairn_event_fn)(void* context, const cairn_event* event);

/* Largest revision or position value; "to the end" in reads and delete_to. */
#define CAIRN_MAX_REVISION UINT64_MAX

/* ---- Snapshots --------------------------------------------------------- */

typedef struct cairn_snapshot {
  uint32_t size;
  cairn_bytes stream;
  uint64_t revision;
  int64_t timestamp_us;
  cairn_bytes data;
  uint64_t added_in_2_1; /* 2.1 */
} cairn_snapshot;

/* Inclusive bounds. A snapshot matches if min_revision <= revision <=
 * max_revision and min_timestamp_us <= timestamp_us <= max_timestamp_us. */
typedef struct cairn_snapshot_criteria {
  uint32_t size;
  uint64_t min_revision;
  uint64_t max_revision;
  int64_t min_timestamp_us;
  int64_t max_timestamp_us;
  uint64_t added_in_2_1; /* 2.1 */
} cairn_snapshot_criteria;

typedef int (*cairn_snapshot_fn)(void* context, const cairn_snapshot* snapshot);

/* ---- The ordered log ---------------------------------------------------- */

/* A storage keeps one log of records at 1-based, gap-free positions: every
 * event is a record, and so (with CAIRN_CAP_ORDERED_LOG) is every other
 * change a replica or a backup must carry. Copying records 1..N copies the
 * whole store; indexes and checkpoints are derived from them. Event reads
 * (read_stream, read_tag, read_all) return event records only, so the
 * positions they return always increase but skip those of control records
 * (and, unless asked, of deleted events).
 *
 * Three watermarks, each a position, committed <= durable <= written:
 *   written    every record at or below it is complete; read_log sees up to
 *              it. Appends may complete out of order; written is the end of
 *              the gap-free prefix.
 *   durable    synced as the storage's configured policy promises (with a
 *              policy that never syncs, durable = written).
 *   committed  what readers see: read_stream, read_tag, read_all,
 *              head_position, head_revision, wait_commit, list_streams and
 *              snapshot_load show records at or below it only. With the
 *              option "commit" = "durable" (the default) storage keeps
 *              committed = durable itself; with "commit" = "host" only
 *              set_committed advances it (the host does so once replication
 *              has acknowledged the records). A reopened store starts with
 *              committed at the last value it had made durable, at most
 *              durable.
 * Expected-revision checks see every written record, committed or not. */
typedef enum cairn_record_kind {
  CAIRN_RECORD_EVENT = 1,           /* one event of an atomic batch */
  CAIRN_RECORD_DELETE_TO = 2,       /* stream, revision (after clamping) */
  CAIRN_RECORD_SNAPSHOT_SAVE = 3,   /* stream, revision, timestamp_us, data */
  CAIRN_RECORD_SNAPSHOT_DELETE = 4, /* stream, criteria */
  CAIRN_RECORD_EPOCH = 5            /* epoch, data (the primary's id) */
} cairn_record_kind;

/* One record of the ordered log. Filled by storage for read_log (pointers
 * valid during the callback), or by the host for apply_log. Fields a kind
 * does not use are zero / empty / NULL. */
typedef struct cairn_log_record {
  uint32_t size;
  uint32_t kind;            /* cairn_record_kind */
  uint64_t position;        /* 1-based, gap-free over records */
  uint64_t epoch;           /* the epoch it was written in (EPOCH: the new one);
                               0 before any epoch began */
  uint32_t batch_size;      /* EVENT: events in its atomic batch; else 1 */
  uint32_t batch_index;     /* EVENT: 0-based index within the batch; else 0 */
  const cairn_event* event; /* EVENT: as stored (sealed), same position */
  cairn_bytes stream;       /* DELETE_TO, SNAPSHOT_SAVE, SNAPSHOT_DELETE */
  uint64_t revision;        /* DELETE_TO: deleted up to; SNAPSHOT_SAVE */
  int64_t timestamp_us;     /* SNAPSHOT_SAVE */
  cairn_bytes data;         /* SNAPSHOT_SAVE: its bytes; EPOCH: primary id */
  /* SNAPSHOT_DELETE: the snapshots it deleted (snapshot_delete of one
   * revision R is min = max = R and the full timestamp range). */
  const cairn_snapshot_criteria* criteria;
  /* EVENT, batch_index 0: the idempotency key the batch was appended with
   * (CAIRN_CAP_IDEMPOTENT_APPEND); empty otherwise. apply_log stores it. */
  cairn_bytes idempotency_key;
  uint64_t added_in_2_1; /* 2.1 */
} cairn_log_record;

/* Called once per record, in position order, on the reading thread. Return
 * 0 to go on, non-zero to stop. May call read, head and log_state
 * functions of the same storage. */
typedef int (*cairn_record_fn)(void* context, const cairn_log_record* record);

/* Filled by storage up to the caller's `size` (CAIRN_SET_FIELD). */
typedef struct cairn_log_state {
  uint32_t size;
  uint64_t first_position; /* oldest record still held (retention may have
                              dropped older ones); 0 if none is held */
  uint64_t written;
  uint64_t durable;
  uint64_t committed;
  uint64_t epoch; /* the current epoch: the newest EPOCH record's; 0: none */
  uint64_t added_in_2_1; /* 2.1 */
} cairn_log_state;

/* truncate_after flags. */
/* Allow cutting committed records (a deposed primary whose acknowledged
 * tail the new primary never received). Without it, a position below
 * committed fails with CAIRN_E_FAILED_PRECONDITION. */
#define CAIRN_TRUNCATE_COMMITTED (1u << 0)

/* ---- Streams directory and statistics ---------------------------------- */

typedef struct cairn_stream_info {
  uint32_t size;
  cairn_bytes name;
  uint64_t ordinal;       /* 1-based, in order of first append, gap-free */
  uint64_t head_revision; /* highest revision ever written */
  uint64_t deleted_to;    /* revisions <= this are logically deleted */
  uint64_t added_in_2_1;  /* 2.1 */
} cairn_stream_info;

typedef int (*cairn_stream_fn)(void* context, const cairn_stream_info* info);

/* One named counter or gauge, e.g. "segments" or "bytes_on_disk". */
typedef void (*cairn_stat_fn)(void* context, const char* name, double value);

/* One problem found by verify, e.g. "segment 00000003.log offset 4096:
 * checksum mismatch". */
typedef void (*cairn_problem_fn)(void* context, const char* description);

/* One change maintain made, e.g. "removed segment 00000001.log (positions
 * 1-1180, 268435456 bytes)". */
typedef void (*cairn_change_fn)(void* context, const char* description);

/* Host-defined storage option keys (CAIRN_OPT_HOST_DEFINED; see open). */
#define CAIRN_STORAGE_OPTION_PATH "path"
#define CAIRN_STORAGE_OPTION_CREATE "create"
/*   "commit"  "durable" (default) or "host" (CAIRN_CAP_HOST_COMMIT): who
 *             advances the committed watermark (see "The ordered log").
 *             Hosts pass "host" when the site's replication plugin declares
 *             CAIRN_CAP_MULTI_NODE, else "durable". */
#define CAIRN_STORAGE_OPTION_COMMIT "commit"

/* Repair (by convention, no new entry): a persistent storage plugin that
 * refuses to open damaged data may accept the option key "repair" (a
 * CAIRN_OPT_BOOL, default false). With "repair = true" its open
 * repairs what it would otherwise refuse (listing what it drops, keeping a
 * copy of what it changes), and its verify reports each thing repaired
 * first, as a description beginning with CAIRN_VERIFY_REPAIRED_PREFIX; hosts
 * print those as done, not as problems, and do not count them.
 * `cairn verify --repair` sets the option. */
#define CAIRN_STORAGE_OPTION_REPAIR "repair"
#define CAIRN_VERIFY_REPAIRED_PREFIX "repaired: "

/* ---- Storage ----------------------------------------------------------- */

typedef struct cairn_storage cairn_storage; /* opaque plugin instance */

/* Threading: every function may be called from any thread, concurrently
 * with every other (appends to one stream are ordered by storage), except
 * open and close: close is called once, when no other call is in flight. A
 * function the plugin's capabilities leave out may be NULL or return
 * CAIRN_E_UNSUPPORTED. */
typedef struct cairn_storage_api {
  uint32_t size;

  /* Opens a store, creating it if needed and allowed. Persistent plugins
   * take the option "path", a directory, and refuse (open fails) a store
   * another process has open.
   *
   * Host-defined options: the host fills these keys in itself, and only for
   * a plugin that describes them among its options (a site file may set
   * them too):
   *   "path"    the site's [store] path, unless [storage] path is set.
   *   "create"  "true" or "false". "false": open only a store that exists;
   *             where there is none (a missing or empty folder), fail with
   *             CAIRN_E_NOT_FOUND and create nothing. Hosts pass "false" for
   *             commands that only read. The host's "false" overrides a
   *             site's "true", and a site's "false" (never make a store
   *             here) overrides the host's "true". It does not make the
   *             open read-only: the plugin may still recover or adopt an
   *             existing store.
   * A plugin that does not list "create" never receives it and may create a
   * store on any open (the memory plugin, which has nothing to create). */
  cairn_status (*open)(const cairn_options* options, cairn_storage** storage,
                       cairn_error* error);
  void (*close)(cairn_storage* storage);

  /* Appends request->count events to request->stream as one atomic batch:
   * afterwards all are visible or, also after a crash, none is. With a wrong
   * expected revision returns CAIRN_E_WRONG_EXPECTED_REVISION and writes
   * nothing; CAIRN_EXPECT_ANY never conflicts, seal or not. count may be 0
   * (checks expected only; the result holds empty ranges: first_revision =
   * head + 1, last_revision = head, first_position = head_position + 1,
   * last_position = head_position). With request->seal set, storage fixes the
   * revisions first and then has every event sealed (cairn_seal_fn). Fills
   * *result up to result->size. Returns only once the events have the
   * durability the plugin is configured for. Concurrent appends to different
   * streams proceed in parallel; to one stream they are ordered.
   *
   * Idempotency (CAIRN_CAP_IDEMPOTENT_APPEND): with a non-empty
   * request->idempotency_key and count > 0, if one of the stream's newest
   * CAIRN_IDEMPOTENCY_WINDOW batches (or more) was appended, or applied by
   * apply_log, with the same key, storage writes nothing, skips the expected
   * revision check (the earlier append passed it; the stream may have moved
   * on since) and fills the result with that batch's ranges, repeated = 1
   * and its epoch, returning once that batch has the durability a new
   * append would have. Storage does not compare the events: one key names
   * one append. Of two appends with one key racing on one stream, exactly
   * one writes. Keys survive close and reopen as their batches do; a batch
   * removed by truncate_after or retention takes its key with it. A key
   * longer than CAIRN_MAX_IDEMPOTENCY_KEY fails with
   * CAIRN_E_INVALID_ARGUMENT. */
  cairn_status (*append)(cairn_storage* storage,
                         const cairn_append_request* request,
                         cairn_append_result* result, cairn_error* error);

  /* Events of `stream` with from <= revision <= to, at most max_count
   * (0: none), in revision order, skipping logically deleted ones, up to the
   * committed watermark at the time of the call. An unknown stream yields no
   * event and CAIRN_OK. */
  cairn_status (*read_stream)(cairn_storage* storage, cairn_bytes stream,
                              uint64_t from_revision, uint64_t to_revision,
                              uint64_t max_count, cairn_event_fn on_event,
                              void* context, cairn_error* error);

  /* Events carrying `tag` with position > after_position, in position order,
   * at most max_count (0: none), skipping logically deleted ones, up to the
   * committed watermark at the time of the call. */
  cairn_status (*read_tag)(cairn_storage* storage, cairn_bytes tag,
                           uint64_t after_position, uint64_t max_count,
                           cairn_event_fn on_event, void* context,
                           cairn_error* error);

  /* Every event with position > after_position, in position order, at most
   * max_count (0: none), up to the committed watermark at the time of the
   * call. Logically deleted events are skipped unless include_deleted
   * (replication ships them). */
  cairn_status (*read_all)(cairn_storage* storage, uint64_t after_position,
                           uint64_t max_count, int include_deleted,
                           cairn_event_fn on_event, void* context,
                           cairn_error* error);

  /* The stream's highest committed revision (0 if none). Never goes down,
   * also after delete_to (truncate_after may lower it). */
  cairn_status (*head_revision)(cairn_storage* storage, cairn_bytes stream,
                                uint64_t* revision, cairn_error* error);

  /* The committed watermark (see "The ordered log"): the highest position
   * visible to readers. It may be a control record's. */
  cairn_status (*head_position)(cairn_storage* storage, uint64_t* position,
                                cairn_error* error);

  /* Blocks until the watermark exceeds after_position, timeout_ms elapses
   * (CAIRN_E_TIMEOUT) or the store closes (CAIRN_E_CLOSED). Wakes on commit,
   * not by polling: it returns within 1 s of the commit that ends its wait,
   * whatever its timeout (the conformance suite's bound). Sets *position to
   * the committed watermark. A reopened
   * persistent store starts with the watermark it had (head_position > 0:
   * wait_commit(after_position = 0) returns at once). */
  cairn_status (*wait_commit)(cairn_storage* storage, uint64_t after_position,
                              uint32_t timeout_ms, uint64_t* position,
                              cairn_error* error);

  /* Logically deletes revisions <= revision (CAIRN_MAX_REVISION: all); a
   * revision past the head deletes to the head. The head revision is kept.
   * Deleting an unknown stream is CAIRN_OK. */
  cairn_status (*delete_to)(cairn_storage* storage, cairn_bytes stream,
                            uint64_t revision, cairn_error* error);

  /* Saves a snapshot; one at the same (stream, revision) is replaced. */
  cairn_status (*snapshot_save)(cairn_storage* storage,
                                const cairn_snapshot* snapshot,
                                cairn_error* error);
  /* Calls on_snapshot once with the matching snapshot of highest revision
   * (ties: newest timestamp), or not at all. */
  cairn_status (*snapshot_load)(cairn_storage* storage, cairn_bytes stream,
                                const cairn_snapshot_criteria* criteria,
                                cairn_snapshot_fn on_snapshot, void* context,
                                cairn_error* error);
  /* Deletes the snapshot at (stream, revision); none there is CAIRN_OK. */
  cairn_status (*snapshot_delete)(cairn_storage* storage, cairn_bytes stream,
                                  uint64_t revision, cairn_error* error);
  /* Deletes every snapshot of `stream` matching criteria. */
  cairn_status (*snapshot_delete_matching)(
      cairn_storage* storage, cairn_bytes stream,
      const cairn_snapshot_criteria* criteria, cairn_error* error);

  /* Streams with ordinal > after_ordinal, in ordinal order, at most
   * max_count (0: none). */
  cairn_status (*list_streams)(cairn_storage* storage, uint64_t after_ordinal,
                               uint64_t max_count, cairn_stream_fn on_stream,
                               void* context, cairn_error* error);

  /* Makes everything appended so far durable. */
  cairn_status (*flush)(cairn_storage* storage, cairn_error* error);

  /* Reports named counters and gauges. */
  cairn_status (*stats)(cairn_storage* storage, cairn_stat_fn on_stat,
                        void* context, cairn_error* error);

  /* Checks every stored record (checksums, structure, indexes) without
   * changing anything, reports each problem through on_problem and returns
   * CAIRN_E_CORRUPTION if there was one. Non-persistent plugins may return
   * CAIRN_OK at once. */
  cairn_status (*verify)(cairn_storage* storage, cairn_problem_fn on_problem,
                         void* context, cairn_error* error);

  /* The capabilities of this open instance. The host uses the descriptor's
   * capabilities AND this value, so an instance can only narrow them by its
   * options (e.g. a storage configured never to sync clears
   * CAIRN_CAP_APPEND_MAY_BLOCK). NULL: the descriptor's. Lock-free. */
  uint64_t (*instance_capabilities)(cairn_storage* storage);

  /* ---- The ordered log (CAIRN_CAP_ORDERED_LOG unless noted) ---- */

  /* Records with position > after_position, in position order, at most
   * max_count (0: none), up to the written watermark at the time of the
   * call: events (deleted ones too, as stored) and control records. This is
   * what replication ships and backup copies. A position below
   * first_position fails with CAIRN_E_NOT_FOUND (retention dropped it). */
  cairn_status (*read_log)(cairn_storage* storage, uint64_t after_position,
                           uint64_t max_count, cairn_record_fn on_record,
                           void* context, cairn_error* error);

  /* Replica side: writes records exactly as read_log returned them on the
   * primary, at the same positions. The first must be at written + 1 and
   * positions contiguous; event records must continue their stream's
   * revisions, come with their whole batch in one call, and carry the epoch
   * of the newest EPOCH record before them. Otherwise
   * CAIRN_E_FAILED_PRECONDITION and nothing is written. Returns once the
   * records have the durability the storage is configured for. Calls are
   * serialised by the host; appends, delete_to and snapshot writes do not
   * run beside it (a replica refuses them). */
  cairn_status (*apply_log)(cairn_storage* storage,
                            const cairn_log_record* const* records,
                            size_t count, cairn_error* error);

  /* The watermarks and epoch, filled up to state->size. Lock-free. */
  cairn_status (*log_state)(cairn_storage* storage, cairn_log_state* state,
                            cairn_error* error);

  /* CAIRN_CAP_HOST_COMMIT, with "commit" = "host": advances committed to
   * `position` (a lower one than committed is a no-op). Past durable fails
   * with CAIRN_E_FAILED_PRECONDITION; with "commit" = "durable" it always
   * does. Wakes wait_commit. Any thread, concurrently with everything. */
  cairn_status (*set_committed)(cairn_storage* storage, uint64_t position,
                                cairn_error* error);

  /* CAIRN_CAP_TRUNCATE: removes every record with position > `position`
   * and everything derived from them (indexes, stream heads, tags,
   * deletes, snapshots, epochs, checkpoints); the watermarks become at most
   * `position`. Below committed needs CAIRN_TRUNCATE_COMMITTED. Crash-safe:
   * after a crash at any step, reopening yields the whole cut or none of it.
   * The host calls it while no append, apply_log, delete_to or snapshot
   * write runs; reads may run beside it and see the log before or after. */
  cairn_status (*truncate_after)(cairn_storage* storage, uint64_t position,
                                 uint32_t flags, cairn_error* error);

  /* CAIRN_CAP_EPOCHS: appends an EPOCH record starting `epoch` (which must
   * exceed the current one, else CAIRN_E_FAILED_PRECONDITION), written by
   * `primary`; later records carry it. Sets *position to its position. A
   * new primary calls it before accepting appends. Runs like an append. */
  cairn_status (*begin_epoch)(cairn_storage* storage, uint64_t epoch,
                              cairn_bytes primary, uint64_t* position,
                              cairn_error* error);

  /* CAIRN_CAP_EPOCHS: sets *position to the position of the last written
   * record whose epoch is <= `epoch` (0 if none). A node rejoining after a
   * failover asks the new primary for the end of its own last epoch and
   * truncates after it: that is where the two logs diverge. */
  cairn_status (*epoch_end)(cairn_storage* storage, uint64_t epoch,
                            uint64_t* position, cairn_error* error);

  /* ---- Maintenance ---- */

  /* Runs now, on the calling thread, the maintenance the storage otherwise
   * runs on its own schedule (retention removing what its options let go,
   * index checkpoints, ...) and returns when it is done. Reports each
   * change it made through on_change, one line each (nothing when there
   * was nothing to do). Never removes what its options keep: with no
   * retention configured, every record stays readable. Any thread, beside
   * appends and reads; concurrent calls are serialised by the storage.
   * NULL: the storage has no maintenance to run (the host answers
   * CAIRN_E_UNSUPPORTED). */
  cairn_status (*maintain)(cairn_storage* storage, cairn_change_fn on_change,
                           void* context, cairn_error* error);
  uint64_t (*added_in_2_1)(cairn_storage* instance); /* 2.1 */
} cairn_storage_api;

/* ---- Codec ------------------------------------------------------------- */

typedef struct cairn_codec cairn_codec;

/* Threading: encode and decode may run on any threads, concurrently with
 * each other and themselves; close runs alone. */
typedef struct cairn_codec_api {
  uint32_t size;
  cairn_status (*open)(const cairn_options* options, cairn_codec** codec,
                       cairn_error* error);
  void (*close)(cairn_codec* codec);
  /* Appends the encoding of `input` to `output`, and nothing else; decode
   * of it appends exactly `input`. */
  cairn_status (*encode)(cairn_codec* codec, cairn_bytes input,
                         cairn_buffer* output, cairn_error* error);
  /* Appends the decoding of `input` to `output`. Input that is not exactly
   * this codec's output (a changed byte anywhere, a cut, trailing bytes)
   * fails with CAIRN_E_CORRUPTION, never a crash and never wrong bytes (a
   * changed bit the format ignores may decode to the same bytes). On
   * failure the buffer holds nothing new: output->size is left as it was
   * and so are the bytes between size and capacity (decode elsewhere and
   * copy once the input checked out). Encode and decode write only into
   * space reserved through output->reserve (or capacity already there). */
  cairn_status (*decode)(cairn_codec* codec, cairn_bytes input,
                         cairn_buffer* output, cairn_error* error);
  uint64_t (*added_in_2_1)(cairn_codec* instance); /* 2.1 */
} cairn_codec_api;

/* ---- Cipher ------------------------------------------------------------ */

typedef struct cairn_cipher cairn_cipher;

/* Threading: seal, open_sealed and rotate may run on any threads,
 * concurrently with each other and themselves. A rotate running beside a
 * seal makes that seal use either the old or the new key (and report which);
 * every key ever active keeps opening. close runs alone. */
typedef struct cairn_cipher_api {
  uint32_t size;
  cairn_status (*open)(const cairn_options* options, cairn_cipher** cipher,
                       cairn_error* error);
  void (*close)(cairn_cipher* cipher);
  /* Encrypts and authenticates `plaintext` and `associated` under the active
   * key with a fresh nonce, appends the result (nonce and tag included) to
   * `output` and sets *key_id to the key used. Thread-safe. */
  cairn_status (*seal)(cairn_cipher* cipher, cairn_bytes associated,
                       cairn_bytes plaintext, cairn_buffer* output,
                       uint32_t* key_id, cairn_error* error);
  /* Reverses seal with key `key_id`. Any change to the sealed bytes, the
   * associated data or the key fails with CAIRN_E_INTEGRITY; an unknown key
   * id with CAIRN_E_NOT_FOUND; bytes after a sealed value count as a
   * change. Never outputs unauthenticated bytes: on failure the buffer holds
   * nothing new, output->size and the bytes between size and capacity are
   * left as they were. Seal and open_sealed write only into space reserved
   * through output->reserve. */
  cairn_status (*open_sealed)(cairn_cipher* cipher, uint32_t key_id,
                              cairn_bytes associated, cairn_bytes sealed,
                              cairn_buffer* output, cairn_error* error);
  /* Makes a new key active for seal; older keys keep opening. Optional
   * (CAIRN_CAP_KEY_ROTATION). Sets *key_id to the new key. */
  cairn_status (*rotate)(cairn_cipher* cipher, uint32_t* key_id,
                         cairn_error* error);
  uint64_t (*added_in_2_1)(cairn_cipher* instance); /* 2.1 */
} cairn_cipher_api;

/* ---- Replication ------------------------------------------------------- */

typedef struct cairn_replication cairn_replication;

typedef enum cairn_replication_role {
  CAIRN_ROLE_PRIMARY = 1, /* accepts appends */
  CAIRN_ROLE_REPLICA = 2, /* applies what a primary ships; refuses appends */
  CAIRN_ROLE_STANDALONE = 3
} cairn_replication_role;

/* Lengths of the text fields of cairn_leader_info, NUL included. */
#define CAIRN_LEADER_NODE_MAX 64
#define CAIRN_LEADER_ADDRESS_MAX 256

/* Who leads the group, as this node knows it. Caller-allocated; the plugin
 * fills fields up to `size` (CAIRN_SET_FIELD; the arrays only if `size`
 * covers them whole). The text is copied into the struct, so it stays valid
 * as long as the caller keeps the struct (no lifetime tied to the plugin). */
typedef struct cairn_leader_info {
  uint32_t size;
  uint32_t role;  /* this node's role (cairn_replication_role), read together
                     with the rest, so the answer is one consistent view */
  uint64_t epoch; /* the newest epoch this node knows; 0: none began yet */
  /* 1 if a leader is known, else 0: an election is under way or the
   * primary is unreachable. A standalone node leads itself: 1, and node may
   * be empty. */
  uint32_t known;
  /* The leader's node id, NUL-terminated UTF-8 (truncated to fit). */
  char node[CAIRN_LEADER_NODE_MAX];
  /* The leader's client-facing address ("host:port" of its server, as that
   * node's options advertise it), NUL-terminated; empty if the plugin does
   * not know one (embedded use: no server). */
  char address[CAIRN_LEADER_ADDRESS_MAX];
  uint64_t added_in_2_1; /* 2.1 */
} cairn_leader_info;

/* Callbacks the host gives a replication plugin at open. Every write that
 * changes the log outside the host's own appends (truncate_after,
 * begin_epoch, and every change of role) is bracketed by the plugin with
 * pause_writes ... resume_writes, so no host append, delete or snapshot
 * write is inside storage while the log changes under it.
 *
 * Host writes in flight when the plugin pauses: pause_writes waits for the
 * host's appends, deletes and snapshot writes that are inside storage or
 * inside replicate to return. A plugin that pauses because it lost the
 * primary role must first make its pending replicate calls return (with
 * CAIRN_E_NOT_LEADER; see replicate), or pause_writes waits for them
 * forever. */
typedef struct cairn_replication_host {
  uint32_t size;
  void* context; /* passed back as the first argument of every callback */
  /* Stops the host admitting new appends, delete_to and snapshot writes
   * (they wait at the host, not in the plugin, until resume_writes), then
   * waits until every such write already admitted has returned from storage
   * and from replicate. Returns CAIRN_OK once writes are quiet, or
   * CAIRN_E_CLOSED if the host is closing (then writes are not paused and
   * resume_writes must not be called). Pauses nest: each successful
   * pause_writes is matched by one resume_writes.
   * Threading: from a thread of the plugin, or from within open (where no
   * write is in flight yet and it returns at once); never from inside
   * replicate, role, leader, stats or promote (a host thread in there may
   * hold a write the pause waits for: deadlock). */
  cairn_status (*pause_writes)(void* context, cairn_error* error);
  /* Ends one pause_writes; when the last ends, waiting writes go on, seeing
   * the role reported by role() now. Same threads as pause_writes. */
  void (*resume_writes)(void* context);
  /* Tells the host that this node's role or epoch changed (role() and
   * leader() already answer the new values). Only while writes are paused.
   * The host re-reads log_state and restarts its commit tracking from the
   * committed watermark; on a new primary it then offers every record after
   * committed (the tail it holds from its replica days and its EPOCH record)
   * to replicate and advances committed once the rule holds for them, as at
   * open. Returns quickly: that work runs on a host thread after
   * resume_writes. Same threads as pause_writes. */
  void (*role_changed)(void* context, uint32_t role, uint64_t epoch);
  uint64_t (*added_in_2_1)(void* context); /* 2.1 */
} cairn_replication_host;

/* Threading: as each function says; close runs alone. */
typedef struct cairn_replication_api {
  uint32_t size;
  /* Opens replication over an already open storage instance, which stays
   * owned by the host and outlives the replication instance. The plugin may
   * call the storage table from its own threads (truncate_after, begin_epoch
   * and apply_log only between pause_writes and resume_writes, or as a
   * replica, whose host admits no writes). `host` (never NULL; read it up to
   * its size) stays valid until close returns; its callbacks may be called
   * from the start of open until close returns. */
  cairn_status (*open)(const cairn_options* options,
                       const cairn_storage_api* storage_api,
                       cairn_storage* storage,
                       const cairn_replication_host* host,
                       cairn_replication** replication, cairn_error* error);
  /* Ends the plugin's threads; none calls the host after close returns. */
  void (*close)(cairn_replication* replication);
  /* Called after storage made positions first..last durable; returns when
   * the site's acknowledgement rule holds for them (e.g. a quorum has them).
   * With a CAIRN_CAP_MULTI_NODE plugin the host opens storage with "commit"
   * = "host" and calls set_committed once every position up to `last` has
   * been acknowledged.
   * Called from every appending thread, concurrently, with ranges that may
   * arrive out of position order.
   * Deposed while waiting: if this node stops being primary (a newer epoch
   * began elsewhere, or promote ran on another node) while a call waits,
   * the call returns CAIRN_E_NOT_LEADER and its positions are never
   * acknowledged by this node; the new primary decides whether they survive.
   * A call on a replica returns CAIRN_E_NOT_LEADER at once. first_position
   * > last_position fails with CAIRN_E_INVALID_ARGUMENT and a message.
   * Any other failure also leaves the positions unacknowledged.
   * Idempotent per position: the host may call it again for positions it
   * already passed (at open it offers the durable but uncommitted tail
   * again, and retries a range whose call failed), so a position already
   * shipped or acknowledged must be acknowledged again, never shipped or
   * counted twice. */
  cairn_status (*replicate)(cairn_replication* replication,
                            uint64_t first_position, uint64_t last_position,
                            cairn_error* error);
  /* The node's current role (cairn_replication_role). Any thread,
   * concurrently with everything; must not block (called on every append). */
  uint32_t (*role)(cairn_replication* replication);
  /* Any thread, concurrently. Multi-node plugins report their members
   * here, e.g. "member.<node>.position", "member.<node>.lag_positions". */
  cairn_status (*stats)(cairn_replication* replication, cairn_stat_fn on_stat,
                        void* context, cairn_error* error);
  /* Fills *info with this node's role and the leader it knows (see
   * cairn_leader_info). Any thread, concurrently with everything; must not
   * block on the network (answers from what the node knows). */
  cairn_status (*leader)(cairn_replication* replication,
                         cairn_leader_info* info, cairn_error* error);
  /* Makes this node the primary of a new epoch (an operator's decision, for
   * coordinators without elections, e.g. a static peer list). Refuses with
   * CAIRN_E_FAILED_PRECONDITION, naming the peer and positions, when a peer
   * it knows holds records this node lacks (it is behind); a node that is
   * already primary returns CAIRN_OK. A single-node plugin returns
   * CAIRN_E_UNSUPPORTED saying so. Runs on the caller's thread and may block
   * while it pauses writes, writes begin_epoch and calls role_changed: never
   * call it from inside a host callback. */
  cairn_status (*promote)(cairn_replication* replication, cairn_error* error);
  uint64_t (*added_in_2_1)(cairn_replication* instance); /* 2.1 */
} cairn_replication_api;

/* ---- Entry ------------------------------------------------------------- */

/* Each plugin library defines this (the SDK's export macros do it). */
CAIRN_PLUGIN_EXPORT cairn_status cairn_plugin_entry(
    const cairn_host_offer* offer, const cairn_plugin_descriptor** descriptor,
    cairn_error* error);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* CAIRN_PLUGIN_H_ */
