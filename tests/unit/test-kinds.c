/* Unit tests of src/kinds.h: the table of the eight kinds against README
 * "D-Bus API" and "Configuration" and enapter-provisiond(8) "Retries", the
 * arguments' roles, and the busy key of a call. */
#include "unit-util.h"

typedef struct {
  const char *kind;
  const char *method;
  const char *signature;
  const char *args[EP_MAX_ARGS];
  EpRoute route;
  gboolean has_slug;
  gboolean has_config;
  gboolean idempotent;
} Expected;

/* README "D-Bus API" (methods and routes) and enapter-provisiond(8) "Retries"; the
 * response shapes of the API seed. */
static const Expected expected[] = {
  { "ucm", "ProvisionUcm", "ssss", { "site_id", "hardware_id", "name", "protocol" },
    EP_ROUTE_DEFAULT, TRUE, TRUE, TRUE },
  { "vucm", "ProvisionVucm", "sss", { "site_id", "hardware_id", "name" },
    EP_ROUTE_GATEWAY, FALSE, FALSE, TRUE },
  { "embedded", "ProvisionEmbedded", "sssss",
    { "device_type", "site_id", "hardware_id", "name", "protocol" },
    EP_ROUTE_DEFAULT, TRUE, TRUE, TRUE },
  { "link_master", "ProvisionLinkMaster", "sss", { "site_id", "hardware_id", "name" },
    EP_ROUTE_GATEWAY, FALSE, FALSE, TRUE },
  { "link_slave", "ProvisionLinkSlave", "ssss",
    { "site_id", "hardware_id", "name", "master_device_id" },
    EP_ROUTE_GATEWAY, FALSE, FALSE, TRUE },
  { "standalone", "ProvisionStandalone", "ss", { "site_id", "name" },
    EP_ROUTE_DEFAULT, TRUE, FALSE, FALSE },
  { "lua_device", "ProvisionLuaDevice", "ssss", { "runtime_id", "blueprint_id", "name", "slug" },
    EP_ROUTE_DEFAULT, TRUE, FALSE, FALSE },
  { "gateway", "ProvisionGateway", "sssssdd",
    { "site_id", "hardware_id", "gateway_version", "site_name", "site_timezone", "latitude",
      "longitude" },
    EP_ROUTE_CLOUD, FALSE, TRUE, TRUE },
};

static const Expected *
expected_for (const char *kind)
{
  for (size_t i = 0; i < G_N_ELEMENTS (expected); i++)
    if (strcmp (expected[i].kind, kind) == 0)
      return &expected[i];
  return NULL;
}

static guint
table_size (void)
{
  guint n = 0;
  for (const EpKind *k = ep_kinds; k->kind; k++)
    n++;
  return n;
}

static void
test_count_and_unique (void)
{
  g_assert_cmpuint (table_size (), ==, 8);
  g_autoptr (GHashTable) kinds = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr (GHashTable) methods = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr (GHashTable) endpoints = g_hash_table_new (g_str_hash, g_str_equal);
  for (const EpKind *k = ep_kinds; k->kind; k++)
    {
      g_assert_nonnull (k->method);
      g_assert_nonnull (k->endpoint);
      g_assert_true (g_hash_table_add (kinds, (gpointer) k->kind));
      g_assert_true (g_hash_table_add (methods, (gpointer) k->method));
      g_assert_true (g_hash_table_add (endpoints, (gpointer) k->endpoint));
      g_assert_nonnull (expected_for (k->kind));
    }
  g_assert_cmpuint (g_hash_table_size (kinds), ==, 8);
}

/* "lua_device" -> "ProvisionLuaDevice". */
static char *
method_for_kind (const char *kind)
{
  GString *m = g_string_new ("Provision");
  gboolean upper = TRUE;
  for (const char *p = kind; *p; p++)
    {
      if (*p == '_')
        {
          upper = TRUE;
          continue;
        }
      g_string_append_c (m, upper ? g_ascii_toupper (*p) : *p);
      upper = FALSE;
    }
  return g_string_free (m, FALSE);
}

static void
test_methods (void)
{
  for (const EpKind *k = ep_kinds; k->kind; k++)
    {
      g_autofree char *camel = method_for_kind (k->kind);
      g_assert_cmpstr (k->method, ==, camel);
      g_assert_cmpstr (k->method, ==, expected_for (k->kind)->method);
      g_assert_true (ep_kind_by_method (k->method) == k);
      g_assert_true (ep_kind_by_name (k->kind) == k);
    }
  g_assert_null (ep_kind_by_method ("ProvisionNothing"));
  g_assert_null (ep_kind_by_method ("provisionucm"));
  g_assert_null (ep_kind_by_method (NULL));
  g_assert_null (ep_kind_by_name ("UCM"));
  g_assert_null (ep_kind_by_name (""));
  g_assert_null (ep_kind_by_name (NULL));
}

