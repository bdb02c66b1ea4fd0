/* Unit tests of src/api.h: request bodies against the API seed, and response
 * parsing and its refusals (README "Keystore"). Error texts: test-api-errors.c. */
#include "api.h"
#include "errors.h"
#include "unit-util.h"

#include <json-glib/json-glib.h>

/* Secrets put into responses; no error message may ever contain them. */
#define PK_CANARY "PRIVKEY-CANARY-5d1e0c"
#define PW_CANARY "PASSWORD-CANARY-a93f77"
#define CERT_JSON "-----BEGIN CERTIFICATE-----\\nMIIBcert\\n-----END CERTIFICATE-----\\n"
#define CERT_TEXT "-----BEGIN CERTIFICATE-----\nMIIBcert\n-----END CERTIFICATE-----\n"
#define CA_JSON "-----BEGIN CERTIFICATE-----\\nMIIBca\\n-----END CERTIFICATE-----\\n"
#define CA_TEXT "-----BEGIN CERTIFICATE-----\nMIIBca\n-----END CERTIFICATE-----\n"

#define MQTTS_CREDS \
  "{\"protocol\":\"MQTTS\",\"private_key\":\"" PK_CANARY "\",\"certificate\":\"" CERT_JSON \
  "\",\"ca_chain\":\"" CA_JSON "\"}"
#define MQTT_CREDS \
  "{\"protocol\":\"MQTT\",\"username\":\"ucm-user\",\"password\":\"" PW_CANARY "\"}"

/* ---- JSON comparison ---------------------------------------------------- */

static gboolean
is_number (JsonNode *n)
{
  if (!JSON_NODE_HOLDS_VALUE (n))
    return FALSE;
  GType t = json_node_get_value_type (n);
  return t == G_TYPE_INT64 || t == G_TYPE_DOUBLE;
}

static double
number_of (JsonNode *n)
{
  return json_node_get_value_type (n) == G_TYPE_INT64 ? (double) json_node_get_int (n)
                                                       : json_node_get_double (n);
}

/* Appends to @diff every difference between @got and @want below @path:
 * member sets, JSON types and values. */
static void
json_diff (JsonNode *got, JsonNode *want, const char *path, GString *diff)
{
  if (JSON_NODE_HOLDS_OBJECT (want))
    {
      if (!JSON_NODE_HOLDS_OBJECT (got))
        {
          g_string_append_printf (diff, "%s: not an object; ", path);
          return;
        }
      JsonObject *g = json_node_get_object (got), *w = json_node_get_object (want);
      g_autoptr (GList) wm = json_object_get_members (w);
      for (GList *l = wm; l; l = l->next)
        {
          g_autofree char *sub = g_strdup_printf ("%s.%s", path, (char *) l->data);
          if (!json_object_has_member (g, l->data))
            g_string_append_printf (diff, "%s: missing; ", sub);
          else
            json_diff (json_object_get_member (g, l->data), json_object_get_member (w, l->data),
                       sub, diff);
        }
      g_autoptr (GList) gm = json_object_get_members (g);
      for (GList *l = gm; l; l = l->next)
        if (!json_object_has_member (w, l->data))
          g_string_append_printf (diff, "%s.%s: extra member; ", path, (char *) l->data);
      return;
    }
  if (is_number (want))
    {
      if (!is_number (got))
        g_string_append_printf (diff, "%s: not a number; ", path);
      else if (number_of (got) != number_of (want))
        g_string_append_printf (diff, "%s: %.17g != %.17g; ", path, number_of (got),
                                number_of (want));
      return;
    }
  if (JSON_NODE_HOLDS_VALUE (want) && json_node_get_value_type (want) == G_TYPE_STRING)
    {
      if (!JSON_NODE_HOLDS_VALUE (got) || json_node_get_value_type (got) != G_TYPE_STRING)
        g_string_append_printf (diff, "%s: not a string; ", path);
      else if (strcmp (json_node_get_string (got), json_node_get_string (want)) != 0)
        g_string_append_printf (diff, "%s: \"%s\" != \"%s\"; ", path, json_node_get_string (got),
                                json_node_get_string (want));
      return;
    }
  g_string_append_printf (diff, "%s: unexpected type in the expectation; ", path);
}

