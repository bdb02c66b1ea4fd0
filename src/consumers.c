#include "consumers.h"

#include "fields.h"
#include "kinds.h"
#include "validate.h"

#include <grp.h>
#include <pwd.h>
#include <string.h>

/* Names of users and groups as config.c accepts [Access] Group=: checked
 * before they reach NSS. */
#define MAX_ACCOUNT_NAME 256

EpConsumer *
ep_consumer_new (const char *name)
{
  EpConsumer *c = g_new0 (EpConsumer, 1);
  c->name = g_strdup (name);
  c->devices = g_array_new (FALSE, FALSE, sizeof (EpSelector));
  return c;
}

static void
selector_clear (EpSelector *s)
{
  g_free (s->value);
}

void
ep_consumer_free (EpConsumer *c)
{
  if (c == NULL)
    return;
  for (guint i = 0; i < c->devices->len; i++)
    selector_clear (&g_array_index (c->devices, EpSelector, i));
  g_array_unref (c->devices);
  g_free (c->name);
  g_free (c);
}

gboolean
ep_consumer_is_section (const char *group)
{
  return g_str_has_prefix (group, "Consumer ") && group[strlen ("Consumer ")] != '\0';
}

const char *const ep_consumer_keys[] = { "User", "Group", "Devices", NULL };

/* @what: "user" or "group". */
static gboolean
account_name_ok (const char *value, const char *what, char **problem)
{
  if (*value != '\0' && strlen (value) <= MAX_ACCOUNT_NAME && ep_is_plain_text (value) &&
      strchr (value, ' ') == NULL)
    return TRUE;
  *problem = g_strdup_printf ("is not a %s name; give the name of an existing %s", what, what);
  return FALSE;
}

/* One Devices= entry: "*", "kind:<kind>", "site:<site_id>" or a device id. */
static gboolean
parse_selector (const char *entry, EpSelector *out, char **problem)
{
  g_autofree char *shown = g_strescape (entry, NULL);
  if (strcmp (entry, "*") == 0)
    {
      *out = (EpSelector) { .type = EP_SELECT_ALL };
      return TRUE;
    }
  if (g_str_has_prefix (entry, "kind:"))
    {
      if (ep_kind_by_name (entry + 5) == NULL)
        {
          g_autofree char *kinds = NULL;
          GString *names = g_string_new (NULL);
          for (const EpKind *k = ep_kinds; k->kind; k++)
            g_string_append_printf (names, "%s%s", names->len ? ", " : "", k->kind);
          kinds = g_string_free (names, FALSE);
          *problem = g_strdup_printf ("'%s' names no kind; use one of %s", shown, kinds);
          return FALSE;
        }
      *out = (EpSelector) { .type = EP_SELECT_KIND, .value = g_strdup (entry + 5) };
      return TRUE;
    }
  g_autofree char *rule_problem = NULL;
  if (g_str_has_prefix (entry, "site:"))
    {
      if (!ep_validate_value (EP_RULE_ID, entry + 5, 0, &rule_problem))
        {
          *problem = g_strdup_printf ("'%s': a site id %s", shown, rule_problem);
          return FALSE;
        }
      *out = (EpSelector) { .type = EP_SELECT_SITE, .value = g_strdup (entry + 5) };
      return TRUE;
    }
  /* A ':' would make "kinds:ucm" (a typo) a device id nobody has. */
  if (strchr (entry, ':') != NULL || !ep_is_plain_name (entry))
    {
      *problem = g_strdup_printf ("'%s' is none of kind:<kind>, site:<site_id>, a device id "
                                  "or *", shown);
      return FALSE;
    }
  *out = (EpSelector) { .type = EP_SELECT_DEVICE, .value = g_strdup (entry) };
  return TRUE;
}

static gboolean
set_devices (EpConsumer *c, const char *value, char **problem)
{
  g_auto (GStrv) entries = g_strsplit_set (value, " \t", -1);
  for (guint i = 0; entries[i] != NULL; i++)
    {
      if (*entries[i] == '\0')
        continue;
      EpSelector s;
      if (!parse_selector (entries[i], &s, problem))
        return FALSE;
      g_array_append_val (c->devices, s);
    }
  return TRUE;
}

