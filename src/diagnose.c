/* One Diagnose run (see diagnose.h): three parts at once, the
 * configuration's files and the keystore in worker threads and the APIs on
 * the loop, put together in the documented order when the last is done;
 * and the judgments of the clock and the certificates, made from the index
 * at that moment. */
#include "diagnose.h"

#include "diagnose-config.h"
#include "diagnose-keystore.h"
#include "diagnose-net.h"
#include "renewal.h"
#include "wall-clock.h"

#include <gio/gio.h>
#include <string.h>

#define US G_USEC_PER_SEC
/* A certificate this close to its end is worth a warning, due or not. */
#define SOON (G_GINT64_CONSTANT (7) * 24 * 3600 * US)

typedef struct {
  const EpConfig *config;
  EpKeystore *ks;
  gint64 build_time;
  EpDiagnoseDone done;
  gpointer user_data;
  guint pending;             /* parts still running */
  GPtrArray *files;          /* config, token:*  */
  GPtrArray *keystore;       /* keystore, device:* */
  GPtrArray *api;            /* api:* */
} Run;

/* ---- the judgments ---------------------------------------------------- */

/* @us (wall-clock microseconds) as ISO 8601 UTC, seconds only. */
static char *
date (gint64 us)
{
  g_autoptr (GDateTime) t = g_date_time_new_from_unix_utc (us / US);
  return t ? g_date_time_format (t, "%Y-%m-%dT%H:%M:%SZ") : g_strdup ("(out of range)");
}

EpCheck *
ep_diagnose_clock (gint64 now, gint64 build_time)
{
  g_autofree char *today = date (now);
  g_autofree char *built = date (build_time * US);
  if (now < build_time * US)
    return ep_check_new ("clock", EP_CHECK_ERROR,
                         "the system clock says %s, before this daemon was built (%s), so it "
                         "cannot be right: no certificate is judged, and TLS may fail; set the "
                         "clock (timedatectl set-ntp true, or timedatectl set-time)",
                         today, built);
  return ep_check_new ("clock", EP_CHECK_OK, "%s: after this daemon was built (%s)", today,
                       built);
}

/* What to do about a certificate that needs renewing. */
static char *
renew_advice (const EpConfig *config, const char *device_id, const EpDeviceInfo *info)
{
  const char *target = ep_device_info_field (info, EP_FIELD_TARGET);
  if (config->renewal_auto)
    return g_strdup_printf ("renewal is tried every [Renewal] RetryInterval=%u s: if this lasts, "
                            "see api:%s and the log, or run 'enapter-provisionctl generate %s "
                            "--protocol mqtts'",
                            config->renewal_retry_interval, target ? target : "cloud", device_id);
  return g_strdup_printf ("renew it with 'enapter-provisionctl generate %s --protocol mqtts', "
                          "or set [Renewal] Auto=yes",
                          device_id);
}

EpCheck *
ep_diagnose_certificate (const EpConfig *config, const char *device_id,
                         const EpDeviceInfo *info, gint64 now, gint64 build_time)
{
  if (g_strcmp0 (ep_device_info_field (info, EP_FIELD_PROTOCOL),
                 ep_protocols[EP_PROTOCOL_MQTTS]) != 0)
    return NULL;
  g_autofree char *name = g_strdup_printf ("certificate:%s", device_id);
  gint64 not_before = 0, not_after = 0;
  gint64 due = ep_renewal_due (config, info, &not_before, &not_after);
  if (due == G_MAXINT64)
    return ep_check_new (name, EP_CHECK_WARNING,
                         "the certificate's dates are unknown (its file could not be read at "
                         "start), so it is never renewed; get a new set with "
                         "'enapter-provisionctl generate %s --protocol mqtts'",
                         device_id);
  g_autofree char *until = date (not_after);
  g_autofree char *due_at = date (due);
  if (now < build_time * US)
    return ep_check_new (name, EP_CHECK_WARNING,
                         "valid until %s, renewal due %s, but not judged: the system clock is "
                         "not set (see clock)", until, due_at);
  g_autofree char *advice = renew_advice (config, device_id, info);
  if (now >= not_after)
    return ep_check_new (name, EP_CHECK_ERROR,
                         "the certificate expired on %s: the device cannot connect with it; %s",
                         until, advice);
  if (now >= due)
    return ep_check_new (name, EP_CHECK_WARNING,
                         "due for renewal since %s ([Renewal] At=%u %%), valid until %s; %s",
                         due_at, config->renewal_at, until, advice);
  if (not_after - now < SOON)
    return ep_check_new (name, EP_CHECK_WARNING,
                         "the certificate expires within 7 days, on %s, before its renewal "
                         "is due (%s); renew it now with 'enapter-provisionctl generate %s "
                         "--protocol mqtts', and lower [Renewal] At for longer notice",
                         until, due_at, device_id);
  return ep_check_new (name, EP_CHECK_OK, "valid until %s; renewal due %s (%s)", until, due_at,
                       config->renewal_auto ? "automatic: [Renewal] Auto=yes"
                                            : "by hand: [Renewal] Auto=no");
}

