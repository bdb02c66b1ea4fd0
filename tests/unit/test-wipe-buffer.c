/* Unit tests of src/wipe-buffer.h: a growing buffer that wipes what it
 * leaves behind. */
#include "wipe-buffer.h"

static gboolean
all_zero (const char *p, gsize n)
{
  for (gsize i = 0; i < n; i++)
    if (p[i] != 0)
      return FALSE;
  return TRUE;
}

static void
test_grow_keeps_contents (void)
{
  EpWipeBuffer b = { 0 };
  GString *want = g_string_new (NULL);
  /* Enough appends of odd sizes to grow several times past 1024. */
  for (guint i = 0; i < 300; i++)
    {
      char chunk[32];
      int n = g_snprintf (chunk, sizeof chunk, "%u-secret;", i);
      ep_wipe_buffer_append (&b, chunk, (gsize) n);
      g_string_append_len (want, chunk, n);
      g_assert_cmpuint (b.len, ==, want->len);
      g_assert_cmpuint (b.size, >, b.len);   /* room for a NUL, always */
    }
  g_assert_cmpmem (b.data, b.len, want->str, want->len);
  ep_wipe_buffer_reserve (&b, 0);
  b.data[b.len] = '\0';
  g_assert_cmpstr (b.data, ==, want->str);
  g_string_free (want, TRUE);
  ep_wipe_buffer_clear (&b);
  g_assert_null (b.data);
  g_assert_cmpuint (b.len, ==, 0);
  g_assert_cmpuint (b.size, ==, 0);
}

static void
test_empty_wipes_and_keeps_room (void)
{
  EpWipeBuffer b = { 0 };
  const char secret[] = "-----BEGIN PRIVATE KEY-----";
  ep_wipe_buffer_append (&b, secret, sizeof secret - 1);
  char *data = b.data;
  gsize size = b.size;
  ep_wipe_buffer_empty (&b);
  g_assert_cmpuint (b.len, ==, 0);
  g_assert_true (b.data == data);
  g_assert_cmpuint (b.size, ==, size);
  g_assert_true (all_zero (b.data, sizeof secret - 1));
  /* A retry's body lands in the same room. */
  ep_wipe_buffer_append (&b, "x", 1);
  g_assert_true (b.data == data);
  g_assert_cmpmem (b.data, b.len, "x", 1);
  ep_wipe_buffer_clear (&b);
}

static void
test_empty_buffer (void)
{
  EpWipeBuffer b = { 0 };
  ep_wipe_buffer_empty (&b);
  ep_wipe_buffer_clear (&b);
  /* An empty body still becomes a C string. */
  ep_wipe_buffer_reserve (&b, 0);
  g_assert_nonnull (b.data);
  b.data[0] = '\0';
  g_assert_cmpstr (b.data, ==, "");
  ep_wipe_buffer_clear (&b);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/wipe-buffer/grow-keeps-contents", test_grow_keeps_contents);
  g_test_add_func ("/wipe-buffer/empty-wipes-and-keeps-room", test_empty_wipes_and_keeps_room);
  g_test_add_func ("/wipe-buffer/empty-buffer", test_empty_buffer);
  return g_test_run ();
}
