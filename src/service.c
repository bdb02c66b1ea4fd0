/* The service's calls on the main loop (service.h): starting one, its
 * answer handed to a writer, its end; ForgetDevice; the listeners. What a
 * writer does with an answer is service-answer.c's. */
#include "service-private.h"

#include "api.h"
#include "errors.h"
#include "fields.h"
#include "record.h"
#include "redact.h"
#include "validate.h"

#include <string.h>

/* Keystore writes are quick; leave them this much of the call's deadline. */
#define STORE_RESERVE_US (250 * G_TIME_SPAN_MILLISECOND)

const char ep_service_removing[] = "removing";

typedef struct {
  const EpServiceListener *funcs;
  gpointer data;
} Listener;

static void
notify_active (EpService *svc)
{
  for (guint i = 0; i < svc->listeners->len; i++)
    {
      Listener *l = &g_array_index (svc->listeners, Listener, i);
      if (l->funcs->active_changed)
        l->funcs->active_changed (l->data);
    }
}

static void
notify_changed (EpService *svc, const char *device_id, const char *reason,
                const EpDetails *details)
{
  for (guint i = 0; i < svc->listeners->len; i++)
    {
      Listener *l = &g_array_index (svc->listeners, Listener, i);
      if (l->funcs->credentials_changed)
        l->funcs->credentials_changed (device_id, reason, details, l->data);
    }
}

/* ---- claims ------------------------------------------------------------- */

/* Claims @device_id for @owner (a Job or ep_service_removing); FALSE when
 * another has it. */
static gboolean
claim (EpService *svc, const char *device_id, gconstpointer owner)
{
  g_mutex_lock (&svc->lock);
  gboolean free = !g_hash_table_contains (svc->claims, device_id);
  if (free)
    g_hash_table_insert (svc->claims, g_strdup (device_id), (gpointer) owner);
  g_mutex_unlock (&svc->lock);
  return free;
}

static void
release (EpService *svc, const char *device_id, gconstpointer owner)
{
  if (device_id == NULL)
    return;
  g_mutex_lock (&svc->lock);
  if (g_hash_table_lookup (svc->claims, device_id) == owner)
    g_hash_table_remove (svc->claims, device_id);
  g_mutex_unlock (&svc->lock);
}

static gboolean
claimed (EpService *svc, const char *device_id)
{
  g_mutex_lock (&svc->lock);
  gboolean held = g_hash_table_contains (svc->claims, device_id);
  g_mutex_unlock (&svc->lock);
  return held;
}

/* ---- a job ---------------------------------------------------------------- */

static void
wipe_body (Job *job)
{
  if (job->body != NULL)
    explicit_bzero (job->body, job->body_len);
  g_clear_pointer (&job->body, g_free);
}

static void
job_finish (Job *job, const char *device_id, const EpDetails *details, const GError *error)
{
  EpService *svc = job->svc;
  g_hash_table_remove (svc->in_flight, job->busy_key);
  release (svc, job->device_id, job);
  job->done (job->args, device_id, details, error, job->user_data);
  wipe_body (job);
  g_clear_pointer (&job->result, ep_api_result_free);
  g_free (job->busy_key);
  g_free (job->device_id);
  g_free (job);
  notify_active (svc);
}

static void
job_fail (Job *job, GError *error)
{
  job_finish (job, NULL, NULL, error);
  g_error_free (error);
}

static void
on_stored (GObject *source, GAsyncResult *result, gpointer data)
{
  Job *job = data;
  EpKeystore *ks = job->svc->keystore;
  GError *error = NULL;
  gboolean replaced = FALSE;

  if (!ep_keystore_write_finish (ks, result, &replaced, &error))
    {
      job_fail (job, error);
      return;
    }
  g_auto (EpDetails) details = { 0 };
  /* New credentials of a stored device do not reprovision it. */
  ep_record_details (&details, ep_keystore_lookup (ks, job->device_id), ep_keystore_path (ks),
                     replaced && job->args->kind->route != EP_ROUTE_STORED);
  g_autofree char *device_id = g_strdup (job->device_id);
  EpService *svc = job->svc;
  const char *reason = job->reason ? job->reason
                                   : ep_kind_change_reason (job->args->kind, replaced);
  /* The caller hears first; then whoever reloads credentials. */
  job_finish (job, device_id, &details, NULL);
  notify_changed (svc, device_id, reason, &details);
}

