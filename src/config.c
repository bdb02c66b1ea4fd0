#include "config.h"
#include "config-files.h"
#include "consumers.h"

#include <grp.h>
#include <math.h>
#include <stddef.h>
#include <string.h>

G_DEFINE_QUARK (ep-config-error-quark, ep_config_error)

#define MAX_TOKEN_BYTES 4096
#define DEFAULT_CLOUD_URL "https://api.enapter.com"
#define DEFAULT_KEYSTORE "/var/lib/enapter-provisiond/keystore"
#define DEFAULT_ACCESS_GROUP "enapter-provisioning"
#define MAX_GROUP_NAME 256
/* libdbus, GDBus and sd-bus clients give up on a method call after 25 s by
 * default; a call must be answered before that. */
#define CLIENT_TIMEOUT 25

typedef struct KeySpec KeySpec;

/* A parser stores the value at @dest or returns FALSE with @problem set to
 * what is wrong with it (never echoing secrets). */
typedef gboolean (*ValueParser) (const KeySpec *spec, const char *value, void *dest,
                                 char **problem);

struct KeySpec {
  const char *group;
  const char *key;
  ValueParser parse;
  size_t offset;
  guint min, max;            /* whole numbers */
};

static gboolean
parse_url (const KeySpec *spec, const char *value, void *dest, char **problem)
{
  /* Messages quote the URL without user info: it may hold a password. */
  g_autoptr (GUri) uri = g_uri_parse (value, G_URI_FLAGS_NONE, NULL);
  if (uri == NULL || g_uri_get_host (uri) == NULL || *g_uri_get_host (uri) == '\0')
    {
      *problem = strchr (value, '@')
                     ? g_strdup ("is not an absolute URL such as https://api.enapter.com")
                     : g_strdup_printf ("'%s' is not an absolute URL such as "
                                        "https://api.enapter.com", value);
      return FALSE;
    }
  g_autofree char *shown = g_uri_to_string_partial (uri, G_URI_HIDE_USERINFO);
  const char *scheme = g_uri_get_scheme (uri);
  if (g_ascii_strcasecmp (scheme, "http") != 0 && g_ascii_strcasecmp (scheme, "https") != 0)
    {
      *problem = g_strdup_printf ("'%s' must start with http:// or https://", shown);
      return FALSE;
    }
  if (g_uri_get_userinfo (uri) || g_uri_get_query (uri) || g_uri_get_fragment (uri))
    {
      *problem = g_strdup_printf ("'%s' must not carry user info, a query or a fragment", shown);
      return FALSE;
    }
  char *url = g_strdup (value);
  for (size_t n = strlen (url); n > 0 && url[n - 1] == '/'; n--)
    url[n - 1] = '\0';
  *(char **) dest = url;
  return TRUE;
}

static gboolean
parse_path (const KeySpec *spec, const char *value, void *dest, char **problem)
{
  if (!g_path_is_absolute (value))
    {
      *problem = g_strdup_printf ("'%s' is not an absolute path", value);
      return FALSE;
    }
  *(char **) dest = g_strdup (value);
  return TRUE;
}

static gboolean
parse_target (const KeySpec *spec, const char *value, void *dest, char **problem)
{
  static const char *const names[] = { [EP_TARGET_CLOUD] = "cloud",
                                       [EP_TARGET_GATEWAY] = "gateway",
                                       [EP_TARGET_AUTO] = "auto" };
  for (size_t i = 0; i < G_N_ELEMENTS (names); i++)
    if (strcmp (value, names[i]) == 0)
      {
        *(EpTarget *) dest = (EpTarget) i;
        return TRUE;
      }
  *problem = g_strdup_printf ("'%s' must be gateway, cloud or auto", value);
  return FALSE;
}

static gboolean
parse_uint (const KeySpec *spec, const char *value, void *dest, char **problem)
{
  guint64 n;
  if (!g_ascii_string_to_unsigned (value, 10, spec->min, spec->max, &n, NULL))
    {
      *problem = g_strdup_printf ("'%s' must be a whole number from %u to %u", value, spec->min,
                                  spec->max);
      return FALSE;
    }
  *(guint *) dest = (guint) n;
  return TRUE;
}

