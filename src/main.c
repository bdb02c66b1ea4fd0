/* enapter-provisiond: options, start-up, the main loop and shutdown. */
#include "bus.h"
#include "config.h"
#include "credentials.h"
#include "crypto-prepare.h"
#include "ep-build-config.h"
#include "http.h"
#include "keystore.h"
#include "log.h"
#include "renewal.h"
#include "service.h"
#include "redact.h"

#include <curl/curl.h>
#include <glib-unix.h>
#include <locale.h>
#include <malloc.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

typedef struct {
  const EpConfig *config;
  GMainLoop *loop;
  EpService *svc;
  EpHttp *http;
  EpBus *bus;
  EpRenewal *renewal;
  gboolean stopping;
  gint64 started;
  guint idle_timer;
  guint trim_timer;
  gint64 idle_since;         /* monotonic time the last answer was sent */
  int exit_status;
} Daemon;

static void
quit (Daemon *d, int status)
{
  if (status != 0)
    d->exit_status = status;
  g_main_loop_quit (d->loop);
}

static gboolean on_trim (gpointer data);

/* Arms the trim for @us microseconds from now. */
static void
trim_after (Daemon *d, gint64 us)
{
  d->trim_timer = g_timeout_add ((guint) ((us + 999) / 1000), on_trim, d);
}

static gint64
keep_connections_us (const Daemon *d)
{
  return (gint64) (d->config->keep_connections * G_USEC_PER_SEC);
}

/* Once quiet for [Provisioning] KeepConnections, the daemon gives back what
 * a burst took: the connections kept for reuse, the pages its long-lived
 * tables were scattered over (pack.h) and free heap. */
static gboolean
on_trim (gpointer data)
{
  Daemon *d = data;
  d->trim_timer = 0;
  /* Busy again: the next on_idle () arms the timer anew. */
  if (ep_bus_pending (d->bus) > 0)
    return G_SOURCE_REMOVE;
  gint64 left = d->idle_since + keep_connections_us (d) - g_get_monotonic_time ();
  if (left > 0)
    {
      trim_after (d, left);
      return G_SOURCE_REMOVE;
    }
  ep_http_release_idle (d->http);
  ep_credentials_release_idle ();
  /* Packing moves the index's entries and the watches: only a job in
   * flight (a renewal's) may still hold what a look-up returned. */
  if (ep_service_active (d->svc) == 0)
    {
      ep_keystore_pack (ep_service_keystore (d->svc));
      if (d->renewal != NULL)
        ep_renewal_pack (d->renewal);
    }
  malloc_trim (0);
  return G_SOURCE_REMOVE;
}

/* Nothing left to finish: no call unanswered, no renewal in flight. */
static gboolean
finished (Daemon *d)
{
  return ep_bus_pending (d->bus) == 0 && ep_service_active (d->svc) == 0;
}

/* Every call received has been answered, keystore writes included. */
static void
on_idle (gpointer data)
{
  Daemon *d = data;
  if (d->stopping)
    {
      if (finished (d))
        quit (d, 0);
      return;
    }
  /* After a burst the heap keeps its peak, and connections and handles
   * wait for reuse; give them back once quiet. */
  d->idle_since = g_get_monotonic_time ();
  if (d->trim_timer == 0)
    trim_after (d, keep_connections_us (d));
}

/* Idle exit for bus activation: once the bus confirms the name is released
 * nothing more can arrive, so finishing what was received loses no call. */
static void
on_released_idle (gpointer data)
{
  Daemon *d = data;
  ep_info ("idle for %u s: exiting; the bus starts the service again on demand",
           d->config->idle_timeout);
  d->stopping = TRUE;
  if (finished (d))
    quit (d, 0);
}

static gboolean
on_idle_timer (gpointer data)
{
  Daemon *d = data;
  gint64 quiet_since = MAX (ep_bus_last_call (d->bus), d->started);
  gint64 due = quiet_since + (gint64) d->config->idle_timeout * G_USEC_PER_SEC;
  if (d->stopping || ep_bus_pending (d->bus) > 0 || g_get_monotonic_time () < due)
    return G_SOURCE_CONTINUE;
  d->idle_timer = 0;
  ep_bus_release_name (d->bus, on_released_idle);
  return G_SOURCE_REMOVE;
}

