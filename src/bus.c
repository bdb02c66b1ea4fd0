#include "bus-private.h"

#include "caller.h"
#include "ep-build-config.h"
#include "errors.h"
#include "log.h"
#include "record.h"
#include "bus-messages.h"
#include "bus-vtable.h"
#include "sdbus-glib.h"
#include "validate.h"

#include <errno.h>
#include <string.h>

/* ---- signals ---------------------------------------------------------- */

/* Emits signal @member carrying what @append makes of @data. */
void
ep_bus_emit (EpBus *bus, const char *member, EpBusAppend append, gconstpointer data)
{
  if (bus->name_released)
    {
      ep_debug ("bus: %s not sent: the name is released, and the bus policy lets only "
                "the name's signals be kept from strangers", member);
      return;
    }
  g_autoptr (sd_bus_message) m = NULL;
  int r = sd_bus_message_new_signal (bus->bus, &m, EP_BUS_PATH, EP_BUS_INTERFACE, member);
  if (r >= 0)
    r = append (m, data);
  if (r >= 0)
    r = sd_bus_send (bus->bus, m, NULL);
  if (r < 0)
    ep_warning ("bus: cannot emit %s: %s", member, g_strerror (-r));
}

/* ---- calls ------------------------------------------------------------ */

void
ep_bus_call_free (Call *call)
{
  EpBus *bus = call->bus;
  sd_bus_message_unref (call->msg);
  ep_args_free (call->args);
  g_free (call->device_id);
  g_free (call->bad_device_id);
  g_free (call->unit);
  g_free (call);
  if (--bus->pending == 0 && bus->on_idle)
    bus->on_idle (bus->user_data);
}

const char *
ep_bus_call_caller (Call *call, char *buf, size_t size)
{
  return ep_caller_describe (&call->caller, buf, size);
}

void
ep_bus_reply_error_at (Call *call, const GError *error, EpLogLevel level)
{
  char who[256];
  const char *name = ep_error_dbus_name (error);
  ep_log (level, "%s (%s): %s: %s", sd_bus_message_get_member (call->msg),
          ep_bus_call_caller (call, who, sizeof who), name, error->message);
  int r = sd_bus_reply_method_errorf (call->msg, name, "%s", error->message);
  /* A message sd-bus cannot carry must not leave the caller waiting. */
  if (r == -EINVAL)
    r = sd_bus_reply_method_errorf (call->msg, name, "(the message could not be encoded)");
  if (r < 0)
    ep_debug ("bus: the caller of %s is gone: %s", sd_bus_message_get_member (call->msg),
              g_strerror (-r));
}

void
ep_bus_reply_error (Call *call, const GError *error)
{
  ep_bus_reply_error_at (call, error, EP_LOG_WARNING);
}

/* Answers the call with what @append makes of @data. */
void
ep_bus_reply_with (Call *call, EpBusAppend append, gconstpointer data)
{
  g_autoptr (sd_bus_message) m = NULL;
  int r = sd_bus_message_new_method_return (call->msg, &m);
  if (r >= 0)
    r = append (m, data);
  if (r >= 0)
    r = sd_bus_send (NULL, m, NULL);
  else
    r = sd_bus_reply_method_errorf (call->msg, SD_BUS_ERROR_FAILED,
                                    "the reply could not be encoded: %s", g_strerror (-r));
  if (r < 0)
    ep_debug ("bus: cannot answer %s: %s", sd_bus_message_get_member (call->msg),
              g_strerror (-r));
}

