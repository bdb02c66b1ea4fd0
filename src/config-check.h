/* The configuration checker's tools, for config.c: the problems found in a
 * file, collected rather than stopping at the first and written as
 * "FILE:LINE: [Section] Key: problem"; which names from the file a problem
 * may quote; the line index of a configuration text (GKeyFile gives no line
 * numbers), which reports the lines GKeyFile would refuse and the keys set
 * twice. Names the file should not have: config-names.h. */
#pragma once

#include <glib.h>

/* ---- problems ------------------------------------------------------------ */

typedef struct EpConfigProblems EpConfigProblems;

/* Problems of the file @file (the name every line starts with). */
EpConfigProblems *ep_config_problems_new (const char *file);
void ep_config_problems_free (EpConfigProblems *problems);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (EpConfigProblems, ep_config_problems_free)

/* Adds a problem at @line (0: no line: the whole file, or a value that is no
 * line's) about @key of @section (@key NULL: the section itself; both NULL:
 * the line or the file). The text says what is wrong and what to do. */
void ep_config_problems_add (EpConfigProblems *problems, guint line, const char *section,
                             const char *key, const char *fmt, ...) G_GNUC_PRINTF (5, 6);

guint ep_config_problems_count (const EpConfigProblems *problems);

/* Shows the problem added last even past EP_CONFIG_MAX_PROBLEMS: one that
 * says why many others follow must not be among those cut. */
void ep_config_problems_keep_last (EpConfigProblems *problems);

/* How many problems are shown: a file that is no configuration at all
 * (--config naming a binary) would give one a line. */
#define EP_CONFIG_MAX_PROBLEMS 100

/* The problems as NULL-terminated lines, ordered by line number (those
 * without one last), each "FILE:LINE: [Section] Key: text" (or
 * "FILE:LINE: [Section]: text", "FILE:LINE: text", "FILE: ..." without a
 * line), escaped and capped as log lines are; past EP_CONFIG_MAX_PROBLEMS,
 * one last line says how many more there are. */
char **ep_config_problems_lines (const EpConfigProblems *problems);

/* Whether a problem may quote @name, a name from the file that is none of
 * the known ones: a file that is no configuration (a token or a PEM key
 * given as --config) would otherwise have its secret quoted. TRUE for 1 to
 * @max characters, a letter first, then letters, digits and those of
 * @also. Keys: EP_CONFIG_KEY_NAME; sections: EP_CONFIG_SECTION_NAME. */
gboolean ep_config_name_is_plain (const char *name, gsize max, const char *also);
#define EP_CONFIG_KEY_NAME 32, "_-"
#define EP_CONFIG_SECTION_NAME 64, "_-. "

/* ---- the line index ------------------------------------------------------ */

typedef struct {
  guint line;            /* from 1 */
  const char *section;   /* NULL: a key before the first section header */
  const char *key;       /* NULL: the section's header */
  const char *value;     /* as GKeyFile reads it (NULL for a header) */
} EpConfigEntry;

typedef struct EpConfigIndex EpConfigIndex;

/* Indexes @data (@len bytes) line by line by GKeyFile's own rules, so the
 * index and GKeyFile never disagree. A line GKeyFile would refuse (which
 * stops it reading the whole file) goes to @problems and out of the index,
 * as do the keys under a header it would refuse, and a key with a locale
 * suffix (Key[fr]=, which GKeyFile reads apart). So does a key set a second
 * time in one section (GKeyFile keeps the last value silently); a section
 * given twice is one, as GKeyFile merges it, and not a problem. A key
 * before the first header stays in the index with no section: config.c
 * knows which section it belongs in. */
EpConfigIndex *ep_config_index_new (const char *data, gsize len, EpConfigProblems *problems);
void ep_config_index_free (EpConfigIndex *index);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (EpConfigIndex, ep_config_index_free)

/* The entries in file order. */
guint ep_config_index_len (const EpConfigIndex *index);
const EpConfigEntry *ep_config_index_get (const EpConfigIndex *index, guint i);

/* The line of @section's last @key (the value GKeyFile keeps), or, @key
 * NULL, of @section's first header; 0 when the file has none (or @section
 * is NULL). Not a search: a file of many sections is checked in linear
 * time. */
guint ep_config_index_line (const EpConfigIndex *index, const char *section, const char *key);

/* The names in the headers GKeyFile would refuse ("Gateway" of "[Gateway"),
 * as well as they can be told, in file order, NULL-terminated: the keys
 * under them are left out, which checks across sections must not take for
 * keys unset. */
const char *const *ep_config_index_broken (const EpConfigIndex *index);
