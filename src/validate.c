#include "validate.h"

#include "errors.h"

#include <fcntl.h>
#include <math.h>
#include <sys/stat.h>
#include <unistd.h>
#include <string.h>

gboolean
ep_unichar_is_plain (gunichar c)
{
  /* sd-bus refuses noncharacters in strings although they are valid UTF-8:
   * a reply holding one could never be sent. */
  gboolean noncharacter = (c >= 0xFDD0 && c <= 0xFDEF) || (c & 0xFFFE) == 0xFFFE;
  return !g_unichar_iscntrl (c) && !noncharacter;
}

static gboolean
is_id_char (char c)
{
  return g_ascii_isalnum (c) || c == '_' || c == '-';
}

static gboolean
check_id (const char *s, gsize max, char **problem)
{
  gsize n = strlen (s);
  gboolean ok = n >= 1 && n <= max;
  for (gsize i = 0; ok && i < n; i++)
    ok = is_id_char (s[i]);
  if (!ok)
    *problem = g_strdup_printf ("must be 1-%zu characters of A-Z, a-z, 0-9, '_' and '-'", max);
  return ok;
}

static gboolean
check_name (const char *s, char **problem)
{
  gsize n = strlen (s);
  if (n < 1 || n > 255)
    {
      *problem = g_strdup ("must be 1-255 bytes long");
      return FALSE;
    }
  if (!g_utf8_validate (s, -1, NULL))
    {
      *problem = g_strdup ("must be valid UTF-8");
      return FALSE;
    }
  gboolean blank = TRUE;
  for (const char *p = s; *p; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);
      if (!ep_unichar_is_plain (c))
        {
          *problem = g_strdup ("must not contain control characters or noncharacters");
          return FALSE;
        }
      if (!g_unichar_isspace (c))
        blank = FALSE;
    }
  if (blank)
    *problem = g_strdup ("must not be blank");
  return !blank;
}

static gboolean
check_one_of (const char *s, const char *const *values, char **problem)
{
  for (size_t i = 0; values[i]; i++)
    if (strcmp (s, values[i]) == 0)
      return TRUE;
  g_autofree char *list = g_strjoinv (", ", (char **) values);
  *problem = g_strdup_printf ("must be one of %s", list);
  return FALSE;
}

static gboolean
check_slug (const char *s, char **problem)
{
  gsize n = strlen (s);
  gboolean ok = n >= 1 && n <= 64 && (g_ascii_islower (s[0]) || g_ascii_isdigit (s[0]));
  for (gsize i = 1; ok && i < n; i++)
    ok = g_ascii_islower (s[i]) || g_ascii_isdigit (s[i]) || s[i] == '-';
  if (!ok)
    *problem = g_strdup ("must be 1-64 characters of a-z, 0-9 and '-', starting with a letter or digit");
  return ok;
}

/* A numeric identifier of semver: digits without a leading zero. */
static const char *
scan_number (const char *p)
{
  if (!g_ascii_isdigit (*p) || (p[0] == '0' && g_ascii_isdigit (p[1])))
    return NULL;
  while (g_ascii_isdigit (*p))
    p++;
  return p;
}

/* Dot-separated identifiers of [0-9A-Za-z-] (pre-release or build). In a
 * pre-release, numeric identifiers have no leading zero. */
static const char *
scan_identifiers (const char *p, gboolean prerelease)
{
  for (;;)
    {
      const char *start = p;
      gboolean numeric = TRUE;
      while (g_ascii_isalnum (*p) || *p == '-')
        numeric &= g_ascii_isdigit (*p++);
      if (p == start || (prerelease && numeric && p - start > 1 && *start == '0'))
        return NULL;
      if (*p != '.')
        return p;
      p++;
    }
}

static gboolean
check_semver (const char *s, char **problem)
{
  const char *p = s;
  for (int part = 0; p && part < 3; part++)
    {
      p = scan_number (p);
      if (p && part < 2)
        p = *p == '.' ? p + 1 : NULL;
    }
  if (p && *p == '-')
    p = scan_identifiers (p + 1, TRUE);
  if (p && *p == '+')
    p = scan_identifiers (p + 1, FALSE);
  if (p == NULL || *p != '\0' || strlen (s) > 64)
    {
      *problem = g_strdup ("must be a semantic version such as 3.0.0 or 3.1.0-rc.1");
      return FALSE;
    }
  return TRUE;
}

/* A zone exists when tzdata has a TZif file for it; GLib's loader would also
 * accept POSIX TZ strings such as "CET-1", which are not IANA zones. */
