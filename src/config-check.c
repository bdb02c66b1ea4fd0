/* Problems, the line index and "did you mean" (see config-check.h). */
#include "config-check.h"

#include "log.h"

#include <string.h>

/* As log.c caps a line: a problem quoting a huge value stays readable. */
#define MAX_PROBLEM_LINE 4096
#define BOM "\xef\xbb\xbf"

/* ---- problems ------------------------------------------------------------ */

typedef struct {
  guint line;
  guint seq;             /* order of discovery, among problems of one line */
  gboolean keep;         /* shown past EP_CONFIG_MAX_PROBLEMS */
  char *section;
  char *key;
  char *text;
} Problem;

struct EpConfigProblems {
  char *file;
  GPtrArray *list;       /* Problem */
};

static void
problem_free (Problem *p)
{
  g_free (p->section);
  g_free (p->key);
  g_free (p->text);
  g_free (p);
}

EpConfigProblems *
ep_config_problems_new (const char *file)
{
  EpConfigProblems *problems = g_new0 (EpConfigProblems, 1);
  problems->file = g_strdup (file);
  problems->list = g_ptr_array_new_with_free_func ((GDestroyNotify) problem_free);
  return problems;
}

void
ep_config_problems_free (EpConfigProblems *problems)
{
  if (problems == NULL)
    return;
  g_ptr_array_unref (problems->list);
  g_free (problems->file);
  g_free (problems);
}

void
ep_config_problems_add (EpConfigProblems *problems, guint line, const char *section,
                        const char *key, const char *fmt, ...)
{
  Problem *p = g_new0 (Problem, 1);
  p->line = line;
  p->seq = problems->list->len;
  p->section = g_strdup (section);
  p->key = g_strdup (key);
  va_list ap;
  va_start (ap, fmt);
  p->text = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  g_ptr_array_add (problems->list, p);
}

guint
ep_config_problems_count (const EpConfigProblems *problems)
{
  return problems->list->len;
}

void
ep_config_problems_keep_last (EpConfigProblems *problems)
{
  if (problems->list->len > 0)
    ((Problem *) problems->list->pdata[problems->list->len - 1])->keep = TRUE;
}

gboolean
ep_config_name_is_plain (const char *name, gsize max, const char *also)
{
  if (!g_ascii_isalpha (name[0]))
    return FALSE;
  gsize n = 0;
  for (; name[n]; n++)
    if (n == max || !(g_ascii_isalnum (name[n]) || strchr (also, name[n]) != NULL))
      return FALSE;
  return TRUE;
}

