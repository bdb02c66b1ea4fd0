/* Shared by the libFuzzer targets: invariant checks that abort with a message
 * naming the invariant, the process set-up every target wants, and the rules
 * a string must meet to travel on the bus. Header-only so each target stays
 * one source file. */
#pragma once

#ifndef _GNU_SOURCE
#define _GNU_SOURCE   /* RTLD_NEXT */
#endif

#include <dlfcn.h>
#include <glib.h>
#include <json-glib/json-glib.h>
#include <sanitizer/lsan_interface.h>

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerInitialize (int *argc, char ***argv);
int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

/* EP_FUZZ_IGNORE="name,name" turns the named invariants off, so a campaign
 * can look past a known, reported finding until it is fixed. Off by default:
 * every invariant holds unless someone asks otherwise. */
static inline gboolean
fuzz_ignored (const char *name)
{
  static char **ignored;
  static gboolean loaded;
  if (!loaded)
    {
      const char *env = g_getenv ("EP_FUZZ_IGNORE");
      ignored = g_strsplit (env ? env : "", ",", -1);
      loaded = TRUE;
    }
  return g_strv_contains ((const char *const *) ignored, name);
}

static inline void fuzz_fail (const char *name, const char *fmt, ...) G_GNUC_PRINTF (2, 3);

static inline void
fuzz_fail (const char *name, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  fprintf (stderr, "\n==fuzz== invariant '%s' violated: ", name);
  vfprintf (stderr, fmt, ap);
  fprintf (stderr, "\n==fuzz== (EP_FUZZ_IGNORE=%s skips it while the finding is open)\n", name);
  va_end (ap);
  fflush (stderr);
  abort ();
}

/* Checks an invariant; @name is what EP_FUZZ_IGNORE takes. */
#define FUZZ_CHECK(name, cond, ...)                                                     \
  do                                                                                    \
    {                                                                                   \
      if (!(cond) && !fuzz_ignored (name))                                              \
        fuzz_fail (name, __VA_ARGS__);                                                  \
    }                                                                                   \
  while (0)

/* Process set-up for every target. */
static inline void
fuzz_setup (void)
{
  /* GLib's slice allocator would hide use-after-free and leaks from ASan. */
  setenv ("G_SLICE", "always-malloc", 1);
  /* A critical means the daemon called GLib or json-glib wrongly: a bug. */
  g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING);
}

/* The input copied so that its last byte is followed by a NUL (as the daemon's
 * HTTP layer delivers bodies) and then by an unreadable page: uninstrumented
 * libraries (json-glib, GLib) that read past the end fault at once, where
 * ASan cannot see them. */
typedef struct {
  char *base;
  size_t room;     /* usable bytes before the guard page */
} FuzzGuarded;

static inline const char *
fuzz_guarded_copy (FuzzGuarded *g, const uint8_t *data, size_t size)
{
  size_t page = (size_t) sysconf (_SC_PAGESIZE);
  if (g->base == NULL || size + 1 > g->room)
    {
      if (g->base != NULL)
        munmap (g->base, g->room + page);
      g->room = (size + 1 + page - 1) / page * page;
      g->base = mmap (NULL, g->room + page, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (g->base == MAP_FAILED || mprotect (g->base + g->room, page, PROT_NONE) != 0)
        {
          perror ("fuzz: guard page");
          abort ();
        }
    }
  char *start = g->base + g->room - (size + 1);
  if (size > 0)
    memcpy (start, data, size);
  start[size] = '\0';
  return start;
}

/* What sd-bus (libsystemd 252, utf8_is_valid/unichar_is_valid) accepts in a
 * D-Bus string: UTF-8 of code points that are not surrogates and not Unicode
 * noncharacters (U+FDD0..U+FDEF, U+xxFFFE, U+xxFFFF). GLib's g_utf8_validate
 * accepts the noncharacters, so a string checked only with GLib can still
 * make sd_bus_message_append fail with -EINVAL. */
static inline gboolean
fuzz_dbus_string_ok (const char *s)
{
  if (!g_utf8_validate (s, -1, NULL))
    return FALSE;
  for (const char *p = s; *p; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);
      if ((c >= 0xFDD0 && c <= 0xFDEF) || (c & 0xFFFE) == 0xFFFE)
        return FALSE;
    }
  return TRUE;
}

