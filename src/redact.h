/* Keeping secrets out of text: the API tokens must never reach a reply, a
 * signal or a log line, also when the API itself echoes one back. */
#pragma once

#include <glib.h>

#define EP_REDACTED "[redacted]"

/* A copy of @text with every occurrence of each of the @n_secrets non-empty
 * @secrets (NULL entries are skipped) replaced by EP_REDACTED. */
char *ep_redact (const char *text, const char *const *secrets, guint n_secrets);

/* TRUE when @text holds one of the @secrets. */
gboolean ep_redact_needed (const char *text, const char *const *secrets, guint n_secrets);

/* Wipes @secret's bytes, then frees it. NULL is fine. */
void ep_secret_free (char *secret);
