/* Names in a configuration file: the key table's, and near ones (see
 * config-names.h). */
#include "config-names.h"

#include "consumers.h"

#include <string.h>

const EpKeySpec *
ep_config_table_find (const EpKeyTable *table, const char *group, const char *key)
{
  for (size_t i = 0; i < table->n_keys; i++)
    if (strcmp (table->keys[i].group, group) == 0 && strcmp (table->keys[i].key, key) == 0)
      return &table->keys[i];
  return NULL;
}

gboolean
ep_config_table_has_group (const EpKeyTable *table, const char *group)
{
  for (size_t i = 0; i < table->n_keys; i++)
    if (strcmp (table->keys[i].group, group) == 0)
      return TRUE;
  return FALSE;
}

/* The table's sections in order, or the keys of @group: NULL-terminated,
 * the strings the table's. */
static GPtrArray *
table_names (const EpKeyTable *table, const char *group)
{
  GPtrArray *names = g_ptr_array_new ();
  for (size_t i = 0; i < table->n_keys; i++)
    {
      const EpKeySpec *k = &table->keys[i];
      const char *name = group ? k->key : k->group;
      if ((group == NULL || strcmp (k->group, group) == 0) &&
          !g_ptr_array_find_with_equal_func (names, name, g_str_equal, NULL))
        g_ptr_array_add (names, (gpointer) name);
    }
  g_ptr_array_add (names, NULL);
  return names;
}

/* "A, B and C" (@last between the last two), each in @open and @close. */
static char *
name_list (const char *const *names, const char *open, const char *close, const char *last)
{
  GString *s = g_string_new (NULL);
  for (size_t i = 0; names[i]; i++)
    g_string_append_printf (s, "%s%s%s%s", i == 0 ? "" : names[i + 1] ? ", " : last, open,
                            names[i], close);
  return g_string_free (s, FALSE);
}

/* The sections other than @group that have @key, as "[A] or [B]"; NULL
 * when none has. */
static char *
groups_with_key (const EpKeyTable *table, const char *key, const char *group)
{
  g_autoptr (GPtrArray) found = g_ptr_array_new ();
  for (size_t i = 0; i < table->n_keys; i++)
    if (strcmp (table->keys[i].key, key) == 0 && g_strcmp0 (table->keys[i].group, group) != 0)
      g_ptr_array_add (found, (gpointer) table->keys[i].group);
  if (found->len == 0)
    return NULL;
  g_ptr_array_add (found, NULL);
  return name_list ((const char *const *) found->pdata, "[", "]", " or ");
}

/* Edits between @a and @b ignoring ASCII case, a swap of neighbours counting
 * as one (optimal string alignment); more than @limit is given as
 * @limit + 1. */
static guint
distance (const char *a, const char *b, guint limit)
{
  size_t la = strlen (a), lb = strlen (b);
  if ((la > lb ? la - lb : lb - la) > limit)
    return limit + 1;
  /* Three rows of the table: two back, one back, this one. */
  g_autofree guint *rows = g_new (guint, 3 * (lb + 1));
  guint *prev2 = rows, *prev = rows + lb + 1, *cur = rows + 2 * (lb + 1);
  for (size_t j = 0; j <= lb; j++)
    prev[j] = (guint) j;
  for (size_t i = 1; i <= la; i++)
    {
      cur[0] = (guint) i;
      for (size_t j = 1; j <= lb; j++)
        {
          char ca = g_ascii_tolower (a[i - 1]), cb = g_ascii_tolower (b[j - 1]);
          guint best = MIN (prev[j] + 1, cur[j - 1] + 1);
          best = MIN (best, prev[j - 1] + (ca != cb));
          if (i > 1 && j > 1 && ca == g_ascii_tolower (b[j - 2]) &&
              g_ascii_tolower (a[i - 2]) == cb)
            best = MIN (best, prev2[j - 2] + 1);
          cur[j] = best;
        }
      guint *t = prev2;
      prev2 = prev;
      prev = cur;
      cur = t;
    }
  return MIN (prev[lb], limit + 1);
}

const char *
ep_config_suggest (const char *name, const char *const *candidates)
{
  const char *best = NULL;
  guint best_d = G_MAXUINT;
  for (size_t i = 0; candidates[i]; i++)
    {
      size_t len = strlen (candidates[i]);
      guint limit = len <= 4 ? 1 : len <= 8 ? 2 : 3;
      guint d = distance (name, candidates[i], limit);
      if (d <= limit && d < best_d)
        {
          best = candidates[i];
          best_d = d;
        }
    }
  return best;
}

/* A consumer's section misspelt ("consumer x", "Consumers x"): the name
 * meant, "" for "Consumer" without a name; NULL when it is no consumer's. */
