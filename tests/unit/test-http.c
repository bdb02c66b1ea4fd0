/* Unit tests of src/http.h against a scripted HTTP server in the same
 * process: which answers are retried, how often, how Retry-After and the
 * deadline bound the waiting. The end-to-end suite covers the same through
 * the daemon; these reach the logic directly. Failures (a full queue, a
 * request libcurl refuses): test-http-failures.c. */
#include "errors.h"
#include "http-server.h"
#include "http.h"

#include <string.h>

typedef struct {
  GMainLoop *loop;
  EpHttpOutcome outcome;
  long status;
  guint attempts;
  guint retry_after_s;
  char *body;
  int calls;
} Outcome;

static void
on_done (const EpHttpResult *res, gpointer data)
{
  Outcome *o = data;
  o->outcome = res->outcome;
  o->status = res->status;
  o->attempts = res->attempts;
  o->retry_after_s = res->retry_after_s;
  o->body = g_strndup (res->body, res->body_len);
  o->calls++;
  g_main_loop_quit (o->loop);
}

/* Posts once and runs the loop until the callback; returns the seconds taken. */
static double
post_and_wait (EpHttp *http, gboolean idempotent, double deadline_s, Outcome *o)
{
  o->loop = g_main_loop_new (NULL, FALSE);
  gint64 t0 = g_get_monotonic_time ();
  EpHttpRequest req = { .target = EP_TARGET_CLOUD, .path = "/v3/provisioning/ucm",
                        .body = "{}", .idempotent = idempotent,
                        .deadline = t0 + (gint64) (deadline_s * G_USEC_PER_SEC) };
  g_autoptr (GError) error = NULL;
  g_assert_true (ep_http_post (http, &req, on_done, o, &error));
  g_main_loop_run (o->loop);
  g_main_loop_unref (o->loop);
  g_assert_cmpint (o->calls, ==, 1);
  return (double) (g_get_monotonic_time () - t0) / G_USEC_PER_SEC;
}

/* One post against a server scripted with @answers, to its end. */
typedef struct {
  Server srv;
  EpConfig *config;
  EpHttp *http;
  Outcome o;
  double took;
} Run;

static void
run (Run *r, const Answer *answers, guint n_answers, const char *extra, gboolean idempotent,
     double deadline_s)
{
  memset (r, 0, sizeof *r);
  server_start (&r->srv, answers, n_answers);
  r->config = server_config (r->srv.port, extra);
  r->http = ep_http_new (r->config);
  r->took = post_and_wait (r->http, idempotent, deadline_s, &r->o);
}

static void
run_clear (Run *r)
{
  g_free (r->o.body);
  /* The client's connections close before the server stops: no server
   * thread is left reading. */
  ep_http_free (r->http);
  server_stop (&r->srv);
  ep_config_free (r->config);
}

static void
test_answer_passed_on (void)
{
  static const Answer answers[] = { { 200, NULL, "{\"device_id\":\"d\"}" } };
  Run r;
  run (&r, answers, 1, NULL, TRUE, 5);
  g_assert_cmpint (r.o.outcome, ==, EP_HTTP_RESPONSE);
  g_assert_cmpint (r.o.status, ==, 200);
  g_assert_cmpstr (r.o.body, ==, "{\"device_id\":\"d\"}");
  g_assert_cmpuint (r.o.attempts, ==, 1);
  run_clear (&r);
}

static void
test_5xx_retried_only_when_idempotent (void)
{
  static const Answer answers[] = { { 503, NULL, "{}" }, { 200, NULL, "{}" } };
  for (int idempotent = 0; idempotent <= 1; idempotent++)
    {
      Run r;
      run (&r, answers, 2, "Retries=2\n", idempotent, 10);
      g_assert_cmpint (r.o.outcome, ==, EP_HTTP_RESPONSE);
      g_assert_cmpint (r.o.status, ==, idempotent ? 200 : 503);
      g_assert_cmpuint (r.o.attempts, ==, idempotent ? 2 : 1);
      g_assert_cmpint (g_atomic_int_get (&r.srv.requests), ==, idempotent ? 2 : 1);
      run_clear (&r);
    }
}

