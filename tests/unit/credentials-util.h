/* Helpers of the credentials unit tests: keys, certificates and sets made
 * with OpenSSL, and assertions on what ep_credentials_verify says. */
#pragma once

#include "credentials.h"
#include "errors.h"
#include "unit-util.h"

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#define KEY_NOT_PEM "private_key is not a PEM private key"
#define CERT_NOT_PEM "certificate is not a PEM certificate"
#define CHECK_FAILED "the API answered with credentials that fail a check: "

/* date -u -d ... +%s */
#define T_2025 "20250101000000Z"
#define S_2025 G_GINT64_CONSTANT (1735689600)
#define T_2035 "20350101000000Z"
#define S_2035 G_GINT64_CONSTANT (2051222400)

/* ---- making keys and certificates ------------------------------------------ */

static inline EVP_PKEY *
ec_key (void)
{
  EVP_PKEY *key = EVP_EC_gen ("P-256");
  g_assert_nonnull (key);
  return key;
}

/* One RSA 2048 key for the whole run: generating it is slow under valgrind. */
static EVP_PKEY *rsa_key;

static inline EVP_PKEY *
shared_rsa_key (void)
{
  if (rsa_key == NULL)
    rsa_key = EVP_RSA_gen (2048);
  g_assert_nonnull (rsa_key);
  EVP_PKEY_up_ref (rsa_key);
  return rsa_key;
}

static inline void
add_extension (X509 *cert, X509V3_CTX *ctx, int nid, const char *value)
{
  X509_EXTENSION *ext = X509V3_EXT_conf_nid (NULL, ctx, nid, value);
  g_assert_nonnull (ext);
  g_assert_true (X509_add_ext (cert, ext, -1));
  X509_EXTENSION_free (ext);
}

typedef struct {
  const char *cn;
  const char *not_before, *not_after;   /* YYYYMMDDHHMMSSZ */
  gboolean ca;
  const char *eku;                      /* extendedKeyUsage, or NULL */
} CertSpec;

/* A certificate for @key by @issuer (NULL: self-signed) with @spec. */
static X509 *
make_cert (EVP_PKEY *key, X509 *issuer, EVP_PKEY *issuer_key, const CertSpec *spec)
{
  static long serial = 1;
  X509 *cert = X509_new ();
  g_assert_true (X509_set_version (cert, X509_VERSION_3));
  g_assert_true (ASN1_INTEGER_set (X509_get_serialNumber (cert), serial++));
  X509_NAME *name = X509_get_subject_name (cert);
  g_assert_true (X509_NAME_add_entry_by_txt (name, "CN", MBSTRING_ASC,
                                             (const unsigned char *) spec->cn, -1, -1, 0));
  g_assert_true (X509_set_issuer_name (cert, issuer ? X509_get_subject_name (issuer) : name));
  g_assert_true (ASN1_TIME_set_string_X509 (X509_getm_notBefore (cert),
                                            spec->not_before ? spec->not_before : T_2025));
  g_assert_true (ASN1_TIME_set_string_X509 (X509_getm_notAfter (cert),
                                            spec->not_after ? spec->not_after : T_2035));
  g_assert_true (X509_set_pubkey (cert, key));
  X509V3_CTX ctx;
  X509V3_set_ctx (&ctx, issuer ? issuer : cert, cert, NULL, NULL, 0);
  add_extension (cert, &ctx, NID_basic_constraints, spec->ca ? "critical,CA:TRUE" : "CA:FALSE");
  add_extension (cert, &ctx, NID_key_usage,
                 spec->ca ? "critical,keyCertSign,cRLSign" : "critical,digitalSignature");
  if (spec->eku != NULL)
    add_extension (cert, &ctx, NID_ext_key_usage, spec->eku);
  g_assert_cmpint (X509_sign (cert, issuer_key ? issuer_key : key, EVP_sha256 ()), >, 0);
  return cert;
}

static inline char *
bio_text (BIO *bio)
{
  char *data = NULL;
  long n = BIO_get_mem_data (bio, &data);
  char *text = g_strndup (data, (gsize) n);
  BIO_free (bio);
  return text;
}

static inline char *
cert_pem (X509 *cert)
{
  BIO *bio = BIO_new (BIO_s_mem ());
  g_assert_true (PEM_write_bio_X509 (bio, cert));
  return bio_text (bio);
}

/* @key in PEM: PKCS#8 or the traditional form ("EC PRIVATE KEY", "RSA
 * PRIVATE KEY"), encrypted with AES-128 under @password unless NULL. */
static inline char *
key_pem_as (EVP_PKEY *key, gboolean traditional, const char *password)
{
  BIO *bio = BIO_new (BIO_s_mem ());
  const EVP_CIPHER *cipher = password ? EVP_aes_128_cbc () : NULL;
  int len = password ? (int) strlen (password) : 0;
  int ok;
  if (traditional)
    ok = PEM_write_bio_PrivateKey_traditional (bio, key, cipher, (unsigned char *) password, len,
                                               NULL, NULL);
  else
    ok = PEM_write_bio_PKCS8PrivateKey (bio, key, cipher, (char *) password, len, NULL, NULL);
  g_assert_true (ok);
  return bio_text (bio);
}

static inline char *
key_pem (EVP_PKEY *key)
{
  return key_pem_as (key, FALSE, NULL);
}

