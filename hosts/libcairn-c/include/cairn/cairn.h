/* libcairn-c: a C API that embeds a Cairn store in any process.
 *
 * It is what .NET P/Invoke binds (Akka.Persistence.Cairn's embedded mode),
 * and what any other language would. The library links the framework and
 * every built-in plugin statically, so it runs with no plugin files beside
 * it. Plugin files are found by the search order every host uses
 * (cairn/plugin_search.h, docs/architecture.md): each folder of
 * $CAIRN_PLUGIN_DIR, the site file's [store] plugin-dirs (relative folders
 * taken from the site file's folder), the installed plugin folder
 * (<libdir>/cairn/plugins, e.g. /usr/lib/x86_64-linux-gnu/cairn/plugins),
 * then the build tree's (<folder of this library>/../plugins).
 *
 * Rules that hold for every function:
 *  - Versioned like the plugin ABI: a caller checks cairn_c_abi_version()
 *    (major in the high 16 bits, minor in the low 16). A major change breaks
 *    callers; a minor one only adds functions or grows structs at the end.
 *  - Every function that can fail returns a cairn_status (see
 *    cairn/plugin.h) and, when `error` is not NULL, writes a NUL-terminated
 *    message saying what was wrong into error->message (at most
 *    error->capacity bytes, truncated if longer). On CAIRN_OK the message is
 *    left empty.
 *  - The value types are the plugin ABI's own (cairn_bytes, cairn_event,
 *    cairn_append_result, cairn_snapshot, cairn_snapshot_criteria,
 *    cairn_stream_info, cairn_expected_kind): strings and byte strings are
 *    cairn_bytes (pointer, length) pairs that need no NUL (names must be
 *    UTF-8 without NUL, as the store requires); a NULL pointer with size 0
 *    is the empty string. Structs that begin with `size` are filled by the
 *    caller with sizeof() as it knows them.
 *  - Data handed to a callback is valid only during that call; copy what
 *    you keep. As in the plugin ABI, a callback returns 0 to go on and
 *    non-zero to stop early. Callbacks run on the calling thread, before the
 *    function returns.
 *  - A cairn_store is thread-safe: any number of threads may call any
 *    function on it at once, except cairn_store_close, which the caller must
 *    not race with other calls on the same store (and which must come after
 *    every subscription of that store is closed).
 *  - Nothing allocated by the library is freed by the caller, and the
 *    reverse: stores and subscriptions have their own close functions.
 */
#ifndef CAIRN_CAIRN_H_
#define CAIRN_CAIRN_H_

#include <cairn/plugin.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#define CAIRN_C_EXPORT __declspec(dllexport)
#else
#define CAIRN_C_EXPORT __attribute__((visibility("default")))
#endif

#define CAIRN_C_ABI_MAJOR 1
#define CAIRN_C_ABI_MINOR 2

/* (CAIRN_C_ABI_MAJOR << 16) | CAIRN_C_ABI_MINOR of the loaded library. */
CAIRN_C_EXPORT uint32_t cairn_c_abi_version(void);

/* "Cairn <version>" and the built-in plugins, one line, static storage. */
CAIRN_C_EXPORT const char* cairn_c_describe(void);

/* A stable name for a status: "WrongExpectedRevision", "Corruption", ... */
CAIRN_C_EXPORT const char* cairn_c_status_name(cairn_status code);

typedef struct cairn_store cairn_store;
typedef struct cairn_subscription cairn_subscription;

/* ---- Open and close ---------------------------------------------------- */

/* Opens a store. `site_file` is a path to a site file (INI, see
 * cairn/config.h) or NULL for the defaults (mmaplog storage at ./data,
 * identity codec, no cipher, no replication). Each of the `override_count`
 * NUL-terminated `overrides` is "section.key=value" and is applied after the
 * file, as a command-line flag would be ("store.path=/var/lib/x",
 * "storage.plugin=memory", "storage.fsync=never"). An unknown section, key
 * or plugin is CAIRN_E_INVALID_ARGUMENT / CAIRN_E_NOT_FOUND naming it, and
 * so is (CAIRN_E_INVALID_ARGUMENT) a folder of $CAIRN_PLUGIN_DIR or
 * [store] plugin-dirs that does not exist. Relative paths in the site file
 * are taken from its folder; those in overrides, from the current one.
 * On success *store is set; close it with cairn_store_close. */
