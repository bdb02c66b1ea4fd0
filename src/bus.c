#include "bus.h"

#include "ep-build-config.h"
#include "errors.h"
#include "log.h"
#include "record.h"

#include <errno.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <string.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-login.h>
#include <time.h>
#include <unistd.h>

G_DEFINE_AUTOPTR_CLEANUP_FUNC (sd_bus_message, sd_bus_message_unref)

struct EpBus {
  sd_bus *bus;
  GSource *source;
  EpService *svc;
  const EpConfig *config;
  sd_bus_vtable *vtable;
  GPtrArray *strings;        /* signatures and names the vtable points to */
  sd_bus_slot *object_slot;
  guint pending;
  EpBusEvent on_ready;
  EpBusEvent on_lost;
  gpointer user_data;
};

/* One method call from its arrival to its answer. */
typedef struct {
  EpBus *bus;
  sd_bus_message *msg;
  const EpKind *kind;        /* Provision* calls */
  EpArgs *args;
  char *device_id;           /* device calls */
  sd_bus_slot *creds_slot;
  uid_t uid;
  pid_t pid;
  char *unit;
  void (*proceed) (void *call);
} Call;

/* ---- sd-bus on the GLib loop ----------------------------------------- */

typedef struct {
  GSource source;
  sd_bus *bus;
  gpointer tag;
  EpBus *owner;
} BusSource;

static gint64
bus_timeout_us (sd_bus *bus)
{
  uint64_t usec = UINT64_MAX;
  if (sd_bus_get_timeout (bus, &usec) < 0 || usec == UINT64_MAX)
    return -1;
  return (gint64) MIN (usec, (uint64_t) G_MAXINT64);
}

static gboolean
bus_source_prepare (GSource *source, gint *timeout)
{
  BusSource *s = (BusSource *) source;
  int events = sd_bus_get_events (s->bus);
  GIOCondition cond = 0;
  if (events > 0 && (events & POLLIN))
    cond |= G_IO_IN;
  if (events > 0 && (events & POLLOUT))
    cond |= G_IO_OUT;
  g_source_modify_unix_fd (source, s->tag, cond);

  /* sd-bus reports an absolute CLOCK_MONOTONIC time, as GLib's clock. */
  gint64 when = bus_timeout_us (s->bus);
  if (when < 0)
    {
      *timeout = -1;
      return FALSE;
    }
  gint64 now = g_source_get_time (source);
  if (when <= now)
    {
      *timeout = 0;
      return TRUE;
    }
  *timeout = (gint) MIN ((when - now + 999) / 1000, G_MAXINT);
  return FALSE;
}

static gboolean
bus_source_check (GSource *source)
{
  BusSource *s = (BusSource *) source;
  if (g_source_query_unix_fd (source, s->tag) != 0)
    return TRUE;
  gint64 when = bus_timeout_us (s->bus);
  return when >= 0 && when <= g_source_get_time (source);
}

static gboolean
bus_source_dispatch (GSource *source, GSourceFunc callback, gpointer data)
{
  BusSource *s = (BusSource *) source;
  int r;
  while ((r = sd_bus_process (s->bus, NULL)) > 0)
    ;
  if (r < 0)
    {
      ep_error ("bus: connection lost: %s", g_strerror (-r));
      s->owner->on_lost (s->owner->user_data);
      return G_SOURCE_REMOVE;
    }
  return G_SOURCE_CONTINUE;
}

static GSourceFuncs bus_source_funcs = {
  .prepare = bus_source_prepare,
  .check = bus_source_check,
  .dispatch = bus_source_dispatch,
};

static GSource *
bus_source_new (EpBus *owner)
{
  GSource *source = g_source_new (&bus_source_funcs, sizeof (BusSource));
  BusSource *s = (BusSource *) source;
  s->bus = owner->bus;
  s->owner = owner;
  s->tag = g_source_add_unix_fd (source, sd_bus_get_fd (owner->bus), G_IO_IN);
  g_source_set_name (source, "sd-bus");
  return source;
}

/* ---- messages --------------------------------------------------------- */

/* Appends an a{sv} GVariant; values are basic types or nested a{sv}/aa{sv}. */
static int append_variant (sd_bus_message *m, GVariant *value);

