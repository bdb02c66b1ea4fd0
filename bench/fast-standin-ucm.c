/* fast-standin's answer of POST /v3/provisioning/ucm (fast-standin.h): the
 * fields it needs from the body, the same device id for the same (site_id,
 * hardware_id), in the real stand-in's response shape
 * (tests/standin/README.md). An MQTT answer carries a fresh password with a
 * canary every time; an MQTTS answer carries the one real set (key,
 * certificate, CA) that bench.py made with openssl for this run (load_set),
 * so that a daemon that verifies sets accepts it. */
#include "fast-standin.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PREFIX "CANARY"

typedef struct Device {
  struct Device *next;
  char *key;                   /* site_id \x1f hardware_id */
  char id[40];
  char *slug;
} Device;

static unsigned long long serial, next_device;
static Device *devices[1 << 16];
/* The MQTTS set of every MQTTS answer, each a JSON string literal (load_set). */
static char *set_key, *set_cert, *set_ca;

/* ---- JSON output --------------------------------------------------------- */

typedef struct {
  char *buf;
  size_t len, cap;
} Str;

static void
str_add (Str *s, const char *data, size_t len)
{
  if (s->len + len + 1 > s->cap)
    {
      s->cap = (s->len + len + 1) * 2;
      s->buf = realloc (s->buf, s->cap);
      if (s->buf == NULL)
        die ("realloc");
    }
  memcpy (s->buf + s->len, data, len);
  s->len += len;
  s->buf[s->len] = '\0';
}

static void __attribute__ ((format (printf, 2, 3)))
str_printf (Str *s, const char *fmt, ...)
{
  char tmp[1024];
  va_list ap;
  va_start (ap, fmt);
  int n = vsnprintf (tmp, sizeof tmp, fmt, ap);
  va_end (ap);
  if (n < 0 || (size_t) n >= sizeof tmp)
    {
      fprintf (stderr, "fast-standin: response piece too long\n");
      exit (1);
    }
  str_add (s, tmp, (size_t) n);
}

/* A JSON string literal of @v (quotes included). */
static void
str_json (Str *s, const char *v)
{
  str_add (s, "\"", 1);
  for (const unsigned char *p = (const unsigned char *) v; *p; p++)
    {
      if (*p == '"' || *p == '\\')
        {
          char esc[2] = { '\\', (char) *p };
          str_add (s, esc, 2);
        }
      else if (*p == '\n')
        str_add (s, "\\n", 2);
      else if (*p < 0x20)
        str_printf (s, "\\u%04x", *p);
      else
        str_add (s, (const char *) p, 1);
    }
  str_add (s, "\"", 1);
}

/* ---- the request body and the devices ------------------------------------- */

/* The value of JSON string member @key in @body (escapes kept as sent but
 * \" and \\ resolved), or NULL. Enough for the bodies the daemon sends. */
static char *
json_string_member (const char *body, size_t len, const char *key)
{
  size_t klen = strlen (key);
  const char *end = body + len;
  for (const char *p = body; p + klen + 2 < end; p++)
    {
      if (p[0] != '"' || memcmp (p + 1, key, klen) != 0 || p[klen + 1] != '"')
        continue;
      const char *q = p + klen + 2;
      while (q < end && isspace ((unsigned char) *q))
        q++;
      if (q >= end || *q++ != ':')
        continue;
      while (q < end && isspace ((unsigned char) *q))
        q++;
      if (q >= end || *q++ != '"')
        return NULL;
      char *v = malloc ((size_t) (end - q) + 1);
      size_t n = 0;
      while (q < end && *q != '"')
        {
          if (*q == '\\' && q + 1 < end)
            q++;
          v[n++] = *q++;
        }
      v[n] = '\0';
      if (q >= end)
        {
          free (v);
          return NULL;
        }
      return v;
    }
  return NULL;
}

static uint32_t
hash (const char *s)
{
  uint32_t h = 2166136261u;
  for (; *s; s++)
    h = (h ^ (unsigned char) *s) * 16777619u;
  return h;
}