static void
test_signatures (void)
{
  for (const EpKind *k = ep_kinds; k->kind; k++)
    {
      const Expected *want = expected_for (k->kind);
      g_autofree char *sig = ep_kind_signature (k);
      g_assert_cmpstr (sig, ==, want->signature);
      g_assert_cmpuint (ep_kind_n_args (k), ==, strlen (want->signature));
      for (guint i = 0; i < ep_kind_n_args (k); i++)
        {
          g_assert_cmpstr (k->args[i].name, ==, want->args[i]);
          g_assert_cmpint (k->args[i].type, ==, want->signature[i]);
          g_assert_cmpint (ep_kind_arg_index (k, want->args[i]), ==, (int) i);
        }
      g_assert_null (want->args[ep_kind_n_args (k)]);
      g_assert_cmpint (ep_kind_arg_index (k, "no_such_arg"), ==, -1);
    }
}

static void
test_rules (void)
{
  /* Each argument name has one rule wherever it appears (README "D-Bus API"). */
  struct { const char *name; EpRule rule; } rules[] = {
    { "site_id", EP_RULE_ID }, { "runtime_id", EP_RULE_ID }, { "blueprint_id", EP_RULE_ID },
    { "master_device_id", EP_RULE_ID }, { "hardware_id", EP_RULE_HARDWARE_ID },
    { "name", EP_RULE_NAME }, { "site_name", EP_RULE_NAME }, { "protocol", EP_RULE_PROTOCOL },
    { "device_type", EP_RULE_DEVICE_TYPE }, { "slug", EP_RULE_SLUG },
    { "gateway_version", EP_RULE_SEMVER }, { "site_timezone", EP_RULE_TIMEZONE },
    { "latitude", EP_RULE_LATITUDE }, { "longitude", EP_RULE_LONGITUDE },
  };
  for (const EpKind *k = ep_kinds; k->kind; k++)
    for (guint i = 0; i < ep_kind_n_args (k); i++)
      {
        gboolean found = FALSE;
        for (size_t r = 0; r < G_N_ELEMENTS (rules); r++)
          if (strcmp (rules[r].name, k->args[i].name) == 0)
            {
              g_assert_cmpint (k->args[i].rule, ==, rules[r].rule);
              found = TRUE;
            }
        g_assert_true (found);
      }
}

static void
test_endpoints_and_routes (void)
{
  for (const EpKind *k = ep_kinds; k->kind; k++)
    {
      const Expected *want = expected_for (k->kind);
      g_autofree char *endpoint = g_strconcat ("/v3/provisioning/", k->kind, NULL);
      g_assert_cmpstr (k->endpoint, ==, endpoint);
      g_assert_cmpint (k->route, ==, want->route);
      g_assert_cmpint (k->has_slug, ==, want->has_slug);
      g_assert_cmpint (k->has_config, ==, want->has_config);
    }
}

static void
test_flags (void)
{
  for (const EpKind *k = ep_kinds; k->kind; k++)
    {
      const Expected *want = expected_for (k->kind);
      gboolean gateway = strcmp (k->kind, "gateway") == 0;
      g_assert_cmpstr (k->id_field, ==, gateway ? "gateway_device_id" : "device_id");
      /* Retried after an ambiguous failure exactly when keyed by hardware. */
      g_assert_cmpint (k->idempotent, ==, want->idempotent);
      g_assert_cmpint (k->idempotent, ==, ep_kind_arg_index (k, "hardware_id") >= 0);
      g_assert_cmpint (k->cannot_reprovision, ==, strcmp (k->kind, "lua_device") == 0);
    }
}

static void
test_body_paths (void)
{
  /* Only the gateway's coordinates are nested (site_location). */
  for (const EpKind *k = ep_kinds; k->kind; k++)
    for (guint i = 0; i < ep_kind_n_args (k); i++)
      {
        const EpArg *arg = &k->args[i];
        if (strcmp (arg->name, "latitude") == 0 || strcmp (arg->name, "longitude") == 0)
          {
            g_autofree char *path = g_strconcat ("site_location.", arg->name, NULL);
            g_assert_cmpstr (arg->json, ==, path);
          }
        else
          g_assert_true (arg->json == NULL || strcmp (arg->json, arg->name) == 0);
      }
}

