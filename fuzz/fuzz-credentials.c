/* fuzz-credentials: ep_credentials_verify and ep_certificate_read_info on any
 * MQTTS set.
 *
 * Input: private_key, certificate and ca_chain, separated by "@@@@" (a
 * missing part is empty). A part that starts with 0x30 (an ASN.1 SEQUENCE)
 * is DER, wrapped here into one PEM block ("PRIVATE KEY" or "CERTIFICATE"),
 * so mutations reach OpenSSL's DER decoders and not only its base64; any
 * other part is the PEM text itself, up to its first NUL.
 *
 * Invariants: no crash, leak or sanitizer report; a failure is ProtocolError
 * whose message is bus text built only from the fixed phrases of
 * credentials.c and credentials-pem.c and OpenSSL's own reason texts (so it
 * quotes no input, the private key least of all: "vocabulary"); the OpenSSL error queue is empty after each
 * call; @info is untouched by a failure; on success the dates equal an
 * independent conversion (ASN1_TIME_to_tm and calendar arithmetic, "dates"),
 * the fingerprint is GLib's SHA-256 of the DER ("sha256"), the key matches
 * the certificate by X509_check_private_key ("key-match") and
 * ep_certificate_read_info reads the same ("read-info-agrees"). */
#include "fuzz-common.h"

#include "credentials.h"
#include "errors.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#define SEPARATOR "@@@@"
#define PREFIX "the API answered with credentials that fail a check: "

/* The phrases of credentials.c and credentials-pem.c; those marked TRUE may be followed by
 * " (OpenSSL: <one of OpenSSL's reason texts>)". */
static const struct {
  const char *text;
  gboolean reason;
} phrases[] = {
  { "private_key is larger than 65536 bytes", FALSE },
  { "certificate is larger than 65536 bytes", FALSE },
  { "ca_chain is larger than 65536 bytes", FALSE },
  { "private_key is not a PEM private key (it must start with a -----BEGIN PRIVATE KEY----- "
    "block)", FALSE },
  { "the private key is encrypted (the device needs it unencrypted)", FALSE },
  { "private_key is not a PEM private key (OpenSSL cannot decode it)", FALSE },
  { "private_key is not a PEM private key (its first PEM block is not a private key)", FALSE },
  { "private_key holds something after its private key", FALSE },
  { "certificate is not a PEM certificate (it must start with a -----BEGIN CERTIFICATE----- "
    "block)", FALSE },
  { "certificate is not a PEM certificate", TRUE },
  { "certificate holds something other than PEM certificates after its first certificate",
    FALSE },
  { "certificate holds a further certificate that OpenSSL cannot read", TRUE },
  { "ca_chain holds no PEM certificate (it must start with a -----BEGIN CERTIFICATE----- block)",
    FALSE },
  { "ca_chain holds something other than PEM certificates after its first certificate", FALSE },
  { "ca_chain holds a certificate that OpenSSL cannot read", TRUE },
  { "the private key cannot make a signature", TRUE },
  { "the private key does not match the certificate (a signature made with it does not verify "
    "with the certificate's public key)", FALSE },
  { "the private key does not match the certificate (its secret part does not belong to the "
    "public key it carries, which is the certificate's)", FALSE },
  { "the certificate's public key cannot be read", TRUE },
  { "the private key does not match the certificate", FALSE },
  { "the private key does not match the certificate (they are keys of different types)", FALSE },
  { "the private key cannot be compared with the certificate (OpenSSL cannot compare keys of "
    "this type)", FALSE },
  { "the certificate is not signed by ca_chain", TRUE },
  { "the certificate's validity dates cannot be read", FALSE },
  { "the certificate's SHA-256 fingerprint cannot be computed", TRUE },
  { "OpenSSL could not allocate memory", FALSE },
};

/* Every reason text OpenSSL has (its error tables and the verify errors):
 * what may stand in a message's parentheses. */
static GHashTable *reasons;