static JsonNode *
parse_json (const char *text)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) error = NULL;
  gboolean ok = json_parser_load_from_data (parser, text, -1, &error);
  g_assert_no_error (error);
  g_assert_true (ok);
  return json_node_copy (json_parser_get_root (parser));
}

static void
assert_json_equal (const char *got_text, const char *want_text)
{
  g_autoptr (JsonNode) got = parse_json (got_text);
  g_autoptr (JsonNode) want = parse_json (want_text);
  g_autoptr (GString) diff = g_string_new (NULL);
  json_diff (got, want, "$", diff);
  if (diff->len > 0)
    g_test_fail_printf ("body %s differs from %s: %s", got_text, want_text, diff->str);
}

/* ---- request bodies ----------------------------------------------------- */

/* The request bodies of the API seed's curl examples. */
static const struct { const char *kind; const char *body; } seed_bodies[] = {
  { "ucm", "{\"site_id\": \"sitebba0-79f2-4e9e-a6f0-69a310ab110b\","
           "\"hardware_id\": \"C8795CBA5375484E829105E959663C8B\","
           "\"name\": \"My UCM\", \"protocol\": \"MQTTS\"}" },
  { "vucm", "{\"site_id\": \"sitebba0-79f2-4e9e-a6f0-69a310ab110b\","
            "\"hardware_id\": \"V8795CBA5375484E829105E959663C8B\", \"name\": \"My VUCM\"}" },
  { "embedded", "{\"device_type\": \"ELECTROLYSER\","
                "\"site_id\": \"sitebba0-79f2-4e9e-a6f0-69a310ab110b\","
                "\"hardware_id\": \"BCC415CBA5375484E829105E959663C8B\","
                "\"name\": \"My Electrolyser\", \"protocol\": \"MQTTS\"}" },
  { "link_master", "{\"site_id\": \"sitebba0-79f2-4e9e-a6f0-69a310ab110b\","
                   "\"hardware_id\": \"BCC415CBA5375484E829105E959663C8B\","
                   "\"name\": \"Enapter Link 1\"}" },
  { "link_slave", "{\"site_id\": \"sitebba0-79f2-4e9e-a6f0-69a310ab110b\","
                  "\"hardware_id\": \"435840FFE5CD4E9DA93545DDF7E6D5FB\","
                  "\"name\": \"ENP-AO6 BCC4\","
                  "\"master_device_id\": \"02618484-5c16-4159-998a-ef4acc16666c\"}" },
  { "standalone", "{\"site_id\": \"sitebba0-79f2-4e9e-a6f0-69a310ab110b\","
                  "\"name\": \"My Device\"}" },
  { "lua_device", "{\"runtime_id\": \"ucmbbba0-79f2-4e9e-a6f0-69a310ab110b\","
                  "\"blueprint_id\": \"bluepri1-50n3-4t9d-e6v0-69i310cb110e\","
                  "\"name\": \"Gas sensor\", \"slug\": \"gas-sensor-1\"}" },
  { "gateway", "{\"site_id\": \"fecbbba0-79f2-4e9e-a6f0-69a310ab110b\","
               "\"hardware_id\": \"B27925CBA5375484E829105E959663C8B\","
               "\"gateway_version\": \"3.0.0\", \"site_name\": \"My Site\","
               "\"site_timezone\": \"Europe/Berlin\","
               "\"site_location\": {\"latitude\": 52.520008, \"longitude\": 13.404954}}" },
};

static void
test_build_body_seed (void)
{
  guint n = 0;
  for (size_t i = 0; i < G_N_ELEMENTS (seed_bodies); i++)
    {
      g_autoptr (EpArgs) args = unit_args_seed (seed_bodies[i].kind);
      g_autofree char *body = ep_api_build_body (args);
      g_assert_nonnull (body);
      assert_json_equal (body, seed_bodies[i].body);
      n++;
    }
  g_assert_cmpuint (n, ==, 8);
}

