/* What replies and signals carry; see bus-messages.h. */
#include "bus-messages.h"

#include <string.h>


int
ep_bus_append_nothing (sd_bus_message *m, gconstpointer data)
{
  return 0;
}

int
ep_bus_append_string (sd_bus_message *m, gconstpointer data)
{
  return sd_bus_message_append_basic (m, 's', data);
}

/* A string: sd-bus checks UTF-8 character by character, which was a
 * fifth of the main loop's instructions per provisioning (three
 * dictionaries of details per call). ASCII, what keys, ids and paths
 * nearly always are, is valid UTF-8 as it is and goes in without that
 * check; anything else takes it. */
static int
append_string (sd_bus_message *m, const char *s)
{
  size_t n = 0;
  while ((unsigned char) s[n] - 1u < 0x7fu)
    n++;
  if (s[n] != '\0')
    return sd_bus_message_append_basic (m, 's', s);
  char *space = NULL;
  int r = sd_bus_message_append_string_space (m, n, &space);
  if (r >= 0)
    memcpy (space, s, n);
  return r;
}

/* One {sv} entry of an a{sv} being written: @key, and @value of basic
 * @type. Container by container: sd_bus_message_append () would parse the
 * signatures again for every entry. */
static int
append_entry (sd_bus_message *m, const char *key, char type, const void *value)
{
  const char signature[] = { type, '\0' };
  int r = sd_bus_message_open_container (m, 'e', "sv");
  if (r >= 0)
    r = append_string (m, key);
  if (r >= 0)
    r = sd_bus_message_open_container (m, 'v', signature);
  if (r >= 0)
    r = type == 's' ? append_string (m, value) : sd_bus_message_append_basic (m, type, value);
  if (r >= 0)
    r = sd_bus_message_close_container (m);
  return r < 0 ? r : sd_bus_message_close_container (m);
}

int
ep_bus_append_details (sd_bus_message *m, gconstpointer data)
{
  const EpDetails *d = data;
  int r = sd_bus_message_open_container (m, 'a', "{sv}");
  for (guint i = 0; r >= 0 && i < d->n; i++)
    {
      const EpDetail *e = &d->items[i];
      /* Each number in the width its D-Bus type has. */
      int b = e->number != 0;
      uint32_t u = (uint32_t) e->number;
      int64_t x = e->number;
      r = append_entry (m, e->key, e->type,
                        e->type == 's'   ? (const void *) e->string
                        : e->type == 'b' ? (const void *) &b
                        : e->type == 'u' ? (const void *) &u
                                         : (const void *) &x);
    }
  return r < 0 ? r : sd_bus_message_close_container (m);
}

/* (s, s, a{sv}): what DeviceProvisioned and CredentialsChanged carry. */
static int
append_two_and_details (sd_bus_message *m, const char *a, const char *b,
                        const EpDetails *details)
{
  int r = sd_bus_message_append (m, "ss", a, b);
  return r < 0 ? r : ep_bus_append_details (m, details);
}

int
ep_bus_append_credentials_changed (sd_bus_message *m, gconstpointer data)
{
  const EpBusCredentialsChanged *c = data;
  return append_two_and_details (m, c->device_id, c->reason, c->details);
}

int
ep_bus_append_expiring (sd_bus_message *m, gconstpointer data)
{
  const EpBusExpiring *e = data;
  return sd_bus_message_append (m, "sx", e->device_id, (int64_t) e->not_after);
}

int
ep_bus_append_provisioned_reply (sd_bus_message *m, gconstpointer data)
{
  const EpBusProvisioned *p = data;
  int r = sd_bus_message_append (m, "s", p->device_id);
  return r < 0 ? r : ep_bus_append_details (m, p->details);
}

int
ep_bus_append_provisioned_signal (sd_bus_message *m, gconstpointer data)
{
  const EpBusProvisioned *p = data;
  return append_two_and_details (m, p->kind, p->device_id, p->details);
}

int
ep_bus_append_device_list (sd_bus_message *m, gconstpointer data)
{
  const EpBusDeviceList *list = data;
  EpKeystore *ks = list->keystore;
  g_autoptr (GPtrArray) ids = ep_keystore_list (ks);
  int r = sd_bus_message_open_container (m, 'a', "a{sv}");
  for (guint i = 0; r >= 0 && i < ids->len; i++)
    {
      const EpDeviceInfo *info = ep_keystore_lookup (ks, ids->pdata[i]);
      if (list->shows != NULL && !list->shows (ids->pdata[i], info, list->shows_data))
        continue;
      g_auto (EpDetails) details = { 0 };
      ep_record_details (&details, info, ep_keystore_path (ks), FALSE);
      r = ep_bus_append_details (m, &details);
    }
  return r < 0 ? r : sd_bus_message_close_container (m);
}

int
ep_bus_append_credentials (sd_bus_message *m, gconstpointer data)
{
  const EpBusCredentials *c = data;
  int r = ep_bus_append_details (m, c->details);
  if (r >= 0)
    r = sd_bus_message_open_container (m, 'a', "{sh}");
  for (guint i = 0; r >= 0 && i < c->copies->len; i++)
    {
      const EpKeystoreCopy *copy = &g_array_index (c->copies, EpKeystoreCopy, i);
      r = sd_bus_message_append (m, "{sh}", copy->name, copy->fd);
    }
  return r < 0 ? r : sd_bus_message_close_container (m);
}


/* The call's arguments by name, as a{sv}: 's' and 'd' as the kind has them. */
static int
append_request (sd_bus_message *m, const EpArgs *args)
{
  int r = sd_bus_message_open_container (m, 'a', "{sv}");
  for (guint i = 0; r >= 0 && i < ep_kind_n_args (args->kind); i++)
    {
      const EpArg *arg = &args->kind->args[i];
      if (arg->type == 'd')
        r = append_entry (m, arg->name, 'd', &args->num[i]);
      else if (args->str[i] != NULL)
        r = append_entry (m, arg->name, 's', args->str[i]);
    }
  return r < 0 ? r : sd_bus_message_close_container (m);
}

int
ep_bus_append_failed_signal (sd_bus_message *m, gconstpointer data)
{
  const EpBusFailed *f = data;
  int r = sd_bus_message_append (m, "sss", f->kind, f->error_name, f->message);
  return r < 0 ? r : append_request (m, f->args);
}
