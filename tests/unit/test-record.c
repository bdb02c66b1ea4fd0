/* Unit tests of src/record.h: device.json as README "Keystore" describes it,
 * written through the keystore, and the details dictionary of README
 * "D-Bus API";
 * and of src/device-info.h, what the index keeps of device.json. */
#include "keystore-util.h"

/* ---- device.json -------------------------------------------------------- */

static void
test_device_json (Fixture *f, gconstpointer data)
{
  g_autoptr (EpKeystore) ks = open_keystore (f->ks_path, FALSE, 0);
  g_autoptr (GDateTime) before = g_date_time_new_now_utc ();
  Outcome o = write_entry (ks, entry_for ("ucm", "MQTTS", MQTTS_RESPONSE));
  g_assert_no_error (o.error);
  g_assert_true (o.ok);

  g_autofree char *path = g_build_filename (f->ks_path, DEVICE_ID, "device.json", NULL);
  g_autofree char *text = read_text (path);
  assert_no_secret (text);
  g_autoptr (JsonObject) meta = read_json_file (path);

  g_assert_cmpstr (json_object_get_string_member (meta, "kind"), ==, "ucm");
  g_assert_cmpstr (json_object_get_string_member (meta, "device_id"), ==, DEVICE_ID);
  g_assert_cmpstr (json_object_get_string_member (meta, "name"), ==, "My UCM");
  g_assert_cmpstr (json_object_get_string_member (meta, "site_id"), ==,
                   "sitebba0-79f2-4e9e-a6f0-69a310ab110b");
  g_assert_cmpstr (json_object_get_string_member (meta, "hardware_id"), ==,
                   "C8795CBA5375484E829105E959663C8B");
  g_assert_cmpstr (json_object_get_string_member (meta, "slug"), ==, "my-ucm");

  const char *stamp = json_object_get_string_member (meta, "provisioned_at");
  g_assert_nonnull (stamp);
  g_assert_true (g_str_has_suffix (stamp, "Z"));
  g_assert_true (g_regex_match_simple ("^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d(\\.\\d+)?Z$",
                                       stamp, 0, 0));
  g_autoptr (GDateTime) when = g_date_time_new_from_iso8601 (stamp, NULL);
  g_assert_nonnull (when);
  g_assert_cmpint (g_date_time_get_utc_offset (when), ==, 0);
  g_assert_cmpint (g_date_time_difference (when, before), >=, -G_TIME_SPAN_SECOND);
  g_assert_cmpint (g_date_time_difference (when, before), <, 300 * G_TIME_SPAN_SECOND);

  JsonObject *config = json_object_get_object_member (meta, "config");
  g_assert_nonnull (config);
  g_assert_cmpstr (json_object_get_string_member (config, "mqtt_host"), ==, "mqtt.enapter.com");
  g_assert_cmpint (json_object_get_int_member (config, "mqtt_port"), ==, 8883);
  g_assert_cmpstr (json_object_get_string_member (config, "protocol"), ==, "MQTTS");
  g_assert_cmpstr (json_object_get_string_member (config, "time_sync_protocol"), ==, "HTTP");
  g_assert_cmpstr (json_object_get_string_member (config, "time_sync_host"), ==, "127.0.0.1");
  g_assert_cmpint (json_object_get_int_member (config, "time_sync_port"), ==, 80);
  g_assert_cmpstr (json_object_get_string_member (config, "hardware_id"), ==,
                   "C8795CBA5375484E829105E959663C8B");
  g_assert_cmpstr (json_object_get_string_member (config, "channel_id"), ==, "ucm");
  static const char *const never[] = { "mqtt_credentials", "private_key", "certificate",
                                       "ca_chain", "password", "username" };
  for (size_t i = 0; i < G_N_ELEMENTS (never); i++)
    {
      g_assert_false (json_object_has_member (config, never[i]));
      g_assert_false (json_object_has_member (meta, never[i]));
    }
}