/* A CA and a leaf it signed, as PEM texts. */
typedef struct {
  EVP_PKEY *ca_key, *key;
  X509 *ca, *cert;
  char *ca_pem, *key_pem, *cert_pem;
  char ca_name[32];     /* each set's CA has a name of its own */
} Set;

/* A set whose leaf has @key (taken) and @leaf (NULL: defaults). */
static inline void
set_make_with (Set *s, EVP_PKEY *key, const CertSpec *leaf)
{
  static int sets;
  static const CertSpec device = { "device", NULL, NULL, FALSE, "clientAuth" };
  g_snprintf (s->ca_name, sizeof s->ca_name, "Test CA %d", ++sets);
  const CertSpec ca = { s->ca_name, NULL, NULL, TRUE, NULL };
  s->ca_key = ec_key ();
  s->ca = make_cert (s->ca_key, NULL, NULL, &ca);
  s->key = key;
  s->cert = make_cert (s->key, s->ca, s->ca_key, leaf ? leaf : &device);
  s->ca_pem = cert_pem (s->ca);
  s->key_pem = key_pem (s->key);
  s->cert_pem = cert_pem (s->cert);
  ERR_clear_error ();
}

static inline void
set_make (Set *s)
{
  set_make_with (s, ec_key (), NULL);
}

static inline void
set_clear (Set *s)
{
  EVP_PKEY_free (s->ca_key);
  EVP_PKEY_free (s->key);
  X509_free (s->ca);
  X509_free (s->cert);
  g_free (s->ca_pem);
  g_free (s->key_pem);
  g_free (s->cert_pem);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Set, set_clear)

/* ---- assertions ------------------------------------------------------------ */

/* The SHA-256 of @cert's DER by GLib, not by OpenSSL's digest. */
static inline char *
der_sha256 (X509 *cert)
{
  unsigned char *der = NULL;
  int len = i2d_X509 (cert, &der);
  g_assert_cmpint (len, >, 0);
  char *hex = g_compute_checksum_for_data (G_CHECKSUM_SHA256, der, (gsize) len);
  OPENSSL_free (der);
  return hex;
}

/* Leaves a stale error in the queue: the calls must empty it all the same. */
static inline void
stale_error (void)
{
  ERR_raise (ERR_LIB_USER, 1);
  g_assert_cmpuint (ERR_peek_error (), !=, 0);
}

static inline void
assert_info (const EpCertificateInfo *info, X509 *cert, gint64 not_before, gint64 not_after)
{
  g_autofree char *sha256 = der_sha256 (cert);
  g_assert_cmpint (info->not_before, ==, not_before);
  g_assert_cmpint (info->not_after, ==, not_after);
  g_assert_cmpstr (info->sha256, ==, sha256);
}

/* The set is accepted and @info is @cert's; ep_certificate_read_info agrees. */
static inline void
assert_accepted_dates (const char *key, const char *cert_text, const char *ca, X509 *cert,
                       gint64 not_before, gint64 not_after)
{
  EpCertificateInfo info = { 0 };
  g_autoptr (GError) error = NULL;
  stale_error ();
  gboolean ok = ep_credentials_verify (key, cert_text, ca, &info, &error);
  g_assert_no_error (error);
  g_assert_true (ok);
  g_assert_cmpuint (ERR_peek_error (), ==, 0);
  assert_info (&info, cert, not_before, not_after);

  EpCertificateInfo read = { 0 };
  stale_error ();
  g_assert_true (ep_certificate_read_info (cert_text, &read, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (ERR_peek_error (), ==, 0);
  g_assert_cmpmem (&read, sizeof read, &info, sizeof info);
}

static inline void
assert_accepted (const char *key, const char *cert_text, const char *ca, X509 *cert)
{
  assert_accepted_dates (key, cert_text, ca, cert, S_2025, S_2035);
}

/* @message quotes no part of @key: neither the text nor any line of it. */
static inline void
assert_no_key_text (const char *message, const char *key)
{
  if (key == NULL || strlen (key) < 8)
    return;
  g_assert_null (strstr (message, key));
  g_auto (GStrv) lines = g_strsplit (key, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    if (strlen (lines[i]) >= 8)
      g_assert_null (strstr (message, lines[i]));
}

/* The set is refused with ProtocolError, the message holds @needle and no
 * key text, @info is untouched and the OpenSSL queue is empty. */
static inline void
assert_refused (const char *key, const char *cert, const char *ca, const char *needle)
{
  EpCertificateInfo info;
  memset (&info, 0x5a, sizeof info);
  EpCertificateInfo before = info;
  g_autoptr (GError) error = NULL;
  stale_error ();
  gboolean ok = ep_credentials_verify (key, cert, ca, &info, &error);
  g_assert_cmpuint (ERR_peek_error (), ==, 0);
  g_assert_false (ok);
  g_assert_error (error, EP_ERROR, EP_ERROR_PROTOCOL_ERROR);
  g_test_message ("refused: %s", error->message);
  g_assert_true (g_str_has_prefix (error->message, CHECK_FAILED));
  if (strstr (error->message, needle) == NULL)
    g_error ("'%s' does not hold '%s'", error->message, needle);
  g_assert_true (unit_is_printable_utf8 (error->message));
  assert_no_key_text (error->message, key);
  g_assert_cmpmem (&info, sizeof info, &before, sizeof before);
}

/* ---- matching sets ----------------------------------------------------------- */

static inline char *
with_crlf (const char *text)
{
  g_auto (GStrv) lines = g_strsplit (text, "\n", -1);
  return g_strjoinv ("\r\n", lines);
}

