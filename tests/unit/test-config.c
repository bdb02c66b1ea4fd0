/* Unit tests of src/config.h: defaults, README's sample configuration, every key's bad
 * values, URLs, timeouts and tokens (README "Configuration"). */
#include "config.h"
#include "unit-util.h"

#include <glib/gstdio.h>
#include <grp.h>
#include <unistd.h>

#define CONF_NAME "/etc/enapter/test-provisiond.conf"
#define TOKEN_CANARY "TOKEN-CANARY-0b7d42"

/* A fresh temporary directory, removed with its files by rm_tree(). */
static char *
make_tmpdir (void)
{
  g_autoptr (GError) error = NULL;
  char *dir = g_dir_make_tmp ("ep-config-XXXXXX", &error);
  g_assert_no_error (error);
  return dir;
}

static void
rm_tree (const char *dir)
{
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  const char *name;
  while (d && (name = g_dir_read_name (d)) != NULL)
    {
      g_autofree char *path = g_build_filename (dir, name, NULL);
      if (g_file_test (path, G_FILE_TEST_IS_DIR) && !g_file_test (path, G_FILE_TEST_IS_SYMLINK))
        rm_tree (path);
      else
        g_unlink (path);
    }
  g_rmdir (dir);
}

/* Writes a file of mode @mode. */
static char *
write_file_mode (const char *dir, const char *name, const char *contents, int mode)
{
  char *path = g_build_filename (dir, name, NULL);
  g_autoptr (GError) error = NULL;
  g_file_set_contents_full (path, contents, -1,
                            G_FILE_SET_CONTENTS_CONSISTENT | G_FILE_SET_CONTENTS_ONLY_EXISTING,
                            mode, &error);
  g_assert_no_error (error);
  /* The umask must not make a case stricter than asked. */
  g_assert_cmpint (g_chmod (path, mode), ==, 0);
  return path;
}

/* Token files are private (0600), as the daemon requires. */
static char *
write_file (const char *dir, const char *name, const char *contents)
{
  return write_file_mode (dir, name, contents, 0600);
}

/* A PEM certificate in the source tree. */
static const char *
ca_file (void)
{
  return g_test_get_filename (G_TEST_DIST, "..", "integration", "tls", "standin-cert.pem", NULL);
}

static EpConfig *
load_ok (const char *text)
{
  g_autoptr (GError) error = NULL;
  EpConfig *c = ep_config_load_data (text, strlen (text), CONF_NAME, &error);
  g_assert_no_error (error);
  g_assert_nonnull (c);
  return c;
}

/* Loads @text expecting a failure whose message holds each of the
 * NULL-terminated @needles; returns the message. */
static char *
load_fails (const char *text, ...) G_GNUC_NULL_TERMINATED;

static char *
load_fails (const char *text, ...)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (EpConfig) c = ep_config_load_data (text, strlen (text), CONF_NAME, &error);
  if (c != NULL)
    {
      g_test_fail_printf ("accepted:\n%s", text);
      return g_strdup ("");
    }
  g_assert_error (error, EP_CONFIG_ERROR, 0);
  va_list ap;
  va_start (ap, text);
  for (const char *needle = va_arg (ap, const char *); needle; needle = va_arg (ap, const char *))
    if (strstr (error->message, needle) == NULL)
      g_test_fail_printf ("the message \"%s\" lacks \"%s\"", error->message, needle);
  va_end (ap);
  return g_strdup (error->message);
}

static void
assert_defaults (const EpConfig *c)
{
  g_assert_cmpstr (c->cloud.url, ==, "https://api.enapter.com");
  g_assert_null (c->cloud.token);
  g_assert_null (c->cloud.ca_file);
  g_assert_null (c->gateway.url);
  g_assert_null (c->gateway.token);
  g_assert_cmpint (c->default_target, ==, EP_TARGET_CLOUD);
  g_assert_cmpuint (c->max_concurrent, ==, 8);
  g_assert_cmpfloat (c->timeout, ==, 10);
  g_assert_cmpfloat (c->deadline, ==, 20);
  g_assert_cmpfloat (c->keep_connections, ==, 10);
  g_assert_cmpuint (c->retries, ==, 2);
  g_assert_cmpstr (c->keystore_path, ==, "/var/lib/enapter-provisiond/keystore");
  g_assert_false (c->keystore_group_set);
  g_assert_cmpstr (c->access_group, ==, "enapter-provisioning");
}

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