CAIRN_C_EXPORT cairn_status cairn_store_open(const char* site_file,
                                             const char* const* overrides,
                                             size_t override_count,
                                             cairn_store** store,
                                             cairn_error* error);

/* Flushes and closes. NULL is a no-op. See the threading rule above. */
CAIRN_C_EXPORT void cairn_store_close(cairn_store* store);

/* Makes every acknowledged append durable as the storage defines it. */
CAIRN_C_EXPORT cairn_status cairn_store_flush(cairn_store* store,
                                              cairn_error* error);

/* ---- Append -------------------------------------------------------------- */

/* Appends `count` events to `stream` as one atomic batch. `events` is an
 * array of `count` pointers (C API 1.1), so each event carries its own size
 * and a caller built against a later minor, whose cairn_event is larger,
 * still works. Of each event only size, type, data, metadata, writer, tags
 * and timestamp_us (0: the store stamps the current time) are read; `size`
 * must be at least the ABI 2.0 cairn_event. The batch is atomic: all of it
 * becomes visible or none. A head that does not match (`expected_kind`,
 * `expected_revision`) is CAIRN_E_WRONG_EXPECTED_REVISION and writes
 * nothing; CAIRN_EXPECT_ANY never conflicts. `result` may be NULL; it is
 * filled only as far as result->size declares. */
CAIRN_C_EXPORT cairn_status cairn_append_events(
    cairn_store* store, cairn_bytes stream, cairn_expected_kind expected_kind,
    uint64_t expected_revision, const cairn_event* const* events, size_t count,
    cairn_append_result* result, cairn_error* error);

/* C API 1.0's form of cairn_append_events: `events` is an array of structs,
 * whose stride is this library's sizeof(cairn_event), so a caller built
 * against another size cannot use it. Kept for 1.0 callers; new code calls
 * cairn_append_events. */
CAIRN_C_EXPORT cairn_status cairn_append(cairn_store* store, cairn_bytes stream,
                                         cairn_expected_kind expected_kind,
                                         uint64_t expected_revision,
                                         const cairn_event* events,
                                         size_t count,
                                         cairn_append_result* result,
                                         cairn_error* error);

/* ---- Reads ----------------------------------------------------------------- */

/* Events of `stream` with from <= revision <= to, at most `max_count`,
 * skipping deleted ones, in revision order. An unknown stream yields none
 * and CAIRN_OK. */
CAIRN_C_EXPORT cairn_status cairn_read_stream(
    cairn_store* store, cairn_bytes stream, uint64_t from_revision,
    uint64_t to_revision, uint64_t max_count, cairn_event_fn on_event,
    void* context, cairn_error* error);

/* Events tagged `tag` with position > after_position, in position order. */
CAIRN_C_EXPORT cairn_status cairn_read_tag(cairn_store* store, cairn_bytes tag,
                                           uint64_t after_position,
                                           uint64_t max_count,
                                           cairn_event_fn on_event,
                                           void* context, cairn_error* error);

/* Every event with position > after_position, in position order. */
CAIRN_C_EXPORT cairn_status cairn_read_all(cairn_store* store,
                                           uint64_t after_position,
                                           uint64_t max_count,
                                           cairn_event_fn on_event,
                                           void* context, cairn_error* error);

/* The stream's highest revision ever appended (0 for an unknown stream); it
 * never goes down, also after cairn_delete_to. */
CAIRN_C_EXPORT cairn_status cairn_head_revision(cairn_store* store,
                                                cairn_bytes stream,
                                                uint64_t* revision,
                                                cairn_error* error);

/* The highest committed position (0 for an empty store). */
CAIRN_C_EXPORT cairn_status cairn_head_position(cairn_store* store,
                                                uint64_t* position,
                                                cairn_error* error);

/* This node's replication role and the leader it knows (C API 1.2):
 * `info` is caller-allocated with info->size = sizeof(cairn_leader_info)
 * (cairn/plugin.h); fields are filled as far as that size covers them. A
 * store without replication is standalone and leads itself (known = 1,
 * node empty). What a caller reads after CAIRN_E_NOT_LEADER to name the
 * leader in a structured form (the error message names it in text). */
CAIRN_C_EXPORT cairn_status cairn_store_leader(cairn_store* store,
                                               cairn_leader_info* info,
                                               cairn_error* error);

/* Logically deletes the stream's revisions <= `revision` (a revision above
 * the head deletes up to the head). The head revision is kept. */
