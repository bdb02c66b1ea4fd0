/* Renewal ([Renewal]): watches the certificates of the keystore's MQTTS
 * devices, renews each once it has passed At percent of its lifetime (with
 * Auto=yes) through the GenerateCredentials row, retries while that fails,
 * and says when a certificate passes At unrenewed or expires. The schedule
 * is computed from the keystore at start, and for the device concerned after
 * every change, so it survives restarts; one timer waits for the nearest
 * event, and a clock before the daemon's build date judges nothing. */
#pragma once

#include "config.h"
#include "service.h"

typedef struct EpRenewal EpRenewal;

/* CredentialsExpiring: @device_id's certificate, valid until @not_after,
 * has passed At unrenewed, or has expired. */
typedef void (*EpRenewalExpiring) (const char *device_id, gint64 not_after,
                                   gpointer user_data);

/* Starts watching the keystore of @svc; a clock before @build_time (Unix
 * seconds) counts as not set. */
EpRenewal *ep_renewal_new (const EpConfig *config, EpService *svc, gint64 build_time,
                           EpRenewalExpiring expiring, gpointer user_data);
void ep_renewal_free (EpRenewal *renewal);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (EpRenewal, ep_renewal_free)

/* Judges every certificate again now: what the timer and a change of the
 * system clock do (a keystore change judges its device alone). */
void ep_renewal_reschedule (EpRenewal *renewal);

/* Moves the watches together (pack.h), once the daemon is quiet. */
void ep_renewal_pack (EpRenewal *renewal);

/* The wall time (Unix microseconds) the next event is due, or G_MAXINT64
 * when none is: for tests and status. */
gint64 ep_renewal_next (EpRenewal *renewal);

/* When @info's MQTTS certificate is due for renewal: [Renewal] At percent
 * of its lifetime, as wall-clock Unix microseconds, with its dates (µs) in
 * @not_before and @not_after (either may be NULL); G_MAXINT64 when the
 * device has no certificate. What the schedule, the NextRenewal property
 * and Diagnose judge by. */
gint64 ep_renewal_due (const EpConfig *config, const EpDeviceInfo *info, gint64 *not_before,
                       gint64 *not_after);

/* The earliest ep_renewal_due () of the devices in @ks, G_MAXINT64 when
 * none has a certificate; the index only, no I/O, but a look at every
 * device. */
gint64 ep_renewal_next_due (const EpConfig *config, EpKeystore *ks);

/* The same of the keystore @renewal watches, as of its last change,
 * without that look. */
gint64 ep_renewal_earliest_due (EpRenewal *renewal);
