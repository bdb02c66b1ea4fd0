/* Copies of a device's set for a caller (OpenCredentials): read in a worker
 * thread from one open directory, each file into a sealed memfd handed out
 * read-only, so no caller needs a path or a file permission. */
#define _GNU_SOURCE
#include "keystore-private.h"

#include "wipe-buffer.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#define MAX_COPIED_FILE (1024 * 1024)
#define SEALS (F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL)

typedef struct {
  int dirfd;                 /* the job's own, so a stop cannot close it under the thread */
  char *path;                /* of the keystore, for messages */
  char *device_id;
  GStrv names;
  JsonObject *metadata;      /* results */
  GArray *copies;
} CopyJob;

static void
copy_clear (gpointer data)
{
  EpKeystoreCopy *c = data;
  if (c->fd >= 0)
    close (c->fd);
  g_free (c->name);
}

static void
copy_job_free (CopyJob *job)
{
  ep_keystore_close_fd (&job->dirfd);
  g_free (job->path);
  g_free (job->device_id);
  g_strfreev (job->names);
  if (job->metadata)
    json_object_unref (job->metadata);
  if (job->copies)
    g_array_unref (job->copies);
  g_free (job);
}

/* Reads the regular, single-linked file @name of @dir whole into @buf: 0,
 * or -errno: -ENOENT when it is not there (or was just unlinked: the set
 * swapped away), -EINVAL when it is no plain file of ours, -EFBIG. */
