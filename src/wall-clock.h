/* The wall clock, read with this build's own 64-bit time_t; header-only,
 * for the daemon and enapter-provisionctl (which links nothing of the
 * daemon). Not g_get_real_time () or g_date_time_new_now_utc (): on Debian
 * 12 armhf GLib is built with a 32-bit time_t and reads the clock with
 * gettimeofday (), which fails from 2038-01-19T03:14:08Z on (GLib then
 * returns garbage), so renewal, Diagnose and the client's "expired" would
 * judge by a wrong date. */
#pragma once

#include <glib.h>
#include <time.h>

/* Now, as Unix microseconds. */
static inline gint64
ep_wall_clock_us (void)
{
  struct timespec ts;
  if (clock_gettime (CLOCK_REALTIME, &ts) != 0)
    return g_get_real_time ();   /* CLOCK_REALTIME cannot fail on Linux */
  return (gint64) ts.tv_sec * G_USEC_PER_SEC + ts.tv_nsec / 1000;
}