static void
test_device_json_kinds (Fixture *f, gconstpointer data)
{
  g_autoptr (EpKeystore) ks = open_keystore (f->ks_path, FALSE, 0);

  /* Lua: the identifying fields runtime_id, blueprint_id and slug. */
  Outcome o1 = write_entry (ks, entry_for ("lua_device", NULL,
                                           "{\"device_id\":\"lua-1\",\"slug\":\"gas-sensor-1\"}"));
  g_assert_no_error (o1.error);
  g_autofree char *lua_path = g_build_filename (f->ks_path, "lua-1", "device.json", NULL);
  g_autoptr (JsonObject) lua = read_json_file (lua_path);
  g_assert_cmpstr (json_object_get_string_member (lua, "kind"), ==, "lua_device");
  g_assert_cmpstr (json_object_get_string_member (lua, "runtime_id"), ==,
                   "ucmbbba0-79f2-4e9e-a6f0-69a310ab110b");
  g_assert_cmpstr (json_object_get_string_member (lua, "blueprint_id"), ==,
                   "bluepri1-50n3-4t9d-e6v0-69i310cb110e");
  g_assert_cmpstr (json_object_get_string_member (lua, "slug"), ==, "gas-sensor-1");
  g_assert_false (json_object_has_member (lua, "config"));
  g_autofree char *lua_dir = g_build_filename (f->ks_path, "lua-1", NULL);
  g_autofree char *lua_names = list_dir (lua_dir);
  g_assert_cmpstr (lua_names, ==, "device.json");

  /* LINK slave: master_device_id. */
  Outcome o2 = write_entry (ks, entry_for ("link_slave", NULL, "{\"device_id\":\"slave-1\"}"));
  g_assert_no_error (o2.error);
  g_autofree char *slave_path = g_build_filename (f->ks_path, "slave-1", "device.json", NULL);
  g_autoptr (JsonObject) slave = read_json_file (slave_path);
  g_assert_cmpstr (json_object_get_string_member (slave, "master_device_id"), ==,
                   "02618484-5c16-4159-998a-ef4acc16666c");
  g_assert_cmpstr (json_object_get_string_member (slave, "hardware_id"), ==,
                   "435840FFE5CD4E9DA93545DDF7E6D5FB");

  /* Embedded: device_type. */
  Outcome o3 = write_entry (ks, entry_for ("embedded", "MQTT",
                                           "{\"config\":{\"mqtt_host\":\"h\",\"mqtt_port\":1883,"
                                           "\"mqtt_credentials\":{\"protocol\":\"MQTT\","
                                           "\"username\":\"emb\",\"password\":\"" PW_CANARY
                                           "\"}},\"device_id\":\"emb-1\",\"slug\":\"emb\"}"));
  g_assert_no_error (o3.error);
  g_autofree char *emb_path = g_build_filename (f->ks_path, "emb-1", "device.json", NULL);
  g_autofree char *emb_text = read_text (emb_path);
  assert_no_secret (emb_text);
  g_autoptr (JsonObject) emb = read_json_file (emb_path);
  g_assert_cmpstr (json_object_get_string_member (emb, "device_type"), ==, "ELECTROLYSER");
  JsonObject *emb_config = json_object_get_object_member (emb, "config");
  g_assert_cmpstr (json_object_get_string_member (emb_config, "username"), ==, "emb");
  g_assert_cmpstr (json_object_get_string_member (emb_config, "protocol"), ==, "MQTT");

  /* Gateway: stored under gateway_device_id. */
  Outcome o4 = write_entry (
    ks, entry_for ("gateway", NULL,
                   "{\"config\":{\"mqtt_host\":\"h\",\"mqtt_port\":8883,\"mqtt_credentials\":"
                   "{\"protocol\":\"MQTTS\",\"private_key\":\"" PK_CANARY "\",\"certificate\":\""
                   CERT_CANARY "\",\"ca_chain\":\"" CA_CANARY "\"}},"
                   "\"gateway_device_id\":\"gw-1\"}"));
  g_assert_no_error (o4.error);
  g_autofree char *gw_dir = g_build_filename (f->ks_path, "gw-1", NULL);
  assert_mqtts_set (gw_dir, 0700, 0600);
  g_autofree char *gw_path = g_build_filename (gw_dir, "device.json", NULL);
  g_autoptr (JsonObject) gw = read_json_file (gw_path);
  g_assert_cmpstr (json_object_get_string_member (gw, "kind"), ==, "gateway");
  g_assert_cmpstr (json_object_get_string_member (gw, "device_id"), ==, "gw-1");

  g_autofree char *top = list_dir (f->ks_path);
  g_assert_cmpstr (top, ==, "emb-1,gw-1,lua-1,slave-1");
  assert_no_temporaries (f->ks_path);
}

