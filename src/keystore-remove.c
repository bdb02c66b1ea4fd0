/* Removing from the keystore (keystore.h): a device's directory for
 * ForgetDevice, in a worker thread, and the trees that writes and start-up
 * leave behind (ep_keystore_remove_at, keystore-private.h). Nothing here
 * descends into another mounted file system. */
#define _GNU_SOURCE
#include "keystore-private.h"

#include "log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char *
ep_keystore_strerror (int err)
{
  if (err == EXDEV)
    return "another file system is mounted inside it and was left intact; unmount it, then "
           "remove the rest by hand";
  return g_strerror (err);
}

/* Opens the directory @name below @dirfd without following a link, refusing
 * (-EXDEV) one that is the root of another mount: a bind mount of the same
 * file system has the same st_dev, so the mount itself is asked. Returns
 * the fd or -errno. */
static int
open_subdir (int dirfd, const char *name)
{
  auto_fd fd = openat (dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  struct statx sx;
  if (fd < 0 || statx (fd, "", AT_EMPTY_PATH, STATX_TYPE, &sx) < 0)
    return -errno;
  gboolean crossing;
  if (sx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT)
    crossing = (sx.stx_attributes & STATX_ATTR_MOUNT_ROOT) != 0;
  else
    {
      /* Kernels before 5.8: at least another file system is seen. */
      struct statx parent;
      if (statx (dirfd, "", AT_EMPTY_PATH, STATX_TYPE, &parent) < 0)
        return -errno;
      crossing = sx.stx_dev_major != parent.stx_dev_major ||
                 sx.stx_dev_minor != parent.stx_dev_minor;
    }
  if (crossing)
    return -EXDEV;
  int ret = fd;
  fd = -1;
  return ret;
}

typedef int (*EntryFunc) (int dirfd, const char *name, unsigned char type, int depth,
                          gpointer data);

/* Calls @func (0 or -errno) on every entry of the directory @fd but . and
 * ..; the first -errno of a call or of reading, after trying every entry. */
static int
each_entry (int fd, EntryFunc func, int depth, gpointer data)
{
  /* getdents64 into the stack rather than readdir: each DIR is a 32 KiB
   * allocation, and one per write under a burst fragments the heap. */
  char buf[2048] __attribute__ ((aligned (8)));
  int ret = 0;
  ssize_t n;
  while ((n = getdents64 (fd, buf, sizeof buf)) > 0)
    for (ssize_t off = 0; off < n;)
      {
        const struct dirent64 *de = (const struct dirent64 *) (buf + off);
        off += de->d_reclen;
        if (strcmp (de->d_name, ".") == 0 || strcmp (de->d_name, "..") == 0)
          continue;
        int r = func (fd, de->d_name, de->d_type, depth + 1, data);
        if (r < 0 && ret == 0)
          ret = r;
      }
  if (n < 0)
    return -errno;
  return ret;
}

static int
remove_entry (int dirfd, const char *name, unsigned char type, int depth, gpointer data)
{
  return ep_keystore_remove_at (dirfd, name, depth);
}

int
ep_keystore_remove_at (int dirfd, const char *name, int depth)
{
  if (unlinkat (dirfd, name, 0) == 0 || errno == ENOENT)
    return 0;
  if ((errno != EISDIR && errno != EPERM) || depth > 4)
    return -errno;
  auto_fd fd = open_subdir (dirfd, name);
  if (fd < 0)
    return fd;
  int r = each_entry (fd, remove_entry, depth, NULL);
  if (r < 0)
    return r;
  if (unlinkat (dirfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
    return -errno;
  return 0;
}

/* Finds a mount below the directory @name of @dirfd; sets @data (char **)
 * to its path relative to @dirfd. 0 (found or not) or -errno. */
static int
find_mount (int dirfd, const char *name, unsigned char type, int depth, gpointer data)
{
  char **found = data;
  if ((type != DT_DIR && type != DT_UNKNOWN) || depth > 5 || *found != NULL)
    return 0;
  auto_fd fd = open_subdir (dirfd, name);
  if (fd == -EXDEV)
    {
      *found = g_strdup (name);
      return 0;
    }
  if (fd < 0)
    return fd == -ENOTDIR || fd == -ELOOP ? 0 : fd;
  g_autofree char *below = NULL;
  int ret = each_entry (fd, find_mount, depth, &below);
  if (below != NULL)
    *found = g_build_filename (name, below, NULL);
  return ret;
}

typedef struct {
  int dirfd;
  char *path;          /* of the keystore, for messages */
  char *device_id;
} ForgetJob;

static void
forget_job_free (ForgetJob *job)
{
  g_free (job->path);
  g_free (job->device_id);
  g_free (job);
}

/* The module boundary of a removal: -errno @r into the GError the caller
 * sees, naming the device and its directory. */
static void
return_forget_error (GTask *task, ForgetJob *job, int r)
{
  g_task_return_new_error (task, EP_KEYSTORE_ERROR, EP_KEYSTORE_ERROR_FORGET,
                           "cannot remove the credentials of device %s (%s/%s): %s; the device "
                           "is kept; fix the keystore's file system, then try again",
                           job->device_id, job->path, job->device_id, g_strerror (-r));
}

static void
forget_thread (GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
  ForgetJob *job = data;
  g_autofree char *mount = NULL;
  /* A file system mounted inside stays intact, and so does the device: a
   * refusal before anything changes rather than a half-removed set. */
  int r = find_mount (job->dirfd, job->device_id, DT_DIR, 0, &mount);
  if (r < 0)
    {
      return_forget_error (task, job, r);
      return;
    }
  if (mount != NULL)
    {
      g_task_return_new_error (task, EP_KEYSTORE_ERROR, EP_KEYSTORE_ERROR_FORGET,
                               "cannot remove the credentials of device %s: %s/%s is the mount "
                               "point of another file system; unmount it and try again",
                               job->device_id, job->path, mount);
      return;
    }
  g_autofree char *tmp = g_strdup_printf (".old-%08x-%s", g_random_int (), job->device_id);
  gboolean moved = renameat (job->dirfd, job->device_id, job->dirfd, tmp) == 0;
  if (!moved || fsync (job->dirfd) < 0)
    {
      r = -errno;
      /* Not durably gone: keep the device, as the error says. */
      if (moved)
        renameat (job->dirfd, tmp, job->dirfd, job->device_id);
      return_forget_error (task, job, r);
      return;
    }
  /* The device is gone from its name, durably: what remains is clean-up. */
  r = ep_keystore_remove_at (job->dirfd, tmp, 0);
  if (r < 0)
    ep_warning ("keystore: could not delete %s/%s: %s", job->path, tmp,
                ep_keystore_strerror (-r));
  g_task_return_boolean (task, TRUE);
}

void
ep_keystore_forget_async (EpKeystore *ks, const char *device_id, GAsyncReadyCallback callback,
                          gpointer user_data)
{
  ForgetJob *job = g_new0 (ForgetJob, 1);
  job->dirfd = ks->dirfd;
  job->path = g_strdup (ks->path);
  job->device_id = g_strdup (device_id);
  g_autoptr (GTask) task = g_task_new (NULL, NULL, callback, user_data);
  g_task_set_source_tag (task, ep_keystore_forget_async);
  g_task_set_task_data (task, job, (GDestroyNotify) forget_job_free);
  ep_keystore_run_in_writer (ks, task, forget_thread);
}

gboolean
ep_keystore_forget_finish (EpKeystore *ks, GAsyncResult *result, GError **error)
{
  ForgetJob *job = g_task_get_task_data (G_TASK (result));
  if (!g_task_propagate_boolean (G_TASK (result), error))
    return FALSE;
  ep_keystore_index_remove (ks, job->device_id);
  return TRUE;
}
