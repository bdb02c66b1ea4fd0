/* ep-bus-client: a tiny sd-bus client for the integration tests (see usage()).
 * call and get-property print one JSON line, {"reply": [...]} or
 * {"error": {"name": ..., "message": ...}}, and exit 0. introspect prints the
 * XML as is. listen prints {"ready": true} once its matches are installed,
 * then one JSON line per signal, until SIGTERM. Exit 2 on usage or connection
 * problems. Without --address the system bus is used. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-bus.h>
#include <unistd.h>

#define IFACE_PROPS "org.freedesktop.DBus.Properties"
#define SERVICE "com.enapter.Provisioning1"

static volatile sig_atomic_t terminate;
static bool typed; /* --typed: variants as {"signature": value} */

static int
usage (void)
{
  fputs ("usage: ep-bus-client [--address ADDR] [--timeout SEC] [--typed] MODE ...\n"
         "  call DEST PATH IFACE METHOD SIG [ARGS...]   (SIG of s o b i u d)\n"
         "  get-property DEST PATH IFACE NAME\n  introspect DEST PATH\n"
         "  listen [--sender NAME]\n", stderr);
  return 2;
}

static int
fail (const char *what, int r)
{
  fprintf (stderr, "ep-bus-client: %s: %s\n", what, strerror (-r));
  return 2;
}

static void
json_string (FILE *out, const char *s)
{
  fputc ('"', out);
  for (const unsigned char *p = (const unsigned char *) s; *p; p++)
    {
      const char *esc = *p == '"' ? "\\\"" : *p == '\\' ? "\\\\" : *p == '\n' ? "\\n"
                        : *p == '\r' ? "\\r" : *p == '\t' ? "\\t" : NULL;
      if (esc)
        fputs (esc, out);
      else if (*p < 0x20 || *p == 0x7f)
        fprintf (out, "\\u%04x", *p);
      else
        fputc (*p, out);
    }
  fputc ('"', out);
}

/* Reads one basic value and writes it as JSON; quoted when @quote (a
 * dictionary key). Doubles that are not finite become null. */
static int
dump_basic (sd_bus_message *m, char type, FILE *out, bool quote)
{
  union { uint8_t y; int b; int16_t n; uint16_t q; int32_t i; uint32_t u;
          int64_t x; uint64_t t; double d; const char *s; } v;
  int r = sd_bus_message_read_basic (m, type, &v);
  if (r < 0)
    return r;
  char num[64];
  switch (type)
    {
    case 's': case 'o': case 'g': json_string (out, v.s); return 1;
    case 'b': snprintf (num, sizeof num, "%s", v.b ? "true" : "false"); break;
    case 'y': snprintf (num, sizeof num, "%u", v.y); break;
    case 'n': snprintf (num, sizeof num, "%d", v.n); break;
    case 'q': snprintf (num, sizeof num, "%u", v.q); break;
    case 'i': case 'h': snprintf (num, sizeof num, "%" PRId32, v.i); break;
    case 'u': snprintf (num, sizeof num, "%" PRIu32, v.u); break;
    case 'x': snprintf (num, sizeof num, "%" PRId64, v.x); break;
    case 't': snprintf (num, sizeof num, "%" PRIu64, v.t); break;
    case 'd': snprintf (num, sizeof num, isfinite (v.d) ? "%.17g" : "null", v.d); break;
    default: return -EINVAL;
    }
  fprintf (out, quote ? "\"%s\"" : "%s", num);
  return 1;
}

/* A file descriptor received (type 'h'), as what a test checks of it:
 * {"contents": its text from offset 0, "seals": F_GET_SEALS, "access":
 * "r"/"w"/"rw", "write_error": errno of a 1-byte write (0 if it worked)}. */
