/* fuzz-config: ep_config_load_data on any configuration text.
 *
 * Input: the whole file. CREDENTIALS_DIRECTORY is unset, so tokens come only
 * from TokenFile paths in the input; those may name real files, which the
 * daemon then reads (harmless), except files whose reading can block or never
 * end (devices, FIFOs, /proc, /sys, huge files): such inputs are skipped, see
 * fuzz/README.md. While the daemon's code runs, anything that would create,
 * change or remove a file aborts (invariant "no-writes").
 *
 * Invariants: no crash, leak or sanitizer report; a config exactly when no
 * error; errors name the file and never quote a token; a loaded config holds
 * only values provisiond.conf(5) allows, with DefaultTarget resolved and tokens that are
 * exactly the files' contents and fit in an HTTP header. */
/* The no-write guard below defines open() and open64() both; with 64-bit
 * file offsets glibc's headers would make the first an alias of the second.
 * glibc allows 64-bit time only with 64-bit offsets, so that goes too: this
 * file runs on the build host (x86_64), where neither changes the ABI. */
#undef _FILE_OFFSET_BITS
#undef _TIME_BITS
#define _GNU_SOURCE
#include "fuzz-common.h"

#include "config.h"
#include "config-check.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#define NAME "fuzz.conf"
#define MAX_TOKEN_FILE (16 * 1024 * 1024)

/* ---- the no-write guard ----------------------------------------------- */

/* Set only while the daemon's code runs; libFuzzer writes its own files. */
static volatile int guard_active;

static void
refuse_write (const char *call, const char *path)
{
  if (guard_active)
    {
      guard_active = 0;
      FUZZ_CHECK ("no-writes", FALSE, "the config loader called %s on '%s'", call,
                  path ? path : "(null)");
    }
}

static gboolean
opens_for_writing (int flags)
{
  return (flags & (O_WRONLY | O_RDWR | O_CREAT | O_TRUNC | O_APPEND)) != 0;
}

/* Interposed libc entry points through which GLib and glibc create, change
 * or remove files. They pass through to the kernel (or to the next
 * definition) unless the guard is up and the call would write. */
int open (const char *path, int flags, ...);
int open64 (const char *path, int flags, ...);
int openat (int dir, const char *path, int flags, ...);
int openat64 (int dir, const char *path, int flags, ...);
int creat (const char *path, mode_t mode);
int creat64 (const char *path, mode_t mode);
FILE *fopen (const char *path, const char *mode);
FILE *fopen64 (const char *path, const char *mode);
int mkdir (const char *path, mode_t mode);
int unlink (const char *path);
int rename (const char *from, const char *to);
int truncate (const char *path, off_t length);

static int
do_openat (const char *call, int dir, const char *path, int flags, mode_t mode)
{
  if (opens_for_writing (flags))
    refuse_write (call, path);
  return (int) syscall (SYS_openat, dir, path, flags, mode);
}

#define MODE_ARG(flags, mode)                                                           \
  do                                                                                    \
    {                                                                                   \
      if ((flags) & (O_CREAT | O_TMPFILE))                                              \
        {                                                                               \
          va_list ap;                                                                   \
          va_start (ap, flags);                                                         \
          mode = (mode_t) va_arg (ap, int);                                             \
          va_end (ap);                                                                  \
        }                                                                               \
    }                                                                                   \
  while (0)

int
open (const char *path, int flags, ...)
{
  mode_t mode = 0;
  MODE_ARG (flags, mode);
  return do_openat ("open", AT_FDCWD, path, flags, mode);
}

int
open64 (const char *path, int flags, ...)
{
  mode_t mode = 0;
  MODE_ARG (flags, mode);
  return do_openat ("open64", AT_FDCWD, path, flags, mode);
}

int
openat (int dir, const char *path, int flags, ...)
{
  mode_t mode = 0;
  MODE_ARG (flags, mode);
  return do_openat ("openat", dir, path, flags, mode);
}

int
openat64 (int dir, const char *path, int flags, ...)
{
  mode_t mode = 0;
  MODE_ARG (flags, mode);
  return do_openat ("openat64", dir, path, flags, mode);
}

int
creat (const char *path, mode_t mode)
{
  return do_openat ("creat", AT_FDCWD, path, O_CREAT | O_WRONLY | O_TRUNC, mode);
}

int
creat64 (const char *path, mode_t mode)
{
  return do_openat ("creat64", AT_FDCWD, path, O_CREAT | O_WRONLY | O_TRUNC, mode);
}

typedef FILE *(*FopenFn) (const char *, const char *);

static FILE *
do_fopen (const char *call, const char *path, const char *mode)
{
  if (strpbrk (mode, "wa+") != NULL)
    refuse_write (call, path);
  FopenFn next = (FopenFn) dlsym (RTLD_NEXT, call);
  if (next == NULL)
    {
      errno = ENOSYS;
      return NULL;
    }
  return next (path, mode);
}

