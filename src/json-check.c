#include "json-check.h"

#include <string.h>

typedef struct {
  const char *p;
  const char *end;
  gboolean strict_strings;
  const char *problem;
} Scanner;

static gboolean value (Scanner *s, int depth);

static gboolean
fail (Scanner *s, const char *problem)
{
  if (s->problem == NULL)
    s->problem = problem;
  return FALSE;
}

static void
skip_space (Scanner *s)
{
  while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
    s->p++;
}

static gboolean
literal (Scanner *s, const char *word)
{
  size_t n = strlen (word);
  if ((size_t) (s->end - s->p) < n || memcmp (s->p, word, n) != 0)
    return fail (s, "not JSON");
  s->p += n;
  return TRUE;
}

static int
hex4 (Scanner *s)
{
  if (s->end - s->p < 4)
    return -1;
  int v = 0;
  for (int i = 0; i < 4; i++)
    {
      int d = g_ascii_xdigit_value (s->p[i]);
      if (d < 0)
        return -1;
      v = v * 16 + d;
    }
  s->p += 4;
  return v;
}

/* After "\u": one code unit, or a surrogate pair. */
static gboolean
unicode_escape (Scanner *s)
{
  int unit = hex4 (s);
  if (unit < 0)
    return fail (s, "a string has a broken \\u escape");
  if (unit == 0 && s->strict_strings)
    return fail (s, "a string holds a NUL character");
  if (unit >= 0xDC00 && unit <= 0xDFFF)
    return fail (s, "a string holds a lone surrogate");
  if (unit >= 0xD800 && unit <= 0xDBFF)
    {
      if (s->end - s->p < 2 || s->p[0] != '\\' || s->p[1] != 'u')
        return fail (s, "a string holds a lone surrogate");
      s->p += 2;
      int low = hex4 (s);
      if (low < 0xDC00 || low > 0xDFFF)
        return fail (s, "a string holds a lone surrogate");
    }
  return TRUE;
}

static gboolean
string (Scanner *s)
{
  s->p++;   /* the opening quote */
  while (s->p < s->end)
    {
      unsigned char c = (unsigned char) *s->p++;
      if (c == '"')
        return TRUE;
      if (c < 0x20)
        return fail (s, "a string holds a raw control character");
      if (c != '\\')
        continue;
      if (s->p >= s->end)
        break;
      char e = *s->p++;
      if (e == 'u')
        {
          if (!unicode_escape (s))
            return FALSE;
        }
      else if (strchr ("\"\\/bfnrt", e) == NULL || e == '\0')
        return fail (s, "a string has an unknown escape");
    }
  return fail (s, "a string is not terminated");
}

static gboolean
digits (Scanner *s)
{
  const char *start = s->p;
  while (s->p < s->end && g_ascii_isdigit (*s->p))
    s->p++;
  return s->p > start;
}

static gboolean
number (Scanner *s)
{
  if (*s->p == '-')
    s->p++;
  if (s->p < s->end && *s->p == '0')
    s->p++;
  else if (!digits (s))
    return fail (s, "not JSON");
  if (s->p < s->end && *s->p == '.')
    {
      s->p++;
      if (!digits (s))
        return fail (s, "a number is malformed");
    }
  if (s->p < s->end && (*s->p == 'e' || *s->p == 'E'))
    {
      s->p++;
      if (s->p < s->end && (*s->p == '+' || *s->p == '-'))
        s->p++;
      if (!digits (s))
        return fail (s, "a number is malformed");
    }
  return TRUE;
}

/* The members of an object or the elements of an array, after the opener. */
static gboolean
container (Scanner *s, char close, int depth)
{
  if (depth > EP_JSON_MAX_DEPTH)
    return fail (s, "nested too deeply");
  s->p++;
  skip_space (s);
  if (s->p < s->end && *s->p == close)
    {
      s->p++;
      return TRUE;
    }
  for (;;)
    {
      skip_space (s);
      if (close == '}')
        {
          if (s->p >= s->end || *s->p != '"' || !string (s))
            return fail (s, "an object member has no name");
          skip_space (s);
          if (s->p >= s->end || *s->p++ != ':')
            return fail (s, "not JSON");
        }
      if (!value (s, depth))
        return FALSE;
      skip_space (s);
      if (s->p >= s->end)
        return fail (s, "not JSON");
      char c = *s->p++;
      if (c == close)
        return TRUE;
      if (c != ',')
        return fail (s, "not JSON");
    }
}

static gboolean
value (Scanner *s, int depth)
{
  skip_space (s);
  if (s->p >= s->end)
    return fail (s, "not JSON");
  switch (*s->p)
    {
    case '{':
      return container (s, '}', depth + 1);
    case '[':
      return container (s, ']', depth + 1);
    case '"':
      return string (s);
    case 't':
      return literal (s, "true");
    case 'f':
      return literal (s, "false");
    case 'n':
      return literal (s, "null");
    default:
      return (*s->p == '-' || g_ascii_isdigit (*s->p)) ? number (s) : fail (s, "not JSON");
    }
}

gboolean
ep_json_check (const char *text, gsize len, gboolean strict_strings, const char **problem)
{
  Scanner s = { .p = text, .end = text + len, .strict_strings = strict_strings };
  if (!g_utf8_validate_len (text, len, NULL))
    fail (&s, "not valid UTF-8");
  else if (value (&s, 0))
    {
      skip_space (&s);
      if (s.p != s.end)
        fail (&s, "more than one JSON value");
    }
  if (problem != NULL)
    *problem = s.problem;
  return s.problem == NULL;
}
