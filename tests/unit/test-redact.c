/* Unit tests of src/redact.h and the line escaping of src/log.h: the two
 * things that keep tokens and forged lines out of the log and off the bus. */
#include "log.h"
#include "redact.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void
test_redact_every_occurrence (void)
{
  ep_secrets_add ("TOKEN-A");
  ep_secrets_add (NULL);
  ep_secrets_add ("");
  ep_secrets_add ("tok-b");
  g_autofree char *out = ep_redact ("TOKEN-A and tok-b, TOKEN-ATOKEN-A!");
  g_assert_cmpstr (out, ==, "[redacted] and [redacted], [redacted][redacted]!");
  g_assert_true (ep_redact_needed ("x tok-b"));
  g_assert_false (ep_redact_needed ("TOKEN-"));
  g_assert_false (ep_redact_needed (NULL));
  g_assert_null (ep_redact (NULL));
  ep_secrets_forget ();
  g_autofree char *after = ep_redact ("TOKEN-A");
  g_assert_cmpstr (after, ==, "TOKEN-A");
}

static void
test_redact_longest_first (void)
{
  /* One token inside the other must not leave the longer one's rest. */
  ep_secrets_add ("abc");
  ep_secrets_add ("xxabcyy");
  g_autofree char *out = ep_redact ("<xxabcyy> <abc>");
  g_assert_cmpstr (out, ==, "<[redacted]> <[redacted]>");
  ep_secrets_forget ();
  /* A secret that is a part of the replacement ends. */
  ep_secrets_add ("red");
  g_autofree char *odd = ep_redact ("red");
  g_assert_cmpstr (odd, ==, "[redacted]");
  ep_secrets_forget ();
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
  /* Bidirectional overrides and other format characters cannot reorder a line. */
  g_autofree char *d = ep_log_escape ("a\u202eb\u2066c\u200bd", 1000);
  g_assert_cmpstr (d, ==, "a\\u{202e}b\\u{2066}c\\u{200b}d");
}

static void
test_escape_is_bounded (void)
{
  g_autofree char *huge = g_strnfill (1000000, 'A');
  g_autofree char *out = ep_log_escape (huge, 128);
  g_assert_cmpuint (strlen (out), ==, 128 + strlen ("…"));
  g_assert_true (g_str_has_suffix (out, "…"));
  /* The bound is on what is written: escapes do not multiply it. */
  g_autofree char *controls = g_strnfill (100000, '\x01');
  g_autofree char *escaped = ep_log_escape (controls, 128);
  g_assert_cmpuint (strlen (escaped), <=, 128 + 4 + strlen ("…"));
  g_autofree char *exact = ep_log_escape ("abc", 3);
  g_assert_cmpstr (exact, ==, "abc");
}

/* --log-level names, notice among them (the level of refusals everyone may
 * provoke), in syslog order. */
static void
test_level_names (void)
{
  static const struct { const char *name; EpLogLevel level; } names[] = {
    { "error", EP_LOG_ERROR }, { "warning", EP_LOG_WARNING }, { "notice", EP_LOG_NOTICE },
    { "info", EP_LOG_INFO }, { "debug", EP_LOG_DEBUG },
  };
  for (size_t i = 0; i < G_N_ELEMENTS (names); i++)
    {
      EpLogLevel level = 0;
      g_assert_true (ep_log_parse_level (names[i].name, &level));
      g_assert_cmpint (level, ==, names[i].level);
    }
  EpLogLevel level;
  g_assert_false (ep_log_parse_level ("loud", &level));
  g_assert_cmpint (EP_LOG_WARNING, <, EP_LOG_NOTICE);
  g_assert_cmpint (EP_LOG_NOTICE, <, EP_LOG_INFO);
}

/* Under journald every line carries a priority, GLib's own messages too,
 * escaped like ours. A forked child (ep_log_take_glib can be called only once
 * per process) logs with stderr on a pipe. Not g_test_trap_subprocess: that
 * re-executes the test binary, which under qemu-user without binfmt_misc (a
 * container, a fresh root) cannot start an ARM binary. */
static void
test_glib_messages (void)
{
  int fds[2];
  g_assert_cmpint (pipe (fds), ==, 0);
  fflush (NULL);
  pid_t pid = fork ();
  g_assert_cmpint (pid, >=, 0);
  if (pid == 0)
    {
      close (fds[0]);
      if (dup2 (fds[1], STDERR_FILENO) < 0)
        _exit (2);
      close (fds[1]);
      g_setenv ("JOURNAL_STREAM", "8:12345", TRUE);
      g_unsetenv ("G_MESSAGES_DEBUG");
      ep_log_take_glib ();
      /* GTest made warnings fatal and echoes every message to the TAP
       * stream (this child's stdout too); the daemon does neither. */
      g_log_set_always_fatal (G_LOG_FATAL_MASK);
      g_log_set_default_handler (g_log_default_handler, NULL);
      g_log ("GLib-GIO", G_LOG_LEVEL_WARNING, "a warning\n<0>FORGED");
      g_log ("Json", G_LOG_LEVEL_MESSAGE, "a message");
      g_log ("GLib", G_LOG_LEVEL_CRITICAL, "a critical");
      /* Dropped, as GLib drops it without G_MESSAGES_DEBUG. */
      g_log ("GLib", G_LOG_LEVEL_DEBUG, "a debug line");
      fflush (stderr);
      _exit (0);
    }
  close (fds[1]);
  g_autoptr (GString) err = g_string_new (NULL);
  char buf[4096];
  ssize_t n;
  while ((n = read (fds[0], buf, sizeof buf)) != 0)
    {
      if (n < 0 && errno == EINTR)
        continue;
      g_assert_cmpint (n, >, 0);
      g_string_append_len (err, buf, n);
    }
  close (fds[0]);
  int wstatus = 0;
  g_assert_cmpint (waitpid (pid, &wstatus, 0), ==, pid);
  g_assert_true (WIFEXITED (wstatus));
  g_assert_cmpint (WEXITSTATUS (wstatus), ==, 0);
  /* Exactly these lines: nothing else, the debug line least of all. */
  g_assert_cmpstr (err->str, ==, "<4>GLib-GIO: a warning\\n<0>FORGED\n"
                                 "<5>Json: a message\n<3>GLib: a critical\n");
  g_assert_null (strstr (err->str, "debug line"));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/redact/every-occurrence", test_redact_every_occurrence);
  g_test_add_func ("/redact/longest-first", test_redact_longest_first);
  g_test_add_func ("/log/escape-controls-and-bad-utf8", test_escape_controls_and_bad_utf8);
  g_test_add_func ("/log/escape-is-bounded", test_escape_is_bounded);
  g_test_add_func ("/log/level-names", test_level_names);
  g_test_add_func ("/log/glib-messages-have-a-priority", test_glib_messages);
  return g_test_run ();
}
