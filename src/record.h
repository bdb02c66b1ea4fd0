/* What is stored about a device and how it is shown: device.json from a
 * call and its response, the credential files, and the details dictionary of
 * replies and signals, which is derived from device.json alone so replies and
 * listings always agree. Never a secret in metadata or details. */
#pragma once

#include "api.h"
#include "keystore.h"

/* device.json for a device provisioned now by @args with @result. */
JsonObject *ep_record_metadata (const EpArgs *args, const EpApiResult *result);

/* The complete keystore entry: device.json plus the credential files. */
EpKeystoreEntry *ep_record_entry (const EpArgs *args, const EpApiResult *result);

/* The a{sv} details of SPEC section 3 from what a device.json holds, with
 * keystore_path set to @keystore_path/<device_id>. Floating reference. */
GVariant *ep_record_details (const EpDeviceInfo *info, const char *keystore_path,
                             gboolean reprovisioned);
