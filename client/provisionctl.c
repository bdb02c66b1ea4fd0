/* enapter-provisionctl: the command-line client of com.enapter.Provisioning1.
 * This file holds the global options, command dispatch, the connection and
 * error reporting; the commands live in commands.c and monitor.c. */
#include "ctl.h"
#include "ep-build-config.h"

#include <errno.h>
#include <locale.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define PROGRAM "enapter-provisionctl"
#define DEFAULT_TIMEOUT 30.0
#define MAX_TIMEOUT 86400.0

void
ctl_message (const char *format, ...)
{
  va_list ap;
  va_start (ap, format);
  g_autofree char *text = g_strdup_vprintf (format, ap);
  va_end (ap);
  fprintf (stderr, PROGRAM ": %s\n", text);
}

int
ctl_usage_error (const char *command, const char *format, ...)
{
  va_list ap;
  va_start (ap, format);
  g_autofree char *text = g_strdup_vprintf (format, ap);
  va_end (ap);
  fprintf (stderr, PROGRAM ": %s\nTry '" PROGRAM "%s%s --help'.\n", text, command ? " " : "",
           command ? command : "");
  return CTL_EXIT_USAGE;
}

/* The global options; @version is NULL after the command, where --version
 * would clash with the gateway command's --version. Ends with a NULL entry. */
static void
global_entries (Ctl *ctl, gboolean *version, GOptionEntry out[9])
{
  const GOptionEntry entries[] = {
    { "system", 0, 0, G_OPTION_ARG_NONE, &ctl->system,
      "Talk to the daemon on the system bus (the default)", NULL },
    { "session", 0, 0, G_OPTION_ARG_NONE, &ctl->session,
      "Talk to the daemon on the session bus (development)", NULL },
    { "address", 0, 0, G_OPTION_ARG_STRING, &ctl->address_arg,
      "Talk to the daemon on the bus at ADDRESS (a D-Bus address)", "ADDRESS" },
    { "json", 0, 0, G_OPTION_ARG_NONE, &ctl->json,
      "Print JSON: one document, or one line per signal for monitor", NULL },
    { "timeout", 0, 0, G_OPTION_ARG_STRING, &ctl->timeout_arg,
      "Wait at most SEC seconds for an answer (default 30)", "SEC" },
    { "verbose", 0, 0, G_OPTION_ARG_NONE, &ctl->verbose,
      "Name the D-Bus error along with its message", NULL },
    { "version", 0, 0, G_OPTION_ARG_NONE, version, "Print the version and exit", NULL },
    G_OPTION_ENTRY_NULL,
  };
  memcpy (out, entries, sizeof entries);
  if (version == NULL)
    out[6] = (GOptionEntry) G_OPTION_ENTRY_NULL;
}

/* Takes the string options of the parse just done; the last one wins. */
static void
take_strings (Ctl *ctl)
{
  if (ctl->address_arg != NULL)
    {
      g_free (ctl->address);
      ctl->address = g_steal_pointer (&ctl->address_arg);
    }
  if (ctl->timeout_arg != NULL)
    {
      g_free (ctl->timeout_text);
      ctl->timeout_text = g_steal_pointer (&ctl->timeout_arg);
    }
}

/* Checks the global options once they are all parsed. */
static gboolean
check_globals (Ctl *ctl, const char *command)
{
  if ((ctl->system ? 1 : 0) + (ctl->session ? 1 : 0) + (ctl->address ? 1 : 0) > 1)
    {
      ctl_usage_error (command, "--system, --session and --address exclude each other");
      return FALSE;
    }
  if (ctl->timeout_text != NULL)
    {
      char *end = NULL;
      double t = g_ascii_strtod (ctl->timeout_text, &end);
      if (end == ctl->timeout_text || *end != '\0' || !isfinite (t) || t <= 0 ||
          t > MAX_TIMEOUT)
        {
          ctl_usage_error (command, "--timeout: '%s' is not a number of seconds above 0 "
                                    "and at most %.0f", ctl->timeout_text, MAX_TIMEOUT);
          return FALSE;
        }
      ctl->timeout = t;
    }
  return TRUE;
}

