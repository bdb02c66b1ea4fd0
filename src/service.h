/* The service (EpService): the one generic provisioning path (validate,
 * route, send, parse, check, store, report), ForgetDevice, and the table of
 * calls in flight behind the Busy rule. It knows kinds only through the
 * table and nothing of D-Bus. */
#pragma once

#include "config.h"
#include "http.h"
#include "keystore.h"
#include "kinds.h"
#include "record.h"

typedef struct EpService EpService;

/* Called exactly once per accepted call. On success @error is NULL and
 * @details describes the device; on failure @device_id and @details are
 * NULL. */
typedef void (*EpProvisionDone) (const EpArgs *args, const char *device_id,
                                 const EpDetails *details, const GError *error,
                                 gpointer user_data);

EpService *ep_service_new (const EpConfig *config, EpKeystore *keystore, EpHttp *http);
void ep_service_free (EpService *svc);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (EpService, ep_service_free)

/* Starts provisioning @args, which must stay valid until @done has run (the
 * caller owns them). Returns FALSE with an EP_ERROR when the
 * call is refused before any request (invalid argument, not supported, busy,
 * no token, shutting down); @done is then not called. */
gboolean ep_service_provision (EpService *svc, const EpArgs *args, EpProvisionDone done,
                               gpointer user_data, GError **error);

typedef void (*EpForgetDone) (const char *device_id, const GError *error, gpointer user_data);

/* Removes a device's local credentials (the device stays on the platform).
 * Fails at once with NotFound for an unknown device and Busy while the
 * device is being provisioned; otherwise @done runs once. */
gboolean ep_service_forget (EpService *svc, const char *device_id, EpForgetDone done,
                            gpointer user_data, GError **error);

/* Calls accepted and not yet finished. */
guint ep_service_active (EpService *svc);

/* @callback runs whenever ep_service_active() changes. */
typedef void (*EpServiceEvent) (gpointer user_data);
void ep_service_on_active_changed (EpService *svc, EpServiceEvent callback, gpointer user_data);

/* From now on every new call is refused with Unavailable (the bus asks
 * ep_service_stopping () before it proceeds with one); calls in flight go on. */
void ep_service_stop_accepting (EpService *svc);
gboolean ep_service_stopping (EpService *svc);

EpKeystore *ep_service_keystore (EpService *svc);
