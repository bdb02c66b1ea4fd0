/* enapter-provisionctl: the provisioning commands (one per kind, driven by
 * the table below) and the keystore commands show, generate and forget; the
 * command table also names list (list.c) and export (export.c). */
#include "ctl.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* ---- the kinds --------------------------------------------------------- */

/* How an option's text becomes the method's argument. */
typedef enum {
  VALUE_STRING,       /* as given; the daemon checks it */
  VALUE_PROTOCOL,     /* mqtt | mqtts -> MQTT | MQTTS */
  VALUE_DEVICE_TYPE,  /* electrolyser | dryer | water-tank -> ELECTROLYSER | ... */
  VALUE_DEGREES,      /* a decimal number, sent as d */
} ValueType;

typedef struct {
  const char *option;       /* without the leading "--" */
  const char *arg;          /* the API's argument name */
  ValueType type;
  const char *placeholder;
  const char *help;
} KindOption;

#define MAX_OPTIONS 7

typedef struct {
  CtlCommand command;       /* its name is also the kind's command */
  const char *method;
  KindOption options[MAX_OPTIONS + 1];   /* in the method's argument order */
} Kind;

static int run_kind (Ctl *ctl, int argc, char **argv);

#define COMMAND(name, summary) { name, NULL, summary, run_kind }

#define SITE_ID     { "site-id", "site_id", VALUE_STRING, "ID", "The site to add the device to" }
#define HARDWARE_ID { "hardware-id", "hardware_id", VALUE_STRING, "ID", \
                      "The device's hardware id" }
#define NAME        { "name", "name", VALUE_STRING, "NAME", "The device's name on the platform" }
#define PROTOCOL    { "protocol", "protocol", VALUE_PROTOCOL, "mqtt|mqtts", \
                      "How the device talks to the platform" }

static const Kind kinds[] = {
  { COMMAND ("ucm", "Provision a UCM"), "ProvisionUcm",
    { SITE_ID, HARDWARE_ID, NAME, PROTOCOL } },
  { COMMAND ("vucm", "Provision a virtual UCM (needs the Gateway API)"), "ProvisionVucm",
    { SITE_ID, HARDWARE_ID, NAME } },
  { COMMAND ("embedded", "Provision an electrolyser, dryer or water tank"),
    "ProvisionEmbedded",
    { { "type", "device_type", VALUE_DEVICE_TYPE, "electrolyser|dryer|water-tank",
        "What the device is" },
      SITE_ID, HARDWARE_ID, NAME, PROTOCOL } },
  { COMMAND ("link-master", "Provision an ENP LINK master (needs the Gateway API)"),
    "ProvisionLinkMaster",
    { SITE_ID, HARDWARE_ID, NAME } },
  { COMMAND ("link-slave", "Provision an ENP LINK slave (needs the Gateway API)"),
    "ProvisionLinkSlave",
    { SITE_ID, HARDWARE_ID, NAME,
      { "master-device-id", "master_device_id", VALUE_STRING, "ID",
        "The device id of its ENP LINK master" } } },
  { COMMAND ("standalone", "Provision a standalone device"), "ProvisionStandalone",
    { SITE_ID, NAME } },
  { COMMAND ("lua-device", "Provision a Lua device (once only)"), "ProvisionLuaDevice",
    { { "runtime-id", "runtime_id", VALUE_STRING, "ID", "The Lua runtime to run it on" },
      { "blueprint-id", "blueprint_id", VALUE_STRING, "ID", "The blueprint it is made from" },
      NAME,
      { "slug", "slug", VALUE_STRING, "SLUG", "Its slug: [a-z0-9][a-z0-9-]{0,63}" } } },
  { COMMAND ("gateway", "Provision a gateway (cloud only)"), "ProvisionGateway",
    { SITE_ID, HARDWARE_ID,
      /* Not --version: that is the program's. */
      { "gateway-version", "gateway_version", VALUE_STRING, "VERSION",
        "The gateway software's semantic version, such as 3.1.0" },
      { "site-name", "site_name", VALUE_STRING, "NAME", "The site's name" },
      { "timezone", "site_timezone", VALUE_STRING, "ZONE", "The site's IANA time zone" },
      { "latitude", "latitude", VALUE_DEGREES, "DEG", "The site's latitude, -90 to 90" },
      { "longitude", "longitude", VALUE_DEGREES, "DEG", "The site's longitude, -180 to 180" } } },
};

