/* Helpers shared by the unit tests: call arguments built from the API seed's
 * examples, and small string checks. Header-only so each test binary stays
 * one source file. */
#pragma once

#include "kinds.h"

#include <string.h>

/* The argument values of the seed's request example for each kind, in the
 * kind's argument order ('d' arguments are set from the numbers below). */
typedef struct {
  const char *kind;
  const char *values[EP_MAX_ARGS];
} UnitSeedArgs;

static const UnitSeedArgs unit_seed_args[] = {
  { "ucm", { "sitebba0-79f2-4e9e-a6f0-69a310ab110b", "C8795CBA5375484E829105E959663C8B",
             "My UCM", "MQTTS" } },
  { "vucm", { "sitebba0-79f2-4e9e-a6f0-69a310ab110b", "V8795CBA5375484E829105E959663C8B",
              "My VUCM" } },
  { "embedded", { "ELECTROLYSER", "sitebba0-79f2-4e9e-a6f0-69a310ab110b",
                  "BCC415CBA5375484E829105E959663C8B", "My Electrolyser", "MQTTS" } },
  { "link_master", { "sitebba0-79f2-4e9e-a6f0-69a310ab110b",
                     "BCC415CBA5375484E829105E959663C8B", "Enapter Link 1" } },
  { "link_slave", { "sitebba0-79f2-4e9e-a6f0-69a310ab110b", "435840FFE5CD4E9DA93545DDF7E6D5FB",
                    "ENP-AO6 BCC4", "02618484-5c16-4159-998a-ef4acc16666c" } },
  { "standalone", { "sitebba0-79f2-4e9e-a6f0-69a310ab110b", "My Device" } },
  { "lua_device", { "ucmbbba0-79f2-4e9e-a6f0-69a310ab110b", "bluepri1-50n3-4t9d-e6v0-69i310cb110e",
                    "Gas sensor", "gas-sensor-1" } },
  { "gateway", { "fecbbba0-79f2-4e9e-a6f0-69a310ab110b", "B27925CBA5375484E829105E959663C8B",
                 "3.0.0", "My Site", "Europe/Berlin" } },
};

#define UNIT_SEED_LATITUDE 52.520008
#define UNIT_SEED_LONGITUDE 13.404954

/* Sets the string argument @name of @args, which must exist. */
static inline void
unit_args_set (EpArgs *args, const char *name, const char *value)
{
  int i = ep_kind_arg_index (args->kind, name);
  g_assert_cmpint (i, >=, 0);
  g_assert_cmpint (args->kind->args[i].type, ==, 's');
  g_free (args->str[i]);
  args->str[i] = g_strdup (value);
}

/* Sets the number argument @name of @args, which must exist. */
static inline void
unit_args_set_num (EpArgs *args, const char *name, double value)
{
  int i = ep_kind_arg_index (args->kind, name);
  g_assert_cmpint (i, >=, 0);
  g_assert_cmpint (args->kind->args[i].type, ==, 'd');
  args->num[i] = value;
}

/* Arguments of @kind_name as in the seed's request example. */
static inline EpArgs *
unit_args_seed (const char *kind_name)
{
  const EpKind *kind = ep_kind_by_name (kind_name);
  g_assert_nonnull (kind);
  const UnitSeedArgs *seed = NULL;
  for (size_t i = 0; i < G_N_ELEMENTS (unit_seed_args); i++)
    if (strcmp (unit_seed_args[i].kind, kind_name) == 0)
      seed = &unit_seed_args[i];
  g_assert_nonnull (seed);

  EpArgs *args = ep_args_new (kind);
  guint next = 0;
  for (guint i = 0; i < ep_kind_n_args (kind); i++)
    {
      if (kind->args[i].type == 's')
        {
          g_assert_nonnull (seed->values[next]);
          args->str[i] = g_strdup (seed->values[next++]);
        }
    }
  if (strcmp (kind_name, "gateway") == 0)
    {
      unit_args_set_num (args, "latitude", UNIT_SEED_LATITUDE);
      unit_args_set_num (args, "longitude", UNIT_SEED_LONGITUDE);
    }
  return args;
}

/* A string of @n copies of @c. */
static inline char *
unit_repeat (char c, gsize n)
{
  char *s = g_malloc (n + 1);
  memset (s, c, n);
  s[n] = '\0';
  return s;
}

static inline gboolean
unit_is_word_char (char c)
{
  return g_ascii_isalnum (c) || c == '_';
}

/* TRUE when @word occurs in @text as a whole word (so "name" does not match
 * inside "site_name"). */
static inline gboolean
unit_has_word (const char *text, const char *word)
{
  gsize n = strlen (word);
  for (const char *p = strstr (text, word); p != NULL; p = strstr (p + 1, word))
    {
      gboolean start_ok = p == text || !unit_is_word_char (p[-1]);
      gboolean end_ok = !unit_is_word_char (p[n]);
      if (start_ok && end_ok)
        return TRUE;
    }
  return FALSE;
}

/* TRUE when @s is valid UTF-8 without any control character. */
static inline gboolean
unit_is_printable_utf8 (const char *s)
{
  if (!g_utf8_validate (s, -1, NULL))
    return FALSE;
  for (const char *p = s; *p; p = g_utf8_next_char (p))
    if (g_unichar_iscntrl (g_utf8_get_char (p)))
      return FALSE;
  return TRUE;
}

/* How many times slower than native these tests run: EP_TEST_SLOWDOWN
 * (scripts/cross-test sets it for qemu-user), else 1. For the bounds on
 * computing time that catch a quadratic algorithm; a wait's bound stays. */
static inline gint64
unit_slowdown (void)
{
  guint64 n = 1;
  const char *s = g_getenv ("EP_TEST_SLOWDOWN");
  if (s != NULL && !g_ascii_string_to_unsigned (s, 10, 1, 1000, &n, NULL))
    g_error ("EP_TEST_SLOWDOWN='%s' is not a whole number from 1 to 1000; unset it, or set "
             "how many times slower than native the tests run", s);
  return (gint64) n;
}
