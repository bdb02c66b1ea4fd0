/* ep-bus-load: many D-Bus connections and calls at once, for the memory test
 * (tests/integration/test_memory.py), which Python cannot drive at this rate.
 *
 *   ep-bus-load --address ADDR flood --connections N --prefix HW
 *               [--good-every G] [--abandon-every A]
 *     Opens N connections one after another (so the bus never holds many
 *     half-open ones), each sending at once: Introspect, Properties.Get
 *     (Version), Properties.GetAll, ProvisionUcm with a hardware id that
 *     breaks the input rules, ListDevices and, on every G-th connection,
 *     ProvisionUcm with good input (a fresh hardware id HW<n>). Every A-th
 *     connection is closed as soon as its calls are written, answers unread.
 *     Once every other connection has all its answers, prints one JSON line
 *     of what they were ({"calls": {LABEL: {"ok" or error name: count}}}),
 *     keeps the connections open until a line or EOF on stdin, closes them,
 *     and exits 0.
 *   ep-bus-load --address ADDR provision --calls N --inflight K --prefix HW
 *               [--pool P]
 *     N ProvisionUcm calls (MQTTS, hardware ids HW<n>) on one connection, K
 *     in flight; prints one JSON line of what they were. With --pool, n
 *     cycles through P ids (P >= K), never one twice in flight: the same
 *     devices provisioned again and again.
 *
 * Exit 2 on usage or connection problems, 3 when answers are missing after
 * 120 s. */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <systemd/sd-bus.h>
#include <time.h>

#define SERVICE "com.enapter.Provisioning1"
#define PATH "/com/enapter/Provisioning1"
#define IFACE SERVICE
#define CALL_TIMEOUT_US (60ULL * 1000 * 1000)
#define WAIT_S 120

/* What the answers to one kind of call were: "ok" or an error name, counted. */
#define MAX_OUTCOMES 8
typedef struct {
  const char *label;
  struct { char name[128]; unsigned n; } out[MAX_OUTCOMES];
  unsigned others;           /* outcomes past MAX_OUTCOMES */
} Tally;

enum { T_INTROSPECT, T_GET, T_GETALL, T_BAD, T_GOOD, T_LIST, N_TALLIES };
static Tally tallies[N_TALLIES] = {
  { .label = "Introspect" }, { .label = "Get" }, { .label = "GetAll" },
  { .label = "ProvisionBad" }, { .label = "ProvisionGood" }, { .label = "ListDevices" },
};
static unsigned pending;     /* counted calls not answered yet */

static const char *prefix = "LOAD";
static unsigned next_hw;

static void
tally_add (Tally *t, const char *name)
{
  for (int i = 0; i < MAX_OUTCOMES; i++)
    {
      if (t->out[i].n == 0)
        snprintf (t->out[i].name, sizeof t->out[i].name, "%s", name);
      if (strcmp (t->out[i].name, name) == 0)
        {
          t->out[i].n++;
          return;
        }
    }
  t->others++;
}

static int
on_reply (sd_bus_message *m, void *data, sd_bus_error *ret_error)
{
  const sd_bus_error *e = sd_bus_message_get_error (m);
  tally_add (data, e ? e->name : "ok");
  pending--;
  return 0;
}

static void
print_tallies (void)
{
  printf ("{\"calls\": {");
  bool first_t = true;
  for (int t = 0; t < N_TALLIES; t++)
    {
      if (tallies[t].out[0].n == 0 && tallies[t].others == 0)
        continue;
      printf ("%s\"%s\": {", first_t ? "" : ", ", tallies[t].label);
      first_t = false;
      for (int i = 0; i < MAX_OUTCOMES && tallies[t].out[i].n; i++)
        printf ("%s\"%s\": %u", i ? ", " : "", tallies[t].out[i].name, tallies[t].out[i].n);
      if (tallies[t].others)
        printf (", \"(others)\": %u", tallies[t].others);
      printf ("}");
    }
  printf ("}, \"pending\": %u}\n", pending);
  fflush (stdout);
}

static int
fail (const char *what, int r)
{
  fprintf (stderr, "ep-bus-load: %s: %s\n", what, strerror (-r));
  return 2;
}

/* A connection that has said Hello (sd_bus_get_unique_name waits for it). */
static int
open_bus (const char *address, sd_bus **ret)
{
  sd_bus *bus = NULL;
  const char *unique;
  int r = sd_bus_new (&bus);
  if (r >= 0)
    r = sd_bus_set_address (bus, address);
  if (r >= 0)
    r = sd_bus_set_bus_client (bus, 1);
  if (r >= 0)
    r = sd_bus_start (bus);
  if (r >= 0)
    r = sd_bus_get_unique_name (bus, &unique);
  if (r < 0)
    {
      sd_bus_unref (bus);
      return r;
    }
  *ret = bus;
  return 0;
}

