#include "api.h"

#include "errors.h"
#include "json-check.h"
#include "json-util.h"
#include "redact.h"
#include "validate.h"

#include <json-glib/json-glib.h>
#include <string.h>

#define MAX_ERROR_TEXT 2048
#define MAX_ONE_MESSAGE 512

/* ---- request ---------------------------------------------------------- */

/* The object that holds the last segment of @path, created on the way. */
static JsonObject *
object_for_path (JsonObject *root, const char *path, const char **leaf)
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

char *
ep_api_build_body (const EpArgs *args)
{
  const EpKind *kind = args->kind;
  g_autoptr (JsonObject) root = json_object_new ();
  for (guint i = 0; i < ep_kind_n_args (kind); i++)
    {
      const EpArg *arg = &kind->args[i];
      const char *leaf;
      JsonObject *obj = object_for_path (root, arg->json ? arg->json : arg->name, &leaf);
      if (arg->type == 'd')
        json_object_set_double_member (obj, leaf, args->num[i]);
      else
        json_object_set_string_member (obj, leaf, args->str[i]);
    }
  g_autoptr (JsonNode) node = json_node_init_object (json_node_alloc (), root);
  return json_to_string (node, FALSE);
}

/* ---- response --------------------------------------------------------- */

static gboolean
fail (GError **error, const char *fmt, ...) G_GNUC_PRINTF (2, 3);

static gboolean
fail (GError **error, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  g_autofree char *msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  g_set_error (error, EP_ERROR, EP_ERROR_PROTOCOL_ERROR,
               "the API answered with an unusable response: %s", msg);
  return FALSE;
}

/* Text that may be shown on the bus: valid UTF-8, no control characters and
 * no noncharacters. */
static gboolean
is_display_text (const char *s, gsize max)
{
  gsize n = strlen (s);
  return n > 0 && n <= max && ep_is_plain_text (s);
}

static JsonNode *
member (JsonObject *obj, const char *name)
{
  return obj ? json_object_get_member (obj, name) : NULL;
}

/* A required (or, with @optional, absent-or-valid) non-empty string member.
 * With @display it must be text the bus can show; otherwise (secrets among
 * them) it is checked for type and emptiness only. Values are never quoted. */
static gboolean
take_string (JsonObject *obj, const char *where, const char *name, gboolean optional,
             gboolean display, char **out, GError **error)
{
  JsonNode *node = member (obj, name);
  if (node == NULL && optional)
    return TRUE;
  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) ||
      json_node_get_value_type (node) != G_TYPE_STRING)
    return fail (error, "%s%s is %s", where, name, node ? "not a string" : "missing");
  const char *s = json_node_get_string (node);
  if (display ? !is_display_text (s, 255) : *s == '\0')
    return fail (error, "%s%s is empty or not printable text", where, name);
  *out = g_strdup (s);
  return TRUE;
}

static gboolean
take_port (JsonObject *obj, const char *where, const char *name, gboolean optional, guint *out,
           GError **error)
{
  JsonNode *node = member (obj, name);
  if (node == NULL && optional)
    return TRUE;
  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) ||
      json_node_get_value_type (node) != G_TYPE_INT64 || json_node_get_int (node) < 1 ||
      json_node_get_int (node) > 65535)
    return fail (error, "%s%s is not a port number from 1 to 65535", where, name);
  *out = (guint) json_node_get_int (node);
  return TRUE;
}

static JsonObject *
take_object (JsonObject *obj, const char *where, const char *name, GError **error)
{
  JsonNode *node = member (obj, name);
  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
    {
      fail (error, "%s%s is %s", where, name, node ? "not an object" : "missing");
      return NULL;
    }
  return json_node_get_object (node);
}

/* A name that becomes a keystore path component, or is shown on the bus. */
static gboolean
take_plain_name (JsonObject *obj, const char *name, char **out, GError **error)
{
  if (!take_string (obj, "", name, FALSE, FALSE, out, error))
    return FALSE;
  if (!ep_is_plain_name (*out))
    return fail (error, "%s is not a plain name (1-128 bytes, no '/', no leading '.', no "
                 "control characters)", name);
  return TRUE;
}

