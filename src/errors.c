#include "errors.h"

G_DEFINE_QUARK (ep-error-quark, ep_error)

const char *
ep_error_dbus_name (const GError *error)
{
  static const char *const names[] = {
    [EP_ERROR_INVALID_ARGUMENT] = EP_DBUS_ERROR_PREFIX "InvalidArgument",
    [EP_ERROR_NOT_SUPPORTED] = EP_DBUS_ERROR_PREFIX "NotSupported",
    [EP_ERROR_BUSY] = EP_DBUS_ERROR_PREFIX "Busy",
    [EP_ERROR_AUTHENTICATION_FAILED] = EP_DBUS_ERROR_PREFIX "AuthenticationFailed",
    [EP_ERROR_FORBIDDEN] = EP_DBUS_ERROR_PREFIX "Forbidden",
    [EP_ERROR_NOT_FOUND] = EP_DBUS_ERROR_PREFIX "NotFound",
    [EP_ERROR_CONFLICT] = EP_DBUS_ERROR_PREFIX "Conflict",
    [EP_ERROR_REJECTED] = EP_DBUS_ERROR_PREFIX "Rejected",
    [EP_ERROR_UNAVAILABLE] = EP_DBUS_ERROR_PREFIX "Unavailable",
    [EP_ERROR_PROTOCOL_ERROR] = EP_DBUS_ERROR_PREFIX "ProtocolError",
    [EP_ERROR_KEYSTORE_ERROR] = EP_DBUS_ERROR_PREFIX "KeystoreError",
    [EP_ERROR_ACCESS_DENIED] = "org.freedesktop.DBus.Error.AccessDenied",
  };
  if (error->domain == EP_ERROR && error->code >= 0 && (gsize) error->code < G_N_ELEMENTS (names))
    return names[error->code];
  return "org.freedesktop.DBus.Error.Failed";
}
