/* A call's answer in a writer thread (service-private.h): read, its device
 * checked against the keystore and the calls in flight and claimed, its
 * MQTTS set verified, and made into the keystore entry to store. The main
 * loop hands the answer over untouched: parsing it and checking its set
 * cost more than all the rest of a call there. */
#include "service-private.h"

#include "api.h"
#include "credentials.h"
#include "errors.h"
#include "fields.h"
#include "record.h"

#include <string.h>

/* The device the keystore holds as @id is the one @job's call is about:
 * not one held under another kind, target or hardware id. Under the
 * keystore's index lock. */
static gboolean
check_held (Job *job, const EpApiResult *result, const EpDeviceInfo *held, GError **error)
{
  EpService *svc = job->svc;
  const char *id = result->device_id;
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
  const char *target = ep_service_stored_target (svc, held);
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

/* A response may only name a device this call can be about (check_held),
 * and not one another call is storing or removing right now. The device
 * is then claimed for @job until it ends. */
static gboolean
check_device (Job *job, const EpApiResult *result, GError **error)
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
  g_mutex_lock (&svc->lock);
  gconstpointer owner = g_hash_table_lookup (svc->claims, id);
  gboolean ok = FALSE;
  if (owner == ep_service_removing)
    g_set_error (error, EP_ERROR, EP_ERROR_BUSY,
                 "device %s is being removed; try again when that has finished", id);
  else if (owner != NULL && owner != job)
    g_set_error (error, EP_ERROR, EP_ERROR_PROTOCOL_ERROR,
                 "the API answered with device %s, which another call in flight is storing; "
                 "nothing was changed", id);
  else
    {
      /* Claimed, the device's entry cannot change; the index can. */
      ep_keystore_lock_index (svc->keystore);
      ok = check_held (job, result, ep_keystore_lookup (svc->keystore, id), error);
      ep_keystore_unlock_index (svc->keystore);
    }
  if (ok && owner == NULL)
    {
      /* A call on a stored device holds its claim; the API names it. */
      g_assert (job->device_id == NULL);
      g_hash_table_insert (svc->claims, g_strdup (id), job);
      job->device_id = g_strdup (id);
    }
  g_mutex_unlock (&svc->lock);
  return ok;
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

EpKeystoreEntry *
ep_service_prepare_entry (gpointer data, GError **error)
{
  Job *job = data;
  /* The main loop leaves the job alone meanwhile: the body is the
   * keystore thread's, and so is the answer, kept for the check. */
  g_autoptr (EpApiResult) result = ep_api_parse_result (job->args, job->body, job->body_len,
                                                        error);
  explicit_bzero (job->body, job->body_len);
  g_clear_pointer (&job->body, g_free);
  if (result == NULL || !check_device (job, result, error))
    return NULL;
  job->result = g_steal_pointer (&result);
  return ep_record_files (job->result);
}

gboolean
ep_service_complete_entry (gpointer data, EpKeystoreEntry *entry, GError **error)
{
  Job *job = data;
  /* The answer, secrets and all, is freed here. */
  g_autoptr (EpApiResult) result = g_steal_pointer (&job->result);
  gboolean verified = verify_credentials (result, error);
  /* The thread may end as the process exits, and OpenSSL 3.0 then frees
   * its state of the thread twice: none is left in it. */
  ep_credentials_thread_done ();
  if (verified)
    ep_record_complete (entry, job->args, result,
                        ep_config_endpoint (job->svc->config, job->target)->name);
  return verified;
}
