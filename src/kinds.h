/* The device kinds as data: one row per Provision method. Everything that
 * differs between kinds lives here; the generic path in service.c reads it.
 * Adding a kind is adding a row. */
#pragma once

#include <glib.h>

#define EP_MAX_ARGS 8

/* Input rules of README "D-Bus API" and enapter-provisiond(8) "Input rules". */
typedef enum {
  EP_RULE_ID,            /* 1-128 of [A-Za-z0-9_-] */
  EP_RULE_HARDWARE_ID,   /* 1-64 of [A-Za-z0-9_-] */
  EP_RULE_NAME,          /* 1-255 bytes UTF-8, no control chars, not blank */
  EP_RULE_PROTOCOL,      /* MQTT | MQTTS */
  EP_RULE_DEVICE_TYPE,   /* ELECTROLYSER | DRYER | WATER_TANK */
  EP_RULE_SLUG,          /* [a-z0-9][a-z0-9-]{0,63} */
  EP_RULE_SEMVER,        /* semantic version */
  EP_RULE_TIMEZONE,      /* an IANA zone that exists */
  EP_RULE_LATITUDE,      /* finite, [-90, 90] */
  EP_RULE_LONGITUDE,     /* finite, [-180, 180] */
  EP_RULE_DEVICE_ID,     /* a plain name (validate.h): a keystore directory */
} EpRule;

/* The credentials' protocols, NULL-terminated: the input rule
 * (EP_RULE_PROTOCOL), the answer's check and which answer fields belong to
 * which credentials all read this one list. */
typedef enum {
  EP_PROTOCOL_MQTT,      /* a username and a password */
  EP_PROTOCOL_MQTTS,     /* a private key, a certificate and a CA chain */
  EP_N_PROTOCOLS
} EpProtocol;

extern const char *const ep_protocols[EP_N_PROTOCOLS + 1];

/* What an argument means to the generic code, which asks for an argument by
 * its role, never by its name. At most one argument of a kind has a role. */
typedef enum {
  EP_ARG_PLAIN,          /* only sent, stored and shown */
  EP_ARG_HARDWARE_ID,    /* the hardware: one Busy key across kinds, and what an
                          * answer naming a stored device must match */
  EP_ARG_PROTOCOL,       /* the credentials' protocol the answer must carry */
  EP_ARG_SLUG,           /* the slug the answer must carry */
  EP_ARG_NAME,           /* the device's name in device.json */
  EP_ARG_DEVICE_ID,      /* a stored device the call is about (EP_ROUTE_STORED) */
} EpArgRole;

typedef struct {
  const char *name;      /* D-Bus argument name, device.json key */
  char type;             /* D-Bus type: 's' or 'd' */
  EpRule rule;
  const char *json;      /* request body path ("a.b" nests); NULL: same as name;
                          * EP_IN_PATH: not in the body, but in the endpoint's
                          * "{name}" (percent-encoded) */
  gboolean busy_key;     /* part of the key that makes two calls "the same
                          * device": a second one in flight is Busy, and a
                          * device that cannot be reprovisioned is found by it */
  EpArgRole role;
} EpArg;

#define EP_IN_PATH ""

static inline gboolean
ep_arg_in_path (const EpArg *arg)
{
  return arg->json != NULL && arg->json[0] == '\0';
}

typedef enum {
  EP_ROUTE_DEFAULT,      /* [Provisioning] DefaultTarget */
  EP_ROUTE_GATEWAY,      /* the local gateway API only */
  EP_ROUTE_CLOUD,        /* the cloud only */
  /* The target the stored device (its EP_ARG_DEVICE_ID argument) was
   * provisioned through; a device not in the keystore is NotFound. */
  EP_ROUTE_STORED,
} EpRoute;

/* A row is either a kind of device, made by its Provision method, or (kind
 * NULL) a method that fetches new credentials for a device the keystore
 * holds (EP_ROUTE_STORED): its answer replaces the device's config and
 * credentials and keeps its identity. */
