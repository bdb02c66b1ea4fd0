/* Unit tests of the configuration checker (config.h's ep_config_check,
 * config-check.h, config-names.h): every problem of a text at once, with
 * its line, section and key; "did you mean" for keys and sections and none
 * for a far-off name; lines GKeyFile would refuse; keys and sections set
 * twice; refused values that do not cascade into further problems. Values
 * of each key: test-config.c; files: test-config-files.c. */
#include "config-check.h"
#include "config-names.h"
#include "config-util.h"
#include "consumers.h"

#include <glib/gstdio.h>
#include <sys/stat.h>

#define F CONF_NAME

/* Checks @text; it must be refused with exactly the NULL-terminated lines
 * given, in that order. */
static void
expect_problems (const char *text, ...) G_GNUC_NULL_TERMINATED;

static void
expect_problems (const char *text, ...)
{
  g_auto (GStrv) problems = NULL;
  g_autoptr (EpConfig) c = ep_config_check_data (text, strlen (text), F, &problems);
  if (c != NULL)
    {
      g_test_fail_printf ("accepted:\n%s", text);
      return;
    }
  g_assert_nonnull (problems);
  g_autoptr (GPtrArray) want = g_ptr_array_new ();
  va_list ap;
  va_start (ap, text);
  for (const char *line = va_arg (ap, const char *); line; line = va_arg (ap, const char *))
    g_ptr_array_add (want, (gpointer) line);
  va_end (ap);
  g_ptr_array_add (want, NULL);
  g_autofree char *got_text = g_strjoinv ("\n", problems);
  g_autofree char *want_text = g_strjoinv ("\n", (char **) want->pdata);
  g_assert_cmpstr (got_text, ==, want_text);
}

/* The one problem of @text must be @line. */
#define expect_problem(text, line) expect_problems (text, line, NULL)

/* ---- every problem, with its line ----------------------------------------- */

static void
test_all_problems (void)
{
  g_unsetenv ("CREDENTIALS_DIRECTORY");
  expect_problems ("# remarks count as lines\n"
                   "[Cloud]\n"
                   "URL=ftp://api.enapter.com\n"
                   "\n"
                   "[Provisioning]\n"
                   "MaxConcurent=4\n"
                   "Retries=many\n"
                   "Timeout=0\n"
                   "[Renewel]\n"
                   "Auto=yes\n"
                   "[Keystore]\n"
                   "Path=relative\n"
                   "Group=no-such-group-ep-check\n",
                   F ":3: [Cloud] URL: 'ftp://api.enapter.com' must start with http:// or "
                   "https://",
                   F ":6: [Provisioning] MaxConcurent: unknown key; did you mean "
                   "'MaxConcurrent'?",
                   F ":7: [Provisioning] Retries: 'many' must be a whole number from 0 to 20",
                   F ":8: [Provisioning] Timeout: '0' must be a number of seconds from 0.01 "
                   "to 3600",
                   F ":9: [Renewel]: unknown section; did you mean '[Renewal]'?",
                   F ":12: [Keystore] Path: 'relative' is not an absolute path; give one that "
                   "starts with '/'",
                   F ":13: [Keystore] Group: no group named 'no-such-group-ep-check'; create it "
                   "or name an existing group",
                   NULL);
}

/* Problems found after the walk over the lines (durations, groups) take
 * their place by line among the others. */
static void
test_order_by_line (void)
{
  g_unsetenv ("CREDENTIALS_DIRECTORY");
  expect_problems ("[Access]\nGroup=no-such-group-ep-check\n"
                   "[Provisioning]\nTimeout=21\nColour=blue\n",
                   F ":2: [Access] Group: no group named 'no-such-group-ep-check'; create it, "
                   "name an existing group, or leave the value empty to let only root call",
                   F ":4: [Provisioning] Timeout: 21 s is longer than [Provisioning] Deadline "
                   "(20 s), which bounds every attempt; lower Timeout or raise Deadline "
                   "(under 25)",
                   F ":5: [Provisioning] Colour: unknown key; [Provisioning] has "
                   "DefaultTarget, MaxConcurrent, MaxQueued, Timeout, Deadline, Retries and "
                   "KeepConnections: fix its name or remove it",
                   NULL);
}

/* The GError of ep_config_load_data holds every problem, a line each. */
static void
test_error_joins_problems (void)
{
  g_unsetenv ("CREDENTIALS_DIRECTORY");
  static const char text[] = "[Provisioning]\nRetries=x\nMaxQueued=y\n[Nope]\n";
  g_autoptr (GError) error = NULL;
  g_autoptr (EpConfig) c = ep_config_load_data (text, strlen (text), F, &error);
  g_assert_null (c);
  g_assert_error (error, EP_CONFIG_ERROR, 0);
  g_auto (GStrv) lines = g_strsplit (error->message, "\n", -1);
  g_assert_cmpuint (g_strv_length (lines), ==, 3);
  g_assert_true (g_str_has_prefix (lines[0], F ":2: [Provisioning] Retries: "));
  g_assert_true (g_str_has_prefix (lines[1], F ":3: [Provisioning] MaxQueued: "));
  g_assert_true (g_str_has_prefix (lines[2], F ":4: [Nope]: unknown section; "));
}

