/* Unit tests of src/http.h's failures: a full queue is EP_HTTP_ERROR_QUEUE_FULL
 * (Busy on the bus), and a request libcurl refuses to start ends at once,
 * from the loop, with libcurl's reason, and holds no slot. */
#include "config.h"
#include "errors.h"
#include "http.h"

#include <curl/curl.h>
#include <string.h>

/* Nothing listens on port 1: a request that starts is refused at once. */
#define CONF "[Cloud]\nURL=http://127.0.0.1:1\n" \
             "[Provisioning]\nMaxConcurrent=1\nMaxQueued=0\nRetries=0\n"

typedef struct {
  gboolean done;
  EpHttpOutcome outcome;
  char *error;
  guint attempts;
  gint64 at;
} Seen;

static void
on_result (const EpHttpResult *result, gpointer data)
{
  Seen *seen = data;
  seen->done = TRUE;
  seen->outcome = result->outcome;
  seen->error = g_strdup (result->error);
  seen->attempts = result->attempts;
  seen->at = g_get_monotonic_time ();
}

static void
wait_for (Seen *seen)
{
  while (!seen->done)
    g_main_context_iteration (NULL, TRUE);
}

static EpConfig *
load_config (void)
{
  g_autoptr (GError) error = NULL;
  EpConfig *c = ep_config_load_data (CONF, strlen (CONF), "test.conf", &error);
  g_assert_no_error (error);
  return c;
}

/* libcurl refuses a URL over its input limit (CURL_MAX_INPUT_LENGTH) in
 * curl_easy_setopt: the caller hears so long before its deadline. */
static void
test_refused_setup (void)
{
  g_autoptr (EpConfig) config = load_config ();
  g_autoptr (EpHttp) http = ep_http_new (config);
  g_autofree char *path = g_strnfill (8 * 1000 * 1000 + 1, 'a');
  gint64 start = g_get_monotonic_time ();
  EpHttpRequest req = { EP_TARGET_CLOUD, path, "{}", FALSE, start + 10 * G_USEC_PER_SEC };
  Seen seen = { 0 };
  g_autoptr (GError) error = NULL;
  g_assert_true (ep_http_post (http, &req, on_result, &seen, &error));
  g_assert_no_error (error);
  g_assert_false (seen.done);   /* never from within ep_http_post */
  wait_for (&seen);
  g_assert_cmpint (seen.outcome, ==, EP_HTTP_FAILED);
  g_assert_cmpuint (seen.attempts, ==, 1);
  g_assert_nonnull (strstr (seen.error, "CURLOPT_URL"));
  g_assert_nonnull (strstr (seen.error, curl_easy_strerror (CURLE_BAD_FUNCTION_ARGUMENT)));
  g_assert_cmpint (seen.at - start, <, G_USEC_PER_SEC);
  g_free (seen.error);

  /* It held no slot: with MaxConcurrent=1 and MaxQueued=0 the next one runs. */
  EpHttpRequest next = { EP_TARGET_CLOUD, "/v1/next", "{}", FALSE,
                         g_get_monotonic_time () + 10 * G_USEC_PER_SEC };
  Seen seen2 = { 0 };
  g_assert_true (ep_http_post (http, &next, on_result, &seen2, &error));
  g_assert_no_error (error);
  wait_for (&seen2);
  g_assert_cmpint (seen2.outcome, ==, EP_HTTP_FAILED);
  g_assert_null (strstr (seen2.error, "refused CURLOPT"));
  g_free (seen2.error);
}

static void
test_queue_full (void)
{
  g_autoptr (EpConfig) config = load_config ();
  g_autoptr (EpHttp) http = ep_http_new (config);
  EpHttpRequest req = { EP_TARGET_CLOUD, "/v1/one", "{}", FALSE,
                        g_get_monotonic_time () + 10 * G_USEC_PER_SEC };
  Seen first = { 0 };
  Seen second = { 0 };
  g_autoptr (GError) error = NULL;
  g_assert_true (ep_http_post (http, &req, on_result, &first, &error));
  g_assert_false (ep_http_post (http, &req, on_result, &second, &error));
  g_assert_error (error, EP_HTTP_ERROR, EP_HTTP_ERROR_QUEUE_FULL);
  g_assert_nonnull (strstr (error->message, "try again later"));
  g_assert_cmpstr (ep_error_dbus_name (error), ==, EP_DBUS_ERROR_PREFIX "Busy");
  wait_for (&first);
  g_assert_false (second.done);
  g_free (first.error);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  curl_global_init (CURL_GLOBAL_DEFAULT);
  g_test_add_func ("/http/refused-setup", test_refused_setup);
  g_test_add_func ("/http/queue-full", test_queue_full);
  int rc = g_test_run ();
  curl_global_cleanup ();
  return rc;
}
