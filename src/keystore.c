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

G_DEFINE_QUARK (ep-keystore-error-quark, ep_keystore_error)

typedef struct {
  char *name;
  char *contents;
} EntryFile;

struct EpKeystoreEntry {
  char *device_id;
  JsonObject *metadata;
  GArray *files;       /* EntryFile */
  gboolean update;     /* metadata is set over the stored device.json */
};

/* What a worker thread needs: the entry and a snapshot of the settings. */
typedef struct {
  int dirfd;
  char *path;          /* of the keystore, for messages */
  gboolean group_set;
  gid_t gid;
  EpKeystoreEntry *entry;
  gboolean indexed;    /* the index held the device when the write started */
  gboolean exchanged;  /* something was at the device's name, now at the temp name */
  gboolean replaced;   /* ... and it was a credential set */
} WriteJob;

void
ep_keystore_close_fd (int *fd)
{
  if (*fd >= 0)
    close (*fd);
  *fd = -1;
}

/* Gives @fd its group and final mode. Created with fewer permissions, it is
 * never more open than intended at any instant. */
int
ep_keystore_set_owner_mode (int fd, gboolean group_set, gid_t gid, mode_t mode)
{
  if (group_set && fchown (fd, (uid_t) -1, gid) < 0)
    return -errno;
  if (fchmod (fd, mode) < 0)
    return -errno;
  return 0;
}

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

/* 0 or -errno, like every system-call helper here. */
static int
write_all (int fd, const char *data, size_t len)
{
  while (len > 0)
    {
      ssize_t n = write (fd, data, len);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        return -errno;
      if (n == 0)
        return -EIO;
      data += n;
      len -= (size_t) n;
    }
  return 0;
}

static int
write_file_at (int dirfd, const char *name, const char *contents, gboolean group_set, gid_t gid)
{
  auto_fd fd = openat (dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_NONBLOCK |
                                    O_CLOEXEC, 0600);
  if (fd < 0)
    return -errno;
  int r = ep_keystore_set_owner_mode (fd, group_set, gid, ep_keystore_file_mode (group_set));
  if (r == 0)
    r = write_all (fd, contents, strlen (contents));
  if (r == 0 && fsync (fd) < 0)
    r = -errno;
  if (r < 0)
    return r;
  r = close (fd);
  fd = -1;
  return r < 0 ? -errno : 0;
}

/* The module boundary of a write: -errno @r of @step into the GError the
 * caller sees, naming the device, the keystore and what it now holds. */
static gboolean
write_error_held (GError **error, WriteJob *job, const char *step, int r, const char *held)
{
  g_set_error (error, EP_KEYSTORE_ERROR, EP_KEYSTORE_ERROR_WRITE,
               "cannot store the credentials of device %s in keystore %s: %s: %s; %s; fix the "
               "keystore's file system, then try again",
               job->entry->device_id, job->path, step, g_strerror (-r), held);
  return FALSE;
}

/* A failure before the swap: the previous set is untouched. */
static gboolean
write_error (GError **error, WriteJob *job, const char *step, int r)
{
  return write_error_held (error, job, step, r, "its previous set, if any, is kept");
}

/* An update's device.json: the stored one with the entry's members set over
 * it. The worker owns the entry until the write finishes, so the merged
 * metadata replaces the entry's and the index gets exactly what was written. */
static gboolean
merge_stored (WriteJob *job, GError **error)
{
  EpKeystoreEntry *e = job->entry;
  g_autofree char *what = g_build_filename (job->path, e->device_id, NULL);
  auto_fd dir = openat (job->dirfd, e->device_id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
                                                  O_CLOEXEC);
  g_autofree char *why = NULL;
  g_autoptr (JsonObject) stored = NULL;
  if (dir < 0)
    why = g_strdup_printf ("%s: %s", what, g_strerror (errno));
  else
    stored = ep_keystore_read_metadata (dir, what, e->device_id, &why);
  if (stored == NULL)
    {
      g_set_error (error, EP_KEYSTORE_ERROR, EP_KEYSTORE_ERROR_WRITE,
                   "cannot update the credentials of device %s: %s; nothing was changed; "
                   "forget the device and provision it again", e->device_id, why);
      return FALSE;
    }
  JsonObjectIter it;
  const char *name;
  JsonNode *value;
  json_object_iter_init (&it, e->metadata);
  while (json_object_iter_next (&it, &name, &value))
    json_object_set_member (stored, name, json_node_copy (value));
  json_object_unref (e->metadata);
  e->metadata = g_steal_pointer (&stored);
  return TRUE;
}

