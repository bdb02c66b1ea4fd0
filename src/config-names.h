/* Names in a configuration file, for config.c: look-ups in the key table,
 * the nearest known name to a mistyped one ("did you mean"), and the
 * problem to report for an unknown section, an unknown key or a key before
 * any section header, each saying what to write instead. */
#pragma once

#include "config-check.h"
#include "config-values.h"

/* config.c's key table. */
typedef struct {
  const EpKeySpec *keys;
  size_t n_keys;
} EpKeyTable;

/* The key @key of @group, or NULL. */
const EpKeySpec *ep_config_table_find (const EpKeyTable *table, const char *group,
                                       const char *key);

/* Whether the table has keys of @group. */
gboolean ep_config_table_has_group (const EpKeyTable *table, const char *group);

/* The name of @candidates (NULL-terminated) nearest to @name, ignoring
 * ASCII case, when it is near enough to be a typo of it (an edit for names
 * of up to 4 characters, two up to 8, three beyond; a swap of neighbours is
 * one edit); NULL otherwise. */
const char *ep_config_suggest (const char *name, const char *const *candidates);

/* Reports the header @e of a section neither the table's nor a consumer's:
 * the section (or [Consumer NAME]) it is near, or the sections there are. */
void ep_config_unknown_section (const EpKeyTable *table, const EpConfigEntry *e,
                                EpConfigProblems *problems);

/* Reports @e's key, none of @known (NULL: the table's keys of its section),
 * which @what ("a consumer section"; NULL: "[Section]") has: the key it is
 * near, the section it belongs in, or the keys there are. */
void ep_config_unknown_key (const EpKeyTable *table, const EpConfigEntry *e,
                            const char *const *known, const char *what,
                            EpConfigProblems *problems);

/* Reports @e, a key before any section header: the section it belongs in. */
void ep_config_key_outside (const EpKeyTable *table, const EpConfigEntry *e,
                            EpConfigProblems *problems);