/* No C0/C1 control character (the daemon's "printable" rule). */
static inline gboolean
fuzz_no_controls (const char *s)
{
  for (const char *p = s; *p; p = g_utf8_next_char (p))
    if (g_unichar_iscntrl (g_utf8_get_char (p)))
      return FALSE;
  return TRUE;
}

/* Text the daemon shows on the bus: valid UTF-8, no control characters, and
 * acceptable to sd-bus. Checks each part under its own invariant name. */
static inline void
fuzz_check_bus_text (const char *what, const char *s)
{
  FUZZ_CHECK ("utf8", g_utf8_validate (s, -1, NULL), "%s is not valid UTF-8", what);
  if (!g_utf8_validate (s, -1, NULL))
    return;
  FUZZ_CHECK ("no-controls", fuzz_no_controls (s), "%s holds a control character", what);
  FUZZ_CHECK ("dbus-text", fuzz_dbus_string_ok (s),
              "%s holds a Unicode noncharacter that sd-bus refuses in a D-Bus string", what);
}

/* ---- strict JSON (RFC 8259), the oracle for "is the documented JSON" ---- */

typedef enum { FUZZ_JSON_NO, FUZZ_JSON_YES, FUZZ_JSON_TOO_DEEP } FuzzJson;

typedef struct {
  const unsigned char *p, *end;
  int depth;
  gboolean too_deep;
} FuzzJsonScan;

static inline void
fuzz_json_ws (FuzzJsonScan *s)
{
  while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
    s->p++;
}

static inline gboolean
fuzz_json_lit (FuzzJsonScan *s, const char *lit)
{
  size_t n = strlen (lit);
  if ((size_t) (s->end - s->p) < n || memcmp (s->p, lit, n) != 0)
    return FALSE;
  s->p += n;
  return TRUE;
}

static inline gboolean
fuzz_json_digits (FuzzJsonScan *s)
{
  const unsigned char *start = s->p;
  while (s->p < s->end && g_ascii_isdigit (*s->p))
    s->p++;
  return s->p > start;
}

static inline gboolean
fuzz_json_number (FuzzJsonScan *s)
{
  if (s->p < s->end && *s->p == '-')
    s->p++;
  if (s->p < s->end && *s->p == '0')
    s->p++;
  else if (!(s->p < s->end && *s->p >= '1' && *s->p <= '9') || !fuzz_json_digits (s))
    return FALSE;
  if (s->p < s->end && *s->p == '.' && (s->p++, !fuzz_json_digits (s)))
    return FALSE;
  if (s->p < s->end && (*s->p == 'e' || *s->p == 'E'))
    {
      s->p++;
      if (s->p < s->end && (*s->p == '+' || *s->p == '-'))
        s->p++;
      if (!fuzz_json_digits (s))
        return FALSE;
    }
  return TRUE;
}

static inline gboolean
fuzz_json_string (FuzzJsonScan *s)
{
  if (s->p >= s->end || *s->p != '"')
    return FALSE;
  for (s->p++; s->p < s->end; s->p++)
    {
      if (*s->p == '"')
        {
          s->p++;
          return TRUE;
        }
      if (*s->p < 0x20)
        return FALSE;
      if (*s->p != '\\')
        continue;
      if (++s->p >= s->end)
        return FALSE;
      if (*s->p == 'u')
        {
          for (int i = 0; i < 4; i++)
            if (++s->p >= s->end || !g_ascii_isxdigit (*s->p))
              return FALSE;
        }
      else if (strchr ("\"\\/bfnrt", *s->p) == NULL || *s->p == '\0')
        return FALSE;
    }
  return FALSE;
}