/* ---- the run ---------------------------------------------------------- */

static void
append_all (GPtrArray *out, GPtrArray *from)
{
  for (guint i = 0; from != NULL && i < from->len; i++)
    g_ptr_array_add (out, g_steal_pointer (&from->pdata[i]));
}

static void
part_done (Run *run)
{
  if (--run->pending > 0)
    return;
  gint64 now = ep_wall_clock_us ();
  g_autoptr (GPtrArray) checks = ep_checks_new ();
  append_all (checks, run->files);
  g_ptr_array_add (checks, ep_diagnose_clock (now, run->build_time));
  for (guint i = 0; i < run->keystore->len; i++)
    {
      EpCheck *c = g_steal_pointer (&run->keystore->pdata[i]);
      g_ptr_array_add (checks, c);
      if (!g_str_has_prefix (c->name, "device:"))
        continue;
      const char *id = c->name + strlen ("device:");
      const EpDeviceInfo *info = ep_keystore_lookup (run->ks, id);
      EpCheck *cert = info ? ep_diagnose_certificate (run->config, id, info, now,
                                                      run->build_time)
                           : NULL;
      if (cert != NULL)
        g_ptr_array_add (checks, cert);
    }
  append_all (checks, run->api);
  run->done (checks, run->user_data);
  g_clear_pointer (&run->files, g_ptr_array_unref);
  g_clear_pointer (&run->keystore, g_ptr_array_unref);
  g_clear_pointer (&run->api, g_ptr_array_unref);
  g_free (run);
}

static void
config_files_thread (GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
  GPtrArray *out = ep_checks_new ();
  ep_config_files_check (data, out);
  g_task_return_pointer (task, out, (GDestroyNotify) g_ptr_array_unref);
}

static void
on_config_files (GObject *source, GAsyncResult *result, gpointer data)
{
  Run *run = data;
  run->files = g_task_propagate_pointer (G_TASK (result), NULL);
  part_done (run);
}

static void
on_keystore (GObject *source, GAsyncResult *result, gpointer data)
{
  Run *run = data;
  run->keystore = ep_diagnose_keystore_finish (run->ks, result);
  part_done (run);
}

static void
on_probed (GPtrArray *checks, gpointer data)
{
  Run *run = data;
  run->api = ep_checks_new ();
  append_all (run->api, checks);
  part_done (run);
}

void
ep_diagnose (const EpConfig *config, EpKeystore *ks, gint64 build_time, EpDiagnoseDone done,
             gpointer user_data)
{
  Run *run = g_new0 (Run, 1);
  run->config = config;
  run->ks = ks;
  run->build_time = build_time;
  run->done = done;
  run->user_data = user_data;
  run->pending = 3;
  g_autoptr (GTask) task = g_task_new (NULL, NULL, on_config_files, run);
  g_task_set_source_tag (task, ep_diagnose);
  g_task_set_task_data (task, ep_config_files_new (config),
                        (GDestroyNotify) ep_config_files_free);
  g_task_run_in_thread (task, config_files_thread);
  ep_diagnose_keystore_async (ks, on_keystore, run);
  ep_probe_targets (config, on_probed, run);
}