/* ---- details ------------------------------------------------------------ */

static const EpDetail *
entry (const EpDetails *d, const char *key, char type)
{
  const EpDetail *e = ep_details_lookup (d, key);
  if (e == NULL)
    {
      g_test_fail_printf ("details lack %s", key);
      return NULL;
    }
  g_assert_cmpint (e->type, ==, type);
  return e;
}

static void
assert_string (const EpDetails *d, const char *key, const char *want)
{
  const EpDetail *e = entry (d, key, 's');
  g_assert_cmpstr (e ? e->string : NULL, ==, want);
}

static void
assert_number (const EpDetails *d, const char *key, char type, guint32 want)
{
  const EpDetail *e = entry (d, key, type);
  g_assert_cmpuint (e ? e->number : G_MAXUINT32, ==, want);
}

/* Every entry as "key=value" lines: what would go on the bus. */
static char *
print_details (const EpDetails *d)
{
  GString *out = g_string_new (NULL);
  for (guint i = 0; i < d->n; i++)
    if (d->items[i].type == 's')
      g_string_append_printf (out, "%s=%s\n", d->items[i].key, d->items[i].string);
    else
      g_string_append_printf (out, "%s=%" G_GINT64_FORMAT "\n", d->items[i].key, d->items[i].number);
  return g_string_free (out, FALSE);
}

