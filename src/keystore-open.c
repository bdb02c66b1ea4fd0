#include "keystore-private.h"

#include "errors.h"
#include "json-util.h"
#include "log.h"
#include "validate.h"

#include <dirent.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_METADATA (64 * 1024)

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

/* Makes @fd (@what, for messages) owned by the daemon's user, with the
 * keystore group when one is set, and mode @want: reported and fixed where
 * it differs. FALSE when the owner cannot be fixed: the caller refuses it. */
static gboolean
check_owner_mode (int fd, const char *what, gboolean group_set, gid_t gid, mode_t want)
{
  struct stat st;
  if (fstat (fd, &st) < 0)
    return FALSE;
  if (st.st_uid != geteuid ())
    {
      if (fchown (fd, geteuid (), (gid_t) -1) < 0)
        {
          ep_warning ("keystore: %s is owned by uid %u, not by this daemon's uid %u, and "
                      "cannot be taken over: %s",
                      what, (unsigned) st.st_uid, (unsigned) geteuid (), g_strerror (errno));
          return FALSE;
        }
      ep_warning ("keystore: %s was owned by uid %u; now by uid %u", what,
                  (unsigned) st.st_uid, (unsigned) geteuid ());
    }
  if ((st.st_mode & 07777) != want || (group_set && st.st_gid != gid))
    {
      if (ep_keystore_set_owner_mode (fd, group_set, gid, want) < 0)
        {
          ep_warning ("keystore: cannot give %s mode %04o: %s", what, want, g_strerror (errno));
          return FALSE;
        }
      ep_warning ("keystore: %s had mode %04o, now %04o", what, st.st_mode & 07777, want);
    }
  return TRUE;
}

/* Checks a device directory and the files in it (links are left alone:
 * nothing reads through them). */
static gboolean
check_entry (EpKeystore *ks, const char *name)
{
  g_autofree char *what = g_build_filename (ks->path, name, NULL);
  auto_fd fd = openat (ks->dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0 ||
      !check_owner_mode (fd, what, ks->group_set, ks->gid, ep_keystore_dir_mode (ks->group_set)))
    return FALSE;
  DIR *dir = fdopendir (dup (fd));
  if (dir == NULL)
    return FALSE;
  gboolean ok = TRUE;
  struct dirent *de;
  while (ok && (de = readdir (dir)) != NULL)
    {
      if (de->d_name[0] == '.')
        continue;
      auto_fd file = openat (fd, de->d_name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
      struct stat st;
      if (file < 0 || fstat (file, &st) < 0 || !S_ISREG (st.st_mode))
        continue;
      g_autofree char *file_what = g_build_filename (what, de->d_name, NULL);
      ok = check_owner_mode (file, file_what, ks->group_set, ks->gid,
                             ep_keystore_file_mode (ks->group_set));
    }
  closedir (dir);
  return ok;
}

/* Removes temporaries left by a crash and indexes the complete entries,
 * which are never touched. */
static gboolean
scan (EpKeystore *ks, GError **error)
{
  DIR *dir = fdopendir (dup (ks->dirfd));
  if (dir == NULL)
    {
      g_set_error (error, EP_ERROR, EP_ERROR_KEYSTORE_ERROR, "cannot read keystore %s: %s",
                   ks->path, g_strerror (errno));
      return FALSE;
    }
  struct dirent *de;
  while ((de = readdir (dir)) != NULL)
    {
      const char *name = de->d_name;
      if (strcmp (name, ".") == 0 || strcmp (name, "..") == 0)
        continue;
      if (name[0] == '.')
        {
          if (ep_keystore_remove_at (ks->dirfd, name, 0) < 0)
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
      if (!check_entry (ks, name))
        {
          ep_warning ("keystore: ignoring %s/%s: its owner or modes cannot be made safe",
                      ks->path, name);
          json_object_unref (meta);
          continue;
        }
      ep_keystore_index_set (ks, name, meta);
      json_object_unref (meta);
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
                                     (GDestroyNotify) ep_device_info_free);

  if (g_mkdir_with_parents (path, 0700) < 0)
    {
      g_set_error (error, EP_ERROR, EP_ERROR_KEYSTORE_ERROR, "cannot create keystore %s: %s",
                   path, g_strerror (errno));
      return NULL;
    }
  ks->dirfd = open (path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (ks->dirfd < 0)
    {
      g_set_error (error, EP_ERROR, EP_ERROR_KEYSTORE_ERROR, "cannot open keystore %s: %s",
                   path, g_strerror (errno));
      return NULL;
    }
  if (!check_owner_mode (ks->dirfd, path, group_set, gid, ep_keystore_dir_mode (group_set)))
    {
      g_set_error (error, EP_ERROR, EP_ERROR_KEYSTORE_ERROR,
                   "keystore %s has an owner or mode that cannot be fixed (see above); it must "
                   "be owned by uid %u and mode %04o",
                   path, (unsigned) geteuid (), ep_keystore_dir_mode (group_set));
      return NULL;
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
  ep_keystore_close_fd (&ks->dirfd);
  g_hash_table_unref (ks->index);
  g_free (ks->path);
  g_free (ks);
}

const char *
ep_keystore_path (EpKeystore *ks)
{
  return ks->path;
}

void
ep_keystore_index_set (EpKeystore *ks, const char *device_id, JsonObject *metadata)
{
  g_hash_table_replace (ks->index, g_strdup (device_id), ep_device_info_new (metadata));
}

const EpDeviceInfo *
ep_keystore_lookup (EpKeystore *ks, const char *device_id)
{
  return g_hash_table_lookup (ks->index, device_id);
}

static gboolean
matches (const EpDeviceInfo *info, const char *kind, const char *const *names,
         const char *const *values)
{
  if (g_strcmp0 (ep_device_info_get (info, "kind"), kind) != 0)
    return FALSE;
  for (size_t i = 0; names[i]; i++)
    if (g_strcmp0 (ep_device_info_get (info, names[i]), values[i]) != 0)
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