static GError *
response_error (Job *job, const EpHttpResult *res)
{
  const EpEndpoint *ep = ep_config_endpoint (job->svc->config, job->target);
  g_autofree char *api_text = ep_api_error_text (res->body, res->body_len);
  /* A wait the deadline had no room for is why the call ends here. */
  g_autofree char *wait = res->retry_after_s > 0
                              ? g_strdup_printf (" and asked to retry after %u s, more than the "
                                                 "call's time left", res->retry_after_s)
                              : NULL;
  return g_error_new (EP_ERROR, ep_error_for_http_status (res->status),
                      "the %s API at %s answered HTTP %ld%s%s%s", ep->name, ep->url, res->status,
                      wait ? wait : "", api_text ? ": " : "", api_text ? api_text : "");
}

/* The target @kind goes to under this configuration. */
static EpTarget
kind_target (EpService *svc, const EpKind *kind)
{
  switch (kind->route)
    {
    case EP_ROUTE_CLOUD:
      return EP_TARGET_CLOUD;
    case EP_ROUTE_GATEWAY:
      return EP_TARGET_GATEWAY;
    case EP_ROUTE_DEFAULT:
    case EP_ROUTE_STORED:     /* only before device.json recorded targets */
      return svc->config->default_target;
    }
  g_assert_not_reached ();
}

const char *
ep_service_stored_target (EpService *svc, const EpDeviceInfo *info)
{
  const char *target = ep_device_info_field (info, EP_FIELD_TARGET);
  if (target != NULL)
    return target;
  const EpKind *kind = ep_kind_by_name (ep_device_info_field (info, EP_FIELD_KIND));
  EpTarget target_then = kind ? kind_target (svc, kind) : svc->config->default_target;
  return ep_config_endpoint (svc->config, target_then)->name;
}

static void
on_response (const EpHttpResult *res, gpointer data)
{
  Job *job = data;
  EpService *svc = job->svc;

  switch (res->outcome)
    {
    case EP_HTTP_FAILED:
      {
        g_autofree char *text = ep_redact (res->error);
        job_fail (job, g_error_new (EP_ERROR, EP_ERROR_UNAVAILABLE, "%s (after %u attempt%s)",
                                    text, res->attempts, res->attempts == 1 ? "" : "s"));
        return;
      }
    case EP_HTTP_TOO_LARGE:
      job_fail (job, g_error_new (EP_ERROR, EP_ERROR_PROTOCOL_ERROR,
                                  "the API answered with more than %d bytes",
                                  EP_API_MAX_RESPONSE));
      return;
    case EP_HTTP_RESPONSE:
      break;
    }
  if (res->status < 200 || res->status > 299)
    {
      job_fail (job, response_error (job, res));
      return;
    }
  /* Read, checked and stored in a writer (service-answer.c): parsing the
   * answer and checking its set cost the main loop more than the rest of
   * the call. The copy is wiped. */
  job->body = g_memdup2 (res->body, res->body_len + 1);
  job->body_len = res->body_len;
  ep_keystore_write_prepared_async (svc->keystore, ep_service_prepare_entry,
                                    ep_service_complete_entry, job, on_stored, job);
}

/* ---- stored devices ---------------------------------------------------- */

/* device.json keeps each argument under its own name. */
static const char *
stored_arg (const EpKind *kind, guint index, gconstpointer source)
{
  return ep_device_info_get (source, kind->args[index].name);
}

/* The busy key of a stored device, as a call for it would make it. */
static char *
stored_busy_key (const EpDeviceInfo *info)
{
  const EpKind *kind = ep_kind_by_name (ep_device_info_field (info, EP_FIELD_KIND));
  if (kind == NULL)
    return NULL;
  EpBusyArgs busy;
  ep_busy_args_init (&busy, kind, stored_arg, info);
  return ep_busy_args_key (&busy);
}

/* A Provision call for the stored device is in flight (its answer may not
 * have named the device yet). Claims are checked apart. */
static gboolean
provisioning_stored (EpService *svc, const EpDeviceInfo *info)
{
  g_autofree char *busy_key = stored_busy_key (info);
  return busy_key != NULL && g_hash_table_contains (svc->in_flight, busy_key);
}

/* ---- starting a call --------------------------------------------------- */

/* Where the call goes, or NotSupported (or NotFound for a device the
 * keystore does not hold). */
static gboolean
route (EpService *svc, const EpArgs *args, EpTarget *target, GError **error)
{
  const EpKind *kind = args->kind;
  if (kind->route == EP_ROUTE_STORED)
    {
      const char *id = ep_args_role (args, EP_ARG_DEVICE_ID);
      const EpDeviceInfo *info = ep_keystore_lookup (svc->keystore, id);
      if (info == NULL)
        {
          g_set_error (error, EP_ERROR, EP_ERROR_NOT_FOUND,
                       "%s: the keystore holds no device %s; provision it first",
                       kind->method, id);
          return FALSE;
        }
      *target = g_strcmp0 (ep_service_stored_target (svc, info), svc->config->gateway.name) == 0
                    ? EP_TARGET_GATEWAY
                    : EP_TARGET_CLOUD;
    }
  else
    *target = kind_target (svc, kind);
  if (*target == EP_TARGET_GATEWAY && svc->config->gateway.url == NULL)
    {
      g_set_error (error, EP_ERROR, EP_ERROR_NOT_SUPPORTED,
                   "%s needs the local gateway API, and [Gateway] URL is not configured",
                   kind->method);
      return FALSE;
    }
  return TRUE;
}

