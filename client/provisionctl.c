/* enapter-provisionctl: the command-line client of com.enapter.Provisioning1.
 * This file holds the global options, their parsing before and after the
 * command, and dispatch; call.c makes the connection and reports failures,
 * the commands live in commands.c, list.c, status.c, check.c, export.c and
 * monitor.c. */
#include "ctl.h"
#include "ep-build-config.h"

#include <errno.h>
#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#define DEFAULT_TIMEOUT 30.0
#define MIN_TIMEOUT 0.001
#define MAX_TIMEOUT 86400.0
#define N_GLOBALS 11

/* The options that take no value: every other one takes one, in the same
 * word after '=' or in the next word. */
static const char *const flags[] = {
  "--system", "--session", "--json", "--no-legend", "--no-pager", "--verbose", "--version",
  "--ids", "-h", "--help", "--help-all", "--help-global", NULL,
};

/* @argv with "--json" alone as "--json=short", as getopt reads an optional
 * argument: GOption's optional arguments take the next word, so that
 * "--json list" would read "list" as the mode. A "--json" that is the value
 * of an option, or follows "--", stays. Free the array, not its strings. */
static char **
json_defaults (int argc, char **argv)
{
  char **out = g_new0 (char *, argc + 1);
  gboolean value_next = FALSE, positional = FALSE;
  for (int i = 0; i < argc; i++)
    {
      const char *arg = argv[i];
      gboolean option = !value_next && !positional && i > 0;
      out[i] = option && strcmp (arg, "--json") == 0 ? (char *) "--json=short" : argv[i];
      if (!option)
        {
          value_next = FALSE;
          continue;
        }
      if (strcmp (arg, "--") == 0)
        positional = TRUE;
      else if (arg[0] == '-' && arg[1] != '\0' && !g_strv_contains (flags, arg))
        /* "--name=N" and "-Hhost" carry their values. */
        value_next = strchr (arg, '=') == NULL && (arg[1] == '-' || arg[2] == '\0');
    }
  return out;
}

static gboolean
parse_json (const char *name, const char *value, gpointer data, GError **error)
{
  Ctl *ctl = data;
  if (strcmp (value, "short") == 0)
    ctl->json = CTL_JSON_SHORT;
  else if (strcmp (value, "pretty") == 0)
    ctl->json = CTL_JSON_PRETTY;
  else if (strcmp (value, "off") == 0)
    ctl->json = CTL_JSON_OFF;
  else
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "--json must be short, pretty or off, not '%s'", value);
      return FALSE;
    }
  return TRUE;
}

/* --version after the command: the program's version belongs before it,
 * and the gateway's software version is --gateway-version. */
static gboolean
refuse_version (const char *name, const char *value, gpointer data, GError **error)
{
  Ctl *ctl = data;
  if (ctl->command != NULL && strcmp (ctl->command, "gateway") == 0)
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_UNKNOWN_OPTION,
                 "--version is not an option of gateway: the gateway software's version is "
                 "--gateway-version VERSION");
  else
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_UNKNOWN_OPTION,
                 "--version goes before the command: '" CTL_PROGRAM " --version'");
  return FALSE;
}

/* The global options; @version is NULL after the command, where --version
 * is refused (see refuse_version). Ends with a NULL entry. */
