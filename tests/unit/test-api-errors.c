/* Unit tests of ep_api_error_text (src/api.h): the API's own error text from
 * an error body, joined, sanitised and bounded. */
#include "api.h"
#include "redact.h"
#include "unit-util.h"

static char *
error_text (const char *body)
{
  return ep_api_error_text (body, strlen (body));
}

static void
test_error_text_messages (void)
{
  g_autofree char *one = error_text (
    "{\"errors\":[{\"code\":\"site_not_found\",\"message\":\"Site not found\","
    "\"details\":{\"site_id\":\"x\"}}]}");
  g_assert_nonnull (one);
  g_assert_true (g_str_has_prefix (one, "Site not found"));
  g_assert_null (strstr (one, "; "));

  g_autofree char *two = error_text (
    "{\"errors\":[{\"code\":\"c1\",\"message\":\"First problem\"},"
    "{\"code\":\"c2\",\"message\":\"Second problem\"},"
    "{\"code\":\"c3\",\"message\":\"Third problem\"}]}");
  g_assert_nonnull (two);
  g_auto (GStrv) parts = g_strsplit (two, "; ", -1);
  g_assert_cmpuint (g_strv_length (parts), ==, 3);
  g_assert_true (g_str_has_prefix (parts[0], "First problem"));
  g_assert_true (g_str_has_prefix (parts[1], "Second problem"));
  g_assert_true (g_str_has_prefix (parts[2], "Third problem"));

  g_autofree char *code_only = error_text ("{\"errors\":[{\"code\":\"rate_limited\"}]}");
  g_assert_cmpstr (code_only, ==, "rate_limited");
}

static void
test_error_text_none (void)
{
  static const char *const bodies[] = {
    "Internal Server Error", "<html>502</html>", "{\"errors\": \"x\"}", "{\"errors\": []}",
    "{\"errors\": [1, \"two\", null]}", "{\"errors\": [{}]}", "{\"message\": \"top\"}", "{}",
    "[]", "[{\"message\":\"x\"}]", "null", "{\"errors\": {\"message\": \"x\"}}",
    "{\"errors\":[{\"message\": 5, \"code\": false}]}",
  };
  for (size_t i = 0; i < G_N_ELEMENTS (bodies); i++)
    {
      g_autofree char *text = error_text (bodies[i]);
      if (text != NULL)
        g_test_fail_printf ("%s gave \"%s\", expected none", bodies[i], text);
    }
  g_assert_null (ep_api_error_text ("", 0));
  g_assert_null (ep_api_error_text (NULL, 0));
}

static void
test_error_text_sanitised (void)
{
  g_autofree char *ctl = error_text (
    "{\"errors\":[{\"code\":\"c\\u0007\",\"message\":\"line1\\nline2\\r\\tend\\u001b[31m"
    "\\u007f\\u0085\\u0000hidden\"}]}");
  g_assert_nonnull (ctl);
  g_assert_true (unit_is_printable_utf8 (ctl));
  g_assert_true (g_str_has_prefix (ctl, "line1"));
  g_assert_nonnull (strstr (ctl, "line2"));

  /* A lone surrogate escape would decode to bytes that are not UTF-8, and
   * json-glib leaks on some: such a body is refused before it is parsed. */
  g_autofree char *surrogate = error_text (
    "{\"errors\":[{\"message\":\"bad \\ud800 surrogate\"},{\"code\":\"x\\ud800y\"}]}");
  g_assert_null (surrogate);

  /* Raw invalid bytes: refused by the JSON parser or sanitised. */
  g_autofree char *raw = error_text ("{\"errors\":[{\"message\":\"raw \xff\xfe bytes\"}]}");
  if (raw != NULL)
    g_assert_true (unit_is_printable_utf8 (raw));

  /* A raw control byte inside the JSON string. */
  g_autofree char *raw_ctl = error_text ("{\"errors\":[{\"message\":\"raw \x01\x1b ctl\"}]}");
  if (raw_ctl != NULL)
    g_assert_true (unit_is_printable_utf8 (raw_ctl));
}

static void
test_error_text_bounded (void)
{
  g_autofree char *huge = unit_repeat ('m', 100 * 1024);
  g_autofree char *body = g_strdup_printf (
    "{\"errors\":[{\"code\":\"%s\",\"message\":\"%s\"}]}", huge, huge);
  g_autofree char *text = error_text (body);
  g_assert_nonnull (text);
  g_assert_cmpuint (strlen (text), <, 4096);
  g_assert_true (g_str_has_prefix (text, "mmmm"));
  g_assert_true (g_utf8_validate (text, -1, NULL));

  /* Cut inside multi-byte text, the result stays valid UTF-8. */
  GString *wide = g_string_new ("{\"errors\":[{\"message\":\"");
  for (int i = 0; i < 40000; i++)
    g_string_append (wide, "\xe9\x9b\xbb");
  g_string_append (wide, "\"}]}");
  g_autofree char *wide_text = ep_api_error_text (wide->str, wide->len);
  g_string_free (wide, TRUE);
  g_assert_nonnull (wide_text);
  g_assert_cmpuint (strlen (wide_text), <, 4096);
  g_assert_true (unit_is_printable_utf8 (wide_text));

  /* Many errors together are bounded too. */
  GString *many = g_string_new ("{\"errors\":[");
  for (int i = 0; i < 5000; i++)
    g_string_append_printf (many, "%s{\"code\":\"c%d\",\"message\":\"problem number %d\"}",
                            i ? "," : "", i, i);
  g_string_append (many, "]}");
  g_autofree char *many_text = ep_api_error_text (many->str, many->len);
  g_string_free (many, TRUE);
  g_assert_nonnull (many_text);
  g_assert_cmpuint (strlen (many_text), <, 4096);
  g_assert_true (g_str_has_prefix (many_text, "problem number 0"));
}

/* A token cut at a length bound would no longer match: redaction comes first. */
static void
test_error_text_redacted_before_cut (void)
{
  g_autofree char *token = g_strnfill (100, 'T');
  ep_secrets_add (token);
  g_autofree char *pad = g_strnfill (500, 'p');
  g_autofree char *body = g_strdup_printf (
    "{\"errors\":[{\"code\":\"%s\",\"message\":\"%s %s\"},{\"code\":\"%s\"}]}", token, pad,
    token, token);
  g_autofree char *text = ep_api_error_text (body, strlen (body));
  ep_secrets_forget ();
  g_assert_nonnull (text);
  g_assert_null (strstr (text, "TTTTTTTTTT"));
  g_assert_nonnull (strstr (text, "(" EP_REDACTED ")"));
  g_assert_true (g_str_has_suffix (text, "; " EP_REDACTED));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/api/error-text/messages", test_error_text_messages);
  g_test_add_func ("/api/error-text/none", test_error_text_none);
  g_test_add_func ("/api/error-text/sanitised", test_error_text_sanitised);
  g_test_add_func ("/api/error-text/bounded", test_error_text_bounded);
  g_test_add_func ("/api/error-text/redacted-before-cut", test_error_text_redacted_before_cut);
  return g_test_run ();
}
