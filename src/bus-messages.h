/* What the service's replies and signals carry, written with sd-bus's own
 * message API: the one way the daemon writes a D-Bus message. bus.c sends
 * them (emit_with, reply_with); each writer fits EpBusAppend. */
#pragma once

#include "keystore.h"
#include "kinds.h"
#include "record.h"

#include <systemd/sd-bus.h>

/* Appends to @m what it carries from @data; a negative errno on failure. */
typedef int (*EpBusAppend) (sd_bus_message *m, gconstpointer data);

/* Nothing: the reply of a method without out-arguments. */
int ep_bus_append_nothing (sd_bus_message *m, gconstpointer data);
/* @data: a string, as (s). */
int ep_bus_append_string (sd_bus_message *m, gconstpointer data);
/* @data: EpDetails, as a{sv}. */
int ep_bus_append_details (sd_bus_message *m, gconstpointer data);

typedef struct {
  const char *kind;
  const char *device_id;
  const EpDetails *details;
} EpBusProvisioned;

/* @data: EpBusProvisioned. The reply to Provision*: (s device_id, a{sv}
 * details); the signal DeviceProvisioned: (s kind, s device_id, a{sv}). */
int ep_bus_append_provisioned_reply (sd_bus_message *m, gconstpointer data);
int ep_bus_append_provisioned_signal (sd_bus_message *m, gconstpointer data);

/* Whether a listing shows the device @device_id (@info: its device.json). */
typedef gboolean (*EpBusShows) (const char *device_id, const EpDeviceInfo *info,
                                gconstpointer data);

typedef struct {
  EpKeystore *keystore;
  EpBusShows shows;          /* NULL: every device */
  gconstpointer shows_data;
} EpBusDeviceList;

/* @data: EpBusDeviceList; the details of every device it shows, sorted by
 * id, as aa{sv}. */
int ep_bus_append_device_list (sd_bus_message *m, gconstpointer data);

typedef struct {
  const EpDetails *details;
  GArray *copies;            /* EpKeystoreCopy */
} EpBusCredentials;

/* @data: EpBusCredentials. The reply to OpenCredentials: (a{sv} details,
 * a{sh} files), each file by name with its fd (sd-bus sends a duplicate). */
int ep_bus_append_credentials (sd_bus_message *m, gconstpointer data);

typedef struct {
  const char *device_id;
  const char *reason;
  const EpDetails *details;
} EpBusCredentialsChanged;

/* @data: EpBusCredentialsChanged. CredentialsChanged: (s device_id,
 * s reason, a{sv} details). */
int ep_bus_append_credentials_changed (sd_bus_message *m, gconstpointer data);

typedef struct {
  const char *device_id;
  gint64 not_after;
} EpBusExpiring;

/* @data: EpBusExpiring. CredentialsExpiring: (s device_id, x not_after). */
int ep_bus_append_expiring (sd_bus_message *m, gconstpointer data);

typedef struct {
  const char *kind;
  const char *error_name;
  const char *message;
  const EpArgs *args;
} EpBusFailed;

/* @data: EpBusFailed. ProvisioningFailed: (s kind, s error_name, s message,
 * a{sv} request), the request being the call's arguments by name. */
int ep_bus_append_failed_signal (sd_bus_message *m, gconstpointer data);
