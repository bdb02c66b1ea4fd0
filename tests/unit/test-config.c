/* Unit tests of src/config.h: defaults, README's sample configuration, every key's bad
 * values, URLs, timeouts and group names (README "Configuration"). Token files,
 * CA files and loading from a file: test-config-files.c. */
#include "config-util.h"

#include <grp.h>

static void
test_defaults (void)
{
  g_unsetenv ("CREDENTIALS_DIRECTORY");
  g_autoptr (EpConfig) c = load_ok ("");
  assert_defaults (c);
  g_assert_true (ep_config_endpoint (c, EP_TARGET_CLOUD) == &c->cloud);
  g_assert_true (ep_config_endpoint (c, EP_TARGET_GATEWAY) == &c->gateway);
}

static void
test_default_target (void)
{
  g_unsetenv ("CREDENTIALS_DIRECTORY");
  g_autoptr (EpConfig) with_gw = load_ok ("[Gateway]\nURL=http://127.0.0.1/api\n");
  g_assert_cmpint (with_gw->default_target, ==, EP_TARGET_GATEWAY);
  g_assert_cmpstr (with_gw->gateway.url, ==, "http://127.0.0.1/api");

  g_autoptr (EpConfig) auto_gw =
    load_ok ("[Gateway]\nURL=http://127.0.0.1/api\n[Provisioning]\nDefaultTarget=auto\n");
  g_assert_cmpint (auto_gw->default_target, ==, EP_TARGET_GATEWAY);

  g_autoptr (EpConfig) cloud =
    load_ok ("[Gateway]\nURL=http://127.0.0.1/api\n[Provisioning]\nDefaultTarget=cloud\n");
  g_assert_cmpint (cloud->default_target, ==, EP_TARGET_CLOUD);

  g_autoptr (EpConfig) gateway =
    load_ok ("[Gateway]\nURL=http://127.0.0.1/api\n[Provisioning]\nDefaultTarget=gateway\n");
  g_assert_cmpint (gateway->default_target, ==, EP_TARGET_GATEWAY);

  g_autofree char *msg = load_fails ("[Provisioning]\nDefaultTarget=gateway\n", CONF_NAME,
                                     "DefaultTarget", "[Gateway] URL", NULL);
  g_assert_nonnull (msg);
}

/* The first published sample of the configuration, with "# ..." remarks
 * after values and on lines of their own: still accepted verbatim. */
static const char spec_sample[] =
  "[Cloud]\n"
  "URL=https://api.enapter.com     # base; requests go to URL + /v3/provisioning/<endpoint>\n"
  "TokenFile=                      # file holding the X-Enapter-Auth-Token value;\n"
  "                                # unset: $CREDENTIALS_DIRECTORY/cloud-token if present\n"
  "CAFile=                         # PEM bundle to trust instead of the system store\n"
  "\n"
  "[Gateway]\n"
  "URL=                            # the local Gateway 3.x API, e.g. http://127.0.0.1/api;\n"
  "                                # empty: gateway-only kinds fail with NotSupported\n"
  "TokenFile=                      # unset: $CREDENTIALS_DIRECTORY/gateway-token if present\n"
  "CAFile=\n"
  "\n"
  "[Provisioning]\n"
  "DefaultTarget=auto              # gateway | cloud | auto (gateway when [Gateway] URL is set)\n"
  "MaxConcurrent=8                 # HTTP requests in flight at once; further calls queue\n"
  "Timeout=10                      # seconds for one HTTP attempt\n"
  "Deadline=20                     # seconds a call may take in all, retries included\n"
  "Retries=2                       # further attempts after a failed one, when safe\n"
  "\n"
  "[Keystore]\n"
  "Path=/var/lib/enapter-provisiond/keystore\n"
  "Group=                          # optional group given read access to the keystore\n"
  "\n"
  "[Access]\n"
  "Group=enapter-provisioning      # non-root callers must be in this group\n";

static void
test_spec_sample (void)
{
  g_unsetenv ("CREDENTIALS_DIRECTORY");
  g_autoptr (GError) error = NULL;
  g_autoptr (EpConfig) c = ep_config_load_data (spec_sample, strlen (spec_sample), CONF_NAME,
                                                &error);
  g_assert_no_error (error);
  g_assert_nonnull (c);
  assert_defaults (c);
}

/* README "Configuration"'s sample itself, read from the README: a user may
 * copy it as it stands. */
static void
test_readme_sample (void)
{
  g_unsetenv ("CREDENTIALS_DIRECTORY");
  g_autofree char *readme = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *path = g_test_build_filename (G_TEST_DIST, "..", "..", "README.md", NULL);
  g_assert_true (g_file_get_contents (path, &readme, NULL, &error));
  const char *section = strstr (readme, "\n## Configuration\n");
  g_assert_nonnull (section);
  const char *start = strstr (section, "```ini\n");
  g_assert_nonnull (start);
  start += strlen ("```ini\n");
  const char *end = strstr (start, "```");
  g_assert_nonnull (end);
  g_autoptr (EpConfig) c = ep_config_load_data (start, (gsize) (end - start), "README.md", &error);
  g_assert_no_error (error);
  assert_defaults (c);
}

