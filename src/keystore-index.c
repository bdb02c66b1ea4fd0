/* The keystore's index: what every device.json holds, kept in memory so
 * look-ups, the Busy and reprovisioning rules and listings need no I/O.
 * keystore-open.c fills it at start; keystore.c updates it on the loop
 * after each write or removal. */
#include "keystore-private.h"

#include "fields.h"
#include "pack.h"

#include <string.h>

GHashTable *
ep_keystore_index_new (void)
{
  return g_hash_table_new_full (g_str_hash, g_str_equal, ep_pack_free,
                                (GDestroyNotify) ep_device_info_free);
}

void
ep_keystore_index_set (EpKeystore *ks, const char *device_id, JsonObject *metadata)
{
  ep_keystore_index_put (ks, device_id, ep_device_info_new (metadata));
}

void
ep_keystore_index_put (EpKeystore *ks, const char *device_id, EpDeviceInfo *info)
{
  ep_keystore_lock_index (ks);
  g_hash_table_replace (ks->index, ep_pack_strdup (device_id), info);
  ep_keystore_unlock_index (ks);
}

void
ep_keystore_index_remove (EpKeystore *ks, const char *device_id)
{
  ep_keystore_lock_index (ks);
  g_hash_table_remove (ks->index, device_id);
  ep_keystore_unlock_index (ks);
}

void
ep_keystore_pack (EpKeystore *ks)
{
  /* A preparer may be reading the index (under the lock) while the loop
   * is quiet. */
  ep_keystore_lock_index (ks);
  ks->index = ep_pack_table (ks->index, (gsize (*) (gconstpointer)) ep_device_info_size,
                             (GDestroyNotify) ep_device_info_free);
  ep_keystore_unlock_index (ks);
}

void
ep_keystore_lock_index (EpKeystore *ks)
{
  g_mutex_lock (&ks->index_lock);
}

void
ep_keystore_unlock_index (EpKeystore *ks)
{
  g_mutex_unlock (&ks->index_lock);
}

const EpDeviceInfo *
ep_keystore_lookup (EpKeystore *ks, const char *device_id)
{
  return g_hash_table_lookup (ks->index, device_id);
}

static gboolean
matches (const EpDeviceInfo *info, const char *kind, const char *const *names,
         const char *const *values)
{
  if (g_strcmp0 (ep_device_info_field (info, EP_FIELD_KIND), kind) != 0)
    return FALSE;
  for (size_t i = 0; names[i]; i++)
    if (g_strcmp0 (ep_device_info_get (info, names[i]), values[i]) != 0)
      return FALSE;
  return TRUE;
}

const char *
ep_keystore_find (EpKeystore *ks, const char *kind, const char *const *names,
                  const char *const *values)
{
  GHashTableIter it;
  gpointer key, value;
  g_hash_table_iter_init (&it, ks->index);
  while (g_hash_table_iter_next (&it, &key, &value))
    if (matches (value, kind, names, values))
      return key;
  return NULL;
}

static int
compare_strings (gconstpointer a, gconstpointer b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

GPtrArray *
ep_keystore_list (EpKeystore *ks)
{
  GPtrArray *ids = g_ptr_array_new_with_free_func (g_free);
  GHashTableIter it;
  gpointer key;
  g_hash_table_iter_init (&it, ks->index);
  while (g_hash_table_iter_next (&it, &key, NULL))
    g_ptr_array_add (ids, g_strdup (key));
  g_ptr_array_sort (ids, compare_strings);
  return ids;
}