static int
append_variant (sd_bus_message *m, GVariant *value)
{
  const char *type = g_variant_get_type_string (value);
  int r = 0;
  switch (type[0])
    {
    case 's':
      return sd_bus_message_append_basic (m, 's', g_variant_get_string (value, NULL));
    case 'b':
      {
        int b = g_variant_get_boolean (value);
        return sd_bus_message_append_basic (m, 'b', &b);
      }
    case 'u':
      {
        uint32_t u = g_variant_get_uint32 (value);
        return sd_bus_message_append_basic (m, 'u', &u);
      }
    case 'd':
      {
        double d = g_variant_get_double (value);
        return sd_bus_message_append_basic (m, 'd', &d);
      }
    case 'v':
      {
        g_autoptr (GVariant) inner = g_variant_get_variant (value);
        r = sd_bus_message_open_container (m, 'v', g_variant_get_type_string (inner));
        if (r >= 0)
          r = append_variant (m, inner);
        return r >= 0 ? sd_bus_message_close_container (m) : r;
      }
    case 'a':
    case '{':
      {
        char container = type[0] == 'a' ? 'a' : 'e';
        /* For 'a' the contents are the element type; for '{' the pair. */
        g_autofree char *contents = type[0] == 'a' ? g_strdup (type + 1)
                                                   : g_strndup (type + 1, strlen (type) - 2);
        r = sd_bus_message_open_container (m, container, contents);
        GVariantIter it;
        GVariant *child;
        g_variant_iter_init (&it, value);
        while (r >= 0 && (child = g_variant_iter_next_value (&it)) != NULL)
          {
            r = append_variant (m, child);
            g_variant_unref (child);
          }
        return r >= 0 ? sd_bus_message_close_container (m) : r;
      }
    default:
      return -EINVAL;
    }
}

/* The call's arguments as a{sv}, for ProvisioningFailed. */
static GVariant *
request_dict (const EpArgs *args)
{
  GVariantBuilder b;
  g_variant_builder_init (&b, G_VARIANT_TYPE_VARDICT);
  for (guint i = 0; i < ep_kind_n_args (args->kind); i++)
    {
      const EpArg *arg = &args->kind->args[i];
      if (arg->type == 'd')
        g_variant_builder_add (&b, "{sv}", arg->name, g_variant_new_double (args->num[i]));
      else if (args->str[i] != NULL)
        g_variant_builder_add (&b, "{sv}", arg->name, g_variant_new_string (args->str[i]));
    }
  return g_variant_ref_sink (g_variant_builder_end (&b));
}

static void
emit (EpBus *bus, const char *member, const char *types, const char *s1, const char *s2,
      const char *s3, GVariant *dict)
{
  g_autoptr (sd_bus_message) m = NULL;
  int r = sd_bus_message_new_signal (bus->bus, &m, EP_BUS_PATH, EP_BUS_INTERFACE, member);
  if (r >= 0)
    r = sd_bus_message_append (m, types, s1, s2, s3);
  if (r >= 0)
    r = append_variant (m, dict);
  if (r >= 0)
    r = sd_bus_send (bus->bus, m, NULL);
  if (r < 0)
    ep_warning ("bus: cannot emit %s: %s", member, g_strerror (-r));
}

/* ---- calls ------------------------------------------------------------ */

static void
call_free (Call *call)
{
  call->bus->pending--;
  sd_bus_slot_unref (call->creds_slot);
  sd_bus_message_unref (call->msg);
  ep_args_free (call->args);
  g_free (call->device_id);
  g_free (call->unit);
  g_free (call);
}

static const char *
caller_text (Call *call, char *buf, size_t size)
{
  g_snprintf (buf, size, "uid %u, pid %d, unit %s", (unsigned) call->uid, (int) call->pid,
              call->unit ? call->unit : "-");
  return buf;
}

static void
reply_error (Call *call, const GError *error)
{
  char who[256];
  const char *name = ep_error_dbus_name (error);
  ep_info ("%s (%s): %s: %s", sd_bus_message_get_member (call->msg),
           caller_text (call, who, sizeof who), name, error->message);
  int r = sd_bus_reply_method_errorf (call->msg, name, "%s", error->message);
  if (r < 0)
    ep_debug ("bus: the caller of %s is gone: %s", sd_bus_message_get_member (call->msg),
              g_strerror (-r));
}

