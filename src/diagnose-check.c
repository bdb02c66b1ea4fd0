/* Diagnose's results (see diagnose-check.h). */
#include "diagnose-check.h"

#include <sys/stat.h>

static EpCheck *
check_take (const char *name, EpCheckLevel level, char *message)
{
  EpCheck *check = g_new0 (EpCheck, 1);
  check->name = g_strdup (name);
  check->level = level;
  check->message = message;
  return check;
}

EpCheck *
ep_check_new (const char *name, EpCheckLevel level, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  char *message = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  return check_take (name, level, message);
}

void
ep_check_free (EpCheck *check)
{
  if (check == NULL)
    return;
  g_free (check->name);
  g_free (check->message);
  g_free (check);
}

const char *
ep_check_level_name (EpCheckLevel level)
{
  switch (level)
    {
    case EP_CHECK_OK:
      return "ok";
    case EP_CHECK_WARNING:
      return "warning";
    case EP_CHECK_ERROR:
      return "error";
    }
  g_assert_not_reached ();
}

GPtrArray *
ep_checks_new (void)
{
  return g_ptr_array_new_with_free_func ((GDestroyNotify) ep_check_free);
}

void
ep_findings_add (EpFindings *findings, EpCheckLevel level, const char *fmt, ...)
{
  if (findings->text == NULL)
    findings->text = g_string_new ("");
  else
    g_string_append (findings->text, "; ");
  va_list ap;
  va_start (ap, fmt);
  g_string_append_vprintf (findings->text, fmt, ap);
  va_end (ap);
  findings->level = MAX (findings->level, level);
}

void
ep_findings_clear (EpFindings *findings)
{
  if (findings->text != NULL)
    g_string_free (findings->text, TRUE);
  *findings = (EpFindings) { 0 };
}

EpCheck *
ep_findings_take (EpFindings *findings, const char *name, const char *ok_message)
{
  EpCheckLevel level = findings->level;
  char *message = findings->text ? g_string_free (findings->text, FALSE) : g_strdup (ok_message);
  *findings = (EpFindings) { 0 };
  return check_take (name, level, message);
}

const char *
ep_file_type (mode_t mode)
{
  switch (mode & S_IFMT)
    {
    case S_IFREG:
      return "a regular file";
    case S_IFDIR:
      return "a directory";
    case S_IFLNK:
      return "a symbolic link";
    case S_IFIFO:
      return "a FIFO";
    case S_IFSOCK:
      return "a socket";
    case S_IFCHR:
      return "a character device";
    case S_IFBLK:
      return "a block device";
    default:
      return "a special file";
    }
}
