/* The two halves of fast-standin: the server (fast-standin.c: connections,
 * request framing, routes and counters) and the answer of POST
 * /v3/provisioning/ucm (fast-standin-ucm.c: the body's fields, the devices
 * and their credentials). */
#pragma once

#include <stddef.h>

#define IN_MAX (64 * 1024)     /* a request larger than this gets 413 */

typedef struct {
  int fd;
  char in[IN_MAX];
  size_t in_len;
  char *out;
  size_t out_len, out_off, out_cap;
  unsigned generation;         /* stats generation of its last provisioning request */
  int closing;                 /* close once the output is flushed */
} Conn;

/* Prints "fast-standin: @what: <errno's message>" and exits 1. */
void die (const char *what);

/* Queues a JSON response with @body on @c, with "Connection: close" when
 * @c is closing. */
void respond (Conn *c, int status, const char *reason, const char *body);

/* Queues a response in the API's error shape with one error. */
void respond_error (Conn *c, int status, const char *reason, const char *code,
                    const char *message);

/* Reads the MQTTS set of every MQTTS answer: the PEM files @key, @cert
 * and @ca (ca_chain). Exits when one cannot be read. */
void load_set (const char *key, const char *cert, const char *ca);

/* Answers a POST /v3/provisioning/ucm whose headers passed the checks;
 * @body is the request body, @len bytes. */
void provision (Conn *c, const char *body, size_t len);