/* The gateway's coordinates are JSON numbers, also when whole or at the
 * limits, and keep their value exactly. */
static void
test_build_body_gateway_numbers (void)
{
  static const double values[][2] = { { 52.0, -180.0 }, { -90, 180 }, { 0, -0.0 },
                                      { 1e-7, 179.99999999999997 } };
  for (size_t i = 0; i < G_N_ELEMENTS (values); i++)
    {
      g_autoptr (EpArgs) args = unit_args_seed ("gateway");
      unit_args_set_num (args, "latitude", values[i][0]);
      unit_args_set_num (args, "longitude", values[i][1]);
      g_autofree char *body = ep_api_build_body (args);
      g_autoptr (JsonNode) root = parse_json (body);
      JsonObject *loc = json_object_get_object_member (json_node_get_object (root),
                                                       "site_location");
      g_assert_nonnull (loc);
      g_assert_cmpuint (json_object_get_size (loc), ==, 2);
      JsonNode *lat = json_object_get_member (loc, "latitude");
      JsonNode *lon = json_object_get_member (loc, "longitude");
      g_assert_true (lat && is_number (lat));
      g_assert_true (lon && is_number (lon));
      g_assert_cmpfloat (number_of (lat), ==, values[i][0]);
      g_assert_cmpfloat (number_of (lon), ==, values[i][1]);
    }
}

/* Names with quotes, backslashes and non-ASCII text survive as strings. */
static void
test_build_body_escaping (void)
{
  static const char *const name = "Quote \" back\\slash / \xc3\xa4\xe9\x9b\xbb \xf0\x9f\x94\x8b";
  g_autoptr (EpArgs) args = unit_args_seed ("standalone");
  unit_args_set (args, "name", name);
  g_autofree char *body = ep_api_build_body (args);
  g_autoptr (JsonNode) root = parse_json (body);
  JsonObject *obj = json_node_get_object (root);
  g_assert_cmpuint (json_object_get_size (obj), ==, 2);
  g_assert_cmpstr (json_object_get_string_member (obj, "name"), ==, name);
}

/* ---- successful responses ---------------------------------------------- */

static EpApiResult *
parse_ok (const char *kind, const char *protocol, const char *body)
{
  g_autoptr (EpArgs) args = unit_args_seed (kind);
  if (protocol != NULL)
    unit_args_set (args, "protocol", protocol);
  g_autoptr (GError) error = NULL;
  EpApiResult *r = ep_api_parse_result (args, body, strlen (body), &error);
  g_assert_no_error (error);
  g_assert_nonnull (r);
  return r;
}

static void
assert_no_config (const EpApiResult *r)
{
  g_assert_false (r->has_config);
  g_assert_null (r->protocol);
  g_assert_null (r->mqtt_host);
  g_assert_null (r->private_key);
  g_assert_null (r->password);
}

