/* Helpers of the configuration tests (test-config.c, test-config-files.c):
 * loading a configuration from text, expecting it to load or to be refused
 * with a message, and the documented defaults. */
#pragma once

#include "config.h"
#include "unit-util.h"

#define CONF_NAME "/etc/enapter/test-provisiond.conf"

/* A PEM certificate in the source tree. */
static inline const char *
ca_file (void)
{
  return g_test_get_filename (G_TEST_DIST, "..", "integration", "tls", "standin-cert.pem", NULL);
}

static inline EpConfig *
load_ok (const char *text)
{
  g_autoptr (GError) error = NULL;
  EpConfig *c = ep_config_load_data (text, strlen (text), CONF_NAME, &error);
  g_assert_no_error (error);
  g_assert_nonnull (c);
  return c;
}

/* Loads @text expecting a failure whose message holds each of the
 * NULL-terminated @needles; returns the message. */
static inline char *
load_fails (const char *text, ...) G_GNUC_NULL_TERMINATED;

static inline char *
load_fails (const char *text, ...)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (EpConfig) c = ep_config_load_data (text, strlen (text), CONF_NAME, &error);
  if (c != NULL)
    {
      g_test_fail_printf ("accepted:\n%s", text);
      return g_strdup ("");
    }
  g_assert_error (error, EP_CONFIG_ERROR, 0);
  va_list ap;
  va_start (ap, text);
  for (const char *needle = va_arg (ap, const char *); needle; needle = va_arg (ap, const char *))
    if (strstr (error->message, needle) == NULL)
      g_test_fail_printf ("the message \"%s\" lacks \"%s\"", error->message, needle);
  va_end (ap);
  return g_strdup (error->message);
}

static inline void
assert_defaults (const EpConfig *c)
{
  g_assert_cmpstr (c->cloud.url, ==, "https://api.enapter.com");
  g_assert_null (c->cloud.token);
  g_assert_null (c->cloud.ca_file);
  g_assert_null (c->gateway.url);
  g_assert_null (c->gateway.token);
  g_assert_cmpint (c->default_target, ==, EP_TARGET_CLOUD);
  g_assert_cmpuint (c->max_concurrent, ==, 8);
  g_assert_cmpfloat (c->timeout, ==, 10);
  g_assert_cmpfloat (c->deadline, ==, 20);
  g_assert_cmpfloat (c->keep_connections, ==, 10);
  g_assert_cmpuint (c->retries, ==, 2);
  g_assert_cmpstr (c->keystore_path, ==, "/var/lib/enapter-provisiond/keystore");
  g_assert_false (c->keystore_group_set);
  g_assert_cmpstr (c->access_group, ==, "enapter-provisioning");
}
