/* The keystore's methods on the bus: ListDevices, GetDevice, ForgetDevice
 * and OpenCredentials, and what each caller may see of them: root and
 * operators every device, a consumer the devices its [Consumer] sections
 * name (consumers.h); OpenCredentials root and consumers only. */
#include "bus-private.h"

#include "consumers.h"
#include "errors.h"
#include "fields.h"
#include "record.h"
#include "validate.h"

/* Whether the call's caller sees every device (root, an operator). */
static gboolean
sees_all (const Call *call)
{
  return call->caller.root || call->caller.operator;
}

static gboolean
consumer_shows (const char *device_id, const EpDeviceInfo *info, gconstpointer data)
{
  const Call *call = data;
  return ep_consumers_select (call->bus->config->consumers, call->caller.consumers, device_id,
                              info);
}

/* A device the caller may not see: AccessDenied naming it, logged at
 * notice with the caller (a consumer asking beyond its devices is worth a
 * look, not an alarm). */
static void
deny_device (Call *call, const char *verb, const char *why)
{
  g_autoptr (GError) error = g_error_new (EP_ERROR, EP_ERROR_ACCESS_DENIED,
                                          "uid %d may not %s device %s: %s", (int) call->caller.uid,
                                          verb, call->device_id, why);
  ep_bus_reply_error_at (call, error, EP_LOG_NOTICE);
}

static void
not_found (Call *call)
{
  g_autoptr (GError) error = g_error_new (EP_ERROR, EP_ERROR_NOT_FOUND,
                                          "the keystore holds no device %s", call->device_id);
  ep_bus_reply_error (call, error);
}

static void
proceed_get_device (void *data)
{
  Call *call = data;
  EpKeystore *ks = ep_service_keystore (call->bus->svc);
  const EpDeviceInfo *info = ep_keystore_lookup (ks, call->device_id);
  if (!sees_all (call) && !consumer_shows (call->device_id, info, call))
    deny_device (call, "see", "no [Consumer] section of the caller names it");
  else if (info == NULL)
    not_found (call);
  else
    {
      g_auto (EpDetails) details = { 0 };
      ep_record_details (&details, info, ep_keystore_path (ks), FALSE);
      ep_bus_reply_with (call, ep_bus_append_details, &details);
    }
  ep_bus_call_free (call);
}

static void
proceed_list_devices (void *data)
{
  Call *call = data;
  EpBusDeviceList list = { .keystore = ep_service_keystore (call->bus->svc) };
  if (!sees_all (call))
    {
      list.shows = consumer_shows;
      list.shows_data = call;
    }
  ep_bus_reply_with (call, ep_bus_append_device_list, &list);
  ep_bus_call_free (call);
}

static void
on_forgotten (const char *device_id, const GError *error, gpointer data)
{
  Call *call = data;
  if (error != NULL)
    ep_bus_reply_error (call, error);
  else
    {
      char who[256];
      ep_info ("ForgetDevice (%s): device %s removed from the keystore",
               ep_bus_call_caller (call, who, sizeof who), device_id);
      ep_bus_reply_with (call, ep_bus_append_nothing, NULL);
      ep_bus_emit (call->bus, "DeviceForgotten", ep_bus_append_string, device_id);
    }
  ep_bus_call_free (call);
}

static void
proceed_forget (void *data)
{
  Call *call = data;
  g_autoptr (GError) error = NULL;
  if (!ep_service_forget (call->bus->svc, call->device_id, on_forgotten, call, &error))
    on_forgotten (call->device_id, error, call);
}

/* ---- OpenCredentials --------------------------------------------------- */

/* The credential files of the field table, NULL-terminated. */
static const char *const *
credential_files (void)
{
  static const char *names[EP_N_FIELDS + 1];
  if (names[0] == NULL)
    for (size_t i = 0, n = 0; i < EP_N_FIELDS; i++)
      if (ep_fields[i].file != NULL)
        names[n++] = ep_fields[i].file;
  return names;
}

static void
on_copied (GObject *source, GAsyncResult *result, gpointer data)
{
  Call *call = data;
  EpKeystore *ks = ep_service_keystore (call->bus->svc);
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonObject) metadata = NULL;
  g_autoptr (GArray) copies = NULL;
  if (!ep_keystore_copy_finish (ks, result, &metadata, &copies, &error))
    {
      ep_bus_reply_error (call, error);
      ep_bus_call_free (call);
      return;
    }
  /* The details of the very set copied, not of the index a moment later. */
  g_autoptr (EpDeviceInfo) info = ep_device_info_new (metadata);
  g_auto (EpDetails) details = { 0 };
  ep_record_details (&details, info, ep_keystore_path (ks), FALSE);
  EpBusCredentials creds = { .details = &details, .copies = copies };
  char who[256];
  ep_info ("OpenCredentials (%s): %u file(s) of device %s handed out",
           ep_bus_call_caller (call, who, sizeof who), copies->len, call->device_id);
  ep_bus_reply_with (call, ep_bus_append_credentials, &creds);
  ep_bus_call_free (call);
}

static void
proceed_open_credentials (void *data)
{
  Call *call = data;
  EpKeystore *ks = ep_service_keystore (call->bus->svc);
  const EpDeviceInfo *info = ep_keystore_lookup (ks, call->device_id);
  /* Operators provision; only a [Consumer] section makes them consumers. */
  if (!call->caller.root && !consumer_shows (call->device_id, info, call))
    {
      deny_device (call, "open the credentials of",
                   call->caller.consumers ? "no [Consumer] section of the caller names it"
                                          : "only root and consumers ([Consumer] sections) may");
      ep_bus_call_free (call);
      return;
    }
  if (info == NULL)
    {
      not_found (call);
      ep_bus_call_free (call);
      return;
    }
  ep_keystore_copy_async (ks, call->device_id, credential_files (), on_copied, call);
}

/* ---- handlers ---------------------------------------------------------- */

static int
method_device (sd_bus_message *m, void *userdata, EpAccess access, void (*proceed) (void *))
{
  const char *id = NULL;
  int r = sd_bus_message_read_basic (m, 's', &id);
  if (r < 0)
    return r;
  Call *call = ep_bus_call_new (userdata, m, access, proceed);
  /* A bad id is refused once the caller is known (bus.c), and only a short
   * escaped piece of it is ever copied: a caller's megabytes stay in the
   * message. */
  if (ep_is_plain_name (id))
    call->device_id = g_strdup (id);
  else
    call->bad_device_id = ep_log_escape (id, EP_MAX_ECHO);
  return ep_bus_call_check (call);
}

int
ep_bus_method_get_device (sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
  return method_device (m, userdata, EP_ACCESS_CONSUMERS, proceed_get_device);
}

int
ep_bus_method_forget_device (sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
  return method_device (m, userdata, EP_ACCESS_OPERATORS, proceed_forget);
}

int
ep_bus_method_open_credentials (sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
  return method_device (m, userdata, EP_ACCESS_CONSUMERS, proceed_open_credentials);
}

int
ep_bus_method_list_devices (sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
  return ep_bus_call_check (ep_bus_call_new (userdata, m, EP_ACCESS_CONSUMERS,
                                             proceed_list_devices));
}