/* README "Configuration"'s sample, verbatim, with its "# ..." remarks. */
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
  "Retries=2                       # further attempts after a failed one, when safe (section 6)\n"
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
    { "Cloud", "TokenFile", { "relative/token", "token" } },
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
        g_autofree char *msg = load_fails (text, CONF_NAME, where, value, NULL);
        g_assert_nonnull (msg);
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

/* ---- tokens ------------------------------------------------------------- */

static EpConfig *
load_with_token_file (const char *section, const char *path, GError **error)
{
  g_autofree char *text = g_strdup_printf ("[%s]\nTokenFile=%s\n", section, path);
  return ep_config_load_data (text, strlen (text), CONF_NAME, error);
}

static void
test_token_file (void)
{
  g_unsetenv ("CREDENTIALS_DIRECTORY");
  g_autofree char *dir = make_tmpdir ();

  g_autofree char *good = write_file (dir, "token", TOKEN_CANARY "\n");
  g_autoptr (GError) e1 = NULL;
  g_autoptr (EpConfig) c1 = load_with_token_file ("Cloud", good, &e1);
  g_assert_no_error (e1);
  g_assert_cmpstr (c1->cloud.token, ==, TOKEN_CANARY);
  g_assert_cmpstr (c1->cloud.token_source, ==, good);
  g_assert_null (c1->gateway.token);

  g_autofree char *crlf = write_file (dir, "token-crlf", TOKEN_CANARY "\r\n");
  g_autoptr (GError) e2 = NULL;
  g_autoptr (EpConfig) c2 = load_with_token_file ("Gateway", crlf, &e2);
  g_assert_no_error (e2);
  g_assert_cmpstr (c2->gateway.token, ==, TOKEN_CANARY);
  g_assert_null (c2->cloud.token);

  g_autofree char *bare = write_file (dir, "token-bare", TOKEN_CANARY);
  g_autoptr (GError) e3 = NULL;
  g_autoptr (EpConfig) c3 = load_with_token_file ("Cloud", bare, &e3);
  g_assert_no_error (e3);
  g_assert_cmpstr (c3->cloud.token, ==, TOKEN_CANARY);

  static const char *const empties[] = { "", "\n" };
  for (size_t i = 0; i < G_N_ELEMENTS (empties); i++)
    {
      g_autofree char *empty = write_file (dir, "token-empty", empties[i]);
      g_autoptr (GError) e = NULL;
      g_autoptr (EpConfig) c = load_with_token_file ("Cloud", empty, &e);
      g_assert_no_error (e);
      g_assert_nonnull (c);
      g_assert_null (c->cloud.token);
    }
  rm_tree (dir);
}

static void
test_token_refused (void)
{
  g_unsetenv ("CREDENTIALS_DIRECTORY");
  g_autofree char *dir = make_tmpdir ();
  static const char *const bad[] = {
    TOKEN_CANARY " second-word\n", TOKEN_CANARY "\tx", " " TOKEN_CANARY, TOKEN_CANARY "\x01",
    TOKEN_CANARY "\nsecond-line\n", TOKEN_CANARY "\x7f", TOKEN_CANARY "\xc3\xa4",
    TOKEN_CANARY "\r\nX-Injected: 1",
  };
  for (size_t i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autofree char *path = write_file (dir, "token-bad", bad[i]);
      g_autoptr (GError) error = NULL;
      g_autoptr (EpConfig) c = load_with_token_file ("Cloud", path, &error);
      if (c != NULL)
        {
          g_test_fail_printf ("token file case %zu accepted", i);
          continue;
        }
      g_assert_error (error, EP_CONFIG_ERROR, 0);
      g_assert_nonnull (strstr (error->message, path));
      g_assert_nonnull (strstr (error->message, "[Cloud] TokenFile"));
      g_assert_null (strstr (error->message, TOKEN_CANARY));
      g_assert_null (strstr (error->message, "CANARY"));
    }
  /* Over-long tokens are refused without being quoted either. */
  g_autofree char *long_token = unit_repeat ('T', 4097);
  g_autofree char *path = write_file (dir, "token-long", long_token);
  g_autoptr (GError) error = NULL;
  g_autoptr (EpConfig) c = load_with_token_file ("Gateway", path, &error);
  g_assert_null (c);
  g_assert_error (error, EP_CONFIG_ERROR, 0);
  g_assert_null (strstr (error->message, "TTTTTTTT"));
  rm_tree (dir);
}