static void
reply_variant (Call *call, const char *prefix_types, const char *s, GVariant *value)
{
  g_autoptr (sd_bus_message) reply = NULL;
  int r = sd_bus_message_new_method_return (call->msg, &reply);
  if (r >= 0 && prefix_types != NULL)
    r = sd_bus_message_append (reply, prefix_types, s);
  if (r >= 0 && value != NULL)
    r = append_variant (reply, value);
  if (r >= 0)
    r = sd_bus_send (NULL, reply, NULL);
  if (r < 0)
    ep_debug ("bus: cannot answer %s: %s", sd_bus_message_get_member (call->msg),
              g_strerror (-r));
}

static void
on_provisioned (const EpArgs *args, const char *device_id, GVariant *details,
                const GError *error, gpointer data)
{
  Call *call = data;
  EpBus *bus = call->bus;
  const EpKind *kind = call->kind;

  if (error != NULL)
    {
      reply_error (call, error);
      g_autoptr (GVariant) request = request_dict (args);
      emit (bus, "ProvisioningFailed", "sss", kind->kind, ep_error_dbus_name (error),
            error->message, request);
    }
  else
    {
      char who[256];
      ep_info ("%s (%s): %s device %s stored in the keystore", kind->method,
               caller_text (call, who, sizeof who), kind->kind, device_id);
      reply_variant (call, "s", device_id, details);
      /* Also when the caller has gone: others may be waiting for it. */
      emit (bus, "DeviceProvisioned", "ss", kind->kind, device_id, NULL, details);
    }
  call_free (call);
}

static void
proceed_provision (void *data)
{
  Call *call = data;
  g_autoptr (GError) error = NULL;
  char who[256];
  ep_debug ("%s called by %s", call->kind->method, caller_text (call, who, sizeof who));
  if (ep_service_provision (call->bus->svc, call->args, on_provisioned, call, &error))
    return;
  on_provisioned (call->args, NULL, NULL, error, call);
}

static void
proceed_get_device (void *data)
{
  Call *call = data;
  EpKeystore *ks = ep_service_keystore (call->bus->svc);
  JsonObject *meta = ep_keystore_lookup (ks, call->device_id);
  if (meta == NULL)
    {
      g_autoptr (GError) error = g_error_new (EP_ERROR, EP_ERROR_NOT_FOUND,
                                              "the keystore holds no device %s", call->device_id);
      reply_error (call, error);
    }
  else
    {
      g_autoptr (GVariant) details =
          g_variant_ref_sink (ep_record_details (meta, ep_keystore_path (ks), FALSE));
      reply_variant (call, NULL, NULL, details);
    }
  call_free (call);
}

static void
proceed_list_devices (void *data)
{
  Call *call = data;
  EpKeystore *ks = ep_service_keystore (call->bus->svc);
  g_autoptr (GPtrArray) ids = ep_keystore_list (ks);
  GVariantBuilder b;
  g_variant_builder_init (&b, G_VARIANT_TYPE ("aa{sv}"));
  for (guint i = 0; i < ids->len; i++)
    g_variant_builder_add_value (
        &b, ep_record_details (ep_keystore_lookup (ks, ids->pdata[i]), ep_keystore_path (ks),
                               FALSE));
  g_autoptr (GVariant) list = g_variant_ref_sink (g_variant_builder_end (&b));
  reply_variant (call, NULL, NULL, list);
  call_free (call);
}

static void
on_forgotten (const char *device_id, const GError *error, gpointer data)
{
  Call *call = data;
  if (error != NULL)
    reply_error (call, error);
  else
    {
      char who[256];
      ep_info ("ForgetDevice (%s): device %s removed from the keystore",
               caller_text (call, who, sizeof who), device_id);
      reply_variant (call, NULL, NULL, NULL);
      g_autoptr (sd_bus_message) m = NULL;
      int r = sd_bus_message_new_signal (call->bus->bus, &m, EP_BUS_PATH, EP_BUS_INTERFACE,
                                         "DeviceForgotten");
      if (r >= 0)
        r = sd_bus_message_append (m, "s", device_id);
      if (r >= 0)
        r = sd_bus_send (call->bus->bus, m, NULL);
      if (r < 0)
        ep_warning ("bus: cannot emit DeviceForgotten: %s", g_strerror (-r));
    }
  call_free (call);
}

static void
proceed_forget (void *data)
{
  Call *call = data;
  g_autoptr (GError) error = NULL;
  if (!ep_service_forget (call->bus->svc, call->device_id, on_forgotten, call, &error))
    on_forgotten (call->device_id, error, call);
}

