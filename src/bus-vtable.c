/* The object's vtable from the kinds table; see bus-vtable.h. */
#include "bus-vtable.h"

#include "kinds.h"

#include <string.h>

static const char *
keep (GPtrArray *strings, char *s)
{
  g_ptr_array_add (strings, s);
  return s;
}

/* Argument names for introspection: each in-argument, then the two
 * out-arguments, every one NUL-terminated. */
static char *
method_names (const EpKind *kind)
{
  GString *names = g_string_new (NULL);
  for (guint i = 0; i < ep_kind_n_args (kind); i++)
    g_string_append_len (names, kind->args[i].name, strlen (kind->args[i].name) + 1);
  g_string_append_len (names, "device_id\0details\0", sizeof "device_id\0details\0");
  return g_string_free (names, FALSE);
}

sd_bus_vtable *
ep_bus_vtable_new (sd_bus_message_handler_t provision, const sd_bus_vtable *fixed,
                   gsize n_fixed, GPtrArray *strings)
{
  static const sd_bus_vtable start = SD_BUS_VTABLE_START (0);
  static const sd_bus_vtable end = SD_BUS_VTABLE_END;
  /* The Provision methods, then the methods on a stored device. */
  GPtrArray *rows = g_ptr_array_new ();
  for (const EpKind *k = ep_kinds; k->kind != NULL; k++)
    g_ptr_array_add (rows, (gpointer) k);
  for (const EpKind *k = ep_device_methods; k->method != NULL; k++)
    g_ptr_array_add (rows, (gpointer) k);

  /* Zeroed, so the unused parts of each entry's union are defined. */
  sd_bus_vtable *vt = g_new0 (sd_bus_vtable, rows->len + n_fixed + 2);
  sd_bus_vtable *v = vt;
  memcpy (v++, &start, sizeof start);
  for (guint i = 0; i < rows->len; i++, v++)
    {
      const EpKind *kind = rows->pdata[i];
      v->type = _SD_BUS_VTABLE_METHOD;
      v->flags = SD_BUS_VTABLE_UNPRIVILEGED;
      v->x.method.member = kind->method;
      v->x.method.signature = keep (strings, ep_kind_signature (kind));
      v->x.method.result = "sa{sv}";
      v->x.method.handler = provision;
      v->x.method.names = keep (strings, method_names (kind));
    }
  g_ptr_array_unref (rows);
  memcpy (v, fixed, n_fixed * sizeof *fixed);
  v += n_fixed;
  memcpy (v, &end, sizeof end);
  return vt;
}