/* A kind that cannot be reprovisioned (Lua) already in the keystore: say
 * so without asking the cloud. */
static gboolean
check_reprovision_allowed (EpService *svc, const EpArgs *args, GError **error)
{
  const EpKind *kind = args->kind;
  if (!kind->cannot_reprovision)
    return TRUE;
  EpBusyArgs busy;
  ep_args_busy_args (args, &busy);
  const char *existing = ep_keystore_find (svc->keystore, kind->kind, busy.names, busy.values);
  if (existing == NULL)
    return TRUE;
  g_autofree char *same = g_strjoinv (" and ", (char **) busy.names);
  g_set_error (error, EP_ERROR, EP_ERROR_NOT_SUPPORTED,
               "%s cannot reprovision: the keystore already holds %s device %s with the same "
               "%s; forget it first",
               kind->method, kind->kind, existing, same);
  return FALSE;
}

static void
busy (const EpKind *kind, gboolean stored, GError **error)
{
  g_set_error (error, EP_ERROR, EP_ERROR_BUSY,
               "%s: the same device is already being provisioned%s; try again when that call "
               "has finished",
               kind->method, stored ? ", given new credentials or removed" : "");
}

/* The key that makes two calls "the same device", or NULL with Busy when a
 * call for it is in flight. A call on a stored device uses the key a
 * Provision call for that device would, so the two exclude each other. */
static char *
claim_busy_key (EpService *svc, const EpArgs *args, GError **error)
{
  const EpKind *kind = args->kind;
  const char *id = ep_args_role (args, EP_ARG_DEVICE_ID);
  const EpDeviceInfo *info = id ? ep_keystore_lookup (svc->keystore, id) : NULL;
  g_autofree char *key = NULL;
  if (kind->route != EP_ROUTE_STORED)
    key = ep_args_busy_key (args);
  else if ((key = stored_busy_key (info)) == NULL)
    key = g_strconcat ("device\x1f", id, NULL);
  if (g_hash_table_contains (svc->in_flight, key) ||
      (info && (provisioning_stored (svc, info) || claimed (svc, id))))
    {
      busy (kind, info != NULL, error);
      return NULL;
    }
  return g_steal_pointer (&key);
}

static gboolean
start (EpService *svc, const EpArgs *args, const char *reason, EpProvisionDone done,
       gpointer user_data, GError **error)
{
  const EpKind *kind = args->kind;
  EpTarget target;

  if (svc->stopped)
    {
      g_set_error (error, EP_ERROR, EP_ERROR_UNAVAILABLE,
                   "the service is shutting down; try again when it is back");
      return FALSE;
    }
  if (!ep_validate_args (args, error) || !route (svc, args, &target, error) ||
      !check_reprovision_allowed (svc, args, error))
    return FALSE;

  g_autofree char *busy_key = claim_busy_key (svc, args, error);
  if (busy_key == NULL)
    return FALSE;
  const EpEndpoint *ep = ep_config_endpoint (svc->config, target);
  if (ep->token == NULL)
    {
      g_set_error (error, EP_ERROR, EP_ERROR_AUTHENTICATION_FAILED,
                   "no API token is configured for the %s target: set [%s] TokenFile", ep->name,
                   target == EP_TARGET_GATEWAY ? "Gateway" : "Cloud");
      return FALSE;
    }

  Job *job = g_new0 (Job, 1);
  job->svc = svc;
  job->target = target;
  job->reason = reason;
  job->done = done;
  job->user_data = user_data;
  /* A call on a stored device is about it from the start; a writer may
   * have claimed it for an answer since claim_busy_key looked. */
  const char *id = ep_args_role (args, EP_ARG_DEVICE_ID);
  if (id != NULL && !claim (svc, id, job))
    {
      g_free (job);
      busy (kind, TRUE, error);
      return FALSE;
    }
  job->device_id = g_strdup (id);

  g_autofree char *path = ep_api_build_path (args);
  g_autofree char *body = ep_api_build_body (args);
  gint64 deadline = g_get_monotonic_time () + (gint64) (svc->config->deadline * G_USEC_PER_SEC);
  EpHttpRequest request = {
    .target = target,
    .path = path,
    .body = body,
    .idempotent = kind->idempotent,
    .deadline = deadline - MIN (STORE_RESERVE_US, (deadline - g_get_monotonic_time ()) / 10),
  };
  if (!ep_http_post (svc->http, &request, on_response, job, error))
    {
      release (svc, job->device_id, job);
      g_free (job->device_id);
      g_free (job);
      return FALSE;
    }
  job->args = args;
  job->busy_key = g_steal_pointer (&busy_key);
  g_hash_table_insert (svc->in_flight, job->busy_key, job);
  notify_active (svc);
  return TRUE;
}

