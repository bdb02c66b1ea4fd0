/* Unit tests of src/config.h's files: token files (their contents, their
 * modes and owners, $CREDENTIALS_DIRECTORY), CA files and loading the
 * configuration from a file (README "Configuration"). Keys and values:
 * test-config.c. */
#include "config-util.h"

#include <glib/gstdio.h>
#include <unistd.h>

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
  /* Naming no file, the value may be a token pasted there: not quoted. */
  g_assert_null (strstr (e1->message, missing));
  g_assert_nonnull (strstr (e1->message, "No such file"));
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

/* ---- start-up refusals: private token files, usable CA files ----------- */

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
  g_test_add_func ("/config/token/file", test_token_file);
  g_test_add_func ("/config/token/refused", test_token_refused);
  g_test_add_func ("/config/token/unreadable", test_token_unreadable);
  g_test_add_func ("/config/token/credentials-directory", test_credentials_directory);
  g_test_add_func ("/config/load-file", test_load_file);
  g_test_add_func ("/config/token/private", test_token_private);
  g_test_add_func ("/config/ca-file", test_ca_file);
  return g_test_run ();
}
