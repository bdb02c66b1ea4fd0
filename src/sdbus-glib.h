/* sd-bus on a GLib main loop, and GVariant values into sd-bus messages. */
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

/* Appends @value: a basic type (s, b, u, d), a variant, or an array or dict
 * of those (a{sv}, aa{sv}). */
int ep_sdbus_append (sd_bus_message *m, GVariant *value);

/* Appends each member of the tuple @args as one message argument. */
int ep_sdbus_append_args (sd_bus_message *m, GVariant *args);