/* A value refused is not replaced by its default in checks built on it. */
static void
test_no_cascade (void)
{
  g_unsetenv ("CREDENTIALS_DIRECTORY");
  /* Timeout 21 is over the default Deadline, but Deadline was refused. */
  expect_problem ("[Provisioning]\nDeadline=abc\nTimeout=21\n",
                  F ":2: [Provisioning] Deadline: 'abc' must be a number of seconds from 0.01 "
                  "to 3600");
  /* A refused [Gateway] URL is not "unset" for DefaultTarget=gateway. */
  expect_problem ("[Gateway]\nURL=gw.local\n[Provisioning]\nDefaultTarget=gateway\n",
                  F ":2: [Gateway] URL: 'gw.local' is not an absolute URL such as "
                  "https://api.enapter.com");
  /* Unset for real, it is. */
  expect_problem ("[Provisioning]\nDefaultTarget=gateway\n",
                  F ":2: [Provisioning] DefaultTarget: 'gateway' needs [Gateway] URL to be "
                  "set; set it, or choose cloud or auto");
  /* A refused TokenFile is not replaced by the systemd credential. */
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("ep-check-XXXXXX", &error);
  g_assert_no_error (error);
  g_autofree char *cred = g_build_filename (dir, "cloud-token", NULL);
  g_assert_true (g_file_set_contents_full (cred, "x y\n", -1, G_FILE_SET_CONTENTS_NONE, 0644,
                                           &error));
  g_setenv ("CREDENTIALS_DIRECTORY", dir, TRUE);
  expect_problem ("[Cloud]\nTokenFile=token\n",
                  F ":2: [Cloud] TokenFile: the value is not an absolute path (it is not "
                  "shown: it may be a token); give the path of the file that holds the token, "
                  "starting with '/'");
  g_unsetenv ("CREDENTIALS_DIRECTORY");
  g_unlink (cred);
  g_rmdir (dir);
}

/* A problem of no line (the systemd credential) comes last, as FILE:. */
static void
test_problem_without_line (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("ep-check-XXXXXX", &error);
  g_assert_no_error (error);
  g_autofree char *cred = g_build_filename (dir, "gateway-token", NULL);
  g_assert_true (g_file_set_contents_full (cred, "TOKEN-CANARY-CHECK two\n", -1,
                                           G_FILE_SET_CONTENTS_NONE, 0600, &error));
  g_setenv ("CREDENTIALS_DIRECTORY", dir, TRUE);
  g_autofree char *expected =
    g_strdup_printf (F ": [Gateway] TokenFile: %s must hold one token of 1-4096 visible ASCII "
                     "characters; write the token alone into it", cred);
  expect_problems ("[Provisioning]\nRetries=x\n",
                   F ":2: [Provisioning] Retries: 'x' must be a whole number from 0 to 20",
                   expected, NULL);
  g_unsetenv ("CREDENTIALS_DIRECTORY");
  g_unlink (cred);
  g_rmdir (dir);
}

/* ---- did you mean ----------------------------------------------------------- */

static void
test_suggest_keys (void)
{
  g_unsetenv ("CREDENTIALS_DIRECTORY");
  static const struct {
    const char *section, *typo, *meant;
  } cases[] = {
    { "Provisioning", "MaxConcurent", "MaxConcurrent" },
    { "Provisioning", "maxconcurrent", "MaxConcurrent" },
    { "Provisioning", "MAXQUEUED", "MaxQueued" },
    { "Provisioning", "Timout", "Timeout" },
    { "Provisioning", "Deadlien", "Deadline" },       /* a swap is one edit */
    { "Provisioning", "Retires", "Retries" },
    { "Cloud", "TokenFiel", "TokenFile" },
    { "Cloud", "url", "URL" },
    { "Gateway", "CaFile", "CAFile" },
    { "Renewal", "RetryIntervall", "RetryInterval" },
    { "Keystore", "Pth", "Path" },
    { "Service", "IdleTimout", "IdleTimeout" },
    { "Consumer agent", "Users", "User" },
    { "Consumer agent", "Device", "Devices" },
    { "Consumer agent", "group", "Group" },
  };
  for (size_t i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      gboolean consumer = g_str_has_prefix (cases[i].section, "Consumer");
      g_autofree char *text = g_strdup_printf ("[%s]\n%s%s=1\n", cases[i].section,
                                               consumer ? "User=root\nDevices=*\n" : "",
                                               cases[i].typo);
      g_autofree char *line = g_strdup_printf ("%s:%d: [%s] %s: unknown key; did you mean "
                                               "'%s'?", F, consumer ? 4 : 2, cases[i].section,
                                               cases[i].typo, cases[i].meant);
      expect_problem (text, line);
    }
}

