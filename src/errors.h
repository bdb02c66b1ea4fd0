/* The service's error domain: one code per D-Bus error name of README "D-Bus API".
 * Every module reports failures a caller should see in this domain, so the
 * bus layer maps them without knowing where they came from. */
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
  EP_ERROR_KEYSTORE_ERROR,
  EP_ERROR_ACCESS_DENIED,
} EpErrorCode;

#define EP_DBUS_ERROR_PREFIX "com.enapter.Provisioning1.Error."

/* The full D-Bus error name for @error; any error outside EP_ERROR maps to
 * org.freedesktop.DBus.Error.Failed. */
const char *ep_error_dbus_name (const GError *error);