static gboolean
parse_seconds (const KeySpec *spec, const char *value, void *dest, char **problem)
{
  char *end = NULL;
  double s = g_ascii_strtod (value, &end);
  if (end == value || *end != '\0' || !isfinite (s) || s < 0.01 || s > 3600)
    {
      *problem = g_strdup_printf ("'%s' must be a number of seconds from 0.01 to 3600", value);
      return FALSE;
    }
  *(double *) dest = s;
  return TRUE;
}

static gboolean
group_char_ok (const char *name, size_t i, size_t len)
{
  char c = name[i];
  return g_ascii_isalnum (c) || c == '_' || c == '.' || c == '@' || (c == '-' && i > 0) ||
         (c == '$' && i == len - 1);
}

/* Checked before the name reaches NSS, which aborts on a huge one. */
static gboolean
parse_group (const KeySpec *spec, const char *value, void *dest, char **problem)
{
  size_t len = strlen (value);
  if (len > MAX_GROUP_NAME)
    {
      *problem = g_strdup_printf ("the value is %zu bytes long, but a group name has at most %d; "
                                  "give an existing group's name", len, MAX_GROUP_NAME);
      return FALSE;
    }
  for (size_t i = 0; i < len; i++)
    if (!group_char_ok (value, i, len))
      {
        g_autofree char *shown = g_strescape (value, NULL);
        *problem = g_strdup_printf ("'%s' is not a group name: letters, digits, '.', '_', '@' "
                                    "and '-' (not first), and a final '$' are allowed", shown);
        return FALSE;
      }
  *(char **) dest = g_strdup (value);
  return TRUE;
}

static gboolean
parse_bool (const KeySpec *spec, const char *value, void *dest, char **problem)
{
  static const char *const yes[] = { "yes", "true", "on", "1", NULL };
  static const char *const no[] = { "no", "false", "off", "0", NULL };
  if (!g_strv_contains (yes, value) && !g_strv_contains (no, value))
    {
      *problem = g_strdup_printf ("'%s' must be yes or no", value);
      return FALSE;
    }
  *(gboolean *) dest = g_strv_contains (yes, value);
  return TRUE;
}

/* Token files are parsed after the table, so their paths land here first. */
typedef struct {
  EpConfig config;
  char *cloud_token_file;
  char *gateway_token_file;
  char *keystore_group;
} Parsed;

#define KEY(group_, key_, parse_, field)                                                   \
  { .group = group_, .key = key_, .parse = parse_, .offset = offsetof (Parsed, field) }
#define NUMBER(group_, key_, field, min_, max_)                                             \
  { .group = group_, .key = key_, .parse = parse_uint, .offset = offsetof (Parsed, field),    \
    .min = min_, .max = max_ }

static const KeySpec keys[] = {
  KEY ("Cloud", "URL", parse_url, config.cloud.url),
  KEY ("Cloud", "TokenFile", parse_path, cloud_token_file),
  KEY ("Cloud", "CAFile", parse_path, config.cloud.ca_file),
  KEY ("Gateway", "URL", parse_url, config.gateway.url),
  KEY ("Gateway", "TokenFile", parse_path, gateway_token_file),
  KEY ("Gateway", "CAFile", parse_path, config.gateway.ca_file),
  KEY ("Provisioning", "DefaultTarget", parse_target, config.default_target),
  NUMBER ("Provisioning", "MaxConcurrent", config.max_concurrent, 1, 1024),
  NUMBER ("Provisioning", "MaxQueued", config.max_queued, 0, 65536),
  KEY ("Provisioning", "Timeout", parse_seconds, config.timeout),
  KEY ("Provisioning", "Deadline", parse_seconds, config.deadline),
  NUMBER ("Provisioning", "Retries", config.retries, 0, 20),
  KEY ("Provisioning", "KeepConnections", parse_seconds, config.keep_connections),
  NUMBER ("Service", "IdleTimeout", config.idle_timeout, 0, 86400),
  KEY ("Renewal", "Auto", parse_bool, config.renewal_auto),
  NUMBER ("Renewal", "At", config.renewal_at, 1, 99),
  NUMBER ("Renewal", "RetryInterval", config.renewal_retry_interval, 1, 86400),
  KEY ("Keystore", "Path", parse_path, config.keystore_path),
  KEY ("Keystore", "Group", parse_group, keystore_group),
  KEY ("Access", "Group", parse_group, config.access_group),
};

