#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static EpLogLevel max_level = EP_LOG_INFO;
static int use_prefix = -1;

gboolean
ep_log_parse_level (const char *name, EpLogLevel *out)
{
  static const struct { const char *name; EpLogLevel level; } names[] = {
    { "error", EP_LOG_ERROR }, { "warning", EP_LOG_WARNING },
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

  if (use_prefix)
    fprintf (stderr, "<%d>%s\n", (int) level, msg);
  else
    fprintf (stderr, "enapter-provisiond: %s\n", msg);
}
