/* STUB until the credentials-check branch lands. */
#pragma once
#include <glib.h>
typedef struct {
  gint64 not_before;
  gint64 not_after;
  char sha256[65];
} EpCertificateInfo;
gboolean ep_credentials_verify (const char *private_key_pem, const char *certificate_pem,
                                const char *ca_chain_pem, EpCertificateInfo *info,
                                GError **error);
gboolean ep_certificate_read_info (const char *certificate_pem, EpCertificateInfo *info,
                                   GError **error);
