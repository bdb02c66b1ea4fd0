/* The http module's failures as GErrors, on their own: http-loop.c raises
 * EP_HTTP_ERROR_SETUP and errors.c names the codes for the bus, and neither
 * needs the rest of http.h (nor, through http.c, the API module). The quark
 * is defined in http.c. */
#pragma once

#include <glib.h>

#define EP_HTTP_ERROR (ep_http_error_quark ())
GQuark ep_http_error_quark (void);

typedef enum {
  EP_HTTP_ERROR_QUEUE_FULL,  /* MaxConcurrent running and MaxQueued waiting */
  EP_HTTP_ERROR_SETUP,       /* libcurl could not be set up (http-loop.c) */
} EpHttpErrorCode;