/* Sends one call; its answer goes to @t (not counted when @t is NULL). */
static int
send_call (sd_bus *bus, Tally *t, const char *iface, const char *member, const char *types, ...)
{
  sd_bus_message *m = NULL;
  int r = sd_bus_message_new_method_call (bus, &m, SERVICE, PATH, iface, member);
  if (r >= 0 && types != NULL)
    {
      va_list ap;
      va_start (ap, types);
      r = sd_bus_message_appendv (m, types, ap);
      va_end (ap);
    }
  if (r >= 0)
    r = t ? sd_bus_call_async (bus, NULL, m, on_reply, t, CALL_TIMEOUT_US)
          : sd_bus_send (bus, m, NULL);
  sd_bus_message_unref (m);
  if (r >= 0 && t)
    pending++;
  return r;
}

static int
send_provision (sd_bus *bus, Tally *t, const char *hardware_id)
{
  return send_call (bus, t, IFACE, "ProvisionUcm", "ssss", "site-load", hardware_id,
                    "Load device", "MQTTS");
}

static int
send_good (sd_bus *bus, Tally *t)
{
  char hw[64];
  snprintf (hw, sizeof hw, "%s%06u", prefix, next_hw++);
  return send_provision (bus, t, hw);
}

/* Processes every connection until the counted answers are in. */
static int
pump (sd_bus **buses, size_t n)
{
  struct pollfd *fds = calloc (n, sizeof *fds);
  time_t deadline = time (NULL) + WAIT_S;
  while (pending > 0)
    {
      for (size_t i = 0; i < n; i++)
        {
          int r;
          while (buses[i] && (r = sd_bus_process (buses[i], NULL)) > 0)
            ;
          fds[i].fd = buses[i] ? sd_bus_get_fd (buses[i]) : -1;
          fds[i].events = buses[i] ? (short) sd_bus_get_events (buses[i]) : 0;
          fds[i].revents = 0;
        }
      if (pending == 0)
        break;
      if (time (NULL) > deadline)
        {
          free (fds);
          return -ETIMEDOUT;
        }
      if (poll (fds, n, 1000) < 0 && errno != EINTR)
        {
          free (fds);
          return -errno;
        }
    }
  free (fds);
  return 0;
}