static void
test_suggest_sections (void)
{
  g_unsetenv ("CREDENTIALS_DIRECTORY");
  expect_problem ("[Renewel]\n", F ":1: [Renewel]: unknown section; did you mean '[Renewal]'?");
  expect_problem ("[provisioning]\n",
                  F ":1: [provisioning]: unknown section; did you mean '[Provisioning]'?");
  expect_problem ("[Clouds]\n", F ":1: [Clouds]: unknown section; did you mean '[Cloud]'?");
  expect_problem ("[KeyStore]\n",
                  F ":1: [KeyStore]: unknown section; did you mean '[Keystore]'?");
  expect_problem ("[consumer agent]\nUser=root\nDevices=*\n",
                  F ":1: [consumer agent]: unknown section; did you mean '[Consumer agent]'?");
  expect_problem ("[Consumers agent]\n",
                  F ":1: [Consumers agent]: unknown section; did you mean '[Consumer agent]'?");
  expect_problem ("[Consumer]\nUser=root\nDevices=*\n",
                  F ":1: [Consumer]: unknown section; a consumer's section is "
                  "[Consumer NAME]: give it a name");
}

static void
test_no_far_suggestion (void)
{
  g_unsetenv ("CREDENTIALS_DIRECTORY");
  expect_problem ("[Provisioning]\nColour=blue\n",
                  F ":2: [Provisioning] Colour: unknown key; [Provisioning] has DefaultTarget, "
                  "MaxConcurrent, MaxQueued, Timeout, Deadline, Retries and KeepConnections: "
                  "fix its name or remove it");
  expect_problem ("[Consumer a]\nUser=root\nDevices=*\nPath=/x\n",
                  F ":4: [Consumer a] Path: unknown key; a consumer section has User, Group "
                  "and Devices: fix its name or remove it");
  expect_problem ("[Database]\nHost=x\n",
                  F ":1: [Database]: unknown section; sections are [Cloud], [Gateway], "
                  "[Provisioning], [Service], [Renewal], [Keystore], [Access] and "
                  "[Consumer NAME]: fix its name or remove it");
  /* A key of another section is sent there rather than guessed at. */
  expect_problem ("[Gateway]\nRetries=3\n",
                  F ":2: [Gateway] Retries: unknown key in [Gateway]; it belongs in "
                  "[Provisioning]: move it there");
  expect_problem ("[Cloud]\nGroup=root\n",
                  F ":2: [Cloud] Group: unknown key in [Cloud]; it belongs in [Keystore] or "
                  "[Access]: move it there");
}

static void
test_suggest_function (void)
{
  static const char *const names[] = { "At", "Auto", "RetryInterval", "MaxConcurrent",
                                       "MaxQueued", NULL };
  g_assert_cmpstr (ep_config_suggest ("Auot", names), ==, "Auto");
  g_assert_cmpstr (ep_config_suggest ("AT", names), ==, "At");
  g_assert_cmpstr (ep_config_suggest ("MaxConcurent", names), ==, "MaxConcurrent");
  g_assert_cmpstr (ep_config_suggest ("MaxCnocurrent", names), ==, "MaxConcurrent");
  g_assert_cmpstr (ep_config_suggest ("maxqueue", names), ==, "MaxQueued");
  /* Three edits for a long name, no more. */
  g_assert_cmpstr (ep_config_suggest ("RetryIntrv", names), ==, "RetryInterval");
  g_assert_null (ep_config_suggest ("RetryInt", names));
  /* Short names take one edit only. */
  g_assert_null (ep_config_suggest ("Aux", names));
  g_assert_null (ep_config_suggest ("Colour", names));
  g_assert_null (ep_config_suggest ("", names));
  /* A huge name is not compared letter by letter. */
  g_autofree char *huge = unit_repeat ('M', 1024 * 1024);
  g_assert_null (ep_config_suggest (huge, names));
}

/* ---- lines GKeyFile refuses, names set twice -------------------------------- */

static void
test_syntax (void)
{
  g_unsetenv ("CREDENTIALS_DIRECTORY");
  /* GKeyFile stops at the first: every one is reported, and what follows
   * is still checked. The keys under a broken header are left out. */
  expect_problems ("Retries=3\n"
                   "[Cloud\n"
                   "URL=whatever\n"
                   "[Provisioning]\n"
                   "just words\n"
                   "x[=1\n"
                   "=1\n"
                   "Retries=x\n"
                   "[Access] Group=root\n",
                   F ":1: Retries: the key comes before any section header; put it under "
                   "[Provisioning]",
                   F ":2: not a section header: write it as [NAME] alone on its line, NAME "
                   "without '[' or ']'; fix the line or remove it",
                   F ":5: the line is neither a [Section] header, a Key=value pair nor a # "
                   "comment; fix it or remove it",
                   F ":6: the text before '=' is not a key name (no '[' or ']', no blank at "
                   "either end); fix the line or remove it",
                   F ":7: the text before '=' is not a key name (no '[' or ']', no blank at "
                   "either end); fix the line or remove it",
                   F ":8: [Provisioning] Retries: 'x' must be a whole number from 0 to 20",
                   F ":9: not a section header: write it as [NAME] alone on its line, NAME "
                   "without '[' or ']'; fix the line or remove it",
                   NULL);
  /* GKeyFile minds Encoding= in the first section only; here it is a key
   * like any other. */
  expect_problem ("[Cloud]\n[Provisioning]\nEncoding=latin1\n",
                  F ":3: [Provisioning] Encoding: unknown key; [Provisioning] has "
                  "DefaultTarget, MaxConcurrent, MaxQueued, Timeout, Deadline, Retries and "
                  "KeepConnections: fix its name or remove it");
  expect_problem ("Colour=1\n[Cloud]\n", F ":1: a Key=value line comes before any section "
                  "header; put it under its section's header");
  /* What GKeyFile itself accepts stays accepted: blanks around names,
   * CR LF line ends, a last line without one, remarks. */
  g_autoptr (EpConfig) c = load_ok ("  # remark\r\n  [Provisioning]  \r\n"
                                    "\tRetries =  5 # five\r\nMaxQueued=3");
  g_assert_cmpuint (c->retries, ==, 5);
  g_assert_cmpuint (c->max_queued, ==, 3);
}

