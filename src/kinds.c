#include "kinds.h"

#include <string.h>

#define SITE_ID     { "site_id", 's', EP_RULE_ID, NULL, FALSE, EP_ARG_PLAIN }
#define HARDWARE_ID { "hardware_id", 's', EP_RULE_HARDWARE_ID, NULL, TRUE, EP_ARG_HARDWARE_ID }
#define NAME        { "name", 's', EP_RULE_NAME, NULL, FALSE, EP_ARG_NAME }
#define PROTOCOL    { "protocol", 's', EP_RULE_PROTOCOL, NULL, FALSE, EP_ARG_PROTOCOL }

const char *const ep_protocols[EP_N_PROTOCOLS + 1] = {
  [EP_PROTOCOL_MQTT] = "MQTT",
  [EP_PROTOCOL_MQTTS] = "MQTTS",
  [EP_N_PROTOCOLS] = NULL,
};

const EpKind ep_kinds[] = {
  {
    .kind = "ucm", .method = "ProvisionUcm", .endpoint = "/v3/provisioning/ucm",
    .route = EP_ROUTE_DEFAULT,
    .args = { SITE_ID, HARDWARE_ID, NAME, PROTOCOL },
    .id_field = "device_id", .has_slug = TRUE, .has_config = TRUE,
    .idempotent = TRUE,
  },
  {
    .kind = "vucm", .method = "ProvisionVucm", .endpoint = "/v3/provisioning/vucm",
    .route = EP_ROUTE_GATEWAY,
    .args = { SITE_ID, HARDWARE_ID, NAME },
    .id_field = "device_id",
    .idempotent = TRUE,
  },
  {
    .kind = "embedded", .method = "ProvisionEmbedded", .endpoint = "/v3/provisioning/embedded",
    .route = EP_ROUTE_DEFAULT,
    .args = { { "device_type", 's', EP_RULE_DEVICE_TYPE, NULL, FALSE, EP_ARG_PLAIN },
              SITE_ID, HARDWARE_ID, NAME, PROTOCOL },
    .id_field = "device_id", .has_slug = TRUE, .has_config = TRUE,
    .idempotent = TRUE,
  },
  {
    .kind = "link_master", .method = "ProvisionLinkMaster",
    .endpoint = "/v3/provisioning/link_master",
    .route = EP_ROUTE_GATEWAY,
    .args = { SITE_ID, HARDWARE_ID, NAME },
    .id_field = "device_id",
    .idempotent = TRUE,
  },
  {
    .kind = "link_slave", .method = "ProvisionLinkSlave",
    .endpoint = "/v3/provisioning/link_slave",
    .route = EP_ROUTE_GATEWAY,
    .args = { SITE_ID, HARDWARE_ID, NAME,
              { "master_device_id", 's', EP_RULE_ID, NULL, FALSE, EP_ARG_PLAIN } },
    .id_field = "device_id",
    .idempotent = TRUE,
  },
  {
    .kind = "standalone", .method = "ProvisionStandalone",
    .endpoint = "/v3/provisioning/standalone",
    .route = EP_ROUTE_DEFAULT,
    .args = { { "site_id", 's', EP_RULE_ID, NULL, TRUE, EP_ARG_PLAIN },
              { "name", 's', EP_RULE_NAME, NULL, TRUE, EP_ARG_NAME } },
    .id_field = "device_id", .has_slug = TRUE,
  },
  {
    .kind = "lua_device", .method = "ProvisionLuaDevice",
    .endpoint = "/v3/provisioning/lua_device",
    .route = EP_ROUTE_DEFAULT,
    .args = { { "runtime_id", 's', EP_RULE_ID, NULL, TRUE, EP_ARG_PLAIN },
              { "blueprint_id", 's', EP_RULE_ID, NULL, FALSE, EP_ARG_PLAIN },
              NAME,
              { "slug", 's', EP_RULE_SLUG, NULL, TRUE, EP_ARG_SLUG } },
    .id_field = "device_id", .has_slug = TRUE,
    .cannot_reprovision = TRUE,
  },
  {
    .kind = "gateway", .method = "ProvisionGateway", .endpoint = "/v3/provisioning/gateway",
    .route = EP_ROUTE_CLOUD,
    .args = { SITE_ID, HARDWARE_ID,
              { "gateway_version", 's', EP_RULE_SEMVER, NULL, FALSE, EP_ARG_PLAIN },
              /* A gateway's device.json names it after its site. */
              { "site_name", 's', EP_RULE_NAME, NULL, FALSE, EP_ARG_NAME },
              { "site_timezone", 's', EP_RULE_TIMEZONE, NULL, FALSE, EP_ARG_PLAIN },
              { "latitude", 'd', EP_RULE_LATITUDE, "site_location.latitude", FALSE,
                EP_ARG_PLAIN },
              { "longitude", 'd', EP_RULE_LONGITUDE, "site_location.longitude", FALSE,
                EP_ARG_PLAIN } },
    .id_field = "gateway_device_id", .has_config = TRUE,
    .idempotent = TRUE,
  },
  { .kind = NULL },
};

