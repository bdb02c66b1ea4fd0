#define _GNU_SOURCE
#include "keystore.h"

#include "errors.h"
#include "json-util.h"
#include "log.h"
#include "validate.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define METADATA_FILE "device.json"
#define MAX_METADATA (64 * 1024)

struct EpKeystore {
  char *path;
  int dirfd;
  gboolean group_set;
  gid_t gid;
  GHashTable *index;   /* device_id -> JsonObject (device.json) */
};

typedef struct {
  char *name;
  char *contents;
} EntryFile;

struct EpKeystoreEntry {
  char *device_id;
  JsonObject *metadata;
  GArray *files;       /* EntryFile */
};

/* What a worker thread needs: the entry and a snapshot of the settings. */
typedef struct {
  int dirfd;
  gboolean group_set;
  gid_t gid;
  EpKeystoreEntry *entry;
  gboolean exchanged;  /* something was at the device's name, now at the temp name */
  gboolean replaced;   /* ... and it was a credential set */
} WriteJob;

static void
close_fd (int *fd)
{
  if (*fd >= 0)
    close (*fd);
  *fd = -1;
}

typedef int AutoFd;
#define auto_fd __attribute__ ((cleanup (close_fd))) AutoFd

static mode_t
dir_mode (gboolean group_set)
{
  return group_set ? 0750 : 0700;
}

static mode_t
file_mode (gboolean group_set)
{
  return group_set ? 0640 : 0600;
}

/* Gives @fd its group and final mode. Created with fewer permissions, it is
 * never more open than intended at any instant. */
static int
set_owner_mode (int fd, gboolean group_set, gid_t gid, mode_t mode)
{
  if (group_set && fchown (fd, (uid_t) -1, gid) < 0)
    return -1;
  return fchmod (fd, mode);
}