static void
on_provisioned (const EpArgs *args, const char *device_id, const EpDetails *details,
                const GError *error, gpointer data)
{
  Call *call = data;
  EpBus *bus = call->bus;
  const EpKind *kind = args->kind;

  /* Only a Provision method (a row with a kind) announces its outcome; a
   * new set for a stored device is told by CredentialsChanged. */
  gboolean announce = kind->kind != NULL;
  if (error != NULL)
    {
      ep_bus_reply_error (call, error);
      EpBusFailed f = { .kind = kind->kind, .error_name = ep_error_dbus_name (error),
                        .message = error->message, .args = args };
      if (announce)
        ep_bus_emit (bus, "ProvisioningFailed", ep_bus_append_failed_signal, &f);
    }
  else
    {
      char who[256];
      EpBusProvisioned p = { .kind = kind->kind, .device_id = device_id, .details = details };
      if (announce)
        ep_info ("%s (%s): %s device %s stored in the keystore", kind->method,
                 ep_bus_call_caller (call, who, sizeof who), kind->kind, device_id);
      else
        ep_info ("%s (%s): device %s: new credentials stored in the keystore", kind->method,
                 ep_bus_call_caller (call, who, sizeof who), device_id);
      ep_bus_reply_with (call, ep_bus_append_provisioned_reply, &p);
      /* Also when the caller has gone: others may be waiting for it. */
      if (announce)
        ep_bus_emit (bus, "DeviceProvisioned", ep_bus_append_provisioned_signal, &p);
    }
  ep_bus_call_free (call);
}

static void
proceed_provision (void *data)
{
  Call *call = data;
  g_autoptr (GError) error = NULL;
  char who[256];
  ep_debug ("%s called by %s", call->args->kind->method, ep_bus_call_caller (call, who, sizeof who));
  if (ep_service_provision (call->bus->svc, call->args, on_provisioned, call, &error))
    return;
  on_provisioned (call->args, NULL, NULL, error, call);
}

static void
on_caller_checked (const EpCaller *caller, const GError *error, gpointer data)
{
  Call *call = data;
  call->unit = g_strdup (caller->unit);
  call->caller = *caller;
  call->caller.unit = call->unit;
  g_autoptr (GError) refused = NULL;
  if (error == NULL && ep_service_stopping (call->bus->svc))
    error = refused = g_error_new (EP_ERROR, EP_ERROR_UNAVAILABLE,
                                   "the service is shutting down; try again when it is back");
  else if (error == NULL && call->bad_device_id != NULL)
    error = refused = g_error_new (EP_ERROR, EP_ERROR_INVALID_ARGUMENT,
                                   "device_id '%s' is not a device id: it must be 1-128 bytes "
                                   "of printable text without '/' and not start with '.'",
                                   call->bad_device_id);
  if (error != NULL)
    {
      /* Everyone may send the methods open to consumers: a stranger's
       * refusal is worth a look, not a warning that could flood the log. */
      gboolean stranger = call->access == EP_ACCESS_CONSUMERS &&
                          g_error_matches (error, EP_ERROR, EP_ERROR_ACCESS_DENIED);
      ep_bus_reply_error_at (call, error, stranger ? EP_LOG_NOTICE : EP_LOG_WARNING);
      ep_bus_call_free (call);
      return;
    }
  call->proceed (call);
}

/* Continues with call->proceed once the caller is known to be allowed, or
 * answers AccessDenied. */
int
ep_bus_call_check (Call *call)
{
  int r = ep_callers_check (call->bus->callers, call->msg, call->access, on_caller_checked,
                            call);
  if (r < 0)
    {
      g_autoptr (GError) error = g_error_new (EP_ERROR, EP_ERROR_ACCESS_DENIED,
                                              "the caller's credentials could not be verified: %s",
                                              g_strerror (-r));
      ep_bus_reply_error (call, error);
      ep_bus_call_free (call);
    }
  return 1;
}

Call *
ep_bus_call_new (EpBus *bus, sd_bus_message *m, EpAccess access, void (*proceed) (void *))
{
  Call *call = g_new0 (Call, 1);
  call->bus = bus;
  call->access = access;
  call->msg = sd_bus_message_ref (m);
  call->caller.uid = (uid_t) -1;
  call->proceed = proceed;
  bus->pending++;
  bus->last_call = g_get_monotonic_time ();
  return call;
}

/* ---- method handlers -------------------------------------------------- */

