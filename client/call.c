/* enapter-provisionctl: the connection to the bus (--system, --session,
 * --address, --host), method calls, and failures: each one reported once,
 * as a message that says what to do on stderr and, with --json, as a JSON
 * object on stdout, with the exit status it means (ctl.h). */
#include "ctl.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define ERROR_INVALID_ARGS SD_BUS_ERROR_INVALID_ARGS
#define HINT_DAEMON "see 'systemctl status enapter-provisiond' and 'journalctl -u " \
                    "enapter-provisiond'"

void
ctl_message (const char *format, ...)
{
  va_list ap;
  va_start (ap, format);
  g_autofree char *text = g_strdup_vprintf (format, ap);
  va_end (ap);
  /* Messages carry the daemon's text (its errors, ids, names). */
  g_autofree char *shown = ctl_printable (text);
  fprintf (stderr, CTL_PROGRAM ": %s\n", shown);
}

/* {"error": NAME, "message": TEXT} on stdout, once --json is known to be on. */
static void
print_json_error (Ctl *ctl, const char *name, const char *text)
{
  if (ctl == NULL || !ctl->parsed || !ctl->json)
    return;
  g_autoptr (JsonObject) object = json_object_new ();
  json_object_set_string_member (object, "error", name ? name : SD_BUS_ERROR_FAILED);
  json_object_set_string_member (object, "message", text);
  ctl_print_json_object (ctl, object);
}

int
ctl_fail (Ctl *ctl, int status, const char *error_name, const char *format, ...)
{
  va_list ap;
  va_start (ap, format);
  g_autofree char *text = g_strdup_vprintf (format, ap);
  va_end (ap);
  ctl_message ("%s", text);
  print_json_error (ctl, error_name, text);
  return status;
}

int
ctl_usage_error (Ctl *ctl, const char *command, const char *format, ...)
{
  va_list ap;
  va_start (ap, format);
  g_autofree char *text = g_strdup_vprintf (format, ap);
  va_end (ap);
  fprintf (stderr, CTL_PROGRAM ": %s\nTry '" CTL_PROGRAM "%s%s --help'.\n", text,
           command ? " " : "", command ? command : "");
  print_json_error (ctl, ERROR_INVALID_ARGS, text);
  return CTL_EXIT_USAGE;
}

int
ctl_status (Ctl *ctl)
{
  return ctl->failure ? ctl->failure : CTL_EXIT_FAILURE;
}

/* What the options connect to, for messages. */
static char *
bus_text (Ctl *ctl)
{
  if (ctl->address != NULL)
    return g_strdup (ctl->address);
  if (ctl->host != NULL)
    return g_strdup_printf ("the system bus of %s over ssh", ctl->host);
  return g_strdup (ctl->session ? "the session bus" : "the system bus");
}

/* What to do when the bus cannot be reached. */
static char *
bus_hint (Ctl *ctl)
{
  if (ctl->address != NULL)
    return g_strdup ("check the address given to --address: is a bus listening there?");
  if (ctl->host != NULL)
    return g_strdup_printf ("check that 'ssh %s systemd-stdio-bridge' logs in and runs there",
                            ctl->host);
  if (ctl->session)
    return g_strdup ("is a session bus running (DBUS_SESSION_BUS_ADDRESS)?");
  return g_strdup ("is D-Bus running? See 'systemctl status dbus'");
}

/* --timeout as text, for messages: "1.5". */
static void
timeout_text (Ctl *ctl, char out[G_ASCII_DTOSTR_BUF_SIZE])
{
  g_ascii_formatd (out, G_ASCII_DTOSTR_BUF_SIZE, "%g", ctl->timeout);
}

/* Waits, up to --timeout, until @bus has connected (authenticated and, on
 * a bus, said Hello): sd-bus would otherwise finish that inside the first
 * call, without any limit, against a socket that never speaks or an ssh
 * that never logs in. Returns 0, -ETIMEDOUT or the error that ended it. */
