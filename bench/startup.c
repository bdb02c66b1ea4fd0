/* bench-startup: how long the daemon takes from exec to owning its bus name.
 * Subscribes to NameOwnerChanged for com.enapter.Provisioning1 first, then
 * @runs times: fork+exec the daemon, wait for the name to be taken, stop the
 * daemon with SIGTERM and wait for it to exit and the name to be released.
 * The clock starts just before fork. Prints one JSON object.
 *
 *   bench-startup --address ADDR --runs N [--raw PATH] -- DAEMON ARGS... */
#define _GNU_SOURCE
#include "bus.h"
#include "stats.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <systemd/sd-bus.h>
#include <unistd.h>

#define NAME "com.enapter.Provisioning1"

static int owned = -1;     /* last seen: 1 owned, 0 released */
static uint64_t owned_at;

static int
on_owner_changed (sd_bus_message *m, void *data, sd_bus_error *ret_error)
{
  const char *name, *old_owner, *new_owner;
  if (sd_bus_message_read (m, "sss", &name, &old_owner, &new_owner) < 0 ||
      strcmp (name, NAME) != 0)
    return 0;
  owned = new_owner[0] != '\0';
  if (owned)
    owned_at = now_ns ();
  return 0;
}

/* Processes the bus until @want is seen or @timeout_ns passes; watches @pid. */
static int
wait_owner (sd_bus *bus, int want, pid_t pid, uint64_t timeout_ns, int *exited)
{
  uint64_t until = now_ns () + timeout_ns;
  while (owned != want)
    {
      int r = sd_bus_process (bus, NULL);
      if (r < 0)
        return r;
      if (r > 0)
        continue;
      if (pid > 0 && !*exited && waitpid (pid, NULL, WNOHANG) == pid)
        *exited = 1;
      if (*exited && want == 1)
        return -ECHILD;
      if (now_ns () > until)
        return -ETIMEDOUT;
      sd_bus_wait (bus, 5000);    /* 5 ms: also notices an early exit */
    }
  return 0;
}

int
main (int argc, char **argv)
{
  const char *address = NULL, *raw = NULL;
  int runs = 20, i = 1;
  for (; i < argc && strcmp (argv[i], "--") != 0; i += 2)
    {
      if (i + 1 >= argc)
        break;
      if (strcmp (argv[i], "--address") == 0)
        address = argv[i + 1];
      else if (strcmp (argv[i], "--raw") == 0)
        raw = argv[i + 1];
      else if (strcmp (argv[i], "--runs") == 0)
        runs = atoi (argv[i + 1]);
    }
  if (address == NULL || runs < 1 || i >= argc - 1)
    {
      fprintf (stderr,
               "usage: bench-startup --address ADDR --runs N [--raw PATH] -- DAEMON ARGS...\n");
      return 2;
    }
  char **daemon_argv = argv + i + 1;

  sd_bus *bus = NULL;
  int r = bench_bus_open (address, &bus);
  if (r >= 0)
    r = sd_bus_match_signal (bus, NULL, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                             "org.freedesktop.DBus", "NameOwnerChanged", on_owner_changed, NULL);
  if (r < 0)
    {
      fprintf (stderr, "bench-startup: bus %s: %s\n", address, strerror (-r));
      return 1;
    }
  setenv ("DBUS_SYSTEM_BUS_ADDRESS", address, 1);

  uint64_t *lat = calloc ((size_t) runs, sizeof *lat);
  for (int run = 0; run < runs; run++)
    {
      owned = 0;
      uint64_t t0 = now_ns ();
      pid_t pid = fork ();
      if (pid < 0)
        return 1;
      if (pid == 0)
        {
          execv (daemon_argv[0], daemon_argv);
          _exit (127);
        }
      int exited = 0;
      r = wait_owner (bus, 1, pid, 10 * 1000000000ull, &exited);
      if (r < 0)
        {
          fprintf (stderr, "bench-startup: run %d: the daemon did not own %s: %s\n", run, NAME,
                   strerror (-r));
          kill (pid, SIGKILL);
          return 1;
        }
      lat[run] = owned_at - t0;
      kill (pid, SIGTERM);
      r = wait_owner (bus, 0, 0, 10 * 1000000000ull, &exited);
      if (!exited)
        waitpid (pid, NULL, 0);
      if (r < 0)
        {
          fprintf (stderr, "bench-startup: run %d: %s was not released\n", run, NAME);
          return 1;
        }
    }
  char extra[64];
  snprintf (extra, sizeof extra, "\"runs\":%d", runs);
  if (raw != NULL && write_raw (raw, lat, (size_t) runs) < 0)
    {
      perror (raw);
      return 1;
    }
  print_stats (stdout, lat, (size_t) runs, 0, 0, extra);
  sd_bus_flush_close_unref (bus);
  free (lat);
  return 0;
}