static int
dump_fd (int fd, FILE *out)
{
  char buf[65536];
  ssize_t n = pread (fd, buf, sizeof buf - 1, 0);
  buf[n > 0 ? n : 0] = '\0';
  int seals = fcntl (fd, F_GET_SEALS);
  int flags = fcntl (fd, F_GETFL);
  int acc = flags < 0 ? -1 : (flags & O_ACCMODE);
  int write_error = pwrite (fd, "x", 1, 0) == 1 ? 0 : errno;
  fputs ("{\"contents\": ", out);
  json_string (out, buf);
  fprintf (out, ", \"seals\": %d, \"access\": \"%s\", \"write_error\": %d}", seals,
           acc == O_RDONLY ? "r" : acc == O_WRONLY ? "w" : acc == O_RDWR ? "rw" : "?",
           write_error);
  return 1;
}

static int dump_value (sd_bus_message *m, FILE *out);

/* Writes the remaining items of the current container separated by commas;
 * dictionary entries as "key": value. Returns how many. */
static int
dump_items (sd_bus_message *m, FILE *out)
{
  for (int n = 0;; n++)
    {
      char type;
      const char *contents;
      int r = sd_bus_message_peek_type (m, &type, &contents);
      if (r <= 0)
        return r < 0 ? r : n;
      if (n > 0)
        fputs (", ", out);
      if (type != SD_BUS_TYPE_DICT_ENTRY)
        r = dump_value (m, out);
      else if ((r = sd_bus_message_enter_container (m, type, contents)) >= 0 &&
               (r = dump_basic (m, contents[0], out, true)) >= 0)
        {
          fputs (": ", out);
          if ((r = dump_value (m, out)) >= 0)
            r = sd_bus_message_exit_container (m);
        }
      if (r < 0)
        return r;
    }
}

/* Writes the next value of @m as JSON: arrays and structs as lists,
 * dictionaries as objects, variants as their content. */
static int
dump_value (sd_bus_message *m, FILE *out)
{
  char type;
  const char *contents;
  int r = sd_bus_message_peek_type (m, &type, &contents);
  if (r <= 0)
    return r < 0 ? r : -EBADMSG;
  if (type == SD_BUS_TYPE_UNIX_FD)
    {
      int fd = -1;
      if ((r = sd_bus_message_read_basic (m, 'h', &fd)) < 0)
        return r;
      return dump_fd (fd, out);
    }
  if (type != SD_BUS_TYPE_ARRAY && type != SD_BUS_TYPE_STRUCT && type != SD_BUS_TYPE_VARIANT)
    return dump_basic (m, type, out, false);

  bool dict = type == SD_BUS_TYPE_ARRAY && contents[0] == SD_BUS_TYPE_DICT_ENTRY_BEGIN;
  if ((r = sd_bus_message_enter_container (m, type, contents)) < 0)
    return r;
  if (type == SD_BUS_TYPE_VARIANT)
    {
      if (typed) /* {"signature": value}; a signature needs no escaping */
        fprintf (out, "{\"%s\": ", contents);
      r = dump_value (m, out);
      fputs (typed ? "}" : "", out);
    }
  else
    {
      fputs (dict ? "{" : "[", out);
      r = dump_items (m, out);
      fputs (dict ? "}" : "]", out);
    }
  return r < 0 ? r : sd_bus_message_exit_container (m);
}

/* Prints one JSON line built by @fill: all or nothing. */
static int
print_line (int (*fill) (FILE *, sd_bus_message *, const sd_bus_error *),
            sd_bus_message *m, const sd_bus_error *error)
{
  char *buf = NULL;
  size_t len;
  FILE *out = open_memstream (&buf, &len);
  if (out == NULL)
    return fail ("open_memstream", -errno);
  int r = fill (out, m, error);
  fclose (out);
  if (r >= 0)
    {
      printf ("%s\n", buf);
      fflush (stdout);
    }
  free (buf);
  return r < 0 ? fail ("cannot decode message", r) : 0;
}

static int
fill_result (FILE *out, sd_bus_message *reply, const sd_bus_error *error)
{
  if (reply == NULL)
    {
      fputs ("{\"error\": {\"name\": ", out);
      json_string (out, error->name);
      fputs (", \"message\": ", out);
      json_string (out, error->message ? error->message : "");
      fputs ("}}", out);
      return 0;
    }
  fputs ("{\"reply\": [", out);
  int r = dump_items (reply, out);
  fputs ("]}", out);
  return r;
}

