/* Unit tests of src/service.h: the one provisioning path, with a real
 * keystore in a temporary directory and the API played by a scripted HTTP
 * server in the test process. What each HTTP status becomes, the Busy rule,
 * Lua devices that cannot be reprovisioned, answers naming another device
 * or holding the token, and ForgetDevice. The end-to-end suite covers the
 * same through the daemon; these reach the logic directly. */
#include "http-server.h"
#include "keystore-util.h"
#include "redact.h"
#include "service.h"

typedef struct {
  GMainLoop *loop;
  int calls;
  char *device_id;
  gboolean reprovisioned;
  GError *error;
} Done;

static void
on_done (const EpArgs *args, const char *device_id, const EpDetails *details,
         const GError *error, gpointer data)
{
  Done *d = data;
  d->calls++;
  d->device_id = g_strdup (device_id);
  if (details != NULL)
    d->reprovisioned = ep_details_lookup (details, "reprovisioned")->number != 0;
  d->error = error ? g_error_copy (error) : NULL;
  g_main_loop_quit (d->loop);
}

static void
done_clear (Done *d)
{
  g_free (d->device_id);
  g_clear_error (&d->error);
  g_main_loop_unref (d->loop);
}

/* A service on a fresh keystore whose cloud API is a server scripted with
 * the given answers. */
typedef struct {
  Fixture f;
  Server srv;
  EpConfig *config;
  EpKeystore *ks;
  EpHttp *http;
  EpService *svc;
} Env;

static void
env_start (Env *e, const Answer *answers, guint n_answers)
{
  fixture_setup (&e->f, NULL);
  server_start (&e->srv, answers, n_answers);
  e->config = server_config (e->srv.port, "Retries=0\n");
  ep_secrets_add (e->config->cloud.token);
  e->ks = open_keystore (e->f.ks_path, FALSE, 0);
  e->http = ep_http_new (e->config);
  e->svc = ep_service_new (e->config, e->ks, e->http);
}

static void
env_stop (Env *e)
{
  ep_service_free (e->svc);
  ep_http_free (e->http);
  server_stop (&e->srv);
  ep_keystore_free (e->ks);
  ep_secrets_forget ();
  ep_config_free (e->config);
  fixture_teardown (&e->f, NULL);
}

static EpArgs *
ucm_args (const char *hardware_id, const char *protocol)
{
  EpArgs *args = ep_args_new (ep_kind_by_name ("ucm"));
  const char *values[] = { "site-1", hardware_id, "My UCM", protocol };
  for (guint i = 0; i < G_N_ELEMENTS (values); i++)
    args->str[i] = g_strdup (values[i]);
  return args;
}

/* Provisions @args to its end; FALSE with @error when refused up front. */
static gboolean
provision (Env *e, const EpArgs *args, Done *d, GError **error)
{
  *d = (Done) { .loop = g_main_loop_new (NULL, FALSE) };
  if (!ep_service_provision (e->svc, args, on_done, d, error))
    return FALSE;
  g_main_loop_run (d->loop);
  g_assert_cmpint (d->calls, ==, 1);
  return TRUE;
}

static void
test_statuses (void)
{
  static const struct { int status; const char *name; } cases[] = {
    { 401, "AuthenticationFailed" }, { 403, "Forbidden" }, { 404, "NotFound" },
    { 409, "Conflict" }, { 422, "Rejected" }, { 429, "Unavailable" }, { 503, "Unavailable" },
    { 204, "ProtocolError" },
  };
  for (size_t i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      const Answer answers[] = {
        { cases[i].status, NULL, "{\"errors\":[{\"code\":\"c\",\"message\":\"the API says no\"}]}" },
      };
      Env e;
      env_start (&e, answers, 1);
      g_autoptr (EpArgs) args = ucm_args ("HW1", "MQTT");
      Done d;
      g_assert_true (provision (&e, args, &d, NULL));
      g_assert_nonnull (d.error);
      g_autofree char *want = g_strconcat (EP_DBUS_ERROR_PREFIX, cases[i].name, NULL);
      g_assert_cmpstr (ep_error_dbus_name (d.error), ==, want);
      if (cases[i].status >= 400)
        g_assert_nonnull (strstr (d.error->message, "the API says no"));
      g_assert_cmpuint (ep_service_active (e.svc), ==, 0);
      done_clear (&d);
      env_stop (&e);
    }
}

static void
test_stored_then_reprovisioned (void)
{
  static const Answer answers[] = { { 200, NULL, MQTT_RESPONSE } };
  Env e;
  env_start (&e, answers, 1);
  g_autoptr (EpArgs) args = ucm_args ("HW1", "MQTT");
  Done d;
  g_assert_true (provision (&e, args, &d, NULL));
  g_assert_no_error (d.error);
  g_assert_cmpstr (d.device_id, ==, DEVICE_ID);
  g_assert_false (d.reprovisioned);
  g_assert_nonnull (ep_keystore_lookup (e.ks, DEVICE_ID));
  done_clear (&d);
  g_assert_true (provision (&e, args, &d, NULL));
  g_assert_no_error (d.error);
  g_assert_true (d.reprovisioned);
  done_clear (&d);
  env_stop (&e);
}

static void
test_second_call_for_the_device_is_busy (void)
{
  static const Answer answers[] = { { 200, NULL, MQTT_RESPONSE } };
  Env e;
  env_start (&e, answers, 1);
  g_autoptr (EpArgs) args = ucm_args ("HW1", "MQTT");
  g_autoptr (EpArgs) same_hw = ucm_args ("HW1", "MQTTS");
  Done d = { .loop = g_main_loop_new (NULL, FALSE) };
  g_autoptr (GError) error = NULL;
  g_assert_true (ep_service_provision (e.svc, args, on_done, &d, &error));
  g_assert_cmpuint (ep_service_active (e.svc), ==, 1);
  Done d2;
  g_assert_false (provision (&e, same_hw, &d2, &error));
  g_assert_cmpstr (ep_error_dbus_name (error), ==, EP_DBUS_ERROR_PREFIX "Busy");
  g_main_loop_unref (d2.loop);
  g_main_loop_run (d.loop);
  g_assert_no_error (d.error);
  done_clear (&d);
  env_stop (&e);
}