static gboolean
on_stop_signal (gpointer data)
{
  Daemon *d = data;
  if (d->stopping)
    {
      ep_warning ("second stop signal: exiting without waiting for calls in flight");
      quit (d, 0);
      return G_SOURCE_CONTINUE;
    }
  d->stopping = TRUE;
  ep_info ("stopping: %u call(s) in flight will finish first", ep_bus_pending (d->bus));
  sd_notify (0, "STOPPING=1");
  /* The name stays until the end, so DeviceProvisioned of the calls in
   * flight still reaches listeners matching on it. */
  ep_service_stop_accepting (d->svc);
  if (finished (d))
    quit (d, 0);
  return G_SOURCE_CONTINUE;
}

/* A renewal that ends while stopping may be the last thing to finish. */
static void
on_active_changed (gpointer data)
{
  Daemon *d = data;
  if (d->stopping && finished (d))
    quit (d, 0);
}

static const EpServiceListener service_listener = {
  .active_changed = on_active_changed,
};

static void
on_expiring (const char *device_id, gint64 not_after, gpointer data)
{
  Daemon *d = data;
  ep_bus_emit_credentials_expiring (d->bus, device_id, not_after);
}

static void
on_ready (gpointer data)
{
  Daemon *d = data;
  sd_notify (0, "READY=1");
  d->started = g_get_monotonic_time ();
  /* Once the name is ours, so its signals reach listeners. */
  if (d->renewal == NULL)
    d->renewal = ep_renewal_new (d->config, d->svc, EP_BUILD_TIME, on_expiring, d);
  ep_bus_set_renewal (d->bus, d->renewal);
  /* Renewal needs the daemon running: it cannot exit when idle. */
  if (d->config->idle_timeout > 0 && d->config->renewal_auto)
    ep_info ("[Service] IdleTimeout=%u is not applied: [Renewal] Auto=yes keeps the daemon "
             "running to renew certificates on time", d->config->idle_timeout);
  /* Checked once a second: cheaper than re-arming a timer on every call. */
  else if (d->config->idle_timeout > 0)
    d->idle_timer = g_timeout_add_seconds (1, on_idle_timer, d);
}

static void
on_lost (gpointer data)
{
  quit (data, 1);
}

static gboolean
on_watchdog (gpointer data)
{
  sd_notify (0, "WATCHDOG=1");
  return G_SOURCE_CONTINUE;
}

static void
start_watchdog (void)
{
  uint64_t usec = 0;
  if (sd_watchdog_enabled (0, &usec) > 0 && usec > 0)
    /* Clamped before the cast: a WatchdogSec of 99.4 days would wrap to 0,
     * a busy loop. */
    g_timeout_add ((guint) CLAMP (usec / 2000, 1, G_MAXUINT), on_watchdog, NULL);
}

typedef struct {
  char *config_path;
  char *log_level;
  gboolean session;
  gboolean version;
  gboolean check_config;
} Options;

static gboolean
parse_options (int argc, char **argv, Options *opts)
{
  const GOptionEntry entries[] = {
    { "config", 'c', 0, G_OPTION_ARG_FILENAME, &opts->config_path,
      "Configuration file (default " EP_DEFAULT_CONFIG ")", "PATH" },
    { "session", 0, 0, G_OPTION_ARG_NONE, &opts->session,
      "Serve on the session bus (for development)", NULL },
    { "log-level", 0, 0, G_OPTION_ARG_STRING, &opts->log_level,
      "error, warning, notice, info (default) or debug", "LEVEL" },
    { "check-config", 0, 0, G_OPTION_ARG_NONE, &opts->check_config,
      "Check the configuration, report every problem and exit", NULL },
    { "version", 0, 0, G_OPTION_ARG_NONE, &opts->version, "Print the version and exit", NULL },
    G_OPTION_ENTRY_NULL,
  };
  g_autoptr (GOptionContext) ctx = g_option_context_new (NULL);
  g_option_context_set_summary (ctx, "Provisions devices on the Enapter platform for callers on "
                                     "D-Bus (com.enapter.Provisioning1).");
  g_option_context_add_main_entries (ctx, entries, NULL);
  g_autoptr (GError) error = NULL;
  if (!g_option_context_parse (ctx, &argc, &argv, &error))
    {
      fprintf (stderr, "enapter-provisiond: %s (see --help)\n", error->message);
      return FALSE;
    }
  if (argc > 1)
    {
      fprintf (stderr, "enapter-provisiond: unexpected argument '%s' (see --help)\n", argv[1]);
      return FALSE;
    }
  return TRUE;
}