FILE *
fopen (const char *path, const char *mode)
{
  return do_fopen ("fopen", path, mode);
}

FILE *
fopen64 (const char *path, const char *mode)
{
  return do_fopen ("fopen64", path, mode);
}

int
mkdir (const char *path, mode_t mode)
{
  refuse_write ("mkdir", path);
  return (int) syscall (SYS_mkdirat, AT_FDCWD, path, mode);
}

int
unlink (const char *path)
{
  refuse_write ("unlink", path);
  return (int) syscall (SYS_unlinkat, AT_FDCWD, path, 0);
}

int
rename (const char *from, const char *to)
{
  refuse_write ("rename", to);
  return (int) syscall (SYS_renameat, AT_FDCWD, from, AT_FDCWD, to);
}

int
truncate (const char *path, off_t length)
{
  refuse_write ("truncate", path);
  return (int) syscall (SYS_truncate, path, length);
}

/* ---- token files -------------------------------------------------------- */

/* A TokenFile value as the daemon sees it: the last one set in @group, a
 * " #" remark cut off, blanks stripped. NULL when the input sets none. The
 * daemon reads it from the lines GKeyFile takes even when others are
 * broken, so the index (config-check.h) finds it, not a whole-file parse. */
static char *
token_file (const EpConfigIndex *index, const char *group)
{
  const char *value = NULL;
  for (guint i = 0; i < ep_config_index_len (index); i++)
    {
      const EpConfigEntry *e = ep_config_index_get (index, i);
      if (g_strcmp0 (e->section, group) == 0 && g_strcmp0 (e->key, "TokenFile") == 0)
        value = e->value;
    }
  if (value == NULL)
    return NULL;
  g_autofree char *raw = g_strdup (value);
  for (char *p = raw; *p; p++)
    if (*p == '#' && p > raw && g_ascii_isspace (p[-1]))
      {
        *p = '\0';
        break;
      }
  g_strstrip (raw);
  return *raw ? g_strdup (raw) : NULL;
}

/* Whether reading @path to its end is safe for a fuzzer: not a device (but
 * /dev/null), FIFO or socket, nothing below /proc or /sys, not huge. */
static gboolean
safe_to_read (const char *path)
{
  struct stat st;
  if (stat (path, &st) != 0)
    return TRUE;   /* the daemon only gets an error */
  char real[PATH_MAX];
  if (realpath (path, real) == NULL)
    return FALSE;
  if (strcmp (real, "/dev/null") == 0)
    return TRUE;
  if (g_str_has_prefix (real, "/proc/") || g_str_has_prefix (real, "/sys/") ||
      g_str_has_prefix (real, "/dev/"))
    return FALSE;
  return S_ISDIR (st.st_mode) || (S_ISREG (st.st_mode) && st.st_size <= MAX_TOKEN_FILE);
}

/* The token the daemon should have read from @path: the file without
 * trailing whitespace; NULL when unreadable or empty. */
static char *
expected_token (const char *path)
{
  g_autofree char *data = NULL;
  if (path == NULL || !g_file_get_contents (path, &data, NULL, NULL))
    return NULL;
  g_strchomp (data);
  return *data ? g_steal_pointer (&data) : NULL;
}

static gboolean
token_fits_header (const char *t)
{
  size_t n = strlen (t);
  if (n < 1 || n > 4096)
    return FALSE;
  for (size_t i = 0; i < n; i++)
    if ((unsigned char) t[i] < 0x21 || (unsigned char) t[i] > 0x7e)
      return FALSE;
  return TRUE;
}

/* ---- invariants --------------------------------------------------------- */

static void
check_url (const char *what, const char *url)
{
  FUZZ_CHECK ("url", g_ascii_strncasecmp (url, "http://", 7) == 0 ||
                       g_ascii_strncasecmp (url, "https://", 8) == 0,
              "%s URL '%s' is not http(s)", what, url);
  size_t n = strlen (url);
  FUZZ_CHECK ("url", n > 0 && url[n - 1] != '/', "%s URL '%s' ends with '/'", what, url);
}

static void
check_endpoint (const EpEndpoint *ep, const char *name, const char *file)
{
  FUZZ_CHECK ("endpoint", strcmp (ep->name, name) == 0, "endpoint named %s", ep->name);
  if (ep->url)
    check_url (name, ep->url);
  if (ep->ca_file)
    FUZZ_CHECK ("path", g_path_is_absolute (ep->ca_file), "%s CAFile is relative", name);
  g_autofree char *want = expected_token (file);
  if (ep->token == NULL)
    {
      FUZZ_CHECK ("token", want == NULL, "%s token from %s not loaded", name, file);
      return;
    }
  FUZZ_CHECK ("token-header", token_fits_header (ep->token),
              "%s token does not fit an HTTP header", name);
  FUZZ_CHECK ("token", g_strcmp0 (ep->token, want) == 0,
              "%s token is not the content of %s", name, file ? file : "(no file)");
  FUZZ_CHECK ("token-source", ep->token_source && g_strcmp0 (ep->token_source, file) == 0,
              "%s token source '%s', TokenFile '%s'", name,
              ep->token_source ? ep->token_source : "(null)", file ? file : "(null)");
}

