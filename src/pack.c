#include "pack.h"

#include <string.h>

/* Every blob follows a head naming its block (NULL: allocated on its own).
 * Heads and blobs keep malloc's alignment, so a blob may hold any struct. */
#define ALIGN 16

typedef struct {
  gint live;                 /* blobs of this block not freed yet (atomic) */
} Block;

typedef union {
  Block *block;
  char align[ALIGN];
} Head;

G_STATIC_ASSERT (sizeof (Head) == ALIGN);

static gsize
padded (gsize size)
{
  return (size + ALIGN - 1) & ~(gsize) (ALIGN - 1);
}

gpointer
ep_pack_alloc0 (gsize size)
{
  Head *head = g_malloc0 (sizeof (Head) + size);
  head->block = NULL;
  return head + 1;
}

gpointer
ep_pack_memdup (gconstpointer data, gsize size)
{
  Head *head = g_malloc (sizeof (Head) + size);
  head->block = NULL;
  memcpy (head + 1, data, size);
  return head + 1;
}

char *
ep_pack_strdup (const char *s)
{
  return s ? ep_pack_memdup (s, strlen (s) + 1) : NULL;
}

void
ep_pack_free (gpointer blob)
{
  if (blob == NULL)
    return;
  Head *head = (Head *) blob - 1;
  if (head->block == NULL)
    g_free (head);
  else if (g_atomic_int_dec_and_test (&head->block->live))
    g_free (head->block);
}

void
ep_pack_together (gpointer *blobs, const gsize *sizes, gsize n)
{
  if (n == 0)
    return;
  g_return_if_fail (n <= G_MAXINT);
  gsize total = padded (sizeof (Block));
  for (gsize i = 0; i < n; i++)
    total += sizeof (Head) + padded (sizes[i]);
  Block *block = g_malloc (total);
  block->live = (gint) n;
  char *at = (char *) block + padded (sizeof (Block));
  for (gsize i = 0; i < n; i++)
    {
      Head *head = (Head *) at;
      head->block = block;
      memcpy (head + 1, blobs[i], sizes[i]);
      ep_pack_free (blobs[i]);
      blobs[i] = head + 1;
      at += sizeof (Head) + padded (sizes[i]);
    }
}

GHashTable *
ep_pack_table (GHashTable *table, gsize (*value_size) (gconstpointer value),
               GDestroyNotify value_free)
{
  gsize n = 2 * (gsize) g_hash_table_size (table), i = 0;
  g_autofree gpointer *blobs = g_new (gpointer, n);
  g_autofree gsize *sizes = g_new (gsize, n);
  GHashTableIter it;
  gpointer key, value;
  g_hash_table_iter_init (&it, table);
  while (g_hash_table_iter_next (&it, &key, &value))
    {
      blobs[i] = key;
      sizes[i++] = strlen (key) + 1;
      blobs[i] = value;
      sizes[i++] = value_size (value);
    }
  g_hash_table_steal_all (table);
  g_hash_table_unref (table);
  ep_pack_together (blobs, sizes, n);
  /* A fresh table: the old one's arrays may sit among a burst's pages. */
  GHashTable *packed = g_hash_table_new_full (g_str_hash, g_str_equal, ep_pack_free, value_free);
  for (i = 0; i < n; i += 2)
    g_hash_table_insert (packed, blobs[i], blobs[i + 1]);
  return packed;
}
