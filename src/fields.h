/* The device schema as data: one row per field of a device, saying where it
 * comes from in the API's answer and how it is checked, where it is kept
 * (device.json or a credential file) and how it is shown in the details.
 * api.c parses answers by it, record.c writes device.json, the credential
 * files and the details by it, device-info.c flattens device.json by it.
 * Adding a field is adding a row (and, for an answer's field, a member of
 * EpApiResult). */
#pragma once

#include "kinds.h"

/* How an answer's value is checked. */
typedef enum {
  EP_VALUE_TEXT,         /* a non-empty string (bus text with display) */
  EP_VALUE_PLAIN_NAME,   /* a string that may become a keystore path component */
  EP_VALUE_PORT,         /* an integer from 1 to 65535 */
  EP_VALUE_PROTOCOL,     /* MQTT or MQTTS: it chooses which credentials belong */
  EP_VALUE_TIME,         /* Unix seconds (gint64), from the credentials check */
} EpValueType;

/* Which answers carry the field. */
typedef enum {
  EP_WHEN_ALWAYS,
  EP_WHEN_SLUG,          /* kinds whose answer has a slug (EpKind.has_slug) */
  EP_WHEN_CONFIG,        /* kinds whose answer has a config (EpKind.has_config) */
  EP_WHEN_MQTT,          /* a config with MQTT credentials */
  EP_WHEN_MQTTS,         /* a config with MQTTS credentials */
} EpWhen;

/* The rows, in the order answers are checked, device.json is written and
 * details are listed. */
typedef enum {
  EP_FIELD_KIND,
  EP_FIELD_DEVICE_ID,
  EP_FIELD_TARGET,
  EP_FIELD_SLUG,
  EP_FIELD_SITE_ID,
  EP_FIELD_HARDWARE_ID,
  EP_FIELD_NAME,
  EP_FIELD_PROVISIONED_AT,
  EP_FIELD_CREDENTIALS_UPDATED_AT,
  EP_FIELD_MQTT_HOST,
  EP_FIELD_MQTT_PORT,
  EP_FIELD_PROTOCOL,
  EP_FIELD_USERNAME,
  EP_FIELD_PASSWORD,
  EP_FIELD_PRIVATE_KEY,
  EP_FIELD_CERTIFICATE,
  EP_FIELD_CA_CHAIN,
  EP_FIELD_CERTIFICATE_NOT_BEFORE,
  EP_FIELD_CERTIFICATE_NOT_AFTER,
  EP_FIELD_CERTIFICATE_SHA256,
  EP_FIELD_TIME_SYNC_PROTOCOL,
  EP_FIELD_TIME_SYNC_HOST,
  EP_FIELD_TIME_SYNC_PORT,
  EP_FIELD_CONFIG_HARDWARE_ID,
  EP_FIELD_CHANNEL_ID,
  EP_N_FIELDS
} EpFieldId;

typedef struct {
  /* Path in a 2xx answer ("a.b" nests; every object on the way is
   * required); NULL: not from the answer, record.c writes it from the call. */
  const char *response;
  /* Another place the answer may carry it instead ("a.b"); where both are
   * present they must agree. */
  const char *also;
  /* Not in the answer but read off its credentials by the check
   * (credentials.h): a member of EpApiResult all the same. */
  gboolean checked;
  /* Found in the answer under the kind's id_field, not under @response: the
   * device id is the one field whose name differs between kinds. */
  gboolean path_from_kind;
  EpValueType type;
  EpWhen when;
  gboolean optional;
  gboolean display;      /* must be text the bus can show (1-255 bytes) */
  gboolean secret;       /* never in device.json or details; wiped on free */
  EpArgRole asked;       /* must equal the call's argument with this role */
  size_t offset;         /* its member of EpApiResult (answer fields only) */
  const char *stored;    /* device.json path ("config.x" nests), or NULL */
  const char *file;      /* credential file holding it, or NULL */
  const char *detail;    /* details key, or NULL */
  /* Shown instead when device.json lacks this field (0: nothing): an older
   * entry's provisioned_at, a device's config hardware id. */
  EpFieldId shown_else;
  char detail_type;      /* 's', 'u' for a port, 'x' for a time */
} EpField;

extern const EpField ep_fields[EP_N_FIELDS];

/* Whether the kind's answers carry @field (@protocol: the answer's
 * credentials' protocol, or NULL before it is known). */
gboolean ep_field_applies (const EpField *field, const EpKind *kind, const char *protocol);

/* Whether @field is a member of EpApiResult: from the answer or its check. */
gboolean ep_field_in_result (const EpField *field);

/* Whether @field's member is a string (else a port, guint, or a time, gint64). */
static inline gboolean
ep_field_is_text (const EpField *field)
{
  return field->type != EP_VALUE_PORT && field->type != EP_VALUE_TIME;
}

/* The last segment of @field's answer path: how messages name it. */
const char *ep_field_leaf (const EpField *field);

/* Whether device.json keeps fields inside its object member @name. */
gboolean ep_fields_nest_in (const char *name);
