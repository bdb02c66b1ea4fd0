/* What keystore.c (writing), keystore-open.c (opening, start-up checks) and
 * keystore-index.c (the index) share. Not for other modules.
 *
 * The system-call helpers here return 0 (or an fd) or -errno, as systemd's
 * do; only the module's entry points turn that into EP_KEYSTORE_ERROR. */
#pragma once

#include "keystore.h"

#include <fcntl.h>
#include <unistd.h>

#define METADATA_FILE "device.json"
/* The largest device.json read at start: one written must fit. */
#define MAX_METADATA (64 * 1024)

struct EpKeystore {
  char *path;
  int dirfd;
  gboolean group_set;
  gid_t gid;
  GHashTable *index;   /* device_id -> EpDeviceInfo (of device.json) */
  GMutex index_lock;   /* ep_keystore_lock_index () */
  GThreadPool *preparers; /* keystore.c "the pools", made at the first write */
  GThreadPool *writers;   /* or removal */
  guint max_writers;      /* 0: keystore.c's default */
};

void ep_keystore_close_fd (int *fd);

/* The device.json of @device_id's directory @dir (@what: its path, for
 * messages), or NULL with @why. It must be a regular file (opened without
 * following a link or blocking), at most 64 KiB, and name @device_id. */
JsonObject *ep_keystore_read_metadata (int dir, const char *what, const char *device_id,
                                       char **why);

/* An empty index: device id -> EpDeviceInfo, both packable (pack.h). */
GHashTable *ep_keystore_index_new (void);
/* Puts what @metadata (its device.json) holds in the index, replacing the
 * device's earlier entry; and takes a device out. Main thread only. */
void ep_keystore_index_set (EpKeystore *ks, const char *device_id, JsonObject *metadata);
/* The same with @info (taken) made already. */
void ep_keystore_index_put (EpKeystore *ks, const char *device_id, EpDeviceInfo *info);
void ep_keystore_index_remove (EpKeystore *ks, const char *device_id);
#define auto_fd __attribute__ ((cleanup (ep_keystore_close_fd))) int

static inline mode_t
ep_keystore_dir_mode (gboolean group_set)
{
  return group_set ? 0750 : 0700;
}

static inline mode_t
ep_keystore_file_mode (gboolean group_set)
{
  return group_set ? 0640 : 0600;
}

/* Runs @func for @task in the keystore's pool of writer threads
 * (keystore.c "the pools"): what fsyncs goes there. Main thread only. */
void ep_keystore_run_in_writer (EpKeystore *ks, GTask *task, GTaskThreadFunc func);

/* Gives @fd the keystore group (when set) and @mode: 0 or -errno. */
int ep_keystore_set_owner_mode (int fd, gboolean group_set, gid_t gid, mode_t mode);

/* Removes @name below @dirfd: a file, a link (not followed) or a tree; 0 or
 * -errno. It never descends into another mount (a bind mount, say): that
 * removal fails with -EXDEV and leaves the mounted tree as it is. */
int ep_keystore_remove_at (int dirfd, const char *name, int depth);

/* g_strerror (@err, a positive errno), but saying what EXDEV from
 * ep_keystore_remove_at means. */
const char *ep_keystore_strerror (int err);
