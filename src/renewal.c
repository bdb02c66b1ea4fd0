#include "renewal.h"

#include "errors.h"
#include "log.h"
#include "pack.h"
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
  gint64 due;                /* ep_renewal_due () of the certificate */
  gint64 next;               /* when to judge the device again; G_MAXINT64: not before a change */
  GSequenceIter *by_due;     /* its place in EpRenewal's orders, or NULL */
  GSequenceIter *by_next;
} Watch;

struct EpRenewal {
  const EpConfig *config;
  EpService *svc;
  gint64 build_time;
  EpRenewalExpiring expiring;
  gpointer user_data;
  GHashTable *watches;       /* device id -> Watch */
  /* The watches ordered by due and by next, so that a change of one device
   * is judged alone: the earliest of each is at hand without a look at
   * every device (with thousands, that look cost more than the rest of a
   * call). */
  GSequence *by_due;
  GSequence *by_next;
  guint renewing;            /* watches renewing */
  gboolean waiting;          /* a due device waits for a renewal to end */
  gboolean armed;            /* the timer is set for next */
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

static gint
compare_due (gconstpointer a, gconstpointer b, gpointer data)
{
  gint64 x = ((const Watch *) a)->due, y = ((const Watch *) b)->due;
  return x < y ? -1 : x > y;
}

static gint
compare_next (gconstpointer a, gconstpointer b, gpointer data)
{
  gint64 x = ((const Watch *) a)->next, y = ((const Watch *) b)->next;
  return x < y ? -1 : x > y;
}

/* Puts @w in its place in @order (by @compare), or out of it when the time
 * it is ordered by is G_MAXINT64. */
static void
place (GSequence *order, GSequenceIter **at, Watch *w, gint64 time, GCompareDataFunc compare)
{
  if (time == G_MAXINT64)
    g_clear_pointer (at, g_sequence_remove);
  else if (*at == NULL)
    *at = g_sequence_insert_sorted (order, w, compare, NULL);
  else
    g_sequence_sort_changed (*at, compare, NULL);
}

static void
set_due (EpRenewal *r, Watch *w, gint64 due)
{
  w->due = due;
  place (r->by_due, &w->by_due, w, due, compare_due);
}

static void
set_next (EpRenewal *r, Watch *w, gint64 next)
{
  w->next = next;
  place (r->by_next, &w->by_next, w, next, compare_next);
}

/* The earliest time of @order, G_MAXINT64 when it is empty. */
static gint64
earliest (GSequence *order, gboolean due)
{
  GSequenceIter *first = g_sequence_get_begin_iter (order);
  if (g_sequence_iter_is_end (first))
    return G_MAXINT64;
  const Watch *w = g_sequence_get (first);
  return due ? w->due : w->next;
}

static void
watch_free (gpointer data)
{
  Watch *w = data;
  g_clear_pointer (&w->by_due, g_sequence_remove);
  g_clear_pointer (&w->by_next, g_sequence_remove);
  ep_pack_free (w);
}

/* Arms the one timer for the wall time @at; a change of the system clock
 * wakes it too (ECANCELED), so nothing is judged on the old clock. */
static void
arm (EpRenewal *r, gint64 at)
{
  /* Most changes leave the nearest event where it was. */
  if (at == r->next && r->armed)
    return;
  r->next = at;
  r->armed = TRUE;
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
  if (w != NULL && w->renewing)
    {
      w->renewing = FALSE;
      r->renewing--;
    }
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
      r->renewing++;
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

/* judge () of a device with a certificate: when it next needs looking at. */
static gint64
judge_watch (EpRenewal *r, const char *device_id, const char *protocol, Watch *w, gint64 now)
{
  gint64 due = w->due, not_after = w->not_after;
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
  if (!w->renewing && now >= w->retry_at)
    {
      if (r->renewing < max_renewing (r))
        renew (r, device_id, protocol, w);
      else
        r->waiting = TRUE;
    }
  if (!w->renewing && w->retry_at > now)
    next = MIN (next, w->retry_at);
  return next;
}

/* The watch of @device_id as @info (NULL: not in the keystore) now says,
 * in the order by due; NULL when the device has no certificate. */
static Watch *
track (EpRenewal *r, const char *device_id, const EpDeviceInfo *info)
{
  gint64 not_after = 0;
  gint64 due = ep_renewal_due (r->config, info, NULL, &not_after);
  Watch *w = g_hash_table_lookup (r->watches, device_id);
  if (due == G_MAXINT64)
    {
      /* No certificate (any more): nothing to remember. */
      if (w != NULL && !w->renewing)
        g_hash_table_remove (r->watches, device_id);
      else if (w != NULL)
        {
          set_due (r, w, G_MAXINT64);
          set_next (r, w, G_MAXINT64);
        }
      return NULL;
    }
  if (w == NULL)
    {
      w = ep_pack_alloc0 (sizeof (Watch));
      w->not_after = not_after;
      w->due = w->next = G_MAXINT64;
      g_hash_table_insert (r->watches, ep_pack_strdup (device_id), w);
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
  set_due (r, w, due);
  return w;
}

/* Judges one device at @now and puts it in the order by next: when it next
 * needs looking at (always after @now). */
static void
judge (EpRenewal *r, const char *device_id, const EpDeviceInfo *info, gint64 now)
{
  Watch *w = track (r, device_id, info);
  if (w == NULL)
    return;
  set_next (r, w, judge_watch (r, device_id, ep_device_info_field (info, EP_FIELD_PROTOCOL), w,
                               now));
}

/* Before the daemon's build date the clock cannot be right: nothing is
 * judged, and the timer waits for the clock to be set. TRUE then. */
static gboolean
clock_unset (EpRenewal *r, gint64 now)
{
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
      return TRUE;
    }
  if (r->clock_unset_told)
    ep_info ("renewal: the system clock is set; judging certificates");
  r->clock_unset_told = FALSE;
  return FALSE;
}

void
ep_renewal_reschedule (EpRenewal *r)
{
  gint64 now = ep_wall_clock_us ();
  EpKeystore *ks = ep_service_keystore (r->svc);
  g_autoptr (GPtrArray) ids = ep_keystore_list (ks);
  g_autoptr (GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);
  gboolean judging = !clock_unset (r, now);
  r->waiting = FALSE;
  for (guint i = 0; i < ids->len; i++)
    {
      const char *id = ids->pdata[i];
      g_hash_table_add (seen, (gpointer) id);
      if (judging)
        judge (r, id, ep_keystore_lookup (ks, id), now);
      else
        track (r, id, ep_keystore_lookup (ks, id));
    }
  /* Forgotten devices. track () may remove the watch, and with it the key:
   * the keys are copied out first, as a table cannot change under its
   * iterator. */
  g_autoptr (GPtrArray) gone = g_ptr_array_new_with_free_func (g_free);
  GHashTableIter it;
  gpointer key;
  g_hash_table_iter_init (&it, r->watches);
  while (g_hash_table_iter_next (&it, &key, NULL))
    if (!g_hash_table_contains (seen, key))
      g_ptr_array_add (gone, g_strdup (key));
  for (guint i = 0; i < gone->len; i++)
    track (r, gone->pdata[i], NULL);
  if (judging)
    arm (r, earliest (r->by_next, FALSE));
}

/* A change of @device_id alone: only it is judged again. Every other
 * device keeps its next time, which the timer waits for. All are judged
 * when one waits for a renewal to end (a renewal may just have), and on
 * the first look since the clock was found set. */
static void
reschedule_device (EpRenewal *r, const char *device_id)
{
  gint64 now = ep_wall_clock_us ();
  gboolean clock_was_unset = r->clock_unset_told;
  const EpDeviceInfo *info = ep_keystore_lookup (ep_service_keystore (r->svc), device_id);
  if (clock_unset (r, now))
    track (r, device_id, info);
  else if (r->waiting || clock_was_unset)
    ep_renewal_reschedule (r);
  else
    {
      judge (r, device_id, info, now);
      arm (r, earliest (r->by_next, FALSE));
    }
}

static gboolean
on_timer (int fd, GIOCondition condition, gpointer data)
{
  EpRenewal *r = data;
  guint64 expirations;
  if (read (fd, &expirations, sizeof expirations) < 0 && errno == ECANCELED)
    ep_info ("renewal: the system clock was changed; judging certificates again");
  /* Fired or cancelled: set it again, whatever the time. */
  r->armed = FALSE;
  ep_renewal_reschedule (r);
  return G_SOURCE_CONTINUE;
}

static void
on_credentials_changed (const char *device_id, const char *reason, const EpDetails *details,
                        gpointer data)
{
  reschedule_device (data, device_id);
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
  r->watches = g_hash_table_new_full (g_str_hash, g_str_equal, ep_pack_free, watch_free);
  r->by_due = g_sequence_new (NULL);
  r->by_next = g_sequence_new (NULL);
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

static gsize
watch_size (gconstpointer watch)
{
  return sizeof (Watch);
}

void
ep_renewal_pack (EpRenewal *r)
{
  /* The orders' nodes are made afresh too (they sit where the burst put
   * them), after the watches moved: their old places are gone. */
  g_sequence_free (r->by_due);
  g_sequence_free (r->by_next);
  r->watches = ep_pack_table (r->watches, watch_size, watch_free);
  r->by_due = g_sequence_new (NULL);
  r->by_next = g_sequence_new (NULL);
  GHashTableIter it;
  gpointer value;
  g_hash_table_iter_init (&it, r->watches);
  while (g_hash_table_iter_next (&it, NULL, &value))
    {
      Watch *w = value;
      w->by_due = w->by_next = NULL;
      set_due (r, w, w->due);
      set_next (r, w, w->next);
    }
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
  /* The watches leave the orders as they go. */
  g_hash_table_unref (r->watches);
  g_sequence_free (r->by_due);
  g_sequence_free (r->by_next);
  g_free (r);
}

gint64
ep_renewal_next (EpRenewal *r)
{
  return r->next;
}

gint64
ep_renewal_earliest_due (EpRenewal *r)
{
  return earliest (r->by_due, TRUE);
}
