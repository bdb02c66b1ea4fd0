/* The keystore as Diagnose sees it (see diagnose-keystore.h). It shares
 * keystore-private.h for the keystore's open directory, its modes and
 * device.json's reader, so it judges by the rules start-up applies. */
#include "diagnose-keystore.h"

#include "credentials.h"
#include "diagnose-check.h"
#include "fields.h"
#include "keystore-checks.h"
#include "keystore-private.h"
#include "validate.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

/* A set swapped while it is read is read again, this many times at most. */
#define MAX_ATTEMPTS 4

/* One device directory to look at. */
typedef struct {
  char *id;
  char *protocol;            /* NULL: no credentials */
  char *sha256;              /* the certificate device.json records, or NULL */
  gboolean served;           /* in the index at the snapshot */
  EpCheck *check;            /* the result */
} Device;

typedef struct {
  int dirfd;                 /* the job's own, so a stop cannot close it under the thread */
  int dup_errno;             /* why there is none */
  char *path;
  gboolean group_set;
  gid_t gid;
  GHashTable *served;        /* the ids of the index at the snapshot */
  GPtrArray *devices;        /* Device: served ones, then those found unserved */
  EpCheck *keystore;         /* the result */
} Job;

static void
device_free (Device *d)
{
  g_free (d->id);
  g_free (d->protocol);
  g_free (d->sha256);
  ep_check_free (d->check);
  g_free (d);
}

static void
job_free (Job *job)
{
  ep_keystore_close_fd (&job->dirfd);
  g_free (job->path);
  g_hash_table_unref (job->served);
  g_ptr_array_unref (job->devices);
  ep_check_free (job->keystore);
  g_free (job);
}

/* Takes the protocol and certificate @info records (a device.json). */
static void
device_take_record (Device *d, const EpDeviceInfo *info)
{
  g_free (d->protocol);
  g_free (d->sha256);
  d->protocol = g_strdup (ep_device_info_field (info, EP_FIELD_PROTOCOL));
  d->sha256 = g_strdup (ep_device_info_field (info, EP_FIELD_CERTIFICATE_SHA256));
}

static Device *
device_new (const char *id, const EpDeviceInfo *info, gboolean served)
{
  Device *d = g_new0 (Device, 1);
  d->id = g_strdup (id);
  d->served = served;
  if (info != NULL)
    device_take_record (d, info);
  return d;
}

/* ---- the keystore directory ------------------------------------------ */

/* Whether the mode and group of @st (@what) are the keystore's: a
 * warning each if not (start-up sets them, so a restart also would). */
static void
check_mode (Job *job, const struct stat *st, const char *what, mode_t want, gboolean secret,
            EpFindings *f)
{
  mode_t mode = st->st_mode & 07777;
  /* A secret open to more users than the keystore's group is one no more. */
  if (mode & ~want)
    ep_findings_add (f, secret && (mode & ~want & 077) ? EP_CHECK_ERROR : EP_CHECK_WARNING,
                     "%s has mode %04o, more open than %04o: chmod %04o %s (the daemon also "
                     "tightens it at its next start)",
                     what, (unsigned) mode, (unsigned) want, (unsigned) want, what);
  if (job->group_set && st->st_gid != job->gid)
    ep_findings_add (f, EP_CHECK_WARNING,
                     "%s has group %u, not [Keystore] Group's %u: chgrp %u %s (the daemon "
                     "also does at its next start)",
                     what, (unsigned) st->st_gid, (unsigned) job->gid, (unsigned) job->gid, what);
}

/* When the keystore's path leads nowhere, or not to a directory, any
 * more: what the daemon does meanwhile and what a restart would do. FALSE
 * if the path still is a directory (the walk's own message says more). */