static void
test_token_unreadable (void)
{
  g_unsetenv ("CREDENTIALS_DIRECTORY");
  g_autofree char *dir = make_tmpdir ();
  g_autofree char *missing = g_build_filename (dir, "no-such-token", NULL);
  g_autoptr (GError) e1 = NULL;
  g_autoptr (EpConfig) c1 = load_with_token_file ("Cloud", missing, &e1);
  g_assert_null (c1);
  g_assert_error (e1, EP_CONFIG_ERROR, 0);
  g_assert_nonnull (strstr (e1->message, missing));
  g_assert_nonnull (strstr (e1->message, "[Cloud] TokenFile"));
  g_assert_nonnull (strstr (e1->message, CONF_NAME));

  /* A directory cannot be read as a token (permissions do not stop root). */
  g_autoptr (GError) e2 = NULL;
  g_autoptr (EpConfig) c2 = load_with_token_file ("Gateway", dir, &e2);
  g_assert_null (c2);
  g_assert_error (e2, EP_CONFIG_ERROR, 0);
  g_assert_nonnull (strstr (e2->message, dir));
  g_assert_nonnull (strstr (e2->message, "[Gateway] TokenFile"));
  rm_tree (dir);
}

static void
test_credentials_directory (void)
{
  g_autofree char *dir = make_tmpdir ();
  g_autofree char *cloud = write_file (dir, "cloud-token", TOKEN_CANARY "-cloud\n");
  g_setenv ("CREDENTIALS_DIRECTORY", dir, TRUE);

  g_autoptr (EpConfig) c1 = load_ok ("");
  g_assert_cmpstr (c1->cloud.token, ==, TOKEN_CANARY "-cloud");
  g_assert_cmpstr (c1->cloud.token_source, ==, cloud);
  g_assert_null (c1->gateway.token);   /* no gateway-token: none, no error */

  g_autofree char *gateway = write_file (dir, "gateway-token", TOKEN_CANARY "-gw");
  g_autoptr (EpConfig) c2 = load_ok ("");
  g_assert_cmpstr (c2->gateway.token, ==, TOKEN_CANARY "-gw");
  g_assert_cmpstr (c2->gateway.token_source, ==, gateway);

  /* An explicit TokenFile wins over the credential. */
  g_autofree char *explicit = write_file (dir, "explicit", "explicit-token\n");
  g_autoptr (GError) e3 = NULL;
  g_autoptr (EpConfig) c3 = load_with_token_file ("Cloud", explicit, &e3);
  g_assert_no_error (e3);
  g_assert_cmpstr (c3->cloud.token, ==, "explicit-token");
  g_assert_cmpstr (c3->gateway.token, ==, TOKEN_CANARY "-gw");

  /* An empty credential (the unit's fallback) means no token. */
  g_autofree char *empty = write_file (dir, "cloud-token", "");
  g_assert_nonnull (empty);
  g_autoptr (EpConfig) c4 = load_ok ("");
  g_assert_null (c4->cloud.token);

  /* A bad credential is refused without quoting it. */
  g_autofree char *bad = write_file (dir, "cloud-token", TOKEN_CANARY " x\n");
  g_autoptr (GError) e5 = NULL;
  g_autoptr (EpConfig) c5 = ep_config_load_data ("", 0, CONF_NAME, &e5);
  g_assert_null (c5);
  g_assert_error (e5, EP_CONFIG_ERROR, 0);
  g_assert_null (strstr (e5->message, TOKEN_CANARY));
  g_assert_nonnull (strstr (e5->message, bad));

  g_unsetenv ("CREDENTIALS_DIRECTORY");
  g_autoptr (EpConfig) c6 = load_ok ("");
  g_assert_null (c6->cloud.token);
  g_assert_null (c6->gateway.token);
  rm_tree (dir);
}

/* ---- files -------------------------------------------------------------- */

