/* What the keystore index keeps of a device.json: its string and integer
 * fields, flattened into one allocation ("config.mqtt_port" for a member of
 * "config"). A JsonObject tree costs about ten times as much and scatters
 * over the heap, which then cannot be given back after a burst. */
#pragma once

#include <json-glib/json-glib.h>

#include "fields.h"

typedef struct EpDeviceInfo EpDeviceInfo;

/* The fields of @metadata: top-level strings and integers, and those of the
 * objects the device schema nests fields in ("config", fields.h). Numbers that are not integers, booleans and arrays are
 * left out: nothing looks them up. */
EpDeviceInfo *ep_device_info_new (JsonObject *metadata);
/* Frees an info of ep_device_info_new, packed or not (pack.h). */
void ep_device_info_free (EpDeviceInfo *info);
/* Its size in bytes, for moving it. */
gsize ep_device_info_size (const EpDeviceInfo *info);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (EpDeviceInfo, ep_device_info_free)

/* The value of @field (integers in decimal), or NULL when absent. */
const char *ep_device_info_get (const EpDeviceInfo *info, const char *field);
/* What a stored device.json says of @id (its row's stored path), or NULL. */
const char *ep_device_info_field (const EpDeviceInfo *info, EpFieldId id);
