/* Logging to stderr with syslog-style levels; journald reads the <N> prefix.
 * Every line is made safe here, whatever the caller passed: control
 * characters and invalid UTF-8 are escaped (no text from a caller or the
 * network can end a line or forge a "<N>" priority), lines are capped, and
 * the secrets registered with redact.h are replaced by "[redacted]". */
#pragma once

#include <glib.h>

typedef enum {
  EP_LOG_ERROR = 3,
  EP_LOG_WARNING = 4,
  EP_LOG_NOTICE = 5,
  EP_LOG_INFO = 6,
  EP_LOG_DEBUG = 7,
} EpLogLevel;

/* Parses "error", "warning", "info" or "debug". */
gboolean ep_log_parse_level (const char *name, EpLogLevel *out);
void ep_log_set_level (EpLogLevel level);
gboolean ep_log_enabled (EpLogLevel level);

void ep_log (EpLogLevel level, const char *fmt, ...) G_GNUC_PRINTF (2, 3);

/* Routes GLib's log messages (g_warning and friends, from GLib and the
 * libraries on it) through ep_log. Call once, early in main(). */
void ep_log_take_glib (void);

/* @s as printable text of at most about @max bytes: control and format
 * characters (bidirectional overrides among them) and invalid UTF-8 become
 * \n, \xHH or \u{HHHH} escapes (a backslash stays as it is: it cannot end a
 * line), and a cut is marked with "…". For echoing caller or network text in
 * messages. */
char *ep_log_escape (const char *s, gsize max);

/* How much of a caller's bad value a message echoes. */
#define EP_MAX_ECHO 128

/* The arguments are not evaluated at a level not logged (a caller's
 * description for a debug line on every call, say). */
#define EP_LOG_AT(level, ...) \
  (ep_log_enabled (level) ? ep_log (level, __VA_ARGS__) : (void) 0)
#define ep_error(...)   EP_LOG_AT (EP_LOG_ERROR, __VA_ARGS__)
#define ep_warning(...) EP_LOG_AT (EP_LOG_WARNING, __VA_ARGS__)
#define ep_notice(...)  EP_LOG_AT (EP_LOG_NOTICE, __VA_ARGS__)
#define ep_info(...)    EP_LOG_AT (EP_LOG_INFO, __VA_ARGS__)
#define ep_debug(...)   EP_LOG_AT (EP_LOG_DEBUG, __VA_ARGS__)
