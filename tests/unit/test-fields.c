/* Unit tests of src/fields.h: the device schema table is consistent with
 * itself, with the kinds table and with what the details writer can send. */
#include "api.h"
#include "fields.h"
#include "record.h"
#include "unit-util.h"
#include "validate.h"

#include <json-glib/json-glib.h>

/* The details record.c adds that are not device.json keys. */
static const char *const computed_details[] = { "reprovisioned", "keystore_path" };

static gboolean
is_answer (const EpField *f)
{
  return f->response != NULL;
}

/* Secrets stay in their credential files: never in device.json or details. */
static void
test_secrets (void)
{
  guint n = 0;
  for (size_t i = 0; i < EP_N_FIELDS; i++)
    {
      const EpField *f = &ep_fields[i];
      if (!f->secret)
        continue;
      n++;
      g_assert_true (is_answer (f));
      g_assert_null (f->stored);
      g_assert_null (f->detail);
      g_assert_nonnull (f->file);
      /* A string, so ep_api_result_free wipes it. */
      g_assert_cmpint (f->type, ==, EP_VALUE_TEXT);
      g_assert_false (f->display);
    }
  g_assert_cmpuint (n, ==, 2);
  g_assert_true (ep_fields[EP_FIELD_PASSWORD].secret);
  g_assert_true (ep_fields[EP_FIELD_PRIVATE_KEY].secret);
}

/* Every detail comes from device.json with a type the writer sends. */
static void
test_details (void)
{
  g_autoptr (GHashTable) keys = g_hash_table_new (g_str_hash, g_str_equal);
  for (size_t i = 0; i < G_N_ELEMENTS (computed_details); i++)
    g_hash_table_add (keys, (gpointer) computed_details[i]);
  for (size_t i = 0; i < EP_N_FIELDS; i++)
    {
      const EpField *f = &ep_fields[i];
      if (f->detail == NULL)
        continue;
      g_assert_true (g_hash_table_add (keys, (gpointer) f->detail));
      g_assert_nonnull (f->stored);
      /* ep_bus_append_details writes 's', 'u', 'x' and 'b'; record.c
       * makes 'u' from ports only and 'x' from times only. */
      g_assert_true (f->detail_type == 's' || f->detail_type == 'u' || f->detail_type == 'x');
      gboolean port = is_answer (f) && f->type == EP_VALUE_PORT;
      g_assert_cmpint (f->detail_type == 'u', ==, port);
      g_assert_cmpint (f->detail_type == 'x', ==, f->type == EP_VALUE_TIME);
    }
  /* A detail shown in place of a missing one is stored text itself. */
  guint replaced = 0;
  for (size_t i = 0; i < EP_N_FIELDS; i++)
    if (ep_fields[i].shown_else)
      {
        replaced++;
        g_assert_nonnull (ep_fields[i].detail);
        g_assert_cmpint (ep_fields[i].detail_type, ==, 's');
        g_assert_nonnull (ep_fields[ep_fields[i].shown_else].stored);
        g_assert_true (ep_field_is_text (&ep_fields[ep_fields[i].shown_else]));
      }
  g_assert_cmpuint (replaced, ==, 2);
  EpDetails d;
  g_assert_cmpuint (g_hash_table_size (keys), <=, G_N_ELEMENTS (d.items));
}

/* device.json keys, file names and members are each used once, and the
 * index flattens everything device.json keeps. */