/* The configuration as the start and --check-config read it: the default
 * file may be missing (all defaults), a file named with --config may not. */
static const char *
config_path (const Options *opts)
{
  return opts->config_path ? opts->config_path : EP_DEFAULT_CONFIG;
}

static EpConfig *
load_config (const Options *opts, char ***problems)
{
  return ep_config_check (config_path (opts), opts->config_path == NULL, problems);
}

/* The user systemd/enapter-provisiond.service runs the daemon as. */
#define SERVICE_USER "enapter-provisiond"

/* What the check could not see as the service will: files read as root
 * (a file only root may read passes), tokens from systemd credentials
 * (LoadCredential=), which only the unit provides. */
static void
check_notes (const Options *opts, const EpConfig *config)
{
  if (geteuid () == 0)
    {
      /* Quoted for a shell only when it needs it, to be copied as it is. */
      const char *path = config_path (opts);
      gboolean plain = *path != '\0';
      for (const char *c = path; *c; c++)
        plain = plain && (g_ascii_isalnum (*c) || strchr ("_@%+=:,./-", *c) != NULL);
      g_autofree char *quoted = plain ? g_strdup (path) : g_shell_quote (path);
      printf ("note: the files were read as root, but the service reads them as its user "
              SERVICE_USER "; to check as it will, run: runuser -u " SERVICE_USER " -- "
              "enapter-provisiond --check-config --config %s\n", quoted);
    }
  if (config == NULL || g_getenv ("CREDENTIALS_DIRECTORY") != NULL)
    return;
  const EpEndpoint *eps[] = { &config->cloud, &config->gateway };
  for (size_t i = 0; i < G_N_ELEMENTS (eps); i++)
    if (eps[i]->url != NULL && eps[i]->token_source == NULL)
      printf ("note: with no token file, the service takes the %s token from the systemd "
              "credential %s-token (LoadCredential=), which only the unit provides: it was "
              "not checked\n", eps[i]->name, eps[i]->name);
}

/* --check-config: the start's checks, and nothing after them: no bus, no
 * libcurl, no keystore. Problems go to stderr as they are (no program name:
 * FILE:LINE: is what editors and people look for); notes on what the check
 * could not see to stdout. */
static int
check_config (const Options *opts)
{
  g_auto (GStrv) problems = NULL;
  g_autoptr (EpConfig) config = load_config (opts, &problems);
  if (config == NULL)
    {
      for (size_t i = 0; problems[i]; i++)
        fprintf (stderr, "%s\n", problems[i]);
      check_notes (opts, NULL);
      return 1;
    }
  printf ("%s: OK%s\n", config_path (opts),
          config->path ? "" : " (no such file: every default applies)");
  check_notes (opts, config);
  return 0;
}

