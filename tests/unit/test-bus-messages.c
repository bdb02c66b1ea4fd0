/* Unit tests of src/bus-vtable.h and src/bus-messages.h: the vtable matches
 * the kinds table, and what the writers put into sd-bus messages reads back
 * as the D-Bus API says (types and values). */
#include "bus-messages.h"
#include "bus-vtable.h"

#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int
handler (sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
  return 0;
}

static void
test_vtable_matches_kinds (void)
{
  static const sd_bus_vtable fixed[] = {
    SD_BUS_METHOD ("ListDevices", "", "aa{sv}", handler, SD_BUS_VTABLE_UNPRIVILEGED),
  };
  g_autoptr (GPtrArray) strings = g_ptr_array_new_with_free_func (g_free);
  g_autofree sd_bus_vtable *vt = ep_bus_vtable_new (handler, fixed, G_N_ELEMENTS (fixed),
                                                    strings);
  g_assert_cmpint (vt[0].type, ==, _SD_BUS_VTABLE_START);
  /* The Provision methods, then the methods on stored devices. */
  g_autoptr (GPtrArray) rows = g_ptr_array_new ();
  for (const EpKind *k = ep_kinds; k->kind; k++)
    g_ptr_array_add (rows, (gpointer) k);
  for (const EpKind *k = ep_device_methods; k->method; k++)
    g_ptr_array_add (rows, (gpointer) k);
  g_assert_cmpuint (rows->len, ==, 9);
  gsize i = 1;
  for (guint r = 0; r < rows->len; r++, i++)
    {
      const EpKind *k = rows->pdata[r];
      const sd_bus_vtable *v = &vt[i];
      g_assert_cmpint (v->type, ==, _SD_BUS_VTABLE_METHOD);
      g_assert_cmpstr (v->x.method.member, ==, k->method);
      g_autofree char *sig = ep_kind_signature (k);
      g_assert_cmpstr (v->x.method.signature, ==, sig);
      g_assert_cmpstr (v->x.method.result, ==, "sa{sv}");
      g_assert_true (v->x.method.handler == handler);
      g_assert_true (v->flags & SD_BUS_VTABLE_UNPRIVILEGED);
      /* Names: every in-argument in order, then device_id and details. */
      const char *name = v->x.method.names;
      for (guint a = 0; a < ep_kind_n_args (k); a++, name += strlen (name) + 1)
        g_assert_cmpstr (name, ==, k->args[a].name);
      g_assert_cmpstr (name, ==, "device_id");
      name += strlen (name) + 1;
      g_assert_cmpstr (name, ==, "details");
    }
  g_assert_cmpstr (vt[i].x.method.member, ==, "ListDevices");
  g_assert_cmpint (vt[i + 1].type, ==, _SD_BUS_VTABLE_END);
}

/* A bus object that can make messages: started over a socketpair, never
 * used to send. */
static sd_bus *
message_factory (int fds[2])
{
  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), ==, 0);
  sd_bus *bus = NULL;
  g_assert_cmpint (sd_bus_new (&bus), >=, 0);
  g_assert_cmpint (sd_bus_set_fd (bus, fds[0], fds[0]), >=, 0);
  g_assert_cmpint (sd_bus_start (bus), >=, 0);
  return bus;
}

/* @m sealed and rewound, ready to be read as a receiver would. */
static void
seal (sd_bus_message *m)
{
  g_assert_cmpint (sd_bus_message_seal (m, 1, 0), >=, 0);
  g_assert_cmpint (sd_bus_message_rewind (m, 1), >=, 0);
}

static void
test_failed_signal (void)
{
  int fds[2];
  sd_bus *bus = message_factory (fds);
  const EpKind *kind = ep_kind_by_name ("gateway");
  g_autoptr (EpArgs) args = ep_args_new (kind);
  args->str[0] = g_strdup ("site-1");
  args->num[ep_kind_arg_index (kind, "latitude")] = 52.5;
  sd_bus_message *m = NULL;
  g_assert_cmpint (sd_bus_message_new_signal (bus, &m, "/p", "i.f", "ProvisioningFailed"), >=, 0);
  EpBusFailed f = { "gateway", "e.Name", "text", args };
  g_assert_cmpint (ep_bus_append_failed_signal (m, &f), >=, 0);
  seal (m);
  g_assert_cmpstr (sd_bus_message_get_signature (m, 1), ==, "sssa{sv}");
  const char *k, *e, *t;
  g_assert_cmpint (sd_bus_message_read (m, "sss", &k, &e, &t), >=, 0);
  g_assert_cmpstr (k, ==, "gateway");
  g_assert_cmpstr (e, ==, "e.Name");
  g_assert_cmpstr (t, ==, "text");
  /* Every argument set, by name with its own type; unset strings left out. */
  g_assert_cmpint (sd_bus_message_enter_container (m, 'a', "{sv}"), >=, 0);
  guint seen = 0;
  const char *key;
  while (sd_bus_message_enter_container (m, 'e', "sv") > 0)
    {
      g_assert_cmpint (sd_bus_message_read (m, "s", &key), >=, 0);
      if (strcmp (key, "site_id") == 0)
        {
          const char *v;
          g_assert_cmpint (sd_bus_message_read (m, "v", "s", &v), >=, 0);
          g_assert_cmpstr (v, ==, "site-1");
        }
      else if (strcmp (key, "latitude") == 0 || strcmp (key, "longitude") == 0)
        {
          double d;
          g_assert_cmpint (sd_bus_message_read (m, "v", "d", &d), >=, 0);
          g_assert_cmpfloat (d, ==, strcmp (key, "latitude") == 0 ? 52.5 : 0.0);
        }
      else
        g_test_fail_printf ("unexpected key %s", key);
      seen++;
      g_assert_cmpint (sd_bus_message_exit_container (m), >=, 0);
    }
  g_assert_cmpuint (seen, ==, 3);
  sd_bus_message_unref (m);
  sd_bus_close_unref (bus);
  close (fds[1]);
}