static void
global_entries (Ctl *ctl, gboolean *version, GOptionEntry out[N_GLOBALS])
{
  const GOptionEntry entries[N_GLOBALS] = {
    { "system", 0, 0, G_OPTION_ARG_NONE, &ctl->system,
      "Talk to the daemon on the system bus (the default)", NULL },
    { "session", 0, 0, G_OPTION_ARG_NONE, &ctl->session,
      "Talk to the daemon on the session bus (development)", NULL },
    { "address", 0, 0, G_OPTION_ARG_STRING, &ctl->address_arg,
      "Talk to the daemon on the bus at ADDRESS (a D-Bus address)", "ADDRESS" },
    { "host", 'H', 0, G_OPTION_ARG_STRING, &ctl->host_arg,
      "Talk to the daemon on HOST's system bus, over ssh", "[USER@]HOST" },
    { "json", 0, 0, G_OPTION_ARG_CALLBACK, parse_json,
      "Print JSON: short (one line; --json alone), pretty (indented) or off",
      "MODE" },
    { "no-legend", 0, 0, G_OPTION_ARG_NONE, &ctl->no_legend,
      "Print tables without their headers and footers", NULL },
    { "no-pager", 0, 0, G_OPTION_ARG_NONE, &ctl->no_pager,
      "Do not page the output (it never is; for systemd's habits)", NULL },
    { "timeout", 0, 0, G_OPTION_ARG_STRING, &ctl->timeout_arg,
      "Wait at most SPAN to connect and for each answer: seconds, or with units "
      "(500ms, 2min; default 30 s, check: 90 s)", "SPAN" },
    { "verbose", 0, 0, G_OPTION_ARG_NONE, &ctl->verbose,
      "Name the D-Bus error along with its message", NULL },
    { "version", 0, 0, G_OPTION_ARG_NONE, version, "Print the version and exit", NULL },
    G_OPTION_ENTRY_NULL,
  };
  memcpy (out, entries, sizeof entries);
  if (version == NULL)
    out[N_GLOBALS - 2] = (GOptionEntry) {
      "version", 0, G_OPTION_FLAG_HIDDEN | G_OPTION_FLAG_NO_ARG,
      G_OPTION_ARG_CALLBACK, refuse_version, NULL, NULL };
}

/* The global options as a group whose callbacks see @ctl. */
static GOptionGroup *
global_group (Ctl *ctl, const char *name, gboolean *version)
{
  GOptionEntry entries[N_GLOBALS];
  global_entries (ctl, version, entries);
  GOptionGroup *group = g_option_group_new (name, "Global options:", "Show the global options",
                                            ctl, NULL);
  g_option_group_add_entries (group, entries);
  return group;
}

/* Takes the string options of the parse just done; the last one wins. */
static void
take_strings (Ctl *ctl)
{
  char **pairs[][2] = {
    { &ctl->address, &ctl->address_arg },
    { &ctl->host, &ctl->host_arg },
    { &ctl->timeout_text, &ctl->timeout_arg },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (pairs); i++)
    if (*pairs[i][1] != NULL)
      {
        g_free (*pairs[i][0]);
        *pairs[i][0] = g_steal_pointer (pairs[i][1]);
      }
}

/* A time span in the part of systemd's syntax (busctl --timeout) that a
 * timeout needs: numbers with units, "500ms", "1.5s", "2min", "1min 30s";
 * a number without a unit is seconds. Decimal digits only: no sign,
 * exponent, hex, "inf" or "nan". */
static gboolean
parse_timespan (const char *text, double *seconds)
{
  static const struct { const char *unit; double seconds; } units[] = {
    { "us", 1e-6 }, { "usec", 1e-6 }, { "ms", 1e-3 }, { "msec", 1e-3 },
    { "s", 1 }, { "sec", 1 }, { "second", 1 }, { "seconds", 1 },
    { "m", 60 }, { "min", 60 }, { "minute", 60 }, { "minutes", 60 },
    { "h", 3600 }, { "hr", 3600 }, { "hour", 3600 }, { "hours", 3600 },
    { "d", 86400 }, { "day", 86400 }, { "days", 86400 },
  };
  double total = 0;
  gboolean any = FALSE;
  for (const char *p = text;;)
    {
      while (*p == ' ')
        p++;
      if (*p == '\0')
        break;
      double value = 0, scale = 1;
      gboolean digits = FALSE, dot = FALSE;
      for (; g_ascii_isdigit (*p) || (*p == '.' && !dot); p++)
        {
          if (*p == '.')
            dot = TRUE;
          else if (dot)
            value += (*p - '0') * (scale /= 10);
          else
            value = value * 10 + (*p - '0');
          digits |= *p != '.';
        }
      while (*p == ' ')
        p++;
      gsize len = 0;
      while (g_ascii_isalpha (p[len]))
        len++;
      double factor = len == 0 ? 1 : 0;
      for (gsize i = 0; i < G_N_ELEMENTS (units) && factor == 0; i++)
        if (strlen (units[i].unit) == len && strncmp (p, units[i].unit, len) == 0)
          factor = units[i].seconds;
      if (!digits || factor == 0)
        return FALSE;
      p += len;
      /* "1.5.3" is no span: only a unit may be followed by the next number. */
      if (len == 0 && *p != ' ' && *p != '\0')
        return FALSE;
      total += value * factor;
      any = TRUE;
    }
  if (!any || !isfinite (total))
    return FALSE;
  *seconds = total;
  return TRUE;
}

