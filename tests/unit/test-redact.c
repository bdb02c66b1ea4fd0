/* Unit tests of src/redact.h and the line escaping of src/log.h: the two
 * things that keep tokens and forged lines out of the log and off the bus. */
#include "log.h"
#include "redact.h"

#include <string.h>

static void
test_redact_every_occurrence (void)
{
  const char *secrets[] = { "TOKEN-A", NULL, "", "tok-b" };
  g_autofree char *out = ep_redact ("TOKEN-A and tok-b, TOKEN-ATOKEN-A!", secrets, 4);
  g_assert_cmpstr (out, ==, "[redacted] and [redacted], [redacted][redacted]!");
  g_assert_true (ep_redact_needed ("x tok-b", secrets, 4));
  g_assert_false (ep_redact_needed ("TOKEN-", secrets, 4));
  g_assert_false (ep_redact_needed (NULL, secrets, 4));
}

static void
test_redact_untouched_without_secrets (void)
{
  const char *none[] = { NULL, "" };
  g_autofree char *out = ep_redact ("plain text", none, 2);
  g_assert_cmpstr (out, ==, "plain text");
  /* A secret that is itself a part of the replacement ends. */
  const char *odd[] = { "red" };
  g_autofree char *odd_out = ep_redact ("red", odd, 1);
  g_assert_cmpstr (odd_out, ==, "[redacted]");
}

static void
test_escape_controls_and_bad_utf8 (void)
{
  g_autofree char *a = ep_log_escape ("x\n<0>FORGED\r\t\x1b[31m\x7f", 1000);
  g_assert_cmpstr (a, ==, "x\\n<0>FORGED\\x0d\\x09\\x1b[31m\\x7f");
  g_autofree char *b = ep_log_escape ("ok \xff\xfe caf\xc3\xa9 \xc2\x85 \xe2\x80\xa8.", 1000);
  g_assert_cmpstr (b, ==, "ok \\xff\\xfe café \\u{0085} \\u{2028}.");
  g_assert_true (g_utf8_validate (b, -1, NULL));
  g_autofree char *c = ep_log_escape ("back\\slash stays", 1000);
  g_assert_cmpstr (c, ==, "back\\slash stays");
}

static void
test_escape_is_bounded (void)
{
  g_autofree char *huge = g_strnfill (1000000, 'A');
  g_autofree char *out = ep_log_escape (huge, 128);
  g_assert_cmpuint (strlen (out), ==, 128 + strlen ("…"));
  g_assert_true (g_str_has_suffix (out, "…"));
  g_autofree char *exact = ep_log_escape ("abc", 3);
  g_assert_cmpstr (exact, ==, "abc");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/redact/every-occurrence", test_redact_every_occurrence);
  g_test_add_func ("/redact/untouched-without-secrets", test_redact_untouched_without_secrets);
  g_test_add_func ("/log/escape-controls-and-bad-utf8", test_escape_controls_and_bad_utf8);
  g_test_add_func ("/log/escape-is-bounded", test_escape_is_bounded);
  return g_test_run ();
}