/* By line, those without a line last; in order of discovery within one. */
static gint
compare_problems (gconstpointer a, gconstpointer b)
{
  const Problem *x = *(const Problem *const *) a;
  const Problem *y = *(const Problem *const *) b;
  guint lx = x->line ? x->line : G_MAXUINT, ly = y->line ? y->line : G_MAXUINT;
  if (lx != ly)
    return lx < ly ? -1 : 1;
  return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static char *
format_problem (const char *file, const Problem *p)
{
  GString *s = g_string_new (file);
  if (p->line)
    g_string_append_printf (s, ":%u", p->line);
  g_string_append (s, ": ");
  if (p->section)
    g_string_append_printf (s, "[%s]%s", p->section, p->key ? " " : "");
  if (p->key)
    g_string_append (s, p->key);
  if (p->section || p->key)
    g_string_append (s, ": ");
  g_string_append (s, p->text);
  g_autofree char *raw = g_string_free (s, FALSE);
  /* Names and values come from the file: no control character of theirs
   * may end the line or forge another. */
  return ep_log_escape (raw, MAX_PROBLEM_LINE);
}

char **
ep_config_problems_lines (const EpConfigProblems *problems)
{
  /* A copy would take over the list's free function. */
  g_autoptr (GPtrArray) sorted = g_ptr_array_new ();
  g_ptr_array_extend (sorted, problems->list, NULL, NULL);
  g_ptr_array_sort (sorted, compare_problems);
  /* Those kept take their place by line; the rest fill what is left. */
  guint kept = 0;
  for (guint i = 0; i < sorted->len; i++)
    kept += ((const Problem *) sorted->pdata[i])->keep;
  guint room = EP_CONFIG_MAX_PROBLEMS - MIN (kept, EP_CONFIG_MAX_PROBLEMS);
  GPtrArray *lines = g_ptr_array_new ();
  for (guint i = 0; i < sorted->len; i++)
    {
      const Problem *p = sorted->pdata[i];
      if (!p->keep && room == 0)
        continue;
      if (!p->keep)
        room--;
      g_ptr_array_add (lines, format_problem (problems->file, p));
    }
  if (sorted->len > lines->len)
    g_ptr_array_add (lines, g_strdup_printf ("%s: %u more problems; fix those above first, "
                                             "and check that this is the configuration file",
                                             problems->file, sorted->len - lines->len));
  g_ptr_array_add (lines, NULL);
  return (char **) g_ptr_array_free (lines, FALSE);
}

/* ---- the line index ------------------------------------------------------ */

struct EpConfigIndex {
  GArray *entries;       /* EpConfigEntry; its strings are owned */
  GHashTable *lines;     /* "section" → first header line, "section\037key" → last line */
  GPtrArray *broken;     /* names in refused headers, NULL-terminated */
};

static void
entry_clear (EpConfigEntry *e)
{
  g_free ((char *) e->section);
  g_free ((char *) e->key);
  g_free ((char *) e->value);
}

typedef enum {
  LINE_BLANK,            /* empty, blanks only, or a # comment */
  LINE_HEADER,
  LINE_KEY,
  LINE_LOCALE,           /* Key[locale]=value */
  LINE_BAD,
} LineKind;

/* A line GKeyFile takes for a section header, good or bad. */
static gboolean
header_like (const char *line, gsize len)
{
  const char *p = line;
  while (p < line + len && g_ascii_isspace (*p))
    p++;
  return p < line + len && *p == '[';
}

/* A key line GKeyFile takes but lists no key for: "Key[locale]=value";
 * @name and @value get the key and the locale. */
static gboolean
locale_key (const char *line, gsize len, char **name, char **value)
{
  const char *eq = memchr (line, '=', len);
  if (eq == NULL)
    return FALSE;
  g_autofree char *key = g_strstrip (g_strndup (line, (gsize) (eq - line)));
  char *open = strchr (key, '[');
  size_t n = strlen (key);
  if (open == NULL || n == 0 || key[n - 1] != ']')
    return FALSE;
  key[n - 1] = '\0';
  *value = g_strdup (open + 1);
  *open = '\0';
  *name = g_strdup (key);
  return TRUE;
}

/* GKeyFile's own verdict on one line: a header must load as a file of its
 * own, a key as the one line under a header. @kf and @text are scratch,
 * kept from line to line: a file of many lines costs no more each. */
static LineKind
classify (GKeyFile *kf, GString *text, const char *line, gsize len, char **name, char **value)
{
  const char *p = line;
  while (p < line + len && g_ascii_isspace (*p))
    p++;
  if (p == line + len || *p == '#')
    return LINE_BLANK;
  if (header_like (line, len))
    {
      if (!g_key_file_load_from_data (kf, line, len, G_KEY_FILE_NONE, NULL))
        return LINE_BAD;
      *name = g_key_file_get_start_group (kf);
      return LINE_HEADER;
    }
  /* Under a second group: GKeyFile checks Encoding= in the first one. */
  g_string_assign (text, "[j]\n[k]\n");
  g_string_append_len (text, line, (gssize) len);
  if (!g_key_file_load_from_data (kf, text->str, text->len, G_KEY_FILE_NONE, NULL))
    return LINE_BAD;
  g_auto (GStrv) keys = g_key_file_get_keys (kf, "k", NULL, NULL);
  if (keys == NULL || keys[0] == NULL)
    return locale_key (line, len, name, value) ? LINE_LOCALE : LINE_BAD;
  *name = g_strdup (keys[0]);
  *value = g_key_file_get_value (kf, "k", keys[0], NULL);
  return LINE_KEY;
}

/* The name in a header GKeyFile refuses, as well as it can be told: from
 * the '[' to the first ']' or the line's end, without surrounding blanks. */
static char *
header_name (const char *line, gsize len)
{
  const char *p = memchr (line, '[', len);
  const char *end = line + len;
  const char *close = memchr (p, ']', (size_t) (end - p));
  return g_strstrip (g_strndup (p + 1, (gsize) ((close ? close : end) - p - 1)));
}

static gboolean
has_control (const char *s)
{
  for (; *s; s++)
    if (g_ascii_iscntrl (*s))
      return TRUE;
  return FALSE;
}

static const char *
bad_line_problem (const char *line, gsize len)
{
  if (header_like (line, len))
    {
      /* "[NAME]" between blanks: only the name is wrong. */
      g_autofree char *whole = g_strstrip (g_strndup (line, len));
      g_autofree char *name = header_name (line, len);
      const char *close = strchr (whole, ']');
      gboolean alone = close != NULL && close[1] == '\0';
      if (alone && strcmp (whole, "[]") == 0)
        return "the section header has no name; write the section's name between '[' and "
               "']', or remove the line";
      if (alone && has_control (name))
        return "the section's name holds a control character (a tab, an escape...); remove "
               "it";
      return "not a section header: write it as [NAME] alone on its line, NAME without "
             "'[' or ']'; fix the line or remove it";
    }
  if (memchr (line, '=', len) != NULL)
    return "the text before '=' is not a key name (no '[' or ']', no blank at either end); "
           "fix the line or remove it";
  return "the line is neither a [Section] header, a Key=value pair nor a # comment; fix it "
         "or remove it";
}

typedef struct {
  EpConfigIndex *index;
  EpConfigProblems *problems;
  char *section;         /* the current section; NULL before any or after a bad header */
  gboolean broken;       /* under a header GKeyFile refuses: its keys are left out */
  GHashTable *seen;      /* "section\037key" → first line */
  GKeyFile *kf;          /* classify ()'s scratch */
  GString *text;
} Scan;

static char *
line_id (const char *section, const char *key)
{
  return key ? g_strconcat (section, "\037", key, NULL) : g_strdup (section);
}

/* Remembers where @key of @section was first set; FALSE with the first line
 * in @first when it was set before. */
static gboolean
first_time (Scan *s, const char *section, const char *key, guint line, guint *first)
{
  char *id = line_id (section, key);
  gpointer old = g_hash_table_lookup (s->seen, id);
  if (old != NULL)
    {
      g_free (id);
      *first = GPOINTER_TO_UINT (old);
      return FALSE;
    }
  g_hash_table_insert (s->seen, id, GUINT_TO_POINTER (line));
  return TRUE;
}

static void
add_entry (Scan *s, guint line, const char *key, char *value)
{
  EpConfigEntry e = { .line = line, .section = g_strdup (s->section), .key = g_strdup (key),
                      .value = value };
  g_array_append_val (s->index->entries, e);
  if (s->section == NULL)
    return;
  /* A key's last line (the value GKeyFile keeps), a section's first. */
  char *id = line_id (s->section, key);
  if (key != NULL || !g_hash_table_contains (s->index->lines, id))
    g_hash_table_insert (s->index->lines, id, GUINT_TO_POINTER (line));
  else
    g_free (id);
}

/* A name from the file, quoted only when plain (see
 * ep_config_name_is_plain). */
static const char *
plain_or_null (const char *name, gsize max, const char *also)
{
  return name && ep_config_name_is_plain (name, max, also) ? name : NULL;
}

static void
report_again (Scan *s, guint n, const char *key, guint first)
{
  const char *section = plain_or_null (s->section, EP_CONFIG_SECTION_NAME);
  const char *shown = section ? plain_or_null (key, EP_CONFIG_KEY_NAME) : NULL;
  if (shown != NULL)
    ep_config_problems_add (s->problems, n, section, shown, "set again (first at line %u), and "
                            "only the last value would count; remove one of them", first);
  else
    ep_config_problems_add (s->problems, n, NULL, NULL, "the key of line %u is set again, and "
                            "only the last value would count; remove one of them", first);
}

static void
report_locale (Scan *s, guint n, const char *key, const char *locale)
{
  const char *section = plain_or_null (s->section, EP_CONFIG_SECTION_NAME);
  const char *shown = plain_or_null (key, EP_CONFIG_KEY_NAME);
  g_autofree char *suffix = ep_config_name_is_plain (locale, 32, "_-.@")
                                ? g_strdup_printf ("[%s]", locale) : g_strdup ("the [...] suffix");
  ep_config_problems_add (s->problems, n, section, shown,
                          "locale-suffixed keys are not supported; remove %s", suffix);
}

static void
scan_line (Scan *s, guint n, const char *line, gsize len)
{
  if (memchr (line, '\0', len) != NULL)
    {
      /* GKeyFile would silently read the line only up to it. */
      ep_config_problems_add (s->problems, n, NULL, NULL, "the line holds a NUL byte; remove "
                              "it");
      return;
    }
  g_autofree char *name = NULL;
  g_autofree char *value = NULL;
  guint first = 0;
  switch (classify (s->kf, s->text, line, len, &name, &value))
    {
    case LINE_BLANK:
      return;
    case LINE_BAD:
      ep_config_problems_add (s->problems, n, NULL, NULL, "%s", bad_line_problem (line, len));
      if (header_like (line, len))
        {
          g_clear_pointer (&s->section, g_free);
          s->broken = TRUE;
          g_ptr_array_insert (s->index->broken, (gint) s->index->broken->len - 1,
                              header_name (line, len));
        }
      return;
    case LINE_HEADER:
      /* Given again, it is the same section: GKeyFile merges the two. */
      g_free (s->section);
      s->section = g_strdup (name);
      s->broken = FALSE;
      add_entry (s, n, NULL, NULL);
      return;
    case LINE_LOCALE:
      if (!s->broken)
        report_locale (s, n, name, value);
      return;
    case LINE_KEY:
      if (s->broken)
        return;
      if (s->section != NULL && !first_time (s, s->section, name, n, &first))
        report_again (s, n, name, first);
      add_entry (s, n, name, g_steal_pointer (&value));
      return;
    }
}

EpConfigIndex *
ep_config_index_new (const char *data, gsize len, EpConfigProblems *problems)
{
  EpConfigIndex *index = g_new0 (EpConfigIndex, 1);
  index->entries = g_array_new (FALSE, FALSE, sizeof (EpConfigEntry));
  g_array_set_clear_func (index->entries, (GDestroyNotify) entry_clear);
  index->lines = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  index->broken = g_ptr_array_new_with_free_func (g_free);
  g_ptr_array_add (index->broken, NULL);
  Scan s = { .index = index, .problems = problems,
             .seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL),
             .kf = g_key_file_new (), .text = g_string_new (NULL) };
  const char *end = data + len;
  if (len >= 3 && memcmp (data, BOM, 3) == 0)
    {
      /* GKeyFile refuses the whole file for it; the rest is checked as if
       * it were not there. */
      ep_config_problems_add (problems, 1, NULL, NULL, "the file starts with a byte order "
                              "mark, which the parser refuses; save the file as UTF-8 without "
                              "one");
      data += 3;
    }
  guint n = 1;
  for (const char *line = data; line < end; n++)
    {
      const char *nl = memchr (line, '\n', (size_t) (end - line));
      /* With its '\n': GKeyFile drops a '\r' before one. */
      const char *stop = nl ? nl + 1 : end;
      scan_line (&s, n, line, (gsize) (stop - line));
      line = nl ? nl + 1 : end;
    }
  g_free (s.section);
  g_hash_table_unref (s.seen);
  g_key_file_free (s.kf);
  g_string_free (s.text, TRUE);
  return index;
}

void
ep_config_index_free (EpConfigIndex *index)
{
  if (index == NULL)
    return;
  g_array_unref (index->entries);
  g_hash_table_unref (index->lines);
  g_ptr_array_unref (index->broken);
  g_free (index);
}

guint
ep_config_index_len (const EpConfigIndex *index)
{
  return index->entries->len;
}

const EpConfigEntry *
ep_config_index_get (const EpConfigIndex *index, guint i)
{
  return &g_array_index (index->entries, EpConfigEntry, i);
}

guint
ep_config_index_line (const EpConfigIndex *index, const char *section, const char *key)
{
  if (section == NULL)
    return 0;
  g_autofree char *id = line_id (section, key);
  return GPOINTER_TO_UINT (g_hash_table_lookup (index->lines, id));
}

const char *const *
ep_config_index_broken (const EpConfigIndex *index)
{
  return (const char *const *) index->broken->pdata;
}
