/* The operator's view on the bus (enapter-provisiond(8) DIAGNOSTICS):
 * Diagnose, for root and operators, and the read-only properties Targets,
 * AutoRenewal and NextRenewal, which bus.c's vtable names. Diagnose calls
 * that arrive while a run is under way share its result: one run at a
 * time, however many ask. */
#include "bus-private.h"

#include "diagnose.h"
#include "ep-build-config.h"
#include "errors.h"
#include "renewal.h"

/* ---- Diagnose ---------------------------------------------------------- */

/* @data: the checks (EpCheck), as a(sss). */
static int
append_checks (sd_bus_message *m, gconstpointer data)
{
  const GPtrArray *checks = data;
  int r = sd_bus_message_open_container (m, 'a', "(sss)");
  for (guint i = 0; r >= 0 && i < checks->len; i++)
    {
      const EpCheck *c = checks->pdata[i];
      r = sd_bus_message_append (m, "(sss)", c->name, ep_check_level_name (c->level),
                                 c->message);
    }
  if (r >= 0)
    r = sd_bus_message_close_container (m);
  return r;
}

/* The log line names this many checks of a level at most. */
#define SUMMARY_NAMES 10

/* "a, b, c", or "a, ..., j and N more" beyond SUMMARY_NAMES. */
static void
finish_names (GString *names, guint count)
{
  if (count > SUMMARY_NAMES)
    g_string_append_printf (names, " and %u more", count - SUMMARY_NAMES);
}

/* "N checks: errors: a, b; warnings: c", for the log. */
static char *
summary (const GPtrArray *checks)
{
  g_autoptr (GString) errors = g_string_new ("");
  g_autoptr (GString) warnings = g_string_new ("");
  guint n_errors = 0, n_warnings = 0;
  for (guint i = 0; i < checks->len; i++)
    {
      const EpCheck *c = checks->pdata[i];
      GString *s = c->level == EP_CHECK_ERROR ? errors
                   : c->level == EP_CHECK_WARNING ? warnings
                                                  : NULL;
      if (s == NULL)
        continue;
      guint *n = s == errors ? &n_errors : &n_warnings;
      if (++*n <= SUMMARY_NAMES)
        g_string_append_printf (s, "%s%s", s->len ? ", " : "", c->name);
    }
  finish_names (errors, n_errors);
  finish_names (warnings, n_warnings);
  return g_strdup_printf ("%u checks: %s%s%s%s%s", checks->len,
                          errors->len ? "errors: " : "no error", errors->str,
                          warnings->len ? "; warnings: " : "", warnings->str,
                          errors->len || warnings->len ? "" : " or warning");
}

/* @data: the calls waiting for the run (Call), the same array as
 * bus->diagnosing, or emptied by ep_bus_status_free when the bus went
 * first. */
static void
on_diagnosed (GPtrArray *checks, gpointer data)
{
  g_autoptr (GPtrArray) calls = data;
  if (calls->len == 0)
    return;
  EpBus *bus = ((Call *) calls->pdata[0])->bus;
  g_clear_pointer (&bus->diagnosing, g_ptr_array_unref);
  g_autofree char *text = summary (checks);
  for (guint i = 0; i < checks->len; i++)
    {
      const EpCheck *c = checks->pdata[i];
      if (c->level != EP_CHECK_OK)
        ep_debug ("Diagnose: %s: %s: %s", c->name, ep_check_level_name (c->level), c->message);
    }
  for (guint i = 0; i < calls->len; i++)
    {
      Call *call = calls->pdata[i];
      char who[256];
      ep_info ("Diagnose (%s): %s", ep_bus_call_caller (call, who, sizeof who), text);
      ep_bus_reply_with (call, append_checks, checks);
      ep_bus_call_free (call);
    }
}

static void
proceed_diagnose (void *data)
{
  Call *call = data;
  EpBus *bus = call->bus;
  if (bus->diagnosing != NULL)
    {
      g_ptr_array_add (bus->diagnosing, call);
      return;
    }
  bus->diagnosing = g_ptr_array_new ();
  g_ptr_array_add (bus->diagnosing, call);
  ep_diagnose (bus->config, ep_service_keystore (bus->svc), EP_BUILD_TIME, on_diagnosed,
               g_ptr_array_ref (bus->diagnosing));
}

int
ep_bus_method_diagnose (sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
  return ep_bus_call_check (ep_bus_call_new (userdata, m, EP_ACCESS_OPERATORS,
                                             proceed_diagnose));
}

/* ---- properties -------------------------------------------------------- */

