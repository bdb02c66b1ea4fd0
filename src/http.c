#include "http.h"

#include "api.h"
#include "ep-build-config.h"
#include "http-loop.h"
#include "log.h"
#include "wipe-buffer.h"

#include <string.h>

#define BACKOFF_BASE_US (500 * G_TIME_SPAN_MILLISECOND)
#define BACKOFF_MAX_US (8 * G_TIME_SPAN_SECOND)
/* An attempt with less time than this left is not worth starting. */
#define MIN_ATTEMPT_US (100 * G_TIME_SPAN_MILLISECOND)
/* Retry-After is clamped to this before any arithmetic: a server's number
 * must not overflow a wait into a short one. Longer is never within a
 * Deadline anyway. */
#define MAX_RETRY_AFTER_S (24 * 60 * 60)

G_DEFINE_QUARK (ep-http-error-quark, ep_http_error)

struct EpHttp {
  const EpConfig *config;
  EpCurlLoop *loop;           /* NULL while libcurl could not be set up */
  struct curl_slist *headers[2];   /* per EpTarget, built once */
  GQueue waiting;             /* Transfer waiting for a slot */
  GList *transfers;           /* every Transfer alive */
  GPtrArray *idle_easy;       /* finished handles kept for reuse */
  guint running;              /* transfers holding a slot */
  gboolean closing;
};

typedef struct {
  EpHttp *http;
  GList *link;                /* in http->transfers */
  CURL *easy;
  EpTarget target;
  char *url;
  char *body;
  gboolean idempotent;
  gint64 deadline;
  guint attempts;
  long attempt_ms;            /* the current attempt's time limit */
  guint retry_after_s;     /* the last answer's Retry-After, clamped */
  gboolean wait_too_long;  /* ... and it left no room for another attempt */
  EpWipeBuffer response;      /* may hold credentials */
  gboolean too_large;
  gboolean in_multi;
  gboolean queued;
  GSource *backoff;           /* also: the prompt end of an attempt that could not start */
  GSource *deadline_timer;
  char *start_error;          /* why libcurl refused to start the attempt */
  char errbuf[CURL_ERROR_SIZE];
  EpHttpCallback callback;
  gpointer user_data;
} Transfer;

static void start_attempt (Transfer *t);
static void process_messages (gpointer data);

/* ---- transfers -------------------------------------------------------- */

/* Takes the transfer's handle out of the multi handle and gives up its slot. */
static void
leave_multi (Transfer *t)
{
  EpHttp *http = t->http;
  CURLMcode rc = curl_multi_remove_handle (ep_curl_loop_multi (http->loop), t->easy);
  /* Nothing to undo: the handle is reset before it is used again. */
  if (rc != CURLM_OK)
    ep_debug ("http: libcurl could not remove the transfer to %s: %s", t->url,
              curl_multi_strerror (rc));
  t->in_multi = FALSE;
  http->running--;
}

/* Stops whatever the transfer is doing and frees it. */
static void
transfer_free (Transfer *t)
{
  EpHttp *http = t->http;
  if (t->queued)
    g_queue_remove (&http->waiting, t);
  if (t->in_multi)
    leave_multi (t);
  ep_clear_source (&t->backoff);
  ep_clear_source (&t->deadline_timer);
  /* Keep up to MaxConcurrent handles: their buffers and state are reused. */
  if (t->easy != NULL && http->idle_easy->len < http->config->max_concurrent && !http->closing)
    g_ptr_array_add (http->idle_easy, t->easy);
  else if (t->easy != NULL)
    curl_easy_cleanup (t->easy);
  http->transfers = g_list_delete_link (http->transfers, t->link);
  ep_wipe_buffer_clear (&t->response);
  g_free (t->start_error);
  g_free (t->url);
  g_free (t->body);
  g_free (t);
}

