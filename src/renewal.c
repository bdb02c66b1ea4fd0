#include "renewal.h"

#include "errors.h"
#include "pack.h"
#include "log.h"
#include "wall-clock.h"

#include <errno.h>
#include <glib-unix.h>
#include <sys/timerfd.h>
#include <unistd.h>

/* What renewal knows of one device's certificate. It lives as long as the
 * certificate: a new one (another not_after) starts afresh. */
typedef struct {
  gint64 not_after;
  gboolean told_due;         /* CredentialsExpiring sent for passing At */
  gboolean told_expired;     /* ... and for expiring */
  gint64 retry_at;           /* when to try again after a failure (µs); 0: at once */
  gboolean renewing;         /* a renewal is in flight */
} Watch;

struct EpRenewal {
  const EpConfig *config;
  EpService *svc;
  gint64 build_time;
  EpRenewalExpiring expiring;
  gpointer user_data;
  GHashTable *watches;       /* device id -> Watch */
  int timer_fd;
  guint timer_source;
  gint64 next;
  gboolean clock_unset_told;
};

/* One renewal in flight: the service needs its arguments until it reports.
 * The device cannot be forgotten meanwhile (Busy), so its watch stays. */
typedef struct {
  EpRenewal *renewal;
  EpArgs *args;
} Attempt;

/* Times here are wall-clock microseconds: a RetryInterval of a few seconds
 * keeps its jitter. Certificates' times are whole seconds. */
#define US G_USEC_PER_SEC
/* The latest certificate time taken as it is (year 9999); in microseconds
 * it fits a gint64 with room for sums. */
#define MAX_CERT_TIME G_GINT64_CONSTANT (253402300799)

/* A stored certificate time in microseconds, or 0. */
static gint64
stored_time (const EpDeviceInfo *info, EpFieldId id)
{
  gint64 value = 0;
  const char *text = ep_device_info_field (info, id);
  if (text == NULL || !g_ascii_string_to_signed (text, 10, 0, MAX_CERT_TIME, &value, NULL))
    return 0;
  return value * US;
}

/* Arms the one timer for the wall time @at; a change of the system clock
 * wakes it too (ECANCELED), so nothing is judged on the old clock. */
static void
arm (EpRenewal *r, gint64 at)
{
  r->next = at;
  if (r->timer_fd < 0)
    return;
  struct itimerspec its = { 0 };
  /* Where time_t has 32 bits, a date past 2038 waits at the limit, wakes
   * and is armed again. */
  gint64 limit = sizeof (time_t) < 8 ? G_MAXINT32 : MAX_CERT_TIME;
  /* An all-zero value would disarm the timer: the past is "at once". */
  if (at <= 0)
    at = 1;
  if (at != G_MAXINT64)
    {
      its.it_value.tv_sec = (time_t) MIN (at / US, limit);
      its.it_value.tv_nsec = at / US < limit ? (long) (at % US) * 1000 : 0;
    }
  if (timerfd_settime (r->timer_fd, TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET, &its, NULL) < 0)
    ep_warning ("renewal: cannot set the timer: %s; certificates are judged again at the next "
                "keystore change", g_strerror (errno));
}

static void
tell (EpRenewal *r, const char *device_id, Watch *w, gboolean expired)
{
  gboolean *told = expired ? &w->told_expired : &w->told_due;
  if (*told)
    return;
  *told = TRUE;
  g_autoptr (GDateTime) until = g_date_time_new_from_unix_utc (w->not_after / US);
  g_autofree char *when = until ? g_date_time_format_iso8601 (until) : g_strdup ("?");
  ep_warning ("renewal: the certificate of device %s %s (valid until %s); %s", device_id,
              expired ? "has expired" : "is due for renewal", when,
              r->config->renewal_auto
                  ? "renewal is failing and is retried; check the API's reachability"
                  : "renew it with enapter-provisionctl generate, or set [Renewal] Auto=yes");
  r->expiring (device_id, w->not_after / US, r->user_data);
}

/* RetryInterval jittered by +-20 %, so devices failing together do not
 * retry together. */
static gint64
retry_wait (EpRenewal *r)
{
  return (gint64) (r->config->renewal_retry_interval * g_random_double_range (0.8, 1.2) * US);
}

/* After a failure: the next attempt, and CredentialsExpiring once. Busy
 * (an operator's call for the device is in flight) is no failure: it is
 * tried again quietly. */
static void
failed (EpRenewal *r, const char *device_id, Watch *w, const GError *error)
{
  gint64 wait = retry_wait (r);
  w->retry_at = ep_wall_clock_us () + wait;
  if (g_error_matches (error, EP_ERROR, EP_ERROR_BUSY))
    {
      ep_debug ("renewal: device %s: %s; next attempt in %.1f s", device_id, error->message,
                (double) wait / US);
      return;
    }
  ep_warning ("renewal: device %s: %s; the current set stays in force; next attempt in %.1f s",
              device_id, error->message, (double) wait / US);
  tell (r, device_id, w, FALSE);
}

