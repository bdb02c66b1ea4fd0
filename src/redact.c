#include "redact.h"

#include <string.h>

gboolean
ep_redact_needed (const char *text, const char *const *secrets, guint n_secrets)
{
  for (guint i = 0; text != NULL && i < n_secrets; i++)
    if (secrets[i] != NULL && *secrets[i] != '\0' && strstr (text, secrets[i]) != NULL)
      return TRUE;
  return FALSE;
}

char *
ep_redact (const char *text, const char *const *secrets, guint n_secrets)
{
  if (!ep_redact_needed (text, secrets, n_secrets))
    return g_strdup (text);
  GString *out = g_string_new (text);
  for (guint i = 0; i < n_secrets; i++)
    {
      const char *secret = secrets[i];
      if (secret == NULL || *secret == '\0')
        continue;
      gsize len = strlen (secret);
      char *hit;
      gsize from = 0;
      while ((hit = strstr (out->str + from, secret)) != NULL)
        {
          gsize at = (gsize) (hit - out->str);
          explicit_bzero (hit, len);
          g_string_erase (out, (gssize) at, (gssize) len);
          g_string_insert (out, (gssize) at, EP_REDACTED);
          from = at + strlen (EP_REDACTED);
        }
    }
  return g_string_free (out, FALSE);
}

void
ep_secret_free (char *secret)
{
  if (secret != NULL)
    explicit_bzero (secret, strlen (secret));
  g_free (secret);
}