gboolean
ctl_parse (Ctl *ctl, const char *command, const char *params, const char *summary,
           const char *description, const GOptionEntry *entries, int *argc, char ***argv,
           int n_params)
{
  g_autofree char *prgname = g_strdup_printf (PROGRAM " %s", command);
  g_set_prgname (prgname);

  g_autoptr (GOptionContext) ctx = g_option_context_new (params);
  g_option_context_set_summary (ctx, summary);
  g_autofree char *full_description = g_strconcat (
      description ? description : "", description ? "\n\n" : "",
      "The global options (--json, --timeout, --verbose, --address, ...; see --help-global) "
      "may also be given after the command.",
      NULL);
  g_option_context_set_description (ctx, full_description);
  if (entries != NULL)
    g_option_context_add_main_entries (ctx, entries, NULL);

  GOptionEntry globals[9];
  global_entries (ctl, NULL, globals);
  GOptionGroup *group = g_option_group_new ("global", "Global options:",
                                            "Show the global options", NULL, NULL);
  g_option_group_add_entries (group, globals);
  g_option_context_add_group (ctx, group);

  g_autoptr (GError) error = NULL;
  if (!g_option_context_parse (ctx, argc, argv, &error))
    {
      ctl_usage_error (command, "%s", error->message);
      return FALSE;
    }
  take_strings (ctl);
  /* (*argv)[0] is the command itself. */
  if (*argc - 1 > n_params)
    {
      ctl_usage_error (command, "unexpected argument '%s'", (*argv)[1 + n_params]);
      return FALSE;
    }
  if (*argc - 1 < n_params)
    {
      ctl_usage_error (command, "missing %s", params);
      return FALSE;
    }
  return check_globals (ctl, command);
}

sd_bus *
ctl_bus (Ctl *ctl)
{
  if (ctl->bus != NULL)
    return ctl->bus;

  g_autoptr (sd_bus) bus = NULL;
  const char *which = ctl->address ? ctl->address : ctl->session ? "the session bus"
                                                                 : "the system bus";
  int r;
  if (ctl->address != NULL)
    {
      r = sd_bus_new (&bus);
      if (r >= 0)
        r = sd_bus_set_address (bus, ctl->address);
      if (r >= 0)
        r = sd_bus_set_bus_client (bus, 1);
      if (r >= 0)
        r = sd_bus_start (bus);
    }
  else
    r = ctl->session ? sd_bus_open_user (&bus) : sd_bus_open_system (&bus);
  if (r < 0)
    {
      ctl_message ("cannot connect to %s: %s", which, g_strerror (-r));
      return NULL;
    }
  ctl->bus = g_steal_pointer (&bus);
  return ctl->bus;
}

sd_bus_message *
ctl_new_call (Ctl *ctl, const char *method)
{
  sd_bus *bus = ctl_bus (ctl);
  if (bus == NULL)
    return NULL;
  sd_bus_message *m = NULL;
  int r = sd_bus_message_new_method_call (bus, &m, CTL_BUS_NAME, CTL_PATH, CTL_IFACE, method);
  if (r < 0)
    {
      ctl_message ("cannot make a %s call: %s", method, g_strerror (-r));
      return NULL;
    }
  return m;
}

sd_bus_message *
ctl_call (Ctl *ctl, sd_bus_message *call)
{
  sd_bus_error error = SD_BUS_ERROR_NULL;
  sd_bus_message *reply = NULL;
  uint64_t usec = (uint64_t) (ctl->timeout * G_USEC_PER_SEC);
  int r = sd_bus_call (ctl->bus, call, MAX (usec, 1), &error, &reply);
  if (r < 0)
    {
      ctl_report_error (ctl, &error, r);
      sd_bus_error_free (&error);
      return NULL;
    }
  return reply;
}

sd_bus_message *
ctl_call_device (Ctl *ctl, const char *method, const char *device_id)
{
  g_autoptr (sd_bus_message) call = ctl_new_call (ctl, method);
  if (call == NULL)
    return NULL;
  int r = sd_bus_message_append_basic (call, 's', device_id);
  if (r < 0)
    {
      ctl_message ("cannot make a %s call: %s", method, g_strerror (-r));
      return NULL;
    }
  return ctl_call (ctl, call);
}

static gboolean
name_is (const char *name, const char *want)
{
  return name != NULL && strcmp (name, want) == 0;
}

void
ctl_report_error (Ctl *ctl, const sd_bus_error *error, int r)
{
  const char *name = sd_bus_error_is_set (error) ? error->name : NULL;
  const char *message = error->message ? error->message : g_strerror (-r);
  g_autofree char *friendly = NULL;

  if (name_is (name, SD_BUS_ERROR_SERVICE_UNKNOWN) ||
      name_is (name, SD_BUS_ERROR_NAME_HAS_NO_OWNER))
    friendly = g_strdup ("enapter-provisiond is not running: nothing on this bus owns "
                         CTL_BUS_NAME);
  else if (r == -ETIMEDOUT || name_is (name, SD_BUS_ERROR_TIMEOUT) ||
           name_is (name, SD_BUS_ERROR_NO_REPLY))
    {
      char seconds[G_ASCII_DTOSTR_BUF_SIZE];
      g_ascii_formatd (seconds, sizeof seconds, "%g", ctl->timeout);
      friendly = g_strdup_printf ("no answer from enapter-provisiond within %s s (see "
                                  "--timeout); a provisioning call may still complete: see "
                                  "'" PROGRAM " list'", seconds);
    }
  else if (name_is (name, SD_BUS_ERROR_ACCESS_DENIED))
    friendly = g_strdup_printf ("permission denied: %s", message);

  if (ctl->verbose && name != NULL)
    ctl_message ("%s: %s", name, friendly ? friendly : message);
  else
    ctl_message ("%s", friendly ? friendly : message);
}

