/* enapter-provisionctl: D-Bus values into JSON, and JSON out for people and
 * for machines. Everything the daemon sends passes through JSON objects, so
 * --json and the human output show the same data. */
#include "ctl.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

/* ---- reading ----------------------------------------------------------- */

static JsonNode *
read_basic (sd_bus_message *m, char type, int *r)
{
  union {
    uint8_t y; int b; int16_t n; uint16_t q; int32_t i; uint32_t u;
    int64_t x; uint64_t t; double d; const char *s;
  } v;
  *r = sd_bus_message_read_basic (m, type, &v);
  if (*r < 0)
    return NULL;
  JsonNode *node = json_node_new (JSON_NODE_VALUE);
  switch (type)
    {
    case 's': case 'o': case 'g': json_node_set_string (node, v.s); break;
    case 'b': json_node_set_boolean (node, v.b); break;
    case 'y': json_node_set_int (node, v.y); break;
    case 'n': json_node_set_int (node, v.n); break;
    case 'q': json_node_set_int (node, v.q); break;
    case 'i': case 'h': json_node_set_int (node, v.i); break;
    case 'u': json_node_set_int (node, v.u); break;
    case 'x': json_node_set_int (node, v.x); break;
    case 't': json_node_set_int (node, (gint64) MIN (v.t, (uint64_t) G_MAXINT64)); break;
    case 'd':
      /* JSON has no NaN or infinity. */
      if (isfinite (v.d))
        json_node_set_double (node, v.d);
      else
        json_node_init_null (node);
      break;
    default:
      json_node_unref (node);
      *r = -EBADMSG;
      return NULL;
    }
  return node;
}

/* Reads a dictionary with string keys (the container is entered here). */
static JsonObject *
read_dict (sd_bus_message *m, const char *contents, int *r)
{
  /* contents is "{s?}": the entry's own signature drops the braces. */
  g_autofree char *entry = g_strndup (contents + 1, strlen (contents) - 2);
  *r = sd_bus_message_enter_container (m, 'a', contents);
  if (*r < 0)
    return NULL;
  g_autoptr (JsonObject) object = json_object_new ();
  while ((*r = sd_bus_message_enter_container (m, 'e', entry)) > 0)
    {
      const char *key = NULL;
      *r = sd_bus_message_read_basic (m, 's', &key);
      if (*r < 0)
        return NULL;
      JsonNode *value = ctl_read_value (m, r);
      if (*r < 0)
        return NULL;
      if (value != NULL)
        json_object_set_member (object, key, value);
      *r = sd_bus_message_exit_container (m);
      if (*r < 0)
        return NULL;
    }
  if (*r < 0 || (*r = sd_bus_message_exit_container (m)) < 0)
    return NULL;
  return g_steal_pointer (&object);
}

/* Arrays and structures become JSON arrays. */
static JsonArray *
read_list (sd_bus_message *m, char type, const char *contents, int *r)
{
  *r = sd_bus_message_enter_container (m, type, contents);
  if (*r < 0)
    return NULL;
  g_autoptr (JsonArray) array = json_array_new ();
  while ((*r = sd_bus_message_at_end (m, FALSE)) == 0)
    {
      JsonNode *value = ctl_read_value (m, r);
      if (*r < 0)
        return NULL;
      if (value != NULL)
        json_array_add_element (array, value);
    }
  if (*r < 0 || (*r = sd_bus_message_exit_container (m)) < 0)
    return NULL;
  return g_steal_pointer (&array);
}

JsonNode *
ctl_read_value (sd_bus_message *m, int *r)
{
  char type;
  const char *contents = NULL;
  *r = sd_bus_message_peek_type (m, &type, &contents);
  if (*r <= 0)
    {
      *r = *r < 0 ? *r : -EBADMSG;
      return NULL;
    }
  if (type == 'v')
    {
      JsonNode *inner = NULL;
      if ((*r = sd_bus_message_enter_container (m, 'v', contents)) >= 0)
        inner = ctl_read_value (m, r);
      if (*r >= 0)
        *r = sd_bus_message_exit_container (m);
      if (*r < 0)
        g_clear_pointer (&inner, json_node_unref);
      return inner;
    }
  if (type == 'a' && contents[0] == '{')
    {
      if (contents[1] != 's')
        {
          *r = sd_bus_message_skip (m, NULL);
          return NULL;
        }
      JsonObject *object = read_dict (m, contents, r);
      if (object == NULL)
        return NULL;
      /* json_node_init_object would take a reference of its own. */
      JsonNode *node = json_node_new (JSON_NODE_OBJECT);
      json_node_take_object (node, object);
      return node;
    }
  if (type == 'a' || type == 'r')
    {
      g_autoptr (JsonArray) array = read_list (m, type, contents, r);
      return array ? json_node_init_array (json_node_alloc (), array) : NULL;
    }
  return read_basic (m, type, r);
}

JsonObject *
ctl_read_vardict (sd_bus_message *m, int *r)
{
  return read_dict (m, "{sv}", r);
}

JsonArray *
ctl_read_vardict_array (sd_bus_message *m, int *r)
{
  *r = sd_bus_message_enter_container (m, 'a', "a{sv}");
  if (*r < 0)
    return NULL;
  g_autoptr (JsonArray) array = json_array_new ();
  while ((*r = sd_bus_message_at_end (m, FALSE)) == 0)
    {
      JsonObject *object = ctl_read_vardict (m, r);
      if (object == NULL)
        return NULL;
      json_array_add_object_element (array, object);
    }
  if (*r < 0 || (*r = sd_bus_message_exit_container (m)) < 0)
    return NULL;
  return g_steal_pointer (&array);
}

/* ---- JSON for machines ------------------------------------------------- */

