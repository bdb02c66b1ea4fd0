/* Diagnose's look at the keystore (enapter-provisiond(8) DIAGNOSTICS):
 * "keystore", whether the daemon would accept its path at the next start
 * (keystore-checks.h) and whether the path still leads to the directory it
 * serves; and "device:<id>" for every device it serves, and for every
 * device directory it does not serve: the set complete for its protocol,
 * each file a regular, single-linked file of the daemon's with its mode,
 * and an MQTTS key matching its certificate (credentials.h). It reads
 * files, so it runs in a worker thread, on a snapshot of the index taken
 * on the loop; it changes nothing. */
#pragma once

#include "keystore.h"

/* Starts the checks of @ks, which must outlive them; @callback runs on the
 * loop. */
void ep_diagnose_keystore_async (EpKeystore *ks, GAsyncReadyCallback callback,
                                 gpointer user_data);

/* The checks (EpCheck): "keystore", then "device:<id>" in the order of the
 * ids. A device forgotten meanwhile is left out, and so is a directory
 * that was not served at the snapshot but is now (written meanwhile). */
GPtrArray *ep_diagnose_keystore_finish (EpKeystore *ks, GAsyncResult *result);
