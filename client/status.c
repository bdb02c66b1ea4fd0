/* enapter-provisionctl status (also the command when none is given): the
 * daemon's properties (Version, ActiveRequests, Targets, AutoRenewal,
 * NextRenewal) and the keystore's devices counted by kind, as hostnamectl
 * shows a host. A property an older daemon lacks is left out. */
#include "ctl.h"
#include "src/wall-clock.h"

#include <stdio.h>
#include <string.h>

/* Reads every property of the daemon's interface; NULL after reporting. */
static JsonObject *
get_properties (Ctl *ctl, int *status)
{
  g_autoptr (sd_bus_message) call = ctl_new_method_call (ctl, "org.freedesktop.DBus.Properties",
                                                         "GetAll");
  int r = call ? sd_bus_message_append_basic (call, 's', CTL_IFACE) : 0;
  if (r < 0)
    {
      *status = ctl_fail (ctl, CTL_EXIT_FAILURE, NULL, "cannot make a GetAll call: %s",
                          g_strerror (-r));
      return NULL;
    }
  g_autoptr (sd_bus_message) reply = call ? ctl_call (ctl, call) : NULL;
  if (reply == NULL)
    {
      *status = ctl_status (ctl);
      return NULL;
    }
  JsonObject *properties = ctl_read_vardict (reply, &r);
  if (properties == NULL)
    *status = ctl_bad_reply (ctl, "GetAll", r);
  return properties;
}

/* {kind: count} with every kind this client knows, and the total. NULL
 * with *@status CTL_EXIT_OK when the caller may not list the devices (the
 * properties are everyone's, ListDevices is not); NULL after reporting
 * any other failure. */
static JsonObject *
count_devices (Ctl *ctl, gint64 *total, int *status)
{
  g_autoptr (sd_bus_message) call = ctl_new_call (ctl, "ListDevices");
  gboolean denied = FALSE;
  g_autoptr (sd_bus_message) reply = call ? ctl_call_unless (ctl, call,
                                                             SD_BUS_ERROR_ACCESS_DENIED,
                                                             &denied)
                                          : NULL;
  if (reply == NULL)
    {
      *status = denied ? CTL_EXIT_OK : ctl_status (ctl);
      return NULL;
    }
  int r = 0;
  g_autoptr (JsonArray) devices = ctl_read_vardict_array (reply, &r);
  if (devices == NULL)
    {
      *status = ctl_bad_reply (ctl, "ListDevices", r);
      return NULL;
    }
  JsonObject *counts = json_object_new ();
  const CtlCommand *c;
  for (gsize i = 0; (c = ctl_kind_command (i)) != NULL; i++)
    {
      g_autofree char *kind = ctl_kind_of (c->name);
      json_object_set_int_member (counts, kind, 0);
    }
  *total = json_array_get_length (devices);
  for (guint i = 0; i < json_array_get_length (devices); i++)
    {
      const char *kind = ctl_string_member (json_array_get_object_element (devices, i), "kind");
      json_object_set_int_member (counts, kind,
                                  json_object_get_int_member_with_default (counts, kind, 0) + 1);
    }
  return counts;
}

/* The properties under the names --json uses; members the daemon did not
 * send are left out. */
static void
add_property (JsonObject *out, const char *key, JsonObject *properties, const char *name)
{
  JsonNode *node = json_object_get_member (properties, name);
  if (node != NULL)
    json_object_set_member (out, key, json_node_copy (node));
}

/* "in 3 days", "in 5 h", "now": how far @when is from now. */
static char *
relative_text (gint64 when)
{
  gint64 left = when - ep_wall_clock_us () / G_USEC_PER_SEC;
  if (left <= 0)
    return g_strdup ("due now");
  if (left < 120)
    return g_strdup_printf ("in %" G_GINT64_FORMAT " s", left);
  if (left < 120 * 60)
    return g_strdup_printf ("in %" G_GINT64_FORMAT " min", left / 60);
  if (left < 48 * 3600)
    return g_strdup_printf ("in %" G_GINT64_FORMAT " h", left / 3600);
  return g_strdup_printf ("in %" G_GINT64_FORMAT " days", left / 86400);
}

static void
print_line (GPtrArray *lines, const char *label, char *text)
{
  g_ptr_array_add (lines, g_strdup (label));
  g_ptr_array_add (lines, text);
}

static char *
devices_text (JsonObject *status)
{
  if (json_object_get_null_member (status, "devices"))
    return g_strdup ("(not permitted)");
  gint64 total = json_object_get_int_member (status, "devices");
  JsonObject *counts = json_object_get_object_member (status, "devices_by_kind");
  g_autoptr (GString) parts = g_string_new (NULL);
  g_autoptr (GList) kinds = json_object_get_members (counts);
  for (GList *k = kinds; k != NULL; k = k->next)
    {
      gint64 n = json_object_get_int_member (counts, k->data);
      if (n > 0)
        {
          /* As the commands spell them: link-master. */
          g_autofree char *kind = g_strdelimit (ctl_printable (k->data), "_", '-');
          g_string_append_printf (parts, "%s%" G_GINT64_FORMAT " %s", parts->len ? ", " : "",
                                  n, kind);
        }
    }
  return parts->len ? g_strdup_printf ("%" G_GINT64_FORMAT " (%s)", total, parts->str)
                    : g_strdup_printf ("%" G_GINT64_FORMAT, total);
}

