/* The configuration file (see config.h): the key table, the walk over the
 * file's lines that applies it, and the checks that need the whole file
 * (tokens, durations, CA files, groups). Every problem is collected with
 * its line (config-check.h); the configuration is refused when there is
 * any. */
#include "config.h"
#include "config-check.h"
#include "config-files.h"
#include "config-names.h"
#include "config-values.h"
#include "consumers.h"

#include <errno.h>
#include <grp.h>
#include <stddef.h>
#include <string.h>

G_DEFINE_QUARK (ep-config-error-quark, ep_config_error)

#define DEFAULT_CLOUD_URL "https://api.enapter.com"
#define DEFAULT_KEYSTORE "/var/lib/enapter-provisiond/keystore"
#define DEFAULT_ACCESS_GROUP "enapter-provisioning"
/* libdbus, GDBus and sd-bus clients give up on a method call after 25 s by
 * default; a call must be answered before that. */
#define CLIENT_TIMEOUT 25
#define CONSUMER_PREFIX "Consumer "

/* Token files are parsed after the table, so their paths land here first. */
typedef struct {
  EpConfig config;
  char *cloud_token_file;
  char *gateway_token_file;
  char *keystore_group;
} Parsed;

#define KEY(group_, key_, parse_, field)                                                   \
  { .group = group_, .key = key_, .parse = ep_config_parse_##parse_,                        \
    .offset = offsetof (Parsed, field) }
#define NUMBER(group_, key_, field, min_, max_)                                             \
  { .group = group_, .key = key_, .parse = ep_config_parse_uint,                            \
    .offset = offsetof (Parsed, field), .min = min_, .max = max_ }

static const EpKeySpec keys[] = {
  KEY ("Cloud", "URL", url, config.cloud.url),
  KEY ("Cloud", "TokenFile", token_path, cloud_token_file),
  KEY ("Cloud", "CAFile", path, config.cloud.ca_file),
  KEY ("Gateway", "URL", url, config.gateway.url),
  KEY ("Gateway", "TokenFile", token_path, gateway_token_file),
  KEY ("Gateway", "CAFile", path, config.gateway.ca_file),
  KEY ("Provisioning", "DefaultTarget", target, config.default_target),
  NUMBER ("Provisioning", "MaxConcurrent", config.max_concurrent, 1, 1024),
  NUMBER ("Provisioning", "MaxQueued", config.max_queued, 0, 65536),
  KEY ("Provisioning", "Timeout", seconds, config.timeout),
  KEY ("Provisioning", "Deadline", seconds, config.deadline),
  NUMBER ("Provisioning", "Retries", config.retries, 0, 20),
  KEY ("Provisioning", "KeepConnections", seconds, config.keep_connections),
  NUMBER ("Service", "IdleTimeout", config.idle_timeout, 0, 86400),
  KEY ("Renewal", "Auto", bool, config.renewal_auto),
  NUMBER ("Renewal", "At", config.renewal_at, 1, 99),
  NUMBER ("Renewal", "RetryInterval", config.renewal_retry_interval, 1, 86400),
  KEY ("Keystore", "Path", path, config.keystore_path),
  KEY ("Keystore", "Group", group, keystore_group),
  KEY ("Access", "Group", group, config.access_group),
};
static const EpKeyTable table = { keys, G_N_ELEMENTS (keys) };

/* One reading of a file: what is parsed, what is wrong, and which values
 * were refused, so that checks built on them (a Timeout against a refused
 * Deadline) do not report the default in their place; likewise the
 * sections whose keys may be under a misspelt or broken header. */
typedef struct {
  Parsed p;
  const EpConfigIndex *index;
  EpConfigProblems *problems;
  GHashTable *refused;       /* "section\037key" of refused values */
  GHashTable *doubtful;      /* sections an unknown or broken header may have meant */
  gboolean too_many;         /* past EP_MAX_CONSUMERS sections */
} Load;

