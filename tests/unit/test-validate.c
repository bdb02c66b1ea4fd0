/* Unit tests of src/validate.h: the input rules of README "D-Bus API" and the
 * plain-name rule of README "Keystore". */
#include "errors.h"
#include "unit-util.h"
#include "validate.h"

#include <math.h>

/* Asserts that @rule accepts (@ok) or refuses @str, and that a refusal says
 * what is wrong. */
static void
check_str (EpRule rule, const char *str, gboolean ok)
{
  g_autofree char *problem = NULL;
  gboolean got = ep_validate_value (rule, str, 0, &problem);
  if (got != ok)
    {
      g_autofree char *shown = g_strescape (str, NULL);
      g_test_fail_printf ("rule %d on \"%s\" (%zu bytes): expected %s, got %s (%s)",
                          (int) rule, shown, strlen (str), ok ? "accepted" : "refused",
                          got ? "accepted" : "refused", problem ? problem : "no problem");
      return;
    }
  if (ok)
    g_assert_null (problem);
  else
    {
      g_assert_nonnull (problem);
      g_assert_cmpstr (problem, !=, "");
    }
}

static void
check_num (EpRule rule, double num, gboolean ok)
{
  g_autofree char *problem = NULL;
  gboolean got = ep_validate_value (rule, NULL, num, &problem);
  if (got != ok)
    {
      g_test_fail_printf ("rule %d on %.17g: expected %s, got %s", (int) rule, num,
                          ok ? "accepted" : "refused", got ? "accepted" : "refused");
      return;
    }
  if (!ok)
    g_assert_nonnull (problem);
}

/* Validates @kind_name's seed arguments with @name set to @value: on
 * refusal the error must be InvalidArgument naming @name. */
static void
check_arg (const char *kind_name, const char *name, const char *value, gboolean ok)
{
  g_autoptr (EpArgs) args = unit_args_seed (kind_name);
  unit_args_set (args, name, value);
  g_autoptr (GError) error = NULL;
  gboolean got = ep_validate_args (args, &error);
  if (got != ok)
    {
      g_autofree char *shown = g_strescape (value, NULL);
      g_test_fail_printf ("%s %s=\"%s\" (%zu bytes): expected %s, got %s (%s)", kind_name,
                          name, shown, strlen (value), ok ? "accepted" : "refused",
                          got ? "accepted" : "refused", error ? error->message : "no error");
      return;
    }
  if (ok)
    {
      g_assert_no_error (error);
      return;
    }
  g_assert_error (error, EP_ERROR, EP_ERROR_INVALID_ARGUMENT);
  if (!unit_has_word (error->message, name))
    g_test_fail_printf ("the message for %s does not name it: %s", name, error->message);
}

static void
check_arg_num (const char *name, double value, gboolean ok)
{
  g_autoptr (EpArgs) args = unit_args_seed ("gateway");
  unit_args_set_num (args, name, value);
  g_autoptr (GError) error = NULL;
  gboolean got = ep_validate_args (args, &error);
  if (got != ok)
    {
      g_test_fail_printf ("gateway %s=%.17g: expected %s, got %s", name, value,
                          ok ? "accepted" : "refused", got ? "accepted" : "refused");
      return;
    }
  if (ok)
    g_assert_no_error (error);
  else
    {
      g_assert_error (error, EP_ERROR, EP_ERROR_INVALID_ARGUMENT);
      g_assert_true (unit_has_word (error->message, name));
    }
}

static void
test_seed_args_valid (void)
{
  for (const EpKind *k = ep_kinds; k->kind; k++)
    {
      g_autoptr (EpArgs) args = unit_args_seed (k->kind);
      g_autoptr (GError) error = NULL;
      gboolean ok = ep_validate_args (args, &error);
      g_assert_no_error (error);
      g_assert_true (ok);
    }
}

