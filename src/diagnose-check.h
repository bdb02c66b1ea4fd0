/* One result of Diagnose (enapter-provisiond(8) DIAGNOSTICS): a check's
 * stable name ("config", "device:<id>", ...), its level and a message for
 * people that says what was found and, unless all is well, what to do. The
 * diagnose-*.c modules make them; bus-status.c sends them as a(sss). No
 * message ever holds a secret: they name files and URLs, never contents. */
#pragma once

#include <glib.h>
#include <sys/types.h>

typedef enum {
  EP_CHECK_OK,
  EP_CHECK_WARNING,
  EP_CHECK_ERROR,
} EpCheckLevel;

typedef struct {
  char *name;
  EpCheckLevel level;
  char *message;
} EpCheck;

EpCheck *ep_check_new (const char *name, EpCheckLevel level, const char *fmt, ...)
  G_GNUC_PRINTF (3, 4);
void ep_check_free (EpCheck *check);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (EpCheck, ep_check_free)

/* "ok", "warning" or "error": the level as the bus carries it. */
const char *ep_check_level_name (EpCheckLevel level);

/* An empty array of EpCheck that frees them. */
GPtrArray *ep_checks_new (void);

/* What one check found, problem by problem: the worst level wins and the
 * messages are joined with "; ". */
typedef struct {
  EpCheckLevel level;
  GString *text;             /* NULL until a problem is found */
} EpFindings;

void ep_findings_add (EpFindings *findings, EpCheckLevel level, const char *fmt, ...)
  G_GNUC_PRINTF (3, 4);
void ep_findings_clear (EpFindings *findings);
/* The check @name with what was found, or ok with @ok_message when nothing
 * was; clears @findings. */
EpCheck *ep_findings_take (EpFindings *findings, const char *name, const char *ok_message);

/* The file type of @mode for a message: "a FIFO", "a regular file", ... */
const char *ep_file_type (mode_t mode);