static int
wait_ready (Ctl *ctl, sd_bus *bus)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) (ctl->timeout * G_USEC_PER_SEC);
  for (;;)
    {
      int r = sd_bus_is_ready (bus);
      if (r != 0)
        return MIN (r, 0);
      r = sd_bus_process (bus, NULL);
      if (r < 0)
        return r;
      if (r > 0)
        continue;
      gint64 left = deadline - g_get_monotonic_time ();
      if (left <= 0)
        return -ETIMEDOUT;
      r = sd_bus_wait (bus, (uint64_t) left);
      if (r < 0)
        return r;
    }
}

/* A connection of the options' choice, started; NULL and -errno in @r. */
static sd_bus *
open_bus (Ctl *ctl, int *r)
{
  sd_bus *bus = NULL;
  if (ctl->address != NULL)
    {
      *r = sd_bus_new (&bus);
      if (*r >= 0)
        *r = sd_bus_set_address (bus, ctl->address);
      if (*r >= 0)
        *r = sd_bus_set_bus_client (bus, 1);
      if (*r >= 0)
        *r = sd_bus_start (bus);
    }
  else if (ctl->host != NULL)
    *r = sd_bus_open_system_remote (&bus, ctl->host);
  else
    *r = ctl->session ? sd_bus_open_user (&bus) : sd_bus_open_system (&bus);
  if (*r >= 0)
    *r = wait_ready (ctl, bus);
  if (*r < 0)
    {
      /* Not flushed: that would wait for the connection without a limit. */
      sd_bus_close_unref (bus);
      return NULL;
    }
  return bus;
}

sd_bus *
ctl_bus (Ctl *ctl)
{
  if (ctl->bus != NULL)
    return ctl->bus;

  int r = 0;
  ctl->bus = open_bus (ctl, &r);
  if (ctl->bus != NULL)
    return ctl->bus;
  g_autofree char *which = bus_text (ctl);
  g_autofree char *hint = bus_hint (ctl);
  if (r == -ETIMEDOUT)
    {
      char seconds[G_ASCII_DTOSTR_BUF_SIZE];
      timeout_text (ctl, seconds);
      ctl->failure = ctl_fail (ctl, CTL_EXIT_UNREACHABLE, SD_BUS_ERROR_TIMEOUT,
                               "cannot connect to %s: no answer within %s s (see --timeout); "
                               "%s", which, seconds, hint);
    }
  else
    ctl->failure = ctl_fail (ctl, CTL_EXIT_UNREACHABLE, SD_BUS_ERROR_NO_SERVER,
                             "cannot connect to %s: %s; %s", which, g_strerror (-r), hint);
  return NULL;
}

int
ctl_disconnected (Ctl *ctl)
{
  g_autofree char *which = bus_text (ctl);
  g_autofree char *hint = bus_hint (ctl);
  return ctl_fail (ctl, CTL_EXIT_UNREACHABLE, SD_BUS_ERROR_DISCONNECTED,
                   "the connection to %s was closed; %s", which, hint);
}

sd_bus_message *
ctl_new_method_call (Ctl *ctl, const char *iface, const char *method)
{
  sd_bus *bus = ctl_bus (ctl);
  if (bus == NULL)
    return NULL;
  sd_bus_message *m = NULL;
  int r = sd_bus_message_new_method_call (bus, &m, CTL_BUS_NAME, CTL_PATH,
                                          iface ? iface : CTL_IFACE, method);
  if (r < 0)
    {
      ctl->failure = ctl_fail (ctl, CTL_EXIT_FAILURE, NULL, "cannot make a %s call: %s",
                               method, g_strerror (-r));
      return NULL;
    }
  return m;
}

sd_bus_message *
ctl_new_call (Ctl *ctl, const char *method)
{
  return ctl_new_method_call (ctl, NULL, method);
}

