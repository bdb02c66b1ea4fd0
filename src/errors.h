/* The service's own error domain, and the one place where every domain is
 * mapped to its D-Bus error name (docs/architecture.md "Errors").
 *
 * EP_ERROR holds what the service itself decides about a call, in the words
 * of README "D-Bus API": service.c, validate.c, api.c, caller.c and bus.c
 * use it. Modules that know nothing of calls have their own domain, declared
 * in their header: EP_HTTP_ERROR (http-error.h), EP_KEYSTORE_ERROR (keystore.h),
 * EP_CONFIG_ERROR (config.h, start-up only). */
#pragma once

#include <glib.h>

#define EP_ERROR (ep_error_quark ())
GQuark ep_error_quark (void);

typedef enum {
  EP_ERROR_INVALID_ARGUMENT,
  EP_ERROR_NOT_SUPPORTED,
  EP_ERROR_BUSY,
  EP_ERROR_AUTHENTICATION_FAILED,
  EP_ERROR_FORBIDDEN,
  EP_ERROR_NOT_FOUND,
  EP_ERROR_CONFLICT,
  EP_ERROR_REJECTED,
  EP_ERROR_UNAVAILABLE,
  EP_ERROR_PROTOCOL_ERROR,
  EP_ERROR_ACCESS_DENIED,
  EP_ERROR_N_CODES,      /* not a code: how many there are */
} EpErrorCode;

#define EP_DBUS_ERROR_PREFIX "com.enapter.Provisioning1.Error."

/* The code an answer with HTTP @status other than 2xx means (README
 * "Errors"): 401, 403, 404, 409 by name, 429 and 5xx Unavailable, other 4xx
 * Rejected, anything else ProtocolError. */
EpErrorCode ep_error_for_http_status (long status);

/* The full D-Bus error name for @error, whatever its domain; an error no
 * domain here claims (EP_CONFIG_ERROR, GLib's) maps to
 * org.freedesktop.DBus.Error.Failed. */
const char *ep_error_dbus_name (const GError *error);