static void
test_details (Fixture *f, gconstpointer data)
{
  g_autoptr (EpArgs) args = unit_args_seed ("ucm");
  g_autoptr (EpApiResult) r = parse (args, MQTTS_RESPONSE);
  g_autoptr (JsonObject) meta = ep_record_metadata (args, r, "gateway");
  g_autoptr (EpDeviceInfo) info = ep_device_info_new (meta);
  g_auto (EpDetails) details = { 0 };
  ep_record_details (&details, info, "/ks", TRUE);

  assert_string (&details, "kind", "ucm");
  assert_string (&details, "device_id", DEVICE_ID);
  assert_string (&details, "slug", "my-ucm");
  assert_string (&details, "site_id", "sitebba0-79f2-4e9e-a6f0-69a310ab110b");
  assert_string (&details, "hardware_id", "C8795CBA5375484E829105E959663C8B");
  assert_string (&details, "keystore_path", "/ks/" DEVICE_ID);
  assert_string (&details, "protocol", "MQTTS");
  assert_string (&details, "mqtt_host", "mqtt.enapter.com");
  assert_string (&details, "channel_id", "ucm");
  assert_number (&details, "mqtt_port", 'u', 8883);
  assert_number (&details, "reprovisioned", 'b', 1);
  /* The name given and the time stamp are there as well. */
  entry (&details, "name", 's');
  /* A set provisioned now was last changed when it was provisioned. */
  assert_string (&details, "credentials_updated_at", entry (&details, "provisioned_at", 's')->string);
  g_assert_cmpuint (details.n, ==, 14);

  g_autofree char *printed = print_details (&details);
  assert_no_secret (printed);
  static const char *const never[] = { "private_key", "certificate", "ca_chain", "password",
                                       "token", "mqtt_credentials" };
  for (size_t i = 0; i < G_N_ELEMENTS (never); i++)
    g_assert_null (ep_details_lookup (&details, never[i]));

  /* MQTT: the password stays out too; reprovisioned FALSE. */
  g_autoptr (EpArgs) margs = unit_args_seed ("ucm");
  unit_args_set (margs, "protocol", "MQTT");
  g_autoptr (EpApiResult) mr = parse (margs, MQTT_RESPONSE);
  g_autoptr (JsonObject) mmeta = ep_record_metadata (margs, mr, "gateway");
  g_autoptr (EpDeviceInfo) minfo = ep_device_info_new (mmeta);
  g_auto (EpDetails) mdetails = { 0 };
  ep_record_details (&mdetails, minfo, "/ks", FALSE);
  g_autofree char *mprinted = print_details (&mdetails);
  assert_no_secret (mprinted);
  assert_number (&mdetails, "reprovisioned", 'b', 0);
  assert_number (&mdetails, "mqtt_port", 'u', 1883);

  /* A kind without config has no MQTT keys. */
  g_autoptr (EpArgs) vargs = unit_args_seed ("vucm");
  g_autoptr (EpApiResult) vr = parse (vargs, "{\"device_id\":\"vucm-1\"}");
  g_autoptr (JsonObject) vmeta = ep_record_metadata (vargs, vr, "gateway");
  g_autoptr (EpDeviceInfo) vinfo = ep_device_info_new (vmeta);
  g_auto (EpDetails) vdetails = { 0 };
  ep_record_details (&vdetails, vinfo, "/ks", FALSE);
  assert_string (&vdetails, "kind", "vucm");
  assert_string (&vdetails, "device_id", "vucm-1");
  entry (&vdetails, "hardware_id", 's');
  assert_number (&vdetails, "reprovisioned", 'b', 0);
  assert_string (&vdetails, "keystore_path", "/ks/vucm-1");
  static const char *const absent[] = { "protocol", "mqtt_host", "mqtt_port", "channel_id",
                                        "slug" };
  for (size_t i = 0; i < G_N_ELEMENTS (absent); i++)
    g_assert_null (ep_details_lookup (&vdetails, absent[i]));

  /* Strings D-Bus cannot carry (a hand-edited device.json) are left out:
   * invalid UTF-8, noncharacters, which sd-bus refuses. */
  static const char *const unsendable[] = { "\xff\xfe", "odd \xef\xbf\xbf", "\xef\xb7\x90" };
  for (size_t i = 0; i < G_N_ELEMENTS (unsendable); i++)
    {
      g_autoptr (JsonObject) odd = json_object_new ();
      json_object_set_string_member (odd, "kind", "ucm");
      json_object_set_string_member (odd, "device_id", "odd-1");
      json_object_set_string_member (odd, "name", unsendable[i]);
      g_autoptr (EpDeviceInfo) oinfo = ep_device_info_new (odd);
      g_auto (EpDetails) odetails = { 0 };
      ep_record_details (&odetails, oinfo, "/ks", FALSE);
      assert_string (&odetails, "kind", "ucm");
      g_assert_null (ep_details_lookup (&odetails, "name"));
    }

  /* The port: 1-65535 as an integer (or its decimal text), else left out. */
  static const struct {
    const char *json;
    guint32 port;   /* 0: absent */
  } ports[] = {
    { "8883", 8883 }, { "\"1883\"", 1883 }, { "70000", 0 }, { "-1", 0 }, { "\"x\"", 0 },
    { "1.5", 0 },
  };
  for (size_t i = 0; i < G_N_ELEMENTS (ports); i++)
    {
      g_autofree char *text =
          g_strdup_printf ("{\"device_id\":\"p-1\",\"config\":{\"mqtt_port\":%s}}", ports[i].json);
      g_autoptr (JsonParser) parser = json_parser_new ();
      g_assert_true (json_parser_load_from_data (parser, text, -1, NULL));
      g_autoptr (EpDeviceInfo) pinfo =
          ep_device_info_new (json_node_get_object (json_parser_get_root (parser)));
      g_auto (EpDetails) pdetails = { 0 };
      ep_record_details (&pdetails, pinfo, "/ks", FALSE);
      if (ports[i].port == 0)
        g_assert_null (ep_details_lookup (&pdetails, "mqtt_port"));
      else
        assert_number (&pdetails, "mqtt_port", 'u', ports[i].port);
    }
}

/* Every text argument of a kind is a detail under its own name: what
 * identifies a Lua device (runtime_id, blueprint_id) or a LINK slave
 * (master_device_id) is never lost between the call and GetDevice. */
