/* Diagnose's checks of the files the configuration names (enapter-
 * provisiond(8) DIAGNOSTICS): "config", the configuration file, which only
 * root (or the daemon's user) may change, and "token:cloud",
 * "token:gateway", the token file of each target that has a URL or a token,
 * present and private. They look at the files' metadata and read nothing:
 * a token never leaves its file here. They block on the file system: run
 * them in a worker thread. */
#pragma once

#include "config.h"

typedef struct EpConfigFiles EpConfigFiles;

/* What to check, copied from @config (paths and whether a token was
 * loaded: never the token). */
EpConfigFiles *ep_config_files_new (const EpConfig *config);
void ep_config_files_free (EpConfigFiles *files);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (EpConfigFiles, ep_config_files_free)

/* Appends "config", then "token:cloud" and "token:gateway" where they
 * apply, to @out (EpCheck). */
void ep_config_files_check (const EpConfigFiles *files, GPtrArray *out);
