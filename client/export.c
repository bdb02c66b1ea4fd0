/* enapter-provisionctl export: a device's communication config as the
 * Enapter Python SDK reads it from ENAPTER_STANDALONE_COMMUNICATION_CONFIG
 * (enapter.standalone.CommunicationConfig.from_env: the base64 of the JSON
 * "config" object the API's generate_config answers).
 *
 * The credentials come from OpenCredentials as file descriptors of sealed
 * memfds, so the command works for root and for the device's consumers
 * alike. This is the one command that prints secrets: every buffer that
 * holds one is a wipe buffer, wiped before it is freed, and the output is
 * written with write(2), past stdio's buffer. */
#include "ctl.h"
/* Header-only, no daemon code: a growing buffer that wipes what it leaves. */
#include "../src/wipe-buffer.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

/* The SDK's variable; "env" prints NAME=<blob>. */
#define ENV_NAME "ENAPTER_STANDALONE_COMMUNICATION_CONFIG"
/* A credential file larger than this is refused (a PEM chain is a few KiB). */
#define MAX_FILE_SIZE (1024 * 1024)

typedef enum { FORMAT_BLOB, FORMAT_ENV, FORMAT_JSON } Format;

static const char *const format_names[] = { "blob", "env", "json", NULL };

/* The credential files OpenCredentials may hand out, in the order the
 * config names them. */
enum { FILE_PRIVATE_KEY, FILE_CERTIFICATE, FILE_CA_CHAIN, FILE_PASSWORD, N_FILES };
static const char *const file_names[N_FILES] = {
  "private_key.pem", "certificate.pem", "ca_chain.pem", "password",
};

typedef struct {
  EpWipeBuffer data[N_FILES];
  gboolean have[N_FILES];
} Files;

static void
files_clear (Files *files)
{
  for (int i = 0; i < N_FILES; i++)
    ep_wipe_buffer_clear (&files->data[i]);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Files, files_clear)
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (EpWipeBuffer, ep_wipe_buffer_clear)

/* ---- reading the files ------------------------------------------------- */

/* Reads all of @fd (from offset 0, whatever its position) into @out; FALSE
 * with @problem for anything but a regular file of at most MAX_FILE_SIZE
 * bytes of UTF-8 text without NUL, read whole. */
static gboolean
read_file (int fd, EpWipeBuffer *out, char **problem)
{
  struct stat st;
  if (fstat (fd, &st) < 0)
    {
      *problem = g_strdup_printf ("cannot stat it: %s", g_strerror (errno));
      return FALSE;
    }
  if (!S_ISREG (st.st_mode))
    {
      *problem = g_strdup ("it is not a regular file");
      return FALSE;
    }
  if (st.st_size > MAX_FILE_SIZE)
    {
      *problem = g_strdup_printf ("it is larger than %d bytes", MAX_FILE_SIZE);
      return FALSE;
    }
  /* One byte more than it should hold: a file that grows is caught. */
  gsize want = (gsize) st.st_size + 1;
  ep_wipe_buffer_empty (out);
  ep_wipe_buffer_reserve (out, want);
  while (out->len < want)
    {
      ssize_t n = pread (fd, out->data + out->len, want - out->len, (off_t) out->len);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          *problem = g_strdup_printf ("cannot read it: %s", g_strerror (errno));
          return FALSE;
        }
      if (n == 0)
        break;
      out->len += (gsize) n;
    }
  if (out->len != (gsize) st.st_size)
    {
      *problem = g_strdup ("it changed while it was read");
      return FALSE;
    }
  out->data[out->len] = '\0';
  if (memchr (out->data, '\0', out->len) != NULL ||
      !g_utf8_validate (out->data, (gssize) out->len, NULL))
    {
      *problem = g_strdup ("it is not UTF-8 text");
      return FALSE;
    }
  return TRUE;
}

/* Reads the a{sh} of OpenCredentials' reply: every descriptor, bounded; the
 * ones of unknown names are read too and dropped. The descriptors belong to
 * the message and close with it. */
