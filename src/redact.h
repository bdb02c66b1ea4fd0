/* Keeping secrets out of text: the API tokens must never reach a reply, a
 * signal or a log line, also when the API itself echoes one back. The
 * daemon registers them once at start; every text that leaves through a log
 * line or an API error message is passed through ep_redact (). */
#pragma once

#include <glib.h>

#define EP_REDACTED "[redacted]"

/* Registers a copy of @secret (NULL or empty: ignored). */
void ep_secrets_add (const char *secret);
/* Wipes and drops every registered secret. */
void ep_secrets_forget (void);

/* A copy of @text (NULL: NULL) with every occurrence of each registered
 * secret, longest first, replaced by EP_REDACTED. */
char *ep_redact (const char *text);

/* TRUE when @text holds a registered secret. */
gboolean ep_redact_needed (const char *text);

/* Wipes @secret's bytes, then frees it. NULL is fine. */
void ep_secret_free (char *secret);