/* {what people type, what the API takes} */
static const char *const protocols[][2] = { { "mqtt", "MQTT" }, { "mqtts", "MQTTS" }, { 0 } };
static const char *const device_types[][2] = {
  { "electrolyser", "ELECTROLYSER" }, { "dryer", "DRYER" }, { "water-tank", "WATER_TANK" },
  { 0 },
};

static const Kind *
kind_by_command (const char *command)
{
  for (gsize i = 0; i < G_N_ELEMENTS (kinds); i++)
    if (strcmp (kinds[i].command.name, command) == 0)
      return &kinds[i];
  return NULL;
}

char *
ctl_kind_of (const char *text)
{
  g_autofree char *command = g_strdelimit (g_ascii_strdown (text, -1), "_", '-');
  if (kind_by_command (command) == NULL)
    return NULL;
  return g_strdelimit (g_steal_pointer (&command), "-", '_');
}

static guint
n_options (const Kind *kind)
{
  guint n = 0;
  while (n < MAX_OPTIONS && kind->options[n].option != NULL)
    n++;
  return n;
}

/* Case does not matter, nor '_' for '-'. Returns NULL for an unknown word. */
static const char *
choose (const char *const choices[][2], const char *text)
{
  g_autofree char *word = g_ascii_strdown (text, -1);
  g_strdelimit (word, "_", '-');
  for (gsize i = 0; choices[i][0] != NULL; i++)
    if (strcmp (choices[i][0], word) == 0)
      return choices[i][1];
  return NULL;
}

static char *
choices_text (const char *const choices[][2])
{
  GString *out = g_string_new (NULL);
  for (gsize i = 0; choices[i][0] != NULL; i++)
    g_string_append_printf (out, "%s%s", i == 0 ? "" : choices[i + 1][0] ? ", " : " or ",
                            choices[i][0]);
  return g_string_free (out, FALSE);
}

/* A method argument: a string, or a double for VALUE_DEGREES. */
typedef struct {
  const char *s;
  double d;
} Arg;

/* Turns one option's text into its argument; FALSE after a usage error. */
static gboolean
convert_value (Ctl *ctl, const char *command, const KindOption *option, const char *text,
               Arg *out)
{
  const char *const (*choices)[2] = option->type == VALUE_PROTOCOL      ? protocols
                                    : option->type == VALUE_DEVICE_TYPE ? device_types
                                                                        : NULL;
  if (choices != NULL)
    {
      out->s = choose (choices, text);
      if (out->s == NULL)
        {
          g_autofree char *expected = choices_text (choices);
          ctl_usage_error (ctl, command, "--%s must be %s, not '%s'", option->option,
                           expected, text);
          return FALSE;
        }
      return TRUE;
    }
  if (option->type == VALUE_DEGREES)
    {
      char *end = NULL;
      out->d = g_ascii_strtod (text, &end);
      if (end == text || *end != '\0' || !isfinite (out->d) || g_ascii_isspace (*text))
        {
          ctl_usage_error (ctl, command,
                           "--%s must be a decimal number of degrees, not '%s'",
                           option->option, text);
          return FALSE;
        }
      return TRUE;
    }
  out->s = text;
  return TRUE;
}

void
ctl_print_device (Ctl *ctl, JsonObject *details)
{
  if (ctl->json)
    ctl_print_json_object (ctl, details);
  else
    ctl_print_fields (details);
}

/* Sends @call, a method that answers (s device_id, a{sv} details) as the
 * Provision methods and GenerateCredentials do, and prints the device. */
