#include "fields.h"

#include "api-result.h"

#include <string.h>

/* A field record.c writes from the call, kept in device.json and shown. */
#define CALL(key_)                                                                          \
  { .stored = key_, .detail = key_, .detail_type = 's' }

/* A field of the answer: its path, type and member of EpApiResult. */
#define ANSWER(path_, type_, when_, member_)                                                \
  .response = path_, .type = type_, .when = when_, .offset = G_STRUCT_OFFSET (EpApiResult, member_)

/* A field the credentials check reads off an MQTTS certificate, kept in
 * device.json's config and shown under the same name. */
#define CHECKED(type_, member_)                                                             \
  .checked = TRUE, .type = type_, .when = EP_WHEN_MQTTS,                                   \
  .offset = G_STRUCT_OFFSET (EpApiResult, member_), .stored = "config." #member_,          \
  .detail = #member_

#define CONFIG "config."
#define CREDS "config.mqtt_credentials."

/* An optional text of the answer's config, kept under the same name in
 * device.json's config. */
#define CONFIG_EXTRA(member_)                                                               \
  ANSWER (CONFIG #member_, EP_VALUE_TEXT, EP_WHEN_CONFIG, member_), .optional = TRUE,       \
  .display = TRUE, .stored = CONFIG #member_

const EpField ep_fields[EP_N_FIELDS] = {
  [EP_FIELD_KIND] = CALL ("kind"),
  /* The keystore directory's name: a plain name. */
  [EP_FIELD_DEVICE_ID] = { ANSWER ("device_id", EP_VALUE_PLAIN_NAME, EP_WHEN_ALWAYS, device_id),
                           .path_from_kind = TRUE, .stored = "device_id", .detail = "device_id", .detail_type = 's' },
  /* Which API holds the device: a later answer naming it through the other
   * one is not about this device. */
  [EP_FIELD_TARGET] = { .stored = "target" },
  [EP_FIELD_SLUG] = { ANSWER ("slug", EP_VALUE_PLAIN_NAME, EP_WHEN_SLUG, slug),
                      .asked = EP_ARG_SLUG, .stored = "slug", .detail = "slug",
                      .detail_type = 's' },
  /* Arguments are stored under their own names; these two are shown too. */
  [EP_FIELD_SITE_ID] = CALL ("site_id"),
  /* A device provisioned without one (standalone, Lua) shows its config's:
   * what its MQTT topics are made of. */
  [EP_FIELD_HARDWARE_ID] = { .stored = "hardware_id", .detail = "hardware_id", .detail_type = 's',
                            .shown_else = EP_FIELD_CONFIG_HARDWARE_ID },
  /* Every device has a name in device.json: its EP_ARG_NAME argument. */
  [EP_FIELD_NAME] = CALL ("name"),
  [EP_FIELD_PROVISIONED_AT] = CALL ("provisioned_at"),
  /* When the credentials last changed: provisioning, GenerateCredentials or
   * renewal. */
  [EP_FIELD_CREDENTIALS_UPDATED_AT] = { .stored = "credentials_updated_at",
                                        .detail = "credentials_updated_at", .detail_type = 's',
                                        .shown_else = EP_FIELD_PROVISIONED_AT },

  [EP_FIELD_MQTT_HOST] = { ANSWER (CONFIG "mqtt_host", EP_VALUE_TEXT, EP_WHEN_CONFIG, mqtt_host),
                           .display = TRUE, .stored = CONFIG "mqtt_host",
                           .detail = "mqtt_host", .detail_type = 's' },
  [EP_FIELD_MQTT_PORT] = { ANSWER (CONFIG "mqtt_port", EP_VALUE_PORT, EP_WHEN_CONFIG, mqtt_port),
                           .stored = CONFIG "mqtt_port", .detail = "mqtt_port",
                           .detail_type = 'u' },
  /* The API's documents show both places. */
  [EP_FIELD_PROTOCOL] = { ANSWER (CREDS "protocol", EP_VALUE_PROTOCOL, EP_WHEN_CONFIG, protocol),
                          .also = CONFIG "mqtt_protocol", .display = TRUE, .asked = EP_ARG_PROTOCOL,
                          .stored = CONFIG "protocol", .detail = "protocol",
                          .detail_type = 's' },
  /* Not secret, and a consumer's config needs it (export). */
  [EP_FIELD_USERNAME] = { ANSWER (CREDS "username", EP_VALUE_TEXT, EP_WHEN_MQTT, username),
                          .display = TRUE, .stored = CONFIG "username", .detail = "username",
                          .detail_type = 's' },
  [EP_FIELD_PASSWORD] = { ANSWER (CREDS "password", EP_VALUE_TEXT, EP_WHEN_MQTT, password),
                          .secret = TRUE, .file = "password" },
  [EP_FIELD_PRIVATE_KEY] = { ANSWER (CREDS "private_key", EP_VALUE_TEXT, EP_WHEN_MQTTS,
                                     private_key),
                             .secret = TRUE, .file = "private_key.pem" },
  [EP_FIELD_CERTIFICATE] = { ANSWER (CREDS "certificate", EP_VALUE_TEXT, EP_WHEN_MQTTS,
                                     certificate),
                             .file = "certificate.pem" },
  [EP_FIELD_CA_CHAIN] = { ANSWER (CREDS "ca_chain", EP_VALUE_TEXT, EP_WHEN_MQTTS, ca_chain),
                          .file = "ca_chain.pem" },
  /* What the renewal schedule and the operator read off the certificate. */
  [EP_FIELD_CERTIFICATE_NOT_BEFORE] = { CHECKED (EP_VALUE_TIME, certificate_not_before),
                                        .detail_type = 'x' },
  [EP_FIELD_CERTIFICATE_NOT_AFTER] = { CHECKED (EP_VALUE_TIME, certificate_not_after),
                                       .detail_type = 'x' },
  [EP_FIELD_CERTIFICATE_SHA256] = { CHECKED (EP_VALUE_TEXT, certificate_sha256),
                                    .detail_type = 's' },
  [EP_FIELD_TIME_SYNC_PROTOCOL] = { CONFIG_EXTRA (time_sync_protocol) },
  [EP_FIELD_TIME_SYNC_HOST] = { CONFIG_EXTRA (time_sync_host) },
  [EP_FIELD_TIME_SYNC_PORT] = { ANSWER (CONFIG "time_sync_port", EP_VALUE_PORT, EP_WHEN_CONFIG,
                                        time_sync_port),
                                .optional = TRUE, .stored = CONFIG "time_sync_port" },
  [EP_FIELD_CONFIG_HARDWARE_ID] = { CONFIG_EXTRA (hardware_id) },
  [EP_FIELD_CHANNEL_ID] = { CONFIG_EXTRA (channel_id), .detail = "channel_id", .detail_type = 's' },
};

gboolean
ep_field_applies (const EpField *f, const EpKind *kind, const char *protocol)
{
  switch (f->when)
    {
    case EP_WHEN_ALWAYS:
      return TRUE;
    case EP_WHEN_SLUG:
      return kind->has_slug;
    case EP_WHEN_CONFIG:
      return kind->has_config;
    case EP_WHEN_MQTT:
      return kind->has_config && g_strcmp0 (protocol, ep_protocols[EP_PROTOCOL_MQTT]) == 0;
    case EP_WHEN_MQTTS:
      return kind->has_config && g_strcmp0 (protocol, ep_protocols[EP_PROTOCOL_MQTTS]) == 0;
    }
  g_assert_not_reached ();
}

gboolean
ep_field_in_result (const EpField *f)
{
  return f->response != NULL || f->checked;
}

const char *
ep_field_leaf (const EpField *f)
{
  const char *path = f->response ? f->response : f->stored;
  const char *dot = strrchr (path, '.');
  return dot ? dot + 1 : path;
}

gboolean
ep_fields_nest_in (const char *name)
{
  size_t n = strlen (name);
  for (size_t i = 0; i < EP_N_FIELDS; i++)
    if (ep_fields[i].stored && strncmp (ep_fields[i].stored, name, n) == 0 &&
        ep_fields[i].stored[n] == '.')
      return TRUE;
  return FALSE;
}
