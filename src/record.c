#include "record.h"

#include "fields.h"
#include "json-util.h"
#include "validate.h"
#include "wall-clock.h"

#include <string.h>

static void
set_field (JsonObject *meta, EpFieldId id, const char *value)
{
  json_object_set_string_member (meta, ep_fields[id].stored, value);
}

/* The answer's fields that device.json keeps at its top level, or (with
 * @nested) inside its objects such as "config". Secrets have no key there. */
static void
store_answer (JsonObject *meta, const EpApiResult *r, gboolean nested)
{
  for (size_t i = 0; i < EP_N_FIELDS; i++)
    {
      const EpField *f = &ep_fields[i];
      if (!ep_field_in_result (f) || f->stored == NULL ||
          (strchr (f->stored, '.') != NULL) != nested)
        continue;
      gboolean text_field = ep_field_is_text (f);
      const char *text = text_field ? ep_api_result_text (r, i) : NULL;
      gint64 number = text_field                  ? 0
                      : f->type == EP_VALUE_PORT ? ep_api_result_port (r, i)
                                                 : ep_api_result_time (r, i);
      /* Absent fields (0: no port, no time) leave no key, and no empty
       * object. */
      if (text == NULL && number == 0)
        continue;
      const char *leaf;
      JsonObject *obj = ep_json_object_for_path (meta, f->stored, &leaf);
      if (text_field)
        json_object_set_string_member (obj, leaf, text);
      else
        json_object_set_int_member (obj, leaf, number);
    }
}

/* Now, as device.json's times are written. */
static char *
timestamp_now (void)
{
  g_autoptr (GDateTime) now =
      g_date_time_new_from_unix_utc (ep_wall_clock_us () / G_USEC_PER_SEC);
  return g_date_time_format (now, "%Y-%m-%dT%H:%M:%SZ");
}

/* The credential files of @result. */
static void
add_files (EpKeystoreEntry *entry, const EpApiResult *result)
{
  for (size_t i = 0; i < EP_N_FIELDS; i++)
    {
      const char *value = ep_fields[i].file ? ep_api_result_text (result, i) : NULL;
      if (value != NULL)
        ep_keystore_entry_add_file (entry, ep_fields[i].file, value);
    }
}

JsonObject *
ep_record_metadata (const EpArgs *args, const EpApiResult *result, const char *target)
{
  const EpKind *kind = args->kind;
  JsonObject *meta = json_object_new ();
  /* What the file is about first; the answer's own fields follow the call's. */
  set_field (meta, EP_FIELD_KIND, kind->kind);
  set_field (meta, EP_FIELD_DEVICE_ID, result->device_id);
  set_field (meta, EP_FIELD_TARGET, target);
  /* Every argument: the identifying fields of README "Keystore" and the rest of
   * the request, none of which is secret. */
  for (guint i = 0; i < ep_kind_n_args (kind); i++)
    {
      if (kind->args[i].type == 'd')
        json_object_set_double_member (meta, kind->args[i].name, args->num[i]);
      else
        json_object_set_string_member (meta, kind->args[i].name, args->str[i]);
    }
  /* Keys already set (the device id, a requested slug) keep their place. */
  store_answer (meta, result, FALSE);
  const char *name = ep_args_role (args, EP_ARG_NAME);
  if (name != NULL)
    set_field (meta, EP_FIELD_NAME, name);

  g_autofree char *stamp = timestamp_now ();
  set_field (meta, EP_FIELD_PROVISIONED_AT, stamp);
  set_field (meta, EP_FIELD_CREDENTIALS_UPDATED_AT, stamp);
  store_answer (meta, result, TRUE);
  return meta;
}

/* An update's device.json members: the answer's config, and when. */
static JsonObject *
update_metadata (const EpApiResult *result)
{
  JsonObject *meta = json_object_new ();
  g_autofree char *stamp = timestamp_now ();
  set_field (meta, EP_FIELD_CREDENTIALS_UPDATED_AT, stamp);
  store_answer (meta, result, TRUE);
  return meta;
}

EpKeystoreEntry *
ep_record_files (const EpApiResult *result)
{
  EpKeystoreEntry *entry = ep_keystore_entry_new (result->device_id, NULL);
  add_files (entry, result);
  return entry;
}

