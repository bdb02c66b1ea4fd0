#include "record.h"

#include "json-util.h"

static JsonObject *
config_metadata (const EpApiResult *r)
{
  JsonObject *config = json_object_new ();
  json_object_set_string_member (config, "mqtt_host", r->mqtt_host);
  json_object_set_int_member (config, "mqtt_port", r->mqtt_port);
  json_object_set_string_member (config, "protocol", r->protocol);
  if (r->username != NULL)
    json_object_set_string_member (config, "username", r->username);
  if (r->time_sync_protocol != NULL)
    json_object_set_string_member (config, "time_sync_protocol", r->time_sync_protocol);
  if (r->time_sync_host != NULL)
    json_object_set_string_member (config, "time_sync_host", r->time_sync_host);
  if (r->time_sync_port != 0)
    json_object_set_int_member (config, "time_sync_port", r->time_sync_port);
  if (r->hardware_id != NULL)
    json_object_set_string_member (config, "hardware_id", r->hardware_id);
  if (r->channel_id != NULL)
    json_object_set_string_member (config, "channel_id", r->channel_id);
  return config;
}

JsonObject *
ep_record_metadata (const EpArgs *args, const EpApiResult *result)
{
  const EpKind *kind = args->kind;
  JsonObject *meta = json_object_new ();
  json_object_set_string_member (meta, "kind", kind->kind);
  json_object_set_string_member (meta, "device_id", result->device_id);
  /* Every argument: the identifying fields of SPEC section 5 and the rest of
   * the request, none of which is secret. */
  for (guint i = 0; i < ep_kind_n_args (kind); i++)
    {
      if (kind->args[i].type == 'd')
        json_object_set_double_member (meta, kind->args[i].name, args->num[i]);
      else
        json_object_set_string_member (meta, kind->args[i].name, args->str[i]);
    }
  if (result->slug != NULL)
    json_object_set_string_member (meta, "slug", result->slug);
  /* Every device has a name in device.json; the gateway's is its site's. */
  const char *name = ep_args_get (args, kind->name_arg ? kind->name_arg : "name");
  if (name != NULL)
    json_object_set_string_member (meta, "name", name);

  g_autoptr (GDateTime) now = g_date_time_new_now_utc ();
  g_autofree char *stamp = g_date_time_format (now, "%Y-%m-%dT%H:%M:%SZ");
  json_object_set_string_member (meta, "provisioned_at", stamp);
  if (result->has_config)
    json_object_set_object_member (meta, "config", config_metadata (result));
  return meta;
}

EpKeystoreEntry *
ep_record_entry (const EpArgs *args, const EpApiResult *result)
{
  g_autoptr (JsonObject) meta = ep_record_metadata (args, result);
  EpKeystoreEntry *entry = ep_keystore_entry_new (result->device_id, meta);
  if (result->private_key != NULL)
    {
      ep_keystore_entry_add_file (entry, "private_key.pem", result->private_key);
      ep_keystore_entry_add_file (entry, "certificate.pem", result->certificate);
      ep_keystore_entry_add_file (entry, "ca_chain.pem", result->ca_chain);
    }
  if (result->password != NULL)
    ep_keystore_entry_add_file (entry, "password", result->password);
  return entry;
}

static void
add_string (GVariantBuilder *b, const EpDeviceInfo *info, const char *field, const char *key)
{
  const char *value = ep_device_info_get (info, field);
  if (value != NULL && g_utf8_validate (value, -1, NULL))
    g_variant_builder_add (b, "{sv}", key, g_variant_new_string (value));
}

GVariant *
ep_record_details (const EpDeviceInfo *info, const char *keystore_path, gboolean reprovisioned)
{
  static const char *const top[] = { "kind", "device_id", "slug", "site_id", "hardware_id",
                                     "name", "provisioned_at" };
  GVariantBuilder b;
  g_variant_builder_init (&b, G_VARIANT_TYPE_VARDICT);
  for (size_t i = 0; i < G_N_ELEMENTS (top); i++)
    add_string (&b, info, top[i], top[i]);
  g_variant_builder_add (&b, "{sv}", "reprovisioned", g_variant_new_boolean (reprovisioned));

  const char *id = ep_device_info_get (info, "device_id");
  g_autofree char *path = g_build_filename (keystore_path, id ? id : "", NULL);
  g_variant_builder_add (&b, "{sv}", "keystore_path", g_variant_new_string (path));

  add_string (&b, info, "config.protocol", "protocol");
  add_string (&b, info, "config.mqtt_host", "mqtt_host");
  add_string (&b, info, "config.channel_id", "channel_id");
  const char *port = ep_device_info_get (info, "config.mqtt_port");
  guint64 port_number;
  if (port != NULL && g_ascii_string_to_unsigned (port, 10, 0, G_MAXUINT32, &port_number, NULL))
    g_variant_builder_add (&b, "{sv}", "mqtt_port", g_variant_new_uint32 ((guint32) port_number));
  return g_variant_builder_end (&b);
}