/* Gives free slots to waiting transfers. */
static void
pump_queue (EpHttp *http)
{
  while (http->running < http->config->max_concurrent && !g_queue_is_empty (&http->waiting))
    {
      Transfer *t = g_queue_pop_head (&http->waiting);
      t->queued = FALSE;
      start_attempt (t);
    }
}

static void
finish (Transfer *t, EpHttpOutcome outcome, long status, const char *error)
{
  EpHttp *http = t->http;
  /* The body outlives the transfer until the callback has run. */
  EpWipeBuffer body = t->response;
  t->response = (EpWipeBuffer) { 0 };
  /* NUL-terminated without counting it, so the body is a C string too. */
  ep_wipe_buffer_reserve (&body, 0);
  body.data[body.len] = '\0';
  EpHttpResult result = {
    .outcome = outcome,
    .status = status,
    .body = body.data,
    .body_len = body.len,
    .error = error,
    .attempts = t->attempts,
    .retry_after_s = t->wait_too_long ? t->retry_after_s : 0,
  };
  EpHttpCallback callback = t->callback;
  gpointer user_data = t->user_data;
  transfer_free (t);
  pump_queue (http);
  callback (&result, user_data);
  ep_wipe_buffer_clear (&body);
}

static gboolean
on_deadline (gpointer data)
{
  Transfer *t = data;
  g_clear_pointer (&t->deadline_timer, g_source_unref);
  g_autofree char *msg = g_strdup_printf ("no answer from %s within the deadline (%g s)",
                                          t->url, t->http->config->deadline);
  finish (t, EP_HTTP_FAILED, 0, msg);
  return G_SOURCE_REMOVE;
}

static gboolean
on_backoff_done (gpointer data)
{
  Transfer *t = data;
  g_clear_pointer (&t->backoff, g_source_unref);
  start_attempt (t);
  return G_SOURCE_REMOVE;
}

static size_t
on_body (char *data, size_t size, size_t nmemb, void *userp)
{
  Transfer *t = userp;
  size_t n = size * nmemb;
  /* Abort rather than buffer a response larger than any valid one. */
  if (t->response.len + n > EP_API_MAX_RESPONSE)
    {
      t->too_large = TRUE;
      return 0;
    }
  ep_wipe_buffer_append (&t->response, data, n);
  return n;
}