/* A remark after a real value is dropped too. */
static void
test_remarks_after_values (void)
{
  g_unsetenv ("CREDENTIALS_DIRECTORY");
  g_autoptr (EpConfig) c = load_ok ("[Provisioning]\nMaxConcurrent=3   # three\n"
                                    "Timeout=2.5 # seconds\n"
                                    "[Gateway]\nURL=http://10.0.0.1/api/   # local\n");
  g_assert_cmpuint (c->max_concurrent, ==, 3);
  g_assert_cmpfloat (c->timeout, ==, 2.5);
  g_assert_cmpstr (c->gateway.url, ==, "http://10.0.0.1/api");
}

typedef struct {
  const char *section;
  const char *key;
  const char *values[12];
} BadValues;

static void
test_bad_values (void)
{
  g_unsetenv ("CREDENTIALS_DIRECTORY");
  static const BadValues table[] = {
    { "Cloud", "URL", { "ftp://api.enapter.com", "api.enapter.com", "not a url", "https://",
                        "https://api.enapter.com/?q=1",
                        "https://api.enapter.com/#frag", "file:///etc/passwd",
                        "javascript:alert(1)" } },
    { "Cloud", "TokenFile", { "relative/token", "eyJhbGciOiJIUzI1NiJ9.PASTED.SIG==" } },
    { "Cloud", "CAFile", { "relative/ca.pem", "ca.pem" } },
    { "Gateway", "URL", { "ftp://127.0.0.1/api", "127.0.0.1/api", "http://127.0.0.1/api?x=1",
                          "http://" } },
    { "Gateway", "TokenFile", { "relative/token" } },
    { "Gateway", "CAFile", { "relative/ca.pem" } },
    { "Provisioning", "DefaultTarget", { "both", "Cloud", "GATEWAY", "local", "1" } },
    { "Provisioning", "MaxConcurrent", { "0", "-1", "abc", "1.5", "8x", "1025", "0x10",
                                         "99999999999999999999" } },
    { "Provisioning", "MaxQueued", { "-1", "abc", "65537", "2.5" } },
    { "Provisioning", "Timeout", { "0", "-1", "abc", "nan", "inf", "10s", "3601", "1e9",
                                   "0.001" } },
    { "Provisioning", "Deadline", { "0", "-5", "x", "nan", "-inf", "20 s", "3601", "25",
                                    "45", "3600" } },
    { "Provisioning", "Retries", { "-1", "21", "x", "1.5", "two" } },
    { "Provisioning", "KeepConnections", { "0", "-1", "x", "nan", "3601", "10s" } },
    { "Service", "IdleTimeout", { "-1", "x", "86401", "1.5" } },
    { "Keystore", "Path", { "relative/keystore", "keystore", "./ks" } },
    { "Keystore", "Group", { "no-such-group-ep-test", "a:b", "-x", "two words", "a/b" } },
    { "Access", "Group", { "no-such-group-ep-test", "a:b", "-x", "two words", "a$b" } },
  };
  guint checked = 0;
  for (size_t i = 0; i < G_N_ELEMENTS (table); i++)
    for (size_t v = 0; table[i].values[v]; v++)
      {
        const char *value = table[i].values[v];
        g_autofree char *text = g_strdup_printf ("[%s]\n%s=%s\n", table[i].section,
                                                 table[i].key, value);
        g_autofree char *where = g_strdup_printf ("[%s] %s", table[i].section, table[i].key);
        /* A TokenFile value may be the token itself: never quoted. */
        gboolean secret = strcmp (table[i].key, "TokenFile") == 0;
        g_autofree char *msg = load_fails (text, CONF_NAME, where,
                                           secret ? "not an absolute path" : value, NULL);
        g_assert_nonnull (msg);
        if (secret && strstr (msg, value) != NULL)
          g_test_fail_printf ("the message quotes the TokenFile value: %s", msg);
        checked++;
      }
  g_assert_cmpuint (checked, >, 60);
}

/* A URL carrying user info is refused, and a password in it is not quoted:
 * the message goes to the journal. */