static inline gboolean fuzz_json_value (FuzzJsonScan *s);

static inline gboolean
fuzz_json_container (FuzzJsonScan *s, char close, gboolean object)
{
  s->p++;
  if (++s->depth > 2000)
    {
      s->too_deep = TRUE;
      return FALSE;
    }
  fuzz_json_ws (s);
  if (s->p < s->end && *s->p == close)
    {
      s->p++;
      s->depth--;
      return TRUE;
    }
  for (;;)
    {
      fuzz_json_ws (s);
      if (object)
        {
          if (!fuzz_json_string (s))
            return FALSE;
          fuzz_json_ws (s);
          if (s->p >= s->end || *s->p++ != ':')
            return FALSE;
        }
      if (!fuzz_json_value (s))
        return FALSE;
      fuzz_json_ws (s);
      if (s->p < s->end && *s->p == ',')
        {
          s->p++;
          continue;
        }
      if (s->p < s->end && *s->p == close)
        {
          s->p++;
          s->depth--;
          return TRUE;
        }
      return FALSE;
    }
}

static inline gboolean
fuzz_json_value (FuzzJsonScan *s)
{
  fuzz_json_ws (s);
  if (s->p >= s->end)
    return FALSE;
  switch (*s->p)
    {
    case '{':
      return fuzz_json_container (s, '}', TRUE);
    case '[':
      return fuzz_json_container (s, ']', FALSE);
    case '"':
      return fuzz_json_string (s);
    case 't':
      return fuzz_json_lit (s, "true");
    case 'f':
      return fuzz_json_lit (s, "false");
    case 'n':
      return fuzz_json_lit (s, "null");
    default:
      return fuzz_json_number (s);
    }
}

/* Whether @data is exactly one JSON text in UTF-8 (RFC 8259, section 2). */
static inline FuzzJson
fuzz_json_strict (const char *data, size_t size)
{
  if (!g_utf8_validate_len (data, size, NULL))
    return FUZZ_JSON_NO;
  FuzzJsonScan s = { (const unsigned char *) data, (const unsigned char *) data + size, 0, FALSE };
  gboolean ok = fuzz_json_value (&s);
  fuzz_json_ws (&s);
  if (s.too_deep)
    return FUZZ_JSON_TOO_DEEP;
  return ok && s.p == s.end ? FUZZ_JSON_YES : FUZZ_JSON_NO;
}

/* ---- looking past json-glib's own leak ----------------------------------
 *
 * json-glib 1.6.6 accepts a document of several top-level values, keeps the
 * first as the root and leaks the others (a finding of these fuzzers, see
 * README.md). Its stacks end in g_malloc under ASan's fast unwinder, so no
 * suppression can tell it apart from the daemon's own leaks. With
 * EP_FUZZ_IGNORE=json-glib-leak, a target that defines this wrapper
 * (FUZZ_JSON_GLIB_LEAK_FILTER) has LSan ignore what json-glib allocates
 * while it parses: the parse is unchanged, the parser object itself is
 * still tracked, so a daemon that fails to free its parser is still seen. */
#define FUZZ_JSON_GLIB_LEAK_FILTER                                                      \
  gboolean json_parser_load_from_data (JsonParser *parser, const gchar *data,           \
                                       gssize length, GError **error)                   \
  {                                                                                     \
    typedef gboolean (*LoadFn) (JsonParser *, const gchar *, gssize, GError **);        \
    static LoadFn next;                                                                 \
    if (next == NULL)                                                                   \
      next = (LoadFn) dlsym (RTLD_NEXT, "json_parser_load_from_data");                  \
    if (!fuzz_ignored ("json-glib-leak"))                                               \
      return next (parser, data, length, error);                                        \
    __lsan_disable ();                                                                  \
    gboolean ok = next (parser, data, length, error);                                   \
    __lsan_enable ();                                                                   \
    return ok;                                                                          \
  }