static int
fill_signal (FILE *out, sd_bus_message *m, const sd_bus_error *unused)
{
  const char *names[] = { "interface", "member", "path", "sender" };
  const char *values[] = { sd_bus_message_get_interface (m), sd_bus_message_get_member (m),
                           sd_bus_message_get_path (m), sd_bus_message_get_sender (m) };
  (void) unused;
  for (size_t i = 0; i < 4; i++)
    {
      fprintf (out, i ? ", \"%s\": " : "{\"%s\": ", names[i]);
      json_string (out, values[i] ? values[i] : "");
    }
  fputs (", \"args\": [", out);
  int r = dump_items (m, out);
  fputs ("]}", out);
  return r;
}

static int
append_arg (sd_bus_message *m, char type, const char *arg)
{
  char *end = NULL;
  errno = 0;
  switch (type)
    {
    case 's': case 'o':
      return sd_bus_message_append_basic (m, type, arg);
    case 'b':
      {
        int b = strcmp (arg, "true") == 0 ? 1 : strcmp (arg, "false") == 0 ? 0 : -1;
        return b < 0 ? -EINVAL : sd_bus_message_append_basic (m, type, &b);
      }
    case 'd':
      {
        double d = strtod (arg, &end); /* nan, inf and -inf too */
        return (end == arg || *end) ? -EINVAL : sd_bus_message_append_basic (m, type, &d);
      }
    case 'i': case 'u':
      {
        long long v = strtoll (arg, &end, 10);
        int32_t i = (int32_t) v;
        uint32_t u = (uint32_t) v;
        if (end == arg || *end || errno || (type == 'i' ? i != v : u != v))
          return -EINVAL;
        return sd_bus_message_append_basic (m, type, type == 'i' ? (void *) &i : (void *) &u);
      }
    default:
      return -EINVAL;
    }
}

/* Sends argv = DEST PATH IFACE METHOD SIG ARGS...; a remote error is left
 * in @error, a local problem returns < 0 with @error unset. */
static int
send_call (sd_bus *bus, uint64_t timeout, int argc, char **argv, sd_bus_message **reply,
           sd_bus_error *error)
{
  const char *sig = argc >= 5 ? argv[4] : "";
  if (argc < 5 || strlen (sig) != (size_t) (argc - 5))
    return usage (), -EINVAL;
  sd_bus_message *m = NULL;
  int r = sd_bus_message_new_method_call (bus, &m, argv[0], argv[1], argv[2], argv[3]);
  for (int i = 0; r >= 0 && sig[i]; i++)
    if ((r = append_arg (m, sig[i], argv[5 + i])) < 0)
      fprintf (stderr, "ep-bus-client: bad argument '%s' for type '%c'\n", argv[5 + i], sig[i]);
  if (r >= 0)
    r = sd_bus_call (bus, m, timeout, error, reply);
  sd_bus_message_unref (m);
  return r;
}

static int
do_call (sd_bus *bus, uint64_t timeout, int argc, char **argv)
{
  sd_bus_message *reply = NULL;
  sd_bus_error error = SD_BUS_ERROR_NULL;
  int r = send_call (bus, timeout, argc, argv, &reply, &error);
  int ret = (r < 0 && !sd_bus_error_is_set (&error)) ? fail ("call", r)
                                                      : print_line (fill_result, reply, &error);
  sd_bus_error_free (&error);
  sd_bus_message_unref (reply);
  return ret;
}

static int
do_introspect (sd_bus *bus, uint64_t timeout, int argc, char **argv)
{
  if (argc != 2)
    return usage ();
  char *call_argv[] = { argv[0], argv[1], (char *) "org.freedesktop.DBus.Introspectable",
                        (char *) "Introspect", (char *) "" };
  sd_bus_message *reply = NULL;
  sd_bus_error error = SD_BUS_ERROR_NULL;
  const char *xml = NULL;
  int r = send_call (bus, timeout, 5, call_argv, &reply, &error);
  if (r >= 0)
    r = sd_bus_message_read (reply, "s", &xml);
  if (r >= 0)
    fputs (xml, stdout);
  else
    fprintf (stderr, "ep-bus-client: introspect: %s\n",
             sd_bus_error_is_set (&error) ? error.message : strerror (-r));
  sd_bus_error_free (&error);
  sd_bus_message_unref (reply);
  return r < 0 ? 2 : 0;
}