static void
test_args_get (void)
{
  g_autoptr (EpArgs) args = unit_args_seed ("link_slave");
  g_assert_cmpstr (ep_args_get (args, "master_device_id"), ==,
                   "02618484-5c16-4159-998a-ef4acc16666c");
  g_assert_cmpstr (ep_args_get (args, "name"), ==, "ENP-AO6 BCC4");
  g_assert_null (ep_args_get (args, "protocol"));
  g_assert_null (ep_args_get (args, "slug"));
}

/* The roles generic code asks for: at most one argument each, the one the
 * README's argument tables mean. */
static void
test_roles (void)
{
  static const struct { EpArgRole role; EpRule rule; } by_rule[] = {
    { EP_ARG_HARDWARE_ID, EP_RULE_HARDWARE_ID }, { EP_ARG_PROTOCOL, EP_RULE_PROTOCOL },
    { EP_ARG_SLUG, EP_RULE_SLUG },
  };
  for (const EpKind *k = ep_kinds; k->kind; k++)
    {
      for (guint i = 0; i < ep_kind_n_args (k); i++)
        {
          const EpArg *arg = &k->args[i];
          for (guint j = i + 1; j < ep_kind_n_args (k); j++)
            g_assert_true (arg->role == EP_ARG_PLAIN || k->args[j].role != arg->role);
          for (size_t r = 0; r < G_N_ELEMENTS (by_rule); r++)
            g_assert_cmpint (arg->role == by_rule[r].role, ==, arg->rule == by_rule[r].rule);
        }
      /* The device's name: "name", or the gateway's site's. */
      int name = ep_kind_role_index (k, EP_ARG_NAME);
      g_assert_cmpint (name, >=, 0);
      g_assert_cmpstr (k->args[name].name, ==,
                       strcmp (k->kind, "gateway") == 0 ? "site_name" : "name");
      g_assert_cmpint (ep_kind_role_index (k, EP_ARG_HARDWARE_ID), ==,
                       ep_kind_arg_index (k, "hardware_id"));
      g_assert_cmpint (ep_kind_role_index (k, EP_ARG_PROTOCOL), ==,
                       ep_kind_arg_index (k, "protocol"));
      g_assert_cmpint (ep_kind_role_index (k, EP_ARG_SLUG), ==, ep_kind_arg_index (k, "slug"));
    }

  g_autoptr (EpArgs) slave = unit_args_seed ("link_slave");
  g_assert_cmpstr (ep_args_role (slave, EP_ARG_NAME), ==, "ENP-AO6 BCC4");
  g_assert_cmpstr (ep_args_role (slave, EP_ARG_HARDWARE_ID), ==,
                   "435840FFE5CD4E9DA93545DDF7E6D5FB");
  g_assert_null (ep_args_role (slave, EP_ARG_PROTOCOL));
  g_assert_null (ep_args_role (slave, EP_ARG_SLUG));
  g_autoptr (EpArgs) gateway = unit_args_seed ("gateway");
  g_assert_cmpstr (ep_args_role (gateway, EP_ARG_NAME), ==, "My Site");
  g_autoptr (EpArgs) lua = unit_args_seed ("lua_device");
  g_assert_cmpstr (ep_args_role (lua, EP_ARG_SLUG), ==, "gas-sensor-1");
  g_assert_null (ep_args_role (lua, EP_ARG_HARDWARE_ID));
  g_autoptr (EpArgs) ucm = unit_args_seed ("ucm");
  g_assert_cmpstr (ep_args_role (ucm, EP_ARG_PROTOCOL), ==, "MQTTS");
}

static char *
identity_of (const char *kind, const char *const *names, const char *const *values)
{
  g_autoptr (EpArgs) args = unit_args_seed (kind);
  for (size_t i = 0; names[i]; i++)
    unit_args_set (args, names[i], values[i]);
  return ep_args_busy_key (args);
}