static void
test_bom_and_nul (void)
{
  g_unsetenv ("CREDENTIALS_DIRECTORY");
  /* GKeyFile refuses the whole file for a byte order mark; the rest is
   * checked still. */
  expect_problems ("\xef\xbb\xbf[Provisioning]\nRetries=x\n",
                   F ":1: the file starts with a byte order mark, which the parser refuses; "
                   "save the file as UTF-8 without one",
                   F ":2: [Provisioning] Retries: 'x' must be a whole number from 0 to 20",
                   NULL);
  /* GKeyFile would read "Retries=3" and drop the rest of the line. */
  static const char nul[] = "[Provisioning]\nRetries=3\0junk\nMaxQueued=1\n";
  g_auto (GStrv) problems = NULL;
  g_autoptr (EpConfig) config = ep_config_check_data (nul, sizeof nul - 1, F, &problems);
  g_assert_null (config);
  g_assert_cmpuint (g_strv_length (problems), ==, 1);
  g_assert_cmpstr (problems[0], ==, F ":2: the line holds a NUL byte; remove it");
}

static void
test_duplicates (void)
{
  g_unsetenv ("CREDENTIALS_DIRECTORY");
  /* GKeyFile keeps the last value without a word. */
  expect_problem ("[Provisioning]\nRetries=1\nMaxQueued=2\nRetries=3\n",
                  F ":4: [Provisioning] Retries: set again (first at line 2), and only the "
                  "last value would count; remove one of them");
  /* It merges a section given twice, so a key may be set twice across
   * them. */
  expect_problem ("[Provisioning]\nRetries=1\n[Cloud]\n[Provisioning]\nRetries=3\n",
                  F ":5: [Provisioning] Retries: set again (first at line 2), and only the "
                  "last value would count; remove one of them");
}

/* A section given twice is one, as GKeyFile reads it and as the daemon
 * took it before the checker: no problem. */
static void
test_repeated_section (void)
{
  g_unsetenv ("CREDENTIALS_DIRECTORY");
  g_autoptr (EpConfig) c = load_ok ("[Provisioning]\nRetries=1\n[Cloud]\n"
                                    "[Provisioning]\nMaxQueued=3\n");
  g_assert_cmpuint (c->retries, ==, 1);
  g_assert_cmpuint (c->max_queued, ==, 3);
  /* A consumer's section given twice is one consumer: what it lacks is
   * judged on both parts. */
  g_autoptr (EpConfig) k = load_ok ("[Access]\nGroup=\n[Consumer a]\nUser=root\n"
                                    "[Consumer b]\nUser=root\nDevices=*\n"
                                    "[Consumer a]\nDevices=kind:ucm\n");
  g_assert_cmpuint (k->consumers->len, ==, 2);
  const EpConsumer *a = k->consumers->pdata[0];
  g_assert_cmpstr (a->name, ==, "a");
  g_assert_true (a->has_uid);
  g_assert_cmpuint (a->devices->len, ==, 1);
}

/* Names and values from the file cannot end a problem's line or forge
 * another. */
static void
test_escaped (void)
{
  g_unsetenv ("CREDENTIALS_DIRECTORY");
  expect_problem ("[Provisioning]\nBad\x1b[2JKey=1\n",
                  F ":2: the text before '=' is not a key name (no '[' or ']', no blank at "
                  "either end); fix the line or remove it");
  expect_problem ("[Provisioning]\nRe\x1btries=1\n",
                  F ":2: [Provisioning] Re\\x1btries: unknown key; did you mean 'Retries'?");
  expect_problem ("[Keystore]\nPath=rel\rx\n",
                  F ":2: [Keystore] Path: 'rel\\x0dx' is not an absolute path; give one that "
                  "starts with '/'");
}

/* ---- what is not quoted: a file that is no configuration -------------------- */

#define CANARY "CANARY-6b0e"

/* @text (@len bytes) is refused with no problem quoting CANARY. */
static void
expect_unquoted (const char *text, gsize len)
{
  g_auto (GStrv) problems = NULL;
  g_autoptr (EpConfig) c = ep_config_check_data (text, len, F, &problems);
  g_assert_null (c);
  for (size_t i = 0; problems[i]; i++)
    if (strstr (problems[i], CANARY) != NULL)
      g_test_fail_printf ("a problem quotes the secret: %s", problems[i]);
}

