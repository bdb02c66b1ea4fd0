#include "device-info.h"

#include "pack.h"

#include <string.h>

/* An EpDeviceInfo is the fields as "name\0value\0" pairs, ended by an empty
 * name: a char buffer, never a struct. */

static void
add_members (GString *out, JsonObject *obj, const char *prefix)
{
  JsonObjectIter it;
  const char *name;
  JsonNode *node;
  json_object_iter_init (&it, obj);
  while (json_object_iter_next (&it, &name, &node))
    {
      /* "" would end the list; a dotted name could pass for a config one. */
      if (name[0] == '\0' || strchr (name, '.') != NULL)
        continue;
      /* One level of nesting: the objects the device schema keeps fields in. */
      if (prefix == NULL && JSON_NODE_HOLDS_OBJECT (node) && ep_fields_nest_in (name))
        {
          g_autofree char *nested = g_strconcat (name, ".", NULL);
          add_members (out, json_node_get_object (node), nested);
          continue;
        }
      if (!JSON_NODE_HOLDS_VALUE (node))
        continue;
      GType type = json_node_get_value_type (node);
      if (type != G_TYPE_STRING && type != G_TYPE_INT64)
        continue;
      if (prefix != NULL)
        g_string_append (out, prefix);
      g_string_append_len (out, name, (gssize) strlen (name) + 1);
      if (type == G_TYPE_STRING)
        g_string_append (out, json_node_get_string (node));
      else
        g_string_append_printf (out, "%" G_GINT64_FORMAT, json_node_get_int (node));
      g_string_append_c (out, '\0');
    }
}

EpDeviceInfo *
ep_device_info_new (JsonObject *metadata)
{
  GString *out = g_string_sized_new (512);
  add_members (out, metadata, NULL);
  g_string_append_c (out, '\0');
  /* Exactly the size needed: the index keeps these for the daemon's life
   * (and may pack them, pack.h). */
  char *info = ep_pack_memdup (out->str, out->len);
  g_string_free (out, TRUE);
  return (EpDeviceInfo *) info;
}

void
ep_device_info_free (EpDeviceInfo *info)
{
  ep_pack_free (info);
}

gsize
ep_device_info_size (const EpDeviceInfo *info)
{
  const char *p = (const char *) info;
  while (*p != '\0')
    {
      p += strlen (p) + 1;     /* the name */
      p += strlen (p) + 1;     /* its value */
    }
  return (gsize) (p - (const char *) info) + 1;
}

const char *
ep_device_info_get (const EpDeviceInfo *info, const char *field)
{
  const char *p = (const char *) info;
  while (*p != '\0')
    {
      const char *name = p;
      const char *value = name + strlen (name) + 1;
      if (strcmp (name, field) == 0)
        return value;
      p = value + strlen (value) + 1;
    }
  return NULL;
}

const char *
ep_device_info_field (const EpDeviceInfo *info, EpFieldId id)
{
  return ep_device_info_get (info, ep_fields[id].stored);
}