static void
test_identity_hardware (void)
{
  static const char *const hw[] = { "hardware_id", NULL };
  static const char *const hw_site[] = { "hardware_id", "site_id", "name", NULL };
  static const char *const x[] = { "HW0001" };
  static const char *const x_other_site[] = { "HW0001", "othersite", "Other name" };
  static const char *const y[] = { "HW0002" };

  g_autofree char *ucm = identity_of ("ucm", hw, x);
  g_autofree char *embedded = identity_of ("embedded", hw, x);
  g_autofree char *ucm_moved = identity_of ("ucm", hw_site, x_other_site);
  g_autofree char *ucm_other = identity_of ("ucm", hw, y);
  g_assert_nonnull (ucm);
  g_assert_cmpstr (ucm, ==, embedded);
  g_assert_cmpstr (ucm, ==, ucm_moved);
  g_assert_cmpstr (ucm, !=, ucm_other);

  /* One hardware namespace across every hardware-keyed kind. */
  static const char *const hw_kinds[] = { "vucm", "link_master", "link_slave", "gateway" };
  for (size_t i = 0; i < G_N_ELEMENTS (hw_kinds); i++)
    {
      g_autofree char *same = identity_of (hw_kinds[i], hw, x);
      g_autofree char *other = identity_of (hw_kinds[i], hw, y);
      g_assert_cmpstr (same, ==, ucm);
      g_assert_cmpstr (other, ==, ucm_other);
    }

  /* The protocol does not make another device. */
  g_autoptr (EpArgs) mqtt = unit_args_seed ("ucm");
  unit_args_set (mqtt, "hardware_id", "HW0001");
  unit_args_set (mqtt, "protocol", "MQTT");
  g_autofree char *ucm_mqtt = ep_args_busy_key (mqtt);
  g_assert_cmpstr (ucm_mqtt, ==, ucm);
}

static void
test_identity_standalone (void)
{
  static const char *const names[] = { "site_id", "name", NULL };
  static const char *const a[] = { "site1", "Pump" };
  static const char *const b[] = { "site1", "Pump 2" };
  static const char *const c[] = { "site2", "Pump" };
  g_autofree char *id_a = identity_of ("standalone", names, a);
  g_autofree char *id_a2 = identity_of ("standalone", names, a);
  g_autofree char *id_b = identity_of ("standalone", names, b);
  g_autofree char *id_c = identity_of ("standalone", names, c);
  g_assert_cmpstr (id_a, ==, id_a2);
  g_assert_cmpstr (id_a, !=, id_b);
  g_assert_cmpstr (id_a, !=, id_c);
  g_assert_cmpstr (id_b, !=, id_c);
}

static void
test_identity_lua (void)
{
  static const char *const names[] = { "runtime_id", "slug", "blueprint_id", "name", NULL };
  static const char *const a[] = { "rt1", "gas-1", "bp1", "Gas" };
  static const char *const a_other_bp[] = { "rt1", "gas-1", "bp2", "Other name" };
  static const char *const other_slug[] = { "rt1", "gas-2", "bp1", "Gas" };
  static const char *const other_rt[] = { "rt2", "gas-1", "bp1", "Gas" };
  g_autofree char *id_a = identity_of ("lua_device", names, a);
  g_autofree char *id_bp = identity_of ("lua_device", names, a_other_bp);
  g_autofree char *id_slug = identity_of ("lua_device", names, other_slug);
  g_autofree char *id_rt = identity_of ("lua_device", names, other_rt);
  g_assert_cmpstr (id_a, ==, id_bp);
  g_assert_cmpstr (id_a, !=, id_slug);
  g_assert_cmpstr (id_a, !=, id_rt);

  /* A Lua device and a standalone device never share an identity, even with
   * the same strings in the same places. */
  static const char *const sa_names[] = { "site_id", "name", NULL };
  static const char *const sa_values[] = { "rt1", "gas-1" };
  g_autofree char *standalone = identity_of ("standalone", sa_names, sa_values);
  g_assert_cmpstr (id_a, !=, standalone);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/kinds/count-and-unique", test_count_and_unique);
  g_test_add_func ("/kinds/methods", test_methods);
  g_test_add_func ("/kinds/signatures", test_signatures);
  g_test_add_func ("/kinds/rules", test_rules);
  g_test_add_func ("/kinds/endpoints-and-routes", test_endpoints_and_routes);
  g_test_add_func ("/kinds/flags", test_flags);
  g_test_add_func ("/kinds/body-paths", test_body_paths);
  g_test_add_func ("/kinds/args-get", test_args_get);
  g_test_add_func ("/kinds/roles", test_roles);
  g_test_add_func ("/kinds/identity/hardware", test_identity_hardware);
  g_test_add_func ("/kinds/identity/standalone", test_identity_standalone);
  g_test_add_func ("/kinds/identity/lua", test_identity_lua);
  return g_test_run ();
}