static const KeySpec *
find_key (const char *group, const char *key)
{
  for (size_t i = 0; i < G_N_ELEMENTS (keys); i++)
    if (strcmp (keys[i].group, group) == 0 && strcmp (keys[i].key, key) == 0)
      return &keys[i];
  return NULL;
}

static gboolean
known_group (const char *group)
{
  for (size_t i = 0; i < G_N_ELEMENTS (keys); i++)
    if (strcmp (keys[i].group, group) == 0)
      return TRUE;
  return FALSE;
}

static void
set_defaults (EpConfig *c)
{
  c->cloud.name = "cloud";
  c->gateway.name = "gateway";
  c->cloud.url = g_strdup (DEFAULT_CLOUD_URL);
  c->default_target = EP_TARGET_AUTO;
  c->max_concurrent = 8;
  c->max_queued = 64;
  c->timeout = 10;
  c->deadline = 20;
  c->keep_connections = 10;
  c->retries = 2;
  c->renewal_at = 80;
  c->renewal_retry_interval = 600;
  c->keystore_path = g_strdup (DEFAULT_KEYSTORE);
  c->access_group = g_strdup (DEFAULT_ACCESS_GROUP);
  c->consumers = g_ptr_array_new_with_free_func ((GDestroyNotify) ep_consumer_free);
}

/* Frees the previous value of string-typed keys before a parser overwrites
 * it, so defaults do not leak. */
static gboolean
is_string_key (const KeySpec *spec)
{
  return spec->parse == parse_url || spec->parse == parse_path || spec->parse == parse_group;
}

static gboolean
apply_key (Parsed *p, const char *name, const KeySpec *spec, const char *raw, GError **error)
{
  g_autofree char *value = ep_config_clean_value (raw);
  void *dest = (char *) p + spec->offset;

  if (is_string_key (spec))
    g_clear_pointer ((char **) dest, g_free);
  /* An empty value means "unset": the default, or nothing. */
  if (*value == '\0')
    return TRUE;

  g_autofree char *problem = NULL;
  if (!spec->parse (spec, value, dest, &problem))
    {
      g_set_error (error, EP_CONFIG_ERROR, 0, "%s: [%s] %s: %s", name, spec->group,
                   spec->key, problem);
      return FALSE;
    }
  return TRUE;
}

static gboolean
token_is_valid (const char *token)
{
  if (*token == '\0' || strlen (token) > MAX_TOKEN_BYTES)
    return FALSE;
  /* It goes into an HTTP header: visible ASCII only, no CR/LF injection. */
  for (const char *c = token; *c; c++)
    if (*c < 0x21 || *c > 0x7e)
      return FALSE;
  return TRUE;
}

/* Reads the token from the configured file, or from the systemd credential
 * when no file is configured. Never puts the token in a message. */
static gboolean
load_token (EpEndpoint *ep, const char *name, const char *section, const char *file,
            GError **error)
{
  g_autofree char *path = NULL;
  const char *creds = g_getenv ("CREDENTIALS_DIRECTORY");

  if (file != NULL)
    path = g_strdup (file);
  else if (creds != NULL)
    {
      g_autofree char *base = g_strdup_printf ("%s-token", ep->name);
      path = g_build_filename (creds, base, NULL);
      if (!g_file_test (path, G_FILE_TEST_EXISTS))
        return TRUE;
    }
  else
    return TRUE;

  g_autofree char *data = NULL;
  gsize len = 0;
  g_autofree char *problem =
    ep_config_read_file (path, MAX_TOKEN_BYTES + 2, EP_FILE_PRIVATE, &data, &len);
  if (problem != NULL)
    {
      g_set_error (error, EP_CONFIG_ERROR, 0,
                   "%s: [%s] TokenFile: %s %s; a token file must be a regular file of at most "
                   "%d bytes that only its owner, root or the daemon's user, may read "
                   "(chmod 0600)", name, section, path, problem, MAX_TOKEN_BYTES);
      return FALSE;
    }
  /* A NUL would silently cut the token short. */
  gboolean has_nul = memchr (data, '\0', len) != NULL;
  g_strchomp (data);
  /* An empty credential stands for "none" (the unit's fallback for a
   * missing token file): calls needing it fail with AuthenticationFailed. */
  if (!has_nul && *data == '\0')
    return TRUE;
  if (has_nul || !token_is_valid (data))
    {
      g_set_error (error, EP_CONFIG_ERROR, 0,
                   "%s: [%s] TokenFile: %s must hold one token of 1-%d visible ASCII characters",
                   name, section, path, MAX_TOKEN_BYTES);
      explicit_bzero (data, len);
      return FALSE;
    }
  ep->token = g_steal_pointer (&data);
  ep->token_source = g_steal_pointer (&path);
  return TRUE;
}

