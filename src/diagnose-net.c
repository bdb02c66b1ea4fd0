/* Whether the configured APIs can be reached (see diagnose-net.h). */
#include "diagnose-net.h"

#include "diagnose-check.h"
#include "http-loop.h"
#include "log.h"

/* After Timeout libcurl gives up by itself; this much later the probe does
 * not wait for it any more. */
#define BACKSTOP_MS 2000

typedef struct Probe Probe;

typedef struct {
  Probe *probe;
  const EpEndpoint *ep;
  const char *section;       /* "Cloud", "Gateway": for what to do */
  CURL *easy;                /* while libcurl works on it */
  gint64 started;            /* monotonic */
  char errbuf[CURL_ERROR_SIZE];
  EpCheck *check;            /* the result, once known */
} Target;

struct Probe {
  const EpConfig *config;
  EpCurlLoop *loop;
  Target targets[2];
  guint running;
  GSource *backstop;
  GSource *finish;
  EpProbeDone done;
  gpointer user_data;
};

/* "api:cloud", "api:gateway". */
static char *
check_name (const Target *t)
{
  return g_strdup_printf ("api:%s", t->ep->name);
}

#define EASY_SETOPT(rc, failed, easy, opt, val)                                              \
  EP_CURL_SETOPT (curl_easy_setopt, CURLE_OK, rc, failed, easy, opt, #opt, val)

/* What a failed connection means and what to do about it. */
static void
explain (const Target *t, CURLcode rc, gboolean tls, const char **what, char **todo)
{
  const char *s = t->section;
  switch (rc)
    {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
      *what = "the host name cannot be resolved";
      *todo = g_strdup_printf ("check DNS (resolvectl status) and [%s] URL", s);
      return;
    case CURLE_COULDNT_CONNECT:
      *what = "no TCP connection";
      *todo = g_strdup_printf ("check that the API is up, the network and the firewall, and "
                               "[%s] URL", s);
      return;
    case CURLE_OPERATION_TIMEDOUT:
      /* libcurl's words for a name still unresolved at the timeout. */
      if (g_str_has_prefix (t->errbuf, "Resolving timed out"))
        {
          *what = "the host name was not resolved within [Provisioning] Timeout";
          *todo = g_strdup_printf ("check DNS (resolvectl status: is a name server slow or "
                                   "unreachable?) and [%s] URL", s);
          return;
        }
      *what = tls ? "no connection and TLS handshake within [Provisioning] Timeout"
                  : "no connection within [Provisioning] Timeout";
      *todo = g_strdup_printf ("check the network and the firewall (are packets dropped?) and "
                               "[%s] URL; on a slow link, raise [Provisioning] Timeout", s);
      return;
    case CURLE_PEER_FAILED_VERIFICATION:
      *what = "the server's certificate is not trusted";
      *todo = t->ep->ca_file
                ? g_strdup_printf ("[%s] CAFile=%s must hold the CA that issued the server's "
                                   "certificate, and [%s] URL's host must be named in it",
                                   s, t->ep->ca_file, s)
                : g_strdup_printf ("set [%s] CAFile= to the CA that issued the server's "
                                   "certificate, and check that [%s] URL's host is named in it",
                                   s, s);
      return;
    case CURLE_SSL_CACERT_BADFILE:
      *what = "the CA file cannot be loaded";
      *todo = g_strdup_printf ("check the file [%s] CAFile= names", s);
      return;
    case CURLE_SSL_CONNECT_ERROR:
      *what = "the TLS handshake failed";
      *todo = g_strdup_printf ("check that [%s] URL is the API's HTTPS address (not a plain "
                               "HTTP port) and the server's TLS set-up", s);
      return;
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
      *what = "libcurl cannot use the URL";
      *todo = g_strdup_printf ("check [%s] URL", s);
      return;
    default:
      *what = "the connection failed";
      *todo = g_strdup_printf ("check the network, the firewall and [%s] URL", s);
      return;
    }
}

/* The proxy libcurl takes from the environment for @url, chosen as
 * libcurl chooses (<scheme>_proxy, upper-case too except for http, then
 * all_proxy and ALL_PROXY; a variable set but empty means none), with no
 * user name or password in it, since it goes into a message; NULL if none.
 * Whether no_proxy exempts the host is libcurl's to decide. */
static char *
env_proxy (const char *url, const char **var)
{
  gboolean tls = g_ascii_strncasecmp (url, "https:", 6) == 0;
  const char *names[] = { tls ? "https_proxy" : "http_proxy", tls ? "HTTPS_PROXY" : NULL,
                          "all_proxy", "ALL_PROXY" };
  const char *value = NULL;
  for (guint i = 0; value == NULL && i < G_N_ELEMENTS (names); i++)
    if (names[i] != NULL && (value = g_getenv (names[i])) != NULL)
      *var = names[i];
  if (value == NULL || value[0] == '\0')
    return NULL;
  CURLU *u = curl_url ();
  char *bare = NULL;
  char *out = NULL;
  if (u != NULL &&
      curl_url_set (u, CURLUPART_URL, value, CURLU_GUESS_SCHEME | CURLU_NON_SUPPORT_SCHEME) ==
        CURLUE_OK &&
      curl_url_set (u, CURLUPART_USER, NULL, 0) == CURLUE_OK &&
      curl_url_set (u, CURLUPART_PASSWORD, NULL, 0) == CURLUE_OK &&
      curl_url_get (u, CURLUPART_URL, &bare, 0) == CURLUE_OK)
    out = g_strdup (bare);
  curl_free (bare);
  curl_url_cleanup (u);
  return out ? out : g_strdup ("(a proxy URL libcurl cannot parse)");
}

static EpCheck *
judge (const Target *t, CURLcode rc)
{
  g_autofree char *name = check_name (t);
  const char *url = t->ep->url;
  double ms = (double) (g_get_monotonic_time () - t->started) / G_TIME_SPAN_MILLISECOND;
  gboolean tls = g_ascii_strncasecmp (url, "https:", 6) == 0;
  const char *var = NULL;
  g_autofree char *proxy = env_proxy (url, &var);
  /* Non-zero once an HTTP proxy answered the CONNECT (HTTPPROXYTUNNEL). */
  long connect_code = 0;
  curl_easy_getinfo (t->easy, CURLINFO_HTTP_CONNECTCODE, &connect_code);
  g_autofree char *via = NULL;
  if (proxy != NULL && connect_code != 0)
    via = g_strdup_printf (" through the proxy %s (%s in the daemon's environment)", proxy, var);
  else if (proxy != NULL)
    via = g_strdup_printf (" (the daemon's environment names the proxy %s in %s: a SOCKS proxy "
                           "made it, or no_proxy exempts the host)", proxy, var);
  if (rc == CURLE_OK && !tls)
    return ep_check_new (name, EP_CHECK_OK,
                         "%s: TCP connection made%s in %.0f ms (plain http: no TLS to check); no "
                         "request was sent", url, via ? via : "", ms);
  if (rc == CURLE_OK)
    return ep_check_new (name, EP_CHECK_OK,
                         "%s: TCP connection and TLS handshake made%s in %.0f ms, the server's "
                         "certificate verified with %s%s; no request was sent",
                         url, via ? via : "", ms,
                         t->ep->ca_file ? "CAFile " : "the system's trust store",
                         t->ep->ca_file ? t->ep->ca_file : "");
  const char *what;
  g_autofree char *todo = NULL;
  if (proxy != NULL && connect_code / 100 != 2 && connect_code != 0)
    {
      what = "the proxy did not connect to it";
      todo = g_strdup_printf ("check that the proxy %s (%s in the daemon's environment) can "
                              "reach [%s] URL's host and port and allows them, or exempt the "
                              "host in no_proxy", proxy, var, t->section);
    }
  else
    {
      explain (t, rc, tls, &what, &todo);
      if (proxy != NULL)
        {
          g_autofree char *more = g_strdup_printf ("%s; the daemon's environment names the "
                                                   "proxy %s in %s: check it too", todo, proxy,
                                                   var);
          g_free (todo);
          todo = g_steal_pointer (&more);
        }
    }
  return ep_check_new (name, EP_CHECK_ERROR, "%s: %s (%s); %s", url, what,
                       t->errbuf[0] ? t->errbuf : curl_easy_strerror (rc), todo);
}

/* Ends @t's transfer with @check (taken). */
static void
end_target (Target *t, EpCheck *check)
{
  Probe *p = t->probe;
  CURLMcode rc = curl_multi_remove_handle (ep_curl_loop_multi (p->loop), t->easy);
  if (rc != CURLM_OK)
    ep_debug ("diagnose: libcurl could not remove the check of %s: %s", t->ep->url,
              curl_multi_strerror (rc));
  curl_easy_cleanup (t->easy);
  t->easy = NULL;
  t->check = check;
  p->running--;
}

static gboolean
on_finish (gpointer data)
{
  Probe *p = data;
  GPtrArray *checks = ep_checks_new ();
  for (guint i = 0; i < G_N_ELEMENTS (p->targets); i++)
    if (p->targets[i].check != NULL)
      g_ptr_array_add (checks, p->targets[i].check);
  ep_clear_source (&p->backstop);
  ep_clear_source (&p->finish);
  /* Closes the connections libcurl kept. */
  ep_curl_loop_free (p->loop);
  EpProbeDone done = p->done;
  gpointer user_data = p->user_data;
  g_free (p);
  done (checks, user_data);
  g_ptr_array_unref (checks);
  return G_SOURCE_REMOVE;
}

/* From the loop, outside libcurl's callbacks. */
static void
schedule_finish (Probe *p)
{
  if (p->finish != NULL)
    return;
  p->finish = g_idle_source_new ();
  g_source_set_callback (p->finish, on_finish, p, NULL);
  g_source_attach (p->finish, NULL);
}

static void
on_progress (gpointer data)
{
  Probe *p = data;
  CURLMsg *msg;
  int left;
  while ((msg = curl_multi_info_read (ep_curl_loop_multi (p->loop), &left)) != NULL)
    {
      char *priv = NULL;
      if (msg->msg != CURLMSG_DONE ||
          curl_easy_getinfo (msg->easy_handle, CURLINFO_PRIVATE, &priv) != CURLE_OK ||
          priv == NULL)
        continue;
      Target *t = (Target *) priv;
      /* @msg is libcurl's until the handle leaves: read it first. */
      CURLcode rc = msg->data.result;
      end_target (t, judge (t, rc));
    }
  if (p->running == 0)
    schedule_finish (p);
}

static gboolean
on_backstop (gpointer data)
{
  Probe *p = data;
  g_clear_pointer (&p->backstop, g_source_unref);
  for (guint i = 0; i < G_N_ELEMENTS (p->targets); i++)
    {
      Target *t = &p->targets[i];
      if (t->easy == NULL)
        continue;
      g_autofree char *name = check_name (t);
      end_target (t, ep_check_new (name, EP_CHECK_ERROR,
                                   "%s: no result within [Provisioning] Timeout=%g s; check the "
                                   "network, the firewall and [%s] URL",
                                   t->ep->url, p->config->timeout, t->section));
    }
  schedule_finish (p);
  return G_SOURCE_REMOVE;
}

/* Hands @t to libcurl; NULL, or why libcurl would not take it. */
static char *
start_target (Probe *p, Target *t)
{
  t->easy = curl_easy_init ();
  if (t->easy == NULL)
    return g_strdup ("libcurl cannot create a transfer (out of memory?); try again later");
  long ms = MAX ((long) (p->config->timeout * 1000), 1L);
  CURLcode rc = CURLE_OK;
  const char *failed = NULL;
  CURL *e = t->easy;
  EASY_SETOPT (rc, failed, e, CURLOPT_URL, t->ep->url);
  EASY_SETOPT (rc, failed, e, CURLOPT_PROTOCOLS_STR, "http,https");
  /* The connection and, for https, the TLS handshake, then nothing. */
  EASY_SETOPT (rc, failed, e, CURLOPT_CONNECT_ONLY, 1L);
  /* Through an HTTP proxy (from the environment, as for the API calls),
   * the proxy itself must reach the host: a connection to the proxy
   * alone would say nothing about the API. */
  EASY_SETOPT (rc, failed, e, CURLOPT_HTTPPROXYTUNNEL, 1L);
  EASY_SETOPT (rc, failed, e, CURLOPT_NOSIGNAL, 1L);
  /* Leaves a resolver thread still waiting on DNS behind rather than
   * joining it on the loop (as http.c does). */
  EASY_SETOPT (rc, failed, e, CURLOPT_QUICK_EXIT, 1L);
  EASY_SETOPT (rc, failed, e, CURLOPT_CONNECTTIMEOUT_MS, ms);
  EASY_SETOPT (rc, failed, e, CURLOPT_TIMEOUT_MS, ms);
  EASY_SETOPT (rc, failed, e, CURLOPT_SSL_VERIFYPEER, 1L);
  EASY_SETOPT (rc, failed, e, CURLOPT_SSL_VERIFYHOST, 2L);
  if (t->ep->ca_file != NULL)
    EASY_SETOPT (rc, failed, e, CURLOPT_CAINFO, t->ep->ca_file);
  EASY_SETOPT (rc, failed, e, CURLOPT_ERRORBUFFER, t->errbuf);
  EASY_SETOPT (rc, failed, e, CURLOPT_PRIVATE, (void *) t);
  if (rc != CURLE_OK)
    return g_strdup_printf ("libcurl refused %s: %s; the installed libcurl lacks what this "
                            "daemon needs (HTTPS, TLS) or memory ran out", failed,
                            curl_easy_strerror (rc));
  t->started = g_get_monotonic_time ();
  CURLMcode mrc = curl_multi_add_handle (ep_curl_loop_multi (p->loop), e);
  if (mrc != CURLM_OK)
    return g_strdup_printf ("libcurl cannot start the check: %s; try again later",
                            curl_multi_strerror (mrc));
  p->running++;
  return NULL;
}

void
ep_probe_targets (const EpConfig *config, EpProbeDone done, gpointer user_data)
{
  Probe *p = g_new0 (Probe, 1);
  p->config = config;
  p->done = done;
  p->user_data = user_data;
  const EpEndpoint *eps[] = { &config->cloud, &config->gateway };
  static const char *const sections[] = { "Cloud", "Gateway" };
  g_autoptr (GError) error = NULL;
  p->loop = ep_curl_loop_new (G_N_ELEMENTS (eps), on_progress, p, &error);
  for (guint i = 0; i < G_N_ELEMENTS (eps); i++)
    {
      Target *t = &p->targets[i];
      *t = (Target) { .probe = p, .ep = eps[i], .section = sections[i] };
      if (eps[i]->url == NULL)
        continue;
      g_autofree char *name = check_name (t);
      g_autofree char *why = p->loop ? start_target (p, t) : g_strdup (error->message);
      if (why == NULL)
        continue;
      if (t->easy != NULL)
        curl_easy_cleanup (g_steal_pointer (&t->easy));
      t->check = ep_check_new (name, EP_CHECK_ERROR, "%s: cannot be checked: %s", eps[i]->url,
                               why);
    }
  p->backstop = g_timeout_source_new ((guint) (config->timeout * 1000) + BACKSTOP_MS);
  g_source_set_callback (p->backstop, on_backstop, p, NULL);
  g_source_attach (p->backstop, NULL);
  if (p->running == 0)
    schedule_finish (p);
}