static gboolean
parse_credentials (JsonObject *config, const EpArgs *args, EpApiResult *r, GError **error)
{
  const char *where = "config.mqtt_credentials.";
  JsonObject *creds = take_object (config, "config.", "mqtt_credentials", error);
  if (creds == NULL || !take_string (creds, where, "protocol", FALSE, TRUE, &r->protocol, error))
    return FALSE;

  gboolean tls = strcmp (r->protocol, "MQTTS") == 0;
  if (!tls && strcmp (r->protocol, "MQTT") != 0)
    return fail (error, "%sprotocol is neither MQTT nor MQTTS", where);
  const char *asked = ep_args_get (args, "protocol");
  if (asked != NULL && strcmp (asked, r->protocol) != 0)
    return fail (error, "%s credentials were returned for a %s request", r->protocol, asked);

  /* Credentials must be exactly those of the protocol: a stray password next
   * to a key means the response is not what the API documents. */
  static const char *const mqtt[] = { "username", "password", NULL };
  static const char *const mqtts[] = { "private_key", "certificate", "ca_chain", NULL };
  const char *const *other = tls ? mqtt : mqtts;
  for (size_t i = 0; other[i]; i++)
    if (json_object_has_member (creds, other[i]))
      return fail (error, "%s credentials carry %s", r->protocol, other[i]);

  if (tls)
    return take_string (creds, where, "private_key", FALSE, FALSE, &r->private_key, error) &&
           take_string (creds, where, "certificate", FALSE, FALSE, &r->certificate, error) &&
           take_string (creds, where, "ca_chain", FALSE, FALSE, &r->ca_chain, error);
  return take_string (creds, where, "username", FALSE, TRUE, &r->username, error) &&
         take_string (creds, where, "password", FALSE, FALSE, &r->password, error);
}

static gboolean
parse_config (JsonObject *root, const EpArgs *args, EpApiResult *r, GError **error)
{
  const char *where = "config.";
  JsonObject *config = take_object (root, "", "config", error);
  r->has_config = TRUE;
  return config != NULL &&
         take_string (config, where, "mqtt_host", FALSE, TRUE, &r->mqtt_host, error) &&
         take_port (config, where, "mqtt_port", FALSE, &r->mqtt_port, error) &&
         parse_credentials (config, args, r, error) &&
         take_string (config, where, "time_sync_protocol", TRUE, TRUE, &r->time_sync_protocol,
                      error) &&
         take_string (config, where, "time_sync_host", TRUE, TRUE, &r->time_sync_host, error) &&
         take_port (config, where, "time_sync_port", TRUE, &r->time_sync_port, error) &&
         take_string (config, where, "hardware_id", TRUE, TRUE, &r->hardware_id, error) &&
         take_string (config, where, "channel_id", TRUE, TRUE, &r->channel_id, error);
}

EpApiResult *
ep_api_parse_result (const EpArgs *args, const char *body, gsize len, GError **error)
{
  const EpKind *kind = args->kind;
  if (len > EP_API_MAX_RESPONSE)
    {
      fail (error, "larger than %d bytes", EP_API_MAX_RESPONSE);
      return NULL;
    }
  const char *problem = NULL;
  if (!ep_json_check (body, len, TRUE, &problem))
    {
      fail (error, "%s", problem);
      return NULL;
    }
  g_autoptr (JsonParser) parser = json_parser_new_immutable ();
  if (!json_parser_load_from_data (parser, body, (gssize) len, NULL))
    {
      fail (error, "not JSON");
      return NULL;
    }
  JsonNode *node = json_parser_get_root (parser);
  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
    {
      fail (error, "not a JSON object");
      return NULL;
    }
  JsonObject *root = json_node_get_object (node);

  g_autoptr (EpApiResult) r = g_new0 (EpApiResult, 1);
  if (!take_plain_name (root, kind->id_field, &r->device_id, error))
    return NULL;
  if (kind->has_slug)
    {
      if (!take_plain_name (root, "slug", &r->slug, error))
        return NULL;
      const char *asked = ep_args_get (args, "slug");
      if (asked != NULL && strcmp (asked, r->slug) != 0)
        {
          fail (error, "slug differs from the requested one");
          return NULL;
        }
    }
  if (kind->has_config && !parse_config (root, args, r, error))
    return NULL;
  return g_steal_pointer (&r);
}