static void
test_load_file (void)
{
  g_unsetenv ("CREDENTIALS_DIRECTORY");
  g_autofree char *dir = make_tmpdir ();
  g_autofree char *missing = g_build_filename (dir, "missing.conf", NULL);

  g_autoptr (GError) e1 = NULL;
  g_autoptr (EpConfig) c1 = ep_config_load (missing, FALSE, &e1);
  g_assert_null (c1);
  g_assert_error (e1, EP_CONFIG_ERROR, 0);
  g_assert_nonnull (strstr (e1->message, missing));

  g_autoptr (GError) e2 = NULL;
  g_autoptr (EpConfig) c2 = ep_config_load (missing, TRUE, &e2);
  g_assert_no_error (e2);
  g_assert_nonnull (c2);
  assert_defaults (c2);
  g_assert_null (c2->path);

  g_autofree char *path = write_file (dir, "provisiond.conf", "[Provisioning]\nRetries=5\n");
  g_autoptr (GError) e3 = NULL;
  g_autoptr (EpConfig) c3 = ep_config_load (path, TRUE, &e3);
  g_assert_no_error (e3);
  g_assert_cmpuint (c3->retries, ==, 5);
  g_assert_cmpstr (c3->path, ==, path);

  /* Errors in a file name that file. */
  g_autofree char *bad = write_file (dir, "bad.conf", "[Provisioning]\nRetries=many\n");
  g_autoptr (GError) e4 = NULL;
  g_autoptr (EpConfig) c4 = ep_config_load (bad, TRUE, &e4);
  g_assert_null (c4);
  g_assert_error (e4, EP_CONFIG_ERROR, 0);
  g_assert_nonnull (strstr (e4->message, bad));
  g_assert_nonnull (strstr (e4->message, "[Provisioning] Retries"));

  /* missing_ok covers a missing file only, not one that cannot be read. */
  g_autoptr (GError) e5 = NULL;
  g_autoptr (EpConfig) c5 = ep_config_load (dir, TRUE, &e5);
  g_assert_null (c5);
  g_assert_error (e5, EP_CONFIG_ERROR, 0);
  g_assert_nonnull (strstr (e5->message, dir));
  rm_tree (dir);
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

/* Loads a config whose [Cloud] TokenFile is @path, expecting a refusal that
 * names it and never quotes the token. */
static void
token_file_refused (const char *path, const char *needle)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (EpConfig) c = load_with_token_file ("Cloud", path, &error);
  if (c != NULL)
    {
      g_test_fail_printf ("token file %s accepted", path);
      return;
    }
  g_assert_error (error, EP_CONFIG_ERROR, 0);
  g_assert_nonnull (strstr (error->message, CONF_NAME));
  g_assert_nonnull (strstr (error->message, "[Cloud] TokenFile"));
  g_assert_nonnull (strstr (error->message, path));
  g_assert_nonnull (strstr (error->message, needle));
  g_assert_nonnull (strstr (error->message, "chmod 0600"));
  g_assert_null (strstr (error->message, "CANARY"));
}

static void
test_token_private (void)
{
  g_unsetenv ("CREDENTIALS_DIRECTORY");
  g_autofree char *dir = make_tmpdir ();
  static const int open_modes[] = { 0644, 0640, 0604, 0620, 0602, 0660, 0666 };
  for (size_t i = 0; i < G_N_ELEMENTS (open_modes); i++)
    {
      g_autofree char *path = write_file_mode (dir, "token-open", TOKEN_CANARY "\n",
                                               open_modes[i]);
      g_autofree char *mode = g_strdup_printf ("mode %04o", open_modes[i]);
      token_file_refused (path, mode);
    }

  /* systemd's credentials are 0400. */
  static const int private_modes[] = { 0400, 0600 };
  for (size_t i = 0; i < G_N_ELEMENTS (private_modes); i++)
    {
      g_autofree char *path = write_file_mode (dir, "token-private", TOKEN_CANARY "\n",
                                               private_modes[i]);
      g_autoptr (GError) error = NULL;
      g_autoptr (EpConfig) c = load_with_token_file ("Cloud", path, &error);
      g_assert_no_error (error);
      g_assert_cmpstr (c->cloud.token, ==, TOKEN_CANARY);
    }

  /* Owned by another user: only root can make that here. */
  if (geteuid () == 0)
    {
      g_autofree char *path = write_file (dir, "token-foreign", TOKEN_CANARY "\n");
      g_assert_cmpint (chown (path, 65534, 65534), ==, 0);
      token_file_refused (path, "uid 65534");
    }

  /* The credential fallback is checked the same way. */
  g_autofree char *cred = write_file_mode (dir, "cloud-token", TOKEN_CANARY "\n", 0644);
  g_setenv ("CREDENTIALS_DIRECTORY", dir, TRUE);
  g_autofree char *msg = load_fails ("", CONF_NAME, "[Cloud] TokenFile", cred, "mode 0644",
                                     NULL);
  g_assert_null (strstr (msg, "CANARY"));
  g_unsetenv ("CREDENTIALS_DIRECTORY");
  rm_tree (dir);
}

