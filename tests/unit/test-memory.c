/* Unit tests of what keeps the daemon's footprint: src/pack.h (long-lived
 * blobs moved together) with the index's device infos, and
 * src/crypto-prepare.h. Frees are checked by the ASan and valgrind runs of
 * this suite (scripts/test): a blob freed twice or never shows there. */
#include "crypto-prepare.h"
#include "device-info.h"
#include "pack.h"

#include <stddef.h>
#include <string.h>

/* What malloc guarantees, and so what a blob keeps: 16 bytes on x86_64 and
 * arm64, 8 on armhf. */
#define MALLOC_ALIGN _Alignof (max_align_t)

static void
test_blobs_on_their_own (void)
{
  char *s = ep_pack_strdup ("device-1");
  g_assert_cmpstr (s, ==, "device-1");
  g_assert_null (ep_pack_strdup (NULL));
  guint64 *zero = ep_pack_alloc0 (8 * sizeof (guint64));
  for (int i = 0; i < 8; i++)
    g_assert_cmpuint (zero[i], ==, 0);
  /* Any struct fits: blobs keep malloc's alignment. */
  g_assert_cmpuint ((guintptr) zero % MALLOC_ALIGN, ==, 0);
  const char bytes[] = { 'a', '\0', 'b', '\0', '\0' };
  char *copy = ep_pack_memdup (bytes, sizeof bytes);
  g_assert_cmpmem (copy, sizeof bytes, bytes, sizeof bytes);
  ep_pack_free (s);
  ep_pack_free (zero);
  ep_pack_free (copy);
  ep_pack_free (NULL);
}

static void
test_together (void)
{
  enum { N = 50 };
  gpointer blobs[N];
  gsize sizes[N];
  for (int i = 0; i < N; i++)
    {
      blobs[i] = g_strdup_printf ("blob %d %*s", i, i, "");
      sizes[i] = strlen (blobs[i]) + 1;
      char *own = ep_pack_strdup (blobs[i]);
      g_free (blobs[i]);
      blobs[i] = own;
    }
  gpointer before[N];
  memcpy (before, blobs, sizeof blobs);
  ep_pack_together (blobs, sizes, N);
  gsize span = 0;
  for (int i = 0; i < N; i++)
    {
      g_autofree char *want = g_strdup_printf ("blob %d %*s", i, i, "");
      g_assert_cmpstr (blobs[i], ==, want);
      g_assert_true (blobs[i] != before[i]);
      g_assert_cmpuint ((guintptr) blobs[i] % MALLOC_ALIGN, ==, 0);
      span = MAX (span, (gsize) ((char *) blobs[i] - (char *) blobs[0]));
    }
  /* One block, in order: the last blob within the sum of the sizes (each
   * padded, with its head) of the first. */
  g_assert_cmpuint (span, <, N * (32 + 16) + N * N / 2);
  /* Packed again: blobs move out of a block, which then goes. */
  ep_pack_together (blobs, sizes, N);
  for (int i = 0; i < N; i++)
    ep_pack_free (blobs[i]);
  ep_pack_together (blobs, sizes, 0);
}

static EpDeviceInfo *
info (int i)
{
  g_autoptr (JsonObject) meta = json_object_new ();
  g_autofree char *id = g_strdup_printf ("dev-%d", i);
  json_object_set_string_member (meta, "device_id", id);
  json_object_set_string_member (meta, "kind", i % 2 ? "ucm" : "vucm");
  json_object_set_int_member (meta, "provisioned_at", 1700000000 + i);
  JsonObject *config = json_object_new ();
  json_object_set_string_member (config, "mqtt_host", "mqtt.example");
  json_object_set_int_member (config, "mqtt_port", 8883);
  json_object_set_object_member (meta, "config", config);
  return ep_device_info_new (meta);
}

static gsize
info_size (gconstpointer value)
{
  return ep_device_info_size (value);
}

static void
test_device_info_size (void)
{
  g_autoptr (EpDeviceInfo) one = info (7);
  /* "name\0value\0" pairs and the closing empty name. */
  gsize want = 0;
  const char *p = (const char *) one;
  while (*p)
    {
      gsize n = strlen (p) + 1;
      want += n;
      p += n;
    }
  g_assert_cmpuint (ep_device_info_size (one), ==, want + 1);
  g_assert_cmpuint (ep_device_info_size (one), >, strlen ("device_id") + strlen ("dev-7"));
}

static void
test_table (void)
{
  enum { N = 200 };
  GHashTable *table = g_hash_table_new_full (g_str_hash, g_str_equal, ep_pack_free,
                                             (GDestroyNotify) ep_device_info_free);
  for (int i = 0; i < N; i++)
    {
      EpDeviceInfo *value = info (i);
      g_hash_table_insert (table, ep_pack_strdup (ep_device_info_get (value, "device_id")),
                           value);
    }
  table = ep_pack_table (table, info_size, (GDestroyNotify) ep_device_info_free);
  g_assert_cmpuint (g_hash_table_size (table), ==, N);
  for (int i = 0; i < N; i++)
    {
      g_autofree char *id = g_strdup_printf ("dev-%d", i);
      const EpDeviceInfo *got = g_hash_table_lookup (table, id);
      g_assert_nonnull (got);
      g_assert_cmpstr (ep_device_info_get (got, "device_id"), ==, id);
      g_assert_cmpstr (ep_device_info_get (got, "kind"), ==, i % 2 ? "ucm" : "vucm");
      g_assert_cmpstr (ep_device_info_get (got, "config.mqtt_port"), ==, "8883");
    }
  /* Packed entries replaced and removed one by one, then packed again. */
  for (int i = 0; i < N; i += 2)
    {
      g_autofree char *id = g_strdup_printf ("dev-%d", i);
      g_hash_table_replace (table, ep_pack_strdup (id), info (i + 1000));
    }
  for (int i = 1; i < N; i += 4)
    {
      g_autofree char *id = g_strdup_printf ("dev-%d", i);
      g_assert_true (g_hash_table_remove (table, id));
    }
  table = ep_pack_table (table, info_size, (GDestroyNotify) ep_device_info_free);
  g_assert_cmpuint (g_hash_table_size (table), ==, N - N / 4);
  const EpDeviceInfo *replaced = g_hash_table_lookup (table, "dev-4");
  g_assert_cmpstr (ep_device_info_get (replaced, "device_id"), ==, "dev-1004");
  g_assert_null (g_hash_table_lookup (table, "dev-5"));
  g_assert_nonnull (g_hash_table_lookup (table, "dev-7"));
  g_hash_table_unref (table);
  /* An empty table packs too. */
  table = g_hash_table_new_full (g_str_hash, g_str_equal, ep_pack_free, ep_pack_free);
  table = ep_pack_table (table, info_size, ep_pack_free);
  g_assert_cmpuint (g_hash_table_size (table), ==, 0);
  g_hash_table_unref (table);
}

static void
test_crypto_prepare (void)
{
  g_autofree char *problem = NULL;
  g_assert_true (ep_crypto_prepare (&problem));
  g_assert_null (problem);
  /* Twice is harmless: the tables are built once. */
  g_assert_true (ep_crypto_prepare (&problem));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/pack/blobs-on-their-own", test_blobs_on_their_own);
  g_test_add_func ("/pack/together", test_together);
  g_test_add_func ("/pack/device-info-size", test_device_info_size);
  g_test_add_func ("/pack/table", test_table);
  g_test_add_func ("/crypto-prepare/builds-the-tables", test_crypto_prepare);
  return g_test_run ();
}
