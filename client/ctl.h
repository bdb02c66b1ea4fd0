/* enapter-provisionctl: what the client's files share. The client speaks only
 * the public D-Bus API (README "D-Bus API"); it links nothing of the daemon. */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>
#include <systemd/sd-bus.h>

#define CTL_BUS_NAME "com.enapter.Provisioning1"
#define CTL_PATH "/com/enapter/Provisioning1"
#define CTL_IFACE "com.enapter.Provisioning1"
#define CTL_ERROR_PREFIX CTL_IFACE ".Error."

/* Exit statuses: success, a failed operation (the daemon's error, no
 * connection, a timeout), a usage error. */
enum { CTL_EXIT_OK = 0, CTL_EXIT_FAILURE = 1, CTL_EXIT_USAGE = 2 };

G_DEFINE_AUTOPTR_CLEANUP_FUNC (sd_bus, sd_bus_flush_close_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (sd_bus_message, sd_bus_message_unref)

/* The global options (accepted before and after the command) and the
 * connection made from them. */
typedef struct {
  gboolean system;
  gboolean session;
  char *address;
  gboolean json;
  char *timeout_text;
  double timeout;      /* seconds, from --timeout */
  gboolean verbose;
  /* Where each parse puts the string options: GOption would drop the value
   * of an option given both before and after the command without freeing. */
  char *address_arg;
  char *timeout_arg;
  sd_bus *bus;
} Ctl;

/* A command's entry point: @argv[0] is the command's name. Returns the exit
 * status. */
typedef int (*CtlRun) (Ctl *ctl, int argc, char **argv);

typedef struct {
  const char *name;
  const char *params;  /* positional arguments for the usage line, or NULL */
  const char *summary;
  CtlRun run;
} CtlCommand;

/* provisionctl.c */

/* Prints "enapter-provisionctl: MESSAGE" on stderr. */
void ctl_message (const char *format, ...) G_GNUC_PRINTF (1, 2);

/* Prints a usage error naming @command (or the program) and returns
 * CTL_EXIT_USAGE. */
int ctl_usage_error (const char *command, const char *format, ...) G_GNUC_PRINTF (2, 3);

/* Parses a command's options (@entries plus the global ones) from
 * @argc/@argv; --help prints and exits 0. Returns FALSE after reporting a
 * usage error. @n_params is how many positional arguments must follow. */
gboolean ctl_parse (Ctl *ctl, const char *command, const char *params, const char *summary,
                    const char *description, const GOptionEntry *entries, int *argc,
                    char ***argv, int n_params);

/* Connects to the bus the options name; reports a failure and returns NULL. */
sd_bus *ctl_bus (Ctl *ctl);

/* A method call on the daemon's object, ready for arguments. */
sd_bus_message *ctl_new_call (Ctl *ctl, const char *method);

/* Sends @call and waits up to --timeout. Returns the reply, or NULL after
 * reporting the error. */
sd_bus_message *ctl_call (Ctl *ctl, sd_bus_message *call);

/* Calls @method with its one argument, the string @device_id (GetDevice,
 * ForgetDevice, OpenCredentials); the reply, or NULL after reporting why. */
sd_bus_message *ctl_call_device (Ctl *ctl, const char *method, const char *device_id);

/* Reports a D-Bus error (the daemon's, the bus's or a local one for -@r):
 * its message, and with --verbose its name. */
void ctl_report_error (Ctl *ctl, const sd_bus_error *error, int r);

/* Reports a reply that does not have the documented signature. */
int ctl_bad_reply (const char *method, int r);

/* commands.c: the provisioning commands (the i-th, NULL past the last) and
 * the keystore commands (up to an entry without a name). */
const CtlCommand *ctl_kind_command (gsize i);
extern const CtlCommand ctl_device_commands[];

/* monitor.c */
int ctl_monitor (Ctl *ctl, int argc, char **argv);

/* export.c */
int ctl_export (Ctl *ctl, int argc, char **argv);

/* output.c */

/* The next value as JSON (every basic type, the integers 'x' and 't'
 * among them, variants, arrays, structures and dictionaries with string
 * keys), or NULL: an error when *r < 0, otherwise a value with no JSON form
 * (a dictionary with non-string keys), skipped. */
JsonNode *ctl_read_value (sd_bus_message *m, int *r);

/* Reads an a{sv} into a JSON object: basic values, nested a{sv} and arrays
 * of them; other values are skipped. Returns NULL and sets @r on failure. */
JsonObject *ctl_read_vardict (sd_bus_message *m, int *r);

/* Reads an aa{sv}. */
JsonArray *ctl_read_vardict_array (sd_bus_message *m, int *r);

/* --json: @node as one line of compact JSON on stdout. */
void ctl_print_json (JsonNode *node);
void ctl_print_json_object (JsonObject *object);

/* A value as a person reads it: strings without control characters, yes/no,
 * numbers, anything else as JSON. */
char *ctl_value_text (JsonNode *node);

/* @seconds since the epoch as RFC 3339 UTC ("2027-11-30T12:00:00Z"), as
 * the daemon writes its own times; NULL outside years 1 to 9999. */
char *ctl_time_text (gint64 seconds);

/* The text of the member @key: ctl_value_text, but a Unix time
 * (certificate_not_before, certificate_not_after, not_after) as
 * ctl_time_text. */
char *ctl_detail_text (const char *key, JsonNode *node);

/* Human output: the object's members as aligned "key: value" lines, the
 * well-known keys first. */
void ctl_print_fields (JsonObject *object);

/* Human output: devices as a table, or "No devices.". */
void ctl_print_device_table (JsonArray *devices);