static char *
slugify (const char *name)
{
  size_t n = strlen (name);
  char *slug = malloc (n + 8);
  size_t o = 0;
  int dash = 0;
  for (const char *p = name; *p && o < 64; p++)
    {
      char ch = (char) tolower ((unsigned char) *p);
      if ((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9'))
        {
          if (dash && o > 0)
            slug[o++] = '-';
          dash = 0;
          if (o < 64)
            slug[o++] = ch;
        }
      else
        dash = 1;
    }
  slug[o] = '\0';
  if (o == 0)
    strcpy (slug, "device");
  return slug;
}

static Device *
device_for (const char *site, const char *hw, const char *name)
{
  size_t klen = strlen (site) + strlen (hw) + 2;
  char *key = malloc (klen);
  snprintf (key, klen, "%s\x1f%s", site, hw);
  uint32_t h = hash (key) & ((1u << 16) - 1);
  for (Device *d = devices[h]; d; d = d->next)
    if (strcmp (d->key, key) == 0)
      {
        free (key);
        return d;
      }
  Device *d = calloc (1, sizeof *d);
  d->key = key;
  /* uuid4-shaped, counter-based: unique for this run. */
  snprintf (d->id, sizeof d->id, "%08x-0000-4000-8000-%012llx", (unsigned) getpid (),
            ++next_device);
  d->slug = slugify (name);
  d->next = devices[h];
  devices[h] = d;
  return d;
}

/* The contents of the PEM file @path as a JSON string literal. */
static char *
pem_literal (const char *path)
{
  FILE *f = fopen (path, "r");
  if (f == NULL)
    die (path);
  Str text = { 0 }, literal = { 0 };
  char buf[4096];
  size_t n;
  while ((n = fread (buf, 1, sizeof buf, f)) > 0)
    str_add (&text, buf, n);
  if (ferror (f) || fclose (f) != 0)
    die (path);
  if (text.buf == NULL || strstr (text.buf, "-----BEGIN ") == NULL ||
      strlen (text.buf) != text.len)
    {
      errno = EINVAL;
      die (path);
    }
  str_json (&literal, text.buf);
  free (text.buf);
  return literal.buf;
}

void
load_set (const char *key, const char *cert, const char *ca)
{
  set_key = pem_literal (key);
  set_cert = pem_literal (cert);
  set_ca = pem_literal (ca);
}

void
provision (Conn *c, const char *body, size_t len)
{
  char *site = json_string_member (body, len, "site_id");
  char *hw = json_string_member (body, len, "hardware_id");
  char *name = json_string_member (body, len, "name");
  char *protocol = json_string_member (body, len, "protocol");
  if (!site || !hw || !name || !protocol ||
      (strcmp (protocol, "MQTT") != 0 && strcmp (protocol, "MQTTS") != 0))
    respond_error (c, 422, "Unprocessable Entity", "invalid_request",
                   "site_id, hardware_id, name and protocol (MQTT or MQTTS) are required");
  else
    {
      Device *d = device_for (site, hw, name);
      unsigned long long n = ++serial;
      int tls = strcmp (protocol, "MQTTS") == 0;
      Str s = { 0 };
      str_printf (&s, "{\"config\":{\"mqtt_host\":\"mqtt.standin.invalid\",\"mqtt_port\":%d,"
                      "\"mqtt_credentials\":{\"protocol\":\"%s\",",
                  tls ? 8883 : 1883, protocol);
      if (tls)
        {
          str_add (&s, "\"private_key\":", 14);
          str_add (&s, set_key, strlen (set_key));
          str_add (&s, ",\"certificate\":", 15);
          str_add (&s, set_cert, strlen (set_cert));
          str_add (&s, ",\"ca_chain\":", 12);
          str_add (&s, set_ca, strlen (set_ca));
        }
      else
        str_printf (&s, "\"username\":\"user-%s\",\"password\":\"" PREFIX "-PASSWORD-%llu\"",
                    d->id, n);
      str_printf (&s, "},\"time_sync_protocol\":\"HTTP\",\"time_sync_host\":\"127.0.0.1\","
                      "\"time_sync_port\":80,\"hardware_id\":");
      str_json (&s, hw);
      str_printf (&s, ",\"channel_id\":\"ucm\"},\"device_id\":\"%s\",\"slug\":", d->id);
      str_json (&s, d->slug);
      str_add (&s, "}", 1);
      respond (c, 200, "OK", s.buf);
      free (s.buf);
    }
  free (site);
  free (hw);
  free (name);
  free (protocol);
}
