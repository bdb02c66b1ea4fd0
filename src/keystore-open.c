#include "keystore-private.h"

#include "credentials.h"
#include "fields.h"
#include "keystore-checks.h"
#include "json-util.h"
#include "log.h"
#include "validate.h"

#include <dirent.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>


JsonObject *
ep_keystore_read_metadata (int dir, const char *what, const char *device_id, char **why)
{
  /* Not a link, and never a FIFO or device that could block or act on open. */
  auto_fd fd = openat (dir, METADATA_FILE, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY |
                                           O_CLOEXEC);
  struct stat st;
  if (fd < 0 || fstat (fd, &st) < 0)
    {
      *why = g_strdup_printf ("%s/" METADATA_FILE ": %s", what,
                              errno == ELOOP ? "a symbolic link" : g_strerror (errno));
      return NULL;
    }
  if (!S_ISREG (st.st_mode))
    {
      *why = g_strdup_printf ("%s/" METADATA_FILE " is not a regular file", what);
      return NULL;
    }
  g_autofree char *buf = g_malloc (MAX_METADATA);
  ssize_t n = read (fd, buf, MAX_METADATA);
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonNode *root = NULL;
  if (n > 0 && n < MAX_METADATA && json_parser_load_from_data (parser, buf, n, NULL))
    root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root) ||
      g_strcmp0 (ep_json_string (json_node_get_object (root),
                                 ep_fields[EP_FIELD_DEVICE_ID].stored),
                 device_id) != 0)
    {
      *why = g_strdup_printf ("%s/" METADATA_FILE " is not the metadata of device %s", what,
                              device_id);
      return NULL;
    }
  return json_object_ref (json_node_get_object (root));
}

/* Why the daemon must not change @what (@st), or NULL: it never takes over
 * what another user owns, nor changes a file that is also elsewhere. */
static char *
not_ours (const struct stat *st, const char *what)
{
  if (st->st_uid != geteuid ())
    return g_strdup_printf ("%s is owned by uid %u, not by this daemon's uid %u (chown it, or "
                            "remove the directory)",
                            what, (unsigned) st->st_uid, (unsigned) geteuid ());
  if (!S_ISDIR (st->st_mode) && st->st_nlink > 1)
    return g_strdup_printf ("%s has %lu hard links, so changing it would change a file "
                            "elsewhere (replace it by a copy, or remove the directory)",
                            what, (unsigned long) st->st_nlink);
  return NULL;
}

/* Gives @fd (@what, ours) the keystore group and mode @want, reporting it. */
static char *
fix_mode (EpKeystore *ks, int fd, const struct stat *st, const char *what, mode_t want)
{
  if ((st->st_mode & 07777) == want && (!ks->group_set || st->st_gid == ks->gid))
    return NULL;
  int r = ep_keystore_set_owner_mode (fd, ks->group_set, ks->gid, want);
  if (r < 0)
    return g_strdup_printf ("cannot give %s mode %04o: %s", what, want, g_strerror (-r));
  if ((st->st_mode & 07777) != want)
    ep_warning ("keystore: %s had mode %04o, now %04o", what, st->st_mode & 07777, want);
  else
    ep_warning ("keystore: %s had group %u, now [Keystore] Group's %u", what,
                (unsigned) st->st_gid, (unsigned) ks->gid);
  return NULL;
}

/* One pass over the files of the device directory @dir (@what): why one is
 * not a regular, single-linked file of the daemon's own, or NULL; with @fix,
 * each is also given its mode. */
static char *
check_files (EpKeystore *ks, int dir, const char *what, gboolean fix)
{
  auto_fd fd = dup (dir);
  DIR *d = fd < 0 ? NULL : fdopendir (fd);
  if (d == NULL)
    return g_strdup_printf ("cannot read %s: %s", what, g_strerror (errno));
  fd = -1;   /* now @d's */
  /* The dup shares @dir's offset, which an earlier pass left at the end. */
  rewinddir (d);
  char *why = NULL;
  struct dirent *de;
  while (why == NULL && (de = readdir (d)) != NULL)
    {
      if (strcmp (de->d_name, ".") == 0 || strcmp (de->d_name, "..") == 0)
        continue;
      g_autofree char *file_what = g_build_filename (what, de->d_name, NULL);
      auto_fd file = openat (dir, de->d_name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY |
                                              O_CLOEXEC);
      struct stat st;
      if (file < 0 || fstat (file, &st) < 0)
        why = g_strdup_printf ("%s: %s", file_what,
                               errno == ELOOP ? "a symbolic link" : g_strerror (errno));
      else if (!S_ISREG (st.st_mode))
        why = g_strdup_printf ("%s is not a regular file", file_what);
      else if ((why = not_ours (&st, file_what)) == NULL && fix)
        why = fix_mode (ks, file, &st, file_what, ep_keystore_file_mode (ks->group_set));
    }
  closedir (d);
  return why;
}

