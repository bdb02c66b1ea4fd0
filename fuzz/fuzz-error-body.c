/* fuzz-error-body: ep_api_error_text on any error-response body.
 *
 * Input: the whole body, as the daemon's HTTP layer delivers it.
 *
 * Invariants: no crash, leak or sanitizer report; the result is NULL or
 * non-empty text that is valid UTF-8, holds no control character, is accepted
 * by sd-bus in a D-Bus error message, and is bounded in length; a body that
 * is not JSON, or holds no errors array, gives NULL. */
#include "fuzz-common.h"

#include "api.h"

#include <json-glib/json-glib.h>

/* api.c keeps at most 2048 bytes plus the one message that crosses the
 * mark (512 bytes plus "…") and its code (64 bytes plus "…", " (", ")"):
 * anything above this bound is unbounded growth. */
#define MAX_TEXT (2048 + 2 + 515 + 2 + 67 + 1)

FUZZ_JSON_GLIB_LEAK_FILTER

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  fuzz_setup ();
  return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  static FuzzGuarded guard;
  const char *body = fuzz_guarded_copy (&guard, data, size);
  g_autofree char *text = ep_api_error_text (body, size);
  if (text == NULL)
    return 0;

  size_t n = strlen (text);
  FUZZ_CHECK ("non-empty", n > 0, "empty text instead of NULL");
  FUZZ_CHECK ("bounded", n <= MAX_TEXT, "text of %zu bytes (bound %d)", n, MAX_TEXT);
  fuzz_check_bus_text ("the API error text", text);

  /* Text only comes out of an {"errors":[...]} document. */
  g_autoptr (JsonParser) parser = json_parser_new_immutable ();
  gboolean parsed = json_parser_load_from_data (parser, body, (gssize) size, NULL);
  JsonNode *root = parsed ? json_parser_get_root (parser) : NULL;
  FUZZ_CHECK ("source", root && JSON_NODE_HOLDS_OBJECT (root) &&
                          json_object_has_member (json_node_get_object (root), "errors"),
              "text from a body without an errors member");
  return 0;
}
