#include "log.h"

#include "redact.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A log line longer than this is cut: no caller can make the daemon write
 * megabytes to the journal. */
#define MAX_LINE 4096

static EpLogLevel max_level = EP_LOG_INFO;
static int use_prefix = -1;

gboolean
ep_log_parse_level (const char *name, EpLogLevel *out)
{
  static const struct { const char *name; EpLogLevel level; } names[] = {
    { "error", EP_LOG_ERROR }, { "warning", EP_LOG_WARNING }, { "notice", EP_LOG_NOTICE },
    { "info", EP_LOG_INFO }, { "debug", EP_LOG_DEBUG },
  };
  for (size_t i = 0; i < G_N_ELEMENTS (names); i++)
    if (g_strcmp0 (name, names[i].name) == 0)
      {
        *out = names[i].level;
        return TRUE;
      }
  return FALSE;
}

void
ep_log_set_level (EpLogLevel level)
{
  max_level = level;
}

gboolean
ep_log_enabled (EpLogLevel level)
{
  return level <= max_level;
}

/* Characters that could end a line, or make it read other than it is
 * (bidirectional overrides, zero-width and other format characters). */
static gboolean
needs_escape (gunichar c)
{
  return g_unichar_iscntrl (c) || g_unichar_type (c) == G_UNICODE_FORMAT ||
         c == 0x2028 || c == 0x2029;
}

char *
ep_log_escape (const char *s, gsize max)
{
  GString *out = g_string_sized_new (MIN (strlen (s), max) + 8);
  for (const char *p = s; *p;)
    {
      if (out->len >= max)
        {
          g_string_append (out, "…");
          break;
        }
      /* A run of printable ASCII goes as it is, up to the limit. */
      gsize run = 0;
      while (p[run] >= 0x20 && p[run] < 0x7f && out->len + run < max)
        run++;
      if (run > 0)
        {
          g_string_append_len (out, p, (gssize) run);
          p += run;
          continue;
        }
      gunichar c = g_utf8_get_char_validated (p, -1);
      if (c == (gunichar) -1 || c == (gunichar) -2)
        {
          g_string_append_printf (out, "\\x%02x", (guchar) *p++);
          continue;
        }
      if (c == '\n')
        g_string_append (out, "\\n");
      else if (c < 0x20 || c == 0x7f)
        g_string_append_printf (out, "\\x%02x", c);
      else if (needs_escape (c))
        g_string_append_printf (out, "\\u{%04x}", c);
      else
        g_string_append_len (out, p, g_utf8_next_char (p) - p);
      p = g_utf8_next_char (p);
    }
  return g_string_free (out, FALSE);
}

void
ep_log (EpLogLevel level, const char *fmt, ...)
{
  if (!ep_log_enabled (level))
    return;
  /* Under systemd stderr is the journal, which understands "<N>" priorities;
   * on a terminal a plain line reads better. */
  if (use_prefix < 0)
    use_prefix = getenv ("JOURNAL_STREAM") != NULL;

  g_autofree char *msg = NULL;
  va_list ap;
  va_start (ap, fmt);
  msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);

  if (ep_redact_needed (msg))
    {
      char *redacted = ep_redact (msg);
      ep_secret_free (g_steal_pointer (&msg));
      msg = redacted;
    }
  g_autofree char *line = ep_log_escape (msg, MAX_LINE);
  if (use_prefix)
    fprintf (stderr, "<%d>%s\n", (int) level, line);
  else
    fprintf (stderr, "enapter-provisiond: %s\n", line);
}

/* GLib's own messages (GLib, GIO, json-glib) as our lines: with a priority
 * under journald, escaped and redacted like every other line. */
static GLogWriterOutput
glib_writer (GLogLevelFlags flags, const GLogField *fields, gsize n_fields, gpointer data)
{
  if (g_log_writer_default_would_drop (flags, NULL))
    return G_LOG_WRITER_HANDLED;
  const char *domain = NULL, *message = NULL;
  for (gsize i = 0; i < n_fields; i++)
    {
      if (strcmp (fields[i].key, "GLIB_DOMAIN") == 0 && fields[i].length < 0)
        domain = fields[i].value;
      else if (strcmp (fields[i].key, "MESSAGE") == 0 && fields[i].length < 0)
        message = fields[i].value;
    }
  EpLogLevel level = EP_LOG_DEBUG;
  if (flags & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL))
    level = EP_LOG_ERROR;
  else if (flags & G_LOG_LEVEL_WARNING)
    level = EP_LOG_WARNING;
  else if (flags & G_LOG_LEVEL_MESSAGE)
    level = EP_LOG_NOTICE;
  else if (flags & G_LOG_LEVEL_INFO)
    level = EP_LOG_INFO;
  ep_log (level, "%s: %s", domain ? domain : "glib", message ? message : "(no message)");
  return G_LOG_WRITER_HANDLED;
}

void
ep_log_take_glib (void)
{
  g_log_set_writer_func (glib_writer, NULL, NULL);
}