gboolean
ep_service_provision (EpService *svc, const EpArgs *args, EpProvisionDone done,
                      gpointer user_data, GError **error)
{
  return start (svc, args, NULL, done, user_data, error);
}

gboolean
ep_service_renew (EpService *svc, const EpArgs *args, EpProvisionDone done, gpointer user_data,
                  GError **error)
{
  return start (svc, args, "renewed", done, user_data, error);
}

/* ---- forgetting -------------------------------------------------------- */

typedef struct {
  EpService *svc;
  char *device_id;
  EpForgetDone done;
  gpointer user_data;
} ForgetCall;

static void
on_forgotten (GObject *source, GAsyncResult *result, gpointer data)
{
  ForgetCall *fc = data;
  GError *error = NULL;
  ep_keystore_forget_finish (fc->svc->keystore, result, &error);
  release (fc->svc, fc->device_id, ep_service_removing);
  fc->done (fc->device_id, error, fc->user_data);
  if (error == NULL)
    notify_changed (fc->svc, fc->device_id, NULL, NULL);
  g_clear_error (&error);
  g_free (fc->device_id);
  g_free (fc);
}

gboolean
ep_service_forget (EpService *svc, const char *device_id, EpForgetDone done, gpointer user_data,
                   GError **error)
{
  const EpDeviceInfo *info = ep_keystore_lookup (svc->keystore, device_id);
  if (info == NULL)
    {
      g_set_error (error, EP_ERROR, EP_ERROR_NOT_FOUND, "the keystore holds no device %s",
                   device_id);
      return FALSE;
    }
  if (provisioning_stored (svc, info) || !claim (svc, device_id, ep_service_removing))
    {
      g_set_error (error, EP_ERROR, EP_ERROR_BUSY,
                   "device %s is being provisioned or removed; try again when that has finished",
                   device_id);
      return FALSE;
    }
  ForgetCall *fc = g_new0 (ForgetCall, 1);
  fc->svc = svc;
  fc->device_id = g_strdup (device_id);
  fc->done = done;
  fc->user_data = user_data;
  ep_keystore_forget_async (svc->keystore, device_id, on_forgotten, fc);
  return TRUE;
}

/* ---- the service ------------------------------------------------------- */

EpService *
ep_service_new (const EpConfig *config, EpKeystore *keystore, EpHttp *http)
{
  EpService *svc = g_new0 (EpService, 1);
  svc->config = config;
  svc->keystore = keystore;
  svc->http = http;
  /* As many writers as calls in flight, up to what the disk rewards
   * (keystore.c "the writers"). */
  ep_keystore_set_writers (keystore, config->max_concurrent);
  svc->in_flight = g_hash_table_new (g_str_hash, g_str_equal);
  g_mutex_init (&svc->lock);
  svc->claims = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  svc->listeners = g_array_new (FALSE, FALSE, sizeof (Listener));
  return svc;
}

void
ep_service_free (EpService *svc)
{
  if (svc == NULL)
    return;
  g_hash_table_unref (svc->in_flight);
  g_hash_table_unref (svc->claims);
  g_mutex_clear (&svc->lock);
  g_array_unref (svc->listeners);
  g_free (svc);
}

guint
ep_service_active (EpService *svc)
{
  return g_hash_table_size (svc->in_flight);
}

void
ep_service_add_listener (EpService *svc, const EpServiceListener *funcs, gpointer user_data)
{
  Listener l = { funcs, user_data };
  g_array_append_val (svc->listeners, l);
}

void
ep_service_remove_listener (EpService *svc, const EpServiceListener *funcs, gpointer user_data)
{
  for (guint i = 0; i < svc->listeners->len; i++)
    {
      Listener *l = &g_array_index (svc->listeners, Listener, i);
      if (l->funcs == funcs && l->data == user_data)
        {
          g_array_remove_index (svc->listeners, i);
          return;
        }
    }
}

void
ep_service_stop_accepting (EpService *svc)
{
  svc->stopped = TRUE;
}

gboolean
ep_service_stopping (EpService *svc)
{
  return svc->stopped;
}

EpKeystore *
ep_service_keystore (EpService *svc)
{
  return svc->keystore;
}