static void
test_url_userinfo (void)
{
  g_unsetenv ("CREDENTIALS_DIRECTORY");
  static const char *const texts[] = {
    "[Cloud]\nURL=https://user:URLPW-CANARY-6e21@api.enapter.com\n",
    "[Gateway]\nURL=http://admin:URLPW-CANARY-6e21@127.0.0.1/api\n",
    "[Cloud]\nURL=https://user@api.enapter.com\n",
    "[Gateway]\nURL=http://u@127.0.0.1/api\n",
  };
  static const char *const where[] = { "[Cloud] URL", "[Gateway] URL", "[Cloud] URL",
                                       "[Gateway] URL" };
  for (size_t i = 0; i < G_N_ELEMENTS (texts); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (EpConfig) c = ep_config_load_data (texts[i], strlen (texts[i]), CONF_NAME,
                                                    &error);
      g_assert_null (c);
      g_assert_error (error, EP_CONFIG_ERROR, 0);
      g_assert_nonnull (strstr (error->message, CONF_NAME));
      g_assert_nonnull (strstr (error->message, where[i]));
      if (strstr (error->message, "URLPW-CANARY-6e21") != NULL)
        g_test_fail_printf ("the message quotes the URL's password: %s", error->message);
    }
}

static void
test_good_values (void)
{
  g_unsetenv ("CREDENTIALS_DIRECTORY");
  /* Deadline's upper bound is under 25 s: see test_durations. */
  g_autofree char *text = g_strdup_printf (
    "[Cloud]\nURL=https://api.example.com/\nCAFile=%s\n"
    "[Gateway]\nURL=http://127.0.0.1:8080/api//\nCAFile=%s\n"
    "[Provisioning]\nDefaultTarget=cloud\nMaxConcurrent=1024\nMaxQueued=0\n"
    "Timeout=0.5\nDeadline=24.9\nRetries=20\nKeepConnections=3600\n"
    "[Service]\nIdleTimeout=0\n"
    "[Keystore]\nPath=/tmp/ks\nGroup=root\n"
    "[Access]\nGroup=\n", ca_file (), ca_file ());
  g_autoptr (EpConfig) c = load_ok (text);
  g_assert_cmpstr (c->cloud.url, ==, "https://api.example.com");
  g_assert_cmpstr (c->cloud.ca_file, ==, ca_file ());
  g_assert_cmpstr (c->gateway.url, ==, "http://127.0.0.1:8080/api");
  g_assert_cmpstr (c->gateway.ca_file, ==, ca_file ());
  g_assert_cmpint (c->default_target, ==, EP_TARGET_CLOUD);
  g_assert_cmpuint (c->max_concurrent, ==, 1024);
  g_assert_cmpuint (c->max_queued, ==, 0);
  g_assert_cmpfloat (c->timeout, ==, 0.5);
  g_assert_cmpfloat (c->deadline, ==, 24.9);
  g_assert_cmpuint (c->retries, ==, 20);
  g_assert_cmpfloat (c->keep_connections, ==, 3600);
  g_assert_cmpuint (c->idle_timeout, ==, 0);
  g_assert_cmpstr (c->keystore_path, ==, "/tmp/ks");
  g_assert_true (c->keystore_group_set);
  g_assert_cmpuint (c->keystore_gid, ==, 0);
  g_assert_null (c->access_group);

  g_autoptr (EpConfig) low = load_ok ("[Provisioning]\nMaxConcurrent=1\nRetries=0\n"
                                      "Timeout=0.01\nDeadline=1.25\nKeepConnections=0.01\n");
  g_assert_cmpuint (low->max_concurrent, ==, 1);
  g_assert_cmpuint (low->retries, ==, 0);
  g_assert_cmpfloat (low->timeout, ==, 0.01);
  g_assert_cmpfloat (low->deadline, ==, 1.25);
  g_assert_cmpfloat (low->keep_connections, ==, 0.01);
}

static void
test_unknown_names (void)
{
  g_autofree char *section = load_fails ("[Clouds]\nURL=https://x.example\n", CONF_NAME,
                                         "Clouds", NULL);
  g_assert_nonnull (section);
  g_autofree char *key = load_fails ("[Cloud]\nTokenFiel=/etc/token\n", CONF_NAME,
                                     "[Cloud] TokenFiel", NULL);
  g_assert_nonnull (key);
  g_autofree char *wrong_section = load_fails ("[Gateway]\nRetries=3\n", CONF_NAME,
                                               "[Gateway] Retries", NULL);
  g_assert_nonnull (wrong_section);
  g_autofree char *syntax = load_fails ("[Cloud\nURL=https://x.example\n", CONF_NAME, NULL);
  g_assert_nonnull (syntax);
  g_autofree char *no_section = load_fails ("URL=https://x.example\n", CONF_NAME, NULL);
  g_assert_nonnull (no_section);
}

/* ---- start-up refusals of what cannot work ------------------------------ */

