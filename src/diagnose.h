/* Diagnose (enapter-provisiond(8) DIAGNOSTICS): the daemon's health as
 * checks an operator can act on, each with a stable name, a level (ok,
 * warning, error) and a message saying what to do. In this order:
 *
 *   config                the configuration file (diagnose-config.h)
 *   token:cloud, token:gateway    the token files
 *   clock                 the system clock is plausible
 *   keystore              the keystore path (diagnose-keystore.h)
 *   device:<id>           each device directory's set, by id; and after
 *   certificate:<id>        each MQTTS device's, its certificate's dates
 *   api:cloud, api:gateway        each API reachable (diagnose-net.h)
 *
 * Nothing blocks the loop: the files are looked at in worker threads, the
 * APIs through libcurl on the loop, all at once. Nothing is changed, no
 * request is sent, no secret is read into a message. */
#pragma once

#include "config.h"
#include "diagnose-check.h"
#include "keystore.h"

/* @checks (EpCheck, in the order above) belongs to the callee: it is freed
 * once this returns. */
typedef void (*EpDiagnoseDone) (GPtrArray *checks, gpointer user_data);

/* Runs every check; @done runs once, from the loop, never within this
 * call, when the slowest is done (at most a little over Timeout for the
 * APIs). @config and @ks must outlive the run; @build_time (Unix seconds)
 * is the clock rule's (renewal.h). */
void ep_diagnose (const EpConfig *config, EpKeystore *ks, gint64 build_time,
                  EpDiagnoseDone done, gpointer user_data);

/* The judgments made on the loop, from what the daemon holds (times are
 * wall-clock Unix microseconds, @build_time seconds). */

/* "clock": an error before @build_time, when it cannot be right. */
EpCheck *ep_diagnose_clock (gint64 now, gint64 build_time);

/* "certificate:<@device_id>" of the certificate @info (a stored
 * device.json) records: an error once expired, a warning once renewal is
 * due ([Renewal] At) or within 7 days of expiry, or when the clock is not
 * set; NULL for a device without an MQTTS certificate. */
EpCheck *ep_diagnose_certificate (const EpConfig *config, const char *device_id,
                                  const EpDeviceInfo *info, gint64 now, gint64 build_time);
