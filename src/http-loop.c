/* libcurl on the GLib loop (see http-loop.h). */
#include "http-loop.h"

#include "http-error.h"
#include "log.h"

#include <glib-unix.h>

struct EpCurlLoop {
  CURLM *multi;
  GSource *timer;             /* libcurl's one timer */
  GList *watches;             /* every SocketWatch alive */
  gboolean closing;
  EpCurlLoopProgress progress;
  gpointer user_data;
};

typedef struct {
  EpCurlLoop *loop;
  GList *link;                /* in loop->watches */
  curl_socket_t fd;
  GSource *source;
} SocketWatch;

/* libcurl failing to act leaves its transfers to their deadline timers in
 * http.c: the caller still gets an answer. Said once per failure. */
static void
warn_action (CURLMcode rc, const char *what)
{
  ep_warning ("http: libcurl failed to act on %s: %s; the transfers waiting on it end at "
              "their deadline", what, curl_multi_strerror (rc));
}

static gboolean
on_socket_ready (gint fd, GIOCondition cond, gpointer data)
{
  SocketWatch *watch = data;
  EpCurlLoop *loop = watch->loop;
  int flags = 0;
  if (cond & G_IO_IN)
    flags |= CURL_CSELECT_IN;
  if (cond & G_IO_OUT)
    flags |= CURL_CSELECT_OUT;
  if (cond & (G_IO_ERR | G_IO_HUP))
    flags |= CURL_CSELECT_ERR;
  int running;
  /* @watch may be freed inside this call (CURL_POLL_REMOVE). */
  CURLMcode rc = curl_multi_socket_action (loop->multi, fd, flags, &running);
  if (rc != CURLM_OK)
    {
      g_autofree char *what = g_strdup_printf ("socket %d", fd);
      warn_action (rc, what);
    }
  loop->progress (loop->user_data);
  /* A socket libcurl does not know would wake the loop for ever. */
  return rc == CURLM_BAD_SOCKET ? G_SOURCE_REMOVE : G_SOURCE_CONTINUE;
}

void
ep_clear_source (GSource **source)
{
  if (*source == NULL)
    return;
  g_source_destroy (*source);
  g_clear_pointer (source, g_source_unref);
}

static void
watch_free (SocketWatch *watch)
{
  ep_clear_source (&watch->source);
  watch->loop->watches = g_list_delete_link (watch->loop->watches, watch->link);
  g_free (watch);
}

static int
on_curl_socket (CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
  EpCurlLoop *loop = userp;
  SocketWatch *watch = socketp;

  if (what == CURL_POLL_REMOVE)
    {
      if (watch != NULL)
        watch_free (watch);
      return 0;
    }
  if (watch == NULL)
    {
      watch = g_new0 (SocketWatch, 1);
      watch->loop = loop;
      watch->fd = fd;
      loop->watches = g_list_prepend (loop->watches, watch);
      watch->link = loop->watches;
      CURLMcode rc = curl_multi_assign (loop->multi, fd, watch);
      if (rc != CURLM_OK)
        {
          /* Unassigned, the watch would be made again on every call and
           * never removed: fail what uses the socket instead. */
          ep_warning ("http: libcurl cannot track socket %d: %s; its transfer fails", fd,
                      curl_multi_strerror (rc));
          watch_free (watch);
          return -1;
        }
    }
  ep_clear_source (&watch->source);
  if (loop->closing)
    return 0;
  GIOCondition cond = 0;
  if (what & CURL_POLL_IN)
    cond |= G_IO_IN;
  if (what & CURL_POLL_OUT)
    cond |= G_IO_OUT;
  watch->source = g_unix_fd_source_new (fd, cond);
  /* As the sd-bus source (sdbus-glib.c): no fd set changes per dispatch. */
  g_source_set_can_recurse (watch->source, TRUE);
  g_source_set_callback (watch->source, G_SOURCE_FUNC (on_socket_ready), watch, NULL);
  g_source_attach (watch->source, NULL);
  return 0;
}

static gboolean
on_curl_timeout (gpointer data)
{
  EpCurlLoop *loop = data;
  /* This source ends here; libcurl may install the next timer meanwhile. */
  g_clear_pointer (&loop->timer, g_source_unref);
  int running;
  CURLMcode rc = curl_multi_socket_action (loop->multi, CURL_SOCKET_TIMEOUT, 0, &running);
  if (rc != CURLM_OK)
    warn_action (rc, "its timer");
  loop->progress (loop->user_data);
  return G_SOURCE_REMOVE;
}

/* libcurl asks for one timer, replacing the previous one; -1 removes it.
 * Only schedules: libcurl must not be re-entered from here. */
static int
on_curl_timer (CURLM *multi, long timeout_ms, void *userp)
{
  EpCurlLoop *loop = userp;
  ep_clear_source (&loop->timer);
  if (timeout_ms < 0 || loop->closing)
    return 0;
  loop->timer = g_timeout_source_new ((guint) MIN (timeout_ms, G_MAXINT));
  g_source_set_callback (loop->timer, on_curl_timeout, loop, NULL);
  g_source_attach (loop->timer, NULL);
  return 0;
}

#define MULTI_SETOPT(rc, failed, multi, opt, val)                                            \
  EP_CURL_SETOPT (curl_multi_setopt, CURLM_OK, rc, failed, multi, opt, #opt, val)

EpCurlLoop *
ep_curl_loop_new (long max_connections, EpCurlLoopProgress progress, gpointer user_data,
                  GError **error)
{
  g_autoptr (EpCurlLoop) loop = g_new0 (EpCurlLoop, 1);
  loop->progress = progress;
  loop->user_data = user_data;
  loop->multi = curl_multi_init ();
  if (loop->multi == NULL)
    {
      g_set_error (error, EP_HTTP_ERROR, EP_HTTP_ERROR_SETUP,
                   "libcurl cannot create its multi handle (out of memory?); try again later");
      return NULL;
    }
  CURLMcode rc = CURLM_OK;
  const char *failed = NULL;
  MULTI_SETOPT (rc, failed, loop->multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket);
  MULTI_SETOPT (rc, failed, loop->multi, CURLMOPT_SOCKETDATA, loop);
  MULTI_SETOPT (rc, failed, loop->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
  MULTI_SETOPT (rc, failed, loop->multi, CURLMOPT_TIMERDATA, loop);
  MULTI_SETOPT (rc, failed, loop->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, max_connections);
  MULTI_SETOPT (rc, failed, loop->multi, CURLMOPT_MAXCONNECTS, max_connections);
  if (rc != CURLM_OK)
    {
      g_set_error (error, EP_HTTP_ERROR, EP_HTTP_ERROR_SETUP,
                   "libcurl refused %s: %s; the installed libcurl may be too old for this "
                   "daemon (7.88 or later is needed)", failed, curl_multi_strerror (rc));
      return NULL;
    }
  return g_steal_pointer (&loop);
}

CURLM *
ep_curl_loop_multi (EpCurlLoop *loop)
{
  return loop->multi;
}

/* libcurl (7.88) tells on_curl_socket to remove a socket when its transfer
 * leaves the multi, not when it closes a cached connection here; a watch it
 * never removed would poll a closed fd for ever, so whatever is left goes
 * too. */
void
ep_curl_loop_free (EpCurlLoop *loop)
{
  if (loop == NULL)
    return;
  loop->closing = TRUE;
  if (loop->multi != NULL)
    curl_multi_cleanup (loop->multi);
  while (loop->watches != NULL)
    watch_free (loop->watches->data);
  ep_clear_source (&loop->timer);
  g_free (loop);
}
