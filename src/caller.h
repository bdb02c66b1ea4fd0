/* Who is calling, and whether they may (SPEC section 4): root, or a member
 * of [Access] Group. The bus policy says the same; this check makes sure a
 * loose policy opens nothing. */
#pragma once

#include "config.h"

#include <systemd/sd-bus.h>

typedef struct {
  uid_t uid;
  pid_t pid;
  const char *unit;          /* systemd unit of the caller, or NULL */
} EpCaller;

/* @error is NULL when the caller may call, else EP_ERROR_ACCESS_DENIED with a
 * message for the caller. @caller is valid during the callback only. */
typedef void (*EpCallerChecked) (const EpCaller *caller, const GError *error,
                                 gpointer user_data);

/* Asks the bus driver for the sender's credentials without blocking the
 * loop, then calls @done once, unless *@slot is unreferenced first. Returns
 * a negative errno when the query cannot be sent; @done is then not called. */
int ep_caller_check (sd_bus *bus, sd_bus_message *call, const EpConfig *config,
                     EpCallerChecked done, gpointer user_data, sd_bus_slot **slot);

/* "uid U, pid P, unit N" for logs. */
const char *ep_caller_describe (const EpCaller *caller, char *buf, size_t size);
