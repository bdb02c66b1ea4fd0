/* MQTTS credentials checked with OpenSSL 3 (see credentials.h); reading
 * the texts is credentials-pem.c's.
 *
 * The checks return a problem string (docs/architecture.md "Errors", 3.):
 * fixed phrases, at most followed by one of OpenSSL's own reason texts, which
 * come from OpenSSL's tables and never from the input. The entry points wrap
 * it into the GError and empty the OpenSSL error queue on every path. */
#include "credentials.h"

#include "credentials-pem.h"
#include "errors.h"

#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/provider.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#define CHECK_FAILED "the API answered with credentials that fail a check: "

/* ---- the checks ---------------------------------------------------------- */

/* EVP_PKEY_eq compares public parts only, and a private key file carries a
 * copy of its public key that need not belong to its secret part. A
 * signature made with the private key and verified with the certificate's
 * key is what the broker's TLS will do: it proves the secret part matches
 * (for the types other than EC, check_ec_pairwise below).
 * NULL digest: the key's default (SHA-256 for RSA and EC, none for EdDSA). */
static char *
check_signature (EVP_PKEY *key, EVP_PKEY *public_key)
{
  static const unsigned char message[] = "enapter-provisiond: does this key match?";
  EVP_MD_CTX *sign = EVP_MD_CTX_new (), *verify = EVP_MD_CTX_new ();
  unsigned char *signature = NULL;
  size_t len = 0;
  char *problem = NULL;
  if (sign == NULL || verify == NULL)
    problem = ep_openssl_no_memory ();
  else if (EVP_DigestSignInit (sign, NULL, NULL, NULL, key) != 1 ||
           EVP_DigestSign (sign, NULL, &len, message, sizeof message) != 1 ||
           (signature = OPENSSL_malloc (len)) == NULL ||
           EVP_DigestSign (sign, signature, &len, message, sizeof message) != 1)
    problem = g_strdup_printf ("the private key cannot make a signature (OpenSSL: %s)",
                               ep_openssl_reason ());
  else if (EVP_DigestVerifyInit (verify, NULL, NULL, NULL, public_key) != 1 ||
           EVP_DigestVerify (verify, signature, len, message, sizeof message) != 1)
    problem = g_strdup ("the private key does not match the certificate (a signature made "
                        "with it does not verify with the certificate's public key)");
  OPENSSL_free (signature);
  EVP_MD_CTX_free (sign);
  EVP_MD_CTX_free (verify);
  return problem;
}

/* For an EC key the same proof costs a third of a signature and its
 * verification (bench/run --callgrind: 0.7 M instructions against 2.0 M,
 * of a check's 4.6 M): OpenSSL's pairwise check that the secret scalar
 * times the generator is the key's public point, which EVP_PKEY_eq found
 * equal to the certificate's. Not for RSA: its pairwise check tests the
 * primes, far slower than a signature. Only with OpenSSL's own providers:
 * OpenSSL takes a key manager without a check for a key that passes. */
static char *
check_ec_pairwise (EVP_PKEY *key, EVP_PKEY *public_key)
{
  const OSSL_PROVIDER *provider = EVP_PKEY_get0_provider (key);
  const char *name = provider ? OSSL_PROVIDER_get0_name (provider) : NULL;
  if (name == NULL || (strcmp (name, "default") != 0 && strcmp (name, "fips") != 0))
    return check_signature (key, public_key);
  EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey (NULL, key, NULL);
  if (ctx == NULL)
    return ep_openssl_no_memory ();
  int r = EVP_PKEY_pairwise_check (ctx);
  EVP_PKEY_CTX_free (ctx);
  if (r == 1)
    return NULL;
  if (r == -2)
    {
      /* Not supported after all: its error would stand for the signature's. */
      ERR_clear_error ();
      return check_signature (key, public_key);
    }
  return g_strdup ("the private key does not match the certificate (its secret part does not "
                   "belong to the public key it carries, which is the certificate's)");
}