static int
call_for_device (Ctl *ctl, const char *method, sd_bus_message *call)
{
  g_autoptr (sd_bus_message) reply = ctl_call (ctl, call);
  if (reply == NULL)
    return ctl_status (ctl);

  const char *device_id = NULL;
  g_autoptr (JsonObject) details = NULL;
  int r = sd_bus_message_read_basic (reply, 's', &device_id);
  if (r >= 0)
    details = ctl_read_vardict (reply, &r);
  if (details == NULL)
    return ctl_bad_reply (ctl, method, r);
  json_object_set_string_member (details, "device_id", device_id);
  ctl_print_device (ctl, details);
  return CTL_EXIT_OK;
}

/* The options' values and help texts, freed on every way out. */
typedef struct {
  char *text[MAX_OPTIONS];
  char *help[MAX_OPTIONS];
} Values;

static void
values_clear (Values *values)
{
  for (guint i = 0; i < MAX_OPTIONS; i++)
    {
      g_free (values->text[i]);
      g_free (values->help[i]);
    }
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Values, values_clear)

/* Calls the kind's method with @args and prints the device. */
static int
provision (Ctl *ctl, const Kind *kind, const Arg *args)
{
  g_autoptr (sd_bus_message) call = ctl_new_call (ctl, kind->method);
  if (call == NULL)
    return ctl_status (ctl);
  int r = 0;
  for (guint i = 0; i < n_options (kind) && r >= 0; i++)
    r = kind->options[i].type == VALUE_DEGREES
            ? sd_bus_message_append_basic (call, 'd', &args[i].d)
            : sd_bus_message_append_basic (call, 's', args[i].s);
  if (r < 0)
    return ctl_fail (ctl, CTL_EXIT_FAILURE, NULL, "cannot make a %s call: %s", kind->method,
                     g_strerror (-r));
  return call_for_device (ctl, kind->method, call);
}

static int
run_kind (Ctl *ctl, int argc, char **argv)
{
  const Kind *kind = kind_by_command (argv[0]);
  guint n = n_options (kind);
  g_auto (Values) values = { 0 };
  GOptionEntry entries[MAX_OPTIONS + 1] = { G_OPTION_ENTRY_NULL };
  for (guint i = 0; i < n; i++)
    {
      const KindOption *option = &kind->options[i];
      /* The API's name too, for readers of the D-Bus interface. */
      values.help[i] = g_strdup_printf ("%s (%s)", option->help, option->arg);
      entries[i] = (GOptionEntry) { option->option, 0, 0, G_OPTION_ARG_STRING,
                                    &values.text[i], values.help[i], option->placeholder };
    }

  g_autofree char *summary = g_strdup_printf (
      "%s.\n\nCalls %s: the daemon adds the device to the Enapter platform and stores its "
      "credentials in its keystore. Every option is required.", kind->command.summary,
      kind->method);
  if (!ctl_parse (ctl, kind->command.name, NULL, summary, "Prints the device's details.",
                  entries, &argc, &argv, 0))
    return CTL_EXIT_USAGE;

  g_autoptr (GString) missing = g_string_new (NULL);
  for (guint i = 0; i < n; i++)
    if (values.text[i] == NULL)
      g_string_append_printf (missing, "%s--%s", missing->len ? ", " : "",
                              kind->options[i].option);
  if (missing->len > 0)
    return ctl_usage_error (ctl, kind->command.name, "missing %s", missing->str);

  /* Every value is checked before the bus is touched: usage errors first. */
  Arg args[MAX_OPTIONS] = { { NULL, 0 } };
  for (guint i = 0; i < n; i++)
    if (!convert_value (ctl, kind->command.name, &kind->options[i], values.text[i], &args[i]))
      return CTL_EXIT_USAGE;
  return provision (ctl, kind, args);
}

/* ---- the keystore ------------------------------------------------------ */

static int
run_show (Ctl *ctl, int argc, char **argv)
{
  if (!ctl_parse (ctl, "show", "DEVICE_ID", "Shows a device the daemon's keystore holds.",
                  "Prints its details, the certificate's dates (certificate_not_before, "
                  "certificate_not_after) as UTC times and its SHA-256 fingerprint "
                  "(certificate_sha256) for an MQTTS device; with --json, the numbers the "
                  "daemon sends (Unix seconds). Fails (exit status 1) when the keystore does "
                  "not hold it.",
                  NULL, &argc, &argv, 1))
    return CTL_EXIT_USAGE;

  g_autoptr (sd_bus_message) reply = ctl_call_device (ctl, "GetDevice", argv[1]);
  if (reply == NULL)
    return ctl_status (ctl);
  int r = 0;
  g_autoptr (JsonObject) details = ctl_read_vardict (reply, &r);
  if (details == NULL)
    return ctl_bad_reply (ctl, "GetDevice", r);
  ctl_print_device (ctl, details);
  return CTL_EXIT_OK;
}