static int
read_files (Ctl *ctl, sd_bus_message *reply, const char *device_id, Files *files)
{
  int r = sd_bus_message_enter_container (reply, 'a', "{sh}");
  if (r < 0)
    return ctl_bad_reply (ctl, "OpenCredentials", r);
  g_auto (EpWipeBuffer) unknown = { 0 };
  while ((r = sd_bus_message_enter_container (reply, 'e', "sh")) > 0)
    {
      const char *name = NULL;
      int fd = -1;
      r = sd_bus_message_read (reply, "sh", &name, &fd);
      if (r < 0)
        return ctl_bad_reply (ctl, "OpenCredentials", r);
      int i = 0;
      while (i < N_FILES && strcmp (file_names[i], name) != 0)
        i++;
      EpWipeBuffer *out = i < N_FILES ? &files->data[i] : &unknown;
      g_autofree char *problem = NULL;
      if (!read_file (fd, out, &problem))
        {
          g_autofree char *shown = g_strescape (name, NULL);
          return ctl_fail (ctl, CTL_EXIT_FAILURE, NULL,
                           "cannot use the file \"%s\" of device %s: %s", shown, device_id,
                           problem);
        }
      if (i < N_FILES)
        files->have[i] = TRUE;
      ep_wipe_buffer_empty (&unknown);
      if ((r = sd_bus_message_exit_container (reply)) < 0)
        return ctl_bad_reply (ctl, "OpenCredentials", r);
    }
  if (r < 0 || (r = sd_bus_message_exit_container (reply)) < 0)
    return ctl_bad_reply (ctl, "OpenCredentials", r);
  return CTL_EXIT_OK;
}

/* ---- writing the config ------------------------------------------------ */

static void
append (EpWipeBuffer *b, const char *text)
{
  ep_wipe_buffer_append (b, text, strlen (text));
}

/* @len bytes of UTF-8 at @s as a JSON string. */
static void
append_json_string (EpWipeBuffer *b, const char *s, gsize len)
{
  static const char hex[] = "0123456789abcdef";
  ep_wipe_buffer_append (b, "\"", 1);
  for (gsize i = 0; i < len; i++)
    {
      unsigned char c = (unsigned char) s[i];
      char escaped[6] = { '\\', 0 };
      gsize n = 2;
      switch (c)
        {
        case '"': escaped[1] = '"'; break;
        case '\\': escaped[1] = '\\'; break;
        case '\n': escaped[1] = 'n'; break;
        case '\r': escaped[1] = 'r'; break;
        case '\t': escaped[1] = 't'; break;
        case '\b': escaped[1] = 'b'; break;
        case '\f': escaped[1] = 'f'; break;
        default:
          if (c >= 0x20)
            {
              ep_wipe_buffer_append (b, &s[i], 1);
              continue;
            }
          memcpy (escaped + 1, "u00", 3);
          escaped[4] = hex[c >> 4];
          escaped[5] = hex[c & 0xf];
          n = 6;
        }
      ep_wipe_buffer_append (b, escaped, n);
      explicit_bzero (escaped, sizeof escaped);
    }
  ep_wipe_buffer_append (b, "\"", 1);
}

/* ,"key":"value" (no comma before the first member). */
static void
append_member (EpWipeBuffer *b, const char *key, const char *value, gsize len)
{
  if (b->len > 0 && b->data[b->len - 1] != '{')
    append (b, ",");
  append_json_string (b, key, strlen (key));
  append (b, ":");
  append_json_string (b, value, len);
}

/* A string detail, or NULL after saying which one the daemon did not send. */
static const char *
detail (Ctl *ctl, JsonObject *details, const char *key, const char *device_id)
{
  JsonNode *node = json_object_get_member (details, key);
  if (node != NULL && JSON_NODE_HOLDS_VALUE (node) &&
      json_node_get_value_type (node) == G_TYPE_STRING)
    return json_node_get_string (node);
  ctl_fail (ctl, CTL_EXIT_FAILURE, SD_BUS_ERROR_INCONSISTENT_MESSAGE,
            "device %s: the daemon's details have no %s, which the config needs", device_id,
            key);
  return NULL;
}