static gboolean
tell_path_lost (Job *job, EpFindings *f)
{
  struct stat st, served;
  int err = stat (job->path, &st) == 0 ? 0 : errno;
  g_autofree char *now = NULL;
  if (err == 0 && !S_ISDIR (st.st_mode))
    now = g_strdup_printf ("%s is %s now", job->path, ep_file_type (st.st_mode));
  else if (err == ENOENT)
    now = g_strdup_printf ("%s no longer exists", job->path);
  else if (err == ENOTDIR)
    now = g_strdup_printf ("%s cannot be reached any more (a directory above it is not one)",
                           job->path);
  if (now == NULL)
    return FALSE;
  gboolean missing = err == ENOENT;
  gboolean deleted = fstat (job->dirfd, &served) == 0 && served.st_nlink == 0;
  ep_findings_add (f, EP_CHECK_ERROR,
                   "%s: the directory the daemon opened at start was %s since, and the daemon "
                   "still serves that one; at its next start it would %s. %s, then restart the "
                   "daemon (systemctl restart enapter-provisiond)",
                   now, deleted ? "deleted" : "moved or replaced",
                   missing ? "create a new, empty keystore there, without the devices it "
                             "serves now"
                           : "refuse to start",
                   deleted ? "Restore the keystore from a backup, or provision the devices "
                             "again after the restart"
                           : "Move the keystore back to its path");
  return TRUE;
}

static void
check_keystore (Job *job)
{
  EpFindings f = { 0 };
  g_autoptr (GError) error = NULL;
  auto_fd fd = ep_keystore_check_trusted (job->path, &error);
  struct stat now, served;
  gboolean untrusted = g_error_matches (error, EP_KEYSTORE_ERROR, EP_KEYSTORE_ERROR_UNTRUSTED);
  if (job->dirfd < 0)
    ep_findings_add (&f, EP_CHECK_ERROR,
                     "cannot check keystore %s: the daemon cannot open its directory again "
                     "(%s); run the check again, and if it persists raise the service's "
                     "LimitNOFILE=",
                     job->path, g_strerror (job->dup_errno));
  else if (fd < 0 && untrusted)
    ep_findings_add (&f, EP_CHECK_ERROR, "%s; the daemon would refuse to start with it",
                     error->message);
  else if (fd < 0)
    {
      if (!tell_path_lost (job, &f))
        ep_findings_add (&f, EP_CHECK_ERROR, "%s", error->message);
    }
  else if (fstat (fd, &now) < 0 || fstat (job->dirfd, &served) < 0)
    ep_findings_add (&f, EP_CHECK_ERROR, "cannot check keystore %s: %s", job->path,
                     g_strerror (errno));
  else if (now.st_dev != served.st_dev || now.st_ino != served.st_ino)
    ep_findings_add (&f, EP_CHECK_ERROR,
                     "%s is no longer the directory the daemon opened at start (it was moved or "
                     "replaced): the daemon keeps serving the old one; restart it to serve what "
                     "%s holds now",
                     job->path, job->path);
  else
    check_mode (job, &now, job->path, ep_keystore_dir_mode (job->group_set), FALSE, &f);
  g_autofree char *ok = g_strdup_printf ("%s: the daemon's own, writable by nobody else, no ACL, "
                                         "and no directory above it open to others",
                                         job->path);
  job->keystore = ep_findings_take (&f, "keystore", ok);
}