static int
read_file (int dir, const char *name, EpWipeBuffer *buf)
{
  auto_fd fd = openat (dir, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
  struct stat st;
  if (fd < 0 || fstat (fd, &st) < 0)
    return -errno;
  if (st.st_nlink == 0)
    return -ENOENT;
  if (!S_ISREG (st.st_mode) || st.st_nlink != 1)
    return -EINVAL;
  if (st.st_size > MAX_COPIED_FILE)
    return -EFBIG;
  char chunk[4096];
  ssize_t n = 0;
  /* Never more than the file said, and one byte to see it grew. */
  while (buf->len <= (gsize) st.st_size &&
         (n = read (fd, chunk, MIN (sizeof chunk, (gsize) st.st_size + 1 - buf->len))) > 0)
    ep_wipe_buffer_append (buf, chunk, (gsize) n);
  explicit_bzero (chunk, sizeof chunk);
  if (buf->len > (gsize) st.st_size)
    return -EFBIG;
  return n < 0 ? -errno : 0;
}

/* A sealed memfd holding @data, reopened read-only: the fd, or -errno. */
static int
sealed_copy (const char *name, const char *data, gsize len)
{
  auto_fd rw = memfd_create (name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (rw < 0)
    return -errno;
  for (gsize done = 0; done < len;)
    {
      ssize_t n = write (rw, data + done, len - done);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return n < 0 ? -errno : -EIO;
      done += (gsize) n;
    }
  /* Read-only also for whoever reopens it through /proc or /dev/fd. */
  if (fchmod (rw, 0444) < 0 || fcntl (rw, F_ADD_SEALS, SEALS) < 0)
    return -errno;
  /* A read-only descriptor of the same file. Without /proc (a container)
   * the sealed one is handed out: the seals already forbid every write. */
  char proc[64];
  g_snprintf (proc, sizeof proc, "/proc/self/fd/%d", rw);
  int ro = open (proc, O_RDONLY | O_CLOEXEC);
  if (ro >= 0)
    return ro;
  ro = rw;
  rw = -1;
  return ro;
}

/* Whether @dir is still what the device's name stands for: a write swaps
 * a new directory in and then empties the old one, which a reader may hold. */
static gboolean
still_current (CopyJob *job, int dir)
{
  struct stat held, now;
  return fstat (dir, &held) == 0 &&
         fstatat (job->dirfd, job->device_id, &now, AT_SYMLINK_NOFOLLOW) == 0 &&
         held.st_dev == now.st_dev && held.st_ino == now.st_ino;
}

/* One attempt from the device's directory as it is now; -EAGAIN when the
 * set was swapped away meanwhile (the caller tries again). */
static int
copy_set (CopyJob *job, const char **step, char **why)
{
  auto_fd dir = openat (job->dirfd, job->device_id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
                                                    O_CLOEXEC);
  if (dir < 0)
    return *step = "opening the device directory", -errno;
  g_autofree char *what = g_build_filename (job->path, job->device_id, NULL);
  g_clear_pointer (why, g_free);
  g_autoptr (JsonObject) meta = ep_keystore_read_metadata (dir, what, job->device_id, why);
  if (meta == NULL)
    return *step = "reading " METADATA_FILE, still_current (job, dir) ? -EINVAL : -EAGAIN;
  g_autoptr (GArray) copies = g_array_new (FALSE, TRUE, sizeof (EpKeystoreCopy));
  g_array_set_clear_func (copies, copy_clear);
  for (guint i = 0; job->names[i] != NULL; i++)
    {
      EpWipeBuffer buf = { 0 };
      int r = read_file (dir, job->names[i], &buf);
      int fd = r < 0 ? r : sealed_copy (job->names[i], buf.data ? buf.data : "", buf.len);
      ep_wipe_buffer_clear (&buf);
      if (r == -ENOENT)
        continue;
      if (r < 0)
        return *step = "reading a credential file", r;
      if (fd < 0)
        return *step = "making a sealed copy", fd;
      EpKeystoreCopy c = { g_strdup (job->names[i]), fd };
      g_array_append_val (copies, c);
    }
  /* Read from a set swapped away meanwhile: files may be missing. */
  if (!still_current (job, dir))
    return -EAGAIN;
  job->metadata = g_steal_pointer (&meta);
  job->copies = g_steal_pointer (&copies);
  return 0;
}

static void
copy_thread (GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
  CopyJob *job = data;
  const char *step = "reading the set";
  g_autofree char *why = NULL;
  int r = -EAGAIN;
  /* A write swapping the set under the reader: read the new one. */
  for (int attempt = 0; attempt < 8 && r == -EAGAIN; attempt++)
    r = copy_set (job, &step, &why);
  if (r < 0)
    {
      const char *reason = why           ? why
                           : r == -EINVAL ? "not a regular, single-linked file of the daemon's"
                           : r == -EAGAIN ? "it kept being replaced; try again"
                           : r == -ENOENT ? "the device was removed meanwhile"
                                          : g_strerror (-r);
      g_task_return_new_error (task, EP_KEYSTORE_ERROR, EP_KEYSTORE_ERROR_READ,
                               "cannot copy the credentials of device %s (%s/%s): %s: %s",
                               job->device_id, job->path, job->device_id, step, reason);
      return;
    }
  g_task_return_boolean (task, TRUE);
}

void
ep_keystore_copy_async (EpKeystore *ks, const char *device_id, const char *const *names,
                        GAsyncReadyCallback callback, gpointer user_data)
{
  CopyJob *job = g_new0 (CopyJob, 1);
  job->dirfd = fcntl (ks->dirfd, F_DUPFD_CLOEXEC, 3);
  int err = errno;
  job->path = g_strdup (ks->path);
  job->device_id = g_strdup (device_id);
  job->names = g_strdupv ((char **) names);
  g_autoptr (GTask) task = g_task_new (NULL, NULL, callback, user_data);
  g_task_set_source_tag (task, ep_keystore_copy_async);
  g_task_set_task_data (task, job, (GDestroyNotify) copy_job_free);
  if (job->dirfd < 0)
    {
      g_task_return_new_error (task, EP_KEYSTORE_ERROR, EP_KEYSTORE_ERROR_READ,
                               "cannot copy the credentials of device %s: %s; try again, and if "
                               "it persists raise the service's LimitNOFILE=",
                               device_id, g_strerror (err));
      return;
    }
  g_task_run_in_thread (task, copy_thread);
}

gboolean
ep_keystore_copy_finish (EpKeystore *ks, GAsyncResult *result, JsonObject **metadata,
                         GArray **copies, GError **error)
{
  CopyJob *job = g_task_get_task_data (G_TASK (result));
  if (!g_task_propagate_boolean (G_TASK (result), error))
    return FALSE;
  *metadata = g_steal_pointer (&job->metadata);
  *copies = g_steal_pointer (&job->copies);
  return TRUE;
}