static int
run (const Options *opts)
{
  g_autoptr (GError) error = NULL;
  g_auto (GStrv) problems = NULL;
  g_autoptr (EpConfig) config = load_config (opts, &problems);
  const char *path = config_path (opts);
  if (config == NULL)
    {
      for (size_t i = 0; problems[i]; i++)
        ep_error ("%s", problems[i]);
      return 1;
    }
  /* Whatever reaches a log line, the tokens never do. */
  ep_secrets_add (config->cloud.token);
  ep_secrets_add (config->gateway.token);
  /* Only the default group may be missing (config.c refuses any other). */
  if (config->access_group != NULL && !config->access_gid_known)
    ep_warning ("%s: [Access] Group: no group named '%s' (the package creates it); only root "
                "may call until it exists and the daemon restarts", path, config->access_group);

  g_autoptr (EpKeystore) keystore = ep_keystore_open (config->keystore_path,
                                                      config->keystore_group_set,
                                                      config->keystore_gid, &error);
  if (keystore == NULL)
    {
      ep_error ("%s", error->message);
      return 1;
    }

  g_autofree char *crypto_problem = NULL;
  if (!ep_crypto_prepare (&crypto_problem))
    ep_warning ("%s: MQTTS credentials cannot be checked, so every MQTTS call will fail with "
                "ProtocolError; check the OpenSSL installation (libssl3 and its default "
                "provider) and OPENSSL_CONF", crypto_problem);
  Daemon d = { .config = config, .loop = g_main_loop_new (NULL, FALSE) };
  g_autoptr (EpHttp) http = ep_http_new (config);
  g_autoptr (EpService) svc = ep_service_new (config, keystore, http);
  d.svc = svc;
  d.http = http;
  g_autoptr (EpBus) bus = ep_bus_new (svc, config, opts->session, on_ready, on_lost, on_idle, &d,
                                        &error);
  if (bus == NULL)
    {
      ep_error ("%s", error->message);
      g_main_loop_unref (d.loop);
      return 1;
    }
  d.bus = bus;
  ep_service_add_listener (svc, &service_listener, &d);
  g_unix_signal_add (SIGTERM, on_stop_signal, &d);
  g_unix_signal_add (SIGINT, on_stop_signal, &d);
  start_watchdog ();

  g_main_loop_run (d.loop);
  /* Calls may still be in flight (a second stop signal, the bus lost): the
   * keystore's threads read their answers and arguments, which the bus and
   * the service free below; their writes finish first. */
  ep_keystore_stop_writers (keystore);
  ep_bus_set_renewal (bus, NULL);
  g_clear_pointer (&d.renewal, ep_renewal_free);
  ep_service_remove_listener (svc, &service_listener, &d);
  if (d.idle_timer != 0)
    g_source_remove (d.idle_timer);
  if (d.trim_timer != 0)
    g_source_remove (d.trim_timer);
  g_main_loop_unref (d.loop);
  ep_info ("exiting with status %d", d.exit_status);
  return d.exit_status;
}

int
main (int argc, char **argv)
{
  Options opts = { 0 };
  setlocale (LC_ALL, "");
  /* Nothing this daemon creates is for others unless the keystore says so. */
  umask (0077);
  /* Worker threads only wait on fsync: an arena each would keep ~50 KiB
   * apiece after a burst for no gain. */
  mallopt (M_ARENA_MAX, 1);

  ep_log_take_glib ();
  if (!parse_options (argc, argv, &opts))
    return 2;
  if (opts.version)
    {
      printf ("enapter-provisiond %s\n", EP_VERSION);
      return 0;
    }
  if (opts.log_level != NULL)
    {
      EpLogLevel level;
      if (!ep_log_parse_level (opts.log_level, &level))
        {
          fprintf (stderr, "enapter-provisiond: --log-level must be error, warning, notice, "
                           "info or debug\n");
          return 2;
        }
      ep_log_set_level (level);
    }
  if (opts.check_config)
    {
      int checked = check_config (&opts);
      g_free (opts.config_path);
      g_free (opts.log_level);
      return checked;
    }
  CURLcode rc = curl_global_init (CURL_GLOBAL_DEFAULT);
  if (rc != CURLE_OK)
    ep_error ("cannot initialise libcurl: %s; check the libcurl and TLS libraries installed",
              curl_easy_strerror (rc));
  int status = rc == CURLE_OK ? run (&opts) : 1;
  ep_secrets_forget ();
  curl_global_cleanup ();
  g_free (opts.config_path);
  g_free (opts.log_level);
  return status;
}