static gint
compare_strings (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

/* Device directories the index did not hold but a device.json shows to be
 * meant as one: start-up ignored them (its log says why), or they
 * appeared since. */
static void
find_unserved (Job *job)
{
  /* Its own open directory: a dup would share the keystore fd's offset. */
  auto_fd fd = openat (job->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  DIR *d = fd < 0 ? NULL : fdopendir (fd);
  if (d == NULL)
    return;
  fd = -1;   /* now @d's */
  g_autoptr (GPtrArray) found = g_ptr_array_new_with_free_func (g_free);
  struct dirent *de;
  while ((de = readdir (d)) != NULL)
    {
      struct stat st;
      g_autofree char *meta = g_build_filename (de->d_name, METADATA_FILE, NULL);
      if (ep_is_plain_name (de->d_name) && !g_hash_table_contains (job->served, de->d_name) &&
          fstatat (job->dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
          S_ISDIR (st.st_mode) && fstatat (job->dirfd, meta, &st, AT_SYMLINK_NOFOLLOW) == 0)
        g_ptr_array_add (found, g_strdup (de->d_name));
    }
  closedir (d);
  g_ptr_array_sort (found, compare_strings);
  for (guint i = 0; i < found->len; i++)
    {
      const char *id = found->pdata[i];
      g_autofree char *what = g_build_filename (job->path, id, NULL);
      g_autofree char *why = NULL;
      auto_fd dir = openat (job->dirfd, id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      g_autoptr (JsonObject) meta = dir < 0 ? NULL
                                            : ep_keystore_read_metadata (dir, what, id, &why);
      g_autoptr (EpDeviceInfo) info = meta ? ep_device_info_new (meta) : NULL;
      g_ptr_array_add (job->devices, device_new (id, info, FALSE));
    }
}

/* ---- one device's set ------------------------------------------------- */

/* What a device needs: device.json and the credential files of its
 * protocol, by the field table. The stored protocol says which credentials
 * the set holds, whichever row brought them: the GenerateCredentials row,
 * which always has a config, judges every kind's. */
static GPtrArray *
needed_files (const Device *d)
{
  GPtrArray *names = g_ptr_array_new ();
  g_ptr_array_add (names, (gpointer) METADATA_FILE);
  for (guint i = 0; d->protocol != NULL && i < EP_N_FIELDS; i++)
    if (ep_fields[i].file != NULL &&
        ep_field_applies (&ep_fields[i], ep_renewal_method, d->protocol))
      g_ptr_array_add (names, (gpointer) ep_fields[i].file);
  return names;
}

static gboolean
is_secret_file (const char *name)
{
  for (guint i = 0; i < EP_N_FIELDS; i++)
    if (g_strcmp0 (ep_fields[i].file, name) == 0)
      return ep_fields[i].secret;
  return FALSE;
}

/* What a set's problems mean, from harmless to worst. */
typedef enum {
  SET_INTACT,                /* complete, and it holds together */
  SET_BROKEN,                /* served, but incomplete or not matching */
  SET_REFUSED,               /* start-up would ignore the device */
  SET_GONE,                  /* no directory: listed only until a restart */
} SetState;

/* A PEM file's text, wiped when freed. */
typedef struct {
  char *data;
  gsize size;
} Text;

static void
text_clear (Text *t)
{
  if (t->data != NULL)
    explicit_bzero (t->data, t->size);
  g_clear_pointer (&t->data, g_free);
}

/* Reads the regular file @name of @dir, which must still be the file @st
 * describes, into @text (at most what a set may hold); NULL, or why not. */
static char *
read_text (int dir, const char *name, const struct stat *st, Text *text)
{
  auto_fd fd = openat (dir, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
  struct stat now;
  if (fd < 0 || fstat (fd, &now) < 0)
    return g_strdup (g_strerror (errno));
  if (now.st_dev != st->st_dev || now.st_ino != st->st_ino)
    return g_strdup ("it was replaced while being checked; check again");
  /* One byte more than a set may hold tells a file too large. */
  text->size = EP_CREDENTIALS_MAX_PEM_BYTES + 2;
  text->data = g_malloc0 (text->size);
  gsize len = 0;
  ssize_t n = 1;
  while (len < text->size - 1 && (n = read (fd, text->data + len, text->size - 1 - len)) > 0)
    len += (gsize) n;
  return n < 0 ? g_strdup (g_strerror (errno)) : NULL;
}

/* Checks the file @name of the device directory @dir (@what) as start-up
 * would; with @text, also reads it. Only a regular file is ever opened: a
 * device node or FIFO planted there is judged by its type alone. */
static SetState
check_file (Job *job, int dir, const char *what, const char *name, Text *text, EpFindings *f)
{
  g_autofree char *path = g_build_filename (what, name, NULL);
  struct stat st;
  if (fstatat (dir, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
    {
      if (errno == ENOENT)
        ep_findings_add (f, EP_CHECK_ERROR, "%s is missing", path);
      else
        ep_findings_add (f, EP_CHECK_ERROR, "%s cannot be checked (%s)", path,
                         g_strerror (errno));
      return SET_BROKEN;
    }
  if (S_ISLNK (st.st_mode))
    ep_findings_add (f, EP_CHECK_ERROR, "%s is a symbolic link, which the daemon refuses", path);
  else if (!S_ISREG (st.st_mode))
    ep_findings_add (f, EP_CHECK_ERROR, "%s is not a regular file but %s", path,
                     ep_file_type (st.st_mode));
  else if (st.st_nlink > 1)
    ep_findings_add (f, EP_CHECK_ERROR,
                     "%s has %lu hard links, so it is also a file elsewhere", path,
                     (unsigned long) st.st_nlink);
  else if (st.st_uid != geteuid ())
    ep_findings_add (f, EP_CHECK_ERROR, "%s is owned by uid %u, not by the daemon's uid %u",
                     path, (unsigned) st.st_uid, (unsigned) geteuid ());
  else
    {
      check_mode (job, &st, path, ep_keystore_file_mode (job->group_set), is_secret_file (name),
                  f);
      g_autofree char *why = text ? read_text (dir, name, &st, text) : NULL;
      if (why == NULL)
        return SET_INTACT;
      ep_findings_add (f, EP_CHECK_ERROR, "%s cannot be read (%s)", path, why);
      return SET_BROKEN;
    }
  return SET_REFUSED;
}

/* The index of @name in the set's files, or -1. */
static int
file_index (GPtrArray *names, EpFieldId id)
{
  for (guint i = 0; i < names->len; i++)
    if (g_strcmp0 (names->pdata[i], ep_fields[id].file) == 0)
      return (int) i;
  return -1;
}

/* An MQTTS set read whole: FALSE unless it holds together and its
 * certificate is the one device.json records. */
static gboolean
check_mqtts (const Device *d, GPtrArray *names, Text *texts, const char *what, EpFindings *f)
{
  int key = file_index (names, EP_FIELD_PRIVATE_KEY);
  int cert = file_index (names, EP_FIELD_CERTIFICATE);
  int chain = file_index (names, EP_FIELD_CA_CHAIN);
  if (key < 0 || cert < 0 || chain < 0)
    return TRUE;
  EpCertificateInfo info;
  g_autofree char *problem = ep_credentials_check (texts[key].data, texts[cert].data,
                                                   texts[chain].data, &info);
  if (problem != NULL)
    ep_findings_add (f, EP_CHECK_ERROR, "the set in %s does not hold together: %s", what,
                     problem);
  else if (d->sha256 != NULL && strcmp (d->sha256, info.sha256) != 0)
    ep_findings_add (f, EP_CHECK_ERROR,
                     "%s/%s is not the certificate %s records (another SHA-256)", what,
                     ep_fields[EP_FIELD_CERTIFICATE].file, METADATA_FILE);
  else
    return TRUE;
  return FALSE;
}

/* One pass over the directory @dir (@what) of @d, naming the set's files
 * in @listed. The set is judged by the device.json beside it, not by the
 * index's snapshot: a renewal or new credentials since the snapshot swap in
 * a whole new directory, which is healthy if it holds together. */
static SetState
check_set (Job *job, Device *d, int dir, const char *what, GString *listed, EpFindings *f)
{
  struct stat st;
  if (fstat (dir, &st) < 0)
    {
      ep_findings_add (f, EP_CHECK_ERROR, "cannot check %s: %s", what, g_strerror (errno));
      return SET_BROKEN;
    }
  SetState state = SET_INTACT;
  if (st.st_uid != geteuid ())
    {
      ep_findings_add (f, EP_CHECK_ERROR, "%s is owned by uid %u, not by the daemon's uid %u",
                       what, (unsigned) st.st_uid, (unsigned) geteuid ());
      state = SET_REFUSED;
    }
  check_mode (job, &st, what, ep_keystore_dir_mode (job->group_set), FALSE, f);
  g_string_append (listed, METADATA_FILE);
  SetState file = check_file (job, dir, what, METADATA_FILE, NULL, f);
  state = MAX (state, file);
  g_autofree char *why = NULL;
  g_autoptr (JsonObject) meta = NULL;
  if (file == SET_INTACT && (meta = ep_keystore_read_metadata (dir, what, d->id, &why)) == NULL)
    {
      ep_findings_add (f, EP_CHECK_ERROR, "%s", why);
      state = SET_REFUSED;
    }
  if (meta != NULL)
    {
      g_autoptr (EpDeviceInfo) info = ep_device_info_new (meta);
      device_take_record (d, info);
    }
  g_autoptr (GPtrArray) names = needed_files (d);
  g_autofree Text *texts = g_new0 (Text, names->len);
  gboolean mqtts = g_strcmp0 (d->protocol, ep_protocols[EP_PROTOCOL_MQTTS]) == 0;
  /* names[0] is device.json, checked above. */
  for (guint i = 1; i < names->len; i++)
    {
      g_string_append_printf (listed, ", %s", (const char *) names->pdata[i]);
      /* The PEM texts of an MQTTS set are read to check them together. */
      file = check_file (job, dir, what, names->pdata[i], mqtts ? &texts[i] : NULL, f);
      state = MAX (state, file);
    }
  if (state == SET_INTACT && mqtts && !check_mqtts (d, names, texts, what, f))
    state = SET_BROKEN;
  for (guint i = 0; i < names->len; i++)
    text_clear (&texts[i]);
  return state;
}

/* Whether @dir is still what @id stands for: a write swaps a new directory
 * in and then empties the old one, which this may be reading. */
static gboolean
still_current (Job *job, const char *id, int dir)
{
  struct stat held, now;
  return fstat (dir, &held) == 0 &&
         fstatat (job->dirfd, id, &now, AT_SYMLINK_NOFOLLOW) == 0 &&
         held.st_dev == now.st_dev && held.st_ino == now.st_ino;
}

/* What to do about a broken set of a device the daemon serves. */
static void
add_remedy (const Device *d, SetState state, EpFindings *f)
{
  if (state == SET_GONE)
    {
      ep_findings_add (f, EP_CHECK_ERROR,
                       "the daemon lists the device until it restarts (systemctl restart "
                       "enapter-provisiond); then provision it again if it is still needed");
      return;
    }
  const char *start = state == SET_REFUSED ? "the daemon would ignore the device at its next "
                                             "start; "
                                           : "";
  g_autofree char *protocol = d->protocol ? g_ascii_strdown (d->protocol, -1) : NULL;
  if (protocol != NULL)
    ep_findings_add (f, EP_CHECK_ERROR,
                     "%sget it a new set with 'enapter-provisionctl generate %s --protocol %s'",
                     start, d->id, protocol);
  else
    ep_findings_add (f, EP_CHECK_ERROR,
                     "%sprovision it again (or drop it with 'enapter-provisionctl forget %s')",
                     start, d->id);
}

/* A directory the daemon does not serve is worth a warning, whatever it
 * holds: it may be kept there on purpose. */
static void
tell_unserved (const char *what, EpFindings *f)
{
  g_autoptr (EpCheck) found = ep_findings_take (f, "", NULL);
  ep_findings_add (f, EP_CHECK_WARNING,
                   "the daemon does not serve %s: it was no valid device directory at start "
                   "(its log says why), or it appeared since",
                   what);
  if (found->level == EP_CHECK_OK)
    ep_findings_add (f, EP_CHECK_WARNING,
                     "it looks fine now: restart the daemon to serve it, or move it out of the "
                     "keystore");
  else
    ep_findings_add (f, EP_CHECK_WARNING,
                     "%s; fix that, or move it out of the keystore, then restart the daemon",
                     found->message);
}

static void
check_device (Job *job, Device *d)
{
  g_autofree char *name = g_strdup_printf ("device:%s", d->id);
  g_autofree char *what = g_build_filename (job->path, d->id, NULL);
  g_autoptr (GString) listed = g_string_new ("");
  EpFindings f = { 0 };
  SetState state = SET_INTACT;
  for (int attempt = 0; attempt < MAX_ATTEMPTS; attempt++)
    {
      auto_fd dir = openat (job->dirfd, d->id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (dir < 0)
        {
          int err = errno;
          struct stat st;
          state = err == ENOENT ? SET_GONE : SET_REFUSED;
          if (err == ENOENT)
            ep_findings_add (&f, EP_CHECK_ERROR, "%s is gone", what);
          else if ((err == ELOOP || err == ENOTDIR) &&
                   fstatat (job->dirfd, d->id, &st, AT_SYMLINK_NOFOLLOW) == 0)
            ep_findings_add (&f, EP_CHECK_ERROR, "%s is %s, not a directory", what,
                             ep_file_type (st.st_mode));
          else
            ep_findings_add (&f, EP_CHECK_ERROR, "%s cannot be opened (%s)", what,
                             g_strerror (err));
          break;
        }
      state = check_set (job, d, dir, what, listed, &f);
      if (still_current (job, d->id, dir))
        break;
      /* Replaced meanwhile: what was found may be the old set's. */
      ep_findings_clear (&f);
      g_string_truncate (listed, 0);
    }
  if (!d->served)
    tell_unserved (what, &f);
  else if (state != SET_INTACT)
    add_remedy (d, state, &f);
  g_autofree char *ok = NULL;
  if (d->protocol == NULL)
    ok = g_strdup_printf ("%s: %s in place, a private, regular file of the daemon's; the device "
                          "holds no credentials", what, listed->str);
  else
    ok = g_strdup_printf ("%s: complete %s set (%s), each a private, regular file of the "
                          "daemon's%s", what, d->protocol, listed->str,
                          g_strcmp0 (d->protocol, ep_protocols[EP_PROTOCOL_MQTTS]) == 0
                            ? "; the key matches the certificate, which chains to ca_chain"
                            : "");
  d->check = ep_findings_take (&f, name, ok);
}

/* ---- the job ---------------------------------------------------------- */

static void
diagnose_thread (GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
  Job *job = data;
  check_keystore (job);
  if (job->dirfd >= 0)
    find_unserved (job);
  for (guint i = 0; i < job->devices->len; i++)
    {
      Device *d = job->devices->pdata[i];
      if (job->dirfd >= 0)
        check_device (job, d);
      else
        {
          g_autofree char *name = g_strdup_printf ("device:%s", d->id);
          d->check = ep_check_new (name, EP_CHECK_WARNING,
                                   "not checked: the keystore could not be opened for the check "
                                   "(see the keystore check); run the check again");
        }
    }
  /* The pool keeps the thread; OpenSSL's state in it is not needed. */
  ep_credentials_thread_done ();
  g_task_return_boolean (task, TRUE);
}

void
ep_diagnose_keystore_async (EpKeystore *ks, GAsyncReadyCallback callback, gpointer user_data)
{
  Job *job = g_new0 (Job, 1);
  job->dirfd = fcntl (ks->dirfd, F_DUPFD_CLOEXEC, 3);
  job->dup_errno = errno;
  job->path = g_strdup (ks->path);
  job->group_set = ks->group_set;
  job->gid = ks->gid;
  job->served = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  job->devices = g_ptr_array_new_with_free_func ((GDestroyNotify) device_free);
  g_autoptr (GPtrArray) ids = ep_keystore_list (ks);
  for (guint i = 0; i < ids->len; i++)
    {
      const char *id = ids->pdata[i];
      g_hash_table_add (job->served, g_strdup (id));
      g_ptr_array_add (job->devices, device_new (id, ep_keystore_lookup (ks, id), TRUE));
    }
  g_autoptr (GTask) task = g_task_new (NULL, NULL, callback, user_data);
  g_task_set_source_tag (task, ep_diagnose_keystore_async);
  g_task_set_task_data (task, job, (GDestroyNotify) job_free);
  g_task_run_in_thread (task, diagnose_thread);
}

static gint
compare_devices (gconstpointer a, gconstpointer b)
{
  return strcmp ((*(Device *const *) a)->id, (*(Device *const *) b)->id);
}

GPtrArray *
ep_diagnose_keystore_finish (EpKeystore *ks, GAsyncResult *result)
{
  Job *job = g_task_get_task_data (G_TASK (result));
  g_task_propagate_boolean (G_TASK (result), NULL);
  GPtrArray *checks = ep_checks_new ();
  g_ptr_array_add (checks, g_steal_pointer (&job->keystore));
  g_ptr_array_sort (job->devices, compare_devices);
  for (guint i = 0; i < job->devices->len; i++)
    {
      Device *d = job->devices->pdata[i];
      /* What the index says now: forgotten, or written, meanwhile. */
      if ((ep_keystore_lookup (ks, d->id) != NULL) == d->served)
        g_ptr_array_add (checks, g_steal_pointer (&d->check));
    }
  return checks;
}
