/* enapter-provisionctl monitor: prints the daemon's signals as they arrive,
 * one line each, stamped with the time they arrived, until SIGINT or
 * SIGTERM. */
#include "ctl.h"
#include "src/wall-clock.h"

#include <errno.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <systemd/sd-event.h>
#include <unistd.h>

G_DEFINE_AUTOPTR_CLEANUP_FUNC (sd_event, sd_event_unref)

/* The error name without the API's prefix, unless --verbose asks for all. */
static const char *
error_text (Ctl *ctl, const char *name)
{
  if (!ctl->verbose && g_str_has_prefix (name, CTL_ERROR_PREFIX))
    return name + strlen (CTL_ERROR_PREFIX);
  return name;
}

static char *
member_text (JsonObject *object, const char *key)
{
  return ctl_value_text (json_object_get_member (object, key));
}

/* " (a, b)" for the notes, "" for none; frees @notes. */
static char *
notes_text (GPtrArray *notes)
{
  g_autoptr (GPtrArray) owned = notes;
  if (owned->len == 0)
    return g_strdup ("");
  g_ptr_array_add (owned, NULL);
  g_autofree char *joined = g_strjoinv (", ", (char **) owned->pdata);
  return g_strdup_printf (" (%s)", joined);
}

static GPtrArray *
notes_new (void)
{
  return g_ptr_array_new_with_free_func (g_free);
}

/* The line a person reads for @event. */
static char *
human_line (Ctl *ctl, const char *member, JsonObject *event)
{
  g_autofree char *id = member_text (event, "device_id");
  if (strcmp (member, "DeviceProvisioned") == 0)
    {
      g_autofree char *kind = member_text (event, "kind");
      JsonObject *details = json_object_get_object_member (event, "details");
      GPtrArray *notes = notes_new ();
      if (json_object_has_member (details, "name"))
        {
          g_autofree char *name = member_text (details, "name");
          g_ptr_array_add (notes, g_strdup_printf ("name \"%s\"", name));
        }
      if (json_object_get_boolean_member_with_default (details, "reprovisioned", FALSE))
        g_ptr_array_add (notes, g_strdup ("reprovisioned"));
      g_autofree char *text = notes_text (notes);
      return g_strdup_printf ("provisioned %s %s%s", kind, id, text);
    }
  if (strcmp (member, "ProvisioningFailed") == 0)
    {
      g_autofree char *kind = member_text (event, "kind");
      g_autofree char *name = member_text (event, "error_name");
      g_autofree char *message = member_text (event, "message");
      return g_strdup_printf ("failed %s: %s: %s", kind, error_text (ctl, name), message);
    }
  if (strcmp (member, "CredentialsChanged") == 0)
    {
      g_autofree char *reason = member_text (event, "reason");
      JsonObject *details = json_object_get_object_member (event, "details");
      GPtrArray *notes = notes_new ();
      if (json_object_has_member (details, "protocol"))
        g_ptr_array_add (notes, member_text (details, "protocol"));
      if (json_object_has_member (details, "certificate_not_after"))
        {
          g_autofree char *date = ctl_detail_text (
              "certificate_not_after", json_object_get_member (details, "certificate_not_after"));
          g_ptr_array_add (notes, g_strdup_printf ("not after %s", date));
        }
      g_autofree char *text = notes_text (notes);
      return g_strdup_printf ("credentials %s %s%s", reason, id, text);
    }
  if (strcmp (member, "CredentialsExpiring") == 0)
    {
      /* The daemon sends it when the certificate passes [Renewal] At and
       * again once it has expired: this machine's clock tells which. */
      JsonNode *not_after = json_object_get_member (event, "not_after");
      gint64 now = ep_wall_clock_us () / G_USEC_PER_SEC;
      g_autofree char *date = ctl_detail_text ("not_after", not_after);
      return g_strdup_printf ("credentials %s %s (not after %s)",
                              json_node_get_int (not_after) <= now ? "expired" : "expiring", id,
                              date);
    }
  return g_strdup_printf ("forgotten %s", id);
}

/* Reads the signal's arguments into @event by their names in the API;
 * returns 0 for a signal this version does not know (not shown). */