/* A call must be answered before its caller gives up on it: past that the
 * work goes on unseen and the caller's retry meets Busy. */
static gboolean
check_durations (const EpConfig *c, const char *name, GError **error)
{
  if (c->deadline >= CLIENT_TIMEOUT)
    {
      g_set_error (error, EP_CONFIG_ERROR, 0,
                   "%s: [Provisioning] Deadline: %g s is too long: D-Bus clients (libdbus, "
                   "GDBus, sd-bus) give up on a call after %d s by default while the daemon "
                   "would go on with it; set it under %d", name, c->deadline, CLIENT_TIMEOUT,
                   CLIENT_TIMEOUT);
      return FALSE;
    }
  if (c->timeout > c->deadline)
    {
      g_set_error (error, EP_CONFIG_ERROR, 0,
                   "%s: [Provisioning] Timeout: %g s is longer than [Provisioning] Deadline "
                   "(%g s), which bounds every attempt; lower Timeout or raise Deadline (under "
                   "%d)", name, c->timeout, c->deadline, CLIENT_TIMEOUT);
      return FALSE;
    }
  return TRUE;
}

/* A CAFile libcurl cannot load fails every call: refuse it at start. */
static gboolean
check_ca_file (const EpEndpoint *ep, const char *name, const char *section, GError **error)
{
  if (ep->ca_file == NULL)
    return TRUE;
  g_autofree char *problem = ep_config_check_ca_file (ep->ca_file);
  if (problem == NULL)
    return TRUE;
  g_set_error (error, EP_CONFIG_ERROR, 0,
               "%s: [%s] CAFile: %s %s; give a PEM bundle (at most %d bytes) of the CA "
               "certificates to trust, or leave CAFile unset for the system's CA store",
               name, section, ep->ca_file, problem, EP_MAX_CA_FILE_BYTES);
  return FALSE;
}

static gboolean
resolve_groups (Parsed *p, const char *name, GError **error)
{
  EpConfig *c = &p->config;
  if (p->keystore_group != NULL)
    {
      struct group *gr = getgrnam (p->keystore_group);
      if (gr == NULL)
        {
          g_set_error (error, EP_CONFIG_ERROR, 0,
                       "%s: [Keystore] Group: no group named '%s'; create it or name an "
                       "existing group", name, p->keystore_group);
          return FALSE;
        }
      c->keystore_group_set = TRUE;
      c->keystore_gid = gr->gr_gid;
    }
  if (c->access_group == NULL)
    return TRUE;
  struct group *gr = getgrnam (c->access_group);
  c->access_gid_known = gr != NULL;
  c->access_gid = gr ? gr->gr_gid : 0;
  /* The default group comes with the package (sysusers.d); where it is
   * missing, as on a development machine, access narrows to root and the
   * daemon warns. A group named on purpose must exist. */
  if (gr == NULL && strcmp (c->access_group, DEFAULT_ACCESS_GROUP) != 0)
    {
      g_set_error (error, EP_CONFIG_ERROR, 0,
                   "%s: [Access] Group: no group named '%s'; create it, name an existing "
                   "group, or leave the value empty to let only root call", name,
                   c->access_group);
      return FALSE;
    }
  return TRUE;
}

static gboolean
resolve (Parsed *p, const char *name, GError **error)
{
  EpConfig *c = &p->config;

  if (!load_token (&c->cloud, name, "Cloud", p->cloud_token_file, error) ||
      !load_token (&c->gateway, name, "Gateway", p->gateway_token_file, error))
    return FALSE;

  /* An empty value means the default. */
  if (c->cloud.url == NULL)
    c->cloud.url = g_strdup (DEFAULT_CLOUD_URL);
  if (c->keystore_path == NULL)
    c->keystore_path = g_strdup (DEFAULT_KEYSTORE);
  if (c->default_target == EP_TARGET_AUTO)
    c->default_target = c->gateway.url ? EP_TARGET_GATEWAY : EP_TARGET_CLOUD;
  else if (c->default_target == EP_TARGET_GATEWAY && c->gateway.url == NULL)
    {
      g_set_error (error, EP_CONFIG_ERROR, 0,
                   "%s: [Provisioning] DefaultTarget: 'gateway' needs [Gateway] URL to be set",
                   name);
      return FALSE;
    }

  return check_durations (c, name, error) && check_ca_file (&c->cloud, name, "Cloud", error) &&
         check_ca_file (&c->gateway, name, "Gateway", error) &&
         resolve_groups (p, name, error);
}

