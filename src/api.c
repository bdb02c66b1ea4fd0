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

char *
ep_api_build_body (const EpArgs *args)
{
  const EpKind *kind = args->kind;
  g_autoptr (JsonObject) root = json_object_new ();
  for (guint i = 0; i < ep_kind_n_args (kind); i++)
    {
      const EpArg *arg = &kind->args[i];
      if (ep_arg_in_path (arg))
        continue;
      const char *leaf;
      JsonObject *obj = ep_json_object_for_path (root, arg->json ? arg->json : arg->name, &leaf);
      if (arg->type == 'd')
        json_object_set_double_member (obj, leaf, args->num[i]);
      else
        json_object_set_string_member (obj, leaf, args->str[i]);
    }
  g_autoptr (JsonNode) node = json_node_init_object (json_node_alloc (), root);
  return json_to_string (node, FALSE);
}

char *
ep_api_build_path (const EpArgs *args)
{
  const EpKind *kind = args->kind;
  g_autoptr (GString) path = g_string_new (kind->endpoint);
  for (guint i = 0; i < ep_kind_n_args (kind); i++)
    {
      if (!ep_arg_in_path (&kind->args[i]))
        continue;
      g_autofree char *name = g_strdup_printf ("{%s}", kind->args[i].name);
      g_autofree char *value = g_uri_escape_string (args->str[i], NULL, FALSE);
      g_string_replace (path, name, value, 1);
    }
  return g_string_free (g_steal_pointer (&path), FALSE);
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

/* The object holding the last segment of @path (set in @leaf): every object
 * on the way must be there. */
static JsonObject *
parent_of (JsonObject *root, const char *path, const char **leaf, GError **error)
{
  JsonObject *obj = root;
  const char *p = path;
  const char *dot;
  for (; (dot = strchr (p, '.')) != NULL; p = dot + 1)
    {
      g_autofree char *name = g_strndup (p, dot - p);
      JsonNode *node = json_object_get_member (obj, name);
      if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
        {
          fail (error, "%.*s is %s", (int) (dot - path), path,
                node ? "not an object" : "missing");
          return NULL;
        }
      obj = json_node_get_object (node);
    }
  *leaf = p;
  return obj;
}

/* A non-empty string. With @display it must be text the bus can show;
 * otherwise (secrets among them) it is checked for type and emptiness only.
 * Values are never quoted. */
static gboolean
take_string (JsonNode *node, const char *path, gboolean display, char **out, GError **error)
{
  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) ||
      json_node_get_value_type (node) != G_TYPE_STRING)
    return fail (error, "%s is %s", path, node ? "not a string" : "missing");
  const char *s = json_node_get_string (node);
  if (display ? !is_display_text (s, 255) : *s == '\0')
    return fail (error, "%s is empty or not printable text", path);
  *out = g_strdup (s);
  return TRUE;
}

static gboolean
take_port (JsonNode *node, const char *path, guint *out, GError **error)
{
  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) ||
      json_node_get_value_type (node) != G_TYPE_INT64 || json_node_get_int (node) < 1 ||
      json_node_get_int (node) > 65535)
    return fail (error, "%s is not a port number from 1 to 65535", path);
  *out = (guint) json_node_get_int (node);
  return TRUE;
}

/* Credentials must be exactly those of the protocol: a stray password next
 * to a key means the response is not what the API documents. */
static gboolean
refuse_other_credentials (JsonObject *root, const EpKind *kind, const char *protocol,
                          GError **error)
{
  for (size_t i = 0; i < EP_N_FIELDS; i++)
    {
      const EpField *f = &ep_fields[i];
      if (f->response == NULL || (f->when != EP_WHEN_MQTT && f->when != EP_WHEN_MQTTS) ||
          ep_field_applies (f, kind, protocol))
        continue;
      const char *leaf;
      JsonObject *obj = parent_of (root, f->response, &leaf, NULL);
      if (obj != NULL && json_object_has_member (obj, leaf))
        return fail (error, "%s credentials carry %s", protocol, leaf);
    }
  return TRUE;
}

/* The value's own rule, and the call's argument it must repeat. */
static gboolean
check_value (JsonObject *root, const EpArgs *args, const EpField *f, const char *path,
             const char *value, GError **error)
{
  if (f->type == EP_VALUE_PLAIN_NAME && !ep_is_plain_name (value))
    return fail (error, "%s is not a plain name (1-128 bytes, no '/', no leading '.', no "
                 "control characters)", path);
  /* The message names each protocol: a third one needs other words. */
  G_STATIC_ASSERT (EP_N_PROTOCOLS == 2);
  if (f->type == EP_VALUE_PROTOCOL && !g_strv_contains (ep_protocols, value))
    return fail (error, "%s is neither %s nor %s", path, ep_protocols[EP_PROTOCOL_MQTT],
                 ep_protocols[EP_PROTOCOL_MQTTS]);
  const char *asked = f->asked != EP_ARG_PLAIN ? ep_args_role (args, f->asked) : NULL;
  if (asked != NULL && strcmp (asked, value) != 0)
    return f->type == EP_VALUE_PROTOCOL
               ? fail (error, "%s credentials were returned for a %s request", value, asked)
               : fail (error, "%s differs from the requested one", path);
  if (f->type == EP_VALUE_PROTOCOL)
    return refuse_other_credentials (root, args->kind, value, error);
  return TRUE;
}