static int
method_provision (sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
  EpBus *bus = userdata;
  const EpKind *kind = ep_kind_by_method (sd_bus_message_get_member (m));
  if (kind == NULL)
    return sd_bus_error_set (ret_error, SD_BUS_ERROR_UNKNOWN_METHOD, "no such method");

  g_autoptr (EpArgs) args = ep_args_new (kind);
  for (guint i = 0; i < ep_kind_n_args (kind); i++)
    {
      const char *s = NULL;
      int r = kind->args[i].type == 'd' ? sd_bus_message_read_basic (m, 'd', &args->num[i])
                                        : sd_bus_message_read_basic (m, 's', &s);
      if (r < 0)
        {
          ep_warning ("%s (sender %s): " SD_BUS_ERROR_INVALID_ARGS ": cannot read argument %s",
                      kind->method, sd_bus_message_get_sender (m), kind->args[i].name);
          return sd_bus_error_setf (ret_error, SD_BUS_ERROR_INVALID_ARGS,
                                    "%s: cannot read argument %s", kind->method,
                                    kind->args[i].name);
        }
      args->str[i] = g_strdup (s);
    }
  Call *call = ep_bus_call_new (bus, m, EP_ACCESS_OPERATORS, proceed_provision);
  call->args = g_steal_pointer (&args);
  return ep_bus_call_check (call);
}

static int
get_version (sd_bus *b, const char *path, const char *iface, const char *prop,
             sd_bus_message *reply, void *userdata, sd_bus_error *ret_error)
{
  return sd_bus_message_append (reply, "s", EP_VERSION);
}

static int
get_active (sd_bus *b, const char *path, const char *iface, const char *prop,
            sd_bus_message *reply, void *userdata, sd_bus_error *ret_error)
{
  EpBus *bus = userdata;
  return sd_bus_message_append (reply, "u", (uint32_t) ep_service_active (bus->svc));
}

static gboolean
emit_active_changed (gpointer data)
{
  EpBus *bus = data;
  bus->active_changed_idle = 0;
  int r = sd_bus_emit_properties_changed (bus->bus, EP_BUS_PATH, EP_BUS_INTERFACE,
                                          "ActiveRequests", NULL);
  if (r < 0)
    ep_warning ("bus: cannot emit PropertiesChanged: %s", g_strerror (-r));
  return G_SOURCE_REMOVE;
}

/* Changes within one loop iteration (a call ending as another starts) make
 * one PropertiesChanged with the value then. */
static void
on_active_changed (gpointer data)
{
  EpBus *bus = data;
  if (bus->active_changed_idle == 0)
    bus->active_changed_idle = g_idle_add (emit_active_changed, bus);
}

static void
on_credentials_changed (const char *device_id, const char *reason, const EpDetails *details,
                        gpointer data)
{
  if (reason == NULL)
    return;
  EpBusCredentialsChanged c = { .device_id = device_id, .reason = reason, .details = details };
  ep_bus_emit (data, "CredentialsChanged", ep_bus_append_credentials_changed, &c);
}

static const EpServiceListener service_listener = {
  .active_changed = on_active_changed,
  .credentials_changed = on_credentials_changed,
};

void
ep_bus_emit_credentials_expiring (EpBus *bus, const char *device_id, gint64 not_after)
{
  EpBusExpiring e = { .device_id = device_id, .not_after = not_after };
  ep_bus_emit (bus, "CredentialsExpiring", ep_bus_append_expiring, &e);
}

/* ---- the vtable ------------------------------------------------------- */

