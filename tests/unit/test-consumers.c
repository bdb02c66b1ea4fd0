/* Unit tests of src/consumers.h: [Consumer NAME] sections parsed and
 * refused as the configuration is loaded, and which callers and devices
 * they match. Users and groups every Debian system has (root, nobody,
 * nogroup) stand for the consumers' accounts. */
#include "config-util.h"
#include "consumers.h"

#include <json-glib/json-glib.h>

#define ACCESS_NONE "[Access]\nGroup=\n"

static void
test_parse (void)
{
  g_autoptr (EpConfig) c = load_ok (ACCESS_NONE
                                    "[Consumer ucm-agent]\nUser=nobody   # the agent\n"
                                    "Devices=kind:ucm kind:vucm\n"
                                    "[Consumer site]\nGroup=nogroup\nDevices=site:my-site dev-1 *\n"
                                    "[Consumer both]\nUser=root\nGroup=root\nDevices=dev-2\n");
  g_assert_cmpuint (c->consumers->len, ==, 3);
  const EpConsumer *a = c->consumers->pdata[0];
  g_assert_cmpstr (a->name, ==, "ucm-agent");
  g_assert_true (a->has_uid);
  g_assert_cmpint (a->uid, ==, 65534);
  g_assert_false (a->has_gid);
  g_assert_cmpuint (a->devices->len, ==, 2);
  g_assert_cmpint (g_array_index (a->devices, EpSelector, 1).type, ==, EP_SELECT_KIND);
  g_assert_cmpstr (g_array_index (a->devices, EpSelector, 1).value, ==, "vucm");
  const EpConsumer *s = c->consumers->pdata[1];
  g_assert_true (s->has_gid);
  g_assert_cmpint (s->gid, ==, 65534);
  g_assert_cmpuint (s->devices->len, ==, 3);
  g_assert_cmpint (g_array_index (s->devices, EpSelector, 0).type, ==, EP_SELECT_SITE);
  g_assert_cmpint (g_array_index (s->devices, EpSelector, 1).type, ==, EP_SELECT_DEVICE);
  g_assert_cmpint (g_array_index (s->devices, EpSelector, 2).type, ==, EP_SELECT_ALL);

  /* None at all: no consumer. */
  g_autoptr (EpConfig) none = load_ok ("");
  g_assert_cmpuint (none->consumers->len, ==, 0);
}

static void
test_refusals (void)
{
  static const struct {
    const char *text, *needle1, *needle2;
  } bad[] = {
    { "[Consumer a]\nUser=nobody\nDevices=kind:toaster\n", "[Consumer a] Devices", "toaster" },
    { "[Consumer a]\nUser=nobody\nDevices=kinds:ucm\n", "[Consumer a] Devices", "none of" },
    { "[Consumer a]\nUser=nobody\nDevices=site:bad/site\n", "[Consumer a] Devices", "site" },
    { "[Consumer a]\nUser=nobody\nDevices=../etc\n", "[Consumer a] Devices", "none of" },
    { "[Consumer a]\nUser=no-such-user-ep\nDevices=*\n", "[Consumer a] User", "no user" },
    { "[Consumer a]\nGroup=no-such-group-ep\nDevices=*\n", "[Consumer a] Group", "no group" },
    { "[Consumer a]\nDevices=*\n", "[Consumer a]", "User, Group" },
    { "[Consumer a]\nUser=nobody\n", "[Consumer a]", "Devices" },
    { "[Consumer a]\nUser=nobody\nDevices=\n", "[Consumer a]", "Devices" },
    { "[Consumer a]\nUser=nobody\nDevices=*\nPath=/x\n", "[Consumer a] Path", "unknown key" },
    { "[Consumer]\nUser=nobody\nDevices=*\n", "[Consumer]", "unknown section" },
  };
  for (size_t i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autofree char *text = g_strconcat (ACCESS_NONE, bad[i].text, NULL);
      g_free (load_fails (text, CONF_NAME, bad[i].needle1, bad[i].needle2, NULL));
    }
  /* At most EP_MAX_CONSUMERS sections: a caller's are a bit mask. */
  GString *many = g_string_new (ACCESS_NONE);
  for (int i = 0; i <= EP_MAX_CONSUMERS; i++)
    g_string_append_printf (many, "[Consumer c%d]\nUser=nobody\nDevices=*\n", i);
  g_autofree char *text = g_string_free (many, FALSE);
  g_free (load_fails (text, CONF_NAME, "more than 64", NULL));
}