/* The config object, compact JSON, its members in the SDK's order. */
static gboolean
write_config (Ctl *ctl, EpWipeBuffer *b, JsonObject *details, Files *files,
              const char *device_id)
{
  const char *host = detail (ctl, details, "mqtt_host", device_id);
  const char *protocol = host ? detail (ctl, details, "protocol", device_id) : NULL;
  if (protocol == NULL)
    return FALSE;
  JsonNode *port = json_object_get_member (details, "mqtt_port");
  if (port == NULL || !JSON_NODE_HOLDS_VALUE (port) ||
      json_node_get_value_type (port) != G_TYPE_INT64 || json_node_get_int (port) < 1 ||
      json_node_get_int (port) > 65535)
    {
      ctl_fail (ctl, CTL_EXIT_FAILURE, SD_BUS_ERROR_INCONSISTENT_MESSAGE,
                "device %s: the daemon's details have no mqtt_port from 1 to 65535",
                device_id);
      return FALSE;
    }
  gboolean mqtts = strcmp (protocol, "MQTTS") == 0;
  if (!mqtts && strcmp (protocol, "MQTT") != 0)
    {
      g_autofree char *shown = g_strescape (protocol, NULL);
      ctl_fail (ctl, CTL_EXIT_FAILURE, SD_BUS_ERROR_INCONSISTENT_MESSAGE,
                "device %s: unknown protocol \"%s\"; is this client older than "
                "enapter-provisiond?", device_id, shown);
      return FALSE;
    }
  const char *username = mqtts ? "" : detail (ctl, details, "username", device_id);
  const char *hardware_id = username ? detail (ctl, details, "hardware_id", device_id) : NULL;
  const char *channel_id = hardware_id ? detail (ctl, details, "channel_id", device_id) : NULL;
  if (channel_id == NULL)
    return FALSE;
  static const int mqtt_files[] = { FILE_PASSWORD, -1 };
  static const int mqtts_files[] = { FILE_PRIVATE_KEY, FILE_CERTIFICATE, FILE_CA_CHAIN, -1 };
  const int *wanted = mqtts ? mqtts_files : mqtt_files;
  for (const int *i = wanted; *i >= 0; i++)
    if (!files->have[*i])
      {
        ctl_fail (ctl, CTL_EXIT_FAILURE, SD_BUS_ERROR_INCONSISTENT_MESSAGE,
                  "device %s: the daemon handed out no %s for %s", device_id,
                  file_names[*i], protocol);
        return FALSE;
      }

  char number[16];
  g_snprintf (number, sizeof number, "%" G_GINT64_FORMAT, json_node_get_int (port));
  append (b, "{");
  append_member (b, "mqtt_host", host, strlen (host));
  append (b, ",\"mqtt_port\":");
  append (b, number);
  append_member (b, "mqtt_protocol", protocol, strlen (protocol));
  append (b, ",\"mqtt_credentials\":{");
  if (mqtts)
    {
      static const char *const keys[] = { "private_key", "certificate", "ca_chain" };
      for (int k = 0; k < 3; k++)
        append_member (b, keys[k], files->data[mqtts_files[k]].data,
                       files->data[mqtts_files[k]].len);
    }
  else
    {
      append_member (b, "username", username, strlen (username));
      append_member (b, "password", files->data[FILE_PASSWORD].data,
                     files->data[FILE_PASSWORD].len);
    }
  append (b, "}");
  append_member (b, "hardware_id", hardware_id, strlen (hardware_id));
  append_member (b, "channel_id", channel_id, strlen (channel_id));
  append (b, "}");
  return TRUE;
}

/* Base64 of @in, one line, appended to @out. */
static void
append_base64 (EpWipeBuffer *out, const EpWipeBuffer *in)
{
  int state = 0, save = 0;
  /* What g_base64_encode_step and _close may write, without line breaks. */
  ep_wipe_buffer_reserve (out, (in->len / 3 + 1) * 4 + 4);
  out->len += g_base64_encode_step ((const guchar *) in->data, in->len, FALSE,
                                    out->data + out->len, &state, &save);
  out->len += g_base64_encode_close (FALSE, out->data + out->len, &state, &save);
  explicit_bzero (&state, sizeof state);
  explicit_bzero (&save, sizeof save);
}

/* Writes all of @b to standard output, past stdio's buffer. */
static gboolean
write_out (const EpWipeBuffer *b)
{
  fflush (stdout);
  gsize done = 0;
  while (done < b->len)
    {
      ssize_t n = write (STDOUT_FILENO, b->data + done, b->len - done);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          ctl_message ("cannot write the output: %s", g_strerror (errno));
          return FALSE;
        }
      done += (gsize) n;
    }
  return TRUE;
}

/* ---- the command ------------------------------------------------------- */

