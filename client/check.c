/* enapter-provisionctl check: the daemon's Diagnose() (its configuration,
 * keystore, devices, clock and APIs, each judged ok, warning or error) as
 * one line per check, or --json's array; exit status 1 when any check is an
 * error. */
#include "ctl.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Diagnose probes each API for up to the daemon's [Provisioning] Timeout:
 * wait longer than the usual call unless --timeout says otherwise. */
#define CHECK_TIMEOUT 90.0

static const struct {
  const char *level;
  const char *mark;   /* on a UTF-8 terminal */
} levels[] = {
  { "ok", "✓" }, { "warning", "!" }, { "error", "✗" },
};

/* Reads a(sss) into an array of {check, level, message}; NULL and @r on
 * failure. */
static JsonArray *
read_checks (sd_bus_message *m, int *r)
{
  *r = sd_bus_message_enter_container (m, 'a', "(sss)");
  if (*r < 0)
    return NULL;
  g_autoptr (JsonArray) checks = json_array_new ();
  const char *check, *level, *message;
  while ((*r = sd_bus_message_read (m, "(sss)", &check, &level, &message)) > 0)
    {
      JsonObject *o = json_object_new ();
      json_object_set_string_member (o, "check", check);
      json_object_set_string_member (o, "level", level);
      json_object_set_string_member (o, "message", message);
      json_array_add_object_element (checks, o);
    }
  if (*r < 0 || (*r = sd_bus_message_exit_container (m)) < 0)
    return NULL;
  return g_steal_pointer (&checks);
}

static void
print_checks (Ctl *ctl, JsonArray *checks)
{
  gboolean marks = isatty (STDOUT_FILENO) && ctl_utf8 ();
  guint counts[G_N_ELEMENTS (levels)] = { 0 };
  guint n = json_array_get_length (checks);
  /* The lines of the checks that are not ok, told again after the count:
   * with many devices, the problems would scroll out of sight. */
  g_autoptr (GString) problems = g_string_new (NULL);
  for (guint i = 0; i < n; i++)
    {
      JsonObject *o = json_array_get_object_element (checks, i);
      const char *level = ctl_string_member (o, "level");
      g_autofree char *shown = ctl_printable (level);
      const char *mark = marks ? "?" : shown;
      for (gsize l = 0; l < G_N_ELEMENTS (levels); l++)
        if (strcmp (levels[l].level, level) == 0)
          {
            mark = marks ? levels[l].mark : levels[l].level;
            counts[l]++;
          }
      g_autofree char *check = ctl_printable (ctl_string_member (o, "check"));
      g_autofree char *message = ctl_printable (ctl_string_member (o, "message"));
      /* "warning" is the longest word: the checks line up. */
      g_autofree char *line = g_strdup_printf ("%-*s %s: %s\n", marks ? 1 : 7, mark, check,
                                               message);
      fputs (line, stdout);
      if (strcmp (level, "ok") != 0)
        g_string_append (problems, line);
    }
  if (ctl->no_legend)
    return;
  printf ("\n%u %s: %u ok, %u %s, %u %s.\n", n, n == 1 ? "check" : "checks", counts[0],
          counts[1], counts[1] == 1 ? "warning" : "warnings", counts[2],
          counts[2] == 1 ? "error" : "errors");
  fputs (problems->str, stdout);
}

static gboolean
any_error (JsonArray *checks)
{
  for (guint i = 0; i < json_array_get_length (checks); i++)
    if (strcmp (ctl_string_member (json_array_get_object_element (checks, i), "level"),
                "error") == 0)
      return TRUE;
  return FALSE;
}

int
ctl_check (Ctl *ctl, int argc, char **argv)
{
  if (!ctl_parse (ctl, "check", NULL,
                  "Diagnoses the daemon: its configuration, keystore, devices, clock and "
                  "APIs.",
                  "Calls Diagnose: the daemon checks its configuration and token files, the "
                  "keystore's ownership and modes, every device's files and certificate, "
                  "the clock, and whether each configured API answers a TLS handshake (no "
                  "token is sent). Prints one line per check: its level (ok, warning, error; "
                  "on a UTF-8 terminal ✓, ! and ✗), its name and a message that says what "
                  "to do, then a count and the lines of the checks that are not ok again "
                  "(both left out by --no-legend). With --json, an array of "
                  "{\"check\", \"level\", \"message\"} objects. Exit status 1 when any check "
                  "is an error. Waits up to 90 s unless --timeout is given: each API probe "
                  "may take the daemon's [Provisioning] Timeout.",
                  NULL, &argc, &argv, 0))
    return CTL_EXIT_USAGE;
  if (!ctl->timeout_given)
    ctl->timeout = CHECK_TIMEOUT;

  g_autoptr (sd_bus_message) reply = ctl_call_plain (ctl, "Diagnose");
  if (reply == NULL)
    return ctl_status (ctl);
  int r = 0;
  g_autoptr (JsonArray) checks = read_checks (reply, &r);
  if (checks == NULL)
    return ctl_bad_reply (ctl, "Diagnose", r);

  if (ctl->json)
    ctl_print_json_array (ctl, checks);
  else
    print_checks (ctl, checks);
  return any_error (checks) ? CTL_EXIT_FAILURE : CTL_EXIT_OK;
}
