/* Consumers (README "Consumers"): the programs that use some devices'
 * credentials, each named by a [Consumer NAME] section with the users or
 * groups it runs as and the devices it may open. Parsed and checked at
 * start with the rest of the configuration; asked for every
 * OpenCredentials, ListDevices and GetDevice. */
#pragma once

#include "device-info.h"

#include <glib.h>
#include <sys/types.h>

/* How many sections a configuration may have: a caller's sections are a
 * bit mask. */
#define EP_MAX_CONSUMERS 64

typedef enum {
  EP_SELECT_ALL,         /* "*" */
  EP_SELECT_KIND,        /* "kind:<kind>" */
  EP_SELECT_SITE,        /* "site:<site_id>" */
  EP_SELECT_DEVICE,      /* "<device_id>" */
} EpSelectType;

typedef struct {
  EpSelectType type;
  char *value;           /* NULL for EP_SELECT_ALL */
} EpSelector;

typedef struct {
  char *name;            /* the section's NAME */
  gboolean has_uid;
  uid_t uid;
  gboolean has_gid;
  gid_t gid;
  GArray *devices;       /* EpSelector, at least one */
} EpConsumer;

/* A consumer named @name, with nothing set yet. */
EpConsumer *ep_consumer_new (const char *name);
void ep_consumer_free (EpConsumer *consumer);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (EpConsumer, ep_consumer_free)

/* The keys of a [Consumer NAME] section, NULL-terminated. */
extern const char *const ep_consumer_keys[];

/* Sets the key @key (one of ep_consumer_keys) of its section to @value;
 * FALSE with @problem (what is wrong and what to do) for an unknown key, a
 * user or group that does not exist, or a Devices= entry of none of the
 * four forms or naming an unknown kind. config.c reads the sections. */
gboolean ep_consumer_set (EpConsumer *consumer, const char *key, const char *value,
                          char **problem);

/* What a section lacks: the keys it is about and the problem. */
typedef struct {
  const char *keys[3];     /* NULL-terminated */
  const char *problem;     /* what is wrong and what to do */
} EpConsumerLack;

#define EP_CONSUMER_MAX_LACKS 2

/* Once every key is set: what the section lacks (a user or group, a device)
 * into @lacks; returns how many (0: none). */
guint ep_consumer_check (const EpConsumer *consumer, EpConsumerLack lacks[EP_CONSUMER_MAX_LACKS]);

/* TRUE for a section header of a consumer: "Consumer " and a name. */
gboolean ep_consumer_is_section (const char *group);

/* Whether @consumer may open the device @device_id, whose device.json is
 * @info (NULL: the keystore does not hold it; then only a selector naming
 * the id or "*" matches, so a caller learns nothing of devices it may not
 * see). */
gboolean ep_consumer_selects (const EpConsumer *consumer, const char *device_id,
                              const EpDeviceInfo *info);

/* The sections of @consumers (bit i: consumers->pdata[i]) that a caller with
 * @uid and the groups @gids (@n_gids of them) matches. */
guint64 ep_consumers_match (const GPtrArray *consumers, uid_t uid, const gid_t *gids,
                            gsize n_gids);

/* Whether any section of the mask @mine selects the device. */
gboolean ep_consumers_select (const GPtrArray *consumers, guint64 mine, const char *device_id,
                              const EpDeviceInfo *info);