static gboolean
zoneinfo_exists (const char *zone)
{
  const char *dir = g_getenv ("TZDIR");
  g_autofree char *path = g_build_filename (dir ? dir : "/usr/share/zoneinfo", zone, NULL);
  int fd = open (path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0)
    return FALSE;
  char magic[4];
  struct stat st;
  gboolean ok = fstat (fd, &st) == 0 && S_ISREG (st.st_mode) &&
                read (fd, magic, sizeof magic) == sizeof magic && memcmp (magic, "TZif", 4) == 0;
  close (fd);
  return ok;
}

static gboolean
check_timezone (const char *s, char **problem)
{
  /* Syntax first, so no caller-chosen path reaches the file system. IANA
   * names start with a capital; that also keeps out tzdata's non-zones
   * (localtime, posixrules, posix/..., right/...). */
  gsize n = strlen (s);
  gboolean ok = n >= 1 && n <= 64 && g_ascii_isupper (s[0]) && strstr (s, "//") == NULL &&
                s[n - 1] != '/';
  for (gsize i = 0; ok && i < n; i++)
    ok = g_ascii_isalnum (s[i]) || strchr ("/_+-", s[i]) != NULL;
  if (ok)
    ok = zoneinfo_exists (s);
  if (!ok)
    *problem = g_strdup ("must be an existing IANA time zone such as Europe/Berlin");
  return ok;
}

static gboolean
check_range (double v, double limit, char **problem)
{
  if (!isfinite (v) || v < -limit || v > limit)
    {
      *problem = g_strdup_printf ("must be a finite number from -%g to %g", limit, limit);
      return FALSE;
    }
  return TRUE;
}

gboolean
ep_validate_value (EpRule rule, const char *str, double num, char **problem)
{
  static const char *const device_types[] = { "ELECTROLYSER", "DRYER", "WATER_TANK", NULL };

  if (rule != EP_RULE_LATITUDE && rule != EP_RULE_LONGITUDE && str == NULL)
    {
      *problem = g_strdup ("is missing");
      return FALSE;
    }
  switch (rule)
    {
    case EP_RULE_ID:
      return check_id (str, 128, problem);
    case EP_RULE_HARDWARE_ID:
      return check_id (str, 64, problem);
    case EP_RULE_NAME:
      return check_name (str, problem);
    case EP_RULE_PROTOCOL:
      return check_one_of (str, ep_protocols, problem);
    case EP_RULE_DEVICE_TYPE:
      return check_one_of (str, device_types, problem);
    case EP_RULE_SLUG:
      return check_slug (str, problem);
    case EP_RULE_SEMVER:
      return check_semver (str, problem);
    case EP_RULE_TIMEZONE:
      return check_timezone (str, problem);
    case EP_RULE_LATITUDE:
      return check_range (num, 90, problem);
    case EP_RULE_LONGITUDE:
      return check_range (num, 180, problem);
    case EP_RULE_DEVICE_ID:
      if (ep_is_plain_name (str))
        return TRUE;
      *problem = g_strdup ("must be 1-128 bytes of printable text without '/' and not start "
                           "with '.'");
      return FALSE;
    }
  *problem = g_strdup ("has an unknown rule");
  return FALSE;
}

gboolean
ep_validate_args (const EpArgs *args, GError **error)
{
  const EpKind *kind = args->kind;
  for (guint i = 0; i < ep_kind_n_args (kind); i++)
    {
      g_autofree char *problem = NULL;
      if (!ep_validate_value (kind->args[i].rule, args->str[i], args->num[i], &problem))
        {
          g_set_error (error, EP_ERROR, EP_ERROR_INVALID_ARGUMENT, "%s: %s %s", kind->method,
                       kind->args[i].name, problem);
          return FALSE;
        }
    }
  return TRUE;
}

gboolean
ep_is_plain_name (const char *name)
{
  if (name == NULL)
    return FALSE;
  gsize n = strlen (name);
  if (n < 1 || n > 128 || name[0] == '.' || strchr (name, '/') != NULL)
    return FALSE;
  return ep_is_plain_text (name);
}

gboolean
ep_is_plain_text (const char *s)
{
  /* Printable ASCII, what nearly every value is, needs no decoding. */
  while (*s >= 0x20 && *s < 0x7f)
    s++;
  if (*s == '\0')
    return TRUE;
  if (!g_utf8_validate (s, -1, NULL))
    return FALSE;
  for (const char *p = s; *p; p = g_utf8_next_char (p))
    if (!ep_unichar_is_plain (g_utf8_get_char (p)))
      return FALSE;
  return TRUE;
}
