/* What is stored about a device and how it is shown: device.json from a
 * call and its response, the credential files, and the details dictionary of
 * replies and signals, which is derived from device.json alone so replies and
 * listings always agree. Never a secret in metadata or details. */
#pragma once

#include "api.h"
#include "keystore.h"

/* device.json for a device provisioned now by @args with @result through
 * @target ("cloud" or "gateway"). */
JsonObject *ep_record_metadata (const EpArgs *args, const EpApiResult *result,
                                const char *target);

/* The complete keystore entry: device.json plus the credential files. */
EpKeystoreEntry *ep_record_entry (const EpArgs *args, const EpApiResult *result,
                                  const char *target);

/* The entry that replaces a stored device's config and credentials with
 * @result's (GenerateCredentials, renewal): its identity in device.json
 * stays, credentials_updated_at becomes now. */
EpKeystoreEntry *ep_record_update_entry (const EpApiResult *result);

/* The same in two steps, so that the files can be written while the set is
 * checked: the entry with @result's credential files, and later its
 * device.json, as ep_record_entry () (or, for a call on a stored device,
 * ep_record_update_entry ()) makes it. */
EpKeystoreEntry *ep_record_files (const EpApiResult *result);
void ep_record_complete (EpKeystoreEntry *entry, const EpArgs *args, const EpApiResult *result,
                         const char *target);

/* One entry of the details a{sv}. */
typedef struct {
  const char *key;
  char type;                 /* 's', 'u', 'x' or 'b' */
  const char *string;        /* 's' */
  gint64 number;             /* 'u' (0..G_MAXUINT32), 'x'; 'b' as 0 or 1 */
} EpDetail;

/* The details of README "D-Bus API", as plain data so the bus writes them
 * straight into a message. The strings point into the EpDeviceInfo they
 * were made from: use them before the index changes. */
typedef struct {
  EpDetail items[24];
  guint n;
  char *keystore_path;       /* owned */
} EpDetails;

/* The details from what a device.json holds, with keystore_path set to
 * @keystore_path/<device_id>. Clear them with ep_details_clear(). */
void ep_record_details (EpDetails *details, const EpDeviceInfo *info, const char *keystore_path,
                        gboolean reprovisioned);
void ep_details_clear (EpDetails *details);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (EpDetails, ep_details_clear)
/* The entry for @key, or NULL. */
const EpDetail *ep_details_lookup (const EpDetails *details, const char *key);