/* The member at @path, or NULL when it (or an object on the way) is absent. */
static JsonNode *
find_member (JsonObject *root, const char *path)
{
  const char *leaf;
  JsonObject *obj = path ? parent_of (root, path, &leaf, NULL) : NULL;
  return obj ? json_object_get_member (obj, leaf) : NULL;
}

/* A field the answer may carry in two places (EpField.also): the one that is
 * there; where both are, they must be the same string. */
static gboolean
take_either (JsonObject *root, const EpField *f, JsonNode **node, const char **path,
             GError **error)
{
  JsonNode *also = find_member (root, f->also);
  if (also == NULL)
    return TRUE;
  if (*node == NULL)
    {
      *node = also;
      *path = f->also;
      return TRUE;
    }
  if (JSON_NODE_HOLDS_VALUE (*node) && JSON_NODE_HOLDS_VALUE (also) &&
      json_node_get_value_type (*node) == G_TYPE_STRING &&
      json_node_get_value_type (also) == G_TYPE_STRING &&
      g_strcmp0 (json_node_get_string (*node), json_node_get_string (also)) == 0)
    return TRUE;
  return fail (error, "%s and %s disagree", f->response, f->also);
}

/* One answer field into its member of @r. */
static gboolean
take_field (JsonObject *root, const EpArgs *args, const EpField *f, EpApiResult *r,
            GError **error)
{
  if (f->path_from_kind && args->kind->id_field == NULL)
    {
      /* A call on a stored device: its answer does not name it. */
      char **out = G_STRUCT_MEMBER_P (r, f->offset);
      *out = g_strdup (ep_args_role (args, EP_ARG_DEVICE_ID));
      return TRUE;
    }
  const char *path = f->path_from_kind ? args->kind->id_field : f->response;
  const char *leaf;
  JsonObject *obj = parent_of (root, path, &leaf, error);
  JsonNode *node = obj ? json_object_get_member (obj, leaf) : NULL;
  /* With a second place, the usual one may be missing altogether. */
  if (f->also != NULL && obj == NULL)
    g_clear_error (error);
  if (obj == NULL && f->also == NULL)
    return FALSE;
  if (f->also != NULL && !take_either (root, f, &node, &path, error))
    return FALSE;
  if (node == NULL && f->optional)
    return TRUE;
  if (f->type == EP_VALUE_PORT)
    return take_port (node, path, G_STRUCT_MEMBER_P (r, f->offset), error);
  char **out = G_STRUCT_MEMBER_P (r, f->offset);
  return take_string (node, path, f->display, out, error) &&
         check_value (root, args, f, path, *out, error);
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
  r->has_config = kind->has_config;
  const char *protocol = NULL;
  for (size_t i = 0; i < EP_N_FIELDS; i++)
    {
      const EpField *f = &ep_fields[i];
      if (f->response == NULL || !ep_field_applies (f, kind, protocol))
        continue;
      if (!take_field (root, args, f, r, error))
        return NULL;
      if (f->type == EP_VALUE_PROTOCOL)
        protocol = ep_api_result_text (r, i);
    }
  return g_steal_pointer (&r);
}

/* The member of @r for the field @f, of type @type (any text type is
 * EP_VALUE_TEXT here). */
static gpointer
member_of (const EpApiResult *r, const EpField *f, EpValueType type)
{
  g_assert (ep_field_in_result (f));
  g_assert (ep_field_is_text (f) ? type == EP_VALUE_TEXT : f->type == type);
  return G_STRUCT_MEMBER_P (r, f->offset);
}

const char *
ep_api_result_text (const EpApiResult *r, EpFieldId id)
{
  return *(const char **) member_of (r, &ep_fields[id], EP_VALUE_TEXT);
}

guint
ep_api_result_port (const EpApiResult *r, EpFieldId id)
{
  return *(guint *) member_of (r, &ep_fields[id], EP_VALUE_PORT);
}

gint64
ep_api_result_time (const EpApiResult *r, EpFieldId id)
{
  return *(gint64 *) member_of (r, &ep_fields[id], EP_VALUE_TIME);
}

void
ep_api_result_free (EpApiResult *r)
{
  if (r == NULL)
    return;
  for (size_t i = 0; i < EP_N_FIELDS; i++)
    {
      const EpField *f = &ep_fields[i];
      if (!ep_field_in_result (f) || !ep_field_is_text (f))
        continue;
      char **value = member_of (r, f, EP_VALUE_TEXT);
      if (f->secret)
        ep_secret_free (*value);
      else
        g_free (*value);
    }
  g_free (r);
}

const char *
ep_api_result_holding_secret (const EpApiResult *r)
{
  for (size_t i = 0; i < EP_N_FIELDS; i++)
    {
      const EpField *f = &ep_fields[i];
      if (ep_field_in_result (f) && ep_field_is_text (f) &&
          ep_redact_needed (ep_api_result_text (r, i)))
        return ep_field_leaf (f);
    }
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