static void
test_details_arguments (Fixture *f, gconstpointer data)
{
  static const struct {
    const char *kind, *body;
  } cases[] = {
    { "lua_device", "{\"device_id\":\"lua-1\",\"slug\":\"gas-sensor-1\"}" },
    { "link_slave", "{\"device_id\":\"slave-1\"}" },
    { "vucm", "{\"device_id\":\"vucm-1\"}" },
  };
  for (size_t c = 0; c < G_N_ELEMENTS (cases); c++)
    {
      g_autoptr (EpArgs) args = unit_args_seed (cases[c].kind);
      g_autoptr (EpApiResult) r = parse (args, cases[c].body);
      g_autoptr (JsonObject) meta = ep_record_metadata (args, r, "gateway");
      g_autoptr (EpDeviceInfo) info = ep_device_info_new (meta);
      g_auto (EpDetails) details = { 0 };
      ep_record_details (&details, info, "/ks", FALSE);
      const EpKind *kind = args->kind;
      for (guint i = 0; i < ep_kind_n_args (kind); i++)
        if (kind->args[i].type == 's')
          assert_string (&details, kind->args[i].name, args->str[i]);
      /* Each key once. */
      for (guint i = 0; i < details.n; i++)
        for (guint j = i + 1; j < details.n; j++)
          g_assert_cmpstr (details.items[i].key, !=, details.items[j].key);
    }
  /* The gateway, the kind with the most: within the fixed capacity. */
  g_autoptr (EpArgs) gargs = unit_args_seed ("gateway");
  g_autoptr (JsonObject) gmeta = json_object_new ();
  json_object_set_string_member (gmeta, "kind", "gateway");
  json_object_set_string_member (gmeta, "device_id", "gw-1");
  for (guint i = 0; i < ep_kind_n_args (gargs->kind); i++)
    if (gargs->kind->args[i].type == 's')
      json_object_set_string_member (gmeta, gargs->kind->args[i].name, gargs->str[i]);
  g_autoptr (EpDeviceInfo) ginfo = ep_device_info_new (gmeta);
  g_auto (EpDetails) gdetails = { 0 };
  ep_record_details (&gdetails, ginfo, "/ks", FALSE);
  assert_string (&gdetails, "site_timezone", ep_args_get (gargs, "site_timezone"));
  assert_string (&gdetails, "gateway_version", ep_args_get (gargs, "gateway_version"));
}

/* ---- what the index keeps of device.json --------------------------------- */

static void
test_device_info (Fixture *f, gconstpointer data)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_assert_true (json_parser_load_from_data (
      parser,
      "{\"kind\":\"ucm\",\"device_id\":\"d-1\",\"name\":\"\",\"lat\":50.5,\"n\":-7,"
      "\"ok\":true,\"list\":[\"x\"],\"nested\":{\"a\":\"b\"},\"\":\"empty name\","
      "\"config.mqtt_host\":\"dotted\",\"a.b\":\"c\","
      "\"config\":{\"mqtt_port\":8883,\"mqtt_host\":\"h\",\"deep\":{\"c\":\"d\"}}}",
      -1, NULL));
  g_autoptr (EpDeviceInfo) info = ep_device_info_new (json_node_get_object (
      json_parser_get_root (parser)));
  g_assert_cmpstr (ep_device_info_get (info, "kind"), ==, "ucm");
  g_assert_cmpstr (ep_device_info_get (info, "device_id"), ==, "d-1");
  g_assert_cmpstr (ep_device_info_get (info, "name"), ==, "");   /* empty, not absent */
  g_assert_cmpstr (ep_device_info_get (info, "n"), ==, "-7");
  g_assert_cmpstr (ep_device_info_get (info, "config.mqtt_port"), ==, "8883");
  g_assert_cmpstr (ep_device_info_get (info, "config.mqtt_host"), ==, "h");
  /* What nothing looks up is not kept. */
  static const char *const absent[] = { "lat", "ok", "list", "nested", "nested.a", "", "a.b",
                                        "config", "config.deep", "config.deep.c", "mqtt_port",
                                        "missing" };
  for (size_t i = 0; i < G_N_ELEMENTS (absent); i++)
    g_assert_null (ep_device_info_get (info, absent[i]));

  g_autoptr (JsonObject) empty = json_object_new ();
  g_autoptr (EpDeviceInfo) none = ep_device_info_new (empty);
  g_assert_null (ep_device_info_get (none, "kind"));
}

/* ---- updates (GenerateCredentials, renewal) ------------------------------ */

