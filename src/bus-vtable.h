/* The object's vtable, assembled at start: one method per row of the kinds
 * table (each Provision method) and of its methods on stored devices
 * (GenerateCredentials), signature and argument names from the row, then the
 * fixed methods, signals and properties bus.c declares statically. */
#pragma once

#include <glib.h>
#include <systemd/sd-bus.h>

/* A vtable (free with g_free) whose table-made methods all call @provision,
 * followed by the @n_fixed entries of @fixed. The strings it points to are
 * added to @strings, which must outlive it. */
sd_bus_vtable *ep_bus_vtable_new (sd_bus_message_handler_t provision, const sd_bus_vtable *fixed,
                                  gsize n_fixed, GPtrArray *strings);