/* Every problem of a section at once, each on its line; a value refused
 * does not also count as missing. */
static void
test_every_problem (void)
{
  static const char text[] = ACCESS_NONE
    "[Consumer a]\nUser=no-such-user-ep\nDevices=kind:toaster\nPath=/x\n"
    "[Consumer b]\nDevices=\n";
  g_auto (GStrv) problems = NULL;
  g_autoptr (EpConfig) c = ep_config_check_data (text, strlen (text), CONF_NAME, &problems);
  g_assert_null (c);
  g_autofree char *got = g_strjoinv ("\n", problems);
  g_assert_cmpstr (got, ==,
                   CONF_NAME ":4: [Consumer a] User: no user named 'no-such-user-ep'; create it "
                   "or name an existing user\n"
                   CONF_NAME ":5: [Consumer a] Devices: 'kind:toaster' names no kind; use one "
                   "of ucm, vucm, embedded, link_master, link_slave, standalone, lua_device, "
                   "gateway\n"
                   CONF_NAME ":6: [Consumer a] Path: unknown key; a consumer section has User, "
                   "Group and Devices: fix its name or remove it\n"
                   CONF_NAME ":7: [Consumer b] User, Group: the section names neither; give the "
                   "user or group the consumer runs as\n"
                   CONF_NAME ":8: [Consumer b] Devices: no device is named; give kind:<kind>, "
                   "site:<site_id>, device ids or *");
}

static EpDeviceInfo *
device (const char *kind, const char *site)
{
  g_autoptr (JsonObject) meta = json_object_new ();
  json_object_set_string_member (meta, "kind", kind);
  json_object_set_string_member (meta, "site_id", site);
  return ep_device_info_new (meta);
}

static void
test_matching (void)
{
  g_autoptr (EpConfig) c = load_ok (ACCESS_NONE
                                    "[Consumer by-user]\nUser=nobody\nDevices=kind:ucm\n"
                                    "[Consumer by-group]\nGroup=nogroup\nDevices=site:s1 dev-9\n");
  gid_t groups[] = { 100, 65534 };
  g_assert_cmpuint (ep_consumers_match (c->consumers, 65534, NULL, 0), ==, 0x1);
  g_assert_cmpuint (ep_consumers_match (c->consumers, 1000, groups, 2), ==, 0x2);
  g_assert_cmpuint (ep_consumers_match (c->consumers, 65534, groups, 2), ==, 0x3);
  g_assert_cmpuint (ep_consumers_match (c->consumers, 1000, groups, 1), ==, 0);

  g_autoptr (EpDeviceInfo) ucm_s2 = device ("ucm", "s2");
  g_autoptr (EpDeviceInfo) vucm_s1 = device ("vucm", "s1");
  g_autoptr (EpDeviceInfo) vucm_s2 = device ("vucm", "s2");
  g_assert_true (ep_consumers_select (c->consumers, 0x1, "d1", ucm_s2));
  g_assert_false (ep_consumers_select (c->consumers, 0x1, "d2", vucm_s1));
  g_assert_true (ep_consumers_select (c->consumers, 0x2, "d2", vucm_s1));
  g_assert_false (ep_consumers_select (c->consumers, 0x2, "d3", vucm_s2));
  g_assert_true (ep_consumers_select (c->consumers, 0x2, "dev-9", vucm_s2));
  g_assert_false (ep_consumers_select (c->consumers, 0, "d1", ucm_s2));
  /* A device not held: only a selector naming it matches. */
  g_assert_false (ep_consumers_select (c->consumers, 0x1, "d1", NULL));
  g_assert_true (ep_consumers_select (c->consumers, 0x2, "dev-9", NULL));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/consumers/parse", test_parse);
  g_test_add_func ("/consumers/refusals", test_refusals);
  g_test_add_func ("/consumers/every-problem", test_every_problem);
  g_test_add_func ("/consumers/matching", test_matching);
  return g_test_run ();
}
