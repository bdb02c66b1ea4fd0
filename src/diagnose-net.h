/* Diagnose's reachability checks (enapter-provisiond(8) DIAGNOSTICS):
 * "api:cloud" and "api:gateway", one for each target with a URL: a TCP
 * connection to its host and, for https, a TLS handshake that verifies the
 * server's certificate with the target's CAFile (or the system's store),
 * within [Provisioning] Timeout. No request is sent, so no token either.
 * libcurl does the work in connect-only mode on its own multi handle on
 * the loop (http-loop.h), apart from the API calls' connections. */
#pragma once

#include "config.h"

/* @checks (EpCheck, "api:cloud" before "api:gateway"; empty when no target
 * has a URL) belongs to the callee: it is freed once this returns. */
typedef void (*EpProbeDone) (GPtrArray *checks, gpointer user_data);

/* Probes every target of @config (which must outlive the probe); @done runs
 * once, from the loop, never within this call, at the latest a little
 * after Timeout. */
void ep_probe_targets (const EpConfig *config, EpProbeDone done, gpointer user_data);
