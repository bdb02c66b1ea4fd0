/* The only place that turns a domain and code into a D-Bus error name: the
 * modules say what went wrong in their own terms, the bus edge says which
 * name of README "D-Bus API" a caller sees. */
#include "errors.h"

#include "http-error.h"
#include "keystore.h"

G_DEFINE_QUARK (ep-error-quark, ep_error)

#define FAILED "org.freedesktop.DBus.Error.Failed"

static const char *
service_name (int code)
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
    [EP_ERROR_ACCESS_DENIED] = "org.freedesktop.DBus.Error.AccessDenied",
  };
  if (code < 0 || (gsize) code >= G_N_ELEMENTS (names) || names[code] == NULL)
    return FAILED;
  return names[code];
}

static const char *
http_name (int code)
{
  switch ((EpHttpErrorCode) code)
    {
    case EP_HTTP_ERROR_QUEUE_FULL:
      return EP_DBUS_ERROR_PREFIX "Busy";
    case EP_HTTP_ERROR_SETUP:
      return EP_DBUS_ERROR_PREFIX "Unavailable";
    }
  return FAILED;
}

static const char *
keystore_name (int code)
{
  switch ((EpKeystoreErrorCode) code)
    {
    case EP_KEYSTORE_ERROR_OPEN:
    case EP_KEYSTORE_ERROR_UNTRUSTED:
    case EP_KEYSTORE_ERROR_WRITE:
    case EP_KEYSTORE_ERROR_FORGET:
    case EP_KEYSTORE_ERROR_READ:
      return EP_DBUS_ERROR_PREFIX "KeystoreError";
    }
  return FAILED;
}

const char *
ep_error_dbus_name (const GError *error)
{
  if (error->domain == EP_ERROR)
    return service_name (error->code);
  if (error->domain == EP_HTTP_ERROR)
    return http_name (error->code);
  if (error->domain == EP_KEYSTORE_ERROR)
    return keystore_name (error->code);
  return FAILED;
}

EpErrorCode
ep_error_for_http_status (long status)
{
  switch (status)
    {
    case 401:
      return EP_ERROR_AUTHENTICATION_FAILED;
    case 403:
      return EP_ERROR_FORBIDDEN;
    case 404:
      return EP_ERROR_NOT_FOUND;
    case 409:
      return EP_ERROR_CONFLICT;
    case 429:
      return EP_ERROR_UNAVAILABLE;
    default:
      if (status >= 500)
        return EP_ERROR_UNAVAILABLE;
      if (status >= 400)
        return EP_ERROR_REJECTED;
      return EP_ERROR_PROTOCOL_ERROR;
    }
}
