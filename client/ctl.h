/* enapter-provisionctl: what the client's files share. The client speaks only
 * the public D-Bus API (README "D-Bus API"); it links nothing of the daemon. */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>
#include <systemd/sd-bus.h>

#define CTL_PROGRAM "enapter-provisionctl"
#define CTL_BUS_NAME "com.enapter.Provisioning1"
#define CTL_PATH "/com/enapter/Provisioning1"
#define CTL_IFACE "com.enapter.Provisioning1"
#define CTL_ERROR_PREFIX CTL_IFACE ".Error."

/* Exit statuses (the man page's EXIT STATUS): success, the daemon answered
 * an error (or its answer made no sense), a usage error, the daemon cannot
 * be reached (no bus, not running, no answer in time). */
enum {
  CTL_EXIT_OK = 0,
  CTL_EXIT_FAILURE = 1,
  CTL_EXIT_USAGE = 2,
  CTL_EXIT_UNREACHABLE = 3,
};

/* --json's modes; OFF is 0, so "if (ctl->json)" asks "any JSON?". */
typedef enum { CTL_JSON_OFF = 0, CTL_JSON_SHORT, CTL_JSON_PRETTY } CtlJson;

G_DEFINE_AUTOPTR_CLEANUP_FUNC (sd_bus, sd_bus_flush_close_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (sd_bus_message, sd_bus_message_unref)

/* The global options (accepted before and after the command) and the
 * connection made from them. */
typedef struct {
  gboolean system;
  gboolean session;
  char *address;
  char *host;          /* -H: [USER@]HOST, the system bus over ssh */
  CtlJson json;
  gboolean no_legend;
  gboolean no_pager;   /* accepted; the client never pages */
  char *timeout_text;
  double timeout;      /* seconds, from --timeout or the default */
  gboolean timeout_given;
  gboolean verbose;
  /* Where each parse puts the string options: GOption would drop the value
   * of an option given both before and after the command without freeing. */
  char *address_arg;
  char *host_arg;
  char *timeout_arg;
  const char *command; /* the command being parsed, for the options' messages */
  /* Every option is parsed: from now on errors follow --json. */
  gboolean parsed;
  int failure;         /* the exit status of the last failed call (ctl_status) */
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

/* ---- provisionctl.c: options and dispatch ------------------------------ */

/* Parses a command's options (@entries plus the global ones) from
 * @argc/@argv; --help prints and exits 0. Returns FALSE after reporting a
 * usage error. @n_params is how many positional arguments must follow. */
gboolean ctl_parse (Ctl *ctl, const char *command, const char *params, const char *summary,
                    const char *description, const GOptionEntry *entries, int *argc,
                    char ***argv, int n_params);

/* ---- call.c: the connection, calls and failures ------------------------ */

/* Prints "enapter-provisionctl: MESSAGE" on stderr (notices, and the human
 * half of every failure). */
void ctl_message (const char *format, ...) G_GNUC_PRINTF (1, 2);

/* Reports a failure and returns @status: the message on stderr and, once
 * the options are parsed and --json is on, {"error": @error_name, "message":
 * ...} on stdout. @error_name NULL is org.freedesktop.DBus.Error.Failed. */
int ctl_fail (Ctl *ctl, int status, const char *error_name, const char *format, ...)
    G_GNUC_PRINTF (4, 5);

/* A usage error naming @command (or the program): ctl_fail with
 * CTL_EXIT_USAGE and org.freedesktop.DBus.Error.InvalidArgs, and a pointer to
 * --help on stderr. @ctl NULL: the options are not parsed, stderr only. */
int ctl_usage_error (Ctl *ctl, const char *command, const char *format, ...)
    G_GNUC_PRINTF (3, 4);

/* Connects to the bus the options name and waits, up to --timeout, until
 * the connection is ready; NULL after reporting the failure
 * (CTL_EXIT_UNREACHABLE, see ctl_status). */
sd_bus *ctl_bus (Ctl *ctl);

/* Reports that the connection to the bus was lost; returns
 * CTL_EXIT_UNREACHABLE. */
int ctl_disconnected (Ctl *ctl);

/* Reports a failed call of @method (an error reply of the bus or the
 * daemon, or -@r) as ctl_call does, and records its exit status. */
void ctl_report_error (Ctl *ctl, const char *method, const sd_bus_error *error, int r);

/* A method call on the daemon's object, ready for arguments; @iface NULL is
 * the daemon's interface. NULL after reporting the failure. */
sd_bus_message *ctl_new_method_call (Ctl *ctl, const char *iface, const char *method);
sd_bus_message *ctl_new_call (Ctl *ctl, const char *method);

/* Sends @call and waits up to --timeout. Returns the reply, or NULL after
 * reporting the error (ctl_status says with which exit status). */
sd_bus_message *ctl_call (Ctl *ctl, sd_bus_message *call);

/* ctl_call, but the error named @quiet_error is not reported: NULL with
 * *@quiet TRUE then (for what a caller may lack the right to see). */
sd_bus_message *ctl_call_unless (Ctl *ctl, sd_bus_message *call, const char *quiet_error,
                                 gboolean *quiet);

/* Calls @method without arguments; the reply, or NULL after reporting why. */
sd_bus_message *ctl_call_plain (Ctl *ctl, const char *method);

/* Calls @method with its one argument, the string @device_id (GetDevice,
 * ForgetDevice, OpenCredentials); the reply, or NULL after reporting why. */
sd_bus_message *ctl_call_device (Ctl *ctl, const char *method, const char *device_id);

/* The exit status of the last failure reported by ctl_bus, ctl_new_call or
 * ctl_call: CTL_EXIT_UNREACHABLE or CTL_EXIT_FAILURE. */
int ctl_status (Ctl *ctl);

/* Reports a reply that does not have the documented signature. */
int ctl_bad_reply (Ctl *ctl, const char *method, int r);

/* ---- the commands ------------------------------------------------------ */

/* commands.c: the provisioning commands (the i-th, NULL past the last) and
 * the keystore commands (up to an entry without a name). */
const CtlCommand *ctl_kind_command (gsize i);
extern const CtlCommand ctl_device_commands[];
/* Prints a device's details (a Provision reply, GetDevice's). */
void ctl_print_device (Ctl *ctl, JsonObject *details);

/* The kind the details name ("link_master") for the command @text
 * ("link-master", or the details' own spelling); NULL for no kind. Free it. */
char *ctl_kind_of (const char *text);

/* list.c */
int ctl_list (Ctl *ctl, int argc, char **argv);
/* status.c */
int ctl_status_command (Ctl *ctl, int argc, char **argv);
/* check.c */
int ctl_check (Ctl *ctl, int argc, char **argv);
/* monitor.c */
int ctl_monitor (Ctl *ctl, int argc, char **argv);
/* export.c */
int ctl_export (Ctl *ctl, int argc, char **argv);

/* ---- output.c ---------------------------------------------------------- */

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

/* @node as JSON on stdout: one line (--json=short) or indented
 * (--json=pretty). */
void ctl_print_json (Ctl *ctl, JsonNode *node);
void ctl_print_json_object (Ctl *ctl, JsonObject *object);
void ctl_print_json_array (Ctl *ctl, JsonArray *array);

/* @s with control characters (terminal escapes among them), format
 * characters (U+202E and the other bidirectional controls, zero-width
 * ones) and U+2028/U+2029 shown as '?', as the daemon's log escapes them. */
char *ctl_printable (const char *s);

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

/* The string member @key of @object, "" when it is missing or no string. */
const char *ctl_string_member (JsonObject *object, const char *key);

/* Human output: the object's members as aligned "key: value" lines, the
 * well-known keys first. */
void ctl_print_fields (JsonObject *object);

/* ---- table.c: tables for people ---------------------------------------- */

typedef struct {
  const char *header;
  /* 0: never shortened; otherwise the order in which columns give up width
   * when the table is wider than the terminal (1 first). */
  int shrink;
} CtlColumn;

/* Terminal columns @s takes. */
gsize ctl_display_width (const char *s);

/* Whether text may use "…", "✓" and the like: a UTF-8 locale. */
gboolean ctl_utf8 (void);

/* The width to fit output into: 0 (no limit) unless stdout is a terminal;
 * then $COLUMNS when it is a positive number, else the terminal's width. */
guint ctl_terminal_width (void);

/* @s cut to @width terminal columns, ending in "…" (or "..." outside a
 * UTF-8 locale) when it was longer. */
char *ctl_ellipsize (const char *s, gsize width);

/* Whether @cells (row by row, @n_columns each) fit ctl_terminal_width once
 * the shrinkable columns gave up what they may. */
gboolean ctl_table_fits (Ctl *ctl, const CtlColumn *columns, gsize n_columns, GPtrArray *cells);

/* Prints @cells (row by row, @n_columns each) under the columns' headers,
 * aligned, two blanks between columns: shortened to ctl_terminal_width
 * when that makes it fit, else whole. --no-legend leaves out the headers
 * and @footer (a line after a blank one; NULL for none). */
void ctl_print_table (Ctl *ctl, const CtlColumn *columns, gsize n_columns, GPtrArray *cells,
                      const char *footer);
