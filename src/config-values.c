/* The values of the configuration's keys (see config-values.h). */
#include "config-values.h"

#include "config.h"

#include <math.h>
#include <string.h>

/* Longer names are refused before they reach NSS. */
#define EP_MAX_GROUP_NAME 256

gboolean
ep_config_parse_url (const EpKeySpec *spec, const char *value, void *dest, char **problem)
{
  /* Messages quote the URL without user info: it may hold a password. */
  g_autoptr (GUri) uri = g_uri_parse (value, G_URI_FLAGS_NONE, NULL);
  if (uri == NULL || g_uri_get_host (uri) == NULL || *g_uri_get_host (uri) == '\0')
    {
      *problem = strchr (value, '@')
                     ? g_strdup ("is not an absolute URL such as https://api.enapter.com")
                     : g_strdup_printf ("'%s' is not an absolute URL such as "
                                        "https://api.enapter.com", value);
      return FALSE;
    }
  g_autofree char *shown = g_uri_to_string_partial (uri, G_URI_HIDE_USERINFO);
  const char *scheme = g_uri_get_scheme (uri);
  if (g_ascii_strcasecmp (scheme, "http") != 0 && g_ascii_strcasecmp (scheme, "https") != 0)
    {
      *problem = g_strdup_printf ("'%s' must start with http:// or https://", shown);
      return FALSE;
    }
  if (g_uri_get_userinfo (uri) || g_uri_get_query (uri) || g_uri_get_fragment (uri))
    {
      *problem = g_strdup_printf ("'%s' must not carry user info, a query or a "
                                  "fragment; give the API's base URL alone", shown);
      return FALSE;
    }
  char *url = g_strdup (value);
  for (size_t n = strlen (url); n > 0 && url[n - 1] == '/'; n--)
    url[n - 1] = '\0';
  *(char **) dest = url;
  return TRUE;
}

gboolean
ep_config_parse_path (const EpKeySpec *spec, const char *value, void *dest, char **problem)
{
  if (!g_path_is_absolute (value))
    {
      *problem = g_strdup_printf ("'%s' is not an absolute path; give one that starts with "
                                  "'/'", value);
      return FALSE;
    }
  *(char **) dest = g_strdup (value);
  return TRUE;
}

gboolean
ep_config_parse_token_path (const EpKeySpec *spec, const char *value, void *dest,
                            char **problem)
{
  if (!g_path_is_absolute (value))
    {
      *problem = g_strdup ("the value is not an absolute path (it is not shown: it may be a "
                           "token); give the path of the file that holds the token, starting "
                           "with '/'");
      return FALSE;
    }
  *(char **) dest = g_strdup (value);
  return TRUE;
}

gboolean
ep_config_parse_target (const EpKeySpec *spec, const char *value, void *dest, char **problem)
{
  static const char *const names[] = { [EP_TARGET_CLOUD] = "cloud",
                                       [EP_TARGET_GATEWAY] = "gateway",
                                       [EP_TARGET_AUTO] = "auto" };
  for (size_t i = 0; i < G_N_ELEMENTS (names); i++)
    if (strcmp (value, names[i]) == 0)
      {
        *(EpTarget *) dest = (EpTarget) i;
        return TRUE;
      }
  *problem = g_strdup_printf ("'%s' must be gateway, cloud or auto", value);
  return FALSE;
}

gboolean
ep_config_parse_uint (const EpKeySpec *spec, const char *value, void *dest, char **problem)
{
  guint64 n;
  if (!g_ascii_string_to_unsigned (value, 10, spec->min, spec->max, &n, NULL))
    {
      *problem = g_strdup_printf ("'%s' must be a whole number from %u to %u", value, spec->min,
                                  spec->max);
      return FALSE;
    }
  *(guint *) dest = (guint) n;
  return TRUE;
}

gboolean
ep_config_parse_seconds (const EpKeySpec *spec, const char *value, void *dest, char **problem)
{
  char *end = NULL;
  double s = g_ascii_strtod (value, &end);
  if (end == value || *end != '\0' || !isfinite (s) || s < 0.01 || s > 3600)
    {
      *problem = g_strdup_printf ("'%s' must be a number of seconds from 0.01 to 3600", value);
      return FALSE;
    }
  *(double *) dest = s;
  return TRUE;
}

static gboolean
group_char_ok (const char *name, size_t i, size_t len)
{
  char c = name[i];
  return g_ascii_isalnum (c) || c == '_' || c == '.' || c == '@' || (c == '-' && i > 0) ||
         (c == '$' && i == len - 1);
}

/* Checked before the name reaches NSS, which aborts on a huge one. */
gboolean
ep_config_parse_group (const EpKeySpec *spec, const char *value, void *dest, char **problem)
{
  size_t len = strlen (value);
  if (len > EP_MAX_GROUP_NAME)
    {
      *problem = g_strdup_printf ("the value is %zu bytes long, but a group name has at most %d; "
                                  "give an existing group's name", len, EP_MAX_GROUP_NAME);
      return FALSE;
    }
  for (size_t i = 0; i < len; i++)
    if (!group_char_ok (value, i, len))
      {
        g_autofree char *shown = g_strescape (value, NULL);
        *problem = g_strdup_printf ("'%s' is not a group name: letters, digits, '.', '_', '@' "
                                    "and '-' (not first), and a final '$' are allowed", shown);
        return FALSE;
      }
  *(char **) dest = g_strdup (value);
  return TRUE;
}

gboolean
ep_config_parse_bool (const EpKeySpec *spec, const char *value, void *dest, char **problem)
{
  static const char *const yes[] = { "yes", "true", "on", "1", NULL };
  static const char *const no[] = { "no", "false", "off", "0", NULL };
  if (!g_strv_contains (yes, value) && !g_strv_contains (no, value))
    {
      *problem = g_strdup_printf ("'%s' must be yes or no", value);
      return FALSE;
    }
  *(gboolean *) dest = g_strv_contains (yes, value);
  return TRUE;
}

gboolean
ep_config_parser_is_string (EpValueParser parse)
{
  return parse == ep_config_parse_url || parse == ep_config_parse_path ||
         parse == ep_config_parse_token_path || parse == ep_config_parse_group;
}
