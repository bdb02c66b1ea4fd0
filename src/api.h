/* The Enapter provisioning API v3 as data: request bodies built from a call's
 * arguments, and responses checked and parsed into credentials. Pure
 * functions, no I/O, so they are unit-tested and fuzzed directly. */
#pragma once

#include "api-result.h"
#include "fields.h"
#include "kinds.h"

#define EP_API_MAX_RESPONSE (1024 * 1024)

/* The JSON request body for @args: exactly the fields the API documents for
 * the kind. */
char *ep_api_build_body (const EpArgs *args);

/* The request's path below the target's URL: the row's endpoint with each
 * "{argument}" replaced by that argument, percent-encoded. */
char *ep_api_build_path (const EpArgs *args);

/* Parses a 2xx body. Anything that is not the documented JSON, or that is
 * unsafe to store (README "Keystore"), fails with EP_ERROR_PROTOCOL_ERROR and a
 * message that quotes no secret. */
EpApiResult *ep_api_parse_result (const EpArgs *args, const char *body, gsize len,
                                  GError **error);

/* The string member of @result for the answer field @id (NULL when absent),
 * or the port (0 when absent). */
const char *ep_api_result_text (const EpApiResult *result, EpFieldId id);
guint ep_api_result_port (const EpApiResult *result, EpFieldId id);
/* The time member of @result for @id (0 when unknown). */
gint64 ep_api_result_time (const EpApiResult *result, EpFieldId id);

/* The name of a member of @result that holds a secret registered with
 * redact.h (an API token: an API that echoes one must not get it stored,
 * shown or handed to a consumer), or NULL. */
const char *ep_api_result_holding_secret (const EpApiResult *result);

/* The API's own error text from an error body ({"errors":[{code, message,
 * details}]}), all messages joined with "; ", with the secrets registered
 * with redact.h replaced, sanitised to printable UTF-8 and bounded in length.
 * NULL when the body holds none. */
char *ep_api_error_text (const char *body, gsize len);