static void
test_answer_naming_another_device (void)
{
  /* The first ucm is stored; an answer for other hardware names it. */
  static const Answer answers[] = { { 200, NULL, MQTT_RESPONSE } };
  Env e;
  env_start (&e, answers, 1);
  g_autoptr (EpArgs) first = ucm_args ("HW1", "MQTT");
  g_autoptr (EpArgs) other = ucm_args ("HW2", "MQTT");
  Done d;
  g_assert_true (provision (&e, first, &d, NULL));
  g_assert_no_error (d.error);
  done_clear (&d);
  g_assert_true (provision (&e, other, &d, NULL));
  g_assert_nonnull (d.error);
  g_assert_cmpstr (ep_error_dbus_name (d.error), ==, EP_DBUS_ERROR_PREFIX "ProtocolError");
  g_assert_nonnull (strstr (d.error->message, "HW1"));
  g_assert_cmpstr (ep_device_info_get (ep_keystore_lookup (e.ks, DEVICE_ID), "hardware_id"), ==,
                   "HW1");
  done_clear (&d);
  env_stop (&e);
}

static void
test_token_in_an_answer (void)
{
  /* The token as mqtt_host: refused, nothing stored, and never quoted. */
  g_autofree char *body = g_strdup (MQTT_RESPONSE);
  char *host = strstr (body, "mqtt.enapter.com");
  g_autofree char *with_token = g_strdup_printf ("%.*s%s%s", (int) (host - body), body, TOKEN,
                                                 host + strlen ("mqtt.enapter.com"));
  const Answer answers[] = { { 200, NULL, with_token } };
  Env e;
  env_start (&e, answers, 1);
  g_autoptr (EpArgs) args = ucm_args ("HW1", "MQTT");
  Done d;
  g_assert_true (provision (&e, args, &d, NULL));
  g_assert_cmpstr (ep_error_dbus_name (d.error), ==, EP_DBUS_ERROR_PREFIX "ProtocolError");
  g_assert_null (strstr (d.error->message, TOKEN));
  g_assert_null (ep_keystore_lookup (e.ks, DEVICE_ID));
  done_clear (&d);
  env_stop (&e);
}

static void
test_lua_device_not_reprovisioned (void)
{
  static const Answer answers[] = { { 200, NULL, "{\"device_id\":\"lua-1\",\"slug\":\"gas-1\"}" } };
  Env e;
  env_start (&e, answers, 1);
  EpArgs *args = ep_args_new (ep_kind_by_name ("lua_device"));
  const char *values[] = { "rt-1", "bp-1", "Gas sensor", "gas-1" };
  for (guint i = 0; i < G_N_ELEMENTS (values); i++)
    args->str[i] = g_strdup (values[i]);
  Done d;
  g_assert_true (provision (&e, args, &d, NULL));
  g_assert_no_error (d.error);
  done_clear (&d);
  g_autoptr (GError) error = NULL;
  g_assert_false (provision (&e, args, &d, &error));
  g_assert_cmpstr (ep_error_dbus_name (error), ==, EP_DBUS_ERROR_PREFIX "NotSupported");
  g_main_loop_unref (d.loop);
  g_assert_cmpint (g_atomic_int_get (&e.srv.requests), ==, 1);
  ep_args_free (args);
  env_stop (&e);
}

typedef struct {
  GMainLoop *loop;
  GError *error;
} Forgot;

static void
on_forgot (const char *device_id, const GError *error, gpointer data)
{
  Forgot *f = data;
  f->error = error ? g_error_copy (error) : NULL;
  g_main_loop_quit (f->loop);
}

static void
test_forget (void)
{
  static const Answer answers[] = { { 200, NULL, MQTT_RESPONSE } };
  Env e;
  env_start (&e, answers, 1);
  g_autoptr (GError) error = NULL;
  g_assert_false (ep_service_forget (e.svc, DEVICE_ID, on_forgot, NULL, &error));
  g_assert_cmpstr (ep_error_dbus_name (error), ==, EP_DBUS_ERROR_PREFIX "NotFound");
  g_autoptr (EpArgs) args = ucm_args ("HW1", "MQTT");
  Done d;
  g_assert_true (provision (&e, args, &d, NULL));
  done_clear (&d);
  Forgot f = { .loop = g_main_loop_new (NULL, FALSE) };
  g_assert_true (ep_service_forget (e.svc, DEVICE_ID, on_forgot, &f, NULL));
  g_main_loop_run (f.loop);
  g_assert_no_error (f.error);
  g_assert_null (ep_keystore_lookup (e.ks, DEVICE_ID));
  g_main_loop_unref (f.loop);
  env_stop (&e);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/service/statuses", test_statuses);
  g_test_add_func ("/service/stored-then-reprovisioned", test_stored_then_reprovisioned);
  g_test_add_func ("/service/second-call-busy", test_second_call_for_the_device_is_busy);
  g_test_add_func ("/service/answer-naming-another-device", test_answer_naming_another_device);
  g_test_add_func ("/service/token-in-an-answer", test_token_in_an_answer);
  g_test_add_func ("/service/lua-device-not-reprovisioned", test_lua_device_not_reprovisioned);
  g_test_add_func ("/service/forget", test_forget);
  return g_test_run ();
}