static void
test_secrets_unquoted (void)
{
  g_unsetenv ("CREDENTIALS_DIRECTORY");
  /* A token given as --config: its text before '=' is no key's name. */
  expect_problem ("eyJhbGciOiJIUzI1NiJ9." CANARY ".SIGNATURE==\n",
                  F ":1: a Key=value line comes before any section header; put it under its "
                  "section's header");
  /* A plain-looking one too: only a known key is named. */
  expect_problem ("Abc" CANARY "=\n", F ":1: a Key=value line comes before any section "
                  "header; put it under its section's header");
  expect_problem ("User=root\n[Access]\nGroup=\n", F ":1: User: the key comes before any "
                  "section header; put it under [Consumer NAME]");
  expect_problem ("Group=root\n", F ":1: Group: the key comes before any section header; put "
                  "it under [Keystore], [Access] or [Consumer NAME]");
  static const char *const texts[] = {
    /* A PEM key given as --config. */
    "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC" CANARY "==\n"
    "YWJj" CANARY "=ZGVm\n-----END PRIVATE KEY-----\n",
    /* Under a header: an unknown key that looks like no key's name. */
    "[Cloud]\nQWxhZGRpbjpvcGVuIHNlc2FtZQ" CANARY "c2VjcmV0c2VjcmV0==\n",
    "[Consumer a]\nUser=root\nDevices=*\nx+" CANARY "/y==\n",
    "[Cloud]\nQWxhZGRpbjpvcGVuIHNlc2FtZQ" CANARY "c2VjcmV0=1\n"
    "QWxhZGRpbjpvcGVuIHNlc2FtZQ" CANARY "c2VjcmV0=2\n",
    /* A header that is no section's name. */
    "[\"" CANARY "\"]\n",
    "[Consumers " CANARY "+/]\n",
    /* A locale suffix that is none. */
    "[Cloud]\nURL[" CANARY "+/]=x\n",
    /* The token pasted in place of its file's path. */
    "[Cloud]\nTokenFile=" CANARY "\n",
    "[Gateway]\nURL=http://gw\nTokenFile=/" CANARY "\n",
  };
  for (size_t i = 0; i < G_N_ELEMENTS (texts); i++)
    expect_unquoted (texts[i], strlen (texts[i]));
  /* Still told apart: the line, and where the key belongs. */
  expect_problem ("[Cloud]\nQWxhZGRpbjpvcGVuIHNlc2FtZQ" CANARY "c2VjcmV0==\n",
                  F ":2: [Cloud]: unknown key (its name is not shown: it does not look like "
                  "one); [Cloud] has URL, TokenFile and CAFile: fix its name or remove it");
  expect_problem ("[\"" CANARY "\"]\n",
                  F ":1: unknown section (its name is not shown: it does not look like one); "
                  "sections are [Cloud], [Gateway], [Provisioning], [Service], [Renewal], "
                  "[Keystore], [Access] and [Consumer NAME]: fix its name or remove it");
  expect_problem ("[Gateway]\nURL=http://gw\nTokenFile=/" CANARY "\n",
                  F ":3: [Gateway] TokenFile: the file cannot be read (No such file or "
                  "directory); a token file must be a regular file of at most 4096 bytes that "
                  "only its owner, root or the daemon's user, may read (chmod 0600)");
  /* What looks like a name is quoted, a typo of a known one however it
   * looks. */
  g_assert_true (ep_config_name_is_plain ("MaxConcurrent", EP_CONFIG_KEY_NAME));
  g_assert_true (ep_config_name_is_plain ("Consumer ucm-agent.2", EP_CONFIG_SECTION_NAME));
  g_assert_false (ep_config_name_is_plain ("", EP_CONFIG_KEY_NAME));
  g_assert_false (ep_config_name_is_plain ("1abc", EP_CONFIG_KEY_NAME));
  g_assert_false (ep_config_name_is_plain ("a.b", EP_CONFIG_KEY_NAME));
  g_autofree char *long_name = unit_repeat ('k', 33);
  g_assert_false (ep_config_name_is_plain (long_name, EP_CONFIG_KEY_NAME));
  long_name[32] = '\0';
  g_assert_true (ep_config_name_is_plain (long_name, EP_CONFIG_KEY_NAME));
}

/* ---- headers and keys GKeyFile reads its own way ------------------------------ */

static void
test_header_causes (void)
{
  g_unsetenv ("CREDENTIALS_DIRECTORY");
  expect_problem ("[Consumer a\x01]\nUser=root\n",
                  F ":1: the section's name holds a control character (a tab, an escape...); "
                  "remove it");
  expect_problem ("[Cloud\tx]\n", F ":1: the section's name holds a control character (a "
                  "tab, an escape...); remove it");
  expect_problem ("  []  \n", F ":1: the section header has no name; write the section's name "
                  "between '[' and ']', or remove the line");
  /* Anything else about the line: the general rule. */
  expect_problem ("[a\x01] x\n", F ":1: not a section header: write it as [NAME] alone on its "
                  "line, NAME without '[' or ']'; fix the line or remove it");
  expect_problem ("[a[b]\n", F ":1: not a section header: write it as [NAME] alone on its "
                  "line, NAME without '[' or ']'; fix the line or remove it");
}

