/* The daemon's configuration file (GKeyFile, README "Configuration"): strict parsing
 * into one immutable struct, with tokens read once at start. */
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

/* Reads @path; a missing file is an error unless @missing_ok (the default
 * path), in which case all defaults apply. Errors name the file, the key and
 * the problem. */
EpConfig *ep_config_load (const char *path, gboolean missing_ok, GError **error);

/* Parses configuration text; @name is used in messages. */
EpConfig *ep_config_load_data (const char *data, gsize len, const char *name,
                               GError **error);

const EpEndpoint *ep_config_endpoint (const EpConfig *config, EpTarget target);

void ep_config_free (EpConfig *config);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (EpConfig, ep_config_free)
