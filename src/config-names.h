/* Names in a configuration file, for config.c: look-ups in the key table,
 * the nearest known name to a mistyped one ("did you mean"), and the
 * problem to report for an unknown section, an unknown key or a key before
 * any section header, each saying what to write instead. A name that is
 * none of the known ones is quoted only when it is near one or plain
 * (ep_config_name_is_plain): it may be a pasted secret. */
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

/* The section @name stands for: itself when it is the table's or a
 * consumer's, else the one it is near ("Gateway" for "Gatway", "Consumer a"
 * for "consumer a"); NULL for none. */
char *ep_config_section_meant (const EpKeyTable *table, const char *name);

/* Reports the header @e of a section neither the table's nor a consumer's:
 * the section (or [Consumer NAME]) it is near, or the sections there are.
 * Returns the section it is near (ep_config_section_meant), or NULL. */
char *ep_config_unknown_section (const EpKeyTable *table, const EpConfigEntry *e,
                                 EpConfigProblems *problems);

/* Reports @e's key, none of @known (NULL: the table's keys of its section),
 * which @what ("a consumer section"; NULL: "[Section]") has: the key it is
 * near, the section it belongs in, or the keys there are. */
void ep_config_unknown_key (const EpKeyTable *table, const EpConfigEntry *e,
                            const char *const *known, const char *what,
                            EpConfigProblems *problems);

/* Reports @e, a key before any section header: the section it belongs in
 * when it is a known key, named only then. */
void ep_config_key_outside (const EpKeyTable *table, const EpConfigEntry *e,
                            EpConfigProblems *problems);