typedef struct {
  const char *kind;      /* "ucm", ... as in replies, signals and device.json */
  const char *method;    /* D-Bus method name */
  const char *endpoint;  /* path below the target's base URL */
  EpRoute route;
  EpArg args[EP_MAX_ARGS];   /* terminated by a row with name NULL */
  const char *id_field;  /* response member holding the new device's id; NULL:
                          * the call's EP_ARG_DEVICE_ID argument */
  gboolean has_slug;     /* the response carries "slug" */
  gboolean has_config;   /* the response carries "config" with credentials */
  /* Keyed by a hardware id: the cloud answers a repeated request with the
   * same device, so a request that may have reached it can be retried. */
  gboolean idempotent;
  /* The cloud refuses a second device with the same busy key (Lua): the
   * daemon refuses locally instead of sending a request. */
  gboolean cannot_reprovision;
  /* CredentialsChanged's reason for a method on a stored device. */
  const char *change_reason;
} EpKind;

/* The table, terminated by a row with kind NULL. */
extern const EpKind ep_kinds[];

/* The methods acting on a stored device (kind NULL), terminated by a row
 * with method NULL. */
extern const EpKind ep_device_methods[];

/* The row renewal fetches new credentials with (GenerateCredentials): its
 * arguments are the device id and the protocol. */
extern const EpKind *const ep_renewal_method;

/* Which change of credentials a successful call of @kind makes
 * (CredentialsChanged's reason): "provisioned" or "reprovisioned" as
 * @replaced says for a Provision method, else the row's own. */
const char *ep_kind_change_reason (const EpKind *kind, gboolean replaced);

/* A row of either table by its D-Bus method. */
const EpKind *ep_kind_by_method (const char *method);
const EpKind *ep_kind_by_name (const char *kind);
guint ep_kind_n_args (const EpKind *kind);
/* Index of the argument called @name, or -1. */
int ep_kind_arg_index (const EpKind *kind, const char *name);
/* Index of the argument with @role, or -1. */
int ep_kind_role_index (const EpKind *kind, EpArgRole role);
/* The D-Bus input signature, e.g. "ssss"; owned by the caller. */
char *ep_kind_signature (const EpKind *kind);

/* A call's arguments, in the kind's order. */
typedef struct {
  const EpKind *kind;
  char *str[EP_MAX_ARGS];    /* 's' arguments */
  double num[EP_MAX_ARGS];   /* 'd' arguments */
} EpArgs;

EpArgs *ep_args_new (const EpKind *kind);
void ep_args_free (EpArgs *args);
/* The string argument @name, or NULL when the kind has none. */
const char *ep_args_get (const EpArgs *args, const char *name);
/* The string argument with @role, or NULL when the kind has none. */
const char *ep_args_role (const EpArgs *args, EpArgRole role);

/* What the busy key is made of: the kind's busy_key arguments, named the way
 * device.json keeps them. A call and a stored device both yield it, so the
 * Busy check, the keystore's "cannot reprovision" search and forgetting a
 * device all compare the same arguments. */
typedef struct {
  const EpKind *kind;
  const char *names[EP_MAX_ARGS + 1];   /* NULL-terminated */
  const char *values[EP_MAX_ARGS + 1];  /* values[i] of names[i], NULL when absent */
} EpBusyArgs;

/* The value of @kind's argument at @index in @source, or NULL. */
typedef const char *(*EpArgValueFunc) (const EpKind *kind, guint index, gconstpointer source);

/* Fills @busy with @kind's busy-key arguments, their values read by @value
 * from @source: a call's EpArgs (ep_args_busy_args) or a stored device. */
void ep_busy_args_init (EpBusyArgs *busy, const EpKind *kind, EpArgValueFunc value,
                        gconstpointer source);
/* Fills @busy from a call's arguments. */
void ep_args_busy_args (const EpArgs *args, EpBusyArgs *busy);
/* A key naming the device @busy is about (kind-independent for hardware
 * ids, so two kinds cannot provision one piece of hardware at once). */
char *ep_busy_args_key (const EpBusyArgs *busy);
/* ep_busy_args_key () of a call's arguments. */
char *ep_args_busy_key (const EpArgs *args);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (EpArgs, ep_args_free)
