/* The Enapter provisioning API v3 as data: request bodies built from a call's
 * arguments, and responses checked and parsed into credentials. Pure
 * functions, no I/O, so they are unit-tested and fuzzed directly. */
#pragma once

#include "fields.h"
#include "kinds.h"

#define EP_API_MAX_RESPONSE (1024 * 1024)

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
} EpApiResult;

/* The JSON request body for @args: exactly the fields the API documents for
 * the kind. */
char *ep_api_build_body (const EpArgs *args);

/* Parses a 2xx body. Anything that is not the documented JSON, or that is
 * unsafe to store (README "Keystore"), fails with EP_ERROR_PROTOCOL_ERROR and a
 * message that quotes no secret. */
EpApiResult *ep_api_parse_result (const EpArgs *args, const char *body, gsize len,
                                  GError **error);
void ep_api_result_free (EpApiResult *result);

/* The string member of @result for the answer field @id (NULL when absent),
 * or the port (0 when absent). */
const char *ep_api_result_text (const EpApiResult *result, EpFieldId id);
guint ep_api_result_port (const EpApiResult *result, EpFieldId id);

/* The name of a member of @result that holds a secret registered with
 * redact.h (an API token: an API that echoes one must not get it stored,
 * shown or handed to a consumer), or NULL. */
const char *ep_api_result_holding_secret (const EpApiResult *result);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (EpApiResult, ep_api_result_free)

/* The API's own error text from an error body ({"errors":[{code, message,
 * details}]}), all messages joined with "; ", with the secrets registered
 * with redact.h replaced, sanitised to printable UTF-8 and bounded in length.
 * NULL when the body holds none. */
char *ep_api_error_text (const char *body, gsize len);
