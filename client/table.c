/* enapter-provisionctl: tables for people, as systemd's tools print them:
 * aligned columns under headers, a footer, both left out by --no-legend,
 * and, on a terminal, made to fit its width by shortening the columns that
 * may give way (with an ellipsis), or else printed whole. */
#include "ctl.h"

#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

/* The narrowest a shortened column becomes (or its header, if wider). */
#define MIN_SHRUNK 8

gsize
ctl_display_width (const char *s)
{
  gsize width = 0;
  for (const char *p = s; *p; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);
      width += g_unichar_iszerowidth (c) ? 0 : g_unichar_iswide (c) ? 2 : 1;
    }
  return width;
}

gboolean
ctl_utf8 (void)
{
  return g_get_charset (NULL);
}

guint
ctl_terminal_width (void)
{
  /* Piped output is for programs: never shortened. */
  if (!isatty (STDOUT_FILENO))
    return 0;
  guint64 columns = 0;
  const char *env = g_getenv ("COLUMNS");
  if (env != NULL && g_ascii_string_to_unsigned (env, 10, 1, G_MAXUINT16, &columns, NULL))
    return (guint) columns;
  struct winsize ws;
  if (ioctl (STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
    return ws.ws_col;
  return 0;
}

char *
ctl_ellipsize (const char *s, gsize width)
{
  if (ctl_display_width (s) <= width)
    return g_strdup (s);
  const char *ellipsis = ctl_utf8 () ? "…" : "...";
  gsize ellipsis_width = ctl_display_width (ellipsis);
  if (width <= ellipsis_width)
    return g_utf8_substring (ellipsis, 0, (glong) width);

  GString *out = g_string_new (NULL);
  gsize used = 0;
  for (const char *p = s; *p; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);
      gsize w = g_unichar_iszerowidth (c) ? 0 : g_unichar_iswide (c) ? 2 : 1;
      if (used + w > width - ellipsis_width)
        break;
      g_string_append_unichar (out, c);
      used += w;
    }
  g_string_append (out, ellipsis);
  return g_string_free (out, FALSE);
}

/* Takes width from the shrinkable columns, in their order, until the table
 * fits @limit. Returns whether it fits; when it cannot, @widths stay as
 * they are (the table is printed whole and the terminal wraps it: cutting
 * would lose text and still not fit). */
static gboolean
fit (const CtlColumn *columns, gsize n_columns, gsize *widths, guint limit)
{
  gsize total = 2 * (n_columns - 1);
  for (gsize c = 0; c < n_columns; c++)
    total += widths[c];
  if (limit == 0 || total <= limit)
    return TRUE;
  gsize excess = total - limit;
  g_autofree gsize *shrunk = g_memdup2 (widths, n_columns * sizeof *widths);
  for (int rank = 1; excess > 0 && rank <= (int) n_columns; rank++)
    for (gsize c = 0; excess > 0 && c < n_columns; c++)
      {
        if (columns[c].shrink != rank)
          continue;
        gsize min = MIN (shrunk[c], MAX (ctl_display_width (columns[c].header), MIN_SHRUNK));
        gsize give = MIN (excess, shrunk[c] - min);
        shrunk[c] -= give;
        excess -= give;
      }
  if (excess > 0)
    return FALSE;
  memcpy (widths, shrunk, n_columns * sizeof *widths);
  return TRUE;
}

/* The widest cell of each column (and its header, unless --no-legend). */
static gsize *
natural_widths (Ctl *ctl, const CtlColumn *columns, gsize n_columns, GPtrArray *cells)
{
  guint n_rows = cells->len / n_columns;
  gsize *widths = g_new0 (gsize, n_columns);
  for (gsize c = 0; c < n_columns; c++)
    {
      if (!ctl->no_legend)
        widths[c] = ctl_display_width (columns[c].header);
      for (guint r = 0; r < n_rows; r++)
        widths[c] = MAX (widths[c], ctl_display_width (cells->pdata[r * n_columns + c]));
    }
  return widths;
}

gboolean
ctl_table_fits (Ctl *ctl, const CtlColumn *columns, gsize n_columns, GPtrArray *cells)
{
  g_autofree gsize *widths = natural_widths (ctl, columns, n_columns, cells);
  return fit (columns, n_columns, widths, ctl_terminal_width ());
}

static void
print_row (const char *const *cells, gsize n_columns, const gsize *widths)
{
  for (gsize c = 0; c < n_columns; c++)
    {
      g_autofree char *text = ctl_ellipsize (cells[c], widths[c]);
      fputs (text, stdout);
      if (c + 1 < n_columns)
        printf ("%*s", (int) (widths[c] - ctl_display_width (text) + 2), "");
    }
  putchar ('\n');
}

void
ctl_print_table (Ctl *ctl, const CtlColumn *columns, gsize n_columns, GPtrArray *cells,
                 const char *footer)
{
  guint n_rows = cells->len / n_columns;
  g_autofree gsize *widths = natural_widths (ctl, columns, n_columns, cells);
  fit (columns, n_columns, widths, ctl_terminal_width ());

  if (!ctl->no_legend)
    {
      g_autofree const char **headers = g_new0 (const char *, n_columns);
      for (gsize c = 0; c < n_columns; c++)
        headers[c] = columns[c].header;
      print_row (headers, n_columns, widths);
    }
  for (guint r = 0; r < n_rows; r++)
    print_row ((const char *const *) &cells->pdata[r * n_columns], n_columns, widths);
  if (!ctl->no_legend && footer != NULL)
    printf ("\n%s\n", footer);
}