/* Everything but the Provision methods, which come from the kinds table. */
static const sd_bus_vtable fixed_vtable[] = {
  SD_BUS_METHOD_WITH_NAMES ("ListDevices", "", , "aa{sv}", SD_BUS_PARAM (devices),
                            ep_bus_method_list_devices, SD_BUS_VTABLE_UNPRIVILEGED),
  SD_BUS_METHOD_WITH_NAMES ("GetDevice", "s", SD_BUS_PARAM (device_id), "a{sv}",
                            SD_BUS_PARAM (details), ep_bus_method_get_device,
                            SD_BUS_VTABLE_UNPRIVILEGED),
  SD_BUS_METHOD_WITH_NAMES ("ForgetDevice", "s", SD_BUS_PARAM (device_id), "", ,
                            ep_bus_method_forget_device, SD_BUS_VTABLE_UNPRIVILEGED),
  SD_BUS_METHOD_WITH_NAMES ("OpenCredentials", "s", SD_BUS_PARAM (device_id), "a{sv}a{sh}",
                            SD_BUS_PARAM (details) SD_BUS_PARAM (files),
                            ep_bus_method_open_credentials, SD_BUS_VTABLE_UNPRIVILEGED),
  SD_BUS_SIGNAL_WITH_NAMES ("DeviceProvisioned", "ssa{sv}",
                            SD_BUS_PARAM (kind) SD_BUS_PARAM (device_id) SD_BUS_PARAM (details),
                            0),
  SD_BUS_SIGNAL_WITH_NAMES ("ProvisioningFailed", "sssa{sv}",
                            SD_BUS_PARAM (kind) SD_BUS_PARAM (error_name)
                                SD_BUS_PARAM (message) SD_BUS_PARAM (request),
                            0),
  SD_BUS_SIGNAL_WITH_NAMES ("DeviceForgotten", "s", SD_BUS_PARAM (device_id), 0),
  SD_BUS_SIGNAL_WITH_NAMES ("CredentialsChanged", "ssa{sv}",
                            SD_BUS_PARAM (device_id) SD_BUS_PARAM (reason)
                                SD_BUS_PARAM (details),
                            0),
  SD_BUS_SIGNAL_WITH_NAMES ("CredentialsExpiring", "sx",
                            SD_BUS_PARAM (device_id) SD_BUS_PARAM (not_after), 0),
  SD_BUS_PROPERTY ("Version", "s", get_version, 0, SD_BUS_VTABLE_PROPERTY_CONST),
  SD_BUS_PROPERTY ("ActiveRequests", "u", get_active, 0,
                   SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
  SD_BUS_METHOD_WITH_NAMES ("Diagnose", "", , "a(sss)", SD_BUS_PARAM (checks),
                            ep_bus_method_diagnose, SD_BUS_VTABLE_UNPRIVILEGED),
  SD_BUS_PROPERTY ("Targets", "a{ss}", ep_bus_get_targets, 0, SD_BUS_VTABLE_PROPERTY_CONST),
  SD_BUS_PROPERTY ("AutoRenewal", "b", ep_bus_get_auto_renewal, 0,
                   SD_BUS_VTABLE_PROPERTY_CONST),
  SD_BUS_PROPERTY ("NextRenewal", "x", ep_bus_get_next_renewal, 0,
                   SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
};

/* ---- the connection --------------------------------------------------- */

static void
on_bus_error (int error, gpointer data)
{
  EpBus *bus = data;
  ep_error ("bus: connection lost: %s", g_strerror (error));
  bus->on_lost (bus->user_data);
}

static int
on_name_reply (sd_bus_message *reply, void *data, sd_bus_error *ret_error)
{
  EpBus *bus = data;
  const sd_bus_error *e = sd_bus_message_get_error (reply);
  if (e != NULL)
    {
      ep_error ("bus: cannot own %s: %s (is another instance running, or does the bus "
                "policy forbid it?)",
                EP_BUS_NAME, e->message);
      bus->on_lost (bus->user_data);
      return 0;
    }
  ep_info ("serving %s on the %s bus", EP_BUS_NAME, bus->session ? "session" : "system");
  bus->on_ready (bus->user_data);
  return 0;
}

EpBus *
ep_bus_new (EpService *svc, const EpConfig *config, gboolean session, EpBusEvent on_ready,
            EpBusEvent on_lost, EpBusEvent on_idle, gpointer user_data, GError **error)
{
  g_autoptr (EpBus) bus = g_new0 (EpBus, 1);
  bus->svc = svc;
  bus->config = config;
  bus->on_ready = on_ready;
  bus->on_lost = on_lost;
  bus->on_idle = on_idle;
  bus->session = session;
  bus->user_data = user_data;
  bus->strings = g_ptr_array_new_with_free_func (g_free);

  int r = session ? sd_bus_open_user (&bus->bus) : sd_bus_open_system (&bus->bus);
  if (r < 0)
    {
      g_set_error (error, EP_ERROR, EP_ERROR_UNAVAILABLE, "cannot connect to the %s bus: %s",
                   session ? "session" : "system", g_strerror (-r));
      return NULL;
    }
  bus->callers = ep_callers_new (bus->bus, config);
  bus->vtable = ep_bus_vtable_new (method_provision, fixed_vtable, G_N_ELEMENTS (fixed_vtable),
                                   bus->strings);
  r = sd_bus_add_object_vtable (bus->bus, &bus->object_slot, EP_BUS_PATH, EP_BUS_INTERFACE,
                                bus->vtable, bus);
  if (r >= 0)
    r = sd_bus_request_name_async (bus->bus, NULL, EP_BUS_NAME, 0, on_name_reply, bus);
  if (r < 0)
    {
      g_set_error (error, EP_ERROR, EP_ERROR_UNAVAILABLE, "cannot publish %s: %s", EP_BUS_PATH,
                   g_strerror (-r));
      return NULL;
    }
  ep_service_add_listener (svc, &service_listener, bus);
  ep_bus_status_init (bus);
  bus->source = ep_sdbus_source_new (bus->bus, on_bus_error, bus);
  g_source_attach (bus->source, NULL);
  return g_steal_pointer (&bus);
}

typedef struct {
  EpBus *bus;
  EpBusEvent on_released;
} Release;

static int
on_name_released (sd_bus_message *reply, void *data, sd_bus_error *ret_error)
{
  Release *release = data;
  release->on_released (release->bus->user_data);
  return 0;
}

void
ep_bus_release_name (EpBus *bus, EpBusEvent on_released)
{
  Release *release = NULL;
  if (on_released != NULL)
    {
      release = g_new0 (Release, 1);
      release->bus = bus;
      release->on_released = on_released;
    }
  sd_bus_slot *slot = NULL;
  bus->name_released = TRUE;
  int r = sd_bus_release_name_async (bus->bus, release ? &slot : NULL, EP_BUS_NAME,
                                     release ? on_name_released : NULL, release);
  if (r < 0)
    {
      ep_warning ("bus: cannot release %s: %s", EP_BUS_NAME, g_strerror (-r));
      g_free (release);
      return;
    }
  if (slot != NULL)
    {
      /* The bus owns the slot and frees @release with it. */
      sd_bus_slot_set_destroy_callback (slot, g_free);
      sd_bus_slot_set_floating (slot, 1);
      sd_bus_slot_unref (slot);
    }
}

gint64
ep_bus_last_call (EpBus *bus)
{
  return bus->last_call;
}

guint
ep_bus_pending (EpBus *bus)
{
  return bus->pending;
}

void
ep_bus_free (EpBus *bus)
{
  if (bus == NULL)
    return;
  if (bus->svc != NULL)
    ep_service_remove_listener (bus->svc, &service_listener, bus);
  ep_bus_status_free (bus);
  if (bus->active_changed_idle != 0)
    g_source_remove (bus->active_changed_idle);
  if (bus->source != NULL)
    {
      g_source_destroy (bus->source);
      g_source_unref (bus->source);
    }
  sd_bus_slot_unref (bus->object_slot);
  ep_callers_free (bus->callers);
  if (bus->bus != NULL)
    {
      /* Replies and signals queued last must reach the bus before exit. */
      sd_bus_flush (bus->bus);
      sd_bus_flush_close_unref (bus->bus);
    }
  g_free (bus->vtable);
  if (bus->strings)
    g_ptr_array_unref (bus->strings);
  g_free (bus);
}
