/* The daemon's configuration file (GKeyFile, README "Configuration"): strict parsing
 * into one immutable struct, with tokens read once at start; every problem
 * of a file found at once, a line each, for --check-config and the start. */
#pragma once

#include <glib.h>
#include <sys/types.h>

#define EP_CONFIG_ERROR (ep_config_error_quark ())
GQuark ep_config_error_quark (void);

typedef enum {
  EP_TARGET_CLOUD,
  EP_TARGET_GATEWAY,
  EP_TARGET_AUTO,      /* only as DefaultTarget before resolution */
} EpTarget;

/* One HTTP destination: the cloud or the local gateway API. */
typedef struct {
  const char *name;    /* "cloud" or "gateway", for messages */
  char *url;           /* base URL without trailing '/', NULL when unset */
  char *token;         /* secret; NULL when none configured */
  char *token_source;  /* where the token came from, for messages */
  char *ca_file;       /* NULL: the system trust store */
} EpEndpoint;

typedef struct {
  char *path;          /* the file read, or NULL when defaults were used */
  EpEndpoint cloud;
  EpEndpoint gateway;
  EpTarget default_target;   /* resolved: never EP_TARGET_AUTO */
  guint max_concurrent;
  guint max_queued;          /* calls waiting beyond max_concurrent */
  double timeout;            /* seconds per HTTP attempt */
  double deadline;           /* seconds per call, retries included */
  guint retries;
  double keep_connections;   /* seconds connections stay open after the last call */
  guint idle_timeout;        /* seconds without calls before exit; 0 never */
  gboolean renewal_auto;     /* renew MQTTS certificates before they expire */
  guint renewal_at;          /* percent of a certificate's lifetime before renewal */
  guint renewal_retry_interval;  /* seconds between failed renewals (jittered) */
  char *keystore_path;
  gboolean keystore_group_set;
  gid_t keystore_gid;
  GPtrArray *consumers;      /* EpConsumer * ([Consumer NAME] sections), in file order */
  char *access_group;        /* NULL: only root may call */
  gboolean access_gid_known;
  gid_t access_gid;
} EpConfig;

/* Reads and checks @path; a missing file is a problem unless @missing_ok
 * (the default path), in which case all defaults apply. Returns the
 * configuration, or NULL with @problems set to every problem found (a
 * NULL-terminated array, g_strfreev it), one line each, ordered by line:
 * "FILE:LINE: [Section] Key: what is wrong; what to do" ("FILE:LINE:
 * [Section]: ..." for a section, "FILE: ..." for what has no line). Token
 * files are read and groups looked up; nothing is written. */
EpConfig *ep_config_check (const char *path, gboolean missing_ok, char ***problems);

/* As ep_config_check, on configuration text; @name stands for the file. */
EpConfig *ep_config_check_data (const char *data, gsize len, const char *name,
                                char ***problems);

/* As ep_config_check, with the problems as one EP_CONFIG_ERROR, a line
 * each. */
EpConfig *ep_config_load (const char *path, gboolean missing_ok, GError **error);

/* As ep_config_check_data, with the problems as one EP_CONFIG_ERROR. */
EpConfig *ep_config_load_data (const char *data, gsize len, const char *name,
                               GError **error);

const EpEndpoint *ep_config_endpoint (const EpConfig *config, EpTarget target);

void ep_config_free (EpConfig *config);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (EpConfig, ep_config_free)