static void
load_reasons (void)
{
  /* The tables are loaded on first use; the daemon's first error loads them. */
  if (OPENSSL_init_crypto (OPENSSL_INIT_LOAD_CRYPTO_STRINGS, NULL) != 1)
    abort ();
  reasons = g_hash_table_new (g_str_hash, g_str_equal);
  g_hash_table_add (reasons, (gpointer) "no reason given");
  for (unsigned long lib = 0; lib < 128; lib++)
    for (unsigned long reason = 1; reason < 4096; reason++)
      {
        const char *text = ERR_reason_error_string (ERR_PACK (lib, 0, reason));
        if (text != NULL)
          g_hash_table_add (reasons, (gpointer) text);
      }
  for (long code = 0; code < 256; code++)
    g_hash_table_add (reasons, (gpointer) X509_verify_cert_error_string (code));
}

static gboolean
in_vocabulary (const char *message)
{
  static const char open[] = " (OpenSSL: ";
  for (size_t i = 0; i < G_N_ELEMENTS (phrases); i++)
    {
      if (!g_str_has_prefix (message, phrases[i].text))
        continue;
      const char *rest = message + strlen (phrases[i].text);
      if (*rest == '\0')
        return TRUE;
      size_t n = strlen (rest);
      if (!phrases[i].reason || !g_str_has_prefix (rest, open) || rest[n - 1] != ')')
        continue;
      g_autofree char *reason = g_strndup (rest + strlen (open), n - strlen (open) - 1);
      if (g_hash_table_contains (reasons, reason))
        return TRUE;
    }
  return FALSE;
}

static void
check_error (const char *call, const GError *error, gboolean prefixed)
{
  FUZZ_CHECK ("error-code", error->domain == EP_ERROR && error->code == EP_ERROR_PROTOCOL_ERROR,
              "%s failed with domain %s, code %d: %s", call,
              g_quark_to_string (error->domain), error->code, error->message);
  fuzz_check_bus_text ("the error message", error->message);
  const char *message = error->message;
  if (prefixed)
    {
      FUZZ_CHECK ("vocabulary", g_str_has_prefix (message, PREFIX),
                  "%s: message without its prefix: %s", call, message);
      if (g_str_has_prefix (message, PREFIX))
        message += strlen (PREFIX);
    }
  FUZZ_CHECK ("vocabulary", in_vocabulary (message),
              "%s: a message that is not the checks' own words: %s", call, error->message);
}

/* ---- independent oracles ------------------------------------------------- */

static int
refuse (char *buf, int size, int rwflag, void *u)
{
  return -1;
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian), by calendar
 * arithmetic only. */
