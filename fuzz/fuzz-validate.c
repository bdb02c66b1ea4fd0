/* fuzz-validate: the input rules of README "D-Bus API" against independent
 * oracles, value by value and for whole calls.
 *
 * Input: byte 0 picks the kind (its value modulo 8, in the order of
 * ep_kinds[]) for ep_validate_args; bytes 1-8 and 9-16 are two doubles (host
 * byte order) for the number rules; the rest is the text. ep_validate_value
 * runs every rule on the text up to its first NUL; ep_validate_args gets the
 * text split at '\n' into the kind's string arguments, in order (missing ones
 * are NULL), and the two doubles as its number arguments.
 *
 * Invariants: no crash, leak or sanitizer report; each rule accepts exactly
 * what the wording of enapter-provisiond(8) "Input rules" (and for versions,
 * semver.org's grammar) accepts; a failure always says what is wrong, in
 * text the bus can carry; a call is
 * refused exactly when one argument fails, naming the first one. */
#include "fuzz-common.h"

#include "errors.h"
#include "validate.h"

#include <math.h>

static GRegex *slug_re;
static GRegex *semver_re;

static gboolean
id_oracle (const char *s, size_t max)
{
  size_t n = strlen (s);
  if (n < 1 || n > max)
    return FALSE;
  return strspn (s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-") == n;
}

static gboolean
name_oracle (const char *s)
{
  size_t n = strlen (s);
  if (n < 1 || n > 255 || !g_utf8_validate (s, -1, NULL) || !fuzz_no_controls (s) ||
      !fuzz_dbus_string_ok (s))
    return FALSE;
  for (const char *p = s; *p; p = g_utf8_next_char (p))
    if (!g_unichar_isspace (g_utf8_get_char (p)))
      return TRUE;
  return FALSE;   /* blank */
}

/* A zone "exists" when tzdata has a TZif file of that name and the name is
 * an IANA one: these start with a capital (tzdata's localtime, posixrules,
 * posix/ and right/ are not zones). The name is a relative path without "."
 * components, so it cannot leave the zoneinfo tree. */
static gboolean
timezone_oracle (const char *s)
{
  size_t n = strlen (s);
  if (n < 1 || n > 64 || !g_ascii_isupper (s[0]) || s[n - 1] == '/' || strstr (s, "//"))
    return FALSE;
  if (strspn (s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/_+-") != n)
    return FALSE;
  g_autofree char *path = g_build_filename ("/usr/share/zoneinfo", s, NULL);
  if (!g_file_test (path, G_FILE_TEST_IS_REGULAR))
    return FALSE;
  FILE *f = fopen (path, "rb");
  char magic[4] = { 0 };
  gboolean ok = f && fread (magic, 1, 4, f) == 4 && memcmp (magic, "TZif", 4) == 0;
  if (f)
    fclose (f);
  return ok;
}

/* The plain-name rule of enapter-provisiond(8), for ids that become
 * keystore directories: 1-128 bytes of printable UTF-8 (no control
 * character, no noncharacter), no '/', not beginning with '.'. */
static gboolean
device_id_oracle (const char *s)
{
  size_t n = strlen (s);
  return n >= 1 && n <= 128 && s[0] != '.' && strchr (s, '/') == NULL &&
         g_utf8_validate (s, -1, NULL) && fuzz_no_controls (s) && fuzz_dbus_string_ok (s);
}

static gboolean
range_oracle (double v, double limit)
{
  return !isnan (v) && !isinf (v) && v >= -limit && v <= limit;
}

static gboolean
oracle (EpRule rule, const char *s, double num)
{
  static const char *const protocols[] = { "MQTT", "MQTTS", NULL };
  static const char *const types[] = { "ELECTROLYSER", "DRYER", "WATER_TANK", NULL };
  if (s == NULL && rule != EP_RULE_LATITUDE && rule != EP_RULE_LONGITUDE)
    return FALSE;
  switch (rule)
    {
    case EP_RULE_ID:
      return id_oracle (s, 128);
    case EP_RULE_HARDWARE_ID:
      return id_oracle (s, 64);
    case EP_RULE_NAME:
      return name_oracle (s);
    case EP_RULE_PROTOCOL:
      return g_strv_contains (protocols, s);
    case EP_RULE_DEVICE_TYPE:
      return g_strv_contains (types, s);
    case EP_RULE_SLUG:
      return g_regex_match (slug_re, s, 0, NULL);
    case EP_RULE_SEMVER:
      return strlen (s) <= 64 && g_regex_match (semver_re, s, 0, NULL);
    case EP_RULE_TIMEZONE:
      return timezone_oracle (s);
    case EP_RULE_LATITUDE:
      return range_oracle (num, 90);
    case EP_RULE_LONGITUDE:
      return range_oracle (num, 180);
    case EP_RULE_DEVICE_ID:
      return device_id_oracle (s);
    }
  return FALSE;
}

static const char *const rule_names[] = {
  "id", "hardware-id", "name", "protocol", "device-type",
  "slug", "semver", "timezone", "latitude", "longitude", "device-id",
};

/* Runs one rule and checks it against the oracle; returns the verdict. */
static gboolean
check_rule (EpRule rule, const char *s, double num)
{
  g_autofree char *problem = NULL;
  gboolean ok = ep_validate_value (rule, s, num, &problem);
  gboolean want = oracle (rule, s, num);
  FUZZ_CHECK (rule_names[rule], ok == want, "rule %s %s '%s' (num %.17g), the rules say %s",
              rule_names[rule], ok ? "accepts" : "refuses", s ? s : "(null)", num,
              want ? "valid" : "invalid");
  FUZZ_CHECK ("problem", ok ? problem == NULL : problem != NULL && *problem != '\0',
              "rule %s: verdict %d with problem %s", rule_names[rule], ok,
              problem ? problem : "(null)");
  if (problem)
    fuzz_check_bus_text ("a problem text", problem);
  return ok;
}

static void
check_args (const EpKind *kind, const char *text, double num0, double num1)
{
  g_autoptr (EpArgs) args = ep_args_new (kind);
  g_auto (GStrv) parts = g_strsplit (text, "\n", EP_MAX_ARGS);
  size_t next_str = 0;
  int next_num = 0;
  int first_bad = -1;
  for (guint i = 0; i < ep_kind_n_args (kind); i++)
    {
      const EpArg *arg = &kind->args[i];
      if (arg->type == 'd')
        args->num[i] = next_num++ == 0 ? num0 : num1;
      else if (parts[next_str] != NULL)
        args->str[i] = g_strdup (parts[next_str++]);
      /* Each rule is checked against its oracle above; here only the way a
       * call combines them matters. */
      g_autofree char *problem = NULL;
      if (first_bad < 0 && !ep_validate_value (arg->rule, args->str[i], args->num[i], &problem))
        first_bad = (int) i;
    }

  g_autoptr (GError) error = NULL;
  gboolean ok = ep_validate_args (args, &error);
  FUZZ_CHECK ("args-verdict", ok == (first_bad < 0), "%s: verdict %d, first invalid argument %d",
              kind->method, ok, first_bad);
  FUZZ_CHECK ("args-error", ok == (error == NULL), "verdict %d with error %p", ok, (void *) error);
  if (error == NULL || first_bad < 0)
    return;
  FUZZ_CHECK ("args-error", error->domain == EP_ERROR && error->code == EP_ERROR_INVALID_ARGUMENT,
              "refusal is not InvalidArgument: %s", error->message);
  g_autofree char *prefix = g_strdup_printf ("%s: %s ", kind->method, kind->args[first_bad].name);
  FUZZ_CHECK ("args-names-first", g_str_has_prefix (error->message, prefix),
              "message '%s' does not name %s first", error->message,
              kind->args[first_bad].name);
  fuzz_check_bus_text ("the InvalidArgument message", error->message);
}

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  fuzz_setup ();
  /* The zones the oracle looks at are the system's own. */
  unsetenv ("TZDIR");
  slug_re = g_regex_new ("^[a-z0-9][a-z0-9-]{0,63}$", G_REGEX_RAW | G_REGEX_DOLLAR_ENDONLY, 0,
                         NULL);
  /* semver.org's recommended expression, verbatim. */
  semver_re = g_regex_new (
    "^(0|[1-9]\\d*)\\.(0|[1-9]\\d*)\\.(0|[1-9]\\d*)"
    "(?:-((?:0|[1-9]\\d*|\\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\\.(?:0|[1-9]\\d*|\\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    "(?:\\+([0-9a-zA-Z-]+(?:\\.[0-9a-zA-Z-]+)*))?$",
    G_REGEX_RAW | G_REGEX_DOLLAR_ENDONLY, 0, NULL);
  g_assert (slug_re && semver_re);
  return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  uint8_t head[17] = { 0 };
  size_t head_len = MIN (size, sizeof head);
  memcpy (head, data, head_len);
  double num0, num1;
  memcpy (&num0, head + 1, sizeof num0);
  memcpy (&num1, head + 9, sizeof num1);
  g_autofree char *text = g_strndup ((const char *) data + head_len, size - head_len);

  for (EpRule rule = EP_RULE_ID; rule <= EP_RULE_DEVICE_ID; rule++)
    {
      check_rule (rule, text, num0);
      if (rule == EP_RULE_LATITUDE || rule == EP_RULE_LONGITUDE)
        check_rule (rule, text, num1);
    }
  check_rule (EP_RULE_NAME, NULL, 0);

  check_args (&ep_kinds[head[0] % 8], text, num0, num1);
  return 0;
}
