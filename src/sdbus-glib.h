/* sd-bus on a GLib main loop: the event source, nothing more. */
#pragma once

#include <glib.h>
#include <systemd/sd-bus.h>

G_DEFINE_AUTOPTR_CLEANUP_FUNC (sd_bus_message, sd_bus_message_unref)

/* A source that processes @bus whenever its fd is ready or its timeout (an
 * absolute CLOCK_MONOTONIC time, as GLib's clock) has come. When processing
 * fails (the connection is gone), @on_error gets the errno and the source
 * ends. Attach it to the loop's context. */
GSource *ep_sdbus_source_new (sd_bus *bus, void (*on_error) (int error, gpointer user_data),
                              gpointer user_data);
