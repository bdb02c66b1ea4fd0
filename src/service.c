#include "service.h"

#include "api.h"
#include "credentials.h"
#include "errors.h"
#include "fields.h"
#include "record.h"
#include "redact.h"
#include "validate.h"

#include <string.h>

/* Keystore writes are quick; leave them this much of the call's deadline. */
#define STORE_RESERVE_US (250 * G_TIME_SPAN_MILLISECOND)

struct EpService {
  const EpConfig *config;
  EpKeystore *keystore;
  EpHttp *http;
  GHashTable *in_flight;     /* busy_key -> Job */
  GHashTable *forgetting;    /* device ids being removed */
  gboolean stopped;
  GArray *listeners;         /* Listener */
};

typedef struct {
  const EpServiceListener *funcs;
  gpointer data;
} Listener;

typedef struct {
  EpService *svc;
  const EpArgs *args;
  char *busy_key;
  char *device_id;           /* once the API has answered */
  EpTarget target;
  const char *reason;        /* CredentialsChanged's, NULL: the row's */
  EpProvisionDone done;
  gpointer user_data;
} Job;

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

static void
job_finish (Job *job, const char *device_id, const EpDetails *details, const GError *error)
{
  EpService *svc = job->svc;
  g_hash_table_remove (svc->in_flight, job->busy_key);
  job->done (job->args, device_id, details, error, job->user_data);
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

/* The target a stored device was provisioned through. Entries written
 * before device.json recorded it went where their kind goes: its fixed
 * target, or DefaultTarget's. */
static const char *
stored_target (EpService *svc, const EpDeviceInfo *info)
{
  const char *target = ep_device_info_field (info, EP_FIELD_TARGET);
  if (target != NULL)
    return target;
  const EpKind *kind = ep_kind_by_name (ep_device_info_field (info, EP_FIELD_KIND));
  EpTarget target_then = kind ? kind_target (svc, kind) : svc->config->default_target;
  return ep_config_endpoint (svc->config, target_then)->name;
}

/* A response may only name a device this call can be about: not one the
 * keystore holds under another kind, target or hardware id, and not one
 * another call is storing or removing right now. */
static gboolean
check_response_device (Job *job, const EpApiResult *result, GError **error)
{
  EpService *svc = job->svc;
  const char *id = result->device_id;
  const char *field = ep_api_result_holding_secret (result);
  if (field != NULL)
    {
      g_set_error (error, EP_ERROR, EP_ERROR_PROTOCOL_ERROR,
                   "the API answered with its own token in %s; nothing was stored", field);
      return FALSE;
    }
  GHashTableIter it;
  gpointer value;
  g_hash_table_iter_init (&it, svc->in_flight);
  while (g_hash_table_iter_next (&it, NULL, &value))
    if (value != job && g_strcmp0 (((Job *) value)->device_id, id) == 0)
      {
        g_set_error (error, EP_ERROR, EP_ERROR_PROTOCOL_ERROR,
                     "the API answered with device %s, which another call in flight is "
                     "storing; nothing was changed", id);
        return FALSE;
      }
  if (g_hash_table_contains (svc->forgetting, id))
    {
      g_set_error (error, EP_ERROR, EP_ERROR_BUSY,
                   "device %s is being removed; try again when that has finished", id);
      return FALSE;
    }
  const EpDeviceInfo *held = ep_keystore_lookup (svc->keystore, id);
  /* A call on a stored device: the answer is about it by its path; a
   * hardware id in its config must still be the device's. */
  if (job->args->kind->route == EP_ROUTE_STORED)
    {
      const char *stored = held ? ep_device_info_field (held, EP_FIELD_HARDWARE_ID) : NULL;
      if (stored == NULL || result->hardware_id == NULL ||
          strcmp (stored, result->hardware_id) == 0)
        return TRUE;
      g_set_error (error, EP_ERROR, EP_ERROR_PROTOCOL_ERROR,
                   "the API answered with the config of hardware %s for device %s, whose "
                   "hardware id is %s; nothing was changed", result->hardware_id, id, stored);
      return FALSE;
    }
  if (held == NULL)
    return TRUE;
  const char *kind = ep_device_info_field (held, EP_FIELD_KIND);
  const char *target = stored_target (svc, held);
  const char *hardware_id = ep_device_info_field (held, EP_FIELD_HARDWARE_ID);
  const char *asked_target = ep_config_endpoint (svc->config, job->target)->name;
  if (g_strcmp0 (kind, job->args->kind->kind) == 0 && g_strcmp0 (target, asked_target) == 0 &&
      g_strcmp0 (hardware_id, ep_args_role (job->args, EP_ARG_HARDWARE_ID)) == 0)
    return TRUE;
  g_set_error (error, EP_ERROR, EP_ERROR_PROTOCOL_ERROR,
               "the API answered with device %s, which the keystore holds as another device "
               "(%s through the %s API%s%s), not the %s this call is about; nothing was changed",
               id, kind ? kind : "?", target, hardware_id ? ", hardware id " : "",
               hardware_id ? hardware_id : "", job->args->kind->kind);
  return FALSE;
}

/* An MQTTS set is stored only once its key matches its certificate and the
 * certificate chains to its CA chain; what the check reads off the
 * certificate goes into @result. */
static gboolean
verify_credentials (EpApiResult *result, GError **error)
{
  if (result->private_key == NULL)
    return TRUE;
  EpCertificateInfo info;
  if (!ep_credentials_verify (result->private_key, result->certificate, result->ca_chain, &info,
                              error))
    return FALSE;
  result->certificate_not_before = info.not_before;
  result->certificate_not_after = info.not_after;
  result->certificate_sha256 = g_strdup (info.sha256);
  return TRUE;
}

static void
on_response (const EpHttpResult *res, gpointer data)
{
  Job *job = data;
  EpService *svc = job->svc;
  GError *error = NULL;

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
  g_autoptr (EpApiResult) result = ep_api_parse_result (job->args, res->body, res->body_len,
                                                        &error);
  if (result == NULL || !check_response_device (job, result, &error) ||
      !verify_credentials (result, &error))
    {
      job_fail (job, error);
      return;
    }
  g_free (job->device_id);
  job->device_id = g_strdup (result->device_id);
  const char *target = ep_config_endpoint (svc->config, job->target)->name;
  EpKeystoreEntry *entry = job->args->kind->route == EP_ROUTE_STORED
                               ? ep_record_update_entry (result)
                               : ep_record_entry (job->args, result, target);
  ep_keystore_write_async (svc->keystore, entry, on_stored, job);
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

static gboolean
device_in_flight (EpService *svc, const char *device_id, const EpDeviceInfo *info)
{
  g_autofree char *busy_key = stored_busy_key (info);
  if (busy_key != NULL && g_hash_table_contains (svc->in_flight, busy_key))
    return TRUE;
  GHashTableIter it;
  gpointer value;
  g_hash_table_iter_init (&it, svc->in_flight);
  while (g_hash_table_iter_next (&it, NULL, &value))
    if (g_strcmp0 (((Job *) value)->device_id, device_id) == 0)
      return TRUE;
  return g_hash_table_contains (svc->forgetting, device_id);
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
      *target = g_strcmp0 (stored_target (svc, info), svc->config->gateway.name) == 0
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
  if (g_hash_table_contains (svc->in_flight, key) || (info && device_in_flight (svc, id, info)))
    {
      g_set_error (error, EP_ERROR, EP_ERROR_BUSY,
                   "%s: the same device is already being provisioned%s; try again when that "
                   "call has finished",
                   kind->method, info ? ", given new credentials or removed" : "");
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
      g_free (job);
      return FALSE;
    }
  job->args = args;
  /* A call on a stored device is about it from the start. */
  job->device_id = g_strdup (ep_args_role (args, EP_ARG_DEVICE_ID));
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
  g_hash_table_remove (fc->svc->forgetting, fc->device_id);
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
  if (device_in_flight (svc, device_id, info))
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
  g_hash_table_add (svc->forgetting, g_strdup (device_id));
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
  svc->in_flight = g_hash_table_new (g_str_hash, g_str_equal);
  svc->forgetting = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  svc->listeners = g_array_new (FALSE, FALSE, sizeof (Listener));
  return svc;
}

void
ep_service_free (EpService *svc)
{
  if (svc == NULL)
    return;
  g_hash_table_unref (svc->in_flight);
  g_hash_table_unref (svc->forgetting);
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