/* ---- who may call ----------------------------------------------------- */

static gboolean
in_group (gid_t want, GVariant *creds, uid_t uid)
{
  g_autoptr (GVariant) gids = g_variant_lookup_value (creds, "UnixGroupIDs", G_VARIANT_TYPE ("au"));
  if (gids != NULL)
    {
      gsize n;
      const guint32 *list = g_variant_get_fixed_array (gids, &n, sizeof (guint32));
      for (gsize i = 0; i < n; i++)
        if (list[i] == want)
          return TRUE;
      return FALSE;
    }
  /* An older bus does not report groups: ask the user database. */
  struct passwd *pw = getpwuid (uid);
  if (pw == NULL)
    return FALSE;
  int n = 64;
  g_autofree gid_t *groups = g_new (gid_t, n);
  if (getgrouplist (pw->pw_name, pw->pw_gid, groups, &n) < 0)
    {
      groups = g_renew (gid_t, groups, n);
      if (getgrouplist (pw->pw_name, pw->pw_gid, groups, &n) < 0)
        return FALSE;
    }
  for (int i = 0; i < n; i++)
    if (groups[i] == want)
      return TRUE;
  return FALSE;
}

static gboolean
may_call (EpBus *bus, uid_t uid, GVariant *creds)
{
  /* Root, and the daemon's own user (a development session bus). */
  if (uid == 0 || uid == geteuid ())
    return TRUE;
  return bus->config->access_gid_known && in_group (bus->config->access_gid, creds, uid);
}

/* The bus driver's answer to GetConnectionCredentials as a GVariant a{sv}
 * of the few members used here. */
static GVariant *
read_creds (sd_bus_message *reply)
{
  GVariantBuilder b;
  g_variant_builder_init (&b, G_VARIANT_TYPE_VARDICT);
  if (sd_bus_message_enter_container (reply, 'a', "{sv}") < 0)
    return NULL;
  while (sd_bus_message_enter_container (reply, 'e', "sv") > 0)
    {
      const char *key = NULL;
      if (sd_bus_message_read_basic (reply, 's', &key) < 0)
        return NULL;
      uint32_t u;
      if ((strcmp (key, "UnixUserID") == 0 || strcmp (key, "ProcessID") == 0) &&
          sd_bus_message_read (reply, "v", "u", &u) >= 0)
        g_variant_builder_add (&b, "{sv}", key, g_variant_new_uint32 (u));
      else if (strcmp (key, "UnixGroupIDs") == 0 &&
               sd_bus_message_enter_container (reply, 'v', "au") > 0)
        {
          const void *data = NULL;
          size_t size = 0;
          if (sd_bus_message_read_array (reply, 'u', &data, &size) < 0)
            return NULL;
          g_variant_builder_add (&b, "{sv}", key,
                                 g_variant_new_fixed_array (G_VARIANT_TYPE_UINT32, data,
                                                            size / sizeof (uint32_t),
                                                            sizeof (uint32_t)));
          sd_bus_message_exit_container (reply);
        }
      else if (sd_bus_message_skip (reply, "v") < 0)
        return NULL;
      if (sd_bus_message_exit_container (reply) < 0)
        return NULL;
    }
  return g_variant_ref_sink (g_variant_builder_end (&b));
}

static int
on_creds (sd_bus_message *reply, void *data, sd_bus_error *ret_error)
{
  Call *call = data;
  g_autoptr (GVariant) creds = NULL;
  guint32 uid = G_MAXUINT32, pid = 0;

  call->creds_slot = sd_bus_slot_unref (call->creds_slot);
  if (!sd_bus_message_is_method_error (reply, NULL))
    creds = read_creds (reply);
  if (creds == NULL || !g_variant_lookup (creds, "UnixUserID", "u", &uid))
    {
      g_autoptr (GError) error = g_error_new (EP_ERROR, EP_ERROR_ACCESS_DENIED,
                                              "the caller's credentials could not be verified");
      reply_error (call, error);
      call_free (call);
      return 0;
    }
  g_variant_lookup (creds, "ProcessID", "u", &pid);
  call->uid = uid;
  call->pid = (pid_t) pid;
  if (pid > 0)
    sd_pid_get_unit (call->pid, &call->unit);

  if (!may_call (call->bus, call->uid, creds))
    {
      g_autoptr (GError) error = g_error_new (
          EP_ERROR, EP_ERROR_ACCESS_DENIED,
          "%s may be called by root and members of group %s only",
          sd_bus_message_get_member (call->msg),
          call->bus->config->access_group ? call->bus->config->access_group : "(none)");
      reply_error (call, error);
      call_free (call);
      return 0;
    }
  call->proceed (call);
  return 0;
}