static gboolean
parse_format (Ctl *ctl, const char *text, Format *format)
{
  if (text == NULL)
    {
      /* --json alone asks for the JSON form. */
      *format = ctl->json ? FORMAT_JSON : FORMAT_BLOB;
      return TRUE;
    }
  for (int i = 0; format_names[i] != NULL; i++)
    if (g_ascii_strcasecmp (text, format_names[i]) == 0)
      {
        *format = (Format) i;
        if (ctl->json && *format != FORMAT_JSON)
          {
            ctl_usage_error (ctl, "export", "--json and --format=%s exclude each other",
                             format_names[i]);
            return FALSE;
          }
        return TRUE;
      }
  ctl_usage_error (ctl, "export", "--format must be blob, env or json, not '%s'", text);
  return FALSE;
}

int
ctl_export (Ctl *ctl, int argc, char **argv)
{
  g_autofree char *format_text = NULL;
  const GOptionEntry entries[] = {
    { "format", 0, 0, G_OPTION_ARG_STRING, &format_text,
      "blob (the default): the base64 of the JSON config on one line; env: "
      ENV_NAME "=<blob>; json: the JSON config on one line", "blob|env|json" },
    G_OPTION_ENTRY_NULL,
  };
  if (!ctl_parse (ctl, "export", "DEVICE_ID",
                  "Prints a device's communication config, credentials included, as the "
                  "Enapter Python SDK reads it from " ENV_NAME ".\n\n"
                  "Calls OpenCredentials: root may export every device, a consumer (a "
                  "[Consumer] section of the daemon's configuration) the devices it names.",
                  "The config is the JSON object {\"mqtt_host\", \"mqtt_port\", "
                  "\"mqtt_protocol\", \"mqtt_credentials\": {\"username\", \"password\"} "
                  "(MQTT) or {\"private_key\", \"certificate\", \"ca_chain\"} (MQTTS), "
                  "\"hardware_id\", \"channel_id\"}. It holds the device's secrets: keep "
                  "what you write it to private. Fails (exit status 1) for a device without "
                  "credentials: give it some with 'generate' first. For example:\n"
                  "  enapter-provisionctl export DEVICE_ID --format=env > device.env\n"
                  "  docker run --env-file device.env IMAGE",
                  entries, &argc, &argv, 1))
    return CTL_EXIT_USAGE;
  Format format;
  if (!parse_format (ctl, format_text, &format))
    return CTL_EXIT_USAGE;
  const char *device_id = argv[1];

  /* No core dump and no ptrace by the same user while secrets are in memory. */
  (void) prctl (PR_SET_DUMPABLE, 0, 0, 0, 0);

  g_autoptr (sd_bus_message) reply = ctl_call_device (ctl, "OpenCredentials", device_id);
  if (reply == NULL)
    return ctl_status (ctl);
  int r = 0;
  g_autoptr (JsonObject) details = ctl_read_vardict (reply, &r);
  if (details == NULL)
    return ctl_bad_reply (ctl, "OpenCredentials", r);
  g_auto (Files) files = { 0 };
  int status = read_files (ctl, reply, device_id, &files);
  /* Done with the descriptors: they close with the message. */
  g_clear_pointer (&reply, sd_bus_message_unref);
  if (status != CTL_EXIT_OK)
    return status;

  if (!json_object_has_member (details, "protocol") ||
      !json_object_has_member (details, "mqtt_host"))
    return ctl_fail (ctl, CTL_EXIT_FAILURE, NULL,
                     "device %s has no communication config yet: run 'enapter-provisionctl "
                     "generate %s --protocol mqtts' (or mqtt) first", device_id, device_id);
  g_auto (EpWipeBuffer) config = { 0 };
  if (!write_config (ctl, &config, details, &files, device_id))
    return CTL_EXIT_FAILURE;
  files_clear (&files);

  g_auto (EpWipeBuffer) out = { 0 };
  if (format == FORMAT_JSON)
    ep_wipe_buffer_append (&out, config.data, config.len);
  else
    {
      if (format == FORMAT_ENV)
        append (&out, ENV_NAME "=");
      append_base64 (&out, &config);
    }
  ep_wipe_buffer_clear (&config);
  append (&out, "\n");
  return write_out (&out) ? CTL_EXIT_OK : CTL_EXIT_FAILURE;
}
