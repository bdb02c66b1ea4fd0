/* fuzz-response: ep_api_parse_result on any body, for every kind.
 *
 * Input: byte 0 picks the request (bits 0-2: the kind, in the order of
 * ep_kinds[]; bit 3: the requested protocol, MQTTS when set, MQTT when clear,
 * for kinds that have one). The rest is the 2xx response body.
 *
 * Invariants: no crash, leak or sanitizer report; a result exactly when no
 * error; only a body that is one strict JSON text (RFC 8259) is accepted;
 * errors are ProtocolError with bus-safe text that quotes no secret;
 * a result's device_id and slug are plain names that cannot escape the
 * keystore, its credentials match the protocol asked for, every field
 * the daemon puts on the bus is text sd-bus accepts, and every field is
 * present exactly where the field table (fields.h) says. */
#include "fuzz-common.h"

#include "api.h"
#include "fields.h"
#include "json-check.h"
#include "errors.h"
#include "validate.h"

#include <json-glib/json-glib.h>

/* Plausible call arguments (the seed's examples) by argument name. */
static const char *
seed_value (const char *arg, gboolean tls)
{
  static const struct {
    const char *name, *value;
  } values[] = {
    { "site_id", "sitebba0-79f2-4e9e-a6f0-69a310ab110b" },
    { "hardware_id", "C8795CBA5375484E829105E959663C8B" },
    { "name", "My UCM" },
    { "device_type", "ELECTROLYSER" },
    { "master_device_id", "02618484-5c16-4159-998a-ef4acc16666c" },
    { "runtime_id", "ucmbbba0-79f2-4e9e-a6f0-69a310ab110b" },
    { "blueprint_id", "bluepri1-50n3-4t9d-e6v0-69i310cb110e" },
    { "slug", "gas-sensor-1" },
    { "gateway_version", "3.0.0" },
    { "site_name", "My Site" },
    { "site_timezone", "Europe/Berlin" },
  };
  if (strcmp (arg, "protocol") == 0)
    return tls ? "MQTTS" : "MQTT";
  for (size_t i = 0; i < G_N_ELEMENTS (values); i++)
    if (strcmp (values[i].name, arg) == 0)
      return values[i].value;
  return NULL;
}

static EpArgs *
make_args (const EpKind *kind, gboolean tls)
{
  EpArgs *args = ep_args_new (kind);
  for (guint i = 0; i < ep_kind_n_args (kind); i++)
    {
      const EpArg *arg = &kind->args[i];
      if (arg->type == 'd')
        args->num[i] = arg->rule == EP_RULE_LATITUDE ? 52.520008 : 13.404954;
      else
        args->str[i] = g_strdup (seed_value (arg->name, tls));
    }
  return args;
}

/* The plain-name rule of README "Keystore", written out independently of
 * ep_is_plain_name: 1-128 bytes, UTF-8, no '/', no leading '.', no control
 * characters (so also never "." or ".."). */
static gboolean
plain_name_oracle (const char *s)
{
  size_t n = strlen (s);
  if (n < 1 || n > 128 || s[0] == '.' || memchr (s, '/', n) != NULL ||
      !g_utf8_validate (s, (gssize) n, NULL))
    return FALSE;
  for (size_t i = 0; i < n; i++)
    if ((unsigned char) s[i] < 0x20 || s[i] == 0x7f)
      return FALSE;
  return fuzz_no_controls (s);
}

/* A JSON string member by dotted path, read independently of the daemon. */
static const char *
json_path_string (JsonNode *root, const char *path)
{
  g_auto (GStrv) parts = g_strsplit (path, ".", -1);
  JsonNode *node = root;
  for (size_t i = 0; parts[i] && node; i++)
    node = JSON_NODE_HOLDS_OBJECT (node)
             ? json_object_get_member (json_node_get_object (node), parts[i])
             : NULL;
  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) ||
      json_node_get_value_type (node) != G_TYPE_STRING)
    return NULL;
  return json_node_get_string (node);
}

/* The parser's own words: member names and the phrases of its messages. A
 * secret that happens to be one of them (a password "time_sync_protocol")
 * is named by the message, not quoted from the response. */
static const char *const parser_words[] = {
  "the API answered with an unusable response: ", "config.mqtt_credentials.", "config.",
  "gateway_device_id", "device_id", "slug", "mqtt_host", "mqtt_port", "mqtt_credentials",
  "protocol", "username", "password", "private_key", "certificate", "ca_chain",
  "time_sync_protocol", "time_sync_host", "time_sync_port", "hardware_id", "channel_id",
  "config", " is not a string", " is missing", " is empty or not printable text",
  " is not a port number from 1 to 65535", " is not an object",
  " is not a plain name (1-128 bytes, no '/', no leading '.', no control characters)",
  " is neither MQTT nor MQTTS", " credentials were returned for a ", " request",
  " credentials carry ", "MQTTS", "MQTT", "slug differs from the requested one",
  "not a JSON object", "not JSON", "larger than ", " bytes", "a string ", "a number ",
  "an object member has no name", "nested too deeply",
};

