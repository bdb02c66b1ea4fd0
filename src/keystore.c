/* Writing to the keystore (keystore.h): a device's set stored durably and
 * swapped in atomically, in a pool of writer threads, and the entries that
 * describe a set. */
#define _GNU_SOURCE
#include "keystore-private.h"

#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
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

/* What a writer thread needs: the entry (or what makes it) and a snapshot
 * of the settings. */
typedef struct {
  EpKeystore *ks;      /* for its index lock; it waits for its writers */
  int dirfd;
  char *path;          /* of the keystore, for messages */
  gboolean group_set;
  gid_t gid;
  EpKeystoreEntry *entry;
  EpKeystorePrepare prepare;   /* makes the entry when it is NULL */
  EpKeystoreComplete complete; /* finishes it while the files are written */
  gpointer prepare_data;
  /* Whether the entry is complete: the writer writes the files meanwhile
   * and waits for this before device.json. */
  GMutex lock;
  GCond decided;
  enum { PENDING, COMPLETE, FAILED } verdict;
  GError *complete_error;
  gboolean indexed;    /* the index held the device when the write started */
  char *json;          /* device.json, written out (render) */
  EpDeviceInfo *info;  /* what the index gets */
  char *device_id;     /* once stored: the entry's (the entry is freed then) */
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

/* device.json as text and as the index's entry, from the entry's
 * metadata, which is done with then. */
static void
render (WriteJob *job)
{
  EpKeystoreEntry *e = job->entry;
  g_autoptr (JsonNode) node = json_node_init_object (json_node_alloc (), e->metadata);
  job->json = json_to_string (node, TRUE);
  job->info = ep_device_info_new (e->metadata);
  g_clear_pointer (&e->metadata, json_object_unref);
}

/* A fresh temporary directory, open in *@dir, with the credential files,
 * each durable. */
static gboolean
write_files (WriteJob *job, const char *tmp, int *dir, GError **error)
{
  EpKeystoreEntry *e = job->entry;
  if (mkdirat (job->dirfd, tmp, 0700) < 0)
    return write_error (error, job, "creating a temporary directory", -errno);
  *dir = openat (job->dirfd, tmp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  int r = *dir < 0 ? -errno
                   : ep_keystore_set_owner_mode (*dir, job->group_set, job->gid,
                                                 ep_keystore_dir_mode (job->group_set));
  if (r < 0)
    return write_error (error, job, "opening the temporary directory", r);
  for (guint i = 0; i < e->files->len; i++)
    {
      EntryFile *f = &g_array_index (e->files, EntryFile, i);
      r = write_file_at (*dir, f->name, f->contents, job->group_set, job->gid);
      if (r < 0)
        return write_error (error, job, "writing a credential file", r);
    }
  return TRUE;
}

/* Waits until the entry is complete (ep_keystore_write_prepared_async):
 * FALSE with the reason it is not. */
static gboolean
wait_complete (WriteJob *job, GError **error)
{
  g_mutex_lock (&job->lock);
  while (job->verdict == PENDING)
    g_cond_wait (&job->decided, &job->lock);
  g_mutex_unlock (&job->lock);
  if (job->verdict == COMPLETE)
    return TRUE;
  g_propagate_error (error, g_steal_pointer (&job->complete_error));
  return FALSE;
}

/* In a preparer: tells the writer the entry is complete, or not. Nothing of
 * the caller's may be touched after: the writer may end the write. */
static void
decide (WriteJob *job, GError *error)
{
  g_mutex_lock (&job->lock);
  job->complete_error = error;
  job->verdict = error == NULL ? COMPLETE : FAILED;
  g_cond_signal (&job->decided);
  g_mutex_unlock (&job->lock);
}

/* Fills a fresh temporary directory with the whole set, durably: the
 * credential files, while the entry is completed, then device.json. On a
 * failure the writer still waits for the entry, so the caller's data
 * outlives its use in the preparer; an incomplete entry's reason wins. */
static gboolean
write_set (WriteJob *job, const char *tmp, GError **error)
{
  g_autoptr (GError) failed = NULL;
  auto_fd fd = -1;
  gboolean written = write_files (job, tmp, &fd, &failed);
  if (!wait_complete (job, error))
    return FALSE;
  if (!written)
    {
      g_propagate_error (error, g_steal_pointer (&failed));
      return FALSE;
    }
  EpKeystoreEntry *e = job->entry;
  if (e->update)
    {
      if (!merge_stored (job, error))
        return FALSE;
      render (job);
    }
  /* One the next start would refuse to read (a hand-grown device.json that
   * an update merged) is not written. */
  if (strlen (job->json) >= MAX_METADATA)
    return write_error (error, job, "writing " METADATA_FILE, -EFBIG);
  int r = write_file_at (fd, METADATA_FILE, job->json, job->group_set, job->gid);
  if (r < 0)
    return write_error (error, job, "writing " METADATA_FILE, r);
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
  g_autoptr (GError) error = NULL;
  const char *id = job->entry->device_id;
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
  /* The entry, secrets and all, is done with. */
  job->device_id = g_strdup (id);
  g_clear_pointer (&job->entry, ep_keystore_entry_free);
  g_task_return_boolean (task, TRUE);
}

static void
write_job_free (WriteJob *job)
{
  ep_keystore_entry_free (job->entry);
  g_clear_error (&job->complete_error);
  g_mutex_clear (&job->lock);
  g_cond_clear (&job->decided);
  g_free (job->json);
  g_clear_pointer (&job->info, ep_device_info_free);
  g_free (job->device_id);
  g_free (job->path);
  g_free (job);
}

/* ---- the pools ------------------------------------------------------------ */

/* Making a write ready (the caller's prepare: for the service, reading and
 * checking an API's answer; then device.json as text and the index's
 * entry) only needs the processor: it runs in a pool of a thread per
 * processor, and only then does the write go to a writer. So the many
 * writers only wait for the disk, and the allocations of the work stay in
 * a few threads: each thread that allocates keeps freed memory of its own
 * (malloc's and GSlice's caches), which spreads the heap after a burst. */

/* Writes and removals run in a pool of their own rather than in GLib's
 * shared pool for GTasks (10 threads, shared with OpenCredentials' copies
 * and Diagnose): each waits for fsyncs, and a disk takes several of them at
 * once. The pool has a writer per call that can be in flight
 * (MaxConcurrent, ep_keystore_set_writers), up to MAX_WRITERS: on ext4 over
 * virtio, bench/floor.c stored 1332 sets/s with 10 threads, 1586 with 16
 * and 1833 with 64. What a writer costs is its stack (reserved address
 * space) and what it leaves in the heap: after 2 x 3000 calls at 64 in
 * flight, idle, RssAnon was 4.2 MiB with 64 writers, 4.0 MiB with 16 and
 * 3.8 MiB with GLib's pool (6.3 MiB with 64 writers that prepared their
 * writes themselves). Threads start only when a task finds none free, and
 * leave half a second after their last task (GLib keeps at most two idle
 * threads, for 15 s, across all pools): an idle daemon holds none. */
#define MAX_WRITERS 64
#define DEFAULT_WRITERS 8

typedef struct {
  GTask *task;
  GTaskThreadFunc func;
} Work;

/* Names the thread after its pool ("ep-writer", "ep-preparer"), for top -H
 * and perf; GLib lends idle threads from one pool to another. */
static void
name_thread (const char *name)
{
  static __thread const char *current;
  if (current == name)
    return;
  current = name;
  prctl (PR_SET_NAME, name, 0, 0, 0);
}

static void
run_work (gpointer data, gpointer pool_name)
{
  Work *w = data;
  name_thread (pool_name);
  w->func (w->task, NULL, g_task_get_task_data (w->task), NULL);
  g_object_unref (w->task);
  g_free (w);
}

/* The pools, made on the main thread at the first write or removal. Not
 * exclusive: no thread starts before a task. */
static void
make_pools (EpKeystore *ks)
{
  if (ks->writers != NULL)
    return;
  ks->writers = g_thread_pool_new (run_work, (gpointer) "ep-writer",
                                   (gint) (ks->max_writers ? ks->max_writers : DEFAULT_WRITERS),
                                   FALSE, NULL);
  ks->preparers = g_thread_pool_new (run_work, (gpointer) "ep-preparer",
                                     (gint) g_get_num_processors (), FALSE, NULL);
}

/* Runs @func for @task in @pool. */
static void
run_in (GThreadPool *pool, GTask *task, GTaskThreadFunc func)
{
  Work *w = g_new (Work, 1);
  w->task = g_object_ref (task);
  w->func = func;
  g_autoptr (GError) error = NULL;
  /* On failure the task is queued all the same, for a thread that runs. */
  if (!g_thread_pool_push (pool, w, &error))
    ep_warning ("keystore: cannot start a thread: %s; the task waits for a running one; "
                "raise the daemon's limit of threads (TasksMax)", error->message);
}

void
ep_keystore_run_in_writer (EpKeystore *ks, GTask *task, GTaskThreadFunc func)
{
  make_pools (ks);
  run_in (ks->writers, task, func);
}

/* In a preparer: the entry made (the caller's prepare), device.json written
 * out unless an update (the writer merges it first), then to a writer. */
static void
prepare_thread (GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
  WriteJob *job = data;
  g_autoptr (GError) error = NULL;
  if (job->entry == NULL)
    {
      if ((job->entry = job->prepare (job->prepare_data, &error)) == NULL)
        {
          g_task_return_error (task, g_steal_pointer (&error));
          return;
        }
      ep_keystore_lock_index (job->ks);
      job->indexed = g_hash_table_contains (job->ks->index, job->entry->device_id);
      ep_keystore_unlock_index (job->ks);
    }
  if (job->complete == NULL)
    {
      if (!job->entry->update)
        render (job);
      decide (job, NULL);
      run_in (job->ks->writers, task, write_thread);
      return;
    }
  /* The writer writes the files while the entry is completed here. */
  run_in (job->ks->writers, task, write_thread);
  if (!job->complete (job->prepare_data, job->entry, &error))
    {
      decide (job, g_steal_pointer (&error));
      return;
    }
  if (!job->entry->update)
    render (job);
  decide (job, NULL);
}

void
ep_keystore_set_writers (EpKeystore *ks, guint writers)
{
  ks->max_writers = CLAMP (writers, 1, MAX_WRITERS);
  if (ks->writers != NULL)
    g_thread_pool_set_max_threads (ks->writers, (gint) ks->max_writers, NULL);
}

static void
start_write (EpKeystore *ks, WriteJob *job, GAsyncReadyCallback callback, gpointer user_data)
{
  g_mutex_init (&job->lock);
  g_cond_init (&job->decided);
  job->ks = ks;
  job->dirfd = ks->dirfd;
  job->path = g_strdup (ks->path);
  job->group_set = ks->group_set;
  job->gid = ks->gid;
  /* Read here, on the main thread that changes the index (a prepared
   * entry's, in the preparer under the lock). */
  if (job->entry != NULL)
    job->indexed = g_hash_table_contains (ks->index, job->entry->device_id);

  g_autoptr (GTask) task = g_task_new (NULL, NULL, callback, user_data);
  g_task_set_source_tag (task, ep_keystore_write_async);
  g_task_set_task_data (task, job, (GDestroyNotify) write_job_free);
  make_pools (ks);
  run_in (ks->preparers, task, prepare_thread);
}

void
ep_keystore_write_async (EpKeystore *ks, EpKeystoreEntry *entry, GAsyncReadyCallback callback,
                         gpointer user_data)
{
  WriteJob *job = g_new0 (WriteJob, 1);
  job->entry = entry;
  start_write (ks, job, callback, user_data);
}

void
ep_keystore_write_prepared_async (EpKeystore *ks, EpKeystorePrepare prepare,
                                  EpKeystoreComplete complete, gpointer prepare_data,
                                  GAsyncReadyCallback callback, gpointer user_data)
{
  WriteJob *job = g_new0 (WriteJob, 1);
  job->prepare = prepare;
  job->complete = complete;
  job->prepare_data = prepare_data;
  start_write (ks, job, callback, user_data);
}

void
ep_keystore_stop_writers (EpKeystore *ks)
{
  /* Preparers hand their writes to the writers: they stop first. */
  if (ks->preparers != NULL)
    g_thread_pool_free (g_steal_pointer (&ks->preparers), FALSE, TRUE);
  if (ks->writers != NULL)
    g_thread_pool_free (g_steal_pointer (&ks->writers), FALSE, TRUE);
}

gboolean
ep_keystore_write_finish (EpKeystore *ks, GAsyncResult *result, gboolean *replaced,
                          GError **error)
{
  GTask *task = G_TASK (result);
  WriteJob *job = g_task_get_task_data (task);
  if (!g_task_propagate_boolean (task, error))
    return FALSE;
  ep_keystore_index_put (ks, job->device_id, g_steal_pointer (&job->info));
  if (replaced)
    *replaced = job->replaced;
  return TRUE;
}

/* ---- entries ---------------------------------------------------------- */

EpKeystoreEntry *
ep_keystore_entry_new (const char *device_id, JsonObject *metadata)
{
  EpKeystoreEntry *e = g_new0 (EpKeystoreEntry, 1);
  e->device_id = g_strdup (device_id);
  e->metadata = metadata != NULL ? json_object_ref (metadata) : NULL;
  e->files = g_array_new (FALSE, FALSE, sizeof (EntryFile));
  return e;
}

void
ep_keystore_entry_set_metadata (EpKeystoreEntry *entry, JsonObject *metadata)
{
  if (entry->metadata != NULL)
    json_object_unref (entry->metadata);
  entry->metadata = json_object_ref (metadata);
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
  if (e->metadata != NULL)
    json_object_unref (e->metadata);
  g_free (e->device_id);
  g_free (e);
}