static void
test_locale_keys (void)
{
  g_unsetenv ("CREDENTIALS_DIRECTORY");
  expect_problem ("[Gateway]\nURL[fr]=http://gw\n",
                  F ":2: [Gateway] URL: locale-suffixed keys are not supported; remove [fr]");
  expect_problem ("[Provisioning]\nRetries[de_DE.UTF-8@euro] = 3\n",
                  F ":2: [Provisioning] Retries: locale-suffixed keys are not supported; "
                  "remove [de_DE.UTF-8@euro]");
  /* The key without its suffix is the one read. */
  expect_problem ("[Gateway]\nURL=http://gw\nURL[fr]=http://fr\n",
                  F ":3: [Gateway] URL: locale-suffixed keys are not supported; remove [fr]");
  expect_problem ("URL[fr]=x\n", F ":1: URL: locale-suffixed keys are not supported; remove "
                  "[fr]");
}

/* ---- checks across keys: where, and not after a header's problem ------------- */

static void
test_cross_key_lines (void)
{
  g_unsetenv ("CREDENTIALS_DIRECTORY");
  /* Timeout unset: the line to look at is Deadline's. */
  expect_problem ("[Provisioning]\nDeadline=5\n",
                  F ":2: [Provisioning] Deadline: 5 s is shorter than [Provisioning] Timeout "
                  "(10 s by default), which every attempt may take; raise Deadline or set a "
                  "lower Timeout");
  expect_problem ("[Provisioning]\nDeadline=5\nTimeout=\n",
                  F ":3: [Provisioning] Timeout: 10 s is longer than [Provisioning] Deadline "
                  "(5 s), which bounds every attempt; lower Timeout or raise Deadline (under "
                  "25)");
  /* Every problem has a line but the systemd credential's. */
  expect_problem ("[Provisioning]\nDefaultTarget=gateway\n",
                  F ":2: [Provisioning] DefaultTarget: 'gateway' needs [Gateway] URL to be "
                  "set; set it, or choose cloud or auto");
}

static void
test_no_follow_on (void)
{
  g_unsetenv ("CREDENTIALS_DIRECTORY");
  /* The URL is under a misspelt header: DefaultTarget does not lack it. */
  expect_problem ("[Gatway]\nURL=http://gw\n[Provisioning]\nDefaultTarget=gateway\n",
                  F ":1: [Gatway]: unknown section; did you mean '[Gateway]'?");
  expect_problem ("[Gateway\nURL=http://gw\n[Provisioning]\nDefaultTarget=gateway\n",
                  F ":1: not a section header: write it as [NAME] alone on its line, NAME "
                  "without '[' or ']'; fix the line or remove it");
  /* The Timeout is under one: Deadline is not shorter than the default. */
  expect_problem ("[Provisioning]\nDeadline=5\n[Provisionig]\nTimeout=3\n",
                  F ":3: [Provisionig]: unknown section; did you mean '[Provisioning]'?");
  /* A consumer's User under one: the section does not lack it. */
  expect_problem ("[Access]\nGroup=\n[Consumer a]\nDevices=*\n[Consumr a]\nUser=root\n",
                  F ":5: [Consumr a]: unknown section; did you mean '[Consumer a]'?");
  /* A header near nothing leaves the checks as they are. */
  expect_problems ("[Database]\nURL=http://gw\n[Provisioning]\nDefaultTarget=gateway\n",
                   F ":1: [Database]: unknown section; sections are [Cloud], [Gateway], "
                   "[Provisioning], [Service], [Renewal], [Keystore], [Access] and "
                   "[Consumer NAME]: fix its name or remove it",
                   F ":4: [Provisioning] DefaultTarget: 'gateway' needs [Gateway] URL to be "
                   "set; set it, or choose cloud or auto",
                   NULL);
}

/* ---- many consumer sections ---------------------------------------------------- */

static void
test_many_consumers (void)
{
  g_unsetenv ("CREDENTIALS_DIRECTORY");
  GString *text = g_string_new ("[Access]\nGroup=\n");
  for (guint i = 0; i < 20000; i++)
    g_string_append_printf (text, "[Consumer c%u]\nUser=root\nDevices=*\n", i);
  gint64 start = g_get_monotonic_time ();
  g_auto (GStrv) problems = NULL;
  g_autoptr (EpConfig) c = ep_config_check_data (text->str, text->len, F, &problems);
  gint64 took = g_get_monotonic_time () - start;
  g_string_free (text, TRUE);
  g_assert_null (c);
  g_assert_cmpuint (g_strv_length (problems), ==, 1);
  /* Line 3 + 64 sections of 3 lines. */
  g_assert_cmpstr (problems[0], ==, F ":195: [Consumer c64]: more than 64 consumer sections "
                   "(this is the 65th; the rest are not read); give consumers that share "
                   "devices one group");
  g_assert_cmpint (took, <, 2 * G_USEC_PER_SEC * unit_slowdown ());
}

/* Past the cap of problems shown, the one that says why there are so many
 * is still shown. */