static gint
longer_first (gconstpointer a, gconstpointer b)
{
  size_t la = strlen (*(const char *const *) a), lb = strlen (*(const char *const *) b);
  return la < lb ? 1 : la > lb ? -1 : 0;
}

/* @message less every occurrence of the parser's own words, longest first. */
static char *
without_parser_words (const char *message)
{
  static const char *sorted[G_N_ELEMENTS (parser_words)];
  if (sorted[0] == NULL)
    {
      memcpy (sorted, parser_words, sizeof parser_words);
      qsort (sorted, G_N_ELEMENTS (sorted), sizeof sorted[0],
             (int (*) (const void *, const void *)) longer_first);
    }
  GString *rest = g_string_new (message);
  for (size_t i = 0; i < G_N_ELEMENTS (sorted); i++)
    {
      char *hit;
      while ((hit = strstr (rest->str, sorted[i])) != NULL)
        g_string_erase (rest, hit - rest->str, (gssize) strlen (sorted[i]));
    }
  return g_string_free (rest, FALSE);
}

static void
check_secret_not_quoted (const char *message, const char *secret, const char *what)
{
  /* Very short values occur in any text by chance; they prove nothing. */
  if (secret == NULL || strlen (secret) < 6)
    return;
  g_autofree char *rest = without_parser_words (message);
  FUZZ_CHECK ("no-secret-in-error", strstr (rest, secret) == NULL,
              "the error message quotes the %s", what);
}

static void
check_error (const GError *error, JsonNode *json)
{
  FUZZ_CHECK ("error-code", error->domain == EP_ERROR && error->code == EP_ERROR_PROTOCOL_ERROR,
              "parse failure is not ProtocolError (domain %s, code %d): %s",
              g_quark_to_string (error->domain), error->code, error->message);
  fuzz_check_bus_text ("the error message", error->message);
  if (json == NULL)
    return;
  check_secret_not_quoted (error->message,
                           json_path_string (json, "config.mqtt_credentials.password"),
                           "password");
  check_secret_not_quoted (error->message,
                           json_path_string (json, "config.mqtt_credentials.private_key"),
                           "private key");
}

static void
check_port (const char *what, guint port, gboolean optional)
{
  FUZZ_CHECK ("port", (optional && port == 0) || (port >= 1 && port <= 65535),
              "%s is %u", what, port);
}

static void
check_optional_text (const char *what, const char *s)
{
  if (s == NULL)
    return;
  FUZZ_CHECK ("text-length", *s != '\0' && strlen (s) <= 255, "%s is empty or over 255 bytes",
              what);
  fuzz_check_bus_text (what, s);
}

static void
check_config (const EpArgs *args, const EpApiResult *r)
{
  const EpKind *kind = args->kind;
  if (!kind->has_config)
    {
      FUZZ_CHECK ("no-config", !r->has_config && !r->mqtt_host && !r->protocol && !r->username &&
                                 !r->password && !r->private_key && !r->certificate &&
                                 !r->ca_chain,
                  "kind %s has no config, yet the result carries one", kind->kind);
      return;
    }
  FUZZ_CHECK ("config", r->has_config && r->mqtt_host && r->protocol,
              "kind %s: result without config, mqtt_host or protocol", kind->kind);
  if (!r->has_config || !r->mqtt_host || !r->protocol)
    return;
  check_optional_text ("config.mqtt_host", r->mqtt_host);
  check_port ("config.mqtt_port", r->mqtt_port, FALSE);
  check_port ("config.time_sync_port", r->time_sync_port, TRUE);
  check_optional_text ("config.time_sync_protocol", r->time_sync_protocol);
  check_optional_text ("config.time_sync_host", r->time_sync_host);
  check_optional_text ("config.hardware_id", r->hardware_id);
  check_optional_text ("config.channel_id", r->channel_id);

  gboolean tls = strcmp (r->protocol, "MQTTS") == 0;
  FUZZ_CHECK ("protocol", tls || strcmp (r->protocol, "MQTT") == 0, "protocol is neither");
  const char *asked = ep_args_role (args, EP_ARG_PROTOCOL);
  FUZZ_CHECK ("protocol-asked", asked == NULL || strcmp (asked, r->protocol) == 0,
              "%s credentials accepted for a %s request", r->protocol, asked);
  if (tls)
    FUZZ_CHECK ("credentials", r->private_key && *r->private_key && r->certificate &&
                                 *r->certificate && r->ca_chain && *r->ca_chain &&
                                 !r->username && !r->password,
                "MQTTS result without a full key set, or with MQTT credentials");
  else
    FUZZ_CHECK ("credentials", r->username && r->password && *r->password && !r->private_key &&
                                 !r->certificate && !r->ca_chain,
                "MQTT result without username and password, or with MQTTS credentials");
  if (r->username)
    check_optional_text ("config.mqtt_credentials.username", r->username);
}