static int
read_event (sd_bus_message *m, const char *member, JsonObject *event)
{
  static const struct {
    const char *member;
    const char *signature;
    const char *names[4];
  } signals[] = {
    { "DeviceProvisioned", "ssa{sv}", { "kind", "device_id", "details" } },
    { "ProvisioningFailed", "sssa{sv}", { "kind", "error_name", "message", "request" } },
    { "DeviceForgotten", "s", { "device_id" } },
    { "CredentialsChanged", "ssa{sv}", { "device_id", "reason", "details" } },
    { "CredentialsExpiring", "sx", { "device_id", "not_after" } },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (signals); i++)
    {
      if (strcmp (signals[i].member, member) != 0)
        continue;
      if (!sd_bus_message_has_signature (m, signals[i].signature))
        return -EBADMSG;
      for (gsize a = 0; a < G_N_ELEMENTS (signals[i].names) && signals[i].names[a]; a++)
        {
          int r = 0;
          JsonNode *value = ctl_read_value (m, &r);
          if (r < 0)
            return r;
          if (value != NULL)
            json_object_set_member (event, signals[i].names[a], value);
        }
      return 1;
    }
  return 0;
}

/* @usec since the epoch as RFC 3339 UTC with microseconds, for --json. */
static char *
precise_time_text (gint64 usec)
{
  g_autofree char *seconds = ctl_time_text (usec / G_USEC_PER_SEC);
  if (seconds == NULL)
    return NULL;
  /* "...:09Z" -> "...:09.123456Z" */
  seconds[strlen (seconds) - 1] = '\0';
  return g_strdup_printf ("%s.%06" G_GINT64_FORMAT "Z", seconds, usec % G_USEC_PER_SEC);
}

/* Prints the signal @m as a line or a JSON object. */
static void
print_signal (Ctl *ctl, sd_bus_message *m)
{
  /* When it arrived: dbus-daemon does not stamp messages. */
  gint64 now = ep_wall_clock_us ();
  const char *member = sd_bus_message_get_member (m);
  g_autoptr (JsonObject) event = json_object_new ();
  json_object_set_string_member (event, "signal", member);
  g_autofree char *timestamp = precise_time_text (now);
  json_object_set_string_member (event, "timestamp", timestamp);
  int r = read_event (m, member, event);
  if (r < 0)
    ctl_message ("%s: the signal is not what the API documents: %s", member, g_strerror (-r));
  if (r <= 0)
    return;

  if (ctl->json)
    ctl_print_json_object (ctl, event);
  else
    {
      g_autofree char *line = human_line (ctl, member, event);
      g_autofree char *when = ctl_time_text (now / G_USEC_PER_SEC);
      printf ("%s %s\n", when, line);
    }
  /* Each line as it happens, also into a pipe. */
  fflush (stdout);
}

/* The groups the bus policy (policy/com.enapter.Provisioning1.conf) sends
 * the daemon's signals to, besides root: all of them, CredentialsChanged. */
#define SIGNALS_GROUP "enapter-provisioning"
#define CREDENTIALS_GROUP "enapter-credentials"

/* Whether this process has the group @name (primary or supplementary), as
 * the bus sees it. */
static gboolean
in_group (const char *name)
{
  struct group *group = getgrnam (name);
  if (group == NULL)
    return FALSE;
  if (getegid () == group->gr_gid)
    return TRUE;
  int n = getgroups (0, NULL);
  if (n <= 0)
    return FALSE;
  g_autofree gid_t *groups = g_new (gid_t, n);
  n = getgroups (n, groups);
  for (int i = 0; i < n; i++)
    if (groups[i] == group->gr_gid)
      return TRUE;
  return FALSE;
}

/* Says so when the bus will deliver none of the daemon's signals (or only
 * CredentialsChanged), rather than wait in silence. Not with --host (the
 * remote user is another) nor --session (no such policy there). */
static void
warn_unless_member (Ctl *ctl)
{
  if (ctl->host != NULL || ctl->session || geteuid () == 0 || in_group (SIGNALS_GROUP))
    return;
  const char *user = g_get_user_name ();
  if (in_group (CREDENTIALS_GROUP))
    ctl_message ("warning: only CredentialsChanged will arrive: the bus sends the daemon's "
                 "other signals only to root and the group " SIGNALS_GROUP "; join it "
                 "('usermod -aG " SIGNALS_GROUP " %s', then log in again) or run monitor as "
                 "root", user);
  else
    ctl_message ("warning: no signal will arrive: the bus sends the daemon's signals only to "
                 "root and the group " SIGNALS_GROUP " (CredentialsChanged also to "
                 CREDENTIALS_GROUP "), and you are in neither; join " SIGNALS_GROUP " "
                 "('usermod -aG " SIGNALS_GROUP " %s', then log in again) or run monitor as "
                 "root", user);
}