static void
check_config (const EpConfig *c, const char *cloud_file, const char *gateway_file)
{
  FUZZ_CHECK ("cloud-url", c->cloud.url != NULL, "no cloud URL");
  check_endpoint (&c->cloud, "cloud", cloud_file);
  check_endpoint (&c->gateway, "gateway", gateway_file);
  FUZZ_CHECK ("target", c->default_target == EP_TARGET_CLOUD ||
                          (c->default_target == EP_TARGET_GATEWAY && c->gateway.url != NULL),
              "DefaultTarget %d with gateway URL %s", (int) c->default_target,
              c->gateway.url ? c->gateway.url : "(null)");
  FUZZ_CHECK ("endpoint", ep_config_endpoint (c, EP_TARGET_GATEWAY) == &c->gateway &&
                            ep_config_endpoint (c, EP_TARGET_CLOUD) == &c->cloud,
              "ep_config_endpoint mixes up the targets");
  FUZZ_CHECK ("range", c->max_concurrent >= 1 && c->max_concurrent <= 1024,
              "MaxConcurrent %u", c->max_concurrent);
  FUZZ_CHECK ("range", c->max_queued <= 65536, "MaxQueued %u", c->max_queued);
  FUZZ_CHECK ("range", c->retries <= 20, "Retries %u", c->retries);
  FUZZ_CHECK ("range", c->idle_timeout <= 86400, "IdleTimeout %u", c->idle_timeout);
  FUZZ_CHECK ("range", isfinite (c->timeout) && c->timeout >= 0.01 && c->timeout <= 3600,
              "Timeout %g", c->timeout);
  FUZZ_CHECK ("range", isfinite (c->deadline) && c->deadline >= 0.01 && c->deadline < 25,
              "Deadline %g", c->deadline);
  FUZZ_CHECK ("range", c->timeout <= c->deadline, "Timeout %g over Deadline %g", c->timeout,
              c->deadline);
  FUZZ_CHECK ("keystore-path", c->keystore_path && g_path_is_absolute (c->keystore_path),
              "keystore path '%s'", c->keystore_path ? c->keystore_path : "(null)");
}

static void
check_error (const GError *error, const char *cloud_file, const char *gateway_file)
{
  FUZZ_CHECK ("error-domain", error->domain == EP_CONFIG_ERROR, "error in domain %s: %s",
              g_quark_to_string (error->domain), error->message);
  /* A line a problem: "NAME: ..." or "NAME:LINE: ...". */
  g_auto (GStrv) lines = g_strsplit (error->message, "\n", -1);
  for (size_t i = 0; lines[i]; i++)
    {
      const char *rest = g_str_has_prefix (lines[i], NAME ":") ? lines[i] + strlen (NAME ":")
                                                                : NULL;
      while (rest && g_ascii_isdigit (*rest))
        rest++;
      if (rest && rest[-1] != ':' && *rest == ':')
        rest++;
      FUZZ_CHECK ("error-names-file", rest && *rest == ' ',
                  "message line does not name the file: %s", lines[i]);
    }
  const char *files[] = { cloud_file, gateway_file };
  for (size_t i = 0; i < G_N_ELEMENTS (files); i++)
    {
      g_autofree char *token = expected_token (files[i]);
      /* Short contents occur in any message by chance. */
      if (token != NULL && strlen (token) >= 6)
        FUZZ_CHECK ("no-token-in-error", strstr (error->message, token) == NULL,
                    "the message quotes the content of %s", files[i]);
    }
}

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  fuzz_setup ();
  unsetenv ("CREDENTIALS_DIRECTORY");
  return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  /* Which token files the daemon is about to read. */
  g_autoptr (EpConfigProblems) ignored = ep_config_problems_new (NAME);
  g_autoptr (EpConfigIndex) index = ep_config_index_new ((const char *) data, size, ignored);
  g_autofree char *cloud_file = token_file (index, "Cloud");
  g_autofree char *gateway_file = token_file (index, "Gateway");
  if ((cloud_file && !safe_to_read (cloud_file)) ||
      (gateway_file && !safe_to_read (gateway_file)))
    return -1;   /* libFuzzer keeps such inputs out of the corpus */

  g_autoptr (GError) error = NULL;
  guard_active = 1;
  g_autoptr (EpConfig) config = ep_config_load_data ((const char *) data, size, NAME, &error);
  guard_active = 0;

  FUZZ_CHECK ("config-xor-error", (config == NULL) != (error == NULL), "config %p, error %p",
              (void *) config, (void *) error);
  if (error != NULL)
    check_error (error, cloud_file, gateway_file);
  if (config != NULL)
    check_config (config, cloud_file, gateway_file);
  return 0;
}
