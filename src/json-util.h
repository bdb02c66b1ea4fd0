/* Small json-glib helpers that never emit criticals on unexpected types. */
#pragma once

#include <json-glib/json-glib.h>
#include <string.h>

/* The string member @name of @obj, or NULL when absent or not a string. */
static inline const char *
ep_json_string (JsonObject *obj, const char *name)
{
  JsonNode *node = obj ? json_object_get_member (obj, name) : NULL;
  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) ||
      json_node_get_value_type (node) != G_TYPE_STRING)
    return NULL;
  return json_node_get_string (node);
}

/* The object that holds the last segment of @path ("a.b" nests) in @leaf,
 * created on the way. */
static inline JsonObject *
ep_json_object_for_path (JsonObject *root, const char *path, const char **leaf)
{
  JsonObject *obj = root;
  const char *dot;
  while ((dot = strchr (path, '.')) != NULL)
    {
      g_autofree char *name = g_strndup (path, dot - path);
      if (!json_object_has_member (obj, name))
        json_object_set_object_member (obj, name, json_object_new ());
      obj = json_object_get_object_member (obj, name);
      path = dot + 1;
    }
  *leaf = path;
  return obj;
}