/* Checks the global options once they are all parsed. */
static gboolean
check_globals (Ctl *ctl, const char *command)
{
  if ((ctl->system ? 1 : 0) + (ctl->session ? 1 : 0) + (ctl->address ? 1 : 0) +
          (ctl->host ? 1 : 0) > 1)
    {
      ctl_usage_error (ctl, command, "--system, --session, --address and --host exclude each "
                                     "other: give one");
      return FALSE;
    }
  if (ctl->host != NULL && (ctl->host[0] == '\0' || ctl->host[0] == '-'))
    {
      ctl_usage_error (ctl, command, "--host: '%s' is not a host name: give [USER@]HOST",
                       ctl->host);
      return FALSE;
    }
  if (ctl->timeout_text != NULL)
    {
      double t = 0;
      /* Not below 1 ms: no bus connects or answers sooner. */
      if (!parse_timespan (ctl->timeout_text, &t) || t < MIN_TIMEOUT || t > MAX_TIMEOUT)
        {
          ctl_usage_error (ctl, command, "--timeout: '%s' is not a time span from 1 ms to a "
                                         "day: give seconds (30, 1.5) or a span with units "
                                         "(500ms, 2min, '1min 30s')", ctl->timeout_text);
          return FALSE;
        }
      ctl->timeout = t;
      ctl->timeout_given = TRUE;
    }
  return TRUE;
}

/* GOption leaves the "--" that ends the options in @argv when arguments
 * follow it ("show -- -dash"): it is no argument. */
static void
drop_separator (int *argc, char **argv)
{
  for (int i = 1; i < *argc; i++)
    if (strcmp (argv[i], "--") == 0)
      {
        memmove (&argv[i], &argv[i + 1], (*argc - i) * sizeof *argv);
        (*argc)--;
        return;
      }
}

gboolean
ctl_parse (Ctl *ctl, const char *command, const char *params, const char *summary,
           const char *description, const GOptionEntry *entries, int *argc, char ***argv,
           int n_params)
{
  g_autofree char *prgname = g_strdup_printf (CTL_PROGRAM " %s", command);
  g_set_prgname (prgname);
  ctl->command = command;

  g_autoptr (GOptionContext) ctx = g_option_context_new (params);
  g_option_context_set_summary (ctx, summary);
  g_autofree char *full_description = g_strconcat (
      description ? description : "", description ? "\n\n" : "",
      "The global options (--json, --timeout, --verbose, --host, ...; see --help-global) "
      "may also be given after the command.",
      NULL);
  g_option_context_set_description (ctx, full_description);
  if (entries != NULL)
    g_option_context_add_main_entries (ctx, entries, NULL);
  g_option_context_add_group (ctx, global_group (ctl, "global", NULL));

  g_autoptr (GError) error = NULL;
  if (!g_option_context_parse (ctx, argc, argv, &error))
    {
      /* --json may not be known yet: stderr only. */
      ctl_usage_error (NULL, command, "%s", error->message);
      return FALSE;
    }
  take_strings (ctl);
  ctl->parsed = TRUE;
  drop_separator (argc, *argv);
  /* (*argv)[0] is the command itself. */
  if (*argc - 1 > n_params)
    {
      ctl_usage_error (ctl, command, "unexpected argument '%s'", (*argv)[1 + n_params]);
      return FALSE;
    }
  if (*argc - 1 < n_params)
    {
      ctl_usage_error (ctl, command, "missing %s", params);
      return FALSE;
    }
  return check_globals (ctl, command);
}

/* ---- dispatch ---------------------------------------------------------- */

static const CtlCommand service_commands[] = {
  { "status", NULL, "Show the daemon's state (the default command)", ctl_status_command },
  { "check", NULL, "Diagnose the daemon's configuration, keystore and APIs", ctl_check },
  { "monitor", NULL, "Print the daemon's signals as they arrive", ctl_monitor },
  { 0 },
};

