/* Long-lived blobs the daemon keeps per device (the keystore index's
 * entries and their ids, renewal's watches), which ep_pack_together() can
 * move into one allocation once the daemon is quiet.
 *
 * Why: glibc gives back only whole free pages of its heap. A burst of calls
 * allocates and frees a lot; a long-lived piece made meanwhile (a device's
 * index entry, made as its call ends) lands among the burst's transient
 * allocations and, once they are freed, pins the page it sits on: 128
 * devices' pieces held 2 MiB after a burst. Packed, they pin only the pages
 * they fill.
 *
 * A blob is allocated on its own (ep_pack_alloc, ep_pack_memdup,
 * ep_pack_strdup) or lives in a block ep_pack_together() made; ep_pack_free
 * frees either, and a block goes when its last blob does. Blobs may be
 * freed in any thread (a block's count is atomic); moving them is for
 * whoever owns every pointer to them, at a moment nobody else holds one. */
#pragma once

#include <glib.h>

gpointer ep_pack_alloc0 (gsize size);
gpointer ep_pack_memdup (gconstpointer data, gsize size);
char *ep_pack_strdup (const char *s);
void ep_pack_free (gpointer blob);

/* Moves the @n blobs @blobs[i] (of @sizes[i] bytes each) into one new block,
 * frees their old places and writes the new ones into @blobs. Whoever held
 * the old pointers must take the new ones. */
void ep_pack_together (gpointer *blobs, const gsize *sizes, gsize n);

/* Packs a table of string keys and values made here (freed with
 * ep_pack_free, and @value_free, which must end in it): returns a new table
 * (fresh arrays too) holding them moved, and unrefs @table. */
GHashTable *ep_pack_table (GHashTable *table, gsize (*value_size) (gconstpointer value),
                           GDestroyNotify value_free);