/* The seed's response examples, verbatim. */
static void
test_parse_seed_config_kinds (void)
{
  static const char *const ucm =
    "{\"config\": {\"mqtt_host\": \"mqtt.enapter.com\", \"mqtt_port\": 8883,"
    "\"mqtt_credentials\": {\"protocol\": \"MQTTS\", \"private_key\": \"...\","
    "\"certificate\": \"...\", \"ca_chain\": \"...\"},"
    "\"time_sync_protocol\": \"HTTP\", \"time_sync_host\": \"127.0.0.1\","
    "\"time_sync_port\": 80, \"hardware_id\": \"C8795CBA5375484E829105E959663C8B\","
    "\"channel_id\": \"ucm\"},"
    "\"device_id\": \"ucmbbba0-79f2-4e9e-a6f0-69a310ab110b\", \"slug\": \"my-ucm\"}";
  static const char *const embedded =
    "{\"config\": {\"mqtt_host\": \"mqtt.enapter.com\", \"mqtt_port\": 8883,"
    "\"mqtt_credentials\": {\"protocol\": \"MQTTS\", \"private_key\": \"...\","
    "\"certificate\": \"...\", \"ca_chain\": \"...\"},"
    "\"time_sync_protocol\": \"HTTP\", \"time_sync_host\": \"127.0.0.1\","
    "\"time_sync_port\": 80, \"hardware_id\": \"BCC415CBA5375484E829105E959663C8B\","
    "\"channel_id\": \"ucm\"},"
    "\"device_id\": \"elebbba0-79f2-4e9e-a6f0-69a310ab110b\", \"slug\": \"my-electrolyser\"}";
  static const char *const gateway =
    "{\"config\": {\"mqtt_host\": \"mqtt.enapter.com\", \"mqtt_port\": 8883,"
    "\"mqtt_credentials\": {\"protocol\": \"MQTTS\", \"private_key\": \"...\","
    "\"certificate\": \"...\", \"ca_chain\": \"...\"},"
    "\"time_sync_protocol\": \"HTTP\", \"time_sync_host\": \"127.0.0.1\","
    "\"time_sync_port\": 80, \"hardware_id\": \"FGC415CBA5375484E829105E959663C8B\","
    "\"channel_id\": \"gw\"},"
    "\"gateway_device_id\": \"gwcbbba6-79f2-4e9e-a6f0-69a310ab110b\"}";

  g_autoptr (EpApiResult) u = parse_ok ("ucm", NULL, ucm);
  g_assert_cmpstr (u->device_id, ==, "ucmbbba0-79f2-4e9e-a6f0-69a310ab110b");
  g_assert_cmpstr (u->slug, ==, "my-ucm");
  g_assert_true (u->has_config);
  g_assert_cmpstr (u->mqtt_host, ==, "mqtt.enapter.com");
  g_assert_cmpuint (u->mqtt_port, ==, 8883);
  g_assert_cmpstr (u->protocol, ==, "MQTTS");
  g_assert_cmpstr (u->private_key, ==, "...");
  g_assert_cmpstr (u->certificate, ==, "...");
  g_assert_cmpstr (u->ca_chain, ==, "...");
  g_assert_null (u->username);
  g_assert_null (u->password);
  g_assert_cmpstr (u->time_sync_protocol, ==, "HTTP");
  g_assert_cmpstr (u->time_sync_host, ==, "127.0.0.1");
  g_assert_cmpuint (u->time_sync_port, ==, 80);
  g_assert_cmpstr (u->hardware_id, ==, "C8795CBA5375484E829105E959663C8B");
  g_assert_cmpstr (u->channel_id, ==, "ucm");

  g_autoptr (EpApiResult) e = parse_ok ("embedded", NULL, embedded);
  g_assert_cmpstr (e->device_id, ==, "elebbba0-79f2-4e9e-a6f0-69a310ab110b");
  g_assert_cmpstr (e->slug, ==, "my-electrolyser");
  g_assert_cmpuint (e->mqtt_port, ==, 8883);
  g_assert_cmpstr (e->protocol, ==, "MQTTS");
  g_assert_cmpstr (e->hardware_id, ==, "BCC415CBA5375484E829105E959663C8B");

  g_autoptr (EpApiResult) g = parse_ok ("gateway", NULL, gateway);
  g_assert_cmpstr (g->device_id, ==, "gwcbbba6-79f2-4e9e-a6f0-69a310ab110b");
  g_assert_null (g->slug);
  g_assert_true (g->has_config);
  g_assert_cmpstr (g->protocol, ==, "MQTTS");
  g_assert_cmpstr (g->channel_id, ==, "gw");
  g_assert_cmpstr (g->private_key, ==, "...");
}

