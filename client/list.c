/* enapter-provisionctl list: the devices the keystore holds, filtered by
 * kind and site, oldest first (provisioned_at, then device_id) in the table
 * and in --json alike. */
#include "ctl.h"

#include <stdio.h>
#include <string.h>

static const CtlColumn columns[] = {
  /* Ids (DEVICE ID, SITE, HARDWARE ID) are what people copy: never
   * shortened. Only the name gives way; then EXPIRES drops its time. */
  { "DEVICE ID", 0 }, { "KIND", 0 }, { "NAME", 1 }, { "SITE", 0 }, { "HARDWARE ID", 0 },
  { "EXPIRES", 0 },
};
#define EXPIRES_COLUMN (G_N_ELEMENTS (columns) - 1)
static const char *const keys[G_N_ELEMENTS (columns)] = {
  "device_id", "kind", "name", "site_id", "hardware_id", "certificate_not_after",
};

/* Oldest first (RFC 3339 UTC sorts as text), then by id. */
static gint
compare_devices (gconstpointer a, gconstpointer b)
{
  JsonObject *x = *(JsonObject *const *) a, *y = *(JsonObject *const *) b;
  int c = strcmp (ctl_string_member (x, "provisioned_at"),
                  ctl_string_member (y, "provisioned_at"));
  return c != 0 ? c : strcmp (ctl_string_member (x, "device_id"),
                              ctl_string_member (y, "device_id"));
}

/* The devices of @all that pass the filters (NULL: any), sorted. */
static JsonArray *
select_devices (JsonArray *all, const char *kind, const char *site)
{
  g_autoptr (GPtrArray) rows = g_ptr_array_new ();
  for (guint i = 0; i < json_array_get_length (all); i++)
    {
      JsonNode *node = json_array_get_element (all, i);
      if (!JSON_NODE_HOLDS_OBJECT (node))
        continue;
      JsonObject *device = json_node_get_object (node);
      if (kind != NULL && strcmp (ctl_string_member (device, "kind"), kind) != 0)
        continue;
      if (site != NULL && strcmp (ctl_string_member (device, "site_id"), site) != 0)
        continue;
      g_ptr_array_add (rows, device);
    }
  g_ptr_array_sort (rows, compare_devices);
  JsonArray *out = json_array_sized_new (rows->len);
  for (guint i = 0; i < rows->len; i++)
    json_array_add_object_element (out, json_object_ref (rows->pdata[i]));
  return out;
}

/* The table's cells for @devices; EXPIRES as a date alone (2027-11-30)
 * with @dates. */
static GPtrArray *
table_cells (JsonArray *devices, gboolean dates)
{
  GPtrArray *cells = g_ptr_array_new_with_free_func (g_free);
  for (guint r = 0; r < json_array_get_length (devices); r++)
    {
      JsonObject *device = json_array_get_object_element (devices, r);
      for (gsize c = 0; c < G_N_ELEMENTS (columns); c++)
        {
          char *text = ctl_detail_text (keys[c], json_object_get_member (device, keys[c]));
          /* RFC 3339: the date is the first 10 characters. */
          if (c == EXPIRES_COLUMN && dates && strlen (text) > 10 && text[10] == 'T')
            text[10] = '\0';
          g_ptr_array_add (cells, text);
        }
    }
  return cells;
}

static void
print_table (Ctl *ctl, JsonArray *devices)
{
  guint n = json_array_get_length (devices);
  if (n == 0)
    {
      if (!ctl->no_legend)
        puts ("No devices.");
      return;
    }
  g_autoptr (GPtrArray) cells = table_cells (devices, FALSE);
  /* Wider than the terminal even with the names shortened: the dates
   * alone, if that is enough; else the table whole. */
  if (!ctl_table_fits (ctl, columns, G_N_ELEMENTS (columns), cells))
    {
      g_autoptr (GPtrArray) dates = table_cells (devices, TRUE);
      if (ctl_table_fits (ctl, columns, G_N_ELEMENTS (columns), dates))
        {
          g_ptr_array_unref (cells);
          cells = g_steal_pointer (&dates);
        }
    }
  g_autofree char *footer = g_strdup_printf ("%u %s listed.", n, n == 1 ? "device" : "devices");
  ctl_print_table (ctl, columns, G_N_ELEMENTS (columns), cells, footer);
}

/* The kinds as people type them: "ucm, vucm, ... or gateway". */
static char *
kinds_text (void)
{
  GString *out = g_string_new (NULL);
  const CtlCommand *c;
  for (gsize i = 0; (c = ctl_kind_command (i)) != NULL; i++)
    g_string_append_printf (out, "%s%s", i == 0 ? "" : ctl_kind_command (i + 1) ? ", " : " or ",
                            c->name);
  return g_string_free (out, FALSE);
}

int
ctl_list (Ctl *ctl, int argc, char **argv)
{
  gboolean ids = FALSE;
  g_autofree char *kind_text = NULL, *site = NULL;
  g_autofree char *kinds = kinds_text ();
  g_autofree char *kind_help = g_strdup_printf ("Only devices of the kind KIND: %s", kinds);
  const GOptionEntry entries[] = {
    { "kind", 0, 0, G_OPTION_ARG_STRING, &kind_text, kind_help, "KIND" },
    { "site", 0, 0, G_OPTION_ARG_STRING, &site, "Only devices of the site SITE_ID", "SITE_ID" },
    /* For shell completion: one device id per line. */
    { "ids", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_NONE, &ids, "Print only the device ids",
      NULL },
    G_OPTION_ENTRY_NULL,
  };
  if (!ctl_parse (ctl, "list", NULL, "Lists the devices in the daemon's keystore.",
                  "Prints a table (DEVICE ID, KIND, NAME, SITE, HARDWARE ID, EXPIRES), oldest "
                  "first (by provisioned_at, then by device id); EXPIRES is when the device's "
                  "certificate runs out, '-' for a device without one. On a terminal narrower "
                  "than the table ($COLUMNS, if set), long names are shortened and, if that "
                  "is not enough, EXPIRES shows the date alone; ids are never shortened: a "
                  "table that cannot fit is printed whole. With --json, an array of the "
                  "devices' details, in the same order.",
                  entries, &argc, &argv, 0))
    return CTL_EXIT_USAGE;
  g_autofree char *kind = NULL;
  if (kind_text != NULL && (kind = ctl_kind_of (kind_text)) == NULL)
    return ctl_usage_error (ctl, "list", "--kind must be %s, not '%s'", kinds, kind_text);

  g_autoptr (sd_bus_message) reply = ctl_call_plain (ctl, "ListDevices");
  if (reply == NULL)
    return ctl_status (ctl);
  int r = 0;
  g_autoptr (JsonArray) all = ctl_read_vardict_array (reply, &r);
  if (all == NULL)
    return ctl_bad_reply (ctl, "ListDevices", r);
  g_autoptr (JsonArray) devices = select_devices (all, kind, site);

  if (ids)
    for (guint i = 0; i < json_array_get_length (devices); i++)
      {
        JsonObject *device = json_array_get_object_element (devices, i);
        g_autofree char *id = ctl_printable (ctl_string_member (device, "device_id"));
        puts (id);
      }
  else if (ctl->json)
    ctl_print_json_array (ctl, devices);
  else
    print_table (ctl, devices);
  return CTL_EXIT_OK;
}
