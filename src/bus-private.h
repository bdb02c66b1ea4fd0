/* What bus.c (the connection, the life of a call, Provision methods,
 * signals), bus-devices.c (the keystore's methods) and bus-status.c
 * (Diagnose and the status properties) share. Not for other modules. */
#pragma once

#include "bus.h"
#include "bus-messages.h"
#include "caller.h"
#include "log.h"

struct EpBus {
  sd_bus *bus;
  GSource *source;
  EpService *svc;
  const EpConfig *config;
  sd_bus_vtable *vtable;
  GPtrArray *strings;        /* signatures and names the vtable points to */
  sd_bus_slot *object_slot;
  EpCallers *callers;
  guint pending;
  gint64 last_call;          /* monotonic time of the latest call received */
  guint active_changed_idle; /* PropertiesChanged pending */
  EpBusEvent on_ready;
  EpBusEvent on_lost;
  EpBusEvent on_idle;
  gpointer user_data;
  gboolean session;
  /* The name is (being) given up: the bus policy can no longer tell our
   * signals from anyone's, so none is broadcast. */
  gboolean name_released;
  GPtrArray *diagnosing;     /* Call: Diagnose calls awaiting the run under way */
  gint64 next_renewal;       /* NextRenewal as last told (Unix seconds) */
  guint next_renewal_idle;   /* its PropertiesChanged pending */
  EpRenewal *renewal;        /* the schedule, once main.c has one */
};

/* One method call from its arrival to its answer. */
typedef struct {
  EpBus *bus;
  sd_bus_message *msg;
  EpArgs *args;
  char *device_id;           /* device calls */
  char *bad_device_id;       /* ... a device_id that is not one, escaped and cut */
  EpCaller caller;
  char *unit;                /* owned copy of caller.unit */
  EpAccess access;           /* who may call it at all */
  void (*proceed) (void *call);
} Call;

/* Emits signal @member carrying what @append makes of @data (none while the
 * name is released). */
void ep_bus_emit (EpBus *bus, const char *member, EpBusAppend append, gconstpointer data);

/* A call received: counted until ep_bus_call_free (); @proceed runs once
 * ep_bus_call_check () has found the caller allowed as @access says. */
Call *ep_bus_call_new (EpBus *bus, sd_bus_message *m, EpAccess access, void (*proceed) (void *));
/* Checks the caller, then proceeds or answers AccessDenied; returns 1 (the
 * call is handled) for the vtable handler to return. */
int ep_bus_call_check (Call *call);
void ep_bus_call_free (Call *call);

/* Answers with @error's D-Bus name and message, logged at warning (or at
 * @level). */
void ep_bus_reply_error (Call *call, const GError *error);
void ep_bus_reply_error_at (Call *call, const GError *error, EpLogLevel level);
/* Answers with what @append makes of @data. */
void ep_bus_reply_with (Call *call, EpBusAppend append, gconstpointer data);
/* The caller for log lines: "uid U, pid P, unit N". */
const char *ep_bus_call_caller (Call *call, char *buf, size_t size);

/* bus-devices.c: the vtable's handlers of the keystore's methods. */
int ep_bus_method_list_devices (sd_bus_message *m, void *userdata, sd_bus_error *ret_error);
int ep_bus_method_get_device (sd_bus_message *m, void *userdata, sd_bus_error *ret_error);
int ep_bus_method_forget_device (sd_bus_message *m, void *userdata, sd_bus_error *ret_error);
int ep_bus_method_open_credentials (sd_bus_message *m, void *userdata, sd_bus_error *ret_error);

/* bus-status.c: Diagnose's handler, the getters of Targets, AutoRenewal
 * and NextRenewal, and what keeps NextRenewal told (from ep_bus_new to
 * ep_bus_free). */
int ep_bus_method_diagnose (sd_bus_message *m, void *userdata, sd_bus_error *ret_error);
int ep_bus_get_targets (sd_bus *b, const char *path, const char *iface, const char *prop,
                        sd_bus_message *reply, void *userdata, sd_bus_error *ret_error);
int ep_bus_get_auto_renewal (sd_bus *b, const char *path, const char *iface, const char *prop,
                             sd_bus_message *reply, void *userdata, sd_bus_error *ret_error);
int ep_bus_get_next_renewal (sd_bus *b, const char *path, const char *iface, const char *prop,
                             sd_bus_message *reply, void *userdata, sd_bus_error *ret_error);
void ep_bus_status_init (EpBus *bus);
void ep_bus_status_free (EpBus *bus);
