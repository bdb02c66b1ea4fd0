/* Who is calling, and whether they may (enapter-provisiond(8) "ACCESS"):
 * root, an operator (a member of [Access] Group), or a consumer ([Consumer]
 * sections, for the methods open to them). The bus policy says the same
 * for operators; this check makes sure a loose policy opens nothing. */
#pragma once

#include "config.h"

#include <systemd/sd-bus.h>

typedef struct {
  uid_t uid;
  pid_t pid;
  const char *unit;          /* systemd unit of the caller, or NULL */
  gboolean root;             /* root, or the daemon's own user */
  gboolean operator;         /* a member of [Access] Group */
  guint64 consumers;         /* the [Consumer] sections it matches (consumers.h) */
} EpCaller;

/* Who may call a method at all (what each may then see is the method's
 * business). */
typedef enum {
  EP_ACCESS_OPERATORS,       /* root and operators */
  EP_ACCESS_CONSUMERS,       /* root, operators and consumers */
} EpAccess;

/* @error is NULL when the caller may call (as @access says), else
 * EP_ERROR_ACCESS_DENIED with a message for the caller. @caller is valid during the callback only. */
typedef void (*EpCallerChecked) (const EpCaller *caller, const GError *error,
                                 gpointer user_data);

/* The callers seen on one bus connection, remembered until they leave. */
typedef struct EpCallers EpCallers;

EpCallers *ep_callers_new (sd_bus *bus, const EpConfig *config);
void ep_callers_free (EpCallers *callers);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (EpCallers, ep_callers_free)

/* Calls @done once: at once for a connection already known, else after
 * asking the bus driver for its credentials without blocking the loop (one
 * question per connection, whatever number of its calls wait for it; a
 * check still waiting when @callers is freed is dropped unanswered).
 * Returns a negative errno when the query cannot be sent; @done is then
 * not called. */
int ep_callers_check (EpCallers *callers, sd_bus_message *call, EpAccess access,
                      EpCallerChecked done, gpointer user_data);

/* "uid U, pid P, unit N" for logs. */
const char *ep_caller_describe (const EpCaller *caller, char *buf, size_t size);