static void
test_parse_seed_plain_kinds (void)
{
  g_autoptr (EpApiResult) v =
    parse_ok ("vucm", NULL, "{\"device_id\": \"fecbbba0-79f2-4e9e-a6f0-69a310ab110b\"}");
  g_assert_cmpstr (v->device_id, ==, "fecbbba0-79f2-4e9e-a6f0-69a310ab110b");
  g_assert_null (v->slug);
  assert_no_config (v);

  g_autoptr (EpApiResult) m =
    parse_ok ("link_master", NULL, "{\"device_id\": \"02618484-5c16-4159-998a-ef4acc16666c\"}");
  g_assert_cmpstr (m->device_id, ==, "02618484-5c16-4159-998a-ef4acc16666c");
  assert_no_config (m);

  g_autoptr (EpApiResult) s =
    parse_ok ("link_slave", NULL, "{\"device_id\": \"5841fafa-8d10-4103-ba7c-1b818899270f\"}");
  g_assert_cmpstr (s->device_id, ==, "5841fafa-8d10-4103-ba7c-1b818899270f");
  assert_no_config (s);

  g_autoptr (EpApiResult) st = parse_ok (
    "standalone", NULL,
    "{\"device_id\": \"standba0-79f2-4e9e-a6f0-69a310ab110b\", \"slug\": \"my-device\"}");
  g_assert_cmpstr (st->device_id, ==, "standba0-79f2-4e9e-a6f0-69a310ab110b");
  g_assert_cmpstr (st->slug, ==, "my-device");
  assert_no_config (st);

  g_autoptr (EpApiResult) l = parse_ok (
    "lua_device", NULL,
    "{\"device_id\": \"devicea0-45f2-4e9e-a6f0-69a310ab110b\", \"slug\": \"gas-sensor-1\"}");
  g_assert_cmpstr (l->device_id, ==, "devicea0-45f2-4e9e-a6f0-69a310ab110b");
  g_assert_cmpstr (l->slug, ==, "gas-sensor-1");
  assert_no_config (l);
}

/* A UCM response with @port as mqtt_port and @creds as credentials. */
static char *
ucm_body (const char *port, const char *creds)
{
  return g_strdup_printf (
    "{\"config\":{\"mqtt_host\":\"mqtt.enapter.com\",\"mqtt_port\":%s,"
    "\"mqtt_credentials\":%s,\"time_sync_protocol\":\"HTTP\","
    "\"time_sync_host\":\"127.0.0.1\",\"time_sync_port\":80,"
    "\"hardware_id\":\"C8795CBA5375484E829105E959663C8B\",\"channel_id\":\"ucm\"},"
    "\"device_id\":\"ucmbbba0-79f2-4e9e-a6f0-69a310ab110b\",\"slug\":\"my-ucm\"}",
    port, creds);
}

static void
test_parse_credentials (void)
{
  g_autofree char *tls_body = ucm_body ("8883", MQTTS_CREDS);
  g_autoptr (EpApiResult) tls = parse_ok ("ucm", "MQTTS", tls_body);
  g_assert_cmpstr (tls->protocol, ==, "MQTTS");
  g_assert_cmpstr (tls->private_key, ==, PK_CANARY);
  g_assert_cmpstr (tls->certificate, ==, CERT_TEXT);
  g_assert_cmpstr (tls->ca_chain, ==, CA_TEXT);
  g_assert_null (tls->username);
  g_assert_null (tls->password);

  g_autofree char *plain_body = ucm_body ("1883", MQTT_CREDS);
  g_autoptr (EpApiResult) plain = parse_ok ("ucm", "MQTT", plain_body);
  g_assert_cmpstr (plain->protocol, ==, "MQTT");
  g_assert_cmpuint (plain->mqtt_port, ==, 1883);
  g_assert_cmpstr (plain->username, ==, "ucm-user");
  g_assert_cmpstr (plain->password, ==, PW_CANARY);
  g_assert_null (plain->private_key);
  g_assert_null (plain->certificate);
  g_assert_null (plain->ca_chain);

  /* Port boundaries that are valid. */
  g_autofree char *port1 = ucm_body ("1", MQTTS_CREDS);
  g_autoptr (EpApiResult) r1 = parse_ok ("ucm", "MQTTS", port1);
  g_assert_cmpuint (r1->mqtt_port, ==, 1);
  g_autofree char *port_max = ucm_body ("65535", MQTTS_CREDS);
  g_autoptr (EpApiResult) rmax = parse_ok ("ucm", "MQTTS", port_max);
  g_assert_cmpuint (rmax->mqtt_port, ==, 65535);

  /* Embedded devices check the protocol the same way. */
  g_autoptr (EpArgs) emb = unit_args_seed ("embedded");
  unit_args_set (emb, "protocol", "MQTT");
  g_autoptr (GError) error = NULL;
  g_autoptr (EpApiResult) mismatch = ep_api_parse_result (emb, tls_body, strlen (tls_body),
                                                          &error);
  g_assert_null (mismatch);
  g_assert_error (error, EP_ERROR, EP_ERROR_PROTOCOL_ERROR);
}

