/* Logging to stderr with syslog-style levels; journald reads the <N> prefix. */
#pragma once

#include <glib.h>

typedef enum {
  EP_LOG_ERROR = 3,
  EP_LOG_WARNING = 4,
  EP_LOG_INFO = 6,
  EP_LOG_DEBUG = 7,
} EpLogLevel;

/* Parses "error", "warning", "info" or "debug". */
gboolean ep_log_parse_level (const char *name, EpLogLevel *out);
void ep_log_set_level (EpLogLevel level);
gboolean ep_log_enabled (EpLogLevel level);

void ep_log (EpLogLevel level, const char *fmt, ...) G_GNUC_PRINTF (2, 3);

#define ep_error(...)   ep_log (EP_LOG_ERROR, __VA_ARGS__)
#define ep_warning(...) ep_log (EP_LOG_WARNING, __VA_ARGS__)
#define ep_info(...)    ep_log (EP_LOG_INFO, __VA_ARGS__)
#define ep_debug(...)   ep_log (EP_LOG_DEBUG, __VA_ARGS__)
