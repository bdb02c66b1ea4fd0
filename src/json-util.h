/* Small json-glib helpers that never emit criticals on unexpected types. */
#pragma once

#include <json-glib/json-glib.h>

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