static char *
check_key_matches (EVP_PKEY *key, X509 *cert)
{
  EVP_PKEY *public_key = X509_get0_pubkey (cert);
  if (public_key == NULL)
    return g_strdup_printf ("the certificate's public key cannot be read (OpenSSL: %s)",
                            ep_openssl_reason ());
  switch (EVP_PKEY_eq (key, public_key))
    {
    case 1:
      return EVP_PKEY_is_a (key, "EC") ? check_ec_pairwise (key, public_key)
                                        : check_signature (key, public_key);
    case 0:
      return g_strdup ("the private key does not match the certificate");
    case -1:
      return g_strdup ("the private key does not match the certificate (they are keys of "
                       "different types)");
    default:
      return g_strdup ("the private key cannot be compared with the certificate (OpenSSL "
                       "cannot compare keys of this type)");
    }
}

/* Chains @cert (with @intermediates, untrusted) to an anchor of @store. No
 * purpose is set, so none is required (a device certificate without
 * clientAuth still passes, as with OpenSSL's defaults); trust is OpenSSL's
 * default, which PARTIAL_CHAIN makes any certificate of the store. */
static char *
check_chain (X509 *cert, STACK_OF (X509) *intermediates, X509_STORE *store)
{
  X509_STORE_CTX *ctx = X509_STORE_CTX_new ();
  if (ctx == NULL || !X509_STORE_CTX_init (ctx, store, cert, intermediates))
    {
      X509_STORE_CTX_free (ctx);
      return ep_openssl_no_memory ();
    }
  /* The API's answer is checked for what it is, not for when: the clock
   * may be wrong (no RTC yet) and renewal handles expiry. */
  X509_STORE_CTX_set_flags (ctx, X509_V_FLAG_NO_CHECK_TIME | X509_V_FLAG_PARTIAL_CHAIN);
  char *problem = NULL;
  if (X509_verify_cert (ctx) != 1)
    problem = g_strdup_printf ("the certificate is not signed by ca_chain (OpenSSL: %s)",
                               X509_verify_cert_error_string (X509_STORE_CTX_get_error (ctx)));
  X509_STORE_CTX_free (ctx);
  return problem;
}

/* ---- what the daemon reads from a certificate --------------------------- */

/* Seconds since 1970 of @t, from OpenSSL's difference in days and seconds:
 * no time_t on the way, so years past 2038 come out right also where time_t
 * has 32 bits. */
static gboolean
unix_seconds (const ASN1_TIME *t, gint64 *seconds)
{
  /* Not ASN1_TIME_set (NULL, 0): its time_t argument arrives garbled where
   * libcrypto's time_t has 32 bits and ours 64 (Debian 12 armhf). */
  ASN1_TIME *epoch = ASN1_TIME_new ();
  int days = 0, secs = 0;
  gboolean ok = epoch != NULL && ASN1_TIME_set_string (epoch, "19700101000000Z") == 1 &&
                t != NULL && ASN1_TIME_diff (&days, &secs, epoch, t) == 1;
  ASN1_TIME_free (epoch);
  if (ok)
    *seconds = (gint64) days * 86400 + secs;
  return ok;
}

static char *
read_info (X509 *cert, EpCertificateInfo *info)
{
  EpCertificateInfo read = { 0 };
  if (!unix_seconds (X509_get0_notBefore (cert), &read.not_before) ||
      !unix_seconds (X509_get0_notAfter (cert), &read.not_after))
    return g_strdup ("the certificate's validity dates cannot be read");
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (X509_digest (cert, EVP_sha256 (), md, &len) != 1 || len != 32)
    return g_strdup_printf ("the certificate's SHA-256 fingerprint cannot be computed "
                            "(OpenSSL: %s)", ep_openssl_reason ());
  static const char hex[] = "0123456789abcdef";
  for (unsigned int i = 0; i < len; i++)
    {
      read.sha256[2 * i] = hex[md[i] >> 4];
      read.sha256[2 * i + 1] = hex[md[i] & 0xf];
    }
  read.sha256[64] = '\0';
  *info = read;
  return NULL;
}

/* ---- entry points ---------------------------------------------------------- */

/* Sizes first: nothing larger reaches OpenSSL. strnlen, so a huge text is
 * not read to its end either. */