static gboolean
name_is (const char *name, const char *want)
{
  return name != NULL && strcmp (name, want) == 0;
}

/* Whether a failed call means the daemon cannot be reached (exit status 3)
 * rather than an answer of the daemon's (1). */
static gboolean
unreachable (const char *name, int r)
{
  static const char *const names[] = {
    SD_BUS_ERROR_SERVICE_UNKNOWN, SD_BUS_ERROR_NAME_HAS_NO_OWNER, SD_BUS_ERROR_NO_REPLY,
    SD_BUS_ERROR_TIMEOUT, "org.freedesktop.DBus.Error.TimedOut", SD_BUS_ERROR_DISCONNECTED,
    SD_BUS_ERROR_NO_SERVER, NULL,
  };
  if (name != NULL && (g_strv_contains (names, name) ||
                       g_str_has_prefix (name, "org.freedesktop.DBus.Error.Spawn.")))
    return TRUE;
  if (name != NULL && g_str_has_prefix (name, CTL_ERROR_PREFIX))
    return FALSE;
  return r == -ETIMEDOUT || r == -ECONNRESET || r == -ENOTCONN || r == -ECONNREFUSED ||
         r == -EPIPE || r == -ESHUTDOWN;
}

/* The message for a failure people meet often, saying what to do; NULL to
 * print the error's own message. @early: the call failed before --timeout
 * ran out. */
static char *
friendly_text (Ctl *ctl, const char *method, const char *name, const char *message, int r,
               gboolean early)
{
  g_autofree char *which = bus_text (ctl);
  if (name_is (name, SD_BUS_ERROR_SERVICE_UNKNOWN) ||
      name_is (name, SD_BUS_ERROR_NAME_HAS_NO_OWNER))
    return g_strdup_printf ("enapter-provisiond is not running: nothing on %s owns "
                            CTL_BUS_NAME "; start it ('systemctl start enapter-provisiond') "
                            "and, if it stopped, " HINT_DAEMON, which);
  if (name != NULL && g_str_has_prefix (name, "org.freedesktop.DBus.Error.Spawn."))
    return g_strdup_printf ("the bus could not start enapter-provisiond (%s); " HINT_DAEMON,
                            message);
  /* The bus answers NoReply for the daemon when it leaves without
   * answering: a crash or a stop, not a slow daemon. */
  if (name_is (name, SD_BUS_ERROR_NO_REPLY) && early)
    return g_strdup_printf ("enapter-provisiond stopped during the %s call without answering "
                            "(it crashed, or was stopped or restarted): see 'journalctl -u "
                            "enapter-provisiond' for why; a provisioning call may or may not "
                            "have completed: see '" CTL_PROGRAM " list'", method);
  if (r == -ETIMEDOUT || name_is (name, SD_BUS_ERROR_TIMEOUT) ||
      name_is (name, "org.freedesktop.DBus.Error.TimedOut") ||
      name_is (name, SD_BUS_ERROR_NO_REPLY))
    {
      char seconds[G_ASCII_DTOSTR_BUF_SIZE];
      timeout_text (ctl, seconds);
      return g_strdup_printf ("no answer from enapter-provisiond within %s s (see --timeout); "
                              "a provisioning call may still complete: see '" CTL_PROGRAM
                              " list'; if it keeps happening, " HINT_DAEMON, seconds);
    }
  if (unreachable (name, r))
    {
      g_autofree char *hint = bus_hint (ctl);
      return g_strdup_printf ("no connection to %s (%s); %s", which, message, hint);
    }
  if (name_is (name, SD_BUS_ERROR_ACCESS_DENIED))
    return g_strdup_printf ("permission denied: %s; run it as root or as a member of the "
                            "group the daemon's [Access] Group= names", message);
  if (name_is (name, SD_BUS_ERROR_UNKNOWN_METHOD) ||
      name_is (name, SD_BUS_ERROR_UNKNOWN_PROPERTY) ||
      name_is (name, SD_BUS_ERROR_UNKNOWN_INTERFACE))
    return g_strdup_printf ("the daemon does not offer %s (%s): it is older than this "
                            "client; update enapter-provisiond", method, message);
  return NULL;
}

