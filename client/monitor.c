/* enapter-provisionctl monitor: prints the daemon's signals as they arrive,
 * one line each, until SIGINT or SIGTERM. */
#include "ctl.h"

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

/* The line a person reads for @event. */
static char *
human_line (Ctl *ctl, const char *member, JsonObject *event)
{
  g_autofree char *kind = member_text (event, "kind");
  if (strcmp (member, "DeviceProvisioned") == 0)
    {
      g_autofree char *id = member_text (event, "device_id");
      JsonObject *details = json_object_get_object_member (event, "details");
      g_autoptr (GPtrArray) notes = g_ptr_array_new_with_free_func (g_free);
      if (json_object_has_member (details, "name"))
        {
          g_autofree char *name = member_text (details, "name");
          g_ptr_array_add (notes, g_strdup_printf ("name \"%s\"", name));
        }
      if (json_object_get_boolean_member_with_default (details, "reprovisioned", FALSE))
        g_ptr_array_add (notes, g_strdup ("reprovisioned"));
      g_ptr_array_add (notes, NULL);
      g_autofree char *joined = g_strjoinv (", ", (char **) notes->pdata);
      return g_strdup_printf ("provisioned %s %s%s%s%s", kind, id, *joined ? " (" : "", joined,
                              *joined ? ")" : "");
    }
  if (strcmp (member, "ProvisioningFailed") == 0)
    {
      g_autofree char *name = member_text (event, "error_name");
      g_autofree char *message = member_text (event, "message");
      return g_strdup_printf ("failed %s: %s: %s", kind, error_text (ctl, name), message);
    }
  g_autofree char *id = member_text (event, "device_id");
  return g_strdup_printf ("forgotten %s", id);
}

/* Reads the signal's arguments into @event by their names in the API. */
static int
read_event (sd_bus_message *m, const char *member, JsonObject *event)
{
  static const struct {
    const char *member;
    const char *names[4];  /* the string arguments, then the a{sv} one if any */
    int n_strings;
  } signals[] = {
    { "DeviceProvisioned", { "kind", "device_id", "details" }, 2 },
    { "ProvisioningFailed", { "kind", "error_name", "message", "request" }, 3 },
    { "DeviceForgotten", { "device_id" }, 1 },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (signals); i++)
    {
      if (strcmp (signals[i].member, member) != 0)
        continue;
      int r = 0;
      for (int a = 0; a < signals[i].n_strings && r >= 0; a++)
        {
          const char *s = NULL;
          r = sd_bus_message_read_basic (m, 's', &s);
          if (r >= 0)
            json_object_set_string_member (event, signals[i].names[a], s);
        }
      const char *dict = signals[i].names[signals[i].n_strings];
      if (r >= 0 && dict != NULL)
        {
          JsonObject *values = ctl_read_vardict (m, &r);
          if (values != NULL)
            json_object_set_object_member (event, dict, values);
        }
      return r < 0 ? r : 1;
    }
  return 0;  /* a signal this version does not know: not shown */
}

static int
on_signal (sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
  Ctl *ctl = userdata;
  const char *member = sd_bus_message_get_member (m);
  g_autoptr (JsonObject) event = json_object_new ();
  json_object_set_string_member (event, "signal", member);
  int r = read_event (m, member, event);
  if (r < 0)
    ctl_message ("%s: the signal is not what the API documents: %s", member, g_strerror (-r));
  if (r <= 0)
    return 0;

  if (ctl->json)
    ctl_print_json_object (event);
  else
    {
      g_autofree char *line = human_line (ctl, member, event);
      puts (line);
    }
  /* Each line as it happens, also into a pipe. */
  fflush (stdout);
  return 0;
}

static int
on_disconnected (sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
  ctl_message ("the connection to the bus was closed");
  sd_event_exit (userdata, CTL_EXIT_FAILURE);
  return 0;
}

int
ctl_monitor (Ctl *ctl, int argc, char **argv)
{
  if (!ctl_parse (ctl, "monitor", NULL, "Prints the daemon's signals as they arrive.",
                  "One line per signal (DeviceProvisioned, ProvisioningFailed, "
                  "DeviceForgotten); with --json, one JSON object per line whose member "
                  "\"signal\" names the signal. Runs until interrupted (SIGINT, SIGTERM), "
                  "then exits with status 0.",
                  NULL, &argc, &argv, 0))
    return CTL_EXIT_USAGE;

  /* sd-event takes blocked signals through a signalfd. */
  sigset_t mask;
  sigemptyset (&mask);
  sigaddset (&mask, SIGINT);
  sigaddset (&mask, SIGTERM);
  sigprocmask (SIG_BLOCK, &mask, NULL);

  sd_bus *bus = ctl_bus (ctl);
  if (bus == NULL)
    return CTL_EXIT_FAILURE;
  g_autoptr (sd_event) event = NULL;
  int r = sd_event_new (&event);
  /* The default handler (NULL) ends the loop with status 0. */
  if (r >= 0)
    r = sd_event_add_signal (event, NULL, SIGINT, NULL, NULL);
  if (r >= 0)
    r = sd_event_add_signal (event, NULL, SIGTERM, NULL, NULL);
  if (r >= 0)
    r = sd_bus_attach_event (bus, event, SD_EVENT_PRIORITY_NORMAL);
  if (r >= 0)
    r = sd_bus_match_signal (bus, NULL, "org.freedesktop.DBus.Local", NULL,
                             "org.freedesktop.DBus.Local", "Disconnected", on_disconnected,
                             event);
  if (r < 0)
    {
      ctl_message ("cannot set up the event loop: %s", g_strerror (-r));
      return CTL_EXIT_FAILURE;
    }
  /* Synchronous: once it returns, the bus delivers the signals. */
  r = sd_bus_match_signal (bus, NULL, CTL_BUS_NAME, CTL_PATH, CTL_IFACE, NULL, on_signal, ctl);
  if (r < 0)
    {
      ctl_message ("cannot subscribe to the signals of %s: %s", CTL_BUS_NAME, g_strerror (-r));
      return CTL_EXIT_FAILURE;
    }
  if (ctl->verbose || isatty (STDERR_FILENO))
    ctl_message ("monitoring the signals of %s; press Ctrl+C to stop", CTL_BUS_NAME);

  r = sd_event_loop (event);
  sd_bus_detach_event (bus);
  if (r < 0)
    {
      ctl_message ("the event loop failed: %s", g_strerror (-r));
      return CTL_EXIT_FAILURE;
    }
  return r;
}