/* The parser reads @len bytes, not up to a NUL. */
static void
test_parse_respects_length (void)
{
  static const char buf[] = "{\"device_id\":\"abc\"}TRAILING GARBAGE";
  gsize len = strlen ("{\"device_id\":\"abc\"}");
  g_autoptr (EpArgs) args = unit_args_seed ("vucm");
  g_autoptr (GError) error = NULL;
  g_autoptr (EpApiResult) r = ep_api_parse_result (args, buf, len, &error);
  g_assert_no_error (error);
  g_assert_nonnull (r);
  g_assert_cmpstr (r->device_id, ==, "abc");
}

/* A body of exactly @size bytes: @json followed by spaces. */
static char *
padded (const char *json, gsize size)
{
  gsize n = strlen (json);
  g_assert_cmpuint (n, <=, size);
  char *s = g_malloc (size + 1);
  memcpy (s, json, n);
  memset (s + n, ' ', size - n);
  s[size] = '\0';
  return s;
}

static void
test_parse_size_limit (void)
{
  g_autoptr (EpArgs) args = unit_args_seed ("vucm");
  const char *json = "{\"device_id\":\"big\"}";

  g_autofree char *at_limit = padded (json, EP_API_MAX_RESPONSE);
  g_autoptr (GError) e1 = NULL;
  g_autoptr (EpApiResult) ok = ep_api_parse_result (args, at_limit, EP_API_MAX_RESPONSE, &e1);
  g_assert_no_error (e1);
  g_assert_nonnull (ok);
  g_assert_cmpstr (ok->device_id, ==, "big");

  g_autofree char *over = padded (json, EP_API_MAX_RESPONSE + 1);
  g_autoptr (GError) e2 = NULL;
  g_autoptr (EpApiResult) refused =
    ep_api_parse_result (args, over, EP_API_MAX_RESPONSE + 1, &e2);
  g_assert_null (refused);
  g_assert_error (e2, EP_ERROR, EP_ERROR_PROTOCOL_ERROR);
}

/* ---- refused responses ------------------------------------------------- */

typedef struct {
  const char *what;
  const char *kind;
  const char *protocol;   /* request protocol override, or NULL */
  char *body;
} BadCase;

static void
add_bad (GArray *cases, const char *what, const char *kind, const char *protocol, char *body)
{
  BadCase c = { what, kind, protocol, body };
  g_array_append_val (cases, c);
}

static void
clear_bad (gpointer p)
{
  g_free (((BadCase *) p)->body);
}

