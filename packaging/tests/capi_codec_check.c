/* Checks an installed libcairn-c from outside, as a C program built against
 * the cairn-dev package would: opens an in-memory store whose codec is the
 * plugin named on the command line (found in the installed plugin folder,
 * since the site names no [store] plugin-dirs), appends one event and reads
 * it back. Used by scripts/test.d/70-packages.sh.
 *
 *   capi_codec_check CODEC      exit 0: the event came back intact
 */
#include <cairn/cairn.h>
#include <stdio.h>
#include <string.h>

static cairn_bytes Text(const char* s) {
  cairn_bytes b = {(const uint8_t*)s, strlen(s)};
  return b;
}

struct ReadBack {
  int events;
  int intact;
  const char* expected;
};

static int OnEvent(void* context, const cairn_event* event) {
  struct ReadBack* r = (struct ReadBack*)context;
  ++r->events;
  r->intact = event->data.size == strlen(r->expected) &&
              memcmp(event->data.data, r->expected, event->data.size) == 0;
  return 0;
}

int main(int argc, char** argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: capi_codec_check CODEC\n");
    return 2;
  }
  char codec[128];
  snprintf(codec, sizeof codec, "codec.plugin=%s", argv[1]);
  const char* overrides[] = {"storage.plugin=memory", codec};
  char message[512] = "";
  cairn_error error = {message, sizeof message};
  cairn_store* store = NULL;
  if (cairn_store_open(NULL, overrides, 2, &store, &error) != CAIRN_OK) {
    fprintf(stderr, "cairn_store_open (%s): %s\n", codec, message);
    return 1;
  }
  const char* data = "{\"padding\": \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}";
  cairn_event event;
  memset(&event, 0, sizeof event);
  event.size = sizeof event;
  event.type = Text("Checked");
  event.data = Text(data);
  if (cairn_append(store, Text("capi-check"), CAIRN_EXPECT_NO_STREAM, 0, &event, 1,
                   NULL, &error) != CAIRN_OK) {
    fprintf(stderr, "cairn_append: %s\n", message);
    cairn_store_close(store);
    return 1;
  }
  struct ReadBack read = {0, 0, data};
  if (cairn_read_stream(store, Text("capi-check"), 1, UINT64_MAX, 10, OnEvent, &read, &error) !=
      CAIRN_OK) {
    fprintf(stderr, "cairn_read_stream: %s\n", message);
    cairn_store_close(store);
    return 1;
  }
  cairn_store_close(store);
  if (read.events != 1 || !read.intact) {
    fprintf(stderr, "read back %d event(s), intact: %d\n", read.events, read.intact);
    return 1;
  }
  printf("libcairn-c with codec '%s': 1 event appended and read back intact\n", argv[1]);
  return 0;
}