/* Fills a fresh temporary directory with the whole set, durably. */
static gboolean
write_set (WriteJob *job, const char *tmp, GError **error)
{
  EpKeystoreEntry *e = job->entry;
  if (e->update && !merge_stored (job, error))
    return FALSE;
  if (mkdirat (job->dirfd, tmp, 0700) < 0)
    return write_error (error, job, "creating a temporary directory", -errno);
  auto_fd fd = openat (job->dirfd, tmp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  int r = fd < 0 ? -errno
                 : ep_keystore_set_owner_mode (fd, job->group_set, job->gid,
                                               ep_keystore_dir_mode (job->group_set));
  if (r < 0)
    return write_error (error, job, "opening the temporary directory", r);

  g_autoptr (JsonNode) node = json_node_init_object (json_node_alloc (), e->metadata);
  g_autofree char *json = json_to_string (node, TRUE);
  /* One the next start would refuse to read (a hand-grown device.json that
   * an update merged) is not written. */
  if (strlen (json) >= MAX_METADATA)
    return write_error (error, job, "writing " METADATA_FILE, -EFBIG);
  r = write_file_at (fd, METADATA_FILE, json, job->group_set, job->gid);
  if (r < 0)
    return write_error (error, job, "writing " METADATA_FILE, r);
  for (guint i = 0; i < e->files->len; i++)
    {
      EntryFile *f = &g_array_index (e->files, EntryFile, i);
      r = write_file_at (fd, f->name, f->contents, job->group_set, job->gid);
      if (r < 0)
        return write_error (error, job, "writing a credential file", r);
    }
  if (fsync (fd) < 0)
    return write_error (error, job, "syncing the temporary directory", -errno);
  return TRUE;
}

/* The device's name holds an entry the index does not: not ours to replace. */
static gboolean
not_a_device_set (WriteJob *job, GError **error)
{
  const char *id = job->entry->device_id;
  g_set_error (error, EP_KEYSTORE_ERROR, EP_KEYSTORE_ERROR_WRITE,
               "cannot store the credentials of device %s: the keystore holds %s/%s, which is "
               "not one of this daemon's device sets (see the warning at start), so nothing was "
               "changed; move it out of the keystore, then try again",
               id, job->path, id);
  return FALSE;
}

/* Puts @tmp in place of the device's directory in one step. Only a device
 * the index holds is exchanged with its old set (which then sits at @tmp):
 * any other name gets a no-replace rename, so an entry start-up left alone
 * (a directory of someone else's, an ignored device) is never swapped out and
 * deleted on the API's word. */
static gboolean
swap_in (WriteJob *job, const char *tmp, GError **error)
{
  const char *id = job->entry->device_id;
  for (int attempt = 0; attempt < 3; attempt++)
    {
      if (job->indexed)
        {
          if (renameat2 (job->dirfd, tmp, job->dirfd, id, RENAME_EXCHANGE) == 0)
            {
              /* Only a directory was a credential set; a stray file or link
               * in its place is just removed. */
              struct stat st;
              job->exchanged = TRUE;
              job->replaced = fstatat (job->dirfd, tmp, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
                              S_ISDIR (st.st_mode);
              return TRUE;
            }
          if (errno != ENOENT)
            break;
        }
      if (renameat2 (job->dirfd, tmp, job->dirfd, id, RENAME_NOREPLACE) == 0)
        {
          job->replaced = FALSE;
          return TRUE;
        }
      if (errno != EEXIST)
        break;
      if (!job->indexed)
        return not_a_device_set (job, error);
      /* The old set came back between the two renames: try again. */
    }
  return write_error (error, job, "replacing the device directory", -errno);
}

static void
write_thread (GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
  WriteJob *job = data;
  const char *id = job->entry->device_id;
  g_autoptr (GError) error = NULL;
  g_autofree char *tmp = g_strdup_printf (".new-%08x-%s", g_random_int (), id);

  if (!write_set (job, tmp, &error) || !swap_in (job, tmp, &error))
    {
      ep_keystore_remove_at (job->dirfd, tmp, 0);
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  if (fsync (job->dirfd) < 0)
    {
      /* Not durable: put the previous state back, so the failure the
       * caller sees is also what the keystore holds. */
      int r = -errno;
      gboolean back = job->exchanged
                          ? renameat2 (job->dirfd, tmp, job->dirfd, id, RENAME_EXCHANGE) == 0
                          : renameat (job->dirfd, id, job->dirfd, tmp) == 0;
      if (back)
        ep_keystore_remove_at (job->dirfd, tmp, 0);
      fsync (job->dirfd);
      write_error_held (&error, job, "syncing the keystore directory", r,
                        back ? "its previous set, if any, is kept"
                             : "the new set may be in place, but not durably");
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  /* The old set is now at @tmp; a failure here leaves a temporary that the
   * next start removes, never a mixed set. */
  int r = job->exchanged ? ep_keystore_remove_at (job->dirfd, tmp, 0) : 0;
  if (r < 0)
    ep_warning ("keystore: could not remove the previous set of %s (%s/%s): %s", id, job->path,
                tmp, ep_keystore_strerror (-r));
  g_task_return_boolean (task, TRUE);
}

static void
write_job_free (WriteJob *job)
{
  ep_keystore_entry_free (job->entry);
  g_free (job->path);
  g_free (job);
}

void
ep_keystore_write_async (EpKeystore *ks, EpKeystoreEntry *entry, GAsyncReadyCallback callback,
                         gpointer user_data)
{
  WriteJob *job = g_new0 (WriteJob, 1);
  job->dirfd = ks->dirfd;
  job->path = g_strdup (ks->path);
  job->group_set = ks->group_set;
  job->gid = ks->gid;
  job->entry = entry;
  /* Read here, on the main thread that owns the index. */
  job->indexed = g_hash_table_contains (ks->index, entry->device_id);

  g_autoptr (GTask) task = g_task_new (NULL, NULL, callback, user_data);
  g_task_set_source_tag (task, ep_keystore_write_async);
  g_task_set_task_data (task, job, (GDestroyNotify) write_job_free);
  g_task_run_in_thread (task, write_thread);
}

gboolean
ep_keystore_write_finish (EpKeystore *ks, GAsyncResult *result, gboolean *replaced,
                          GError **error)
{
  GTask *task = G_TASK (result);
  WriteJob *job = g_task_get_task_data (task);
  if (!g_task_propagate_boolean (task, error))
    return FALSE;
  ep_keystore_index_set (ks, job->entry->device_id, job->entry->metadata);
  if (replaced)
    *replaced = job->replaced;
  return TRUE;
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
  g_task_run_in_thread (task, forget_thread);
}

gboolean
ep_keystore_forget_finish (EpKeystore *ks, GAsyncResult *result, GError **error)
{
  ForgetJob *job = g_task_get_task_data (G_TASK (result));
  if (!g_task_propagate_boolean (G_TASK (result), error))
    return FALSE;
  g_hash_table_remove (ks->index, job->device_id);
  return TRUE;
}

/* ---- entries ---------------------------------------------------------- */

EpKeystoreEntry *
ep_keystore_entry_new (const char *device_id, JsonObject *metadata)
{
  EpKeystoreEntry *e = g_new0 (EpKeystoreEntry, 1);
  e->device_id = g_strdup (device_id);
  e->metadata = json_object_ref (metadata);
  e->files = g_array_new (FALSE, FALSE, sizeof (EntryFile));
  return e;
}

void
ep_keystore_entry_set_update (EpKeystoreEntry *entry)
{
  entry->update = TRUE;
}

void
ep_keystore_entry_add_file (EpKeystoreEntry *entry, const char *name, const char *contents)
{
  EntryFile f = { g_strdup (name), g_strdup (contents) };
  g_array_append_val (entry->files, f);
}

void
ep_keystore_entry_free (EpKeystoreEntry *e)
{
  if (e == NULL)
    return;
  for (guint i = 0; i < e->files->len; i++)
    {
      EntryFile *f = &g_array_index (e->files, EntryFile, i);
      explicit_bzero (f->contents, strlen (f->contents));
      g_free (f->contents);
      g_free (f->name);
    }
  g_array_free (e->files, TRUE);
  json_object_unref (e->metadata);
  g_free (e->device_id);
  g_free (e);
}

