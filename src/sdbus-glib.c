#include "sdbus-glib.h"

#include <errno.h>
#include <poll.h>
#include <string.h>

typedef struct {
  GSource source;
  sd_bus *bus;
  gpointer tag;
  GIOCondition events;       /* what the fd is polled for now */
  gboolean dispatching;      /* in sd_bus_process (), which must not recurse */
  void (*on_error) (int error, gpointer user_data);
  gpointer user_data;
} BusSource;

static gint64
bus_timeout_us (sd_bus *bus)
{
  uint64_t usec = UINT64_MAX;
  if (sd_bus_get_timeout (bus, &usec) < 0 || usec == UINT64_MAX)
    return -1;
  return (gint64) MIN (usec, (uint64_t) G_MAXINT64);
}

static gboolean
bus_source_prepare (GSource *source, gint *timeout)
{
  BusSource *s = (BusSource *) source;
  *timeout = -1;
  if (s->dispatching)
    return FALSE;
  int events = sd_bus_get_events (s->bus);
  GIOCondition cond = 0;
  if (events > 0 && (events & POLLIN))
    cond |= G_IO_IN;
  if (events > 0 && (events & POLLOUT))
    cond |= G_IO_OUT;
  /* Only on change: every modification wakes the main context up again. */
  if (cond != s->events)
    {
      g_source_modify_unix_fd (source, s->tag, cond);
      s->events = cond;
    }

  /* sd-bus reports an absolute CLOCK_MONOTONIC time, as GLib's clock. */
  gint64 when = bus_timeout_us (s->bus);
  if (when < 0)
    {
      *timeout = -1;
      return FALSE;
    }
  gint64 now = g_source_get_time (source);
  if (when <= now)
    {
      *timeout = 0;
      return TRUE;
    }
  *timeout = (gint) MIN ((when - now + 999) / 1000, G_MAXINT);
  return FALSE;
}

static gboolean
bus_source_check (GSource *source)
{
  BusSource *s = (BusSource *) source;
  if (s->dispatching)
    return FALSE;
  if (g_source_query_unix_fd (source, s->tag) != 0)
    return TRUE;
  gint64 when = bus_timeout_us (s->bus);
  return when >= 0 && when <= g_source_get_time (source);
}

static gboolean
bus_source_dispatch (GSource *source, GSourceFunc callback, gpointer data)
{
  BusSource *s = (BusSource *) source;
  int r;
  s->dispatching = TRUE;
  while ((r = sd_bus_process (s->bus, NULL)) > 0)
    ;
  s->dispatching = FALSE;
  if (r < 0)
    {
      s->on_error (-r, s->user_data);
      return G_SOURCE_REMOVE;
    }
  return G_SOURCE_CONTINUE;
}

static GSourceFuncs bus_source_funcs = {
  .prepare = bus_source_prepare,
  .check = bus_source_check,
  .dispatch = bus_source_dispatch,
};

GSource *
ep_sdbus_source_new (sd_bus *bus, void (*on_error) (int error, gpointer user_data),
                     gpointer user_data)
{
  GSource *source = g_source_new (&bus_source_funcs, sizeof (BusSource));
  BusSource *s = (BusSource *) source;
  s->bus = bus;
  s->on_error = on_error;
  s->user_data = user_data;
  s->events = G_IO_IN;
  s->tag = g_source_add_unix_fd (source, sd_bus_get_fd (bus), s->events);
  g_source_set_name (source, "sd-bus");
  /* GLib 2.74 takes the fds of a source that may not recurse out of its
   * poll set for each dispatch and puts them back after, and each change
   * of the set writes to the context's wakeup fd: two writes, a read and a
   * poll more per dispatch. Nothing here runs the loop from a callback;
   * should anything ever, @dispatching keeps sd_bus_process () from being
   * entered again (it would fail with EBUSY, taken for a lost bus). */
  g_source_set_can_recurse (source, TRUE);
  return source;
}
