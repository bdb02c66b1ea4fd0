/* A client connection to the private bus the bench starts. */
#pragma once

#include <systemd/sd-bus.h>

/* Connects to @address as a bus client; a negative errno on failure. */
static inline int
bench_bus_open (const char *address, sd_bus **bus)
{
  int r = sd_bus_new (bus);
  if (r >= 0)
    r = sd_bus_set_address (*bus, address);
  if (r >= 0)
    r = sd_bus_set_bus_client (*bus, 1);
  if (r >= 0)
    r = sd_bus_start (*bus);
  return r;
}
