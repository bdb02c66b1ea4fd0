/* A strict RFC 8259 check run before json-glib sees untrusted bytes:
 * json-glib 1.6 recurses once per nesting level (a body of nested '['
 * overflows the stack), accepts trailing values, comments and broken
 * escapes, and cuts strings at an escaped NUL. */
#pragma once

#include <glib.h>

#define EP_JSON_MAX_DEPTH 32

/* TRUE when @text is exactly one JSON value in valid UTF-8, nested at most
 * EP_JSON_MAX_DEPTH deep, with no lone surrogate escape (json-glib leaks
 * memory on some); with @strict_strings, its strings also hold no escaped
 * NUL (text that is only shown may: it is cut there). Otherwise FALSE with
 * @problem (static text) set. */
gboolean ep_json_check (const char *text, gsize len, gboolean strict_strings,
                        const char **problem);
