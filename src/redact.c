#include "redact.h"

#include <string.h>

/* char *, longest first, so that a secret inside another cannot leave the
 * rest of the longer one behind. */
static GPtrArray *secrets;

static gint
longer_first (gconstpointer a, gconstpointer b)
{
  size_t la = strlen (*(char *const *) a), lb = strlen (*(char *const *) b);
  return la < lb ? 1 : la > lb ? -1 : 0;
}

void
ep_secrets_add (const char *secret)
{
  if (secret == NULL || *secret == '\0')
    return;
  if (secrets == NULL)
    secrets = g_ptr_array_new_with_free_func ((GDestroyNotify) ep_secret_free);
  g_ptr_array_add (secrets, g_strdup (secret));
  g_ptr_array_sort (secrets, longer_first);
}

void
ep_secrets_forget (void)
{
  g_clear_pointer (&secrets, g_ptr_array_unref);
}

gboolean
ep_redact_needed (const char *text)
{
  for (guint i = 0; text != NULL && secrets != NULL && i < secrets->len; i++)
    if (strstr (text, secrets->pdata[i]) != NULL)
      return TRUE;
  return FALSE;
}

char *
ep_redact (const char *text)
{
  if (!ep_redact_needed (text))
    return g_strdup (text);
  GString *out = g_string_new (text);
  for (guint i = 0; i < secrets->len; i++)
    {
      const char *secret = secrets->pdata[i];
      gsize len = strlen (secret);
      gsize from = 0;
      char *hit;
      while ((hit = strstr (out->str + from, secret)) != NULL)
        {
          gsize at = (gsize) (hit - out->str);
          /* Wiped before the string moves: no copy of it is left behind. */
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