static void
parsed_clear (Parsed *p)
{
  g_free (p->cloud_token_file);
  g_free (p->gateway_token_file);
  g_free (p->keystore_group);
}

static EpConfig *
load_keyfile (GKeyFile *kf, const char *name, const char *path, GError **error)
{
  Parsed p = { 0 };
  set_defaults (&p.config);
  p.config.path = g_strdup (path);

  g_auto (GStrv) groups = g_key_file_get_groups (kf, NULL);
  gboolean ok = TRUE;
  for (size_t g = 0; ok && groups[g]; g++)
    {
      if (ep_consumer_is_section (groups[g]))
        {
          ok = ep_consumer_load (kf, groups[g], name, p.config.consumers, error);
          continue;
        }
      if (!known_group (groups[g]))
        {
          g_set_error (error, EP_CONFIG_ERROR, 0, "%s: [%s]: unknown section", name, groups[g]);
          ok = FALSE;
          break;
        }
      g_auto (GStrv) names = g_key_file_get_keys (kf, groups[g], NULL, NULL);
      for (size_t k = 0; ok && names && names[k]; k++)
        {
          const KeySpec *spec = find_key (groups[g], names[k]);
          g_autofree char *raw = g_key_file_get_value (kf, groups[g], names[k], NULL);
          if (spec == NULL)
            {
              g_set_error (error, EP_CONFIG_ERROR, 0, "%s: [%s] %s: unknown key", name,
                           groups[g], names[k]);
              ok = FALSE;
            }
          else
            ok = apply_key (&p, name, spec, raw, error);
        }
    }
  ok = ok && resolve (&p, name, error);
  parsed_clear (&p);

  EpConfig *config = g_new (EpConfig, 1);
  *config = p.config;
  if (!ok)
    g_clear_pointer (&config, ep_config_free);
  return config;
}

EpConfig *
ep_config_load_data (const char *data, gsize len, const char *name, GError **error)
{
  g_autoptr (GKeyFile) kf = g_key_file_new ();
  g_autoptr (GError) local = NULL;
  if (!g_key_file_load_from_data (kf, data, len, G_KEY_FILE_NONE, &local))
    {
      g_set_error (error, EP_CONFIG_ERROR, 0, "%s: %s", name, local->message);
      return NULL;
    }
  return load_keyfile (kf, name, NULL, error);
}

EpConfig *
ep_config_load (const char *path, gboolean missing_ok, GError **error)
{
  g_autofree char *data = NULL;
  gsize len = 0;
  g_autoptr (GError) local = NULL;

  if (!g_file_get_contents (path, &data, &len, &local))
    {
      if (missing_ok && g_error_matches (local, G_FILE_ERROR, G_FILE_ERROR_NOENT))
        return ep_config_load_data ("", 0, path, error);
      g_set_error (error, EP_CONFIG_ERROR, 0, "%s: cannot read: %s", path, local->message);
      return NULL;
    }
  EpConfig *config = ep_config_load_data (data, len, path, error);
  if (config != NULL)
    {
      g_free (config->path);
      config->path = g_strdup (path);
    }
  return config;
}

const EpEndpoint *
ep_config_endpoint (const EpConfig *config, EpTarget target)
{
  return target == EP_TARGET_GATEWAY ? &config->gateway : &config->cloud;
}

static void
endpoint_clear (EpEndpoint *ep)
{
  g_free (ep->url);
  if (ep->token != NULL)
    explicit_bzero (ep->token, strlen (ep->token));
  g_free (ep->token);
  g_free (ep->token_source);
  g_free (ep->ca_file);
}

void
ep_config_free (EpConfig *config)
{
  if (config == NULL)
    return;
  endpoint_clear (&config->cloud);
  endpoint_clear (&config->gateway);
  g_free (config->path);
  g_free (config->keystore_path);
  g_free (config->access_group);
  if (config->consumers)
    g_ptr_array_unref (config->consumers);
  g_free (config);
}