static void
on_renewed (const EpArgs *args, const char *device_id, const EpDetails *details,
            const GError *error, gpointer data)
{
  Attempt *a = data;
  EpRenewal *r = a->renewal;
  const char *id = ep_args_role (a->args, EP_ARG_DEVICE_ID);
  Watch *w = g_hash_table_lookup (r->watches, id);
  if (w != NULL)
    w->renewing = FALSE;
  if (error == NULL && w != NULL)
    w->retry_at = ep_wall_clock_us () + retry_wait (r);
  if (error == NULL)
    ep_info ("renewal: device %s has a new certificate", id);
  else if (w != NULL)
    failed (r, id, w, error);
  ep_args_free (a->args);
  g_free (a);
  /* A success changed the keystore, which reschedules; a failure must. */
  if (error != NULL)
    ep_renewal_reschedule (r);
}

/* Starts renewing @device_id's set with the protocol it has. */
static void
renew (EpRenewal *r, const char *device_id, const char *protocol, Watch *w)
{
  Attempt *a = g_new0 (Attempt, 1);
  a->renewal = r;
  a->args = ep_args_new (ep_renewal_method);
  a->args->str[ep_kind_role_index (ep_renewal_method, EP_ARG_DEVICE_ID)] = g_strdup (device_id);
  a->args->str[ep_kind_role_index (ep_renewal_method, EP_ARG_PROTOCOL)] = g_strdup (protocol);
  g_autoptr (GError) error = NULL;
  ep_info ("renewal: device %s: fetching a new certificate", device_id);
  if (ep_service_renew (r->svc, a->args, on_renewed, a, &error))
    {
      w->renewing = TRUE;
      return;
    }
  /* Refused at once (Busy while an operator's call for it is in flight). */
  failed (r, device_id, w, error);
  ep_args_free (a->args);
  g_free (a);
}

/* Renewals in flight at most: the others wait for one to end (which
 * reschedules), and operators' calls keep their share of MaxConcurrent. */
static guint
max_renewing (EpRenewal *r)
{
  return MAX (1, r->config->max_concurrent / 2);
}

gint64
ep_renewal_due (const EpConfig *config, const EpDeviceInfo *info, gint64 *not_before,
                gint64 *not_after)
{
  if (info == NULL)
    return G_MAXINT64;
  const char *protocol = ep_device_info_field (info, EP_FIELD_PROTOCOL);
  gint64 from = stored_time (info, EP_FIELD_CERTIFICATE_NOT_BEFORE);
  gint64 until = stored_time (info, EP_FIELD_CERTIFICATE_NOT_AFTER);
  if (g_strcmp0 (protocol, ep_protocols[EP_PROTOCOL_MQTTS]) != 0 || until <= from)
    return G_MAXINT64;
  if (not_before != NULL)
    *not_before = from;
  if (not_after != NULL)
    *not_after = until;
  /* In two parts, so the product cannot overflow. */
  gint64 span = until - from;
  return from + span / 100 * config->renewal_at + span % 100 * config->renewal_at / 100;
}

gint64
ep_renewal_next_due (const EpConfig *config, EpKeystore *ks)
{
  g_autoptr (GPtrArray) ids = ep_keystore_list (ks);
  gint64 next = G_MAXINT64;
  for (guint i = 0; i < ids->len; i++)
    next = MIN (next, ep_renewal_due (config, ep_keystore_lookup (ks, ids->pdata[i]), NULL,
                                      NULL));
  return next;
}

/* Judges one device at @now (@renewing: renewals in flight, counted up as
 * this starts one); returns when it next needs looking at. */
static gint64
judge (EpRenewal *r, const char *device_id, const EpDeviceInfo *info, gint64 now,
       guint *renewing)
{
  const char *protocol = ep_device_info_field (info, EP_FIELD_PROTOCOL);
  gint64 not_after = 0;
  gint64 due = ep_renewal_due (r->config, info, NULL, &not_after);
  Watch *w = g_hash_table_lookup (r->watches, device_id);
  if (due == G_MAXINT64)
    {
      /* No certificate (any more): nothing to remember. */
      if (w != NULL && !w->renewing)
        g_hash_table_remove (r->watches, device_id);
      return G_MAXINT64;
    }
  if (w == NULL)
    {
      w = ep_pack_alloc0 (sizeof (Watch));
      g_hash_table_insert (r->watches, ep_pack_strdup (device_id), w);
      w->not_after = not_after;
    }
  else if (w->not_after != not_after && !w->renewing)
    {
      /* A new certificate starts afresh, in the same watch (no allocation
       * per reprovisioning). One already due when it came (the API's clock,
       * or a short lifetime) keeps the retry time: it waits a
       * RetryInterval rather than loop. */
      w->not_after = not_after;
      w->told_due = w->told_expired = FALSE;
    }
  /* A clock set back must not leave a retry far in the future. */
  w->retry_at = MIN (w->retry_at, now + (gint64) (r->config->renewal_retry_interval * 1.2 * US));
  if (now >= due && !r->config->renewal_auto)
    tell (r, device_id, w, FALSE);
  if (now >= not_after)
    tell (r, device_id, w, TRUE);
  gint64 next = now < not_after ? not_after : G_MAXINT64;
  if (now < due)
    return MIN (next, due);
  /* While stopping nothing starts: a retry time now past would spin. */
  if (!r->config->renewal_auto || ep_service_stopping (r->svc))
    return next;
  if (!w->renewing && now >= w->retry_at && *renewing < max_renewing (r))
    {
      renew (r, device_id, protocol, w);
      *renewing += w->renewing ? 1 : 0;
    }
  if (!w->renewing && w->retry_at > now)
    next = MIN (next, w->retry_at);
  return next;
}