/* Asks the bus driver who sent @call without blocking the loop, then
 * continues with call->proceed or answers AccessDenied. */
static int
check_caller (Call *call)
{
  int r = sd_bus_call_method_async (call->bus->bus, &call->creds_slot, "org.freedesktop.DBus",
                                    "/org/freedesktop/DBus", "org.freedesktop.DBus",
                                    "GetConnectionCredentials", on_creds, call, "s",
                                    sd_bus_message_get_sender (call->msg));
  if (r < 0)
    {
      g_autoptr (GError) error = g_error_new (EP_ERROR, EP_ERROR_ACCESS_DENIED,
                                              "the caller's credentials could not be verified");
      reply_error (call, error);
      call_free (call);
    }
  return 1;
}

static Call *
call_new (EpBus *bus, sd_bus_message *m, void (*proceed) (void *))
{
  Call *call = g_new0 (Call, 1);
  call->bus = bus;
  call->msg = sd_bus_message_ref (m);
  call->uid = (uid_t) -1;
  call->proceed = proceed;
  bus->pending++;
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
        return sd_bus_error_setf (ret_error, SD_BUS_ERROR_INVALID_ARGS,
                                  "%s: cannot read argument %s", kind->method,
                                  kind->args[i].name);
      args->str[i] = g_strdup (s);
    }
  Call *call = call_new (bus, m, proceed_provision);
  call->kind = kind;
  call->args = g_steal_pointer (&args);
  return check_caller (call);
}

static int
method_device (sd_bus_message *m, void *userdata, sd_bus_error *ret_error,
               void (*proceed) (void *))
{
  const char *id = NULL;
  int r = sd_bus_message_read_basic (m, 's', &id);
  if (r < 0)
    return r;
  Call *call = call_new (userdata, m, proceed);
  call->device_id = g_strdup (id);
  return check_caller (call);
}

static int
method_get_device (sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
  return method_device (m, userdata, ret_error, proceed_get_device);
}

static int
method_forget_device (sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
  return method_device (m, userdata, ret_error, proceed_forget);
}