void
ctl_print_json (Ctl *ctl, JsonNode *node)
{
  g_autoptr (JsonGenerator) generator = json_generator_new ();
  if (ctl->json == CTL_JSON_PRETTY)
    {
      json_generator_set_pretty (generator, TRUE);
      json_generator_set_indent (generator, 2);
    }
  json_generator_set_root (generator, node);
  g_autofree char *text = json_generator_to_data (generator, NULL);
  puts (text);
}

void
ctl_print_json_object (Ctl *ctl, JsonObject *object)
{
  g_autoptr (JsonNode) node = json_node_init_object (json_node_alloc (), object);
  ctl_print_json (ctl, node);
}

void
ctl_print_json_array (Ctl *ctl, JsonArray *array)
{
  g_autoptr (JsonNode) node = json_node_init_array (json_node_alloc (), array);
  ctl_print_json (ctl, node);
}

/* ---- text for people --------------------------------------------------- */

/* What a terminal would act on or hide, as the daemon's log escapes it:
 * control characters, format characters (bidirectional overrides such as
 * U+202E, zero-width ones) and the line and paragraph separators. */
static gboolean
unprintable (gunichar c)
{
  return g_unichar_iscntrl (c) || g_unichar_type (c) == G_UNICODE_FORMAT || c == 0x2028 ||
         c == 0x2029;
}

char *
ctl_printable (const char *s)
{
  g_autofree char *valid = g_utf8_make_valid (s, -1);
  GString *out = g_string_sized_new (strlen (valid));
  for (const char *p = valid; *p; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);
      if (unprintable (c))
        g_string_append_c (out, '?');
      else
        g_string_append_unichar (out, c);
    }
  return g_string_free (out, FALSE);
}

/* The shortest decimal text that reads back as @d. */
static char *
double_text (double d)
{
  char buf[G_ASCII_DTOSTR_BUF_SIZE];
  for (int precision = 1; precision <= 17; precision++)
    {
      char format[8];
      g_snprintf (format, sizeof format, "%%.%dg", precision);
      g_ascii_formatd (buf, sizeof buf, format, d);
      if (g_ascii_strtod (buf, NULL) == d)
        break;
    }
  return g_strdup (buf);
}

char *
ctl_value_text (JsonNode *node)
{
  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return g_strdup ("-");
  if (JSON_NODE_HOLDS_VALUE (node))
    switch (json_node_get_value_type (node))
      {
      case G_TYPE_STRING:
        return ctl_printable (json_node_get_string (node));
      case G_TYPE_BOOLEAN:
        return g_strdup (json_node_get_boolean (node) ? "yes" : "no");
      case G_TYPE_INT64:
        return g_strdup_printf ("%" G_GINT64_FORMAT, json_node_get_int (node));
      case G_TYPE_DOUBLE:
        return double_text (json_node_get_double (node));
      default:
        break;
      }
  g_autofree char *json = json_to_string (node, FALSE);
  return ctl_printable (json);
}

/* The members (of details and of signals) that hold Unix times. */
static const char *const time_keys[] = {
  "certificate_not_before", "certificate_not_after", "not_after", NULL,
};

char *
ctl_time_text (gint64 seconds)
{
  g_autoptr (GDateTime) t = g_date_time_new_from_unix_utc (seconds);
  return t ? g_date_time_format (t, "%Y-%m-%dT%H:%M:%SZ") : NULL;
}

char *
ctl_detail_text (const char *key, JsonNode *node)
{
  if (g_strv_contains (time_keys, key) && node != NULL && JSON_NODE_HOLDS_VALUE (node) &&
      json_node_get_value_type (node) == G_TYPE_INT64)
    {
      char *text = ctl_time_text (json_node_get_int (node));
      if (text != NULL)
        return text;
    }
  return ctl_value_text (node);
}

const char *
ctl_string_member (JsonObject *object, const char *key)
{
  JsonNode *node = json_object_get_member (object, key);
  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) ||
      json_node_get_value_type (node) != G_TYPE_STRING)
    return "";
  return json_node_get_string (node);
}

/* The order of the details that matter most; the rest follow by name. */
static const char *const field_order[] = {
  "device_id", "kind", "name", "slug", "site_id", "hardware_id", "protocol", "mqtt_host",
  "mqtt_port", "channel_id", "provisioned_at", "credentials_updated_at",
  "certificate_not_before", "certificate_not_after", "certificate_sha256", "reprovisioned",
  "keystore_path", NULL,
};

static int
field_rank (const char *key)
{
  for (int i = 0; field_order[i] != NULL; i++)
    if (strcmp (field_order[i], key) == 0)
      return i;
  return G_N_ELEMENTS (field_order);
}

static gint
compare_fields (gconstpointer a, gconstpointer b)
{
  int ra = field_rank (a), rb = field_rank (b);
  return ra != rb ? ra - rb : strcmp (a, b);
}

void
ctl_print_fields (JsonObject *object)
{
  g_autoptr (GList) keys = g_list_sort (json_object_get_members (object), compare_fields);
  /* The keys are the daemon's text too. */
  g_autoptr (GPtrArray) labels = g_ptr_array_new_with_free_func (g_free);
  gsize width = 0;
  for (GList *k = keys; k != NULL; k = k->next)
    {
      g_autofree char *key = ctl_printable (k->data);
      char *label = g_strconcat (key, ":", NULL);
      width = MAX (width, ctl_display_width (label));
      g_ptr_array_add (labels, label);
    }
  guint i = 0;
  for (GList *k = keys; k != NULL; k = k->next, i++)
    {
      const char *label = labels->pdata[i];
      g_autofree char *text = ctl_detail_text (k->data,
                                               json_object_get_member (object, k->data));
      printf ("%s%*s %s\n", label, (int) (width - ctl_display_width (label)), "", text);
    }
}