static char *
check_size (const char *name, const char *text)
{
  if (text != NULL && strnlen (text, EP_CREDENTIALS_MAX_PEM_BYTES + 1) > EP_CREDENTIALS_MAX_PEM_BYTES)
    return g_strdup_printf ("%s is larger than %d bytes", name, EP_CREDENTIALS_MAX_PEM_BYTES);
  return NULL;
}

static char *
verify_set (const char *key_pem, const char *cert_pem, const char *ca_pem,
            EpCertificateInfo *info)
{
  char *problem = check_size ("private_key", key_pem);
  if (problem == NULL)
    problem = check_size ("certificate", cert_pem);
  if (problem == NULL)
    problem = check_size ("ca_chain", ca_pem);
  if (problem != NULL)
    return problem;

  EVP_PKEY *key = NULL;
  X509 *cert = NULL;
  STACK_OF (X509) *intermediates = sk_X509_new_null ();
  X509_STORE *store = X509_STORE_new ();
  if (intermediates == NULL || store == NULL)
    problem = ep_openssl_no_memory ();
  EpKeyDecoder *decoder = problem == NULL ? ep_key_decoder_take () : NULL;
  if (problem == NULL)
    problem = ep_pem_read_private_key (decoder, key_pem, &key);
  if (problem == NULL)
    problem = ep_pem_read_certificates (cert_pem, &cert, intermediates);
  if (problem == NULL)
    problem = ep_pem_read_ca_chain (ca_pem, store, cert);
  if (problem == NULL)
    problem = check_key_matches (key, cert);
  if (problem == NULL)
    problem = check_chain (cert, intermediates, store);
  if (problem == NULL)
    problem = read_info (cert, info);
  ep_key_decoder_return (decoder);
  /* OpenSSL clears the key's secret parts as it frees them. */
  EVP_PKEY_free (key);
  X509_free (cert);
  sk_X509_pop_free (intermediates, X509_free);
  X509_STORE_free (store);
  return problem;
}

char *
ep_credentials_check (const char *private_key_pem, const char *certificate_pem,
                      const char *ca_chain_pem, EpCertificateInfo *info)
{
  g_return_val_if_fail (info != NULL, g_strdup ("no place for the certificate's dates"));
  /* A stale error of someone else's must not pass for the reason of ours. */
  ERR_clear_error ();
  char *problem = verify_set (private_key_pem, certificate_pem, ca_chain_pem, info);
  /* One place for every path: libcurl's TLS in this thread must not find
   * our failures in the queue. */
  ERR_clear_error ();
  return problem;
}

gboolean
ep_credentials_verify (const char *private_key_pem, const char *certificate_pem,
                       const char *ca_chain_pem, EpCertificateInfo *info, GError **error)
{
  g_return_val_if_fail (info != NULL, FALSE);
  char *problem = ep_credentials_check (private_key_pem, certificate_pem, ca_chain_pem, info);
  if (problem == NULL)
    return TRUE;
  g_set_error (error, EP_ERROR, EP_ERROR_PROTOCOL_ERROR, CHECK_FAILED "%s", problem);
  g_free (problem);
  return FALSE;
}

gboolean
ep_certificate_read_info (const char *certificate_pem, EpCertificateInfo *info, GError **error)
{
  g_return_val_if_fail (info != NULL, FALSE);
  ERR_clear_error ();
  char *problem = check_size ("certificate", certificate_pem);
  if (problem == NULL)
    {
      X509 *cert = NULL;
      problem = ep_pem_read_first_certificate (certificate_pem, &cert);
      if (problem == NULL)
        problem = read_info (cert, info);
      X509_free (cert);
    }
  ERR_clear_error ();
  if (problem == NULL)
    return TRUE;
  g_set_error_literal (error, EP_ERROR, EP_ERROR_PROTOCOL_ERROR, problem);
  g_free (problem);
  return FALSE;
}

void
ep_credentials_thread_done (void)
{
  OPENSSL_thread_stop ();
}

void
ep_credentials_release_idle (void)
{
  ep_key_decoders_release_idle ();
}
