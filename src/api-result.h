/* What a parsed answer of the API holds, on its own so that the field table
 * (fields.c), which names these members' offsets, does not depend on the
 * parser (api.c) that reads the table. */
#pragma once

#include <glib.h>

/* What a successful response says: one member per answer field of the
 * table in fields.c, which fills, checks and frees them. The secret members
 * are wiped on free. */
typedef struct {
  char *device_id;
  char *slug;              /* NULL when the kind's response has none */
  gboolean has_config;
  char *mqtt_host;
  guint mqtt_port;
  char *protocol;          /* "MQTT" or "MQTTS" */
  char *username;          /* MQTT */
  char *password;          /* MQTT, secret */
  char *private_key;       /* MQTTS, secret */
  char *certificate;       /* MQTTS */
  char *ca_chain;          /* MQTTS */
  char *time_sync_protocol;
  char *time_sync_host;
  guint time_sync_port;
  char *hardware_id;
  char *channel_id;
  /* Not in the answer: read off the certificate by the credentials check
   * (credentials.h) once the set has passed it. */
  gint64 certificate_not_before;
  gint64 certificate_not_after;
  char *certificate_sha256;
} EpApiResult;

/* Defined in api.c, which allocates results. */
void ep_api_result_free (EpApiResult *result);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (EpApiResult, ep_api_result_free)