/* Removes @name below @dirfd: a file, a symlink (not followed) or a tree. */
static int
remove_at (int dirfd, const char *name, int depth)
{
  if (unlinkat (dirfd, name, 0) == 0 || errno == ENOENT)
    return 0;
  if ((errno != EISDIR && errno != EPERM) || depth > 4)
    return -1;
  auto_fd fd = openat (dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    return -1;
  DIR *dir = fdopendir (dup (fd));
  if (dir == NULL)
    return -1;
  struct dirent *de;
  int ret = 0;
  while ((de = readdir (dir)) != NULL)
    if (strcmp (de->d_name, ".") != 0 && strcmp (de->d_name, "..") != 0 &&
        remove_at (fd, de->d_name, depth + 1) < 0)
      ret = -1;
  closedir (dir);
  if (ret == 0 && unlinkat (dirfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
    ret = -1;
  return ret;
}

static gboolean
write_all (int fd, const char *data, size_t len)
{
  while (len > 0)
    {
      ssize_t n = write (fd, data, len);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        {
          if (n == 0)
            errno = EIO;
          return FALSE;
        }
      data += n;
      len -= (size_t) n;
    }
  return TRUE;
}

static gboolean
write_file_at (int dirfd, const char *name, const char *contents, gboolean group_set, gid_t gid)
{
  auto_fd fd = openat (dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0 || set_owner_mode (fd, group_set, gid, file_mode (group_set)) < 0 ||
      !write_all (fd, contents, strlen (contents)) || fsync (fd) < 0)
    return FALSE;
  int rc = close (fd);
  fd = -1;
  return rc == 0;
}

static gboolean
keystore_error (GError **error, const char *device_id, const char *step)
{
  int saved = errno;
  g_set_error (error, EP_ERROR, EP_ERROR_KEYSTORE_ERROR,
               "cannot store the credentials of device %s: %s: %s", device_id, step,
               g_strerror (saved));
  return FALSE;
}

/* Fills a fresh temporary directory with the whole set, durably. */
static gboolean
write_set (WriteJob *job, const char *tmp, GError **error)
{
  EpKeystoreEntry *e = job->entry;
  if (mkdirat (job->dirfd, tmp, 0700) < 0)
    return keystore_error (error, e->device_id, "creating a temporary directory");
  auto_fd fd = openat (job->dirfd, tmp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0 || set_owner_mode (fd, job->group_set, job->gid, dir_mode (job->group_set)) < 0)
    return keystore_error (error, e->device_id, "opening the temporary directory");

  g_autoptr (JsonNode) node = json_node_init_object (json_node_alloc (), e->metadata);
  g_autofree char *json = json_to_string (node, TRUE);
  if (!write_file_at (fd, METADATA_FILE, json, job->group_set, job->gid))
    return keystore_error (error, e->device_id, "writing " METADATA_FILE);
  for (guint i = 0; i < e->files->len; i++)
    {
      EntryFile *f = &g_array_index (e->files, EntryFile, i);
      if (!write_file_at (fd, f->name, f->contents, job->group_set, job->gid))
        return keystore_error (error, e->device_id, "writing a credential file");
    }
  if (fsync (fd) < 0)
    return keystore_error (error, e->device_id, "syncing the temporary directory");
  return TRUE;
}

/* Puts @tmp in place of the device's directory in one step: an exchange when
 * an old set exists (it then sits at @tmp), a no-replace rename otherwise. */
static gboolean
swap_in (WriteJob *job, const char *tmp, GError **error)
{
  const char *id = job->entry->device_id;
  for (int attempt = 0; attempt < 3; attempt++)
    {
      if (renameat2 (job->dirfd, tmp, job->dirfd, id, RENAME_EXCHANGE) == 0)
        {
          /* Only a directory was a credential set; a stray file or link
           * in its place is just removed. */
          struct stat st;
          job->exchanged = TRUE;
          job->replaced = fstatat (job->dirfd, tmp, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
                          S_ISDIR (st.st_mode);
          return TRUE;
        }
      if (errno != ENOENT)
        break;
      if (renameat2 (job->dirfd, tmp, job->dirfd, id, RENAME_NOREPLACE) == 0)
        {
          job->replaced = FALSE;
          return TRUE;
        }
      if (errno != EEXIST)
        break;
    }
  return keystore_error (error, id, "replacing the device directory");
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
      remove_at (job->dirfd, tmp, 0);
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  if (fsync (job->dirfd) < 0)
    {
      keystore_error (&error, id, "syncing the keystore directory");
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  /* The old set is now at @tmp; a failure here leaves a temporary that the
   * next start removes, never a mixed set. */
  if (job->exchanged && remove_at (job->dirfd, tmp, 0) < 0)
    ep_warning ("keystore: could not remove the previous set of %s: %s", id, g_strerror (errno));
  g_task_return_boolean (task, TRUE);
}

static void
write_job_free (WriteJob *job)
{
  ep_keystore_entry_free (job->entry);
  g_free (job);
}

void
ep_keystore_write_async (EpKeystore *ks, EpKeystoreEntry *entry, GAsyncReadyCallback callback,
                         gpointer user_data)
{
  WriteJob *job = g_new0 (WriteJob, 1);
  job->dirfd = ks->dirfd;
  job->group_set = ks->group_set;
  job->gid = ks->gid;
  job->entry = entry;

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
  g_hash_table_replace (ks->index, g_strdup (job->entry->device_id),
                        json_object_ref (job->entry->metadata));
  if (replaced)
    *replaced = job->replaced;
  return TRUE;
}

typedef struct {
  int dirfd;
  char *device_id;
} ForgetJob;

static void
forget_job_free (ForgetJob *job)
{
  g_free (job->device_id);
  g_free (job);
}

static void
forget_thread (GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
  ForgetJob *job = data;
  GError *error = NULL;
  g_autofree char *tmp = g_strdup_printf (".old-%08x-%s", g_random_int (), job->device_id);
  if (renameat (job->dirfd, job->device_id, job->dirfd, tmp) < 0 || fsync (job->dirfd) < 0)
    {
      int saved = errno;
      g_set_error (&error, EP_ERROR, EP_ERROR_KEYSTORE_ERROR,
                   "cannot remove the credentials of device %s: %s", job->device_id,
                   g_strerror (saved));
      g_task_return_error (task, error);
      return;
    }
  if (remove_at (job->dirfd, tmp, 0) < 0)
    ep_warning ("keystore: could not delete %s: %s", tmp, g_strerror (errno));
  g_task_return_boolean (task, TRUE);
}

void
ep_keystore_forget_async (EpKeystore *ks, const char *device_id, GAsyncReadyCallback callback,
                          gpointer user_data)
{
  ForgetJob *job = g_new0 (ForgetJob, 1);
  job->dirfd = ks->dirfd;
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

/* ---- opening and the index -------------------------------------------- */

static JsonObject *
read_metadata (int dirfd, const char *device_id)
{
  /* No link is followed, neither the entry nor the file in it. */
  auto_fd dir = openat (dirfd, device_id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (dir < 0)
    return NULL;
  auto_fd fd = openat (dir, METADATA_FILE, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    return NULL;
  g_autofree char *buf = g_malloc (MAX_METADATA);
  ssize_t n = read (fd, buf, MAX_METADATA);
  if (n <= 0 || n == MAX_METADATA)
    return NULL;
  g_autoptr (JsonParser) parser = json_parser_new ();
  if (!json_parser_load_from_data (parser, buf, n, NULL))
    return NULL;
  JsonNode *root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    return NULL;
  JsonObject *obj = json_node_get_object (root);
  if (g_strcmp0 (ep_json_string (obj, "device_id"),
                 device_id) != 0)
    return NULL;
  return json_object_ref (obj);
}

/* Removes temporaries left by a crash and indexes the complete entries,
 * which are never touched. */
static gboolean
scan (EpKeystore *ks, GError **error)
{
  DIR *dir = fdopendir (dup (ks->dirfd));
  if (dir == NULL)
    return keystore_error (error, "(all)", "reading the keystore");
  struct dirent *de;
  while ((de = readdir (dir)) != NULL)
    {
      const char *name = de->d_name;
      if (strcmp (name, ".") == 0 || strcmp (name, "..") == 0)
        continue;
      if (name[0] == '.')
        {
          if (remove_at (ks->dirfd, name, 0) < 0)
            ep_warning ("keystore: cannot remove leftover %s/%s: %s", ks->path, name,
                        g_strerror (errno));
          else
            ep_info ("keystore: removed leftover %s/%s", ks->path, name);
          continue;
        }
      JsonObject *meta = ep_is_plain_name (name) ? read_metadata (ks->dirfd, name) : NULL;
      if (meta == NULL)
        {
          ep_warning ("keystore: ignoring %s/%s: no valid " METADATA_FILE, ks->path, name);
          continue;
        }
      g_hash_table_replace (ks->index, g_strdup (name), meta);
    }
  closedir (dir);
  return TRUE;
}

EpKeystore *
ep_keystore_open (const char *path, gboolean group_set, gid_t gid, GError **error)
{
  g_autoptr (EpKeystore) ks = g_new0 (EpKeystore, 1);
  ks->path = g_strdup (path);
  ks->dirfd = -1;
  ks->group_set = group_set;
  ks->gid = gid;
  ks->index = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                     (GDestroyNotify) json_object_unref);

  if (g_mkdir_with_parents (path, 0700) < 0)
    {
      g_set_error (error, EP_ERROR, EP_ERROR_KEYSTORE_ERROR, "cannot create keystore %s: %s",
                   path, g_strerror (errno));
      return NULL;
    }
  ks->dirfd = open (path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  struct stat st;
  if (ks->dirfd < 0 || fstat (ks->dirfd, &st) < 0)
    {
      g_set_error (error, EP_ERROR, EP_ERROR_KEYSTORE_ERROR, "cannot open keystore %s: %s",
                   path, g_strerror (errno));
      return NULL;
    }
  mode_t want = dir_mode (group_set);
  if ((st.st_mode & 07777) != want || (group_set && st.st_gid != gid))
    {
      ep_warning ("keystore: %s had mode %04o, setting %04o", path, st.st_mode & 07777, want);
      if (set_owner_mode (ks->dirfd, group_set, gid, want) < 0)
        {
          g_set_error (error, EP_ERROR, EP_ERROR_KEYSTORE_ERROR,
                       "cannot set the mode of keystore %s: %s", path, g_strerror (errno));
          return NULL;
        }
    }
  if (!scan (ks, error))
    return NULL;
  return g_steal_pointer (&ks);
}

void
ep_keystore_free (EpKeystore *ks)
{
  if (ks == NULL)
    return;
  close_fd (&ks->dirfd);
  g_hash_table_unref (ks->index);
  g_free (ks->path);
  g_free (ks);
}

const char *
ep_keystore_path (EpKeystore *ks)
{
  return ks->path;
}

JsonObject *
ep_keystore_lookup (EpKeystore *ks, const char *device_id)
{
  return g_hash_table_lookup (ks->index, device_id);
}

static gboolean
matches (JsonObject *meta, const char *kind, const char *const *names, const char *const *values)
{
  if (g_strcmp0 (ep_json_string (meta, "kind"), kind) != 0)
    return FALSE;
  for (size_t i = 0; names[i]; i++)
    if (g_strcmp0 (ep_json_string (meta, names[i]),
                   values[i]) != 0)
      return FALSE;
  return TRUE;
}

const char *
ep_keystore_find (EpKeystore *ks, const char *kind, const char *const *names,
                  const char *const *values)
{
  GHashTableIter it;
  gpointer key, value;
  g_hash_table_iter_init (&it, ks->index);
  while (g_hash_table_iter_next (&it, &key, &value))
    if (matches (value, kind, names, values))
      return key;
  return NULL;
}

static int
compare_strings (gconstpointer a, gconstpointer b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

GPtrArray *
ep_keystore_list (EpKeystore *ks)
{
  GPtrArray *ids = g_ptr_array_new_with_free_func (g_free);
  GHashTableIter it;
  gpointer key;
  g_hash_table_iter_init (&it, ks->index);
  while (g_hash_table_iter_next (&it, &key, NULL))
    g_ptr_array_add (ids, g_strdup (key));
  g_ptr_array_sort (ids, compare_strings);
  return ids;
}