/* The field table's promises, row by row, so a new row is checked too: a
 * field is present only where it applies, required ones are present, and
 * those marked as bus text are. */
static void
check_fields (const EpArgs *args, const EpApiResult *r)
{
  const char *protocol = r->protocol;
  for (size_t i = 0; i < EP_N_FIELDS; i++)
    {
      const EpField *f = &ep_fields[i];
      if (f->response == NULL)
        continue;
      gboolean port = f->type == EP_VALUE_PORT;
      const char *text = port ? NULL : ep_api_result_text (r, i);
      gboolean present = port ? ep_api_result_port (r, i) != 0 : text != NULL;
      gboolean applies = ep_field_applies (f, args->kind, protocol);
      FUZZ_CHECK ("field-applies", applies || !present, "%s is set for a %s %s answer",
                  f->response, args->kind->kind, protocol ? protocol : "");
      FUZZ_CHECK ("field-required", !applies || f->optional || present, "%s is missing",
                  f->response);
      if (text != NULL && f->display)
        check_optional_text (f->response, text);
      if (text != NULL)
        FUZZ_CHECK ("field-nonempty", *text != '\0', "%s is empty", f->response);
    }
}

static void
check_result (const EpArgs *args, const EpApiResult *r, JsonNode *json, const char *body,
              size_t len)
{
  const EpKind *kind = args->kind;
  /* json-glib is lenient (several top-level values, comments, single quotes,
   * hex and leading-zero numbers, raw control characters in strings); the
   * API promises JSON, and anything else is a ProtocolError. */
  FUZZ_CHECK ("strict-json", fuzz_json_strict (body, len) != FUZZ_JSON_NO,
              "a body that is not one RFC 8259 JSON text was accepted");
  FUZZ_CHECK ("device-id", r->device_id != NULL, "result without device_id");
  if (r->device_id == NULL)
    return;
  FUZZ_CHECK ("plain-name", ep_is_plain_name (r->device_id) && plain_name_oracle (r->device_id),
              "device_id '%s' is not a plain name", r->device_id);
  fuzz_check_bus_text ("device_id", r->device_id);
  FUZZ_CHECK ("device-id-source", json && g_strcmp0 (json_path_string (json, kind->id_field),
                                                     r->device_id) == 0,
              "device_id is not the response's %s member", kind->id_field);

  if (kind->has_slug)
    {
      FUZZ_CHECK ("slug", r->slug != NULL, "kind %s: result without slug", kind->kind);
      if (r->slug != NULL)
        {
          FUZZ_CHECK ("plain-name", ep_is_plain_name (r->slug) && plain_name_oracle (r->slug),
                      "slug '%s' is not a plain name", r->slug);
          fuzz_check_bus_text ("slug", r->slug);
          const char *asked = ep_args_role (args, EP_ARG_SLUG);
          FUZZ_CHECK ("slug-asked", asked == NULL || strcmp (asked, r->slug) == 0,
                      "slug '%s' accepted for a request of '%s'", r->slug, asked);
        }
    }
  else
    FUZZ_CHECK ("slug", r->slug == NULL, "kind %s has no slug, yet the result has one",
                kind->kind);
  check_config (args, r);
  check_fields (args, r);
}

FUZZ_JSON_GLIB_LEAK_FILTER

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  fuzz_setup ();
  return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  static FuzzGuarded guard;
  if (size < 1)
    return 0;
  const EpKind *kind = &ep_kinds[data[0] & 7];
  g_autoptr (EpArgs) args = make_args (kind, (data[0] & 8) != 0);
  g_autoptr (GError) check = NULL;
  FUZZ_CHECK ("harness", ep_validate_args (args, &check), "seed arguments invalid: %s",
              check ? check->message : "?");

  const char *body = fuzz_guarded_copy (&guard, data + 1, size - 1);
  g_autoptr (GError) error = NULL;
  g_autoptr (EpApiResult) result = ep_api_parse_result (args, body, size - 1, &error);
  FUZZ_CHECK ("result-xor-error", (result == NULL) != (error == NULL),
              "result %p with error %p", (void *) result, (void *) error);

  /* An independent reading of the body, for the cross-checks; json-glib
   * itself overflows the stack on deep nesting, so only well-formed JSON. */
  g_autoptr (JsonParser) parser = json_parser_new_immutable ();
  JsonNode *json = NULL;
  if (size - 1 <= EP_API_MAX_RESPONSE && ep_json_check (body, size - 1, FALSE, NULL) &&
      json_parser_load_from_data (parser, body, (gssize) (size - 1), NULL))
    json = json_parser_get_root (parser);

  if (error != NULL)
    check_error (error, json);
  if (result != NULL)
    check_result (args, result, json, body, size - 1);
  return 0;
}