/* Every 1-128 id argument of every kind, both sides of each boundary. */
static void
test_ids (void)
{
  static const char *const id_args[] = { "site_id", "runtime_id", "blueprint_id",
                                         "master_device_id" };
  static const char *const bad_chars[] = { " ", "/", ".", ":", "+", "\n", "\xc3\xa4", "*" };
  g_autofree char *len128 = unit_repeat ('a', 128);
  g_autofree char *len129 = unit_repeat ('a', 129);
  guint checked = 0;

  for (const EpKind *k = ep_kinds; k->kind; k++)
    for (size_t a = 0; a < G_N_ELEMENTS (id_args); a++)
      {
        if (ep_kind_arg_index (k, id_args[a]) < 0)
          continue;
        checked++;
        check_arg (k->kind, id_args[a], "", FALSE);
        check_arg (k->kind, id_args[a], "a", TRUE);
        check_arg (k->kind, id_args[a], "Z", TRUE);
        check_arg (k->kind, id_args[a], "0", TRUE);
        check_arg (k->kind, id_args[a], "_", TRUE);
        check_arg (k->kind, id_args[a], "-", TRUE);
        check_arg (k->kind, id_args[a], "AZaz09_-", TRUE);
        check_arg (k->kind, id_args[a], len128, TRUE);
        check_arg (k->kind, id_args[a], len129, FALSE);
        for (size_t c = 0; c < G_N_ELEMENTS (bad_chars); c++)
          {
            g_autofree char *bad = g_strconcat ("abc", bad_chars[c], "def", NULL);
            check_arg (k->kind, id_args[a], bad, FALSE);
          }
      }
  /* site_id in 7 kinds, runtime_id, blueprint_id, master_device_id once. */
  g_assert_cmpuint (checked, ==, 10);

  check_str (EP_RULE_ID, len128, TRUE);
  check_str (EP_RULE_ID, len129, FALSE);
  check_str (EP_RULE_ID, "", FALSE);
}

static void
test_hardware_id (void)
{
  g_autofree char *len64 = unit_repeat ('F', 64);
  g_autofree char *len65 = unit_repeat ('F', 65);
  guint checked = 0;
  for (const EpKind *k = ep_kinds; k->kind; k++)
    {
      if (ep_kind_arg_index (k, "hardware_id") < 0)
        continue;
      checked++;
      check_arg (k->kind, "hardware_id", "", FALSE);
      check_arg (k->kind, "hardware_id", "x", TRUE);
      check_arg (k->kind, "hardware_id", len64, TRUE);
      check_arg (k->kind, "hardware_id", len65, FALSE);
      check_arg (k->kind, "hardware_id", "C8795CBA 5375", FALSE);
      check_arg (k->kind, "hardware_id", "C8795CBA/5375", FALSE);
      check_arg (k->kind, "hardware_id", "a_b-C", TRUE);
    }
  g_assert_cmpuint (checked, ==, 6);
}

static void
test_name (void)
{
  g_autofree char *len255 = unit_repeat ('n', 255);
  g_autofree char *len256 = unit_repeat ('n', 256);
  /* 85 three-byte characters: 255 bytes, valid; one more byte: 256. */
  GString *wide = g_string_new (NULL);
  for (int i = 0; i < 85; i++)
    g_string_append (wide, "\xe9\x9b\xbb"); /* U+96FB */
  g_autofree char *wide255 = g_strdup (wide->str);
  g_string_append_c (wide, 'x');
  g_autofree char *wide256 = g_string_free (wide, FALSE);
  g_assert_cmpuint (strlen (wide255), ==, 255);

  struct { const char *value; gboolean ok; } cases[] = {
    { "", FALSE },
    { "x", TRUE },
    { len255, TRUE },
    { len256, FALSE },
    { wide255, TRUE },
    { wide256, FALSE },
    { "tab\there", FALSE },
    { "new\nline", FALSE },
    { "carriage\rreturn", FALSE },
    { "del\x7f", FALSE },
    { "esc\x1b[31m", FALSE },
    { "nel\xc2\x85", FALSE },           /* U+0085, a C1 control */
    { "   ", FALSE },
    { " ", FALSE },
    { "\xc2\xa0 \xe3\x80\x80", FALSE }, /* only no-break and ideographic spaces */
    { "bad\xff", FALSE },
    { "cut\xc3", FALSE },               /* truncated sequence */
    { "\xc0\xaf", FALSE },              /* overlong '/' */
    { "a\xef\xb7\x90", FALSE },         /* U+FDD0: sd-bus refuses noncharacters */
    { "odd \xef\xbf\xbf", FALSE },      /* U+FFFF */
    { "\xf0\x9f\xbf\xbe", FALSE },      /* U+1FFFE */
    { "\xef\xb7\xb0 after", TRUE },     /* U+FDF0, just past the block */
    { "Gas sensor", TRUE },
    { " padded ", TRUE },
    { "Elektrolyseur Stra\xc3\x9f" "e \xe2\x84\x96 1", TRUE },
    { "\xe9\x9b\xbb\xe8\xa7\xa3\xe6\xa7\xbd", TRUE },
    { "emoji \xf0\x9f\x94\x8b", TRUE },
  };
  for (size_t i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      check_str (EP_RULE_NAME, cases[i].value, cases[i].ok);
      for (const EpKind *k = ep_kinds; k->kind; k++)
        {
          if (ep_kind_arg_index (k, "name") >= 0)
            check_arg (k->kind, "name", cases[i].value, cases[i].ok);
        }
      check_arg ("gateway", "site_name", cases[i].value, cases[i].ok);
    }
}