static void
test_ca_file (void)
{
  g_unsetenv ("CREDENTIALS_DIRECTORY");
  g_autofree char *dir = make_tmpdir ();
  g_autofree char *cert = NULL;
  g_autoptr (GError) read_error = NULL;
  g_file_get_contents (ca_file (), &cert, NULL, &read_error);
  g_assert_no_error (read_error);

  /* A bundle with remarks around the certificate, as system bundles have. */
  g_autofree char *bundle_text = g_strconcat ("# a CA\n", cert, "\n# end\n", NULL);
  g_autofree char *bundle = write_file_mode (dir, "bundle.pem", bundle_text, 0644);
  static const char *const sections[] = { "Cloud", "Gateway" };
  for (size_t i = 0; i < G_N_ELEMENTS (sections); i++)
    {
      g_autofree char *text = g_strdup_printf ("[%s]\nCAFile=%s\n", sections[i], bundle);
      g_autoptr (EpConfig) c = load_ok (text);
      g_assert_nonnull (c);
    }

  /* A certificate whose body is damaged: libcurl would refuse the file. */
  g_autofree char *broken_text = g_strdup (cert);
  char *body = strchr (broken_text, '\n') + 1;
  memset (body, '*', 8);
  g_autofree char *missing = g_build_filename (dir, "missing.pem", NULL);
  g_autofree char *no_cert = write_file_mode (dir, "no-cert.pem", "not a certificate\n", 0644);
  g_autofree char *empty = write_file_mode (dir, "empty.pem", "", 0644);
  g_autofree char *key_only = write_file_mode (
    dir, "key.pem",
    "-----BEGIN PUBLIC KEY-----\n"
    "MCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=\n"
    "-----END PUBLIC KEY-----\n", 0644);
  g_autofree char *broken = write_file_mode (dir, "broken.pem", broken_text, 0644);
  g_autofree char *large = g_malloc0 (1024 * 1024 + 2);
  memset (large, '#', 1024 * 1024 + 1);
  g_autofree char *too_large = write_file_mode (dir, "large.pem", large, 0644);
  struct {
    const char *path, *problem;
  } cases[] = {
    { missing, "No such file" }, { no_cert, "no PEM certificate" },
    { empty, "no PEM certificate" }, { key_only, "no PEM certificate" },
    { broken, "no PEM certificate" }, { too_large, "larger than" },
    { dir, "not a regular file" }, { "/dev/zero", "not a regular file" },
  };
  for (size_t i = 0; i < G_N_ELEMENTS (cases); i++)
    for (size_t s = 0; s < G_N_ELEMENTS (sections); s++)
      {
        g_autofree char *text = g_strdup_printf ("[%s]\nCAFile=%s\n", sections[s],
                                                 cases[i].path);
        g_autofree char *where = g_strdup_printf ("[%s] CAFile", sections[s]);
        g_autofree char *msg = load_fails (text, CONF_NAME, where, cases[i].path,
                                           cases[i].problem, "system's CA store", NULL);
        g_assert_nonnull (msg);
      }
  rm_tree (dir);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/config/defaults", test_defaults);
  g_test_add_func ("/config/default-target", test_default_target);
  g_test_add_func ("/config/spec-sample", test_spec_sample);
  g_test_add_func ("/config/remarks-after-values", test_remarks_after_values);
  g_test_add_func ("/config/bad-values", test_bad_values);
  g_test_add_func ("/config/url-userinfo", test_url_userinfo);
  g_test_add_func ("/config/good-values", test_good_values);
  g_test_add_func ("/config/unknown-names", test_unknown_names);
  g_test_add_func ("/config/token/file", test_token_file);
  g_test_add_func ("/config/token/refused", test_token_refused);
  g_test_add_func ("/config/token/unreadable", test_token_unreadable);
  g_test_add_func ("/config/token/credentials-directory", test_credentials_directory);
  g_test_add_func ("/config/load-file", test_load_file);
  g_test_add_func ("/config/durations", test_durations);
  g_test_add_func ("/config/group-names", test_group_names);
  g_test_add_func ("/config/default-access-group", test_default_access_group);
  g_test_add_func ("/config/token/private", test_token_private);
  g_test_add_func ("/config/ca-file", test_ca_file);
  return g_test_run ();
}
