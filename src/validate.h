/* The input rules (enapter-provisiond(8) "Input rules"), checked before any
 * HTTP request, and the plain-name rule (README "Keystore") for ids that
 * become keystore paths. */
#pragma once

#include "kinds.h"

/* Checks one value against @rule; on failure returns FALSE with @problem
 * saying what a valid value looks like. @str is used for string rules,
 * @num for number rules. */
gboolean ep_validate_value (EpRule rule, const char *str, double num, char **problem);

/* Checks every argument of a call; the EP_ERROR_INVALID_ARGUMENT message
 * names the first argument that fails. */
gboolean ep_validate_args (const EpArgs *args, GError **error);

/* TRUE for a character fit for names and messages on the bus: not a control
 * character and not a Unicode noncharacter. */
gboolean ep_unichar_is_plain (gunichar c);

/* TRUE when @s (possibly empty) is valid UTF-8 of plain characters only. */
gboolean ep_is_plain_text (const char *s);

/* TRUE when @name may be used as one keystore directory name: 1-128 bytes,
 * no '/', not "." or "..", only plain characters, valid UTF-8, and not
 * starting with '.' (reserved for temporaries). */
gboolean ep_is_plain_name (const char *name);
