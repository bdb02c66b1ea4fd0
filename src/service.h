/* The service (EpService): the one generic path of every row of the kinds
 * table, Provision methods and GenerateCredentials alike (validate, route,
 * send, parse, verify, store, report), ForgetDevice, the table of calls in
 * flight behind the Busy rule, and the events others listen to. It knows
 * kinds only through the table and nothing of D-Bus. */
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

/* Starts the call @args of a row of the kinds table (a Provision method or
 * a method on a stored device); @args must stay valid until @done has run
 * (the caller owns them). Returns FALSE with an EP_ERROR when the call is
 * refused before any request (invalid argument, not found, not supported,
 * busy, no token, shutting down); @done is then not called. */
gboolean ep_service_provision (EpService *svc, const EpArgs *args, EpProvisionDone done,
                               gpointer user_data, GError **error);

/* ep_service_provision () of a GenerateCredentials row on the renewal's
 * behalf: the change it makes is "renewed". */
gboolean ep_service_renew (EpService *svc, const EpArgs *args, EpProvisionDone done,
                           gpointer user_data, GError **error);

typedef void (*EpForgetDone) (const char *device_id, const GError *error, gpointer user_data);

/* Removes a device's local credentials (the device stays on the platform).
 * Fails at once with NotFound for an unknown device and Busy while the
 * device is being provisioned; otherwise @done runs once. */
gboolean ep_service_forget (EpService *svc, const char *device_id, EpForgetDone done,
                            gpointer user_data, GError **error);

/* Calls accepted and not yet finished. */
guint ep_service_active (EpService *svc);

/* What the service tells its listeners; any member may be NULL. */
typedef struct {
  /* ep_service_active () changed. */
  void (*active_changed) (gpointer user_data);
  /* A device's set was swapped (@reason: "provisioned", "reprovisioned",
   * "generated", "renewed"; @details as GetDevice's), or the device was
   * forgotten (@reason and @details NULL). Runs after the call's @done. */
  void (*credentials_changed) (const char *device_id, const char *reason,
                               const EpDetails *details, gpointer user_data);
} EpServiceListener;

/* @funcs must outlive the registration; listeners run in the order added. */
void ep_service_add_listener (EpService *svc, const EpServiceListener *funcs,
                              gpointer user_data);
void ep_service_remove_listener (EpService *svc, const EpServiceListener *funcs,
                                 gpointer user_data);

/* From now on every new call is refused with Unavailable (the bus asks
 * ep_service_stopping () before it proceeds with one); calls in flight go on. */
void ep_service_stop_accepting (EpService *svc);
gboolean ep_service_stopping (EpService *svc);

EpKeystore *ep_service_keystore (EpService *svc);