/* Reports a failed call (the daemon's error, the bus's, or a local one for
 * -@r) and records the exit status it means. */
static void
report_error (Ctl *ctl, const char *method, const sd_bus_error *error, int r,
              gboolean early)
{
  const char *name = sd_bus_error_is_set (error) ? error->name : NULL;
  const char *message = error->message ? error->message : g_strerror (-r);
  g_autofree char *friendly = friendly_text (ctl, method, name, message, r, early);
  const char *text = friendly ? friendly : message;
  int status = unreachable (name, r) ? CTL_EXIT_UNREACHABLE : CTL_EXIT_FAILURE;
  /* sd-bus names a local errno "System.Error.E...": for programs, the
   * connection failures are one name. */
  if (status == CTL_EXIT_UNREACHABLE && name != NULL && g_str_has_prefix (name, "System.Error."))
    name = SD_BUS_ERROR_NO_SERVER;

  if (ctl->verbose && name != NULL)
    ctl_message ("%s: %s", name, text);
  else
    ctl_message ("%s", text);
  print_json_error (ctl, name, text);
  ctl->failure = status;
}

void
ctl_report_error (Ctl *ctl, const char *method, const sd_bus_error *error, int r)
{
  /* Not the daemon's call: a NoReply is no sign of the daemon stopping. */
  report_error (ctl, method, error, r, FALSE);
}

sd_bus_message *
ctl_call_unless (Ctl *ctl, sd_bus_message *call, const char *quiet_error, gboolean *quiet)
{
  sd_bus_error error = SD_BUS_ERROR_NULL;
  sd_bus_message *reply = NULL;
  uint64_t usec = (uint64_t) (ctl->timeout * G_USEC_PER_SEC);
  gint64 start = g_get_monotonic_time ();
  int r = sd_bus_call (ctl->bus, call, MAX (usec, 1), &error, &reply);
  if (quiet != NULL)
    *quiet = r < 0 && quiet_error != NULL && sd_bus_error_has_name (&error, quiet_error);
  if (r < 0 && (quiet == NULL || !*quiet))
    {
      if (!sd_bus_error_is_set (&error))
        sd_bus_error_set_errno (&error, r);
      /* A tenth of a second short of --timeout is still "in time": the bus
       * and sd-bus time the call apart. */
      gboolean early = g_get_monotonic_time () - start < (gint64) usec - G_USEC_PER_SEC / 10;
      report_error (ctl, sd_bus_message_get_member (call), &error, r, early);
    }
  sd_bus_error_free (&error);
  return reply;
}

sd_bus_message *
ctl_call (Ctl *ctl, sd_bus_message *call)
{
  return ctl_call_unless (ctl, call, NULL, NULL);
}

sd_bus_message *
ctl_call_plain (Ctl *ctl, const char *method)
{
  g_autoptr (sd_bus_message) call = ctl_new_call (ctl, method);
  return call ? ctl_call (ctl, call) : NULL;
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
      ctl->failure = ctl_fail (ctl, CTL_EXIT_FAILURE, NULL, "cannot make a %s call: %s",
                               method, g_strerror (-r));
      return NULL;
    }
  return ctl_call (ctl, call);
}

int
ctl_bad_reply (Ctl *ctl, const char *method, int r)
{
  return ctl_fail (ctl, CTL_EXIT_FAILURE, SD_BUS_ERROR_INCONSISTENT_MESSAGE,
                   "%s: the daemon's reply is not what the API documents (%s); is "
                   "enapter-provisiond of the same version as this client?", method,
                   g_strerror (-r));
}