static void
test_many_consumers_shown (void)
{
  g_unsetenv ("CREDENTIALS_DIRECTORY");
  GString *text = g_string_new ("[Access]\nGroup=\n");
  for (guint i = 0; i < 1000; i++)
    g_string_append_printf (text, "[Consumer c%u]\n", i);
  g_auto (GStrv) problems = NULL;
  g_autoptr (EpConfig) c = ep_config_check_data (text->str, text->len, F, &problems);
  g_string_free (text, TRUE);
  g_assert_null (c);
  /* Two a section for the first 64, then the cap's. */
  guint n = g_strv_length (problems);
  g_assert_cmpuint (n, ==, EP_CONFIG_MAX_PROBLEMS + 1);
  g_assert_cmpstr (problems[n - 2], ==, F ":67: [Consumer c64]: more than 64 consumer sections "
                   "(this is the 65th; the rest are not read); give consumers that share "
                   "devices one group");
  g_assert_cmpstr (problems[n - 1], ==, F ": 29 more problems; fix those above first, and "
                   "check that this is the configuration file");
}

/* ---- the index ----------------------------------------------------------- */

static void
test_index (void)
{
  static const char text[] = "# top\n[A]\nk=1\n\n[B]\nk=2\n[A]\nk=3\nj = 4 \n";
  g_autoptr (EpConfigProblems) problems = ep_config_problems_new ("x.conf");
  g_autoptr (EpConfigIndex) index = ep_config_index_new (text, sizeof text - 1, problems);
  g_assert_cmpuint (ep_config_index_len (index), ==, 7);
  const EpConfigEntry *j = ep_config_index_get (index, 6);
  g_assert_cmpuint (j->line, ==, 9);
  g_assert_cmpstr (j->section, ==, "A");
  g_assert_cmpstr (j->key, ==, "j");
  g_assert_cmpstr (j->value, ==, "4 ");
  g_assert_cmpuint (ep_config_index_line (index, "A", "k"), ==, 8);   /* the last one */
  g_assert_cmpuint (ep_config_index_line (index, "B", "k"), ==, 6);
  g_assert_cmpuint (ep_config_index_line (index, "A", NULL), ==, 2);  /* the first header */
  g_assert_cmpuint (ep_config_index_line (index, "B", "j"), ==, 0);
  g_assert_cmpuint (ep_config_index_line (index, "C", NULL), ==, 0);
  /* Section A twice is no problem, its k twice is. */
  g_auto (GStrv) lines = ep_config_problems_lines (problems);
  g_assert_cmpuint (g_strv_length (lines), ==, 1);
  g_assert_true (g_str_has_prefix (lines[0], "x.conf:8: [A] k: set again (first at line 3)"));
}

static void
test_problem_formats (void)
{
  g_autoptr (EpConfigProblems) p = ep_config_problems_new ("f.conf");
  ep_config_problems_add (p, 0, NULL, NULL, "whole %s", "file");
  ep_config_problems_add (p, 3, "S", "K", "key");
  ep_config_problems_add (p, 3, "S", NULL, "section, found after the key");
  ep_config_problems_add (p, 1, NULL, "K", "key outside");
  ep_config_problems_add (p, 0, "S", "K", "key, no line");
  g_assert_cmpuint (ep_config_problems_count (p), ==, 5);
  g_auto (GStrv) lines = ep_config_problems_lines (p);
  g_assert_cmpuint (g_strv_length (lines), ==, 5);
  g_assert_cmpstr (lines[0], ==, "f.conf:1: K: key outside");
  g_assert_cmpstr (lines[1], ==, "f.conf:3: [S] K: key");
  g_assert_cmpstr (lines[2], ==, "f.conf:3: [S]: section, found after the key");
  g_assert_cmpstr (lines[3], ==, "f.conf: whole file");
  g_assert_cmpstr (lines[4], ==, "f.conf: [S] K: key, no line");
}

/* A file that is no configuration at all does not flood the journal. */
static void
test_many_problems (void)
{
  GString *text = g_string_new ("[Provisioning]\n");
  for (guint i = 0; i < EP_CONFIG_MAX_PROBLEMS + 20; i++)
    g_string_append (text, "junk\n");
  g_auto (GStrv) problems = NULL;
  g_autoptr (EpConfig) c = ep_config_check_data (text->str, text->len, F, &problems);
  g_string_free (text, TRUE);
  g_assert_null (c);
  g_assert_cmpuint (g_strv_length (problems), ==, EP_CONFIG_MAX_PROBLEMS + 1);
  g_assert_true (g_str_has_prefix (problems[0], F ":2: the line is neither"));
  g_assert_true (g_str_has_prefix (problems[EP_CONFIG_MAX_PROBLEMS - 1], F ":101: "));
  g_assert_cmpstr (problems[EP_CONFIG_MAX_PROBLEMS], ==, F ": 20 more problems; fix those "
                   "above first, and check that this is the configuration file");
}

/* ---- files ----------------------------------------------------------------- */