static void
test_protocol (void)
{
  static const char *const good[] = { "MQTT", "MQTTS" };
  static const char *const bad[] = { "", "mqtt", "mqtts", "Mqtts", "MQTT ", " MQTT", "MQTTSS",
                                     "MQT", "TLS", "MQTT\n", "HTTP" };
  for (size_t i = 0; i < G_N_ELEMENTS (good); i++)
    {
      check_str (EP_RULE_PROTOCOL, good[i], TRUE);
      check_arg ("ucm", "protocol", good[i], TRUE);
      check_arg ("embedded", "protocol", good[i], TRUE);
    }
  for (size_t i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      check_str (EP_RULE_PROTOCOL, bad[i], FALSE);
      check_arg ("ucm", "protocol", bad[i], FALSE);
      check_arg ("embedded", "protocol", bad[i], FALSE);
    }
}

static void
test_device_type (void)
{
  static const char *const good[] = { "ELECTROLYSER", "DRYER", "WATER_TANK" };
  static const char *const bad[] = { "", "electrolyser", "Dryer", "WATER-TANK", "WATER_TANK ",
                                     "WATERTANK", "ELECTROLYZER", "UCM" };
  for (size_t i = 0; i < G_N_ELEMENTS (good); i++)
    {
      check_str (EP_RULE_DEVICE_TYPE, good[i], TRUE);
      check_arg ("embedded", "device_type", good[i], TRUE);
    }
  for (size_t i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      check_str (EP_RULE_DEVICE_TYPE, bad[i], FALSE);
      check_arg ("embedded", "device_type", bad[i], FALSE);
    }
}

static void
test_slug (void)
{
  g_autofree char *len64 = unit_repeat ('s', 64);
  g_autofree char *len65 = unit_repeat ('s', 65);
  g_autofree char *tail = unit_repeat ('-', 63);
  g_autofree char *a_dashes = g_strconcat ("a", tail, NULL);
  struct { const char *value; gboolean ok; } cases[] = {
    { "a", TRUE },
    { "0", TRUE },
    { "gas-sensor-1", TRUE },
    { "9lives", TRUE },
    { "a-", TRUE },
    { a_dashes, TRUE },     /* 64 characters */
    { len64, TRUE },
    { len65, FALSE },
    { "", FALSE },
    { "-a", FALSE },
    { "-", FALSE },
    { "Gas-sensor", FALSE },
    { "gas-Sensor", FALSE },
    { "gas_sensor", FALSE },
    { "gas sensor", FALSE },
    { "gas.sensor", FALSE },
    { "gas/sensor", FALSE },
    { "g\xc3\xa4s", FALSE },
  };
  g_assert_cmpuint (strlen (a_dashes), ==, 64);
  for (size_t i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      check_str (EP_RULE_SLUG, cases[i].value, cases[i].ok);
      check_arg ("lua_device", "slug", cases[i].value, cases[i].ok);
    }
}