static void
test_storage (void)
{
  g_autoptr (GHashTable) stored = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr (GHashTable) files = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr (GHashTable) offsets = g_hash_table_new (g_direct_hash, g_direct_equal);
  for (size_t i = 0; i < EP_N_FIELDS; i++)
    {
      const EpField *f = &ep_fields[i];
      if (f->stored != NULL)
        {
          g_assert_true (g_hash_table_add (stored, (gpointer) f->stored));
          const char *dot = strchr (f->stored, '.');
          /* One level of nesting: what device-info.c flattens. */
          if (dot != NULL)
            {
              g_assert_null (strchr (dot + 1, '.'));
              g_autofree char *parent = g_strndup (f->stored, dot - f->stored);
              g_assert_true (ep_fields_nest_in (parent));
            }
          else
            g_assert_false (ep_fields_nest_in (f->stored));
        }
      if (f->file != NULL)
        {
          g_assert_true (g_hash_table_add (files, (gpointer) f->file));
          g_assert_true (ep_is_plain_name (f->file));
          g_assert_cmpstr (f->file, !=, "device.json");
        }
      if (is_answer (f))
        {
          /* Every answer field is kept somewhere, in its own member. */
          g_assert_true (f->stored != NULL || f->file != NULL);
          g_assert_true (g_hash_table_add (offsets, GSIZE_TO_POINTER (f->offset + 1)));
        }
      else
        {
          /* record.c writes these from the call: plain stored text. */
          g_assert_nonnull (f->stored);
          g_assert_null (f->file);
          g_assert_false (f->secret);
          g_assert_cmpint (f->asked, ==, EP_ARG_PLAIN);
        }
    }
  g_assert_false (ep_fields_nest_in ("mqtt_credentials"));
  g_assert_false (ep_fields_nest_in ("conf"));
}

static const EpField *
required_row (const EpKind *kind, const char *protocol, EpValueType type)
{
  for (size_t i = 0; i < EP_N_FIELDS; i++)
    {
      const EpField *f = &ep_fields[i];
      if (is_answer (f) && !f->optional && f->type == type && ep_field_applies (f, kind, protocol))
        return f;
    }
  return NULL;
}

/* What each kind's answer must carry is in the table, and the arguments
 * the table and record.c rely on are where they expect them. */
static void
test_kinds (void)
{
  static const char *const protocols[] = { "MQTT", "MQTTS" };
  for (const EpKind *k = ep_kinds; k->kind; k++)
    {
      const EpField *id = &ep_fields[EP_FIELD_DEVICE_ID];
      g_assert_true (ep_field_applies (id, k, NULL) && !id->optional);
      g_assert_cmpint (id->type, ==, EP_VALUE_PLAIN_NAME);
      const EpField *slug = &ep_fields[EP_FIELD_SLUG];
      g_assert_cmpint (ep_field_applies (slug, k, NULL), ==, k->has_slug);
      g_assert_true (!slug->optional && slug->type == EP_VALUE_PLAIN_NAME);
      g_assert_cmpint (required_row (k, NULL, EP_VALUE_PROTOCOL) != NULL, ==, k->has_config);
      for (size_t p = 0; k->has_config && p < G_N_ELEMENTS (protocols); p++)
        {
          /* Each protocol's credentials include a secret kept in a file. */
          gboolean secret = FALSE;
          for (size_t i = 0; i < EP_N_FIELDS; i++)
            secret |= ep_fields[i].secret && !ep_fields[i].optional &&
                      ep_field_applies (&ep_fields[i], k, protocols[p]);
          g_assert_true (secret);
        }
      /* An argument the answer must repeat belongs to a kind whose answer
       * carries the field. */
      for (size_t i = 0; i < EP_N_FIELDS; i++)
        if (ep_fields[i].asked != EP_ARG_PLAIN &&
            ep_kind_role_index (k, ep_fields[i].asked) >= 0)
          g_assert_true (ep_field_applies (&ep_fields[i], k, NULL));
      /* Every device has a name; the hardware id is stored where the
       * answer-vs-keystore check reads it. */
      g_assert_cmpint (ep_kind_role_index (k, EP_ARG_NAME), >=, 0);
      int hw = ep_kind_role_index (k, EP_ARG_HARDWARE_ID);
      if (hw >= 0)
        g_assert_cmpstr (k->args[hw].name, ==, ep_fields[EP_FIELD_HARDWARE_ID].stored);
      /* Arguments are stored under their names: never over record.c's own
       * keys or the objects fields nest in. */
      for (guint a = 0; a < ep_kind_n_args (k); a++)
        {
          const char *name = k->args[a].name;
          g_assert_false (ep_fields_nest_in (name));
          static const EpFieldId own[] = { EP_FIELD_KIND, EP_FIELD_DEVICE_ID, EP_FIELD_TARGET,
                                           EP_FIELD_PROVISIONED_AT };
          for (size_t o = 0; o < G_N_ELEMENTS (own); o++)
            g_assert_cmpstr (name, !=, ep_fields[own[o]].stored);
        }
    }
}

