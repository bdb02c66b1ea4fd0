/* What the service's replies and signals carry, written straight into
 * sd-bus messages (the ones sent for every provisioning without building a
 * GVariant first). bus.c sends them; each writer fits EpBusAppend. */
#pragma once

#include "keystore.h"
#include "kinds.h"
#include "record.h"

#include <systemd/sd-bus.h>

/* Appends to @m what it carries from @data; a negative errno on failure. */
typedef int (*EpBusAppend) (sd_bus_message *m, gconstpointer data);

/* @data: a tuple GVariant, appended item by item. */
int ep_bus_append_tuple (sd_bus_message *m, gconstpointer data);
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

/* @data: EpKeystore; every device's details, sorted by id, as aa{sv}. */
int ep_bus_append_device_list (sd_bus_message *m, gconstpointer data);

/* A call's arguments by name as a{sv}, for ProvisioningFailed (floating). */
GVariant *ep_bus_request_dict (const EpArgs *args);