static void
test_semver (void)
{
  struct { const char *value; gboolean ok; } cases[] = {
    { "3.0.0", TRUE },
    { "3.1.0-rc.1", TRUE },
    { "1.0.0+build.5", TRUE },
    { "0.0.0", TRUE },
    { "10.20.30", TRUE },
    { "1.0.0-alpha+001", TRUE },
    { "1.0.0-x-y.7.z-92", TRUE },
    { "01.0.0", FALSE },
    { "1.01.0", FALSE },
    { "1.0.01", FALSE },
    { "1.0", FALSE },
    { "1", FALSE },
    { "1.0.0.0", FALSE },
    { "1.0.0-", FALSE },
    { "1.0.0-rc.", FALSE },
    { "1.0.0-rc..1", FALSE },
    { "1.0.0+", FALSE },
    { "1.0.0-rc_1", FALSE },
    { "v1.0.0", FALSE },
    { "-1.0.0", FALSE },
    { "1.0.0 ", FALSE },
    { " 1.0.0", FALSE },
    { "1..0", FALSE },
    { "a.b.c", FALSE },
    { "", FALSE },
    /* semver 2.0.0: numeric pre-release identifiers have no leading zero. */
    { "1.0.0-rc.01", FALSE },
  };
  for (size_t i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      check_str (EP_RULE_SEMVER, cases[i].value, cases[i].ok);
      check_arg ("gateway", "gateway_version", cases[i].value, cases[i].ok);
    }
}

static void
test_timezone (void)
{
  struct { const char *value; gboolean ok; } cases[] = {
    { "Europe/Berlin", TRUE },
    { "UTC", TRUE },
    { "Etc/GMT+1", TRUE },
    { "Etc/GMT-14", TRUE },
    { "America/Argentina/Buenos_Aires", TRUE },
    { "America/Port-au-Prince", TRUE },
    { "Nowhere/Land", FALSE },
    { "../../etc/passwd", FALSE },
    { "/etc/passwd", FALSE },
    { "/usr/share/zoneinfo/Europe/Berlin", FALSE },
    { "Europe/../Europe/Berlin", FALSE },
    { "CET-1", FALSE },                 /* a POSIX TZ string, not a zone */
    { "EST5EDT,M3.2.0,M11.1.0", FALSE },
    { "Europe//Berlin", FALSE },
    { "Europe/Berlin/", FALSE },
    { "Europe", FALSE },                /* a directory of zones */
    { "europe/berlin", FALSE },
    { "Europe/Berlin ", FALSE },
    { "Europe/Berlin\n", FALSE },
    { "zone.tab", FALSE },
    { "", FALSE },
  };
  for (size_t i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      check_str (EP_RULE_TIMEZONE, cases[i].value, cases[i].ok);
      check_arg ("gateway", "site_timezone", cases[i].value, cases[i].ok);
    }
}

static void
test_coordinates (void)
{
  struct { EpRule rule; const char *name; double limit; } axes[] = {
    { EP_RULE_LATITUDE, "latitude", 90 },
    { EP_RULE_LONGITUDE, "longitude", 180 },
  };
  for (size_t a = 0; a < G_N_ELEMENTS (axes); a++)
    {
      double lim = axes[a].limit;
      struct { double value; gboolean ok; } cases[] = {
        { 0, TRUE },
        { -0.0, TRUE },
        { lim, TRUE },
        { -lim, TRUE },
        { nextafter (lim, 0), TRUE },
        { nextafter (lim, INFINITY), FALSE },
        { nextafter (-lim, -INFINITY), FALSE },
        { lim + 0.000001, FALSE },
        { -lim - 0.000001, FALSE },
        { lim * 10, FALSE },
        { NAN, FALSE },
        { -NAN, FALSE },
        { INFINITY, FALSE },
        { -INFINITY, FALSE },
      };
      for (size_t i = 0; i < G_N_ELEMENTS (cases); i++)
        {
          check_num (axes[a].rule, cases[i].value, cases[i].ok);
          check_arg_num (axes[a].name, cases[i].value, cases[i].ok);
        }
    }
  /* The limits are per axis: 91 is a fine longitude, not a latitude. */
  check_num (EP_RULE_LONGITUDE, 91, TRUE);
  check_num (EP_RULE_LATITUDE, 91, FALSE);
}

