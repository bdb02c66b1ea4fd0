/* The keystore path's trust checks: a safe walk from / to the keystore and
 * its ACL. See keystore-checks.h. */
#define _GNU_SOURCE
#include "keystore-checks.h"

#include "keystore.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#define MAX_LINKS 40

/* ACL tags of the xattr format (linux/posix_acl_xattr.h); owner, owning
 * group and other are the three that mode bits already show. */
#define ACL_XATTR_VERSION 2
#define ACL_USER_OBJ 0x01
#define ACL_GROUP_OBJ 0x04
#define ACL_OTHER 0x20

/* One directory of the walk: verified, open O_PATH. */
typedef struct {
  int fd;
  char *name;
  gboolean shared;   /* writable by others but sticky: only its entries of root or ours count */
} Step;

typedef struct {
  const char *path;  /* as configured, for messages */
  GArray *steps;     /* Step, from / down */
  gboolean create;   /* missing directories are created (at start) */
} Walk;

static void
step_clear (Step *s)
{
  if (s->fd >= 0)
    close (s->fd);
  g_free (s->name);
}

static gboolean
trusted_uid (uid_t uid)
{
  return uid == 0 || uid == geteuid ();
}

/* The real path of the walk so far, for messages. */
static char *
walk_where (Walk *w)
{
  GString *s = g_string_new ("");
  for (guint i = 1; i < w->steps->len; i++)
    g_string_append_printf (s, "/%s", g_array_index (w->steps, Step, i).name);
  if (s->len == 0)
    g_string_append_c (s, '/');
  return g_string_free (s, FALSE);
}

static Step *
walk_top (Walk *w)
{
  return &g_array_index (w->steps, Step, w->steps->len - 1);
}

/* @code: EP_KEYSTORE_ERROR_UNTRUSTED when the path is unsafe, _OPEN when a
 * system call failed on the way. */
static gboolean
refuse (GError **error, EpKeystoreErrorCode code, const char *fmt, ...) G_GNUC_PRINTF (3, 4);

static gboolean
refuse (GError **error, EpKeystoreErrorCode code, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  g_propagate_error (error, g_error_new_valist (EP_KEYSTORE_ERROR, code, fmt, ap));
  va_end (ap);
  return FALSE;
}

/* Pushes directory @fd (named @name), checking unless it is the keystore
 * itself (@last; open_keystore_dir checks it) that only root or the daemon's
 * user can change it. Takes @fd. */
static gboolean
walk_push (Walk *w, int fd, const char *name, gboolean last, GError **error)
{
  Step s = { fd, g_strdup (name), FALSE };
  g_array_append_val (w->steps, s);
  g_autofree char *where = walk_where (w);
  struct stat st;
  if (fstat (fd, &st) < 0)
    return refuse (error, EP_KEYSTORE_ERROR_OPEN, "cannot check keystore %s: %s: %s", w->path,
                   where, g_strerror (errno));
  if (last)
    return TRUE;
  if (!trusted_uid (st.st_uid))
    return refuse (error, EP_KEYSTORE_ERROR_UNTRUSTED,
                   "keystore %s is not safe: directory %s is owned by uid %u, who could replace "
                   "what lies below it; give it to root (chown root %s) or set [Keystore] Path= "
                   "to a directory below directories only root can change",
                   w->path, where, (unsigned) st.st_uid, where);
  if ((st.st_mode & (S_IWGRP | S_IWOTH)) == 0)
    return TRUE;
  if (!(st.st_mode & S_ISVTX))
    return refuse (error, EP_KEYSTORE_ERROR_UNTRUSTED,
                   "keystore %s is not safe: directory %s is writable by users other than root "
                   "and this daemon's uid %u (mode %04o), who could replace what lies below it; "
                   "remove that permission (chmod go-w %s) or set [Keystore] Path= elsewhere",
                   w->path, where, (unsigned) geteuid (), (unsigned) (st.st_mode & 07777),
                   where);
  walk_top (w)->shared = TRUE;
  return TRUE;
}