void
ep_record_complete (EpKeystoreEntry *entry, const EpArgs *args, const EpApiResult *result,
                    const char *target)
{
  g_autoptr (JsonObject) meta = NULL;
  if (args->kind->route == EP_ROUTE_STORED)
    {
      meta = update_metadata (result);
      ep_keystore_entry_set_update (entry);
    }
  else
    meta = ep_record_metadata (args, result, target);
  ep_keystore_entry_set_metadata (entry, meta);
}

EpKeystoreEntry *
ep_record_entry (const EpArgs *args, const EpApiResult *result, const char *target)
{
  g_autoptr (JsonObject) meta = ep_record_metadata (args, result, target);
  EpKeystoreEntry *entry = ep_record_files (result);
  ep_keystore_entry_set_metadata (entry, meta);
  return entry;
}

EpKeystoreEntry *
ep_record_update_entry (const EpApiResult *result)
{
  g_autoptr (JsonObject) meta = update_metadata (result);
  EpKeystoreEntry *entry = ep_record_files (result);
  ep_keystore_entry_set_metadata (entry, meta);
  ep_keystore_entry_set_update (entry);
  return entry;
}

static void
add (EpDetails *d, const char *key, char type, const char *string, gint64 number)
{
  g_assert (d->n < G_N_ELEMENTS (d->items));
  d->items[d->n++] = (EpDetail) { .key = key, .type = type, .string = string, .number = number };
}

/* What a device's details say beyond its stored fields: whether this call
 * replaced a set, and where the set is. */
static void
add_computed (EpDetails *d, const EpDeviceInfo *info, const char *keystore_path,
              gboolean reprovisioned)
{
  add (d, "reprovisioned", 'b', NULL, reprovisioned ? 1 : 0);
  const char *id = ep_device_info_field (info, EP_FIELD_DEVICE_ID);
  d->keystore_path = g_build_filename (keystore_path, id ? id : "", NULL);
  if (ep_is_plain_text (d->keystore_path))
    add (d, "keystore_path", 's', d->keystore_path, 0);
}

/* The kind's other text arguments (a Lua device's runtime_id, a link
 * slave's master_device_id, a gateway's version, ...): device.json keeps every
 * argument under its own name, and what identifies a device is shown. */
static void
add_arguments (EpDetails *d, const EpDeviceInfo *info)
{
  const EpKind *kind = ep_kind_by_name (ep_device_info_field (info, EP_FIELD_KIND));
  for (guint i = 0; kind != NULL && i < ep_kind_n_args (kind); i++)
    {
      const char *name = kind->args[i].name;
      const char *value = ep_device_info_get (info, name);
      if (kind->args[i].type == 's' && value != NULL && ep_details_lookup (d, name) == NULL &&
          ep_is_plain_text (value))
        add (d, name, 's', value, 0);
    }
}

void
ep_record_details (EpDetails *d, const EpDeviceInfo *info, const char *keystore_path,
                   gboolean reprovisioned)
{
  d->n = 0;
  for (size_t i = 0; i < EP_N_FIELDS; i++)
    {
      const EpField *f = &ep_fields[i];
      const char *value = f->detail ? ep_device_info_get (info, f->stored) : NULL;
      if (value == NULL && f->detail && f->shown_else)
        value = ep_device_info_field (info, f->shown_else);
      guint64 port;
      gint64 time;
      if (value != NULL && f->detail_type == 's' && ep_is_plain_text (value))
        /* Strings go on D-Bus, which refuses invalid UTF-8 and
         * noncharacters; a hand-edited device.json may hold anything. */
        add (d, f->detail, 's', value, 0);
      /* 'u' details are ports. */
      if (value != NULL && f->detail_type == 'u' &&
          g_ascii_string_to_unsigned (value, 10, 0, 65535, &port, NULL))
        add (d, f->detail, 'u', NULL, (gint64) port);
      if (value != NULL && f->detail_type == 'x' &&
          g_ascii_string_to_signed (value, 10, G_MININT64, G_MAXINT64, &time, NULL))
        add (d, f->detail, 'x', NULL, time);
      /* Where they always stood: after the device's identity, before its
       * MQTT configuration. */
      if (i == EP_FIELD_PROVISIONED_AT)
        add_computed (d, info, keystore_path, reprovisioned);
    }
  add_arguments (d, info);
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