static void
raise_fd_limit (void)
{
  struct rlimit rl;
  if (getrlimit (RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max)
    {
      rl.rlim_cur = rl.rlim_max;
      setrlimit (RLIMIT_NOFILE, &rl);
    }
}

static int
flood (const char *address, unsigned connections, unsigned good_every, unsigned abandon_every)
{
  sd_bus **buses = calloc (connections, sizeof *buses);
  for (unsigned i = 0; i < connections; i++)
    {
      sd_bus *bus;
      int r = open_bus (address, &bus);
      if (r < 0)
        return fail ("connecting", r);
      bool abandon = abandon_every && i % abandon_every == abandon_every - 1;
      bool good = good_every && i % good_every == 0;
      Tally *t = tallies;
      r = send_call (bus, abandon ? NULL : &t[T_INTROSPECT],
                       "org.freedesktop.DBus.Introspectable", "Introspect", NULL);
      if (r >= 0)
        r = send_call (bus, abandon ? NULL : &t[T_GET], "org.freedesktop.DBus.Properties",
                       "Get", "ss", IFACE, "Version");
      if (r >= 0)
        r = send_call (bus, abandon ? NULL : &t[T_GETALL], "org.freedesktop.DBus.Properties",
                       "GetAll", "s", IFACE);
      if (r >= 0)
        r = send_provision (bus, abandon ? NULL : &t[T_BAD], "../not a hardware id");
      if (r >= 0)
        r = send_call (bus, abandon ? NULL : &t[T_LIST], IFACE, "ListDevices", NULL);
      if (r >= 0 && good)
        r = send_good (bus, abandon ? NULL : &t[T_GOOD]);
      if (r < 0)
        return fail ("sending", r);
      if (abandon)
        {
          sd_bus_flush_close_unref (bus);
          continue;
        }
      buses[i] = bus;
      /* Read what has arrived, so the bus never holds much for us. */
      for (unsigned j = 0; j <= i; j++)
        while (buses[j] && i % 16 == 15 && sd_bus_process (buses[j], NULL) > 0)
          ;
    }
  int r = pump (buses, connections);
  print_tallies ();
  if (r < 0)
    return r == -ETIMEDOUT ? 3 : fail ("waiting for answers", r);
  /* Held open until told (the test reads the daemon's memory meanwhile). */
  char line[64];
  if (fgets (line, sizeof line, stdin) == NULL && ferror (stdin))
    return fail ("reading stdin", -errno);
  for (unsigned i = 0; i < connections; i++)
    sd_bus_flush_close_unref (buses[i]);
  free (buses);
  return 0;
}

/* Hardware ids HW<n> for n < pool, each in at most one call at a time: a
 * FIFO of the free ones, so every id is provisioned again in turn. */
typedef struct {
  sd_bus *bus;
  unsigned left;             /* calls not sent yet */
  unsigned pool;             /* 0: a new id every call */
  unsigned *free_ids;        /* ring of pool + 1 slots */
  unsigned head, tail;
} Provisioner;

typedef struct {
  Provisioner *p;
  unsigned id;
} Sent;

static int on_provisioned (sd_bus_message *m, void *data, sd_bus_error *ret_error);

static int
send_next (Provisioner *p)
{
  Sent *s = calloc (1, sizeof *s);
  s->p = p;
  if (p->pool == 0)
    s->id = next_hw++;
  else
    {
      s->id = p->free_ids[p->head];
      p->head = (p->head + 1) % (p->pool + 1);
    }
  p->left--;
  char hw[64];
  snprintf (hw, sizeof hw, "%s%06u", prefix, s->id);
  sd_bus_message *call = NULL;
  int r = sd_bus_message_new_method_call (p->bus, &call, SERVICE, PATH, IFACE, "ProvisionUcm");
  if (r >= 0)
    r = sd_bus_message_append (call, "ssss", "site-load", hw, "Load device", "MQTTS");
  if (r >= 0)
    r = sd_bus_call_async (p->bus, NULL, call, on_provisioned, s, CALL_TIMEOUT_US);
  sd_bus_message_unref (call);
  if (r < 0)
    {
      free (s);
      return r;
    }
  pending++;
  return 0;
}

static int
on_provisioned (sd_bus_message *m, void *data, sd_bus_error *ret_error)
{
  Sent *s = data;
  Provisioner *p = s->p;
  on_reply (m, &tallies[T_GOOD], ret_error);
  if (p->pool > 0)
    {
      p->free_ids[p->tail] = s->id;
      p->tail = (p->tail + 1) % (p->pool + 1);
    }
  free (s);
  if (p->left > 0 && send_next (p) < 0)
    tally_add (&tallies[T_GOOD], "(not sent)");
  return 0;
}

static int
provision (const char *address, unsigned calls, unsigned inflight, unsigned pool)
{
  Provisioner p = { .left = calls, .pool = pool };
  if (pool > 0 && pool < inflight)
    {
      fprintf (stderr, "ep-bus-load: --pool must be at least --inflight\n");
      return 2;
    }
  p.free_ids = calloc (pool + 1, sizeof *p.free_ids);
  for (unsigned i = 0; i < pool; i++)
    p.free_ids[p.tail++] = i;
  int r = open_bus (address, &p.bus);
  if (r < 0)
    return fail ("connecting", r);
  for (unsigned i = 0; i < inflight && p.left > 0; i++)
    if ((r = send_next (&p)) < 0)
      return fail ("sending", r);
  r = pump (&p.bus, 1);
  print_tallies ();
  sd_bus_flush_close_unref (p.bus);
  free (p.free_ids);
  if (r < 0)
    return r == -ETIMEDOUT ? 3 : fail ("waiting for answers", r);
  return 0;
}

static int
usage (void)
{
  fputs ("usage: ep-bus-load --address ADDR MODE ...\n"
         "  flood --connections N --prefix HW [--good-every G] [--abandon-every A]\n"
         "  provision --calls N --inflight K --prefix HW [--pool P]\n", stderr);
  return 2;
}

int
main (int argc, char **argv)
{
  const char *address = NULL, *mode = NULL;
  unsigned connections = 0, good_every = 0, abandon_every = 0, calls = 0, inflight = 1, pool = 0;
  for (int i = 1; i < argc; i++)
    {
      const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
      unsigned *num = strcmp (o, "--connections") == 0 ? &connections
                      : strcmp (o, "--good-every") == 0 ? &good_every
                      : strcmp (o, "--abandon-every") == 0 ? &abandon_every
                      : strcmp (o, "--calls") == 0 ? &calls
                      : strcmp (o, "--inflight") == 0 ? &inflight
                      : strcmp (o, "--pool") == 0 ? &pool : NULL;
      if (num != NULL && v != NULL)
        *num = (unsigned) strtoul (v, NULL, 10), i++;
      else if (strcmp (o, "--address") == 0 && v != NULL)
        address = v, i++;
      else if (strcmp (o, "--prefix") == 0 && v != NULL)
        prefix = v, i++;
      else if (mode == NULL && o[0] != '-')
        mode = o;
      else
        return usage ();
    }
  if (address == NULL || mode == NULL)
    return usage ();
  raise_fd_limit ();
  if (strcmp (mode, "flood") == 0 && connections > 0)
    return flood (address, connections, good_every, abandon_every);
  if (strcmp (mode, "provision") == 0 && calls > 0 && inflight > 0)
    return provision (address, calls, inflight, pool);
  return usage ();
}