/* Puts the components of @path at the front of @todo. */
static void
push_components (GQueue *todo, const char *path)
{
  g_auto (GStrv) parts = g_strsplit (path, "/", -1);
  for (gint i = (gint) g_strv_length (parts) - 1; i >= 0; i--)
    if (*parts[i] != '\0' && strcmp (parts[i], ".") != 0)
      g_queue_push_head (todo, g_strdup (parts[i]));
}

static void
walk_pop_to (Walk *w, guint len)
{
  if (w->steps->len > len)
    g_array_set_size (w->steps, len);
}

/* Takes one component: "..", a symlink (its target's components are put in
 * front), or a directory, created when missing and then checked. */
static gboolean
walk_component (Walk *w, GQueue *todo, const char *name, int *links, GError **error)
{
  if (strcmp (name, "..") == 0)
    {
      walk_pop_to (w, MAX (w->steps->len - 1, 1));
      return TRUE;
    }
  Step *top = walk_top (w);
  g_autofree char *where = walk_where (w);
  g_autofree char *child = g_build_filename (where, name, NULL);
  struct stat st;
  if (fstatat (top->fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
    {
      if (errno == ENOENT && !w->create)
        return refuse (error, EP_KEYSTORE_ERROR_OPEN,
                       "keystore %s: %s does not exist; the daemon creates it when it starts, "
                       "or set [Keystore] Path= to the keystore's directory",
                       w->path, child);
      /* Created by the daemon in a directory already found safe. */
      if (errno != ENOENT || (mkdirat (top->fd, name, 0700) < 0 && errno != EEXIST) ||
          fstatat (top->fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return refuse (error, EP_KEYSTORE_ERROR_OPEN, "cannot create keystore %s: %s: %s",
                       w->path, child, g_strerror (errno));
    }
  if (top->shared && !trusted_uid (st.st_uid))
    return refuse (error, EP_KEYSTORE_ERROR_UNTRUSTED,
                   "keystore %s is not safe: %s in %s, which others can write to, belongs to "
                   "uid %u, not to root or this daemon's uid %u; remove it or set [Keystore] "
                   "Path= elsewhere",
                   w->path, name, where, (unsigned) st.st_uid, (unsigned) geteuid ());
  if (S_ISLNK (st.st_mode))
    {
      /* Placed by root or the daemon's user: the directory holding it is safe. */
      char target[PATH_MAX];
      ssize_t n = readlinkat (top->fd, name, target, sizeof target - 1);
      if (n < 0 || ++*links > MAX_LINKS)
        return refuse (error, EP_KEYSTORE_ERROR_OPEN, "cannot resolve keystore %s: %s: %s",
                       w->path, child, g_strerror (n < 0 ? errno : ELOOP));
      target[n] = '\0';
      if (target[0] == '/')
        walk_pop_to (w, 1);
      push_components (todo, target);
      return TRUE;
    }
  int fd = openat (top->fd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    return refuse (error, EP_KEYSTORE_ERROR_OPEN, "cannot open keystore %s: %s: %s", w->path,
                   child, g_strerror (errno));
  return walk_push (w, fd, name, g_queue_is_empty (todo), error);
}

/* The first ACL entry in @buf beyond the base ones, as text, or NULL. */
static char *
extra_acl_entry (const unsigned char *buf, ssize_t len)
{
  if (len < 4)
    return NULL;
  uint32_t version;
  memcpy (&version, buf, 4);
  if (version != ACL_XATTR_VERSION)
    return g_strdup_printf ("of unknown version %u", version);
  for (ssize_t off = 4; off + 8 <= len; off += 8)
    {
      uint16_t tag;
      uint32_t id;
      memcpy (&tag, buf + off, 2);
      memcpy (&id, buf + off + 4, 4);
      if (tag != ACL_USER_OBJ && tag != ACL_GROUP_OBJ && tag != ACL_OTHER)
        return g_strdup_printf ("tag 0x%02x, id %u", tag, id);
    }
  return NULL;
}

/* FALSE with @error when an access or default ACL on @fd (the keystore at
 * @path) has entries beyond owner, group and other. */
static gboolean
check_acl (int fd, const char *path, GError **error)
{
  static const char *const names[] = { "system.posix_acl_access", "system.posix_acl_default" };
  for (size_t i = 0; i < G_N_ELEMENTS (names); i++)
    {
      unsigned char buf[4 + 8 * 64];
      ssize_t n = fgetxattr (fd, names[i], buf, sizeof buf);
      if (n < 0 && (errno == ENODATA || errno == ENOTSUP))
        continue;
      /* ERANGE: more entries than any base ACL has. */
      g_autofree char *extra = n < 0 ? (errno == ERANGE ? g_strdup ("with many entries") : NULL)
                                     : extra_acl_entry (buf, n);
      if (n < 0 && extra == NULL)
        return refuse (error, EP_KEYSTORE_ERROR_OPEN, "cannot read the ACL of keystore %s: %s",
                       path, g_strerror (errno));
      if (extra != NULL)
        return refuse (error, EP_KEYSTORE_ERROR_UNTRUSTED,
                       "keystore %s carries an ACL (%s, entry %s) that grants access to other "
                       "users or groups; remove it (setfacl -b -k %s) or set [Keystore] Path= "
                       "elsewhere",
                       path, names[i], extra, path);
    }
  return TRUE;
}

/* The walk's last directory is the keystore: it must be the daemon's own and
 * writable by nobody else, sticky or not. */
static int
open_keystore_dir (Walk *w, GError **error)
{
  g_autofree char *where = walk_where (w);
  int fd = openat (walk_top (w)->fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  struct stat st;
  if (fd < 0 || fstat (fd, &st) < 0)
    {
      refuse (error, EP_KEYSTORE_ERROR_OPEN, "cannot open keystore %s (%s): %s", w->path, where,
              g_strerror (errno));
      if (fd >= 0)
        close (fd);
      return -1;
    }
  if (st.st_uid != geteuid ())
    refuse (error, EP_KEYSTORE_ERROR_UNTRUSTED,
            "keystore %s (%s) is owned by uid %u, not by this daemon's uid %u, and is not taken "
            "over; if it is this daemon's keystore, chown -R %u it, otherwise set [Keystore] "
            "Path= to another directory",
            w->path, where, (unsigned) st.st_uid, (unsigned) geteuid (),
            (unsigned) geteuid ());
  else if (st.st_mode & (S_IWGRP | S_IWOTH))
    refuse (error, EP_KEYSTORE_ERROR_UNTRUSTED,
            "keystore %s (%s) is writable by others (mode %04o), who may have planted entries; "
            "check what it holds, then chmod go-w it",
            w->path, where, (unsigned) (st.st_mode & 07777));
  else if (check_acl (fd, w->path, error))
    return fd;
  close (fd);
  return -1;
}

static int
open_trusted (const char *path, gboolean create, GError **error)
{
  Walk w = { path, g_array_new (FALSE, TRUE, sizeof (Step)), create };
  g_array_set_clear_func (w.steps, (GDestroyNotify) step_clear);
  GQueue *todo = g_queue_new ();   /* components still to walk */
  int links = 0;
  int fd = -1;

  if (!g_path_is_absolute (path))
    refuse (error, EP_KEYSTORE_ERROR_OPEN, "keystore %s: [Keystore] Path= must be an absolute path",
            path);
  else if (walk_push (&w, open ("/", O_PATH | O_DIRECTORY | O_CLOEXEC), "", FALSE, error))
    {
      gboolean ok = TRUE;
      push_components (todo, path);
      while (ok && !g_queue_is_empty (todo))
        {
          g_autofree char *name = g_queue_pop_head (todo);
          ok = walk_component (&w, todo, name, &links, error);
        }
      if (ok)
        fd = open_keystore_dir (&w, error);
    }
  g_queue_free_full (todo, g_free);
  g_array_unref (w.steps);
  return fd;
}

int
ep_keystore_open_trusted (const char *path, GError **error)
{
  return open_trusted (path, TRUE, error);
}

int
ep_keystore_check_trusted (const char *path, GError **error)
{
  return open_trusted (path, FALSE, error);
}
