/* The keystore directory (README "Keystore"): one directory per device holding
 * device.json and its credential files. A device's set is replaced
 * atomically; writes run in a pool of writer threads because fsync can stall
 * on flash.
 * An in-memory index of every device.json answers look-ups without I/O. */
#pragma once

#include "device-info.h"

#include <gio/gio.h>
#include <json-glib/json-glib.h>
#include <sys/types.h>

/* How the keystore fails; errors.c maps every code to KeystoreError. The
 * codes tell what was being done, for callers and tests that care; each
 * message names the keystore path or the device and what to do. */
#define EP_KEYSTORE_ERROR (ep_keystore_error_quark ())
GQuark ep_keystore_error_quark (void);

typedef enum {
  EP_KEYSTORE_ERROR_OPEN,       /* opening or reading the keystore at start failed */
  EP_KEYSTORE_ERROR_UNTRUSTED,  /* the keystore path is not safe (owner, mode, ACL) */
  EP_KEYSTORE_ERROR_WRITE,      /* storing a device's set failed; nothing changed */
  EP_KEYSTORE_ERROR_FORGET,     /* removing a device failed; the device is kept */
  EP_KEYSTORE_ERROR_READ,       /* copying a device's set for a caller failed */
} EpKeystoreErrorCode;

typedef struct EpKeystore EpKeystore;
typedef struct EpKeystoreEntry EpKeystoreEntry;

/* Opens (creating it if needed) the keystore at @path, removes leftover
 * temporaries and loads the index. With @group_set, directories are 0750 and
 * files 0640 owned by group @gid; otherwise 0700 and 0600. Fails with
 * EP_KEYSTORE_ERROR_UNTRUSTED or EP_KEYSTORE_ERROR_OPEN. */
EpKeystore *ep_keystore_open (const char *path, gboolean group_set, gid_t gid, GError **error);
void ep_keystore_free (EpKeystore *ks);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (EpKeystore, ep_keystore_free)

const char *ep_keystore_path (EpKeystore *ks);

/* A complete credential set for one device; @metadata becomes device.json
 * (NULL: set later, ep_keystore_entry_set_metadata). */
EpKeystoreEntry *ep_keystore_entry_new (const char *device_id, JsonObject *metadata);
void ep_keystore_entry_set_metadata (EpKeystoreEntry *entry, JsonObject *metadata);
/* Makes @entry an update of the device's credentials: its device.json is
 * the one stored now with each top-level member of @metadata set over it
 * (the device's identity stays), and its files replace all of the old ones. */
void ep_keystore_entry_set_update (EpKeystoreEntry *entry);
/* Adds a file; its contents are wiped from memory when the entry is freed. */
void ep_keystore_entry_add_file (EpKeystoreEntry *entry, const char *name, const char *contents);
void ep_keystore_entry_free (EpKeystoreEntry *entry);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (EpKeystoreEntry, ep_keystore_entry_free)

/* Stores @entry (taking it) durably, replacing any earlier set of the device
 * in one atomic step. Failures are EP_KEYSTORE_ERROR_WRITE naming the device. */
void ep_keystore_write_async (EpKeystore *ks, EpKeystoreEntry *entry,
                              GAsyncReadyCallback callback, gpointer user_data);
/* Makes the entry to store, off the main loop (reading what is to be
 * stored): returns it, its files at least, or NULL with the error
 * ep_keystore_write_finish () then gives. */
typedef EpKeystoreEntry *(*EpKeystorePrepare) (gpointer data, GError **error);
/* Completes @entry (its device.json, when the work that makes it, checking
 * what is stored, is slow) while a writer already writes its files: FALSE
 * with the error ep_keystore_write_finish () then gives, and nothing is
 * stored. */
typedef gboolean (*EpKeystoreComplete) (gpointer data, EpKeystoreEntry *entry,
                                        GError **error);
/* ep_keystore_write_async () of the entry @prepare makes from
 * @prepare_data, and @complete (may be NULL) completes, in a thread of the
 * keystore's; the caller keeps @prepare_data alive and leaves it alone
 * until @callback. @prepare may read the index between
 * ep_keystore_lock_index () and ep_keystore_unlock_index (). */
void ep_keystore_write_prepared_async (EpKeystore *ks, EpKeystorePrepare prepare,
                                       EpKeystoreComplete complete, gpointer prepare_data,
                                       GAsyncReadyCallback callback, gpointer user_data);
/* On success the index holds the new metadata; @replaced tells whether the
 * keystore held the device before. */
gboolean ep_keystore_write_finish (EpKeystore *ks, GAsyncResult *result, gboolean *replaced,
                                   GError **error);

/* Writes and removals run in a pool of at most @writers threads, and never
 * more than 64 (8 until this is called): more wait for one of them. The
 * service sizes it to MaxConcurrent. Writes are made ready (the prepare
 * step, device.json) in a pool of a thread per processor before. */
void ep_keystore_set_writers (EpKeystore *ks, guint writers);
/* Waits for every write queued or running; ep_keystore_free () does it too. */
void ep_keystore_stop_writers (EpKeystore *ks);

/* Removes the device's directory: atomically gone from its name first, then
 * deleted. Failures are EP_KEYSTORE_ERROR_FORGET naming the device. */
void ep_keystore_forget_async (EpKeystore *ks, const char *device_id,
                               GAsyncReadyCallback callback, gpointer user_data);
/* On success the index no longer holds the device. */
gboolean ep_keystore_forget_finish (EpKeystore *ks, GAsyncResult *result, GError **error);

/* One credential file handed to a caller: a read-only fd of a sealed
 * memfd holding a copy (F_SEAL_WRITE, F_SEAL_GROW, F_SEAL_SHRINK,
 * F_SEAL_SEAL), never a path. */
typedef struct {
  char *name;
  int fd;
} EpKeystoreCopy;

/* Copies the device's device.json and those of the credential files
 * @names (NULL-terminated) it has, in a worker thread, all from one
 * directory: the same set, old or new, even while a write swaps it. */
void ep_keystore_copy_async (EpKeystore *ks, const char *device_id, const char *const *names,
                             GAsyncReadyCallback callback, gpointer user_data);
/* @metadata: the set's device.json; @copies: EpKeystoreCopy, whose fds the
 * caller closes (the array's clear function does). Failures are
 * EP_KEYSTORE_ERROR_READ naming the device (NotFound is the caller's to
 * decide before). */
gboolean ep_keystore_copy_finish (EpKeystore *ks, GAsyncResult *result, JsonObject **metadata,
                                  GArray **copies, GError **error);

/* The main thread changes the index only under this lock, and reads it
 * without; another thread reads it (ep_keystore_lookup, ...) only while
 * holding it. */
void ep_keystore_lock_index (EpKeystore *ks);
void ep_keystore_unlock_index (EpKeystore *ks);

/* What device.json of @device_id holds, or NULL; valid until the device is
 * written or forgotten, or the index packed. */
const EpDeviceInfo *ep_keystore_lookup (EpKeystore *ks, const char *device_id);
/* The id of a device of @kind whose metadata has every @names[i] equal to
 * @values[i] (NULL-terminated), or NULL. */
const char *ep_keystore_find (EpKeystore *ks, const char *kind, const char *const *names,
                              const char *const *values);
/* Every device id, sorted. */
GPtrArray *ep_keystore_list (EpKeystore *ks);
/* Moves the index's entries together (pack.h), so that they pin no more
 * pages than they fill; for when nothing is in flight, as it invalidates
 * what ep_keystore_lookup and ep_keystore_find returned. */
void ep_keystore_pack (EpKeystore *ks);
