/* HTTP POSTs to the API with libcurl's multi-socket interface on the GLib
 * main loop: a bounded number in flight, a bounded queue, retries with
 * backoff where they are safe (enapter-provisiond(8) "Retries"), and a deadline per call. */
#pragma once

#include "config.h"
#include "http-error.h"

typedef struct EpHttp EpHttp;

typedef enum {
  EP_HTTP_RESPONSE,    /* the server answered: see status and body */
  EP_HTTP_FAILED,      /* no usable answer (connect, TLS, timeout, deadline) */
  EP_HTTP_TOO_LARGE,   /* the answer exceeded EP_API_MAX_RESPONSE */
} EpHttpOutcome;

typedef struct {
  EpHttpOutcome outcome;
  long status;
  const char *body;    /* NUL-terminated, body_len bytes */
  gsize body_len;
  const char *error;   /* EP_HTTP_FAILED: what went wrong, for people */
  guint attempts;
  /* EP_HTTP_RESPONSE: the server's Retry-After in seconds when waiting that
   * long would pass the deadline (why the call ends here), or 0 */
  guint retry_after_s;
} EpHttpResult;

typedef void (*EpHttpCallback) (const EpHttpResult *result, gpointer user_data);

typedef struct {
  EpTarget target;
  const char *path;          /* appended to the target's base URL */
  const char *body;          /* JSON, copied */
  /* The request may be retried after it possibly reached the server
   * (timeout, dropped connection, 5xx, 429): only for idempotent kinds. */
  gboolean idempotent;
  gint64 deadline;           /* g_get_monotonic_time () by which to give up */
} EpHttpRequest;

EpHttp *ep_http_new (const EpConfig *config);
/* Abandons transfers still running without calling their callbacks. */
void ep_http_free (EpHttp *http);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (EpHttp, ep_http_free)

/* Queues @request. Fails with EP_HTTP_ERROR_QUEUE_FULL when MaxConcurrent
 * transfers run and MaxQueued wait already. Otherwise @callback runs exactly
 * once, from the loop, never from within this call: also when libcurl
 * refuses to start the transfer (EP_HTTP_FAILED, at once). */
gboolean ep_http_post (EpHttp *http, const EpHttpRequest *request, EpHttpCallback callback,
                       gpointer user_data, GError **error);

/* When nothing is in flight and a request was made since the last time:
 * closes the connections and frees the handles kept for reuse. The next
 * request opens a new connection. */
void ep_http_release_idle (EpHttp *http);