void
ep_renewal_reschedule (EpRenewal *r)
{
  gint64 now = ep_wall_clock_us ();
  if (now < r->build_time * US)
    {
      if (!r->clock_unset_told)
        ep_warning ("renewal: the system clock (%" G_GINT64_FORMAT ") is before this daemon "
                    "was built (%" G_GINT64_FORMAT "), so it cannot be right: no certificate "
                    "is judged due or expired until it is set (NTP, timedatectl)",
                    now / US, r->build_time);
      r->clock_unset_told = TRUE;
      /* Setting the clock wakes the timer; so does reaching the date. */
      arm (r, r->build_time * US);
      return;
    }
  if (r->clock_unset_told)
    ep_info ("renewal: the system clock is set; judging certificates");
  r->clock_unset_told = FALSE;

  EpKeystore *ks = ep_service_keystore (r->svc);
  g_autoptr (GPtrArray) ids = ep_keystore_list (ks);
  g_autoptr (GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);
  gint64 next = G_MAXINT64;
  guint renewing = 0;
  GHashTableIter it;
  gpointer key, value;
  g_hash_table_iter_init (&it, r->watches);
  while (g_hash_table_iter_next (&it, NULL, &value))
    renewing += ((Watch *) value)->renewing ? 1 : 0;
  for (guint i = 0; i < ids->len; i++)
    {
      const char *id = ids->pdata[i];
      g_hash_table_add (seen, (gpointer) id);
      next = MIN (next, judge (r, id, ep_keystore_lookup (ks, id), now, &renewing));
    }
  /* Forgotten devices (judge drops those without a certificate). */
  g_hash_table_iter_init (&it, r->watches);
  while (g_hash_table_iter_next (&it, &key, &value))
    if (!g_hash_table_contains (seen, key) && !((Watch *) value)->renewing)
      g_hash_table_iter_remove (&it);
  arm (r, next);
}

static gboolean
on_timer (int fd, GIOCondition condition, gpointer data)
{
  EpRenewal *r = data;
  guint64 expirations;
  if (read (fd, &expirations, sizeof expirations) < 0 && errno == ECANCELED)
    ep_info ("renewal: the system clock was changed; judging certificates again");
  ep_renewal_reschedule (r);
  return G_SOURCE_CONTINUE;
}

static void
on_credentials_changed (const char *device_id, const char *reason, const EpDetails *details,
                        gpointer data)
{
  ep_renewal_reschedule (data);
}

static const EpServiceListener listener = {
  .credentials_changed = on_credentials_changed,
};

EpRenewal *
ep_renewal_new (const EpConfig *config, EpService *svc, gint64 build_time,
                EpRenewalExpiring expiring, gpointer user_data)
{
  EpRenewal *r = g_new0 (EpRenewal, 1);
  r->config = config;
  r->svc = svc;
  r->build_time = build_time;
  r->expiring = expiring;
  r->user_data = user_data;
  r->watches = g_hash_table_new_full (g_str_hash, g_str_equal, ep_pack_free, ep_pack_free);
  r->timer_fd = timerfd_create (CLOCK_REALTIME, TFD_NONBLOCK | TFD_CLOEXEC);
  if (r->timer_fd < 0)
    ep_warning ("renewal: cannot create a timer: %s; certificates are judged only when the "
                "keystore changes", g_strerror (errno));
  else
    r->timer_source = g_unix_fd_add (r->timer_fd, G_IO_IN, on_timer, r);
  ep_service_add_listener (svc, &listener, r);
  ep_renewal_reschedule (r);
  return r;
}

void
ep_renewal_free (EpRenewal *r)
{
  if (r == NULL)
    return;
  ep_service_remove_listener (r->svc, &listener, r);
  if (r->timer_source != 0)
    g_source_remove (r->timer_source);
  if (r->timer_fd >= 0)
    close (r->timer_fd);
  g_hash_table_unref (r->watches);
  g_free (r);
}

static gsize
watch_size (gconstpointer watch)
{
  return sizeof (Watch);
}

void
ep_renewal_pack (EpRenewal *r)
{
  r->watches = ep_pack_table (r->watches, watch_size, ep_pack_free);
}

gint64
ep_renewal_next (EpRenewal *r)
{
  return r->next;
}
