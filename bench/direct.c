/* bench-direct: the reference. POSTs the same body the daemon sends for
 * ProvisionUcm, with the same headers, straight to the stand-in with libcurl
 * multi, up to K transfers in flight on reused connections, and prints the
 * latency of each transfer as one JSON object.
 *
 *   bench-direct --url URL --token T --calls N --inflight K [--pool P]
 *                [--site S] [--prefix HW] [--protocol MQTTS] [--raw PATH] */
#define _GNU_SOURCE
#include "stats.h"

#include <curl/curl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_BODY (64 * 1024)

typedef struct {
  CURL *easy;
  char body[512];
  char response[MAX_BODY];
  size_t response_len;
  uint64_t started;
  unsigned id;
  int busy;
} Slot;

static size_t
on_data (char *data, size_t size, size_t nmemb, void *userp)
{
  Slot *s = userp;
  size_t n = size * nmemb;
  if (s->response_len + n >= MAX_BODY)
    return 0;
  memcpy (s->response + s->response_len, data, n);
  s->response_len += n;
  s->response[s->response_len] = '\0';
  return n;
}

int
main (int argc, char **argv)
{
  const char *url = NULL, *token = NULL;
  LoadOptions l = { .site = "bench-direct", .prefix = "DIRECT", .protocol = "MQTTS",
                    .calls = 100, .inflight = 1 };
  for (int i = 1; i + 1 < argc; i += 2)
    {
      const char *o = argv[i], *v = argv[i + 1];
      if (strcmp (o, "--url") == 0)
        url = v;
      else if (strcmp (o, "--token") == 0)
        token = v;
      else if (!load_option (&l, o, v))
        {
          fprintf (stderr, "bench-direct: unknown option %s\n", o);
          return 2;
        }
    }
  if (url == NULL || token == NULL || !load_options_valid (&l))
    {
      fprintf (stderr, "usage: bench-direct --url URL --token T " LOAD_OPTIONS_USAGE "\n");
      return 2;
    }

  const char *raw = l.raw, *site = l.site, *prefix = l.prefix, *protocol = l.protocol;
  size_t calls = l.calls, inflight = l.inflight, pool = l.pool;
  curl_global_init (CURL_GLOBAL_DEFAULT);
  char auth[512];
  snprintf (auth, sizeof auth, "X-Enapter-Auth-Token: %s", token);
  struct curl_slist *headers = NULL;
  headers = curl_slist_append (headers, "Content-Type: application/json");
  headers = curl_slist_append (headers, "Accept: application/json");
  headers = curl_slist_append (headers, "Expect:");
  headers = curl_slist_append (headers, auth);
  headers = curl_slist_append (headers, "X-Enapter-Allow-HTTP: true");

  CURLM *multi = curl_multi_init ();
  curl_multi_setopt (multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long) inflight);
  curl_multi_setopt (multi, CURLMOPT_MAXCONNECTS, (long) inflight);
  Slot *slots = calloc (inflight, sizeof *slots);
  for (size_t i = 0; i < inflight; i++)
    {
      CURL *e = slots[i].easy = curl_easy_init ();
      curl_easy_setopt (e, CURLOPT_URL, url);
      curl_easy_setopt (e, CURLOPT_POST, 1L);
      curl_easy_setopt (e, CURLOPT_HTTPHEADER, headers);
      curl_easy_setopt (e, CURLOPT_USERAGENT, "enapter-provisiond-bench");
      curl_easy_setopt (e, CURLOPT_NOSIGNAL, 1L);
      curl_easy_setopt (e, CURLOPT_TIMEOUT_MS, 10000L);
      curl_easy_setopt (e, CURLOPT_WRITEFUNCTION, on_data);
      curl_easy_setopt (e, CURLOPT_WRITEDATA, &slots[i]);
      curl_easy_setopt (e, CURLOPT_PRIVATE, &slots[i]);
    }

  uint64_t *lat = calloc (calls, sizeof *lat);
  size_t ok = 0, errors = 0, done = 0, issued = 0, running = 0;
  char first_error[256] = "";
  IdPool ids;
  pool_init (&ids, pool, pool == 0);
  uint64_t start = now_ns ();
  while (done < calls)
    {
      for (size_t i = 0; i < inflight && issued < calls && !pool_empty (&ids); i++)
        {
          Slot *s = &slots[i];
          if (s->busy)
            continue;
          s->id = pool_take (&ids);
          snprintf (s->body, sizeof s->body,
                    "{\"site_id\":\"%s\",\"hardware_id\":\"%s%08X\",\"name\":\"Bench UCM %u\","
                    "\"protocol\":\"%s\"}",
                    site, prefix, s->id, s->id, protocol);
          curl_easy_setopt (s->easy, CURLOPT_POSTFIELDS, s->body);
          curl_easy_setopt (s->easy, CURLOPT_POSTFIELDSIZE, (long) strlen (s->body));
          s->response_len = 0;
          s->busy = 1;
          s->started = now_ns ();
          curl_multi_add_handle (multi, s->easy);
          issued++;
          running++;
        }
      int still;
      curl_multi_perform (multi, &still);
      CURLMsg *msg;
      int left;
      while ((msg = curl_multi_info_read (multi, &left)) != NULL)
        {
          if (msg->msg != CURLMSG_DONE)
            continue;
          Slot *s = NULL;
          curl_easy_getinfo (msg->easy_handle, CURLINFO_PRIVATE, (char **) &s);
          uint64_t t = now_ns ();
          long status = 0;
          curl_easy_getinfo (s->easy, CURLINFO_RESPONSE_CODE, &status);
          CURLcode rc = msg->data.result;
          curl_multi_remove_handle (multi, s->easy);
          if (rc == CURLE_OK && status == 200 && s->response_len > 0 &&
              strstr (s->response, "\"device_id\"") != NULL)
            lat[ok++] = t - s->started;
          else if (errors++ == 0)
            snprintf (first_error, sizeof first_error, "HTTP %ld, %s", status,
                      curl_easy_strerror (rc));
          s->busy = 0;
          pool_give (&ids, s->id);
          done++;
          running--;
        }
      if (done < calls && (issued == calls || running == inflight || pool_empty (&ids)))
        curl_multi_poll (multi, NULL, 0, 1000, NULL);
    }
  uint64_t elapsed = now_ns () - start;

  char extra[512];
  snprintf (extra, sizeof extra, "\"inflight\":%zu,\"first_error\":\"%s\"", inflight,
            first_error);
  if (raw != NULL && write_raw (raw, lat, ok) < 0)
    {
      perror (raw);
      return 1;
    }
  print_stats (stdout, lat, ok, errors, elapsed, extra);
  for (size_t i = 0; i < inflight; i++)
    curl_easy_cleanup (slots[i].easy);
  curl_multi_cleanup (multi);
  curl_slist_free_all (headers);
  curl_global_cleanup ();
  free (slots);
  free (lat);
  return 0;
}