static void
test_durations (void)
{
  g_unsetenv ("CREDENTIALS_DIRECTORY");
  /* Just under D-Bus clients' 25 s, and an attempt as long as the call. */
  g_autoptr (EpConfig) edge = load_ok ("[Provisioning]\nTimeout=24.9\nDeadline=24.9\n");
  g_assert_cmpfloat (edge->deadline, ==, 24.9);
  g_assert_cmpfloat (edge->timeout, ==, 24.9);

  static const char *const long_deadlines[] = { "25", "45", "3600" };
  for (size_t i = 0; i < G_N_ELEMENTS (long_deadlines); i++)
    {
      g_autofree char *text = g_strdup_printf ("[Provisioning]\nTimeout=5\nDeadline=%s\n",
                                               long_deadlines[i]);
      g_autofree char *msg = load_fails (text, CONF_NAME, "[Provisioning] Deadline",
                                         long_deadlines[i], "25 s", "D-Bus", "under 25", NULL);
      g_assert_nonnull (msg);
    }

  /* Timeout longer than Deadline: given, or against the default of 20. */
  g_autofree char *both = load_fails ("[Provisioning]\nTimeout=5\nDeadline=4\n", CONF_NAME,
                                      "[Provisioning] Timeout", "[Provisioning] Deadline",
                                      "lower Timeout", NULL);
  g_assert_nonnull (both);
  g_autofree char *vs_default = load_fails ("[Provisioning]\nTimeout=21\n", CONF_NAME,
                                            "[Provisioning] Timeout", "21", "20", NULL);
  g_assert_nonnull (vs_default);
}

static void
test_group_names (void)
{
  g_unsetenv ("CREDENTIALS_DIRECTORY");
  static const char *const sections[] = { "Keystore", "Access" };
  g_autofree char *huge = unit_repeat ('g', 4 * 1024 * 1024);
  g_autofree char *over = unit_repeat ('g', 257);
  for (size_t i = 0; i < G_N_ELEMENTS (sections); i++)
    {
      g_autofree char *where = g_strdup_printf ("[%s] Group", sections[i]);
      const char *names[] = { huge, over };
      for (size_t n = 0; n < G_N_ELEMENTS (names); n++)
        {
          /* Refused for its length, before NSS sees it, without quoting it. */
          g_autofree char *text = g_strdup_printf ("[%s]\nGroup=%s\n", sections[i], names[n]);
          g_autofree char *msg = load_fails (text, CONF_NAME, where, "at most 256", NULL);
          g_assert_cmpuint (strlen (msg), <, 1000);
        }
      /* 256 bytes is a name NSS may look up: refused as a missing group. */
      g_autofree char *at_bound = unit_repeat ('g', 256);
      g_autofree char *text = g_strdup_printf ("[%s]\nGroup=%s\n", sections[i], at_bound);
      g_autofree char *msg = load_fails (text, CONF_NAME, where, "no group named", NULL);
      g_assert_nonnull (msg);
    }

  g_autoptr (EpConfig) root = load_ok ("[Keystore]\nGroup=root\n[Access]\nGroup=root\n");
  g_assert_true (root->access_gid_known);
  g_assert_cmpuint (root->access_gid, ==, 0);
  g_assert_cmpuint (root->keystore_gid, ==, 0);
}

/* The package makes the default [Access] Group; where it is missing, the
 * default (unset or written out) only narrows access to root. */
static void
test_default_access_group (void)
{
  g_unsetenv ("CREDENTIALS_DIRECTORY");
  gboolean exists = getgrnam ("enapter-provisioning") != NULL;
  static const char *const texts[] = { "", "[Access]\nGroup=enapter-provisioning\n" };
  for (size_t i = 0; i < G_N_ELEMENTS (texts); i++)
    {
      g_autoptr (EpConfig) c = load_ok (texts[i]);
      g_assert_cmpstr (c->access_group, ==, "enapter-provisioning");
      g_assert_cmpint (c->access_gid_known, ==, exists);
    }
  g_autofree char *other = load_fails ("[Access]\nGroup=enapter-provisioning-typo\n", CONF_NAME,
                                       "[Access] Group", "enapter-provisioning-typo",
                                       "no group named", NULL);
  g_assert_nonnull (other);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/config/defaults", test_defaults);
  g_test_add_func ("/config/default-target", test_default_target);
  g_test_add_func ("/config/spec-sample", test_spec_sample);
  g_test_add_func ("/config/readme-sample", test_readme_sample);
  g_test_add_func ("/config/remarks-after-values", test_remarks_after_values);
  g_test_add_func ("/config/bad-values", test_bad_values);
  g_test_add_func ("/config/url-userinfo", test_url_userinfo);
  g_test_add_func ("/config/good-values", test_good_values);
  g_test_add_func ("/config/unknown-names", test_unknown_names);
  g_test_add_func ("/config/durations", test_durations);
  g_test_add_func ("/config/group-names", test_group_names);
  g_test_add_func ("/config/default-access-group", test_default_access_group);
  return g_test_run ();
}