static void
refuse (Load *l, const EpConfigEntry *e, const char *problem)
{
  ep_config_problems_add (l->problems, e->line, e->section, e->key, "%s", problem);
  g_hash_table_add (l->refused, g_strconcat (e->section, "\037", e->key, NULL));
}

static gboolean
refused (const Load *l, const char *section, const char *key)
{
  g_autofree char *id = g_strconcat (section, "\037", key, NULL);
  return g_hash_table_contains (l->refused, id);
}

static guint
line_of (const Load *l, const char *section, const char *key)
{
  return ep_config_index_line (l->index, section, key);
}

/* A check across keys of @section would report what its problem with a
 * header (reported already) left unset. */
static gboolean
doubtful (const Load *l, const char *section)
{
  return g_hash_table_contains (l->doubtful, section);
}

static void
add_doubtful (Load *l, char *section)
{
  if (section != NULL)
    g_hash_table_add (l->doubtful, section);
}

/* ---- keys ----------------------------------------------------------------- */

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

static void
apply_key (Load *l, const EpKeySpec *spec, const EpConfigEntry *e)
{
  g_autofree char *value = ep_config_clean_value (e->value);
  void *dest = (char *) &l->p + spec->offset;

  /* Frees the previous value (a default) before the parser overwrites it. */
  if (ep_config_parser_is_string (spec->parse))
    g_clear_pointer ((char **) dest, g_free);
  /* An empty value means "unset": the default, or nothing. */
  if (*value == '\0')
    return;
  g_autofree char *problem = NULL;
  if (!spec->parse (spec, value, dest, &problem))
    refuse (l, e, problem);
}

static void
table_key (Load *l, const EpConfigEntry *e)
{
  const EpKeySpec *spec = ep_config_table_find (&table, e->section, e->key);
  if (spec != NULL)
    {
      apply_key (l, spec, e);
      return;
    }
  ep_config_unknown_key (&table, e, NULL, NULL, l->problems);
}

/* The consumer of the section @e heads: a repeated section adds to the
 * first, as GKeyFile merges them. NULL past EP_MAX_CONSUMERS: reported
 * once, the sections from there on are left unread. */
static EpConsumer *
consumer_section (Load *l, const EpConfigEntry *e)
{
  GPtrArray *all = l->p.config.consumers;
  const char *name = e->section + strlen (CONSUMER_PREFIX);
  for (guint i = 0; i < all->len; i++)
    if (strcmp (((EpConsumer *) all->pdata[i])->name, name) == 0)
      return all->pdata[i];
  if (all->len < EP_MAX_CONSUMERS)
    {
      g_ptr_array_add (all, ep_consumer_new (name));
      return all->pdata[all->len - 1];
    }
  if (!l->too_many)
    {
      /* Past it, the file may be anything: this line must not be cut. */
      ep_config_problems_add (l->problems, e->line, e->section, NULL, "more than %d consumer "
                              "sections (this is the %dth; the rest are not read); give "
                              "consumers that share devices one group", EP_MAX_CONSUMERS,
                              EP_MAX_CONSUMERS + 1);
      ep_config_problems_keep_last (l->problems);
      l->too_many = TRUE;
    }
  return NULL;
}

static void
consumer_key (Load *l, EpConsumer *c, const EpConfigEntry *e)
{
  if (!g_strv_contains (ep_consumer_keys, e->key))
    {
      ep_config_unknown_key (&table, e, ep_consumer_keys, "a consumer section", l->problems);
      return;
    }
  g_autofree char *value = ep_config_clean_value (e->value);
  g_autofree char *problem = NULL;
  if (!ep_consumer_set (c, e->key, value, &problem))
    refuse (l, e, problem);
}

/* What each consumer section lacks once all is read; not what a refused
 * value left out, which is reported already. */
