#include "record.h"

#include "validate.h"

#include <string.h>

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
ep_record_metadata (const EpArgs *args, const EpApiResult *result, const char *target)
{
  const EpKind *kind = args->kind;
  JsonObject *meta = json_object_new ();
  json_object_set_string_member (meta, "kind", kind->kind);
  json_object_set_string_member (meta, "device_id", result->device_id);
  /* Which API holds the device: a later answer naming it through the
   * other one is not about this device. */
  json_object_set_string_member (meta, "target", target);
  /* Every argument: the identifying fields of README "Keystore" and the rest of
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
ep_record_entry (const EpArgs *args, const EpApiResult *result, const char *target)
{
  g_autoptr (JsonObject) meta = ep_record_metadata (args, result, target);
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
add (EpDetails *d, const char *key, char type, const char *string, guint32 number)
{
  g_assert (d->n < G_N_ELEMENTS (d->items));
  d->items[d->n++] = (EpDetail) { .key = key, .type = type, .string = string, .number = number };
}

/* Strings go on D-Bus, which refuses invalid UTF-8 and noncharacters; a
 * hand-edited device.json may hold anything. */
static void
add_string (EpDetails *d, const EpDeviceInfo *info, const char *field, const char *key)
{
  const char *value = ep_device_info_get (info, field);
  if (value != NULL && ep_is_plain_text (value))
    add (d, key, 's', value, 0);
}

void
ep_record_details (EpDetails *d, const EpDeviceInfo *info, const char *keystore_path,
                   gboolean reprovisioned)
{
  static const char *const top[] = { "kind", "device_id", "slug", "site_id", "hardware_id",
                                     "name", "provisioned_at" };
  d->n = 0;
  for (size_t i = 0; i < G_N_ELEMENTS (top); i++)
    add_string (d, info, top[i], top[i]);
  add (d, "reprovisioned", 'b', NULL, reprovisioned ? 1 : 0);

  const char *id = ep_device_info_get (info, "device_id");
  d->keystore_path = g_build_filename (keystore_path, id ? id : "", NULL);
  if (ep_is_plain_text (d->keystore_path))
    add (d, "keystore_path", 's', d->keystore_path, 0);

  add_string (d, info, "config.protocol", "protocol");
  add_string (d, info, "config.mqtt_host", "mqtt_host");
  add_string (d, info, "config.channel_id", "channel_id");
  const char *port = ep_device_info_get (info, "config.mqtt_port");
  guint64 port_number;
  if (port != NULL && g_ascii_string_to_unsigned (port, 10, 0, 65535, &port_number, NULL))
    add (d, "mqtt_port", 'u', NULL, (guint32) port_number);
}

void
ep_details_clear (EpDetails *d)
{
  g_clear_pointer (&d->keystore_path, g_free);
  d->n = 0;
}

const EpDetail *
ep_details_lookup (const EpDetails *d, const char *key)
{
  for (guint i = 0; i < d->n; i++)
    if (strcmp (d->items[i].key, key) == 0)
      return &d->items[i];
  return NULL;
}