int
ctl_bad_reply (const char *method, int r)
{
  ctl_message ("%s: the daemon's reply is not what the API documents: %s", method,
               g_strerror (-r));
  return CTL_EXIT_FAILURE;
}

/* ---- dispatch ---------------------------------------------------------- */

static const CtlCommand *
find_command (const char *name)
{
  const CtlCommand *c;
  for (gsize i = 0; (c = ctl_kind_command (i)) != NULL; i++)
    if (strcmp (c->name, name) == 0)
      return c;
  for (c = ctl_device_commands; c->name != NULL; c++)
    if (strcmp (c->name, name) == 0)
      return c;
  return NULL;
}

static void
append_command (GString *out, const CtlCommand *c)
{
  g_autofree char *left = g_strconcat (c->name, c->params ? " " : "",
                                       c->params ? c->params : "", NULL);
  g_string_append_printf (out, "  %-22s %s\n", left, c->summary);
}

static char *
commands_help (void)
{
  GString *out = g_string_new ("Provisioning commands (every option is required):\n");
  const CtlCommand *c;
  for (gsize i = 0; (c = ctl_kind_command (i)) != NULL; i++)
    append_command (out, c);
  g_string_append (out, "\nKeystore commands:\n");
  for (c = ctl_device_commands; c->name != NULL; c++)
    append_command (out, c);
  g_string_append (out, "\nRun '" PROGRAM " COMMAND --help' for the options of a command.\n"
                        "Exit status: 0 on success, 1 when the call failed, 2 on a usage "
                        "error.");
  return g_string_free (out, FALSE);
}

static void
ctl_clear (Ctl *ctl)
{
  if (ctl->bus != NULL)
    sd_bus_flush_close_unref (ctl->bus);
  g_free (ctl->address);
  g_free (ctl->timeout_text);
  g_free (ctl->address_arg);
  g_free (ctl->timeout_arg);
}

static int
run (Ctl *ctl, int argc, char **argv)
{
  gboolean version = FALSE;
  GOptionEntry entries[9];
  global_entries (ctl, &version, entries);

  g_autoptr (GOptionContext) ctx = g_option_context_new ("COMMAND [OPTION…]");
  g_option_context_set_summary (ctx, "Provisions devices on the Enapter platform through "
                                     "enapter-provisiond and manages the devices it keeps.");
  g_autofree char *description = commands_help ();
  g_option_context_set_description (ctx, description);
  g_option_context_add_main_entries (ctx, entries, NULL);
  /* Stop at the command: what follows belongs to it. */
  g_option_context_set_strict_posix (ctx, TRUE);

  g_autoptr (GError) error = NULL;
  if (!g_option_context_parse (ctx, &argc, &argv, &error))
    return ctl_usage_error (NULL, "%s", error->message);
  take_strings (ctl);
  if (version)
    {
      printf (PROGRAM " %s\n", EP_VERSION);
      return CTL_EXIT_OK;
    }
  if (argc < 2)
    return ctl_usage_error (NULL, "missing command");

  const char *name = argv[1];
  if (strcmp (name, "help") == 0)
    {
      if (argc == 2)
        {
          g_autofree char *help = g_option_context_get_help (ctx, TRUE, NULL);
          fputs (help, stdout);
          return CTL_EXIT_OK;
        }
      /* "help COMMAND" is "COMMAND --help". */
      name = argv[2];
      argv[2] = (char *) "--help";
      argc = 3;
    }
  const CtlCommand *command = find_command (name);
  if (command == NULL)
    return ctl_usage_error (NULL, "unknown command '%s'", name);
  argv[1] = (char *) command->name;
  return command->run (ctl, argc - 1, argv + 1);
}

int
main (int argc, char **argv)
{
  setlocale (LC_ALL, "");
  Ctl ctl = { .timeout = DEFAULT_TIMEOUT };
  int status = run (&ctl, argc, argv);
  if (fflush (stdout) != 0 && status == CTL_EXIT_OK)
    {
      ctl_message ("cannot write the output: %s", g_strerror (errno));
      status = CTL_EXIT_FAILURE;
    }
  ctl_clear (&ctl);
  return status;
}
