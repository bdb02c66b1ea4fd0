/* The D-Bus face of the service (README "D-Bus API"): sd-bus driven by the GLib
 * loop, the vtable built from the kinds table, the caller check, deferred
 * replies and signals. */
#pragma once

#include "config.h"
#include "renewal.h"
#include "service.h"

#define EP_BUS_NAME "com.enapter.Provisioning1"
#define EP_BUS_PATH "/com/enapter/Provisioning1"
#define EP_BUS_INTERFACE "com.enapter.Provisioning1"

typedef struct EpBus EpBus;

typedef void (*EpBusEvent) (gpointer user_data);

/* Connects to the system bus (or the session bus), publishes the object and
 * asks for the name. @on_ready runs once the name is owned; @on_lost when the
 * name cannot be had or the connection drops; @on_idle whenever the last
 * call received has been answered. */
EpBus *ep_bus_new (EpService *svc, const EpConfig *config, gboolean session,
                   EpBusEvent on_ready, EpBusEvent on_lost, EpBusEvent on_idle,
                   gpointer user_data, GError **error);
void ep_bus_free (EpBus *bus);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (EpBus, ep_bus_free)

/* Gives up the name so new callers are not routed here; calls already
 * received are still answered. @on_released (may be NULL) runs once the bus
 * has confirmed: no call for the name can arrive after that. */
void ep_bus_release_name (EpBus *bus, EpBusEvent on_released);

/* The schedule NextRenewal is read from (NULL: none yet, or no longer;
 * then it is computed from the keystore). */
void ep_bus_set_renewal (EpBus *bus, EpRenewal *renewal);

/* Emits CredentialsExpiring (renewal.h decides when). */
void ep_bus_emit_credentials_expiring (EpBus *bus, const char *device_id, gint64 not_after);

/* g_get_monotonic_time () of the latest call received, 0 before any. */
gint64 ep_bus_last_call (EpBus *bus);

/* Calls received whose answer is still to be sent. */
guint ep_bus_pending (EpBus *bus);