/* What the bus's handlers need. */
typedef struct {
  Ctl *ctl;
  sd_event *event;
} Loop;

static int
on_signal (sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
  Loop *loop = userdata;
  print_signal (loop->ctl, m);
  return 0;
}

static int
on_disconnected (sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
  Loop *loop = userdata;
  sd_event_exit (loop->event, ctl_disconnected (loop->ctl));
  return 0;
}

/* The bus's answer to the subscription (AddMatch): from now on it delivers
 * the signals, or it refused. */
static int
on_subscribed (sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
  Loop *loop = userdata;
  Ctl *ctl = loop->ctl;
  if (sd_bus_message_is_method_error (m, NULL))
    {
      ctl_report_error (ctl, "AddMatch", sd_bus_message_get_error (m),
                        sd_bus_message_get_errno (m));
      sd_event_exit (loop->event, ctl_status (ctl));
      return 0;
    }
  if (ctl->verbose || isatty (STDERR_FILENO))
    ctl_message ("monitoring the signals of %s; press Ctrl+C to stop", CTL_BUS_NAME);
  return 0;
}

int
ctl_monitor (Ctl *ctl, int argc, char **argv)
{
  if (!ctl_parse (ctl, "monitor", NULL, "Prints the daemon's signals as they arrive.",
                  "One line per signal (DeviceProvisioned, ProvisioningFailed, "
                  "DeviceForgotten, CredentialsChanged, CredentialsExpiring), starting with "
                  "the time it arrived (RFC 3339 UTC, such as 2026-11-30T04:11:09Z); with "
                  "--json, one JSON object per signal whose member \"signal\" names the "
                  "signal and \"timestamp\" says when it arrived (RFC 3339 UTC with "
                  "microseconds). Runs until interrupted (SIGINT, SIGTERM), then exits with "
                  "status 0. The bus delivers the signals to root and to the members of "
                  "enapter-provisioning only (CredentialsChanged also to enapter-credentials): "
                  "anyone else is warned that none will arrive.",
                  NULL, &argc, &argv, 0))
    return CTL_EXIT_USAGE;

  /* Until the loop runs, Ctrl+C ends the program as usual. */
  sd_bus *bus = ctl_bus (ctl);
  if (bus == NULL)
    return ctl_status (ctl);
  warn_unless_member (ctl);
  g_autoptr (sd_event) event = NULL;
  int r = sd_event_new (&event);
  Loop loop = { ctl, event };
  /* sd-event takes blocked signals through a signalfd; the default handler
   * (NULL) ends the loop with status 0. */
  sigset_t mask;
  sigemptyset (&mask);
  sigaddset (&mask, SIGINT);
  sigaddset (&mask, SIGTERM);
  if (r >= 0)
    r = -sigprocmask (SIG_BLOCK, &mask, NULL);
  if (r >= 0)
    r = sd_event_add_signal (event, NULL, SIGINT, NULL, NULL);
  if (r >= 0)
    r = sd_event_add_signal (event, NULL, SIGTERM, NULL, NULL);
  if (r >= 0)
    r = sd_bus_attach_event (bus, event, SD_EVENT_PRIORITY_NORMAL);
  if (r >= 0)
    r = sd_bus_match_signal (bus, NULL, "org.freedesktop.DBus.Local", NULL,
                             "org.freedesktop.DBus.Local", "Disconnected", on_disconnected,
                             &loop);
  /* Asynchronous: a bus slow to answer does not hold off Ctrl+C. */
  if (r >= 0)
    r = sd_bus_match_signal_async (bus, NULL, CTL_BUS_NAME, CTL_PATH, CTL_IFACE, NULL,
                                   on_signal, on_subscribed, &loop);
  if (r < 0)
    return ctl_fail (ctl, CTL_EXIT_FAILURE, NULL, "cannot set up the event loop: %s",
                     g_strerror (-r));

  r = sd_event_loop (event);
  sd_bus_detach_event (bus);
  if (r < 0)
    return ctl_fail (ctl, CTL_EXIT_FAILURE, NULL, "the event loop failed: %s",
                     g_strerror (-r));
  return r;
}