/* A missing string argument is refused, not dereferenced. */
static void
test_missing_argument (void)
{
  for (const EpKind *k = ep_kinds; k->kind; k++)
    for (guint i = 0; i < ep_kind_n_args (k); i++)
      {
        if (k->args[i].type != 's')
          continue;
        g_autoptr (EpArgs) args = unit_args_seed (k->kind);
        g_clear_pointer (&args->str[i], g_free);
        g_autoptr (GError) error = NULL;
        g_assert_false (ep_validate_args (args, &error));
        g_assert_error (error, EP_ERROR, EP_ERROR_INVALID_ARGUMENT);
        g_assert_true (unit_has_word (error->message, k->args[i].name));
      }
}

/* The first failing argument is the one named. */
static void
test_first_failure_named (void)
{
  g_autoptr (EpArgs) args = unit_args_seed ("ucm");
  unit_args_set (args, "hardware_id", "bad id");
  unit_args_set (args, "protocol", "TLS");
  g_autoptr (GError) error = NULL;
  g_assert_false (ep_validate_args (args, &error));
  g_assert_error (error, EP_ERROR, EP_ERROR_INVALID_ARGUMENT);
  g_assert_true (unit_has_word (error->message, "hardware_id"));
  g_assert_false (unit_has_word (error->message, "protocol"));
}

static void
test_plain_name (void)
{
  g_autofree char *len128 = unit_repeat ('p', 128);
  g_autofree char *len129 = unit_repeat ('p', 129);
  struct { const char *value; gboolean ok; } cases[] = {
    { "", FALSE },
    { ".", FALSE },
    { "..", FALSE },
    { ".hidden", FALSE },
    { ".new-1234-dev", FALSE },
    { "a/b", FALSE },
    { "/abs", FALSE },
    { "x/", FALSE },
    { "../x", FALSE },
    { "tab\tx", FALSE },
    { "nl\nx", FALSE },
    { "del\x7f", FALSE },
    { "nel\xc2\x85", FALSE },
    { "bad\xff", FALSE },
    { len128, TRUE },
    { len129, FALSE },
    { "ucmbbba0-79f2-4e9e-a6f0-69a310ab110b", TRUE },
    { "gas-sensor-1", TRUE },
    { "a..b", TRUE },
    { "x.", TRUE },
  };
  for (size_t i = 0; i < G_N_ELEMENTS (cases); i++)
    if (ep_is_plain_name (cases[i].value) != cases[i].ok)
      {
        g_autofree char *shown = g_strescape (cases[i].value, NULL);
        g_test_fail_printf ("ep_is_plain_name (\"%s\"): expected %s", shown,
                            cases[i].ok ? "TRUE" : "FALSE");
      }
  g_assert_false (ep_is_plain_name (NULL));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/validate/seed-args", test_seed_args_valid);
  g_test_add_func ("/validate/ids", test_ids);
  g_test_add_func ("/validate/hardware-id", test_hardware_id);
  g_test_add_func ("/validate/name", test_name);
  g_test_add_func ("/validate/protocol", test_protocol);
  g_test_add_func ("/validate/device-type", test_device_type);
  g_test_add_func ("/validate/slug", test_slug);
  g_test_add_func ("/validate/semver", test_semver);
  g_test_add_func ("/validate/timezone", test_timezone);
  g_test_add_func ("/validate/coordinates", test_coordinates);
  g_test_add_func ("/validate/missing-argument", test_missing_argument);
  g_test_add_func ("/validate/first-failure-named", test_first_failure_named);
  g_test_add_func ("/validate/plain-name", test_plain_name);
  return g_test_run ();
}