static void
test_parse_refusals (void)
{
  g_autoptr (GArray) cases = g_array_new (FALSE, FALSE, sizeof (BadCase));
  g_array_set_clear_func (cases, clear_bad);
  g_autofree char *id129 = unit_repeat ('d', 129);

  add_bad (cases, "empty body", "vucm", NULL, g_strdup (""));
  add_bad (cases, "not JSON", "vucm", NULL, g_strdup ("device_id=abc"));
  add_bad (cases, "truncated JSON", "ucm", NULL, g_strdup ("{\"device_id\":\"abc\""));
  add_bad (cases, "JSON array", "vucm", NULL, g_strdup ("[]"));
  add_bad (cases, "JSON array of object", "vucm", NULL, g_strdup ("[{\"device_id\":\"abc\"}]"));
  add_bad (cases, "JSON string", "vucm", NULL, g_strdup ("\"abc\""));
  add_bad (cases, "JSON null", "vucm", NULL, g_strdup ("null"));
  add_bad (cases, "missing device_id", "vucm", NULL, g_strdup ("{}"));
  add_bad (cases, "missing device_id with config", "ucm", NULL,
           g_strdup ("{\"config\":{\"mqtt_host\":\"h\",\"mqtt_port\":8883,\"mqtt_credentials\":"
                     MQTTS_CREDS "},\"slug\":\"my-ucm\"}"));

  static const char *const bad_ids[] = { "\"../x\"", "\"a/b\"", "\"\"", "\".x\"", "\".\"",
                                         "\"..\"", "\"a\\nb\"", "\"a\\u0001b\"", "\"a\\u007f\"",
                                         "\"a\\ud800b\"", "42", "null", "true", "{}",
                                         "[\"abc\"]" };
  for (size_t i = 0; i < G_N_ELEMENTS (bad_ids); i++)
    {
      add_bad (cases, "bad device_id", "vucm", NULL,
               g_strdup_printf ("{\"device_id\":%s}", bad_ids[i]));
      add_bad (cases, "bad gateway_device_id", "gateway", NULL,
               g_strdup_printf ("{\"gateway_device_id\":%s,\"config\":{\"mqtt_host\":\"h\","
                                "\"mqtt_port\":8883,\"mqtt_credentials\":" MQTTS_CREDS "}}",
                                bad_ids[i]));
      add_bad (cases, "bad slug", "standalone", NULL,
               g_strdup_printf ("{\"device_id\":\"abc\",\"slug\":%s}", bad_ids[i]));
    }
  add_bad (cases, "device_id 129 bytes", "vucm", NULL,
           g_strdup_printf ("{\"device_id\":\"%s\"}", id129));
  add_bad (cases, "gateway without gateway_device_id", "gateway", NULL,
           g_strdup ("{\"device_id\":\"gw1\",\"config\":{\"mqtt_host\":\"h\",\"mqtt_port\":8883,"
                     "\"mqtt_credentials\":" MQTTS_CREDS "}}"));
  add_bad (cases, "ucm without config", "ucm", NULL,
           g_strdup ("{\"device_id\":\"abc\",\"slug\":\"my-ucm\"}"));
  add_bad (cases, "ucm config not an object", "ucm", NULL,
           g_strdup ("{\"device_id\":\"abc\",\"slug\":\"my-ucm\",\"config\":\"" PK_CANARY "\"}"));
  add_bad (cases, "ucm without slug", "ucm", NULL,
           g_strdup ("{\"device_id\":\"abc\",\"config\":{\"mqtt_host\":\"h\",\"mqtt_port\":8883,"
                     "\"mqtt_credentials\":" MQTTS_CREDS "}}"));
  add_bad (cases, "gateway without config", "gateway", NULL,
           g_strdup ("{\"gateway_device_id\":\"gw1\"}"));

  static const char *const bad_ports[] = { "0", "65536", "-1", "\"8883\"", "1.5", "8883.0",
                                           "null", "1e10" };
  for (size_t i = 0; i < G_N_ELEMENTS (bad_ports); i++)
    add_bad (cases, "bad mqtt_port", "ucm", "MQTTS", ucm_body (bad_ports[i], MQTTS_CREDS));
  add_bad (cases, "missing mqtt_port", "ucm", "MQTTS",
           g_strdup ("{\"config\":{\"mqtt_host\":\"h\",\"mqtt_credentials\":" MQTTS_CREDS "},"
                     "\"device_id\":\"abc\",\"slug\":\"my-ucm\"}"));
  add_bad (cases, "missing mqtt_host", "ucm", "MQTTS",
           g_strdup ("{\"config\":{\"mqtt_port\":8883,\"mqtt_credentials\":" MQTTS_CREDS "},"
                     "\"device_id\":\"abc\",\"slug\":\"my-ucm\"}"));
  add_bad (cases, "missing credentials", "ucm", "MQTTS", ucm_body ("8883", "null"));

  add_bad (cases, "MQTTS with password", "ucm", "MQTTS",
           ucm_body ("8883", "{\"protocol\":\"MQTTS\",\"private_key\":\"" PK_CANARY "\","
                             "\"certificate\":\"c\",\"ca_chain\":\"a\","
                             "\"password\":\"" PW_CANARY "\"}"));
  add_bad (cases, "MQTT with private_key", "ucm", "MQTT",
           ucm_body ("1883", "{\"protocol\":\"MQTT\",\"username\":\"u\","
                             "\"password\":\"" PW_CANARY "\","
                             "\"private_key\":\"" PK_CANARY "\"}"));
  add_bad (cases, "MQTTS without certificate", "ucm", "MQTTS",
           ucm_body ("8883", "{\"protocol\":\"MQTTS\",\"private_key\":\"" PK_CANARY "\","
                             "\"ca_chain\":\"a\"}"));
  add_bad (cases, "MQTTS with empty private_key", "ucm", "MQTTS",
           ucm_body ("8883", "{\"protocol\":\"MQTTS\",\"private_key\":\"\","
                             "\"certificate\":\"c\",\"ca_chain\":\"a\"}"));
  add_bad (cases, "MQTT without password", "ucm", "MQTT",
           ucm_body ("1883", "{\"protocol\":\"MQTT\",\"username\":\"u\"}"));
  add_bad (cases, "MQTT with numeric password", "ucm", "MQTT",
           ucm_body ("1883", "{\"protocol\":\"MQTT\",\"username\":\"u\",\"password\":12345}"));
  add_bad (cases, "lower-case protocol", "ucm", "MQTTS",
           ucm_body ("8883", "{\"protocol\":\"mqtts\",\"private_key\":\"" PK_CANARY "\","
                             "\"certificate\":\"c\",\"ca_chain\":\"a\"}"));
  add_bad (cases, "MQTTS answer to an MQTT request", "ucm", "MQTT",
           ucm_body ("8883", MQTTS_CREDS));
  add_bad (cases, "MQTT answer to an MQTTS request", "ucm", "MQTTS",
           ucm_body ("1883", MQTT_CREDS));
  add_bad (cases, "lua slug differs", "lua_device", NULL,
           g_strdup ("{\"device_id\":\"devicea0\",\"slug\":\"gas-sensor-2\"}"));
  add_bad (cases, "lua slug missing", "lua_device", NULL, g_strdup ("{\"device_id\":\"devicea0\"}"));

  for (guint i = 0; i < cases->len; i++)
    {
      BadCase *c = &g_array_index (cases, BadCase, i);
      g_autoptr (EpArgs) args = unit_args_seed (c->kind);
      if (c->protocol != NULL)
        unit_args_set (args, "protocol", c->protocol);
      g_autoptr (GError) error = NULL;
      g_autoptr (EpApiResult) r = ep_api_parse_result (args, c->body, strlen (c->body), &error);
      if (r != NULL || error == NULL)
        {
          g_test_fail_printf ("%s (%s): accepted %s", c->what, c->kind, c->body);
          continue;
        }
      if (!g_error_matches (error, EP_ERROR, EP_ERROR_PROTOCOL_ERROR))
        g_test_fail_printf ("%s: wrong error %s/%d: %s", c->what,
                            g_quark_to_string (error->domain), error->code, error->message);
      if (strstr (error->message, PK_CANARY) || strstr (error->message, PW_CANARY))
        g_test_fail_printf ("%s: the message quotes a secret: %s", c->what, error->message);
      if (!unit_is_printable_utf8 (error->message))
        g_test_fail_printf ("%s: the message is not printable UTF-8", c->what);
    }
  g_assert_cmpuint (cases->len, >, 60);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/api/body/seed", test_build_body_seed);
  g_test_add_func ("/api/body/gateway-numbers", test_build_body_gateway_numbers);
  g_test_add_func ("/api/body/escaping", test_build_body_escaping);
  g_test_add_func ("/api/parse/seed-config-kinds", test_parse_seed_config_kinds);
  g_test_add_func ("/api/parse/seed-plain-kinds", test_parse_seed_plain_kinds);
  g_test_add_func ("/api/parse/credentials", test_parse_credentials);
  g_test_add_func ("/api/parse/respects-length", test_parse_respects_length);
  g_test_add_func ("/api/parse/size-limit", test_parse_size_limit);
  g_test_add_func ("/api/parse/refusals", test_parse_refusals);
  return g_test_run ();
}