CAIRN_C_EXPORT cairn_status cairn_delete_to(cairn_store* store,
                                            cairn_bytes stream,
                                            uint64_t revision,
                                            cairn_error* error);

/* Streams with ordinal > after_ordinal, at most max_count, in ordinal
 * order. */
CAIRN_C_EXPORT cairn_status cairn_list_streams(cairn_store* store,
                                               uint64_t after_ordinal,
                                               uint64_t max_count,
                                               cairn_stream_fn on_stream,
                                               void* context,
                                               cairn_error* error);

/* ---- Snapshots ------------------------------------------------------------- */

/* Criteria that match every snapshot (size set). */
CAIRN_C_EXPORT cairn_snapshot_criteria cairn_snapshot_criteria_all(void);

/* Saves a snapshot; one already at (stream, revision) is replaced. */
CAIRN_C_EXPORT cairn_status cairn_snapshot_save(cairn_store* store,
                                                cairn_bytes stream,
                                                uint64_t revision,
                                                int64_t timestamp_us,
                                                cairn_bytes data,
                                                cairn_error* error);

/* Calls `on_snapshot` (its return value is ignored) once with the newest (highest revision) snapshot of
 * `stream` that matches `criteria` (NULL: any), or not at all if none
 * matches; *found (may be NULL) says which. */
CAIRN_C_EXPORT cairn_status cairn_snapshot_load(
    cairn_store* store, cairn_bytes stream,
    const cairn_snapshot_criteria* criteria, cairn_snapshot_fn on_snapshot,
    void* context, int* found, cairn_error* error);

/* Deletes the snapshot at (stream, revision); none there is CAIRN_OK. */
CAIRN_C_EXPORT cairn_status cairn_snapshot_delete(cairn_store* store,
                                                  cairn_bytes stream,
                                                  uint64_t revision,
                                                  cairn_error* error);

/* Deletes every snapshot of `stream` matching `criteria` (NULL: all). */
CAIRN_C_EXPORT cairn_status cairn_snapshot_delete_matching(
    cairn_store* store, cairn_bytes stream,
    const cairn_snapshot_criteria* criteria, cairn_error* error);

/* ---- Subscriptions ----------------------------------------------------------- */

typedef enum cairn_subscription_kind {
  CAIRN_SUBSCRIBE_STREAM = 0, /* `name` is a stream, `after` a revision */
  CAIRN_SUBSCRIBE_TAG = 1,    /* `name` is a tag, `after` a position */
  CAIRN_SUBSCRIBE_ALL = 2     /* `name` is ignored, `after` a position */
} cairn_subscription_kind;

/* Opens a cursor that first catches up on stored events after `after`
 * (exclusive), then follows new commits, with no gap and no duplicate.
 * Close it with cairn_subscription_close. */
CAIRN_C_EXPORT cairn_status cairn_subscribe(cairn_store* store,
                                            cairn_subscription_kind kind,
                                            cairn_bytes name, uint64_t after,
                                            cairn_subscription** subscription,
                                            cairn_error* error);

/* Delivers up to `max_count` events after the cursor to `on_event` (in
 * order) and advances the cursor past them. Waits up to `timeout_ms` for the
 * first one; the store wakes it on commit (no polling). *delivered (may be
 * NULL) is the number delivered: 0 on timeout or after cancel. One thread at
 * a time per subscription. If `on_event` returns non-zero, that event counts as
 * delivered, the call returns, and the events after it come first on the
 * next call (nothing is lost or repeated). */
CAIRN_C_EXPORT cairn_status cairn_subscription_next(
    cairn_subscription* subscription, size_t max_count, uint32_t timeout_ms,
    cairn_event_fn on_event, void* context, size_t* delivered,
    cairn_error* error);

/* The last revision (stream) or position (tag, all) delivered. */
CAIRN_C_EXPORT uint64_t cairn_subscription_cursor(
    const cairn_subscription* subscription);

/* Makes a waiting or later cairn_subscription_next return at once with
 * nothing delivered. Safe from any thread, also while next waits. */
CAIRN_C_EXPORT void cairn_subscription_cancel(cairn_subscription* subscription);

/* Frees the subscription. Must not race with cairn_subscription_next on it
 * (cancel first, let next return, then close). NULL is a no-op. */
CAIRN_C_EXPORT void cairn_subscription_close(cairn_subscription* subscription);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* CAIRN_CAIRN_H_ */