gboolean
ep_consumer_set (EpConsumer *c, const char *key, const char *value, char **problem)
{
  if (strcmp (key, "Devices") == 0)
    return set_devices (c, value, problem);
  if (strcmp (key, "User") == 0)
    {
      if (!account_name_ok (value, "user", problem))
        return FALSE;
      struct passwd *pw = getpwnam (value);
      if (pw == NULL)
        {
          *problem = g_strdup_printf ("no user named '%s'; create it or name an existing user",
                                      value);
          return FALSE;
        }
      c->has_uid = TRUE;
      c->uid = pw->pw_uid;
      return TRUE;
    }
  if (strcmp (key, "Group") == 0)
    {
      if (!account_name_ok (value, "group", problem))
        return FALSE;
      struct group *gr = getgrnam (value);
      if (gr == NULL)
        {
          *problem = g_strdup_printf ("no group named '%s'; create it or name an existing "
                                      "group", value);
          return FALSE;
        }
      c->has_gid = TRUE;
      c->gid = gr->gr_gid;
      return TRUE;
    }
  *problem = g_strdup ("unknown key (a consumer has User=, Group= and Devices=)");
  return FALSE;
}

guint
ep_consumer_check (const EpConsumer *c, EpConsumerLack lacks[EP_CONSUMER_MAX_LACKS])
{
  guint n = 0;
  if (!c->has_uid && !c->has_gid)
    lacks[n++] = (EpConsumerLack) {
      .keys = { "User", "Group", NULL },
      .problem = "the section names neither; give the user or group the consumer runs as",
    };
  if (c->devices->len == 0)
    lacks[n++] = (EpConsumerLack) {
      .keys = { "Devices", NULL },
      .problem = "no device is named; give kind:<kind>, site:<site_id>, device ids or *",
    };
  return n;
}

gboolean
ep_consumer_selects (const EpConsumer *c, const char *device_id, const EpDeviceInfo *info)
{
  for (guint i = 0; i < c->devices->len; i++)
    {
      const EpSelector *s = &g_array_index (c->devices, EpSelector, i);
      switch (s->type)
        {
        case EP_SELECT_ALL:
          return TRUE;
        case EP_SELECT_DEVICE:
          if (g_strcmp0 (s->value, device_id) == 0)
            return TRUE;
          break;
        case EP_SELECT_KIND:
          if (info && g_strcmp0 (s->value, ep_device_info_field (info, EP_FIELD_KIND)) == 0)
            return TRUE;
          break;
        case EP_SELECT_SITE:
          if (info && g_strcmp0 (s->value, ep_device_info_field (info, EP_FIELD_SITE_ID)) == 0)
            return TRUE;
          break;
        }
    }
  return FALSE;
}

guint64
ep_consumers_match (const GPtrArray *consumers, uid_t uid, const gid_t *gids, gsize n_gids)
{
  guint64 mine = 0;
  for (guint i = 0; consumers && i < consumers->len && i < EP_MAX_CONSUMERS; i++)
    {
      const EpConsumer *c = consumers->pdata[i];
      gboolean match = c->has_uid && c->uid == uid;
      for (gsize g = 0; !match && c->has_gid && g < n_gids; g++)
        match = gids[g] == c->gid;
      if (match)
        mine |= G_GUINT64_CONSTANT (1) << i;
    }
  return mine;
}

gboolean
ep_consumers_select (const GPtrArray *consumers, guint64 mine, const char *device_id,
                     const EpDeviceInfo *info)
{
  for (guint i = 0; consumers && i < consumers->len && i < EP_MAX_CONSUMERS; i++)
    if ((mine & (G_GUINT64_CONSTANT (1) << i)) &&
        ep_consumer_selects (consumers->pdata[i], device_id, info))
      return TRUE;
  return FALSE;
}
