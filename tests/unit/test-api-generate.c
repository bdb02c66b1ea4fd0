/* Unit tests of src/api.h for the GenerateCredentials row: its request (the
 * device id in the path, the protocol in the body) and its answer, a bare
 * config whose protocol may stand in either of the two places the API's
 * documents show. */
#include "api.h"
#include "errors.h"
#include "unit-util.h"

#define PK_CANARY "PRIVKEY-CANARY-9c01"
#define PW_CANARY "PASSWORD-CANARY-44b2"
#define MQTTS_KEYS \
  "\"private_key\":\"" PK_CANARY "\",\"certificate\":\"c\",\"ca_chain\":\"a\""
#define MQTT_KEYS "\"username\":\"u\",\"password\":\"" PW_CANARY "\""

static EpArgs *
generate_args (const char *device_id, const char *protocol)
{
  const EpKind *row = ep_kind_by_method ("GenerateCredentials");
  g_assert_nonnull (row);
  g_assert_true (row == ep_renewal_method);
  EpArgs *args = ep_args_new (row);
  args->str[ep_kind_role_index (row, EP_ARG_DEVICE_ID)] = g_strdup (device_id);
  args->str[ep_kind_role_index (row, EP_ARG_PROTOCOL)] = g_strdup (protocol);
  return args;
}

/* The answer: {"config": {...}} with @where_protocol's protocol members. */
static char *
answer (const char *in_config, const char *in_credentials, const char *keys)
{
  g_autofree char *outer = in_config ? g_strdup_printf ("\"mqtt_protocol\":\"%s\",", in_config)
                                     : g_strdup ("");
  g_autofree char *inner = in_credentials
                               ? g_strdup_printf ("\"protocol\":\"%s\",", in_credentials)
                               : g_strdup ("");
  return g_strdup_printf ("{\"config\":{\"mqtt_host\":\"h\",\"mqtt_port\":8883,%s"
                          "\"mqtt_credentials\":{%s%s},\"channel_id\":\"ucm\"}}",
                          outer, inner, keys);
}

static void
test_request (void)
{
  g_autoptr (EpArgs) args = generate_args ("dev-1", "MQTTS");
  g_autofree char *path = ep_api_build_path (args);
  g_assert_cmpstr (path, ==, "/v3/devices/dev-1/generate_config");
  g_autofree char *body = ep_api_build_body (args);
  g_assert_cmpstr (body, ==, "{\"protocol\":\"MQTTS\"}");

  /* A plain name may hold what a URL path cannot: it is percent-encoded. */
  g_autoptr (EpArgs) odd = generate_args ("a b?c#d%e", "MQTT");
  g_autofree char *odd_path = ep_api_build_path (odd);
  g_assert_cmpstr (odd_path, ==, "/v3/devices/a%20b%3Fc%23d%25e/generate_config");

  /* A Provision method's endpoint has nothing to fill in. */
  g_autoptr (EpArgs) ucm = unit_args_seed ("ucm");
  g_autofree char *ucm_path = ep_api_build_path (ucm);
  g_assert_cmpstr (ucm_path, ==, "/v3/provisioning/ucm");
}

static void
test_placements (void)
{
  static const struct {
    const char *in_config, *in_credentials;
  } ok[] = { { NULL, "MQTTS" }, { "MQTTS", NULL }, { "MQTTS", "MQTTS" } };
  for (size_t i = 0; i < G_N_ELEMENTS (ok); i++)
    {
      g_autoptr (EpArgs) args = generate_args ("dev-1", "MQTTS");
      g_autofree char *body = answer (ok[i].in_config, ok[i].in_credentials, MQTTS_KEYS);
      g_autoptr (GError) error = NULL;
      g_autoptr (EpApiResult) r = ep_api_parse_result (args, body, strlen (body), &error);
      g_assert_no_error (error);
      /* The device is the call's: the answer does not name it. */
      g_assert_cmpstr (r->device_id, ==, "dev-1");
      g_assert_cmpstr (r->protocol, ==, "MQTTS");
      g_assert_cmpstr (r->private_key, ==, PK_CANARY);
      g_assert_cmpstr (r->channel_id, ==, "ucm");
      g_assert_null (r->slug);
    }
  g_autoptr (EpArgs) margs = generate_args ("dev-2", "MQTT");
  g_autofree char *mbody = answer ("MQTT", NULL, MQTT_KEYS);
  g_autoptr (GError) merror = NULL;
  g_autoptr (EpApiResult) m = ep_api_parse_result (margs, mbody, strlen (mbody), &merror);
  g_assert_no_error (merror);
  g_assert_cmpstr (m->password, ==, PW_CANARY);
  g_assert_cmpstr (m->username, ==, "u");
}

static void
test_refusals (void)
{
  static const struct {
    const char *what, *asked, *in_config, *in_credentials, *keys, *message;
  } bad[] = {
    { "placements disagree", "MQTTS", "MQTT", "MQTTS", MQTTS_KEYS, "disagree" },
    { "placements disagree (MQTT)", "MQTT", "MQTTS", "MQTT", MQTT_KEYS, "disagree" },
    { "no protocol anywhere", "MQTTS", NULL, NULL, MQTTS_KEYS, "protocol" },
    { "other protocol than asked", "MQTT", "MQTTS", NULL, MQTTS_KEYS, "request" },
    { "credentials of the other protocol", "MQTTS", "MQTTS", NULL, MQTT_KEYS, "carry" },
    { "password beside a key", "MQTTS", "MQTTS", NULL, MQTTS_KEYS ",\"password\":\"p\"",
      "password" },
    { "unknown protocol", "MQTTS", "HTTP", NULL, MQTTS_KEYS, "neither" },
  };
  for (size_t i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr (EpArgs) args = generate_args ("dev-1", bad[i].asked);
      g_autofree char *body = answer (bad[i].in_config, bad[i].in_credentials, bad[i].keys);
      g_autoptr (GError) error = NULL;
      g_autoptr (EpApiResult) r = ep_api_parse_result (args, body, strlen (body), &error);
      if (r != NULL)
        {
          g_test_fail_printf ("%s: accepted %s", bad[i].what, body);
          continue;
        }
      g_assert_error (error, EP_ERROR, EP_ERROR_PROTOCOL_ERROR);
      if (strstr (error->message, bad[i].message) == NULL)
        g_test_fail_printf ("%s: '%s' does not say '%s'", bad[i].what, error->message,
                            bad[i].message);
      g_assert_null (strstr (error->message, PK_CANARY));
      g_assert_null (strstr (error->message, PW_CANARY));
    }
  /* Not a config at all. */
  static const char *const shapes[] = { "{}", "{\"config\":null}", "[]", "{\"device_id\":\"x\"}",
                                        "{\"config\":{\"mqtt_host\":\"h\"}}" };
  for (size_t i = 0; i < G_N_ELEMENTS (shapes); i++)
    {
      g_autoptr (EpArgs) args = generate_args ("dev-1", "MQTTS");
      g_autoptr (GError) error = NULL;
      g_autoptr (EpApiResult) r = ep_api_parse_result (args, shapes[i], strlen (shapes[i]),
                                                       &error);
      g_assert_null (r);
      g_assert_error (error, EP_ERROR, EP_ERROR_PROTOCOL_ERROR);
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/api/generate/request", test_request);
  g_test_add_func ("/api/generate/placements", test_placements);
  g_test_add_func ("/api/generate/refusals", test_refusals);
  return g_test_run ();
}