#define EASY_SETOPT(st, easy, opt, val)                                                       \
  EP_CURL_SETOPT (curl_easy_setopt, CURLE_OK, (st)->rc, (st)->option, easy, opt, #opt, val)

typedef struct {
  CURLcode rc;
  const char *option;   /* the first one libcurl refused */
} SetoptStatus;

/* Readies the transfer's handle for one attempt, or says why libcurl would
 * not (a message for the caller). */
static char *
setup_easy (Transfer *t, gint64 remaining_us)
{
  EpHttp *http = t->http;
  const EpEndpoint *ep = ep_config_endpoint (http->config, t->target);
  long attempt_ms = MAX ((long) MIN (http->config->timeout * 1000, remaining_us / 1000), 1L);
  t->attempt_ms = attempt_ms;

  if (t->easy == NULL && http->idle_easy->len > 0)
    t->easy = g_ptr_array_steal_index_fast (http->idle_easy, http->idle_easy->len - 1);
  else if (t->easy == NULL)
    t->easy = curl_easy_init ();
  if (t->easy == NULL)
    return g_strdup_printf ("cannot send to %s: libcurl cannot create a transfer (out of "
                            "memory?); try again later", t->url);
  if (http->headers[t->target] == NULL)
    return g_strdup_printf ("cannot send to %s: libcurl could not build the request headers "
                            "at start (out of memory?); restart the daemon", t->url);
  curl_easy_reset (t->easy);
  CURL *e = t->easy;
  SetoptStatus st = { CURLE_OK, NULL };
  EASY_SETOPT (&st, e, CURLOPT_URL, t->url);
  EASY_SETOPT (&st, e, CURLOPT_PROTOCOLS_STR, "http,https");
  EASY_SETOPT (&st, e, CURLOPT_POST, 1L);
  EASY_SETOPT (&st, e, CURLOPT_POSTFIELDS, t->body);
  EASY_SETOPT (&st, e, CURLOPT_POSTFIELDSIZE, (long) strlen (t->body));
  EASY_SETOPT (&st, e, CURLOPT_HTTPHEADER, http->headers[t->target]);
  EASY_SETOPT (&st, e, CURLOPT_USERAGENT, "enapter-provisiond/" EP_VERSION);
  EASY_SETOPT (&st, e, CURLOPT_NOSIGNAL, 1L);
  /* A transfer ended while its name still resolves leaves libcurl's
   * resolver thread behind instead of joining it on the loop: a slow DNS
   * server would stall every call, and the watchdog, until it answers. */
  EASY_SETOPT (&st, e, CURLOPT_QUICK_EXIT, 1L);
  EASY_SETOPT (&st, e, CURLOPT_TIMEOUT_MS, attempt_ms);
  EASY_SETOPT (&st, e, CURLOPT_CONNECTTIMEOUT_MS, attempt_ms);
  EASY_SETOPT (&st, e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t) EP_API_MAX_RESPONSE);
  EASY_SETOPT (&st, e, CURLOPT_WRITEFUNCTION, on_body);
  EASY_SETOPT (&st, e, CURLOPT_WRITEDATA, t);
  EASY_SETOPT (&st, e, CURLOPT_ERRORBUFFER, t->errbuf);
  EASY_SETOPT (&st, e, CURLOPT_PRIVATE, t);
  EASY_SETOPT (&st, e, CURLOPT_TCP_KEEPALIVE, 1L);
  /* Responses are small; libcurl's default 16 KiB per handle is not needed. */
  EASY_SETOPT (&st, e, CURLOPT_BUFFERSIZE, 4096L);
  /* Verification stays on; a gateway with its own CA names it in CAFile. */
  EASY_SETOPT (&st, e, CURLOPT_SSL_VERIFYPEER, 1L);
  EASY_SETOPT (&st, e, CURLOPT_SSL_VERIFYHOST, 2L);
  if (ep->ca_file != NULL)
    EASY_SETOPT (&st, e, CURLOPT_CAINFO, ep->ca_file);
  /* libcurl quietly sends a request again when a reused connection turns
   * out to be closed, even if the server had it. Where that may not happen,
   * a fresh connection leaves no such ambiguity. */
  if (!t->idempotent || t->attempts > http->config->retries)
    EASY_SETOPT (&st, e, CURLOPT_FRESH_CONNECT, 1L);
  if (st.rc == CURLE_OK)
    return NULL;
  return g_strdup_printf ("cannot send to %s: libcurl refused %s: %s; the installed libcurl "
                          "lacks what this daemon needs (HTTPS, TLS) or memory ran out; check "
                          "it, then try again", t->url, st.option, curl_easy_strerror (st.rc));
}

static gboolean
on_start_failed (gpointer data)
{
  Transfer *t = data;
  g_clear_pointer (&t->backoff, g_source_unref);
  g_autofree char *msg = g_steal_pointer (&t->start_error);
  finish (t, EP_HTTP_FAILED, 0, msg);
  return G_SOURCE_REMOVE;
}

/* libcurl would not start the attempt: the transfer ends at once, from the
 * loop (never inside ep_http_post), with @msg (taken). It holds no slot. */
static void
fail_start (Transfer *t, char *msg)
{
  t->start_error = msg;
  t->backoff = g_timeout_source_new (0);
  g_source_set_callback (t->backoff, on_start_failed, t, NULL);
  g_source_attach (t->backoff, NULL);
}

/* Sets up libcurl's multi handle; FALSE with @error when libcurl refuses. */
static gboolean
loop_start (EpHttp *http, GError **error)
{
  http->loop = ep_curl_loop_new ((long) http->config->max_concurrent, process_messages, http,
                                 error);
  return http->loop != NULL;
}

