/* Unit tests of ep_error_dbus_name (src/errors.h): every code of every
 * domain that can reach the bus has its D-Bus name, and nothing else does. */
#include "config.h"
#include "errors.h"
#include "http-error.h"
#include "keystore.h"

#include <gio/gio.h>

#define FAILED "org.freedesktop.DBus.Error.Failed"

static const char *
name_of (GQuark domain, int code)
{
  g_autoptr (GError) error = g_error_new_literal (domain, code, "test");
  return ep_error_dbus_name (error);
}

static void
test_service_domain (void)
{
  static const struct {
    EpErrorCode code;
    const char *name;
  } cases[] = {
    { EP_ERROR_INVALID_ARGUMENT, EP_DBUS_ERROR_PREFIX "InvalidArgument" },
    { EP_ERROR_NOT_SUPPORTED, EP_DBUS_ERROR_PREFIX "NotSupported" },
    { EP_ERROR_BUSY, EP_DBUS_ERROR_PREFIX "Busy" },
    { EP_ERROR_AUTHENTICATION_FAILED, EP_DBUS_ERROR_PREFIX "AuthenticationFailed" },
    { EP_ERROR_FORBIDDEN, EP_DBUS_ERROR_PREFIX "Forbidden" },
    { EP_ERROR_NOT_FOUND, EP_DBUS_ERROR_PREFIX "NotFound" },
    { EP_ERROR_CONFLICT, EP_DBUS_ERROR_PREFIX "Conflict" },
    { EP_ERROR_REJECTED, EP_DBUS_ERROR_PREFIX "Rejected" },
    { EP_ERROR_UNAVAILABLE, EP_DBUS_ERROR_PREFIX "Unavailable" },
    { EP_ERROR_PROTOCOL_ERROR, EP_DBUS_ERROR_PREFIX "ProtocolError" },
    { EP_ERROR_ACCESS_DENIED, "org.freedesktop.DBus.Error.AccessDenied" },
  };
  /* Every code, in order: a code added without a name shows here, also
   * one added at the end. */
  g_assert_cmpuint (G_N_ELEMENTS (cases), ==, EP_ERROR_N_CODES);
  for (int code = 0; code < EP_ERROR_N_CODES; code++)
    g_assert_cmpstr (name_of (EP_ERROR, code), !=, FAILED);
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_assert_cmpint (cases[i].code, ==, (int) i);
      g_assert_cmpstr (name_of (EP_ERROR, cases[i].code), ==, cases[i].name);
    }
  g_assert_cmpstr (name_of (EP_ERROR, EP_ERROR_N_CODES), ==, FAILED);
  g_assert_cmpstr (name_of (EP_ERROR, -1), ==, FAILED);
}

static void
test_http_domain (void)
{
  g_assert_cmpstr (name_of (EP_HTTP_ERROR, EP_HTTP_ERROR_QUEUE_FULL), ==,
                   EP_DBUS_ERROR_PREFIX "Busy");
  g_assert_cmpstr (name_of (EP_HTTP_ERROR, EP_HTTP_ERROR_SETUP), ==,
                   EP_DBUS_ERROR_PREFIX "Unavailable");
  g_assert_cmpstr (name_of (EP_HTTP_ERROR, EP_HTTP_ERROR_SETUP + 1), ==, FAILED);
  g_assert_cmpstr (name_of (EP_HTTP_ERROR, -1), ==, FAILED);
}

static void
test_keystore_domain (void)
{
  static const EpKeystoreErrorCode codes[] = {
    EP_KEYSTORE_ERROR_OPEN, EP_KEYSTORE_ERROR_UNTRUSTED, EP_KEYSTORE_ERROR_WRITE,
    EP_KEYSTORE_ERROR_FORGET, EP_KEYSTORE_ERROR_READ,
  };
  g_assert_cmpuint (G_N_ELEMENTS (codes), ==, EP_KEYSTORE_ERROR_READ + 1);
  for (gsize i = 0; i < G_N_ELEMENTS (codes); i++)
    g_assert_cmpstr (name_of (EP_KEYSTORE_ERROR, codes[i]), ==,
                     EP_DBUS_ERROR_PREFIX "KeystoreError");
  g_assert_cmpstr (name_of (EP_KEYSTORE_ERROR, EP_KEYSTORE_ERROR_READ + 1), ==, FAILED);
  g_assert_cmpstr (name_of (EP_KEYSTORE_ERROR, -1), ==, FAILED);
}

/* Configuration errors stop the start, and nothing from GLib is one of the
 * service's names: both would be a bug on the bus, seen as Failed. */
static void
test_other_domains (void)
{
  g_assert_cmpstr (name_of (EP_CONFIG_ERROR, 0), ==, FAILED);
  g_assert_cmpstr (name_of (G_IO_ERROR, G_IO_ERROR_FAILED), ==, FAILED);
  g_assert_cmpstr (name_of (G_FILE_ERROR, G_FILE_ERROR_NOENT), ==, FAILED);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/errors/service", test_service_domain);
  g_test_add_func ("/errors/http", test_http_domain);
  g_test_add_func ("/errors/keystore", test_keystore_domain);
  g_test_add_func ("/errors/other", test_other_domains);
  return g_test_run ();
}