static void
check_consumers (Load *l)
{
  GPtrArray *all = l->p.config.consumers;
  for (guint i = 0; i < all->len; i++)
    {
      const EpConsumer *c = all->pdata[i];
      g_autofree char *section = g_strconcat (CONSUMER_PREFIX, c->name, NULL);
      if (doubtful (l, section))
        continue;
      EpConsumerLack lacks[EP_CONSUMER_MAX_LACKS];
      guint n = ep_consumer_check (c, lacks);
      for (guint k = 0; k < n; k++)
        {
          gboolean reported = FALSE;
          guint line = 0;
          for (size_t j = 0; lacks[k].keys[j]; j++)
            {
              reported = reported || refused (l, section, lacks[k].keys[j]);
              line = MAX (line, line_of (l, section, lacks[k].keys[j]));
            }
          if (reported)
            continue;
          g_autofree char *keys_shown = g_strjoinv (", ", (char **) lacks[k].keys);
          ep_config_problems_add (l->problems, line ? line : line_of (l, section, NULL),
                                  section, keys_shown, "%s", lacks[k].problem);
        }
    }
}

/* Every line of the index in file order, as GKeyFile would read them. */
static void
walk (Load *l)
{
  EpConsumer *consumer = NULL;
  gboolean known = FALSE;
  for (guint i = 0; i < ep_config_index_len (l->index); i++)
    {
      const EpConfigEntry *e = ep_config_index_get (l->index, i);
      if (e->key == NULL)
        {
          consumer = NULL;
          known = FALSE;
          if (ep_consumer_is_section (e->section))
            consumer = consumer_section (l, e);
          else if (ep_config_table_has_group (&table, e->section))
            known = TRUE;
          else
            add_doubtful (l, ep_config_unknown_section (&table, e, l->problems));
        }
      else if (e->section == NULL)
        ep_config_key_outside (&table, e, l->problems);
      else if (consumer != NULL)
        consumer_key (l, consumer, e);
      else if (known)
        table_key (l, e);
      /* An unknown section's keys: which ones it should have is unknown. */
    }
  /* The keys under a broken header are left out (the index reported it). */
  for (const char *const *b = ep_config_index_broken (l->index); *b; b++)
    add_doubtful (l, ep_config_section_meant (&table, *b));
}

/* ---- what needs the whole file -------------------------------------------- */

/* Reads the token from the configured file, or from the systemd credential
 * when no file is configured. */
static void
load_token (Load *l, EpEndpoint *ep, const char *section, const char *file)
{
  g_autofree char *path = NULL;
  const char *creds = g_getenv ("CREDENTIALS_DIRECTORY");

  /* A TokenFile refused, or maybe under a broken header, is not replaced
   * by the credential. */
  if (refused (l, section, "TokenFile") || (file == NULL && doubtful (l, section)))
    return;
  if (file != NULL)
    path = g_strdup (file);
  else if (creds != NULL)
    {
      g_autofree char *base = g_strdup_printf ("%s-token", ep->name);
      path = g_build_filename (creds, base, NULL);
      if (!g_file_test (path, G_FILE_TEST_EXISTS))
        return;
    }
  else
    return;

  g_autofree char *problem = ep_config_read_token (path, &ep->token);
  /* A TokenFile that names no file may be a token pasted there: not shown. */
  if (problem != NULL && file != NULL && !g_file_test (file, G_FILE_TEST_EXISTS))
    ep_config_problems_add (l->problems, line_of (l, section, "TokenFile"), section,
                            "TokenFile", "the file %s", problem);
  else if (problem != NULL)
    ep_config_problems_add (l->problems, file ? line_of (l, section, "TokenFile") : 0, section,
                            "TokenFile", "%s %s", path, problem);
  else if (ep->token != NULL)
    ep->token_source = g_steal_pointer (&path);
}

/* A call must be answered before its caller gives up on it: past that the
 * work goes on unseen and the caller's retry meets Busy. */
