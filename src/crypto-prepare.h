/* OpenSSL's one-time tables, built at start-up: the algorithm names and
 * methods every credentials check fetches and the random generators its
 * signature draws on. OpenSSL builds them on first use and keeps them for
 * the process's life (about 230 KiB); built before the daemon is ready, the
 * first call does not pay for them, they sit together at the bottom of the
 * heap instead of among the first burst's allocations, and the footprint
 * after start is the footprint at rest. */
#pragma once

#include <glib.h>

/* FALSE with @problem when OpenSSL cannot provide what a check needs (MQTTS
 * sets would then be refused as ProtocolError). */
gboolean ep_crypto_prepare (char **problem);