static const CtlCommand *
find_in (const CtlCommand *table, const char *name)
{
  for (const CtlCommand *c = table; c->name != NULL; c++)
    if (strcmp (c->name, name) == 0)
      return c;
  return NULL;
}

static const CtlCommand *
find_command (const char *name)
{
  const CtlCommand *c;
  for (gsize i = 0; (c = ctl_kind_command (i)) != NULL; i++)
    if (strcmp (c->name, name) == 0)
      return c;
  c = find_in (ctl_device_commands, name);
  return c ? c : find_in (service_commands, name);
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
  GString *out = g_string_new ("Service commands:\n");
  const CtlCommand *c;
  for (c = service_commands; c->name != NULL; c++)
    append_command (out, c);
  g_string_append (out, "\nProvisioning commands (every option is required):\n");
  for (gsize i = 0; (c = ctl_kind_command (i)) != NULL; i++)
    append_command (out, c);
  g_string_append (out, "\nKeystore commands:\n");
  for (c = ctl_device_commands; c->name != NULL; c++)
    append_command (out, c);
  g_string_append (out, "\nWithout a command: status. Run '" CTL_PROGRAM " COMMAND --help' "
                        "for the options of a command.\n"
                        "Exit status: 0 on success, 1 when the daemon answered an error, 2 on "
                        "a usage error, 3 when the daemon cannot be reached.");
  return g_string_free (out, FALSE);
}

static void
ctl_clear (Ctl *ctl)
{
  if (ctl->bus != NULL)
    sd_bus_flush_close_unref (ctl->bus);
  g_free (ctl->address);
  g_free (ctl->host);
  g_free (ctl->timeout_text);
  g_free (ctl->address_arg);
  g_free (ctl->host_arg);
  g_free (ctl->timeout_arg);
}

static int
run (Ctl *ctl, int argc, char **argv)
{
  gboolean version = FALSE;
  g_autoptr (GOptionContext) ctx = g_option_context_new ("[COMMAND [OPTION…]]");
  g_option_context_set_summary (ctx, "Provisions devices on the Enapter platform through "
                                     "enapter-provisiond, manages the devices it keeps and "
                                     "shows its state.");
  g_autofree char *description = commands_help ();
  g_option_context_set_description (ctx, description);
  g_option_context_set_main_group (ctx, global_group (ctl, NULL, &version));
  /* Stop at the command: what follows belongs to it. */
  g_option_context_set_strict_posix (ctx, TRUE);

  g_autoptr (GError) error = NULL;
  if (!g_option_context_parse (ctx, &argc, &argv, &error))
    return ctl_usage_error (NULL, NULL, "%s", error->message);
  take_strings (ctl);
  if (version)
    {
      printf (CTL_PROGRAM " %s\n", EP_VERSION);
      return CTL_EXIT_OK;
    }

  /* No command: status, as hostnamectl shows its status. */
  char *status_argv[] = { (char *) "status", NULL };
  if (argc < 2)
    return ctl_status_command (ctl, 1, status_argv);

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
  /* The options before the command are all there is: --json is known. */
  ctl->parsed = command == NULL;
  static const char *const modes[] = { "short", "pretty", "off", NULL };
  if (command == NULL && g_strv_contains (modes, name))
    return ctl_usage_error (ctl, NULL, "unknown command '%s': a --json mode is written "
                                       "--json=%s", name, name);
  if (command == NULL)
    return ctl_usage_error (ctl, NULL, "unknown command '%s'", name);
  argv[1] = (char *) command->name;
  return command->run (ctl, argc - 1, argv + 1);
}

int
main (int argc, char **argv)
{
  setlocale (LC_ALL, "");
  Ctl ctl = { .timeout = DEFAULT_TIMEOUT };
  g_autofree char **args = json_defaults (argc, argv);
  int status = run (&ctl, argc, args);
  if (fflush (stdout) != 0 && status == CTL_EXIT_OK)
    {
      ctl_message ("cannot write the output: %s", g_strerror (errno));
      status = CTL_EXIT_FAILURE;
    }
  ctl_clear (&ctl);
  return status;
}