static void
test_files (void)
{
  g_unsetenv ("CREDENTIALS_DIRECTORY");
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("ep-check-XXXXXX", &error);
  g_assert_no_error (error);
  g_autofree char *missing = g_build_filename (dir, "missing.conf", NULL);
  g_auto (GStrv) p1 = NULL;
  g_autoptr (EpConfig) c1 = ep_config_check (missing, FALSE, &p1);
  g_assert_null (c1);
  g_autofree char *want = g_strdup_printf ("%s: no such file; create it (see "
                                           "provisiond.conf(5)) or give the path of an "
                                           "existing one", missing);
  g_assert_cmpuint (g_strv_length (p1), ==, 1);
  g_assert_cmpstr (p1[0], ==, want);

  /* The default path may be missing: every default applies. */
  g_auto (GStrv) p2 = NULL;
  g_autoptr (EpConfig) c2 = ep_config_check (missing, TRUE, &p2);
  g_assert_nonnull (c2);
  g_assert_null (p2);
  g_assert_null (c2->path);

  g_auto (GStrv) p3 = NULL;
  g_autoptr (EpConfig) c3 = ep_config_check (dir, TRUE, &p3);
  g_assert_null (c3);
  g_assert_cmpuint (g_strv_length (p3), ==, 1);
  g_assert_true (g_str_has_prefix (p3[0], dir));
  g_assert_nonnull (strstr (p3[0], "is not a regular file"));
  g_rmdir (dir);
}

/* Only a regular file of at most 1 MiB is read: a FIFO would block, a
 * device would be read without end. */
static void
expect_unreadable (const char *path, const char *what)
{
  gint64 start = g_get_monotonic_time ();
  g_auto (GStrv) problems = NULL;
  g_autoptr (EpConfig) c = ep_config_check (path, TRUE, &problems);
  g_assert_null (c);
  g_assert_cmpuint (g_strv_length (problems), ==, 1);
  g_autofree char *want = g_strdup_printf ("%s: %s; give the path of a configuration file the "
                                           "daemon may read, a regular file of at most 1048576 "
                                           "bytes", path, what);
  g_assert_cmpstr (problems[0], ==, want);
  g_assert_cmpint (g_get_monotonic_time () - start, <, G_USEC_PER_SEC * unit_slowdown ());
}

static void
test_unreadable_files (void)
{
  g_unsetenv ("CREDENTIALS_DIRECTORY");
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("ep-check-XXXXXX", &error);
  g_assert_no_error (error);
  g_autofree char *fifo = g_build_filename (dir, "fifo", NULL);
  g_assert_cmpint (mkfifo (fifo, 0600), ==, 0);
  expect_unreadable (fifo, "is not a regular file");
  expect_unreadable ("/dev/zero", "is not a regular file");
  expect_unreadable (dir, "is not a regular file");
  g_autofree char *big = g_build_filename (dir, "big.conf", NULL);
  g_autofree char *text = unit_repeat ('#', 1024 * 1024 + 1);
  g_assert_true (g_file_set_contents (big, text, -1, &error));
  expect_unreadable (big, "is larger than 1048576 bytes");
  /* 1 MiB exactly is read. */
  text[1024 * 1024] = '\0';
  g_assert_true (g_file_set_contents (big, text, -1, &error));
  g_auto (GStrv) problems = NULL;
  g_autoptr (EpConfig) c = ep_config_check (big, FALSE, &problems);
  g_assert_nonnull (c);
  g_unlink (big);
  g_unlink (fifo);
  g_rmdir (dir);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/config-check/all-problems", test_all_problems);
  g_test_add_func ("/config-check/order-by-line", test_order_by_line);
  g_test_add_func ("/config-check/error-joins-problems", test_error_joins_problems);
  g_test_add_func ("/config-check/no-cascade", test_no_cascade);
  g_test_add_func ("/config-check/problem-without-line", test_problem_without_line);
  g_test_add_func ("/config-check/suggest-keys", test_suggest_keys);
  g_test_add_func ("/config-check/suggest-sections", test_suggest_sections);
  g_test_add_func ("/config-check/no-far-suggestion", test_no_far_suggestion);
  g_test_add_func ("/config-check/suggest-function", test_suggest_function);
  g_test_add_func ("/config-check/syntax", test_syntax);
  g_test_add_func ("/config-check/bom-and-nul", test_bom_and_nul);
  g_test_add_func ("/config-check/duplicates", test_duplicates);
  g_test_add_func ("/config-check/repeated-section", test_repeated_section);
  g_test_add_func ("/config-check/secrets-unquoted", test_secrets_unquoted);
  g_test_add_func ("/config-check/header-causes", test_header_causes);
  g_test_add_func ("/config-check/locale-keys", test_locale_keys);
  g_test_add_func ("/config-check/cross-key-lines", test_cross_key_lines);
  g_test_add_func ("/config-check/no-follow-on", test_no_follow_on);
  g_test_add_func ("/config-check/many-consumers", test_many_consumers);
  g_test_add_func ("/config-check/many-consumers-shown", test_many_consumers_shown);
  g_test_add_func ("/config-check/escaped", test_escaped);
  g_test_add_func ("/config-check/index", test_index);
  g_test_add_func ("/config-check/problem-formats", test_problem_formats);
  g_test_add_func ("/config-check/many-problems", test_many_problems);
  g_test_add_func ("/config-check/files", test_files);
  g_test_add_func ("/config-check/unreadable-files", test_unreadable_files);
  return g_test_run ();
}