/* Checks the device directory @dir (@what) and every file in it, which must
 * all be the daemon's own, the files regular and single-linked. Modes are
 * fixed only once every check has passed, so that an ignored directory is
 * left exactly as it was. Returns why the entry must be ignored, or NULL. */
static char *
check_entry (EpKeystore *ks, int dir, const char *what)
{
  struct stat st;
  if (fstat (dir, &st) < 0)
    return g_strdup_printf ("%s: %s", what, g_strerror (errno));
  char *why = not_ours (&st, what);
  if (why == NULL)
    why = check_files (ks, dir, what, FALSE);
  if (why == NULL)
    why = fix_mode (ks, dir, &st, what, ep_keystore_dir_mode (ks->group_set));
  if (why == NULL)
    why = check_files (ks, dir, what, TRUE);
  return why;
}

/* A temporary that keystore.c makes: .new-XXXXXXXX-<id> or .old-XXXXXXXX-<id>,
 * eight lower-case hex digits and a plain device id. */
static gboolean
is_temporary (const char *name)
{
  if (strncmp (name, ".new-", 5) != 0 && strncmp (name, ".old-", 5) != 0)
    return FALSE;
  for (int i = 5; i < 13; i++)
    if (!g_ascii_isdigit (name[i]) && !(name[i] >= 'a' && name[i] <= 'f'))
      return FALSE;
  return name[13] == '-' && ep_is_plain_name (name + 14);
}

/* The object of @meta that holds the field @id (its leaf in @leaf), or NULL
 * when something on the way is not an object. */
static JsonObject *
stored_parent (JsonObject *meta, EpFieldId id, const char **leaf)
{
  const char *path = ep_fields[id].stored;
  const char *dot = strchr (path, '.');
  *leaf = dot ? dot + 1 : path;
  if (dot == NULL)
    return meta;
  g_autofree char *name = g_strndup (path, dot - path);
  JsonNode *node = json_object_get_member (meta, name);
  return node && JSON_NODE_HOLDS_OBJECT (node) ? json_node_get_object (node) : NULL;
}

/* A set stored before device.json recorded its certificate's dates: they
 * are read off certificate.pem into the index (not the file), so renewal
 * judges it from the start. A certificate that cannot be read is reported;
 * the device is served all the same. */