int
ep_bus_get_targets (sd_bus *b, const char *path, const char *iface, const char *prop,
                    sd_bus_message *reply, void *userdata, sd_bus_error *ret_error)
{
  EpBus *bus = userdata;
  const EpEndpoint *eps[] = { &bus->config->cloud, &bus->config->gateway };
  int r = sd_bus_message_open_container (reply, 'a', "{ss}");
  for (guint i = 0; r >= 0 && i < G_N_ELEMENTS (eps); i++)
    r = sd_bus_message_append (reply, "{ss}", eps[i]->name, eps[i]->url ? eps[i]->url : "");
  if (r >= 0)
    r = sd_bus_message_close_container (reply);
  return r;
}

int
ep_bus_get_auto_renewal (sd_bus *b, const char *path, const char *iface, const char *prop,
                         sd_bus_message *reply, void *userdata, sd_bus_error *ret_error)
{
  EpBus *bus = userdata;
  return sd_bus_message_append (reply, "b", bus->config->renewal_auto);
}

/* NextRenewal now: Unix seconds, 0 when none is due or renewal is off.
 * Renewal's schedule has it at hand; before there is one (and after), a
 * look at every device of the keystore. */
static gint64
next_renewal (EpBus *bus)
{
  if (!bus->config->renewal_auto)
    return 0;
  gint64 due = bus->renewal != NULL
                   ? ep_renewal_earliest_due (bus->renewal)
                   : ep_renewal_next_due (bus->config, ep_service_keystore (bus->svc));
  return due == G_MAXINT64 ? 0 : due / G_USEC_PER_SEC;
}

/* The value now, not as last told: renewal has judged a change before the
 * loop reads the next message, the PropertiesChanged may still be pending. */
int
ep_bus_get_next_renewal (sd_bus *b, const char *path, const char *iface, const char *prop,
                         sd_bus_message *reply, void *userdata, sd_bus_error *ret_error)
{
  EpBus *bus = userdata;
  return sd_bus_message_append (reply, "x", (int64_t) next_renewal (bus));
}

static gboolean
tell_next_renewal (gpointer data)
{
  EpBus *bus = data;
  bus->next_renewal_idle = 0;
  gint64 next = next_renewal (bus);
  if (next == bus->next_renewal)
    return G_SOURCE_REMOVE;
  bus->next_renewal = next;
  int r = sd_bus_emit_properties_changed (bus->bus, EP_BUS_PATH, EP_BUS_INTERFACE,
                                          "NextRenewal", NULL);
  if (r < 0)
    ep_warning ("bus: cannot emit PropertiesChanged: %s", g_strerror (-r));
  return G_SOURCE_REMOVE;
}

/* Every change of the keystore may change the schedule. Told once the
 * listeners have all run (renewal's after this one), and once for the
 * changes of one loop iteration. */
static void
on_credentials_changed (const char *device_id, const char *reason, const EpDetails *details,
                        gpointer data)
{
  EpBus *bus = data;
  if (bus->config->renewal_auto && bus->next_renewal_idle == 0)
    bus->next_renewal_idle = g_idle_add_full (G_PRIORITY_DEFAULT, tell_next_renewal, bus, NULL);
}

void
ep_bus_set_renewal (EpBus *bus, EpRenewal *renewal)
{
  bus->renewal = renewal;
}

static const EpServiceListener status_listener = {
  .credentials_changed = on_credentials_changed,
};

void
ep_bus_status_init (EpBus *bus)
{
  bus->next_renewal = next_renewal (bus);
  ep_service_add_listener (bus->svc, &status_listener, bus);
}

void
ep_bus_status_free (EpBus *bus)
{
  if (bus->svc != NULL)
    ep_service_remove_listener (bus->svc, &status_listener, bus);
  if (bus->next_renewal_idle != 0)
    g_source_remove (bus->next_renewal_idle);
  bus->next_renewal_idle = 0;
  if (bus->diagnosing == NULL)
    return;
  /* Stopping without waiting (a second stop signal, the bus lost): the
   * callers get an answer, and the run, should it ever end, finds the
   * array it shares emptied. */
  g_autoptr (GPtrArray) calls = g_steal_pointer (&bus->diagnosing);
  /* The bus is being freed: its owner (whose loop may be gone) must hear
   * of no more events, the last call answered included. */
  bus->on_idle = NULL;
  g_autoptr (GError) error = g_error_new (EP_ERROR, EP_ERROR_UNAVAILABLE,
                                          "the service stopped before Diagnose finished; "
                                          "call it again once the service is back");
  for (guint i = 0; i < calls->len; i++)
    {
      ep_bus_reply_error (calls->pdata[i], error);
      ep_bus_call_free (calls->pdata[i]);
    }
  g_ptr_array_set_size (calls, 0);
}