/* The value at a dotted path, read with json-glib's JSONPath rather than the
 * table's code; NULL when absent. */
static JsonNode *
at_path (JsonNode *root, const char *path)
{
  g_autofree char *expr = g_strconcat ("$.", path, NULL);
  g_autoptr (JsonNode) found = json_path_query (expr, root, NULL);
  JsonArray *hits = found ? json_node_get_array (found) : NULL;
  if (hits == NULL || json_array_get_length (hits) == 0)
    return NULL;
  return json_node_copy (json_array_get_element (hits, 0));
}

/* Each answer row fills its own member: every value parsed from a full
 * answer is the one at the row's path. */
static void
test_members (void)
{
  static const struct { const char *protocol; const char *creds; } cases[] = {
    { "MQTTS", "{\"protocol\":\"MQTTS\",\"private_key\":\"pk\",\"certificate\":\"cert\","
               "\"ca_chain\":\"ca\"}" },
    { "MQTT", "{\"protocol\":\"MQTT\",\"username\":\"user\",\"password\":\"pw\"}" },
  };
  for (size_t c = 0; c < G_N_ELEMENTS (cases); c++)
    {
      g_autofree char *body = g_strdup_printf (
          "{\"device_id\":\"dev-1\",\"slug\":\"my-ucm\",\"config\":{\"mqtt_host\":\"host\","
          "\"mqtt_port\":1884,\"mqtt_credentials\":%s,\"time_sync_protocol\":\"HTTP\","
          "\"time_sync_host\":\"ts\",\"time_sync_port\":81,\"hardware_id\":\"HW\","
          "\"channel_id\":\"ch\"}}", cases[c].creds);
      g_autoptr (EpArgs) args = unit_args_seed ("ucm");
      unit_args_set (args, "protocol", cases[c].protocol);
      g_autoptr (GError) error = NULL;
      g_autoptr (EpApiResult) r = ep_api_parse_result (args, body, strlen (body), &error);
      g_assert_no_error (error);
      g_autoptr (JsonParser) parser = json_parser_new ();
      g_assert_true (json_parser_load_from_data (parser, body, -1, NULL));
      JsonNode *root = json_parser_get_root (parser);
      for (size_t i = 0; i < EP_N_FIELDS; i++)
        {
          const EpField *f = &ep_fields[i];
          if (!is_answer (f))
            continue;
          g_autoptr (JsonNode) want = at_path (root, f->response);
          gboolean applies = ep_field_applies (f, args->kind, cases[c].protocol);
          g_assert_true (want != NULL || !applies);
          if (f->type == EP_VALUE_PORT)
            g_assert_cmpuint (ep_api_result_port (r, i), ==,
                              applies ? (guint) json_node_get_int (want) : 0);
          else
            g_assert_cmpstr (ep_api_result_text (r, i), ==,
                             applies ? json_node_get_string (want) : NULL);
        }
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/fields/secrets", test_secrets);
  g_test_add_func ("/fields/details", test_details);
  g_test_add_func ("/fields/storage", test_storage);
  g_test_add_func ("/fields/kinds", test_kinds);
  g_test_add_func ("/fields/members", test_members);
  return g_test_run ();
}
