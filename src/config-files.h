/* The files config.c reads once at start: the configuration itself and the
 * files it names, token files (small, regular, private, one token) and CA
 * files (they must hold a certificate); and the text of a value. For
 * config.c, and for Diagnose, which judges the files again by the same
 * owner rule. */
#pragma once

#include <glib.h>

typedef enum {
  EP_FILE_ANY,
  EP_FILE_PRIVATE,    /* mode 0600 or stricter, owned by root or our euid */
} EpFileAccess;

struct stat;

/* Whether a file's owner may be trusted with what the daemon reads from it:
 * root or the daemon's own user, since whoever else owns it can change it.
 * Start-up and Diagnose judge token and configuration files by it. */
gboolean ep_config_owner_trusted (const struct stat *st);

/* Reads the regular file @path of at most @max bytes into @data (NUL
 * terminated, @len bytes read) without blocking on a FIFO or reading a
 * device. Returns NULL, or what is wrong, as a phrase to follow the path
 * ("is not a regular file"); then @data is NULL, and errno is open()'s
 * error when the file could not be opened (ENOENT: there is none), 0
 * otherwise. With EP_FILE_PRIVATE the owner and mode are checked on the
 * open file, before it is read. */
char *ep_config_read_file (const char *path, gsize max, EpFileAccess access, char **data,
                           gsize *len);

/* Checks that @path is a PEM bundle holding at least one certificate, as
 * libcurl will load it. Returns NULL, or what is wrong as above. */
char *ep_config_check_ca_file (const char *path);

/* Reads the token file @path: private (EP_FILE_PRIVATE) and holding one
 * token of 1-EP_MAX_TOKEN_BYTES visible ASCII characters, with a line end or
 * not. Returns NULL with the token in @token (NULL for an empty file: no
 * token), or what is wrong and what to do, as a phrase to follow the path;
 * it never quotes the file's contents. */
char *ep_config_read_token (const char *path, char **token);

/* The longest token accepted. */
#define EP_MAX_TOKEN_BYTES 4096

/* The largest configuration file accepted (the documented one is ~3 KiB). */
#define EP_MAX_CONFIG_BYTES (1024 * 1024)

/* The largest CA bundle accepted (the system's whole store is ~200 KiB). */
#define EP_MAX_CA_FILE_BYTES (1024 * 1024)

/* @raw without a trailing remark (" # ...") and surrounding blanks: README's
 * sample file documents keys that way, and GKeyFile would keep the remark
 * as part of the value. */
char *ep_config_clean_value (const char *raw);