static void
test_details_and_string (void)
{
  int fds[2];
  sd_bus *bus = message_factory (fds);
  EpDetails d = { 0 };
  d.items[d.n++] = (EpDetail) { .key = "kind", .type = 's', .string = "ucm" };
  d.items[d.n++] = (EpDetail) { .key = "reprovisioned", .type = 'b', .number = 1 };
  d.items[d.n++] = (EpDetail) { .key = "mqtt_port", .type = 'u', .number = 8883 };
  EpBusProvisioned p = { "ucm", "dev-1", &d };
  sd_bus_message *m = NULL;
  g_assert_cmpint (sd_bus_message_new_signal (bus, &m, "/p", "i.f", "DeviceProvisioned"), >=, 0);
  g_assert_cmpint (ep_bus_append_provisioned_signal (m, &p), >=, 0);
  g_assert_cmpint (ep_bus_append_string (m, "tail"), >=, 0);
  g_assert_cmpint (ep_bus_append_nothing (m, NULL), ==, 0);
  seal (m);
  g_assert_cmpstr (sd_bus_message_get_signature (m, 1), ==, "ssa{sv}s");
  const char *kind, *id, *s, *tail;
  int b;
  uint32_t port;
  g_assert_cmpint (sd_bus_message_read (m, "ss", &kind, &id), >=, 0);
  g_assert_cmpstr (id, ==, "dev-1");
  /* In order, each with its own type. */
  const char *k1, *k2, *k3;
  g_assert_cmpint (sd_bus_message_read (m, "a{sv}", 3, &k1, "s", &s, &k2, "b", &b, &k3, "u",
                                        &port), >=, 0);
  g_assert_cmpstr (k1, ==, "kind");
  g_assert_cmpstr (k2, ==, "reprovisioned");
  g_assert_cmpstr (k3, ==, "mqtt_port");
  g_assert_cmpstr (s, ==, "ucm");
  g_assert_true (b);
  g_assert_cmpuint (port, ==, 8883);
  g_assert_cmpint (sd_bus_message_read (m, "s", &tail), >=, 0);
  g_assert_cmpstr (tail, ==, "tail");
  sd_bus_message_unref (m);
  sd_bus_close_unref (bus);
  close (fds[1]);
}

/* Strings in details come back byte for byte, ASCII (copied in without
 * sd-bus's UTF-8 check) and not; invalid UTF-8 is still refused. */
static void
test_detail_strings (void)
{
  static const char *const values[] = {
    "", "ucm-1", "a b\x01\t\x7f~", "Z\xc3\xbcrich \xe8\xae\xbe\xe5\xa4\x87 \xf0\x9f\x9a\x80",
    "ascii then \xc3\xa9",
  };
  int fds[2];
  sd_bus *bus = message_factory (fds);
  EpDetails d = { 0 };
  for (guint i = 0; i < G_N_ELEMENTS (values); i++)
    d.items[d.n++] = (EpDetail) { .key = i % 2 ? "k\xc3\xa9y" : "key", .type = 's',
                                  .string = values[i] };
  sd_bus_message *m = NULL;
  g_assert_cmpint (sd_bus_message_new_signal (bus, &m, "/p", "i.f", "S"), >=, 0);
  g_assert_cmpint (ep_bus_append_details (m, &d), >=, 0);
  seal (m);
  g_assert_cmpint (sd_bus_message_enter_container (m, 'a', "{sv}"), >=, 0);
  for (guint i = 0; i < G_N_ELEMENTS (values); i++)
    {
      const char *key, *value;
      g_assert_cmpint (sd_bus_message_read (m, "{sv}", &key, "s", &value), >, 0);
      g_assert_cmpstr (key, ==, i % 2 ? "k\xc3\xa9y" : "key");
      g_assert_cmpstr (value, ==, values[i]);
    }
  g_assert_cmpint (sd_bus_message_exit_container (m), >=, 0);
  sd_bus_message_unref (m);

  EpDetails bad = { 0 };
  bad.items[bad.n++] = (EpDetail) { .key = "name", .type = 's', .string = "ok \xff" };
  g_assert_cmpint (sd_bus_message_new_signal (bus, &m, "/p", "i.f", "S"), >=, 0);
  g_assert_cmpint (ep_bus_append_details (m, &bad), <, 0);
  sd_bus_message_unref (m);
  sd_bus_close_unref (bus);
  close (fds[1]);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/bus/vtable-matches-kinds", test_vtable_matches_kinds);
  g_test_add_func ("/bus/failed-signal", test_failed_signal);
  g_test_add_func ("/bus/details-and-string", test_details_and_string);
  g_test_add_func ("/bus/detail-strings", test_detail_strings);
  return g_test_run ();
}