const EpKind ep_device_methods[] = {
  {
    /* A standalone device gets its first credentials this way, a Lua device
     * (which cannot be reprovisioned) fresh ones; renewal uses it too. It
     * can never create a device, so it is retried like the hardware-keyed
     * kinds. */
    .method = "GenerateCredentials", .endpoint = "/v3/devices/{device_id}/generate_config",
    .route = EP_ROUTE_STORED,
    .args = { { "device_id", 's', EP_RULE_DEVICE_ID, EP_IN_PATH, FALSE, EP_ARG_DEVICE_ID },
              PROTOCOL },
    .has_config = TRUE,
    .idempotent = TRUE,
    .change_reason = "generated",
  },
  { .method = NULL },
};

const EpKind *const ep_renewal_method = &ep_device_methods[0];

const EpKind *
ep_kind_by_method (const char *method)
{
  for (const EpKind *k = ep_kinds; method && k->kind; k++)
    if (strcmp (k->method, method) == 0)
      return k;
  for (const EpKind *k = ep_device_methods; method && k->method; k++)
    if (strcmp (k->method, method) == 0)
      return k;
  return NULL;
}

const char *
ep_kind_change_reason (const EpKind *kind, gboolean replaced)
{
  if (kind->change_reason != NULL)
    return kind->change_reason;
  return replaced ? "reprovisioned" : "provisioned";
}

const EpKind *
ep_kind_by_name (const char *kind)
{
  for (const EpKind *k = ep_kinds; kind && k->kind; k++)
    if (strcmp (k->kind, kind) == 0)
      return k;
  return NULL;
}

guint
ep_kind_n_args (const EpKind *kind)
{
  guint n = 0;
  while (n < EP_MAX_ARGS && kind->args[n].name != NULL)
    n++;
  return n;
}

int
ep_kind_arg_index (const EpKind *kind, const char *name)
{
  for (guint i = 0; i < ep_kind_n_args (kind); i++)
    if (strcmp (kind->args[i].name, name) == 0)
      return (int) i;
  return -1;
}

int
ep_kind_role_index (const EpKind *kind, EpArgRole role)
{
  for (guint i = 0; i < ep_kind_n_args (kind); i++)
    if (kind->args[i].role == role)
      return (int) i;
  return -1;
}

char *
ep_kind_signature (const EpKind *kind)
{
  guint n = ep_kind_n_args (kind);
  char *sig = g_malloc0 (n + 1);
  for (guint i = 0; i < n; i++)
    sig[i] = kind->args[i].type;
  return sig;
}

EpArgs *
ep_args_new (const EpKind *kind)
{
  EpArgs *args = g_new0 (EpArgs, 1);
  args->kind = kind;
  return args;
}

void
ep_args_free (EpArgs *args)
{
  if (args == NULL)
    return;
  for (guint i = 0; i < EP_MAX_ARGS; i++)
    g_free (args->str[i]);
  g_free (args);
}

const char *
ep_args_get (const EpArgs *args, const char *name)
{
  int i = ep_kind_arg_index (args->kind, name);
  return i >= 0 ? args->str[i] : NULL;
}

const char *
ep_args_role (const EpArgs *args, EpArgRole role)
{
  int i = ep_kind_role_index (args->kind, role);
  return i >= 0 ? args->str[i] : NULL;
}

void
ep_busy_args_init (EpBusyArgs *busy, const EpKind *kind, EpArgValueFunc value,
                   gconstpointer source)
{
  guint n = 0;
  *busy = (EpBusyArgs) { .kind = kind };
  for (guint i = 0; i < ep_kind_n_args (kind); i++)
    if (kind->args[i].busy_key)
      {
        busy->names[n] = kind->args[i].name;
        busy->values[n++] = value (kind, i, source);
      }
}

static const char *
call_arg (const EpKind *kind G_GNUC_UNUSED, guint index, gconstpointer source)
{
  return ((const EpArgs *) source)->str[index];
}

void
ep_args_busy_args (const EpArgs *args, EpBusyArgs *busy)
{
  ep_busy_args_init (busy, args->kind, call_arg, args);
}

char *
ep_busy_args_key (const EpBusyArgs *busy)
{
  GString *key = g_string_new (NULL);
  /* Hardware is one namespace across kinds; other identities are per kind. */
  if (ep_kind_role_index (busy->kind, EP_ARG_HARDWARE_ID) < 0)
    g_string_append (key, busy->kind->kind);
  for (guint i = 0; busy->names[i] != NULL; i++)
    g_string_append_printf (key, "\x1f%s=%s", busy->names[i],
                            busy->values[i] ? busy->values[i] : "");
  return g_string_free (key, FALSE);
}

char *
ep_args_busy_key (const EpArgs *args)
{
  EpBusyArgs busy;
  ep_args_busy_args (args, &busy);
  return ep_busy_args_key (&busy);
}
