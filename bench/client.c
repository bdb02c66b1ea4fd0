/* bench-client: drives enapter-provisiond over the bus with asynchronous
 * sd-bus calls, up to K in flight, and prints the latency of each
 * ProvisionUcm call (from sending it to its reply) as one JSON object.
 *
 *   bench-client --address ADDR --calls N --inflight K [--pool P] [--site S]
 *                [--prefix HW] [--protocol MQTTS] [--raw PATH]
 *
 * --pool P cycles P hardware ids (reprovisioning), never two in flight at
 * once; --pool 0 gives every call a new device. --raw PATH writes each
 * latency (ns, in completion order) to PATH. */
#define _GNU_SOURCE
#include "bus.h"
#include "stats.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-bus.h>

typedef struct {
  uint64_t *lat;
  size_t ok, errors, done, inflight;
  char first_error[512];
  IdPool pool;
} Run;

typedef struct {
  Run *run;
  uint64_t sent;
  unsigned id;
} Pending;

static int
on_reply (sd_bus_message *m, void *data, sd_bus_error *ret_error)
{
  Pending *p = data;
  Run *run = p->run;
  uint64_t t = now_ns ();
  const sd_bus_error *e = sd_bus_message_get_error (m);
  const char *device_id = NULL;
  if (e != NULL)
    {
      if (run->errors++ == 0)
        snprintf (run->first_error, sizeof run->first_error, "%s: %s", e->name,
                  e->message ? e->message : "");
    }
  else if (sd_bus_message_read (m, "s", &device_id) < 0 || device_id == NULL || !*device_id)
    {
      if (run->errors++ == 0)
        snprintf (run->first_error, sizeof run->first_error, "reply without a device id");
    }
  else
    run->lat[run->ok++] = t - p->sent;
  run->done++;
  run->inflight--;
  pool_give (&run->pool, p->id);
  free (p);
  return 0;
}

/* @s as the inside of a JSON string: quotes and backslashes escaped,
 * control characters made spaces. */
static void
json_escape (char *out, size_t size, const char *s)
{
  size_t o = 0;
  for (; *s && o + 3 < size; s++)
    {
      if (*s == '"' || *s == '\\')
        out[o++] = '\\';
      out[o++] = (unsigned char) *s < 0x20 ? ' ' : *s;
    }
  out[o] = '\0';
}

int
main (int argc, char **argv)
{
  const char *address = NULL;
  LoadOptions l = { .site = "bench-site", .prefix = "BENCH", .protocol = "MQTTS",
                    .calls = 100, .inflight = 1 };
  for (int i = 1; i + 1 < argc; i += 2)
    {
      const char *o = argv[i], *v = argv[i + 1];
      if (strcmp (o, "--address") == 0)
        address = v;
      else if (!load_option (&l, o, v))
        {
          fprintf (stderr, "bench-client: unknown option %s\n", o);
          return 2;
        }
    }
  if (address == NULL || !load_options_valid (&l))
    {
      fprintf (stderr, "usage: bench-client --address ADDR " LOAD_OPTIONS_USAGE "\n");
      return 2;
    }

  sd_bus *bus = NULL;
  int r = bench_bus_open (address, &bus);
  if (r < 0)
    {
      fprintf (stderr, "bench-client: cannot connect to %s: %s\n", address, strerror (-r));
      return 1;
    }

  const char *raw = l.raw, *site = l.site, *prefix = l.prefix, *protocol = l.protocol;
  size_t calls = l.calls, inflight = l.inflight, pool = l.pool;
  Run run = { .lat = calloc (calls, sizeof (uint64_t)) };
  pool_init (&run.pool, pool, pool == 0);
  size_t issued = 0;
  uint64_t start = now_ns ();
  while (run.done < calls)
    {
      while (issued < calls && run.inflight < inflight && !pool_empty (&run.pool))
        {
          Pending *p = calloc (1, sizeof *p);
          p->run = &run;
          p->id = pool_take (&run.pool);
          char hw[80], name[80];
          snprintf (hw, sizeof hw, "%s%08X", prefix, p->id);
          snprintf (name, sizeof name, "Bench UCM %u", p->id);
          p->sent = now_ns ();
          r = sd_bus_call_method_async (bus, NULL, "com.enapter.Provisioning1",
                                        "/com/enapter/Provisioning1", "com.enapter.Provisioning1",
                                        "ProvisionUcm", on_reply, p, "ssss", site, hw, name,
                                        protocol);
          if (r < 0)
            {
              fprintf (stderr, "bench-client: cannot call: %s\n", strerror (-r));
              return 1;
            }
          issued++;
          run.inflight++;
        }
      r = sd_bus_process (bus, NULL);
      if (r < 0)
        {
          fprintf (stderr, "bench-client: bus: %s\n", strerror (-r));
          return 1;
        }
      if (r > 0)
        continue;
      r = sd_bus_wait (bus, UINT64_MAX);
      if (r < 0 && r != -EINTR)
        {
          fprintf (stderr, "bench-client: bus: %s\n", strerror (-r));
          return 1;
        }
    }
  uint64_t elapsed = now_ns () - start;
  char extra[1200], esc[1100];
  json_escape (esc, sizeof esc, run.first_error);
  snprintf (extra, sizeof extra, "\"inflight\":%zu,\"first_error\":\"%s\"", inflight, esc);
  if (raw != NULL && write_raw (raw, run.lat, run.ok) < 0)
    {
      perror (raw);
      return 1;
    }
  print_stats (stdout, run.lat, run.ok, run.errors, elapsed, extra);
  sd_bus_flush_close_unref (bus);
  free (run.lat);
  return 0;
}