/* "Cloud API: https://...", one line per target, cloud and gateway first. */
static void
target_lines (GPtrArray *lines, JsonObject *targets)
{
  g_autoptr (GList) names = json_object_get_members (targets);
  names = g_list_sort (names, (GCompareFunc) strcmp);
  static const char *const first[] = { "cloud", "gateway", NULL };
  for (int pass = 0; pass < 2; pass++)
    for (GList *t = names; t != NULL; t = t->next)
      {
        if (g_strv_contains (first, t->data) != (pass == 0))
          continue;
        const char *url = json_object_get_string_member_with_default (targets, t->data, "");
        g_autofree char *shown = ctl_printable (t->data);
        if (shown[0] != '\0')
          shown[0] = g_ascii_toupper (shown[0]);
        g_autofree char *label = g_strdup_printf ("%s API", shown);
        print_line (lines, label,
                    url[0] ? ctl_printable (url) : g_strdup ("not configured"));
      }
}

static void
print_status (JsonObject *status)
{
  g_autoptr (GPtrArray) lines = g_ptr_array_new_with_free_func (g_free);
  if (json_object_has_member (status, "version"))
    print_line (lines, "Version", ctl_value_text (json_object_get_member (status, "version")));
  if (json_object_has_member (status, "active_requests"))
    print_line (lines, "Active requests",
                ctl_value_text (json_object_get_member (status, "active_requests")));
  print_line (lines, "Devices", devices_text (status));
  if (json_object_has_member (status, "targets") &&
      JSON_NODE_HOLDS_OBJECT (json_object_get_member (status, "targets")))
    target_lines (lines, json_object_get_object_member (status, "targets"));
  if (json_object_has_member (status, "auto_renewal"))
    print_line (lines, "Auto-renewal",
                g_strdup (json_object_get_boolean_member_with_default (status, "auto_renewal",
                                                                 FALSE) ? "on" : "off"));
  if (json_object_has_member (status, "next_renewal"))
    {
      gint64 next = json_object_get_int_member_with_default (status, "next_renewal", 0);
      g_autofree char *when = next > 0 ? ctl_time_text (next) : NULL;
      g_autofree char *relative = when ? relative_text (next) : NULL;
      print_line (lines, "Next renewal",
                  when ? g_strdup_printf ("%s (%s)", when, relative) : g_strdup ("none"));
    }

  /* Labels right-aligned, as hostnamectl prints them. */
  gsize width = 0;
  for (guint i = 0; i < lines->len; i += 2)
    width = MAX (width, ctl_display_width (lines->pdata[i]));
  for (guint i = 0; i < lines->len; i += 2)
    printf ("%*s: %s\n", (int) width, (char *) lines->pdata[i], (char *) lines->pdata[i + 1]);
}

int
ctl_status_command (Ctl *ctl, int argc, char **argv)
{
  if (!ctl_parse (ctl, "status", NULL, "Shows the daemon's state.",
                  "Prints the daemon's version, the calls in flight, the devices its keystore "
                  "holds by kind (spelled as the commands), the APIs it is configured for (cloud, gateway; 'not "
                  "configured' when empty), whether it renews certificates itself and when "
                  "it renews one next (RFC 3339 UTC). This is also what '" CTL_PROGRAM "' "
                  "without a command prints. With --json, one object: version, "
                  "active_requests, devices, devices_by_kind, targets, auto_renewal and "
                  "next_renewal (Unix seconds, 0 for none). A caller who may not list the "
                  "devices sees 'Devices: (not permitted)', and null for devices and "
                  "devices_by_kind in JSON.",
                  NULL, &argc, &argv, 0))
    return CTL_EXIT_USAGE;

  int status = CTL_EXIT_OK;
  g_autoptr (JsonObject) properties = get_properties (ctl, &status);
  if (properties == NULL)
    return status;
  gint64 total = 0;
  g_autoptr (JsonObject) counts = count_devices (ctl, &total, &status);
  if (counts == NULL && status != CTL_EXIT_OK)
    return status;

  g_autoptr (JsonObject) out = json_object_new ();
  add_property (out, "version", properties, "Version");
  add_property (out, "active_requests", properties, "ActiveRequests");
  /* null: the caller may not list the devices. */
  if (counts != NULL)
    {
      json_object_set_int_member (out, "devices", total);
      json_object_set_object_member (out, "devices_by_kind", g_steal_pointer (&counts));
    }
  else
    {
      json_object_set_null_member (out, "devices");
      json_object_set_null_member (out, "devices_by_kind");
    }
  add_property (out, "targets", properties, "Targets");
  add_property (out, "auto_renewal", properties, "AutoRenewal");
  add_property (out, "next_renewal", properties, "NextRenewal");

  if (ctl->json)
    ctl_print_json_object (ctl, out);
  else
    print_status (out);
  return CTL_EXIT_OK;
}
