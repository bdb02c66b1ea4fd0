/* A growing byte buffer for data that may hold credentials (an HTTP
 * response): every byte it leaves behind, when it grows, is emptied or is
 * freed, is wiped first. */
#pragma once

#include <glib.h>
#include <string.h>

typedef struct {
  char *data;
  gsize len;
  gsize size;
} EpWipeBuffer;

/* Wipes the contents; keeps the allocation for reuse. */
static inline void
ep_wipe_buffer_empty (EpWipeBuffer *b)
{
  if (b->data != NULL)
    explicit_bzero (b->data, b->len);
  b->len = 0;
}

static inline void
ep_wipe_buffer_clear (EpWipeBuffer *b)
{
  ep_wipe_buffer_empty (b);
  g_clear_pointer (&b->data, g_free);
  b->size = 0;
}

/* Room for @n more bytes and a NUL after them. */
static inline void
ep_wipe_buffer_reserve (EpWipeBuffer *b, gsize n)
{
  if (b->len + n < b->size)
    return;
  gsize size = MAX (MAX (b->size * 2, b->len + n + 1), 1024);
  char *grown = g_malloc (size);
  gsize len = b->len;
  if (len > 0)
    memcpy (grown, b->data, len);
  ep_wipe_buffer_clear (b);
  b->data = grown;
  b->len = len;
  b->size = size;
}

static inline void
ep_wipe_buffer_append (EpWipeBuffer *b, const char *data, gsize n)
{
  ep_wipe_buffer_reserve (b, n);
  memcpy (b->data + b->len, data, n);
  b->len += n;
}