static int
on_signal (sd_bus_message *m, void *userdata, sd_bus_error *error)
{
  (void) userdata, (void) error;
  print_line (fill_signal, m, NULL);
  return 0;
}

static void
on_term (int sig)
{
  terminate = sig;
}

static int
do_listen (sd_bus *bus, int argc, char **argv)
{
  const char *sender = SERVICE;
  if (argc == 2 && strcmp (argv[0], "--sender") == 0)
    sender = argv[1];
  else if (argc != 0)
    return usage ();

  struct sigaction sa = { .sa_handler = on_term };
  sigaction (SIGTERM, &sa, NULL);
  sigaction (SIGINT, &sa, NULL);

  /* sd_bus_add_match() waits for the bus to confirm each match. */
  const char *tails[] = { "interface='" SERVICE "'",
                          "interface='" IFACE_PROPS "',member='PropertiesChanged'" };
  int r = 0;
  for (size_t i = 0; r >= 0 && i < 2; i++)
    {
      char match[512];
      snprintf (match, sizeof match, "type='signal',sender='%s',%s", sender, tails[i]);
      r = sd_bus_add_match (bus, NULL, match, on_signal, NULL);
    }
  if (r < 0)
    return fail ("add match", r);
  fputs ("{\"ready\": true}\n", stdout);
  fflush (stdout);

  while (!terminate)
    {
      r = sd_bus_process (bus, NULL);
      if (r < 0)
        return (r == -ECONNRESET || r == -ENOTCONN) ? 0 : fail ("process", r);
      /* The short wait bounds the race between the flag test and ppoll. */
      if (r == 0 && (r = sd_bus_wait (bus, 200 * 1000)) < 0 && r != -EINTR)
        return fail ("wait", r);
    }
  return 0;
}

int
main (int argc, char **argv)
{
  const char *address = NULL;
  double timeout_sec = 60;
  int i = 1;
  for (; i < argc && strncmp (argv[i], "--", 2) == 0; i++)
    {
      char *end = NULL;
      if (strcmp (argv[i], "--typed") == 0)
        typed = true;
      else if (i + 1 >= argc)
        return usage ();
      else if (strcmp (argv[i], "--address") == 0)
        address = argv[++i];
      else if (strcmp (argv[i], "--timeout") != 0 ||
               !((timeout_sec = strtod (argv[++i], &end)) > 0) || *end)
        return usage ();
    }
  if (i >= argc)
    return usage ();
  const char *mode = argv[i++];

  /* sd_bus_open_system() honours DBUS_SYSTEM_BUS_ADDRESS. */
  if (address != NULL && setenv ("DBUS_SYSTEM_BUS_ADDRESS", address, 1) < 0)
    return fail ("setenv", -errno);
  sd_bus *bus = NULL;
  int r = sd_bus_open_system (&bus);
  if (r < 0)
    return fail ("cannot connect to the bus", r);

  uint64_t timeout = (uint64_t) (timeout_sec * 1e6);
  int ret;
  if (strcmp (mode, "call") == 0)
    ret = do_call (bus, timeout, argc - i, argv + i);
  else if (strcmp (mode, "get-property") == 0 && argc - i == 4)
    {
      char *call_argv[] = { argv[i], argv[i + 1], (char *) IFACE_PROPS, (char *) "Get",
                            (char *) "ss", argv[i + 2], argv[i + 3] };
      ret = do_call (bus, timeout, 7, call_argv);
    }
  else if (strcmp (mode, "introspect") == 0)
    ret = do_introspect (bus, timeout, argc - i, argv + i);
  else if (strcmp (mode, "listen") == 0)
    ret = do_listen (bus, argc - i, argv + i);
  else
    ret = usage ();
  sd_bus_flush_close_unref (bus);
  return ret;
}
