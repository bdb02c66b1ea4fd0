/* The configuration's files as Diagnose sees them (see diagnose-config.h).
 * The rules are start-up's (config-files.c): a token file private to its
 * owner, root or the daemon's user; here they are checked again on what
 * the files have become since, and the configuration file itself must not
 * be open to changes by others, who could point the daemon elsewhere. */
#include "diagnose-config.h"

#include "config-files.h"
#include "diagnose-check.h"
#include "ep-build-config.h"

#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct {
  const char *name;          /* "cloud", "gateway" */
  const char *section;       /* "Cloud", "Gateway" */
  gboolean url_set;
  gboolean has_token;
  char *token_file;          /* where the token came from, or NULL */
} TokenRef;

struct EpConfigFiles {
  char *config_path;         /* NULL: no file, defaults */
  TokenRef tokens[2];
};

EpConfigFiles *
ep_config_files_new (const EpConfig *config)
{
  EpConfigFiles *files = g_new0 (EpConfigFiles, 1);
  files->config_path = g_strdup (config->path);
  const EpEndpoint *eps[] = { &config->cloud, &config->gateway };
  static const char *const sections[] = { "Cloud", "Gateway" };
  for (guint i = 0; i < G_N_ELEMENTS (eps); i++)
    files->tokens[i] = (TokenRef) {
      .name = eps[i]->name,
      .section = sections[i],
      .url_set = eps[i]->url != NULL,
      .has_token = eps[i]->token != NULL,
      .token_file = g_strdup (eps[i]->token_source),
    };
  return files;
}

void
ep_config_files_free (EpConfigFiles *files)
{
  if (files == NULL)
    return;
  g_free (files->config_path);
  for (guint i = 0; i < G_N_ELEMENTS (files->tokens); i++)
    g_free (files->tokens[i].token_file);
  g_free (files);
}

static void
check_config (const EpConfigFiles *files, GPtrArray *out)
{
  const char *path = files->config_path;
  if (path == NULL)
    {
      g_ptr_array_add (out, ep_check_new ("config", EP_CHECK_OK,
                                          "no configuration file (%s is absent): the built-in "
                                          "defaults apply", EP_DEFAULT_CONFIG));
      return;
    }
  struct stat st;
  if (stat (path, &st) < 0)
    {
      g_ptr_array_add (out, ep_check_new (
        "config", EP_CHECK_WARNING,
        "%s was read at start and cannot be read now (%s): the daemon goes on with what it "
        "read, but %s; restore the file",
        path, g_strerror (errno),
        g_strcmp0 (path, EP_DEFAULT_CONFIG) == 0 ? "would start with the built-in defaults"
                                                 : "would not start again"));
      return;
    }
  EpFindings f = { 0 };
  if (!S_ISREG (st.st_mode))
    ep_findings_add (&f, EP_CHECK_ERROR, "%s is not a regular file: make it one", path);
  if (!ep_config_owner_trusted (&st))
    ep_findings_add (&f, EP_CHECK_ERROR,
                     "%s is owned by uid %u, who can point the daemon at another API or "
                     "keystore: chown root:root %s",
                     path, (unsigned) st.st_uid, path);
  if (st.st_mode & (S_IWGRP | S_IWOTH))
    ep_findings_add (&f, EP_CHECK_ERROR,
                     "%s is writable by users other than its owner (mode %04o), who can point "
                     "the daemon at another API or keystore: chmod go-w %s",
                     path, (unsigned) (st.st_mode & 07777), path);
  g_autofree char *ok = g_strdup_printf ("%s: owned by uid %u, mode %04o: only its owner may "
                                         "change it (it holds no secret: tokens have their own "
                                         "files)",
                                         path, (unsigned) st.st_uid,
                                         (unsigned) (st.st_mode & 07777));
  g_ptr_array_add (out, ep_findings_take (&f, "config", ok));
}

static void
check_token (const TokenRef *t, GPtrArray *out)
{
  g_autofree char *name = g_strdup_printf ("token:%s", t->name);
  const char *path = t->token_file;
  /* Only a target that is used needs one. */
  if (!t->has_token && t->url_set)
    g_ptr_array_add (out, ep_check_new (
      name, EP_CHECK_ERROR,
      "no API token for the %s: its calls fail with AuthenticationFailed; put the token in "
      "a file only root can read (chmod 0600), name it in [%s] TokenFile= (or hand it to "
      "the unit as the credential %s-token), then restart the daemon",
      t->name, t->section, t->name));
  if (!t->has_token || path == NULL)
    return;
  struct stat st;
  if (stat (path, &st) < 0)
    {
      g_ptr_array_add (out, ep_check_new (
        name, EP_CHECK_WARNING,
        "%s held the %s token at start and cannot be read now (%s): the daemon goes on with "
        "the token it read, but would not start again; restore the file (chmod 0600)",
        path, t->name, g_strerror (errno)));
      return;
    }
  EpFindings f = { 0 };
  if (!S_ISREG (st.st_mode))
    ep_findings_add (&f, EP_CHECK_ERROR,
                     "%s is not a regular file: the daemon would not start with it; make it "
                     "one", path);
  if (st.st_mode & 077)
    ep_findings_add (&f, EP_CHECK_ERROR,
                     "%s has mode %04o: users other than its owner can read or change the %s "
                     "token, and the daemon would not start with it: chmod 0600 %s (and get a "
                     "new token if others may have read it)",
                     path, (unsigned) (st.st_mode & 07777), t->name, path);
  if (!ep_config_owner_trusted (&st))
    ep_findings_add (&f, EP_CHECK_ERROR,
                     "%s is owned by uid %u, neither root nor the daemon's user, who can swap "
                     "the token, and the daemon would not start with it: chown root:root %s",
                     path, (unsigned) st.st_uid, path);
  g_autofree char *ok = g_strdup_printf ("%s: owned by uid %u, mode %04o: only its owner may "
                                         "read it",
                                         path, (unsigned) st.st_uid,
                                         (unsigned) (st.st_mode & 07777));
  g_ptr_array_add (out, ep_findings_take (&f, name, ok));
}

void
ep_config_files_check (const EpConfigFiles *files, GPtrArray *out)
{
  check_config (files, out);
  for (guint i = 0; i < G_N_ELEMENTS (files->tokens); i++)
    check_token (&files->tokens[i], out);
}
