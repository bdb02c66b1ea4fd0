/* Latency statistics shared by the bench programs: one JSON object. */
#pragma once

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static inline uint64_t
now_ns (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
}

static inline int
cmp_u64 (const void *a, const void *b)
{
  uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
  return x < y ? -1 : x > y;
}

/* The @q quantile (0..1) of sorted @v, nearest rank. */
static inline double
quantile_us (const uint64_t *v, size_t n, double q)
{
  if (n == 0)
    return 0;
  size_t i = (size_t) (q * (double) n + 0.999999);
  if (i < 1)
    i = 1;
  if (i > n)
    i = n;
  return (double) v[i - 1] / 1000.0;
}

/* Writes @lat (nanoseconds, one per line, in call order) to @path. */
static inline int
write_raw (const char *path, const uint64_t *lat, size_t n)
{
  FILE *f = fopen (path, "w");
  if (f == NULL)
    return -1;
  for (size_t i = 0; i < n; i++)
    fprintf (f, "%llu\n", (unsigned long long) lat[i]);
  return fclose (f);
}

/* Prints {"n", "ok", "errors", "elapsed_s", "per_s", "p50_us", ...} and, with
 * @extra (a JSON fragment without braces), more members. Sorts @lat. */
static inline void
print_stats (FILE *f, uint64_t *lat, size_t ok, size_t errors, uint64_t elapsed_ns,
             const char *extra)
{
  qsort (lat, ok, sizeof *lat, cmp_u64);
  double sum = 0;
  for (size_t i = 0; i < ok; i++)
    sum += (double) lat[i] / 1000.0;
  double secs = (double) elapsed_ns / 1e9;
  fprintf (f,
           "{\"n\":%zu,\"ok\":%zu,\"errors\":%zu,\"elapsed_s\":%.6f,\"per_s\":%.1f,"
           "\"mean_us\":%.1f,\"min_us\":%.1f,\"p50_us\":%.1f,\"p90_us\":%.1f,\"p99_us\":%.1f,"
           "\"max_us\":%.1f%s%s}\n",
           ok + errors, ok, errors, secs, secs > 0 ? (double) ok / secs : 0.0,
           ok ? sum / (double) ok : 0.0, ok ? (double) lat[0] / 1000.0 : 0.0,
           quantile_us (lat, ok, 0.50), quantile_us (lat, ok, 0.90), quantile_us (lat, ok, 0.99),
           ok ? (double) lat[ok - 1] / 1000.0 : 0.0, extra && *extra ? "," : "",
           extra ? extra : "");
}

/* A pool of @n hardware ids handed out so that no two calls in flight share
 * one (the daemon answers Busy to that): a ring of free slots. With @fresh,
 * every call gets a new id instead. */
typedef struct {
  unsigned *ring;
  size_t n, head, count;
  int fresh;
  unsigned next;
} IdPool;

static inline void
pool_init (IdPool *p, size_t n, int fresh)
{
  memset (p, 0, sizeof *p);
  p->fresh = fresh;
  p->n = n ? n : 1;
  p->ring = calloc (p->n, sizeof *p->ring);
  for (size_t i = 0; i < p->n; i++)
    p->ring[i] = (unsigned) i;
  p->count = p->n;
}

static inline unsigned
pool_take (IdPool *p)
{
  if (p->fresh)
    return p->next++;
  unsigned id = p->ring[p->head];
  p->head = (p->head + 1) % p->n;
  p->count--;
  return id;
}

static inline void
pool_give (IdPool *p, unsigned id)
{
  if (p->fresh)
    return;
  p->ring[(p->head + p->count) % p->n] = id;
  p->count++;
}

static inline int
pool_empty (const IdPool *p)
{
  return !p->fresh && p->count == 0;
}

/* The load options bench-client and bench-direct share. */
typedef struct {
  const char *raw, *site, *prefix, *protocol;
  size_t calls, inflight, pool;
} LoadOptions;

#define LOAD_OPTIONS_USAGE \
  "--calls N --inflight K [--pool P>=K] [--site S] [--prefix HW] [--protocol MQTT|MQTTS] " \
  "[--raw PATH]"

/* Takes option @o with value @v when it is a shared one: 1, else 0. */
static inline int
load_option (LoadOptions *l, const char *o, const char *v)
{
  if (strcmp (o, "--calls") == 0)
    l->calls = strtoul (v, NULL, 10);
  else if (strcmp (o, "--inflight") == 0)
    l->inflight = strtoul (v, NULL, 10);
  else if (strcmp (o, "--pool") == 0)
    l->pool = strtoul (v, NULL, 10);
  else if (strcmp (o, "--site") == 0)
    l->site = v;
  else if (strcmp (o, "--prefix") == 0)
    l->prefix = v;
  else if (strcmp (o, "--protocol") == 0)
    l->protocol = v;
  else if (strcmp (o, "--raw") == 0)
    l->raw = v;
  else
    return 0;
  return 1;
}

static inline int
load_options_valid (const LoadOptions *l)
{
  return l->calls > 0 && l->inflight > 0 && (l->pool == 0 || l->pool >= l->inflight);
}