/* The multi handle, set up again when an earlier try failed; NULL, or why
 * not, for the caller. */
static char *
ensure_loop (Transfer *t)
{
  g_autoptr (GError) error = NULL;
  if (t->http->loop != NULL || loop_start (t->http, &error))
    return NULL;
  return g_strdup_printf ("cannot send to %s: %s", t->url, error->message);
}

/* At start and after a release: a failure is said here, and the next
 * request tries again and tells its caller. */
static void
loop_start_or_warn (EpHttp *http)
{
  g_autoptr (GError) error = NULL;
  if (!loop_start (http, &error))
    ep_warning ("http: %s", error->message);
}

static void
start_attempt (Transfer *t)
{
  EpHttp *http = t->http;
  gint64 remaining = t->deadline - g_get_monotonic_time ();
  if (http->running >= http->config->max_concurrent)
    {
      g_queue_push_tail (&http->waiting, t);
      t->queued = TRUE;
      return;
    }
  t->attempts++;
  t->too_large = FALSE;
  t->errbuf[0] = '\0';
  ep_wipe_buffer_empty (&t->response);
  char *problem = ensure_loop (t);
  if (problem == NULL)
    problem = setup_easy (t, remaining);
  if (problem != NULL)
    {
      fail_start (t, problem);
      return;
    }
  CURLMcode rc = curl_multi_add_handle (ep_curl_loop_multi (http->loop), t->easy);
  if (rc != CURLM_OK)
    {
      fail_start (t, g_strdup_printf ("cannot send to %s: libcurl refused the transfer: %s; "
                                      "try again later", t->url, curl_multi_strerror (rc)));
      return;
    }
  t->in_multi = TRUE;
  http->running++;
}

static gboolean
is_tls_failure (CURLcode rc)
{
  switch (rc)
    {
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_USE_SSL_FAILED:
      return TRUE;
    default:
      return FALSE;
    }
}

/* The request provably never reached the server: safe to retry any kind. */
static gboolean
never_reached (CURL *easy, CURLcode rc)
{
  long sent = 0;
  /* Unknown counts as sent: retrying then could repeat what the server did. */
  if (curl_easy_getinfo (easy, CURLINFO_REQUEST_SIZE, &sent) != CURLE_OK)
    sent = 1;
  return rc == CURLE_COULDNT_RESOLVE_HOST || rc == CURLE_COULDNT_RESOLVE_PROXY ||
         rc == CURLE_COULDNT_CONNECT || sent == 0;
}

/* Why an attempt that got no answer failed, in a few words for the debug
 * log: "timeout after 10 s", "connection refused", libcurl's text. */
static char *
attempt_failure (Transfer *t, CURLcode rc)
{
  long os_errno = 0;
  if (rc == CURLE_OPERATION_TIMEDOUT)
    return g_strdup_printf ("timeout after %g s", (double) t->attempt_ms / 1000);
  if (rc == CURLE_COULDNT_CONNECT &&
      curl_easy_getinfo (t->easy, CURLINFO_OS_ERRNO, &os_errno) == CURLE_OK && os_errno > 0)
    return g_ascii_strdown (g_strerror ((int) os_errno), -1);
  return g_strdup (t->errbuf[0] ? t->errbuf : curl_easy_strerror (rc));
}

/* Schedules another attempt, or returns FALSE when the deadline leaves no
 * room for one. Backoff doubles per attempt with jitter, and is at least
 * what the server asked for in Retry-After. @why is why the attempt
 * failed. */