static void
test_retries_bounded (void)
{
  static const Answer answers[] = { { 500, NULL, "{}" } };
  Run r;
  run (&r, answers, 1, "Retries=2\n", TRUE, 20);
  g_assert_cmpint (r.o.status, ==, 500);
  g_assert_cmpuint (r.o.attempts, ==, 3);
  g_assert_cmpint (g_atomic_int_get (&r.srv.requests), ==, 3);
  /* Backoff between attempts: at least a quarter second each. */
  g_assert_cmpint (r.srv.request_time[1] - r.srv.request_time[0], >=, 250 * 1000);
  run_clear (&r);
}

/* A 503 whose Retry-After (@answer, the only one) is clamped to a day:
 * longer than the deadline, so the call ends at once with that answer. */
static void
assert_waits_a_day (const Answer *answer)
{
  Run r;
  run (&r, answer, 1, "Retries=2\n", TRUE, 10);
  g_assert_cmpint (r.o.status, ==, 503);
  g_assert_cmpuint (r.o.attempts, ==, 1);
  g_assert_cmpuint (r.o.retry_after_s, ==, 24 * 60 * 60);
  g_assert_cmpfloat (r.took, <, 2.0);
  g_assert_cmpint (g_atomic_int_get (&r.srv.requests), ==, 1);
  run_clear (&r);
}

static void
test_retry_after_honoured_and_clamped (void)
{
  static const Answer wait1[] = { { 429, "Retry-After: 1\r\n", "{}" }, { 200, NULL, "{}" } };
  static const Answer huge[] = { { 503, "Retry-After: 18446744073710\r\n", "{}" } };
  Run r;
  run (&r, wait1, 2, "Retries=2\n", TRUE, 10);
  g_assert_cmpint (r.o.status, ==, 200);
  g_assert_cmpint (r.srv.request_time[1] - r.srv.request_time[0], >=, 950 * 1000);
  run_clear (&r);

  /* 18446744073710 s in microseconds wraps a signed 64-bit number to under
   * half a second: clamped, it is a day, longer than the deadline. */
  assert_waits_a_day (huge);
}

/* Waits past 2^31 and 2^32 s, as a number and as an HTTP date (2040, 2106),
 * are a day too, not a wrapped short or negative wait: also where the
 * daemon has a 64-bit time_t over a libcurl with a 32-bit one (armhf). */
static void
test_retry_after_far_future (void)
{
  static const char *const waits[] = {
    "Retry-After: 2147483648\r\n", "Retry-After: 4294967297\r\n",
    "Retry-After: Sun, 01 Jan 2040 00:00:00 GMT\r\n",
    "Retry-After: Sun, 07 Feb 2106 06:28:17 GMT\r\n",
  };
  for (size_t i = 0; i < G_N_ELEMENTS (waits); i++)
    {
      const Answer answer[] = { { 503, waits[i], "{}" } };
      assert_waits_a_day (answer);
    }
}

static void
test_unreachable_retried_for_any_kind (void)
{
  /* A port nothing listens on: the request provably never arrived. */
  Server srv;
  static const Answer answers[] = { { 200, NULL, "{}" } };
  server_start (&srv, answers, 1);
  guint16 port = srv.port;
  server_stop (&srv);
  g_autoptr (EpConfig) config = server_config (port, "Retries=1\n");
  g_autoptr (EpHttp) http = ep_http_new (config);
  Outcome o = { 0 };
  post_and_wait (http, FALSE, 10, &o);
  g_assert_cmpint (o.outcome, ==, EP_HTTP_FAILED);
  g_assert_cmpuint (o.attempts, ==, 2);
  g_free (o.body);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/http/answer-passed-on", test_answer_passed_on);
  g_test_add_func ("/http/5xx-retried-only-when-idempotent", test_5xx_retried_only_when_idempotent);
  g_test_add_func ("/http/retries-bounded", test_retries_bounded);
  g_test_add_func ("/http/retry-after-honoured-and-clamped", test_retry_after_honoured_and_clamped);
  g_test_add_func ("/http/retry-after-far-future", test_retry_after_far_future);
  g_test_add_func ("/http/unreachable-retried-for-any-kind", test_unreachable_retried_for_any_kind);
  return g_test_run ();
}