static void
index_certificate_dates (int dir, const char *what, JsonObject *meta)
{
  const char *leaf;
  JsonObject *config = stored_parent (meta, EP_FIELD_PROTOCOL, &leaf);
  if (g_strcmp0 (ep_json_string (config, leaf), ep_protocols[EP_PROTOCOL_MQTTS]) != 0)
    return;
  JsonObject *dates = stored_parent (meta, EP_FIELD_CERTIFICATE_NOT_AFTER, &leaf);
  if (dates == NULL || json_object_has_member (dates, leaf))
    return;
  const char *file = ep_fields[EP_FIELD_CERTIFICATE].file;
  auto_fd fd = openat (dir, file, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
  g_autofree char *pem = g_malloc0 (EP_CREDENTIALS_MAX_PEM_BYTES + 1);
  ssize_t n = fd < 0 ? -1 : read (fd, pem, EP_CREDENTIALS_MAX_PEM_BYTES);
  EpCertificateInfo info;
  g_autoptr (GError) error = NULL;
  if (n <= 0 || !ep_certificate_read_info (pem, &info, &error))
    {
      ep_warning ("keystore: %s/%s: %s; its renewal cannot be scheduled until it gets a new set",
                  what, file, error ? error->message : "cannot be read");
      return;
    }
  json_object_set_int_member (dates, leaf, info.not_after);
  /* One statement each: as arguments of one call, stored_parent () setting
   * leaf and leaf's reading are unsequenced. */
  JsonObject *parent = stored_parent (meta, EP_FIELD_CERTIFICATE_NOT_BEFORE, &leaf);
  json_object_set_int_member (parent, leaf, info.not_before);
  parent = stored_parent (meta, EP_FIELD_CERTIFICATE_SHA256, &leaf);
  json_object_set_string_member (parent, leaf, info.sha256);
}

/* Indexes the device directory @name when it is one: else reports it, once,
 * and leaves it as it is. */
static void
load_entry (EpKeystore *ks, const char *name)
{
  g_autofree char *what = g_build_filename (ks->path, name, NULL);
  if (!ep_is_plain_name (name))
    {
      ep_warning ("keystore: leaving %s alone: its name is neither a device id nor a temporary "
                  "of this daemon's; move it out of the keystore", what);
      return;
    }
  auto_fd dir = openat (ks->dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (dir < 0)
    {
      ep_warning ("keystore: leaving %s alone: it is not a device directory (%s); move it out "
                  "of the keystore", what, errno == ELOOP ? "a symbolic link" : g_strerror (errno));
      return;
    }
  /* The metadata first: only a device directory is then checked and fixed. */
  g_autofree char *why = NULL;
  g_autoptr (JsonObject) meta = ep_keystore_read_metadata (dir, what, name, &why);
  if (meta != NULL)
    why = check_entry (ks, dir, what);
  if (why != NULL)
    {
      ep_warning ("keystore: ignoring device directory %s, left as it is: %s", what, why);
      return;
    }
  index_certificate_dates (dir, what, meta);
  ep_keystore_index_set (ks, name, meta);
}

/* Removes the daemon's own temporaries left by a crash and indexes the
 * device directories; everything else is reported and left alone. */
static gboolean
scan (EpKeystore *ks, GError **error)
{
  auto_fd fd = dup (ks->dirfd);
  DIR *dir = fd < 0 ? NULL : fdopendir (fd);
  if (dir == NULL)
    {
      g_set_error (error, EP_KEYSTORE_ERROR, EP_KEYSTORE_ERROR_OPEN,
                   "cannot read keystore %s: %s; check the directory and its file system",
                   ks->path, g_strerror (errno));
      return FALSE;
    }
  fd = -1;   /* now @dir's */
  struct dirent *de;
  while ((de = readdir (dir)) != NULL)
    {
      const char *name = de->d_name;
      if (strcmp (name, ".") == 0 || strcmp (name, "..") == 0)
        continue;
      if (!is_temporary (name))
        {
          load_entry (ks, name);
          continue;
        }
      int r = ep_keystore_remove_at (ks->dirfd, name, 0);
      if (r < 0)
        ep_warning ("keystore: cannot remove leftover %s/%s: %s", ks->path, name,
                    ep_keystore_strerror (-r));
      else
        ep_info ("keystore: removed leftover %s/%s", ks->path, name);
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
  ks->index = ep_keystore_index_new ();
  g_mutex_init (&ks->index_lock);
  /* Every later step is relative to this fd: renaming a directory above
   * the keystore after start cannot redirect it. */
  ks->dirfd = ep_keystore_open_trusted (path, error);
  if (ks->dirfd < 0)
    return NULL;
  struct stat st;
  g_autofree char *why = NULL;
  if (fstat (ks->dirfd, &st) < 0 ||
      (why = fix_mode (ks, ks->dirfd, &st, path, ep_keystore_dir_mode (group_set))) != NULL)
    {
      g_set_error (error, EP_KEYSTORE_ERROR, EP_KEYSTORE_ERROR_OPEN,
                   "keystore %s: %s; it must be mode %04o", path,
                   why ? why : g_strerror (errno), ep_keystore_dir_mode (group_set));
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
  /* Writes still queued or running finish first: they use the fd. */
  ep_keystore_stop_writers (ks);
  ep_keystore_close_fd (&ks->dirfd);
  g_hash_table_unref (ks->index);
  g_mutex_clear (&ks->index_lock);
  g_free (ks->path);
  g_free (ks);
}

const char *
ep_keystore_path (EpKeystore *ks)
{
  return ks->path;
}
