/* An LD_PRELOAD module for the integration tests: a DNS server that is slow
 * for one name. getaddrinfo() of $EP_SLOW_RESOLVER_HOST sleeps
 * $EP_SLOW_RESOLVER_SECONDS (default 10) and then answers as if the name
 * were 127.0.0.1; every other name goes straight to the real getaddrinfo.
 * It lets a test without root see whether the daemon's loop waits on a
 * resolver thread (libcurl's threaded resolver runs getaddrinfo there). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef int (*GetaddrinfoFn) (const char *, const char *, const struct addrinfo *,
                              struct addrinfo **);

int
getaddrinfo (const char *node, const char *service, const struct addrinfo *hints,
             struct addrinfo **res)
{
  GetaddrinfoFn real = (GetaddrinfoFn) dlsym (RTLD_NEXT, "getaddrinfo");
  if (real == NULL)
    return EAI_SYSTEM;
  const char *slow = getenv ("EP_SLOW_RESOLVER_HOST");
  if (node == NULL || slow == NULL || strcmp (node, slow) != 0)
    return real (node, service, hints, res);
  const char *seconds = getenv ("EP_SLOW_RESOLVER_SECONDS");
  struct timespec left = { .tv_sec = seconds ? atoi (seconds) : 10 };
  /* Signals (the daemon's SIGTERM) do not cut the wait short. */
  while (nanosleep (&left, &left) < 0 && errno == EINTR)
    ;
  return real ("127.0.0.1", service, hints, res);
}