static void
check_durations (Load *l)
{
  const EpConfig *c = &l->p.config;
  if (refused (l, "Provisioning", "Deadline"))
    return;
  guint deadline_line = line_of (l, "Provisioning", "Deadline");
  guint timeout_line = line_of (l, "Provisioning", "Timeout");
  if (c->deadline >= CLIENT_TIMEOUT)
    {
      ep_config_problems_add (l->problems, deadline_line, "Provisioning", "Deadline",
                              "%g s is too long: D-Bus clients (libdbus, GDBus, sd-bus) give "
                              "up on a call after %d s by default while the daemon would go "
                              "on with it; set it under %d", c->deadline, CLIENT_TIMEOUT,
                              CLIENT_TIMEOUT);
      return;
    }
  if (c->timeout <= c->deadline || refused (l, "Provisioning", "Timeout") ||
      doubtful (l, "Provisioning"))
    return;
  /* Of the two, the one the file sets is where to look. */
  if (timeout_line != 0 || deadline_line == 0)
    ep_config_problems_add (l->problems, timeout_line, "Provisioning", "Timeout",
                            "%g s is longer than [Provisioning] Deadline (%g s), which bounds "
                            "every attempt; lower Timeout or raise Deadline (under %d)",
                            c->timeout, c->deadline, CLIENT_TIMEOUT);
  else
    ep_config_problems_add (l->problems, deadline_line, "Provisioning", "Deadline",
                            "%g s is shorter than [Provisioning] Timeout (%g s by default), "
                            "which every attempt may take; raise Deadline or set a lower "
                            "Timeout", c->deadline, c->timeout);
}

/* A CAFile libcurl cannot load fails every call: refuse it at start. */
static void
check_ca_file (Load *l, const EpEndpoint *ep, const char *section)
{
  if (ep->ca_file == NULL)
    return;
  g_autofree char *problem = ep_config_check_ca_file (ep->ca_file);
  if (problem != NULL)
    ep_config_problems_add (l->problems, line_of (l, section, "CAFile"), section, "CAFile",
                            "%s %s; give a PEM bundle (at most %d bytes) of the CA "
                            "certificates to trust, or leave CAFile unset for the system's CA "
                            "store", ep->ca_file, problem, EP_MAX_CA_FILE_BYTES);
}

static void
resolve_groups (Load *l)
{
  Parsed *p = &l->p;
  EpConfig *c = &p->config;
  if (p->keystore_group != NULL)
    {
      struct group *gr = getgrnam (p->keystore_group);
      c->keystore_group_set = gr != NULL;
      c->keystore_gid = gr ? gr->gr_gid : 0;
      if (gr == NULL)
        ep_config_problems_add (l->problems, line_of (l, "Keystore", "Group"), "Keystore",
                                "Group", "no group named '%s'; create it or name an existing "
                                "group", p->keystore_group);
    }
  if (c->access_group == NULL)
    return;
  struct group *gr = getgrnam (c->access_group);
  c->access_gid_known = gr != NULL;
  c->access_gid = gr ? gr->gr_gid : 0;
  /* The default group comes with the package (sysusers.d); where it is
   * missing, as on a development machine, access narrows to root and the
   * daemon warns. A group named on purpose must exist. */
  if (gr == NULL && strcmp (c->access_group, DEFAULT_ACCESS_GROUP) != 0)
    ep_config_problems_add (l->problems, line_of (l, "Access", "Group"), "Access", "Group",
                            "no group named '%s'; create it, name an existing group, or leave "
                            "the value empty to let only root call", c->access_group);
}

