/* Token and CA files named by the configuration (see config-files.h). */
#include "config-files.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

/* A secret another user may read is no longer one; one another user owns
 * can be swapped under us. systemd's credentials are 0400, owned by the
 * service's user or root. */
static char *
check_private (const struct stat *st)
{
  if ((st->st_mode & 077) != 0)
    return g_strdup_printf ("has mode %04o, open to users other than its owner",
                            (unsigned) (st->st_mode & 07777));
  if (!ep_config_owner_trusted (st))
    return g_strdup_printf ("is owned by uid %u, neither root nor the daemon's user (uid %u)",
                            (unsigned) st->st_uid, (unsigned) geteuid ());
  return NULL;
}

gboolean
ep_config_owner_trusted (const struct stat *st)
{
  return st->st_uid == 0 || st->st_uid == geteuid ();
}

char *
ep_config_read_file (const char *path, gsize max, EpFileAccess access, char **data,
                     gsize *len)
{
  *data = NULL;
  *len = 0;
  int fd = open (path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (fd < 0)
    {
      int err = errno;
      char *problem = g_strdup_printf ("cannot be read (%s)", g_strerror (err));
      errno = err;
      return problem;
    }
  /* fstat of the open file, not stat of the path: what is checked is what
   * is read. */
  struct stat st;
  char *problem = NULL;
  if (fstat (fd, &st) < 0)
    problem = g_strdup_printf ("cannot be read (%s)", g_strerror (errno));
  else if (!S_ISREG (st.st_mode))
    problem = g_strdup ("is not a regular file");
  else if ((gsize) st.st_size > max)
    problem = g_strdup_printf ("is larger than %zu bytes", max);
  else if (access == EP_FILE_PRIVATE)
    problem = check_private (&st);
  if (problem == NULL)
    {
      /* What fstat saw, and what it may have grown to, up to @max. */
      *data = g_malloc0 (max + 1);
      ssize_t n = 1;
      while (*len < max && (n = read (fd, *data + *len, max - *len)) > 0)
        *len += (gsize) n;
      if (n < 0)
        {
          problem = g_strdup_printf ("cannot be read (%s)", g_strerror (errno));
          g_clear_pointer (data, g_free);
          *len = 0;
        }
    }
  close (fd);
  errno = 0;
  return problem;
}

static gboolean
token_is_valid (const char *token)
{
  if (*token == '\0' || strlen (token) > EP_MAX_TOKEN_BYTES)
    return FALSE;
  /* It goes into an HTTP header: visible ASCII only, no CR/LF injection. */
  for (const char *c = token; *c; c++)
    if (*c < 0x21 || *c > 0x7e)
      return FALSE;
  return TRUE;
}

char *
ep_config_read_token (const char *path, char **token)
{
  *token = NULL;
  g_autofree char *data = NULL;
  gsize len = 0;
  /* Two bytes more than a token: a line end, and a sign of more. */
  g_autofree char *problem =
    ep_config_read_file (path, EP_MAX_TOKEN_BYTES + 2, EP_FILE_PRIVATE, &data, &len);
  if (problem != NULL)
    return g_strdup_printf ("%s; a token file must be a regular file of at most %d bytes that "
                            "only its owner, root or the daemon's user, may read (chmod 0600)",
                            problem, EP_MAX_TOKEN_BYTES);
  /* A NUL would silently cut the token short. */
  gboolean has_nul = memchr (data, '\0', len) != NULL;
  g_strchomp (data);
  /* An empty credential stands for "none" (the unit's fallback for a
   * missing token file): calls needing it fail with AuthenticationFailed. */
  if (!has_nul && *data == '\0')
    return NULL;
  if (has_nul || !token_is_valid (data))
    {
      explicit_bzero (data, len);
      return g_strdup_printf ("must hold one token of 1-%d visible ASCII characters; write "
                              "the token alone into it", EP_MAX_TOKEN_BYTES);
    }
  *token = g_steal_pointer (&data);
  return NULL;
}

/* A CA file holds no secret: an encrypted block is refused rather than
 * OpenSSL's default, which asks for a pass phrase on the terminal. */
static int
no_pass_phrase (char *buf, int size, int rwflag, void *data)
{
  return -1;
}

/* Counts certificates as libcurl's OpenSSL back end loads a CAFile
 * (X509_load_cert_crl_file): one malformed PEM block fails the whole file. */
static int
count_certificates (const char *data, gsize len)
{
  BIO *bio = BIO_new_mem_buf (data, (int) len);
  if (bio == NULL)
    return -1;
  STACK_OF (X509_INFO) *infos = PEM_X509_INFO_read_bio (bio, NULL, no_pass_phrase, NULL);
  BIO_free (bio);
  int count = 0;
  for (int i = 0; infos != NULL && i < sk_X509_INFO_num (infos); i++)
    if (sk_X509_INFO_value (infos, i)->x509 != NULL)
      count++;
  sk_X509_INFO_pop_free (infos, X509_INFO_free);
  /* libcurl shares the thread's error queue: leave nothing behind. */
  ERR_clear_error ();
  return count;
}

char *
ep_config_check_ca_file (const char *path)
{
  g_autofree char *data = NULL;
  gsize len = 0;
  char *problem = ep_config_read_file (path, EP_MAX_CA_FILE_BYTES, EP_FILE_ANY, &data, &len);
  if (problem != NULL)
    return problem;
  if (count_certificates (data, len) <= 0)
    return g_strdup ("holds no PEM certificate (-----BEGIN CERTIFICATE-----) that OpenSSL "
                     "can read");
  return NULL;
}

/* README's sample file (and provisiond.conf(5)) documents keys with trailing
 * "# ..." remarks, which GKeyFile would keep as part of the value; drop them
 * so it works verbatim. */
char *
ep_config_clean_value (const char *raw)
{
  char *value = g_strdup (raw);
  for (char *p = value; *p; p++)
    if (*p == '#' && (p == value || g_ascii_isspace (p[-1])))
      {
        *p = '\0';
        break;
      }
  return g_strstrip (value);
}
