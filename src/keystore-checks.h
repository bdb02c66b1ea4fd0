/* Whether a keystore path can be trusted (README "Keystore"): nobody but root
 * and the daemon's user can change the keystore or any directory above it,
 * and no ACL opens it to others. Used at start by keystore-open.c, and by
 * Diagnose (diagnose-keystore.c) to tell whether the next start would
 * refuse the keystore. */
#pragma once

#include <glib.h>

/* Resolves @path from / one component at a time (O_PATH|O_NOFOLLOW, symlinks
 * followed only where they sit in a directory already found safe), creating
 * missing directories 0700, and returns the keystore opened O_RDONLY|
 * O_DIRECTORY, or -1 with @error saying which directory is unsafe
 * (EP_KEYSTORE_ERROR_UNTRUSTED) or could not be opened (_OPEN), and what to
 * do. The keystore itself must belong to the daemon's user and be writable
 * by nobody else. */
int ep_keystore_open_trusted (const char *path, GError **error);

/* ep_keystore_open_trusted () that creates nothing: a missing directory is
 * EP_KEYSTORE_ERROR_OPEN. */
int ep_keystore_check_trusted (const char *path, GError **error);