static void
resolve (Load *l)
{
  EpConfig *c = &l->p.config;
  load_token (l, &c->cloud, "Cloud", l->p.cloud_token_file);
  load_token (l, &c->gateway, "Gateway", l->p.gateway_token_file);

  /* An empty value means the default. */
  if (c->cloud.url == NULL)
    c->cloud.url = g_strdup (DEFAULT_CLOUD_URL);
  if (c->keystore_path == NULL)
    c->keystore_path = g_strdup (DEFAULT_KEYSTORE);
  if (c->default_target == EP_TARGET_AUTO)
    c->default_target = c->gateway.url ? EP_TARGET_GATEWAY : EP_TARGET_CLOUD;
  else if (c->default_target == EP_TARGET_GATEWAY && c->gateway.url == NULL &&
           !refused (l, "Gateway", "URL") && !doubtful (l, "Gateway"))
    ep_config_problems_add (l->problems, line_of (l, "Provisioning", "DefaultTarget"),
                            "Provisioning", "DefaultTarget", "'gateway' needs [Gateway] URL "
                            "to be set; set it, or choose cloud or auto");

  check_durations (l);
  check_ca_file (l, &c->cloud, "Cloud");
  check_ca_file (l, &c->gateway, "Gateway");
  resolve_groups (l);
}

/* ---- loading -------------------------------------------------------------- */

static EpConfig *
load_text (const char *data, gsize len, EpConfigProblems *problems)
{
  g_autoptr (EpConfigIndex) index = ep_config_index_new (data, len, problems);
  Load l = { .index = index, .problems = problems,
             .refused = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL),
             .doubtful = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL) };
  set_defaults (&l.p.config);
  walk (&l);
  check_consumers (&l);
  resolve (&l);
  g_free (l.p.cloud_token_file);
  g_free (l.p.gateway_token_file);
  g_free (l.p.keystore_group);
  g_hash_table_unref (l.refused);
  g_hash_table_unref (l.doubtful);

  EpConfig *config = g_new (EpConfig, 1);
  *config = l.p.config;
  if (ep_config_problems_count (problems) > 0)
    g_clear_pointer (&config, ep_config_free);
  return config;
}

EpConfig *
ep_config_check_data (const char *data, gsize len, const char *name, char ***problems)
{
  g_autoptr (EpConfigProblems) found = ep_config_problems_new (name);
  EpConfig *config = load_text (data, len, found);
  *problems = config ? NULL : ep_config_problems_lines (found);
  return config;
}

EpConfig *
ep_config_check (const char *path, gboolean missing_ok, char ***problems)
{
  g_autofree char *data = NULL;
  gsize len = 0;

  /* Not a FIFO to wait on, nor a device to read without end. */
  g_autofree char *problem = ep_config_read_file (path, EP_MAX_CONFIG_BYTES, EP_FILE_ANY, &data,
                                                  &len);
  if (problem != NULL)
    {
      gboolean missing = errno == ENOENT;
      if (missing && missing_ok)
        return ep_config_check_data ("", 0, path, problems);
      g_autoptr (EpConfigProblems) found = ep_config_problems_new (path);
      if (missing)
        ep_config_problems_add (found, 0, NULL, NULL, "no such file; create it (see "
                                "provisiond.conf(5)) or give the path of an existing one");
      else
        ep_config_problems_add (found, 0, NULL, NULL, "%s; give the path of a configuration "
                                "file the daemon may read, a regular file of at most %d bytes",
                                problem, EP_MAX_CONFIG_BYTES);
      *problems = ep_config_problems_lines (found);
      return NULL;
    }
  EpConfig *config = ep_config_check_data (data, len, path, problems);
  if (config != NULL)
    config->path = g_strdup (path);
  return config;
}

/* Existing callers take one GError: the problems, a line each. */
static EpConfig *
with_error (EpConfig *config, char **problems, GError **error)
{
  if (config == NULL)
    {
      g_autofree char *text = g_strjoinv ("\n", problems);
      g_set_error_literal (error, EP_CONFIG_ERROR, 0, text);
    }
  g_strfreev (problems);
  return config;
}

EpConfig *
ep_config_load_data (const char *data, gsize len, const char *name, GError **error)
{
  char **problems = NULL;
  EpConfig *config = ep_config_check_data (data, len, name, &problems);
  return with_error (config, problems, error);
}

EpConfig *
ep_config_load (const char *path, gboolean missing_ok, GError **error)
{
  char **problems = NULL;
  EpConfig *config = ep_config_check (path, missing_ok, &problems);
  return with_error (config, problems, error);
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