static gint64
days_from_civil (gint64 y, int m, int d)
{
  y -= m <= 2;
  gint64 era = (y >= 0 ? y : y - 399) / 400;
  gint64 yoe = y - era * 400;
  gint64 doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  gint64 doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

static gboolean
oracle_seconds (const ASN1_TIME *t, gint64 *out)
{
  struct tm tm;
  if (ASN1_TIME_to_tm (t, &tm) != 1)
    return FALSE;
  *out = days_from_civil ((gint64) tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday) * 86400 +
         tm.tm_hour * 3600 + tm.tm_min * 60 + tm.tm_sec;
  return TRUE;
}

/* @info against the first certificate of @cert_text, read here. */
static void
check_info (const char *call, const EpCertificateInfo *info, const char *cert_text)
{
  BIO *bio = BIO_new_mem_buf (cert_text, -1);
  X509 *cert = PEM_read_bio_X509 (bio, NULL, refuse, NULL);
  BIO_free (bio);
  FUZZ_CHECK ("read-info-agrees", cert != NULL, "%s succeeded on a text OpenSSL cannot read", call);
  if (cert == NULL)
    return;
  gint64 not_before = 0, not_after = 0;
  if (oracle_seconds (X509_get0_notBefore (cert), &not_before) &&
      oracle_seconds (X509_get0_notAfter (cert), &not_after))
    FUZZ_CHECK ("dates", info->not_before == not_before && info->not_after == not_after,
                "%s: dates %" G_GINT64_FORMAT "..%" G_GINT64_FORMAT ", expected %" G_GINT64_FORMAT
                "..%" G_GINT64_FORMAT, call, info->not_before, info->not_after, not_before,
                not_after);
  unsigned char *der = NULL;
  int len = i2d_X509 (cert, &der);
  if (len > 0)
    {
      g_autofree char *sha256 = g_compute_checksum_for_data (G_CHECKSUM_SHA256, der, (gsize) len);
      FUZZ_CHECK ("sha256", strcmp (info->sha256, sha256) == 0, "%s: sha256 %s, expected %s",
                  call, info->sha256, sha256);
    }
  OPENSSL_free (der);
  X509_free (cert);
  ERR_clear_error ();
}

static void
check_key_matches (const char *key_text, const char *cert_text)
{
  BIO *kb = BIO_new_mem_buf (key_text, -1), *cb = BIO_new_mem_buf (cert_text, -1);
  EVP_PKEY *key = PEM_read_bio_PrivateKey (kb, NULL, refuse, NULL);
  X509 *cert = PEM_read_bio_X509 (cb, NULL, refuse, NULL);
  FUZZ_CHECK ("key-match", key && cert && X509_check_private_key (cert, key) == 1,
              "an accepted set whose key X509_check_private_key does not match");
  EVP_PKEY_free (key);
  X509_free (cert);
  BIO_free (kb);
  BIO_free (cb);
  ERR_clear_error ();
}

/* ---- the target ------------------------------------------------------------ */

/* @part as the daemon would get it: PEM text, or DER wrapped as @label. */
static const char *
part_text (FuzzGuarded *guard, const uint8_t *data, size_t size, const char *label)
{
  if (size == 0 || data[0] != 0x30)
    return fuzz_guarded_copy (guard, data, size);
  BIO *bio = BIO_new (BIO_s_mem ());
  char *pem = NULL;
  if (bio == NULL || PEM_write_bio (bio, label, "", data, (long) size) <= 0)
    abort ();
  long n = BIO_get_mem_data (bio, &pem);
  const char *text = fuzz_guarded_copy (guard, (const uint8_t *) pem, (size_t) n);
  BIO_free (bio);
  return text;
}

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  fuzz_setup ();
  load_reasons ();
  return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  static FuzzGuarded guards[3];
  static const char *const labels[3] = { "PRIVATE KEY", "CERTIFICATE", "CERTIFICATE" };
  const char *texts[3];
  const uint8_t *p = data, *end = data + size;
  for (int i = 0; i < 3; i++)
    {
      const uint8_t *sep = p < end ? memmem (p, (size_t) (end - p), SEPARATOR, 4) : NULL;
      const uint8_t *stop = sep != NULL && i < 2 ? sep : end;
      texts[i] = part_text (&guards[i], p, (size_t) (stop - p), labels[i]);
      p = stop < end ? stop + 4 : end;
    }

  EpCertificateInfo info, before;
  memset (&info, 0x5a, sizeof info);
  before = info;
  g_autoptr (GError) error = NULL;
  gboolean ok = ep_credentials_verify (texts[0], texts[1], texts[2], &info, &error);
  FUZZ_CHECK ("error-queue", ERR_peek_error () == 0, "ep_credentials_verify left an OpenSSL error");
  FUZZ_CHECK ("error-iff-false", ok == (error == NULL), "result and error disagree");
  if (!ok && error != NULL)
    {
      check_error ("ep_credentials_verify", error, TRUE);
      FUZZ_CHECK ("untouched", memcmp (&info, &before, sizeof info) == 0,
                  "a refused set changed info");
    }
  if (ok)
    {
      check_info ("ep_credentials_verify", &info, texts[1]);
      check_key_matches (texts[0], texts[1]);
    }

  for (int i = 1; i < 3; i++)
    {
      EpCertificateInfo read;
      memset (&read, 0x5a, sizeof read);
      g_autoptr (GError) e = NULL;
      gboolean read_ok = ep_certificate_read_info (texts[i], &read, &e);
      FUZZ_CHECK ("error-queue", ERR_peek_error () == 0,
                  "ep_certificate_read_info left an OpenSSL error");
      FUZZ_CHECK ("error-iff-false", read_ok == (e == NULL), "result and error disagree");
      if (!read_ok && e != NULL)
        check_error ("ep_certificate_read_info", e, FALSE);
      if (read_ok)
        check_info ("ep_certificate_read_info", &read, texts[i]);
      if (i == 1 && ok)
        FUZZ_CHECK ("read-info-agrees", read_ok && memcmp (&read, &info, sizeof read) == 0,
                    "ep_certificate_read_info disagrees with ep_credentials_verify");
    }
  return 0;
}