static const char *
near_consumer (const char *section)
{
  static const char *const consumer[] = { "Consumer", NULL };
  const char *space = strchr (section, ' ');
  g_autofree char *word = space ? g_strndup (section, (gsize) (space - section))
                                : g_strdup (section);
  if (ep_config_suggest (word, consumer) == NULL)
    return NULL;
  const char *name = space ? space + 1 : "";
  while (*name == ' ')
    name++;
  return name;
}

char *
ep_config_section_meant (const EpKeyTable *table, const char *name)
{
  if (ep_consumer_is_section (name) || ep_config_table_has_group (table, name))
    return g_strdup (name);
  const char *consumer = near_consumer (name);
  if (consumer != NULL)
    return *consumer ? g_strconcat ("Consumer ", consumer, NULL) : NULL;
  g_autoptr (GPtrArray) groups = table_names (table, NULL);
  return g_strdup (ep_config_suggest (name, (const char *const *) groups->pdata));
}

char *
ep_config_unknown_section (const EpKeyTable *table, const EpConfigEntry *e,
                           EpConfigProblems *problems)
{
  char *meant = ep_config_section_meant (table, e->section);
  /* Near a known one, it is a typo: no secret. */
  gboolean plain = ep_config_name_is_plain (e->section, EP_CONFIG_SECTION_NAME);
  const char *shown = plain || (meant && !g_str_has_prefix (meant, "Consumer ")) ? e->section
                                                                               : NULL;
  g_autoptr (GPtrArray) groups = table_names (table, NULL);
  g_autofree char *list = name_list ((const char *const *) groups->pdata, "[", "]", ", ");
  if (meant != NULL && shown != NULL)
    ep_config_problems_add (problems, e->line, shown, NULL,
                            "unknown section; did you mean '[%s]'?", meant);
  else if (near_consumer (e->section) != NULL)
    ep_config_problems_add (problems, e->line, shown, NULL, "unknown section; a consumer's "
                            "section is [Consumer NAME]: %s",
                            meant ? "fix the header" : "give it a name");
  else
    ep_config_problems_add (problems, e->line, shown, NULL, "unknown section%s; sections are "
                            "%s and [Consumer NAME]: fix its name or remove it",
                            shown ? "" : " (its name is not shown: it does not look like one)",
                            list);
  return meant;
}

/* @key when a problem may quote it: near a known name or plain. */
static const char *
key_shown (const char *key, const char *near)
{
  return near || ep_config_name_is_plain (key, EP_CONFIG_KEY_NAME) ? key : NULL;
}

void
ep_config_unknown_key (const EpKeyTable *table, const EpConfigEntry *e,
                       const char *const *known, const char *what, EpConfigProblems *problems)
{
  g_autoptr (GPtrArray) own = table_names (table, e->section);
  if (known == NULL)
    known = (const char *const *) own->pdata;
  g_autofree char *section = g_strdup_printf ("[%s]", e->section);
  const char *near = ep_config_suggest (e->key, known);
  /* A consumer's keys are its own: [Keystore] Path says nothing of one. */
  g_autofree char *elsewhere = what ? NULL : groups_with_key (table, e->key, e->section);
  g_autofree char *list = name_list (known, "", "", " and ");
  const char *shown = key_shown (e->key, near);
  if (near != NULL)
    ep_config_problems_add (problems, e->line, e->section, shown,
                            "unknown key; did you mean '%s'?", near);
  else if (elsewhere != NULL)
    ep_config_problems_add (problems, e->line, e->section, shown,
                            "unknown key in %s; it belongs in %s: move it there", section,
                            elsewhere);
  else
    ep_config_problems_add (problems, e->line, e->section, shown, "unknown key%s; %s has %s: "
                            "fix its name or remove it",
                            shown ? "" : " (its name is not shown: it does not look like one)",
                            what ? what : section, list);
}

void
ep_config_key_outside (const EpKeyTable *table, const EpConfigEntry *e,
                       EpConfigProblems *problems)
{
  /* Only a known key is named: the line may be a token's or a key's
   * (a --config naming a token file). */
  g_autoptr (GPtrArray) where = g_ptr_array_new_with_free_func (g_free);
  for (size_t i = 0; i < table->n_keys; i++)
    if (strcmp (table->keys[i].key, e->key) == 0)
      g_ptr_array_add (where, g_strdup_printf ("[%s]", table->keys[i].group));
  if (g_strv_contains (ep_consumer_keys, e->key))
    g_ptr_array_add (where, g_strdup ("[Consumer NAME]"));
  if (where->len == 0)
    {
      ep_config_problems_add (problems, e->line, NULL, NULL, "a Key=value line comes before "
                              "any section header; put it under its section's header");
      return;
    }
  g_ptr_array_add (where, NULL);
  g_autofree char *list = name_list ((const char *const *) where->pdata, "", "", " or ");
  ep_config_problems_add (problems, e->line, NULL, e->key, "the key comes before any section "
                          "header; put it under %s", list);
}