static gboolean
schedule_retry (Transfer *t, gint64 retry_after_us, const char *why)
{
  if (t->attempts > t->http->config->retries)
    return FALSE;
  gint64 backoff = MIN (BACKOFF_BASE_US << MIN (t->attempts - 1, 16), BACKOFF_MAX_US);
  backoff = backoff / 2 + g_random_int_range (0, (gint32) (backoff / 2) + 1);
  backoff = MAX (backoff, retry_after_us);
  if (g_get_monotonic_time () + backoff + MIN_ATTEMPT_US > t->deadline)
    {
      t->wait_too_long = backoff == retry_after_us;
      return FALSE;
    }
  ep_debug ("http: attempt %u to %s failed (%s), retrying in %" G_GINT64_FORMAT " ms",
            t->attempts, t->url, why, backoff / 1000);
  t->backoff = g_timeout_source_new ((guint) (backoff / 1000));
  g_source_set_callback (t->backoff, on_backoff_done, t, NULL);
  g_source_attach (t->backoff, NULL);
  return TRUE;
}

static void
transfer_done (Transfer *t, CURLcode rc)
{
  EpHttp *http = t->http;
  long status = 0;
  curl_off_t retry_after = 0;
  /* Unknown, they stay 0: no answer (an error), no wait asked for. */
  if (curl_easy_getinfo (t->easy, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK)
    status = 0;
  if (curl_easy_getinfo (t->easy, CURLINFO_RETRY_AFTER, &retry_after) != CURLE_OK)
    retry_after = 0;
  leave_multi (t);

  if (rc == CURLE_OK)
    {
      gboolean transient = status >= 500 || status == 429;
      t->retry_after_s = (guint) CLAMP (retry_after, 0, MAX_RETRY_AFTER_S);
      if (transient && t->idempotent)
        {
          char why[32];
          g_snprintf (why, sizeof why, "HTTP %ld", status);
          if (schedule_retry (t, (gint64) t->retry_after_s * G_TIME_SPAN_SECOND, why))
            {
              pump_queue (http);
              return;
            }
        }
      finish (t, EP_HTTP_RESPONSE, status, NULL);
      return;
    }
  if (t->too_large || rc == CURLE_FILESIZE_EXCEEDED)
    {
      finish (t, EP_HTTP_TOO_LARGE, status, NULL);
      return;
    }

  gboolean tls = is_tls_failure (rc);
  if (!tls && (t->idempotent || never_reached (t->easy, rc)))
    {
      g_autofree char *why = attempt_failure (t, rc);
      if (schedule_retry (t, 0, why))
        {
          pump_queue (http);
          return;
        }
    }
  const char *detail = t->errbuf[0] ? t->errbuf : curl_easy_strerror (rc);
  g_autofree char *msg =
      tls ? g_strdup_printf ("TLS/certificate verification failed for %s: %s", t->url, detail)
          : g_strdup_printf ("cannot reach %s: %s", t->url, detail);
  finish (t, EP_HTTP_FAILED, 0, msg);
}

static void
process_messages (gpointer data)
{
  EpHttp *http = data;
  CURLMsg *msg;
  int left;
  while ((msg = curl_multi_info_read (ep_curl_loop_multi (http->loop), &left)) != NULL)
    {
      if (msg->msg != CURLMSG_DONE)
        continue;
      Transfer *t = NULL;
      /* Without its transfer the handle cannot be finished here; the
       * transfer's deadline still answers the caller. */
      if (curl_easy_getinfo (msg->easy_handle, CURLINFO_PRIVATE, (char **) &t) != CURLE_OK ||
          t == NULL)
        {
          ep_warning ("http: libcurl lost track of a finished transfer; its caller is answered "
                      "at the deadline");
          continue;
        }
      transfer_done (t, msg->data.result);
    }
}

gboolean
ep_http_post (EpHttp *http, const EpHttpRequest *request, EpHttpCallback callback,
              gpointer user_data, GError **error)
{
  if (http->running >= http->config->max_concurrent &&
      g_queue_get_length (&http->waiting) >= http->config->max_queued)
    {
      g_set_error (error, EP_HTTP_ERROR, EP_HTTP_ERROR_QUEUE_FULL,
                   "too many calls in progress (%u running, %u waiting); try again later",
                   http->running, g_queue_get_length (&http->waiting));
      return FALSE;
    }
  const EpEndpoint *ep = ep_config_endpoint (http->config, request->target);
  Transfer *t = g_new0 (Transfer, 1);
  t->http = http;
  t->target = request->target;
  t->url = g_strconcat (ep->url, request->path, NULL);
  t->body = g_strdup (request->body);
  t->idempotent = request->idempotent;
  t->deadline = request->deadline;
  t->callback = callback;
  t->user_data = user_data;
  http->transfers = g_list_prepend (http->transfers, t);
  t->link = http->transfers;

  gint64 remaining = MAX (request->deadline - g_get_monotonic_time (), 0);
  /* Clamped, not wrapped: a caller's far deadline must not fire early. */
  t->deadline_timer = g_timeout_source_new ((guint) MIN (remaining / 1000, G_MAXUINT));
  g_source_set_callback (t->deadline_timer, on_deadline, t, NULL);
  g_source_attach (t->deadline_timer, NULL);
  start_attempt (t);
  return TRUE;
}

/* ---- the client ------------------------------------------------------- */

static void
free_headers (struct curl_slist *list)
{
  for (struct curl_slist *l = list; l; l = l->next)
    explicit_bzero (l->data, strlen (l->data));
  curl_slist_free_all (list);
}

/* Adds @line to *@list; on failure frees the list and leaves NULL, which
 * every later call turns into FALSE too. */
static gboolean
append_header (struct curl_slist **list, const char *line)
{
  struct curl_slist *longer = *list != NULL ? curl_slist_append (*list, line) : NULL;
  if (longer == NULL)
    {
      free_headers (*list);
      *list = NULL;
      return FALSE;
    }
  *list = longer;
  return TRUE;
}

/* The headers of every request to @ep, or NULL when libcurl could not hold
 * them (start_attempt then fails each request to @ep, saying so). */
static struct curl_slist *
build_headers (const EpEndpoint *ep)
{
  struct curl_slist *list = curl_slist_append (NULL, "Content-Type: application/json");
  append_header (&list, "Accept: application/json");
  append_header (&list, "Expect:");
  if (ep->token != NULL)
    {
      g_autofree char *auth = g_strconcat ("X-Enapter-Auth-Token: ", ep->token, NULL);
      append_header (&list, auth);
      explicit_bzero (auth, strlen (auth));
    }
  /* The API refuses a token over plain HTTP unless told this is intended. */
  if (ep->url != NULL && g_ascii_strncasecmp (ep->url, "http://", 7) == 0)
    append_header (&list, "X-Enapter-Allow-HTTP: true");
  return list;
}

EpHttp *
ep_http_new (const EpConfig *config)
{
  EpHttp *http = g_new0 (EpHttp, 1);
  http->config = config;
  loop_start_or_warn (http);
  g_queue_init (&http->waiting);
  http->idle_easy = g_ptr_array_new_with_free_func ((GDestroyNotify) curl_easy_cleanup);
  http->headers[EP_TARGET_CLOUD] = build_headers (&config->cloud);
  http->headers[EP_TARGET_GATEWAY] = build_headers (&config->gateway);
  return http;
}

void
ep_http_release_idle (EpHttp *http)
{
  /* Every attempt leaves its handle in the pool: none there, no request
   * was made since the last time (a GetDevice, say), nothing to give back. */
  if (http->transfers != NULL || http->idle_easy->len == 0)
    return;
  g_ptr_array_set_size (http->idle_easy, 0);
  g_clear_pointer (&http->loop, ep_curl_loop_free);
  loop_start_or_warn (http);
}

void
ep_http_free (EpHttp *http)
{
  if (http == NULL)
    return;
  /* Handles are not kept for reuse from here on. */
  http->closing = TRUE;
  while (http->transfers != NULL)
    transfer_free (http->transfers->data);
  g_ptr_array_unref (http->idle_easy);
  g_clear_pointer (&http->loop, ep_curl_loop_free);
  free_headers (http->headers[EP_TARGET_CLOUD]);
  free_headers (http->headers[EP_TARGET_GATEWAY]);
  g_free (http);
}
