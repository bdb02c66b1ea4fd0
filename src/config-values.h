/* The values of the configuration's keys, one parser per type (URL, path,
 * target, whole number, seconds, group name, yes/no): each stores the value
 * or says what is wrong with it. For config.c's key table only. */
#pragma once

#include <glib.h>
#include <stddef.h>

typedef struct EpKeySpec EpKeySpec;

/* A parser stores the value at @dest or returns FALSE with @problem set to
 * what is wrong with it and what it must be (never echoing secrets). */
typedef gboolean (*EpValueParser) (const EpKeySpec *spec, const char *value, void *dest,
                                   char **problem);

/* One key of the table: its section, its name, its parser, where in the
 * parsed configuration it goes and, for whole numbers, their range. */
struct EpKeySpec {
  const char *group;
  const char *key;
  EpValueParser parse;
  size_t offset;
  guint min, max;
};

/* An absolute http(s) URL without user info, query or fragment: a char *
 * without trailing '/'. */
gboolean ep_config_parse_url (const EpKeySpec *spec, const char *value, void *dest,
                              char **problem);
/* An absolute path: a char *. */
gboolean ep_config_parse_path (const EpKeySpec *spec, const char *value, void *dest,
                               char **problem);
/* As ep_config_parse_path, for a token file's path: a refused value is
 * not quoted, as it may be the token itself, pasted in its place. */
gboolean ep_config_parse_token_path (const EpKeySpec *spec, const char *value, void *dest,
                                     char **problem);
/* gateway, cloud or auto: an EpTarget. */
gboolean ep_config_parse_target (const EpKeySpec *spec, const char *value, void *dest,
                                 char **problem);
/* A whole number within the spec's range: a guint. */
gboolean ep_config_parse_uint (const EpKeySpec *spec, const char *value, void *dest,
                               char **problem);
/* Seconds from 0.01 to 3600: a double. */
gboolean ep_config_parse_seconds (const EpKeySpec *spec, const char *value, void *dest,
                                  char **problem);
/* A name NSS may be asked about (checked before NSS sees it, which aborts
 * on a huge one): a char *. */
gboolean ep_config_parse_group (const EpKeySpec *spec, const char *value, void *dest,
                                char **problem);
/* yes/no, true/false, on/off, 1/0: a gboolean. */
gboolean ep_config_parse_bool (const EpKeySpec *spec, const char *value, void *dest,
                               char **problem);

/* Whether the parser stores an allocated string, which the previous value
 * must be freed before. */
gboolean ep_config_parser_is_string (EpValueParser parse);