static int
method_list_devices (sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
  return check_caller (call_new (userdata, m, proceed_list_devices));
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

static void
on_active_changed (gpointer data)
{
  EpBus *bus = data;
  int r = sd_bus_emit_properties_changed (bus->bus, EP_BUS_PATH, EP_BUS_INTERFACE,
                                          "ActiveRequests", NULL);
  if (r < 0)
    ep_warning ("bus: cannot emit PropertiesChanged: %s", g_strerror (-r));
}

/* ---- the vtable ------------------------------------------------------- */

/* Everything but the Provision methods, which come from the kinds table. */
static const sd_bus_vtable fixed_vtable[] = {
  SD_BUS_METHOD_WITH_NAMES ("ListDevices", "", , "aa{sv}", SD_BUS_PARAM (devices),
                            method_list_devices, SD_BUS_VTABLE_UNPRIVILEGED),
  SD_BUS_METHOD_WITH_NAMES ("GetDevice", "s", SD_BUS_PARAM (device_id), "a{sv}",
                            SD_BUS_PARAM (details), method_get_device,
                            SD_BUS_VTABLE_UNPRIVILEGED),
  SD_BUS_METHOD_WITH_NAMES ("ForgetDevice", "s", SD_BUS_PARAM (device_id), "", ,
                            method_forget_device, SD_BUS_VTABLE_UNPRIVILEGED),
  SD_BUS_SIGNAL_WITH_NAMES ("DeviceProvisioned", "ssa{sv}",
                            SD_BUS_PARAM (kind) SD_BUS_PARAM (device_id) SD_BUS_PARAM (details),
                            0),
  SD_BUS_SIGNAL_WITH_NAMES ("ProvisioningFailed", "sssa{sv}",
                            SD_BUS_PARAM (kind) SD_BUS_PARAM (error_name)
                                SD_BUS_PARAM (message) SD_BUS_PARAM (request),
                            0),
  SD_BUS_SIGNAL_WITH_NAMES ("DeviceForgotten", "s", SD_BUS_PARAM (device_id), 0),
  SD_BUS_PROPERTY ("Version", "s", get_version, 0, SD_BUS_VTABLE_PROPERTY_CONST),
  SD_BUS_PROPERTY ("ActiveRequests", "u", get_active, 0,
                   SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
};

static const char *
keep (EpBus *bus, char *s)
{
  g_ptr_array_add (bus->strings, s);
  return s;
}

/* Argument names for introspection: each in-argument, then the two
 * out-arguments, every one NUL-terminated. */
static char *
method_names (const EpKind *kind)
{
  GString *names = g_string_new (NULL);
  for (guint i = 0; i < ep_kind_n_args (kind); i++)
    g_string_append_len (names, kind->args[i].name, strlen (kind->args[i].name) + 1);
  g_string_append_len (names, "device_id\0details\0", sizeof "device_id\0details\0");
  return g_string_free (names, FALSE);
}

static sd_bus_vtable *
build_vtable (EpBus *bus)
{
  static const sd_bus_vtable start = SD_BUS_VTABLE_START (0);
  static const sd_bus_vtable end = SD_BUS_VTABLE_END;
  gsize n_kinds = 0;
  while (ep_kinds[n_kinds].kind != NULL)
    n_kinds++;

  /* Zeroed, so the unused parts of each entry's union are defined. */
  sd_bus_vtable *vt = g_new0 (sd_bus_vtable, n_kinds + G_N_ELEMENTS (fixed_vtable) + 2);
  sd_bus_vtable *v = vt;
  memcpy (v++, &start, sizeof start);
  for (gsize i = 0; i < n_kinds; i++, v++)
    {
      const EpKind *kind = &ep_kinds[i];
      v->type = _SD_BUS_VTABLE_METHOD;
      v->flags = SD_BUS_VTABLE_UNPRIVILEGED;
      v->x.method.member = kind->method;
      v->x.method.signature = keep (bus, ep_kind_signature (kind));
      v->x.method.result = "sa{sv}";
      v->x.method.handler = method_provision;
      v->x.method.names = keep (bus, method_names (kind));
    }
  memcpy (v, fixed_vtable, sizeof fixed_vtable);
  v += G_N_ELEMENTS (fixed_vtable);
  memcpy (v, &end, sizeof end);
  return vt;
}

/* ---- the connection --------------------------------------------------- */

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
  ep_info ("serving %s on the %s bus", EP_BUS_NAME, "D-Bus");
  bus->on_ready (bus->user_data);
  return 0;
}

EpBus *
ep_bus_new (EpService *svc, const EpConfig *config, gboolean session, EpBusEvent on_ready,
            EpBusEvent on_lost, gpointer user_data, GError **error)
{
  g_autoptr (EpBus) bus = g_new0 (EpBus, 1);
  bus->svc = svc;
  bus->config = config;
  bus->on_ready = on_ready;
  bus->on_lost = on_lost;
  bus->user_data = user_data;
  bus->strings = g_ptr_array_new_with_free_func (g_free);

  int r = session ? sd_bus_open_user (&bus->bus) : sd_bus_open_system (&bus->bus);
  if (r < 0)
    {
      g_set_error (error, EP_ERROR, EP_ERROR_UNAVAILABLE, "cannot connect to the %s bus: %s",
                   session ? "session" : "system", g_strerror (-r));
      return NULL;
    }
  bus->vtable = build_vtable (bus);
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
  ep_service_on_active_changed (svc, G_CALLBACK (on_active_changed), bus);
  bus->source = bus_source_new (bus);
  g_source_attach (bus->source, NULL);
  return g_steal_pointer (&bus);
}

void
ep_bus_release_name (EpBus *bus)
{
  int r = sd_bus_release_name_async (bus->bus, NULL, EP_BUS_NAME, NULL, NULL);
  if (r < 0)
    ep_warning ("bus: cannot release %s: %s", EP_BUS_NAME, g_strerror (-r));
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
    ep_service_on_active_changed (bus->svc, NULL, NULL);
  if (bus->source != NULL)
    {
      g_source_destroy (bus->source);
      g_source_unref (bus->source);
    }
  sd_bus_slot_unref (bus->object_slot);
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