static EpKeystoreEntry *
update_for (const char *device_id, const char *protocol, const char *body)
{
  const EpKind *row = ep_renewal_method;
  g_autoptr (EpArgs) args = ep_args_new (row);
  args->str[ep_kind_role_index (row, EP_ARG_DEVICE_ID)] = g_strdup (device_id);
  args->str[ep_kind_role_index (row, EP_ARG_PROTOCOL)] = g_strdup (protocol);
  g_autoptr (EpApiResult) r = parse (args, body);
  /* What the credentials check reads off a certificate. */
  r->certificate_not_before = r->private_key ? 1700000000 : 0;
  r->certificate_not_after = r->private_key ? 4102444800 : 0;   /* 2100: past 2038 */
  r->certificate_sha256 = r->private_key ? g_strdup ("ab01") : NULL;
  return ep_record_update_entry (r);
}

/* An update keeps the device's identity, replaces config and credential
 * files wholly (an MQTTS set leaves no password behind, and back), and
 * stamps credentials_updated_at. */
static void
test_update (Fixture *f, gconstpointer data)
{
  g_autoptr (EpKeystore) ks = open_keystore (f->ks_path, FALSE, 0);
  Outcome o = write_entry (ks, entry_for ("gateway", NULL,
                   "{\"config\":{\"mqtt_host\":\"h\",\"mqtt_port\":8883,\"mqtt_credentials\":"
                   "{\"protocol\":\"MQTTS\",\"private_key\":\"" PK_CANARY "\",\"certificate\":\""
                   CERT_CANARY "\",\"ca_chain\":\"" CA_CANARY "\"},\"channel_id\":\"gw\"},"
                   "\"gateway_device_id\":\"gw-1\"}"));
  g_assert_no_error (o.error);
  g_autofree char *dir = g_build_filename (f->ks_path, "gw-1", NULL);
  g_autofree char *path = g_build_filename (dir, "device.json", NULL);
  g_autoptr (JsonObject) before = read_json_file (path);

  g_usleep (1100 * 1000);   /* a new second for credentials_updated_at */
  Outcome u = write_entry (ks, update_for ("gw-1", "MQTT",
                   "{\"config\":{\"mqtt_host\":\"h2\",\"mqtt_port\":1883,"
                   "\"mqtt_protocol\":\"MQTT\",\"mqtt_credentials\":{\"username\":\"u\","
                   "\"password\":\"" PW_CANARY "\"}}}"));
  g_assert_no_error (u.error);
  g_assert_true (u.replaced);
  g_autofree char *files = list_dir (dir);
  g_assert_cmpstr (files, ==, "device.json,password");
  g_autoptr (JsonObject) after = read_json_file (path);
  /* Identity, numbers included (which the index does not keep), stays. */
  static const char *const same[] = { "kind", "device_id", "target", "site_id", "hardware_id",
                                      "gateway_version", "site_name", "site_timezone", "name",
                                      "provisioned_at" };
  for (size_t i = 0; i < G_N_ELEMENTS (same); i++)
    g_assert_cmpstr (json_object_get_string_member (after, same[i]), ==,
                     json_object_get_string_member (before, same[i]));
  g_assert_cmpfloat (json_object_get_double_member (after, "latitude"), ==,
                     json_object_get_double_member (before, "latitude"));
  g_assert_cmpstr (json_object_get_string_member (after, "credentials_updated_at"), !=,
                   json_object_get_string_member (before, "credentials_updated_at"));
  JsonObject *config = json_object_get_object_member (after, "config");
  g_assert_cmpstr (json_object_get_string_member (config, "mqtt_host"), ==, "h2");
  g_assert_cmpstr (json_object_get_string_member (config, "protocol"), ==, "MQTT");
  g_assert_false (json_object_has_member (config, "channel_id"));
  g_assert_false (json_object_has_member (config, "certificate_not_after"));
  g_autofree char *text = read_text (path);
  assert_no_secret (text);

  /* Back to MQTTS: the certificate's dates and fingerprint are kept, the
   * password goes; the index (and so the details) follows. */
  Outcome t = write_entry (ks, update_for ("gw-1", "MQTTS",
                   "{\"config\":{\"mqtt_host\":\"h3\",\"mqtt_port\":8883,\"mqtt_credentials\":"
                   "{\"protocol\":\"MQTTS\",\"private_key\":\"" PK_CANARY "\",\"certificate\":\""
                   CERT_CANARY "\",\"ca_chain\":\"" CA_CANARY "\"}}}"));
  g_assert_no_error (t.error);
  g_autofree char *files2 = list_dir (dir);
  g_assert_cmpstr (files2, ==, "ca_chain.pem,certificate.pem,device.json,private_key.pem");
  g_auto (EpDetails) details = { 0 };
  ep_record_details (&details, ep_keystore_lookup (ks, "gw-1"), f->ks_path, FALSE);
  const EpDetail *na = ep_details_lookup (&details, "certificate_not_after");
  g_assert_nonnull (na);
  g_assert_cmpint (na->type, ==, 'x');
  g_assert_cmpint (na->number, ==, 4102444800);
  g_assert_cmpint (ep_details_lookup (&details, "certificate_not_before")->number, ==, 1700000000);
  g_assert_cmpstr (ep_details_lookup (&details, "certificate_sha256")->string, ==, "ab01");
  g_assert_cmpstr (ep_details_lookup (&details, "mqtt_host")->string, ==, "h3");
  g_assert_cmpstr (ep_details_lookup (&details, "site_id")->string, ==,
                   json_object_get_string_member (before, "site_id"));

  /* A device.json grown by hand close to the 64 KiB start-up reads: the
   * update would pass it, so it is refused and nothing changes. */
  g_autoptr (JsonObject) grown = read_json_file (path);
  g_autoptr (JsonArray) filler = json_array_new ();
  for (int i = 0; i < 9000; i++)
    json_array_add_int_element (filler, i);
  json_object_set_array_member (grown, "notes", json_array_ref (filler));
  g_autoptr (JsonNode) grown_node = json_node_init_object (json_node_alloc (), grown);
  g_autofree char *grown_text = json_to_string (grown_node, FALSE);
  g_assert_cmpuint (strlen (grown_text), <, 64 * 1024);
  g_assert_true (g_file_set_contents (path, grown_text, -1, NULL));
  Outcome big = write_entry (ks, update_for ("gw-1", "MQTT",
                   "{\"config\":{\"mqtt_host\":\"h\",\"mqtt_port\":1883,"
                   "\"mqtt_credentials\":{\"protocol\":\"MQTT\",\"username\":\"u\","
                   "\"password\":\"" PW_CANARY "\"}}}"));
  g_assert_error (big.error, EP_KEYSTORE_ERROR, EP_KEYSTORE_ERROR_WRITE);
  g_autofree char *kept = read_text (path);
  g_assert_cmpstr (kept, ==, grown_text);
  g_autofree char *files3 = list_dir (dir);
  g_assert_cmpstr (files3, ==, "ca_chain.pem,certificate.pem,device.json,private_key.pem");

  /* An update of a device whose directory is gone changes nothing. */
  Outcome gone = write_entry (ks, update_for ("ghost-1", "MQTT",
                   "{\"config\":{\"mqtt_host\":\"h\",\"mqtt_port\":1883,"
                   "\"mqtt_credentials\":{\"protocol\":\"MQTT\",\"username\":\"u\","
                   "\"password\":\"" PW_CANARY "\"}}}"));
  g_assert_error (gone.error, EP_KEYSTORE_ERROR, EP_KEYSTORE_ERROR_WRITE);
  g_assert_null (strstr (gone.error->message, PW_CANARY));
  g_autofree char *top = list_dir (f->ks_path);
  g_assert_cmpstr (top, ==, "gw-1");
  g_assert_null (ep_keystore_lookup (ks, "ghost-1"));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
#define ADD(path, fn) g_test_add (path, Fixture, NULL, fixture_setup, fn, fixture_teardown)
  ADD ("/record/device-json", test_device_json);
  ADD ("/record/device-json-kinds", test_device_json_kinds);
  ADD ("/record/details", test_details);
  ADD ("/record/details-arguments", test_details_arguments);
  ADD ("/record/device-info", test_device_info);
  ADD ("/record/update", test_update);
#undef ADD
  return g_test_run ();
}