void
ep_api_result_free (EpApiResult *r)
{
  if (r == NULL)
    return;
  g_free (r->device_id);
  g_free (r->slug);
  g_free (r->mqtt_host);
  g_free (r->protocol);
  g_free (r->username);
  ep_secret_free (r->password);
  ep_secret_free (r->private_key);
  g_free (r->certificate);
  g_free (r->ca_chain);
  g_free (r->time_sync_protocol);
  g_free (r->time_sync_host);
  g_free (r->hardware_id);
  g_free (r->channel_id);
  g_free (r);
}

const char *
ep_api_result_holding_secret (const EpApiResult *r)
{
  const struct { const char *name; const char *value; } fields[] = {
    { "device_id", r->device_id }, { "slug", r->slug }, { "mqtt_host", r->mqtt_host },
    { "protocol", r->protocol }, { "username", r->username }, { "password", r->password },
    { "private_key", r->private_key }, { "certificate", r->certificate },
    { "ca_chain", r->ca_chain }, { "time_sync_protocol", r->time_sync_protocol },
    { "time_sync_host", r->time_sync_host }, { "hardware_id", r->hardware_id },
    { "channel_id", r->channel_id },
  };
  for (size_t i = 0; i < G_N_ELEMENTS (fields); i++)
    if (ep_redact_needed (fields[i].value))
      return fields[i].name;
  return NULL;
}

/* ---- error bodies ----------------------------------------------------- */

/* Appends @s as printable text: invalid UTF-8 and control characters become
 * replacement characters or spaces, and at most @max bytes are kept. */
static void
append_sanitised (GString *out, const char *s, gsize max)
{
  g_autofree char *valid = g_utf8_make_valid (s, -1);
  gsize start = out->len;
  for (const char *p = valid; *p; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);
      if (out->len - start + 6 > max)
        {
          g_string_append (out, "…");
          return;
        }
      g_string_append_unichar (out, g_unichar_iscntrl (c) ? ' '
                                    : ep_unichar_is_plain (c) ? c : 0xFFFD);
    }
}

char *
ep_api_error_text (const char *body, gsize len)
{
  if (body == NULL || len == 0 || len > EP_API_MAX_RESPONSE || !ep_json_check (body, len, FALSE, NULL))
    return NULL;
  g_autoptr (JsonParser) parser = json_parser_new_immutable ();
  if (!json_parser_load_from_data (parser, body, (gssize) len, NULL))
    return NULL;
  JsonNode *root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    return NULL;
  JsonNode *errors = json_object_get_member (json_node_get_object (root), "errors");
  if (errors == NULL || !JSON_NODE_HOLDS_ARRAY (errors))
    return NULL;

  g_autoptr (GString) text = g_string_new (NULL);
  JsonArray *array = json_node_get_array (errors);
  for (guint i = 0; i < json_array_get_length (array) && text->len < MAX_ERROR_TEXT; i++)
    {
      JsonNode *item = json_array_get_element (array, i);
      if (!JSON_NODE_HOLDS_OBJECT (item))
        continue;
      JsonObject *obj = json_node_get_object (item);
      const char *message = ep_json_string (obj, "message");
      const char *code = ep_json_string (obj, "code");
      if (message == NULL && code == NULL)
        continue;
      if (text->len > 0)
        g_string_append (text, "; ");
      /* Redacted before they are cut: a cut token would no longer match. */
      g_autofree char *shown_message = ep_redact (message);
      g_autofree char *shown_code = ep_redact (code);
      append_sanitised (text, message ? shown_message : shown_code, MAX_ONE_MESSAGE);
      if (message != NULL && code != NULL)
        {
          g_string_append (text, " (");
          append_sanitised (text, shown_code, 64);
          g_string_append (text, ")");
        }
    }
  return text->len > 0 ? g_string_free (g_steal_pointer (&text), FALSE) : NULL;
}