static int
run_generate (Ctl *ctl, int argc, char **argv)
{
  static const KindOption protocol = PROTOCOL;
  g_autofree char *help = g_strdup_printf ("%s (%s)", protocol.help, protocol.arg);
  g_autofree char *protocol_text = NULL;
  const GOptionEntry entries[] = {
    { protocol.option, 0, 0, G_OPTION_ARG_STRING, &protocol_text, help,
      protocol.placeholder },
    G_OPTION_ENTRY_NULL,
  };
  if (!ctl_parse (ctl, "generate", "DEVICE_ID",
                  "Gives a device the daemon's keystore holds new credentials.\n\n"
                  "Calls GenerateCredentials: the daemon asks the Enapter platform (through "
                  "the API the device was provisioned through) for a new set and stores it "
                  "in place of the old one; the device keeps its identity. --protocol is "
                  "required.",
                  "Prints the device's details, as the provisioning commands do; fails (exit "
                  "status 1) when the keystore does not hold the device.",
                  entries, &argc, &argv, 1))
    return CTL_EXIT_USAGE;
  if (protocol_text == NULL)
    return ctl_usage_error (ctl, "generate", "missing --%s", protocol.option);
  Arg arg = { NULL, 0 };
  if (!convert_value (ctl, "generate", &protocol, protocol_text, &arg))
    return CTL_EXIT_USAGE;

  g_autoptr (sd_bus_message) call = ctl_new_call (ctl, "GenerateCredentials");
  if (call == NULL)
    return ctl_status (ctl);
  int r = sd_bus_message_append (call, "ss", argv[1], arg.s);
  if (r < 0)
    return ctl_fail (ctl, CTL_EXIT_FAILURE, NULL, "cannot make a GenerateCredentials call: %s",
                     g_strerror (-r));
  return call_for_device (ctl, "GenerateCredentials", call);
}

static int
run_forget (Ctl *ctl, int argc, char **argv)
{
  if (!ctl_parse (ctl, "forget", "DEVICE_ID",
                  "Removes a device's credentials from the daemon's keystore.",
                  "The device stays on the Enapter platform: only this gateway forgets it. "
                  "Fails (exit status 1) when the keystore does not hold it, and while a "
                  "call for it is in flight.",
                  NULL, &argc, &argv, 1))
    return CTL_EXIT_USAGE;

  const char *device_id = argv[1];
  g_autoptr (sd_bus_message) reply = ctl_call_device (ctl, "ForgetDevice", device_id);
  if (reply == NULL)
    return ctl_status (ctl);

  g_autoptr (JsonObject) result = json_object_new ();
  json_object_set_string_member (result, "device_id", device_id);
  json_object_set_boolean_member (result, "forgotten", TRUE);
  ctl_print_device (ctl, result);
  return CTL_EXIT_OK;
}

/* ---- the command tables ------------------------------------------------ */

const CtlCommand *
ctl_kind_command (gsize i)
{
  return i < G_N_ELEMENTS (kinds) ? &kinds[i].command : NULL;
}

const CtlCommand ctl_device_commands[] = {
  { "list", NULL, "List the devices in the keystore (--kind, --site)", ctl_list },
  { "show", "DEVICE_ID", "Show one device's details", run_show },
  { "generate", "DEVICE_ID", "Give a device new credentials (--protocol mqtt|mqtts)",
    run_generate },
  { "export", "DEVICE_ID", "Print a device's config for the Enapter Python SDK (credentials "
    "included)", ctl_export },
  { "forget", "DEVICE_ID", "Remove a device's credentials from the keystore", run_forget },
  { 0 },
};
