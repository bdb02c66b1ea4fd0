/* Unit tests of src/credentials.h: MQTTS sets made here with OpenSSL (EC
 * P-256 and RSA 2048 keys, CAs, leaves, an intermediate) are checked with
 * ep_credentials_verify, and certificates read with ep_certificate_read_info.
 * Expected dates are Unix seconds worked out apart from OpenSSL (date -u),
 * expected fingerprints are GLib's SHA-256 of the DER. */
#include "credentials.h"
#include "errors.h"
#include "unit-util.h"

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#define CHECK_FAILED "the API answered with credentials that fail a check: "

/* date -u -d ... +%s */
#define T_2025 "20250101000000Z"
#define S_2025 G_GINT64_CONSTANT (1735689600)
#define T_2035 "20350101000000Z"
#define S_2035 G_GINT64_CONSTANT (2051222400)

/* ---- making keys and certificates ------------------------------------------ */

static EVP_PKEY *
ec_key (void)
{
  EVP_PKEY *key = EVP_EC_gen ("P-256");
  g_assert_nonnull (key);
  return key;
}

/* One RSA 2048 key for the whole run: generating it is slow under valgrind. */
static EVP_PKEY *rsa_key;

static EVP_PKEY *
shared_rsa_key (void)
{
  if (rsa_key == NULL)
    rsa_key = EVP_RSA_gen (2048);
  g_assert_nonnull (rsa_key);
  EVP_PKEY_up_ref (rsa_key);
  return rsa_key;
}

static void
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

static char *
bio_text (BIO *bio)
{
  char *data = NULL;
  long n = BIO_get_mem_data (bio, &data);
  char *text = g_strndup (data, (gsize) n);
  BIO_free (bio);
  return text;
}

static char *
cert_pem (X509 *cert)
{
  BIO *bio = BIO_new (BIO_s_mem ());
  g_assert_true (PEM_write_bio_X509 (bio, cert));
  return bio_text (bio);
}

/* @key in PEM: PKCS#8 or the traditional form ("EC PRIVATE KEY", "RSA
 * PRIVATE KEY"), encrypted with AES-128 under @password unless NULL. */
static char *
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

static char *
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
static void
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

static void
set_make (Set *s)
{
  set_make_with (s, ec_key (), NULL);
}

static void
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
static char *
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
static void
stale_error (void)
{
  ERR_raise (ERR_LIB_USER, 1);
  g_assert_cmpuint (ERR_peek_error (), !=, 0);
}

static void
assert_info (const EpCertificateInfo *info, X509 *cert, gint64 not_before, gint64 not_after)
{
  g_autofree char *sha256 = der_sha256 (cert);
  g_assert_cmpint (info->not_before, ==, not_before);
  g_assert_cmpint (info->not_after, ==, not_after);
  g_assert_cmpstr (info->sha256, ==, sha256);
}

/* The set is accepted and @info is @cert's; ep_certificate_read_info agrees. */
static void
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

static void
assert_accepted (const char *key, const char *cert_text, const char *ca, X509 *cert)
{
  assert_accepted_dates (key, cert_text, ca, cert, S_2025, S_2035);
}

/* @message quotes no part of @key: neither the text nor any line of it. */
static void
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
static void
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

static char *
with_crlf (const char *text)
{
  g_auto (GStrv) lines = g_strsplit (text, "\n", -1);
  return g_strjoinv ("\r\n", lines);
}

static void
test_ec_set (void)
{
  g_auto (Set) s = { 0 };
  set_make (&s);
  assert_accepted (s.key_pem, s.cert_pem, s.ca_pem, s.cert);

  /* "EC PRIVATE KEY" (SEC 1) as well as PKCS#8. */
  g_autofree char *traditional = key_pem_as (s.key, TRUE, NULL);
  g_assert_true (g_str_has_prefix (traditional, "-----BEGIN EC PRIVATE KEY-----"));
  assert_accepted (traditional, s.cert_pem, s.ca_pem, s.cert);

  /* CRLF line ends and white space around the blocks. */
  g_autofree char *key = with_crlf (s.key_pem);
  g_autofree char *cert = with_crlf (s.cert_pem);
  g_autofree char *ca = g_strconcat ("\n\n", s.ca_pem, "\n  \t\n", NULL);
  assert_accepted (key, cert, ca, s.cert);
}

static void
test_rsa_set (void)
{
  /* An RSA device key under an EC CA... */
  g_auto (Set) s = { 0 };
  set_make_with (&s, shared_rsa_key (), NULL);
  assert_accepted (s.key_pem, s.cert_pem, s.ca_pem, s.cert);
  g_autofree char *traditional = key_pem_as (s.key, TRUE, NULL);
  g_assert_true (g_str_has_prefix (traditional, "-----BEGIN RSA PRIVATE KEY-----"));
  assert_accepted (traditional, s.cert_pem, s.ca_pem, s.cert);

  /* ...and an EC device key under an RSA CA. */
  static const CertSpec ca_spec = { "RSA CA", NULL, NULL, TRUE, NULL };
  static const CertSpec leaf_spec = { "device", NULL, NULL, FALSE, NULL };
  EVP_PKEY *rsa = shared_rsa_key ();
  X509 *ca = make_cert (rsa, NULL, NULL, &ca_spec);
  X509 *leaf = make_cert (s.ca_key, ca, rsa, &leaf_spec);
  g_autofree char *ca_text = cert_pem (ca);
  g_autofree char *leaf_text = cert_pem (leaf);
  g_autofree char *key_text = key_pem (s.ca_key);
  assert_accepted (key_text, leaf_text, ca_text, leaf);
  X509_free (leaf);
  X509_free (ca);
  EVP_PKEY_free (rsa);
}

/* ---- keys that do not match ------------------------------------------------- */

static void
test_mismatched_key (void)
{
  g_auto (Set) s = { 0 };
  set_make (&s);
  EVP_PKEY *other = ec_key ();
  g_autofree char *other_pem = key_pem (other);
  assert_refused (other_pem, s.cert_pem, s.ca_pem, "the private key does not match the certificate");
  /* The CA's own key is not the device's either. */
  g_autofree char *ca_key = key_pem (s.ca_key);
  assert_refused (ca_key, s.cert_pem, s.ca_pem, "the private key does not match the certificate");

  EVP_PKEY *rsa = shared_rsa_key ();
  g_autofree char *rsa_pem = key_pem (rsa);
  assert_refused (rsa_pem, s.cert_pem, s.ca_pem,
                  "the private key does not match the certificate (they are keys of different types)");
  EVP_PKEY_free (rsa);
  EVP_PKEY_free (other);
}

/* A P-256 key file whose public point is @public's and whose secret is
 * @secret's: its public part matches the certificate, its secret does not. */
static EVP_PKEY *
spliced_ec_key (EVP_PKEY *public, EVP_PKEY *secret)
{
  unsigned char point[256];
  size_t point_len = 0;
  BIGNUM *priv = NULL;
  g_assert_true (EVP_PKEY_get_octet_string_param (public, OSSL_PKEY_PARAM_PUB_KEY, point,
                                                  sizeof point, &point_len));
  g_assert_true (EVP_PKEY_get_bn_param (secret, OSSL_PKEY_PARAM_PRIV_KEY, &priv));
  OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new ();
  g_assert_true (OSSL_PARAM_BLD_push_utf8_string (bld, OSSL_PKEY_PARAM_GROUP_NAME,
                                                  "prime256v1", 0));
  g_assert_true (OSSL_PARAM_BLD_push_octet_string (bld, OSSL_PKEY_PARAM_PUB_KEY, point,
                                                   point_len));
  g_assert_true (OSSL_PARAM_BLD_push_BN (bld, OSSL_PKEY_PARAM_PRIV_KEY, priv));
  OSSL_PARAM *params = OSSL_PARAM_BLD_to_param (bld);
  EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name (NULL, "EC", NULL);
  EVP_PKEY *key = NULL;
  g_assert_cmpint (EVP_PKEY_fromdata_init (ctx), ==, 1);
  g_assert_cmpint (EVP_PKEY_fromdata (ctx, &key, EVP_PKEY_KEYPAIR, params), ==, 1);
  EVP_PKEY_CTX_free (ctx);
  OSSL_PARAM_free (params);
  OSSL_PARAM_BLD_free (bld);
  BN_clear_free (priv);
  return key;
}

static void
test_inconsistent_key (void)
{
  g_auto (Set) s = { 0 };
  set_make (&s);
  EVP_PKEY *other = ec_key ();
  EVP_PKEY *spliced = spliced_ec_key (s.key, other);
  g_autofree char *pem = key_pem (spliced);

  /* Comparing public keys alone would let it through... */
  BIO *bio = BIO_new_mem_buf (pem, -1);
  EVP_PKEY *read = PEM_read_bio_PrivateKey (bio, NULL, NULL, NULL);
  g_assert_nonnull (read);
  g_assert_cmpint (X509_check_private_key (s.cert, read), ==, 1);
  EVP_PKEY_free (read);
  BIO_free (bio);

  /* ...the signature check does not. */
  assert_refused (pem, s.cert_pem, s.ca_pem,
                  "the private key does not match the certificate (a signature made with it "
                  "does not verify with the certificate's public key)");
  EVP_PKEY_free (spliced);
  EVP_PKEY_free (other);
}

/* ---- chains ------------------------------------------------------------------ */

static void
test_foreign_ca (void)
{
  g_auto (Set) s = { 0 };
  g_auto (Set) other = { 0 };
  set_make (&s);
  set_make (&other);
  assert_refused (s.key_pem, s.cert_pem, other.ca_pem,
                  "the certificate is not signed by ca_chain (OpenSSL: unable to get local "
                  "issuer certificate)");
  /* A CA of the same name with another key: the name matches, the
   * signature does not. */
  const CertSpec impostor_spec = { s.ca_name, NULL, NULL, TRUE, NULL };
  X509 *impostor = make_cert (other.ca_key, NULL, NULL, &impostor_spec);
  g_autofree char *impostor_pem = cert_pem (impostor);
  assert_refused (s.key_pem, s.cert_pem, impostor_pem,
                  "the certificate is not signed by ca_chain (OpenSSL: certificate signature "
                  "failure)");
  X509_free (impostor);
  /* A self-signed certificate chains to nothing but itself. */
  assert_refused (s.key_pem, s.cert_pem, other.cert_pem, "the certificate is not signed by ca_chain");

  /* Every certificate of ca_chain is an anchor: one that fits suffices. */
  g_autofree char *both = g_strconcat (other.ca_pem, s.ca_pem, NULL);
  assert_accepted (s.key_pem, s.cert_pem, both, s.cert);
}

static void
test_certificate_in_ca_chain (void)
{
  g_auto (Set) s = { 0 };
  set_make (&s);
  /* The device certificate is no anchor of its own... */
  assert_refused (s.key_pem, s.cert_pem, s.cert_pem,
                  "the certificate is not signed by ca_chain (OpenSSL: unable to get local "
                  "issuer certificate)");
  /* ...also a self-signed one. */
  static const CertSpec self_spec = { "self", NULL, NULL, FALSE, NULL };
  EVP_PKEY *key = ec_key ();
  X509 *self = make_cert (key, NULL, NULL, &self_spec);
  g_autofree char *self_pem = cert_pem (self);
  g_autofree char *self_key = key_pem (key);
  assert_refused (self_key, self_pem, self_pem, "the certificate is not signed by ca_chain");
  /* A "full chain" holding it and its CA passes on the CA. */
  g_autofree char *full = g_strconcat (s.cert_pem, s.ca_pem, NULL);
  assert_accepted (s.key_pem, s.cert_pem, full, s.cert);
  X509_free (self);
  EVP_PKEY_free (key);
}

static void
test_intermediate (void)
{
  static const CertSpec root_spec = { "Root", NULL, NULL, TRUE, NULL };
  static const CertSpec inter_spec = { "Intermediate", NULL, NULL, TRUE, NULL };
  static const CertSpec leaf_spec = { "device", NULL, NULL, FALSE, "clientAuth" };
  EVP_PKEY *root_key = ec_key (), *inter_key = ec_key (), *key = ec_key ();
  X509 *root = make_cert (root_key, NULL, NULL, &root_spec);
  X509 *inter = make_cert (inter_key, root, root_key, &inter_spec);
  X509 *leaf = make_cert (key, inter, inter_key, &leaf_spec);
  g_autofree char *root_pem = cert_pem (root);
  g_autofree char *inter_pem = cert_pem (inter);
  g_autofree char *leaf_pem = cert_pem (leaf);
  g_autofree char *key_text = key_pem (key);
  g_autofree char *inter_root = g_strconcat (inter_pem, root_pem, NULL);
  g_autofree char *root_inter = g_strconcat (root_pem, inter_pem, NULL);
  g_autofree char *leaf_inter = g_strconcat (leaf_pem, inter_pem, NULL);

  /* ca_chain holds intermediate and root, in either order. */
  assert_accepted (key_text, leaf_pem, inter_root, leaf);
  assert_accepted (key_text, leaf_pem, root_inter, leaf);
  /* Partial chain: the intermediate alone is an anchor. */
  assert_accepted (key_text, leaf_pem, inter_pem, leaf);
  /* The intermediate comes with the certificate; the info is the leaf's. */
  assert_accepted (key_text, leaf_inter, root_pem, leaf);
  /* Without the intermediate the root does not reach the leaf. */
  assert_refused (key_text, leaf_pem, root_pem,
                  "the certificate is not signed by ca_chain (OpenSSL: unable to get local "
                  "issuer certificate)");
  /* An intermediate in the certificate is no anchor. */
  g_auto (Set) other = { 0 };
  set_make (&other);
  assert_refused (key_text, leaf_inter, other.ca_pem, "the certificate is not signed by ca_chain");

  X509_free (leaf);
  X509_free (inter);
  X509_free (root);
  EVP_PKEY_free (key);
  EVP_PKEY_free (inter_key);
  EVP_PKEY_free (root_key);
}

/* A set whose leaf has @leaf is accepted, with these dates. */
static void
assert_leaf_accepted (const CertSpec *leaf, gint64 not_before, gint64 not_after)
{
  g_auto (Set) s = { 0 };
  set_make_with (&s, ec_key (), leaf);
  assert_accepted_dates (s.key_pem, s.cert_pem, s.ca_pem, s.cert, not_before, not_after);
}

static void
test_purpose_not_required (void)
{
  /* serverAuth only, and no extendedKeyUsage at all: no purpose is asked. */
  static const CertSpec server = { "device", NULL, NULL, FALSE, "serverAuth" };
  static const CertSpec plain = { "device", NULL, NULL, FALSE, NULL };
  assert_leaf_accepted (&server, S_2025, S_2035);
  assert_leaf_accepted (&plain, S_2025, S_2035);
}

/* ---- the clock --------------------------------------------------------------- */

static void
test_clock_ignored (void)
{
  static const CertSpec expired = { "device", "20010101000000Z", "20020101000000Z", FALSE, NULL };
  static const CertSpec future = { "device", "20900101000000Z", "21000101000000Z", FALSE, NULL };
  assert_leaf_accepted (&expired, G_GINT64_CONSTANT (978307200), G_GINT64_CONSTANT (1009843200));
  assert_leaf_accepted (&future, G_GINT64_CONSTANT (3786912000), G_GINT64_CONSTANT (4102444800));

  /* An expired CA too. */
  static const CertSpec old_ca = { "Old CA", "20000101000000Z", "20010101000000Z", TRUE, NULL };
  EVP_PKEY *ca_key = ec_key (), *key = ec_key ();
  X509 *ca = make_cert (ca_key, NULL, NULL, &old_ca);
  X509 *leaf = make_cert (key, ca, ca_key, &expired);
  g_autofree char *ca_text = cert_pem (ca);
  g_autofree char *leaf_text = cert_pem (leaf);
  g_autofree char *key_text = key_pem (key);
  assert_accepted_dates (key_text, leaf_text, ca_text, leaf, G_GINT64_CONSTANT (978307200),
                         G_GINT64_CONSTANT (1009843200));
  X509_free (leaf);
  X509_free (ca);
  EVP_PKEY_free (key);
  EVP_PKEY_free (ca_key);
}

static void
test_dates_past_2038 (void)
{
  /* UTCTime before 2050, GeneralizedTime after: both forms, and values
   * that a 32-bit time_t cannot hold, on both sides of it. */
  static const CertSpec wide = { "device", "19500101000000Z", "21000101000000Z", FALSE, NULL };
  static const CertSpec edge = { "device", "20380119031408Z", "99991231235959Z", FALSE, NULL };
  assert_leaf_accepted (&wide, G_GINT64_CONSTANT (-631152000), G_GINT64_CONSTANT (4102444800));
  assert_leaf_accepted (&edge, G_GINT64_CONSTANT (2147483648), G_GINT64_CONSTANT (253402300799));
}

/* ---- texts that are not what they should be ------------------------------- */

#define KEY_NOT_PEM "private_key is not a PEM private key"
#define CERT_NOT_PEM "certificate is not a PEM certificate"

/* @text cut in half, and with a base64 character broken in its body. */
static char *
truncated (const char *text)
{
  return g_strndup (text, strlen (text) / 2);
}

static char *
broken_base64 (const char *text)
{
  char *copy = g_strdup (text);
  char *body = strchr (copy, '\n') + 10;
  *body = '!';
  return copy;
}

static void
test_not_pem (void)
{
  g_auto (Set) s = { 0 };
  set_make (&s);
  g_autofree char *key_half = truncated (s.key_pem);
  g_autofree char *cert_half = truncated (s.cert_pem);
  g_autofree char *ca_half = truncated (s.ca_pem);
  g_autofree char *key_broken = broken_base64 (s.key_pem);
  g_autofree char *cert_broken = broken_base64 (s.cert_pem);
  g_autofree char *ca_broken = broken_base64 (s.ca_pem);
  static const char garbage[] = "This is not PEM at all.\n";

  const struct {
    const char *key, *cert, *ca, *needle;
  } cases[] = {
    { NULL, s.cert_pem, s.ca_pem, KEY_NOT_PEM " (it must start with" },
    { "", s.cert_pem, s.ca_pem, KEY_NOT_PEM " (it must start with" },
    { " \n\t\n", s.cert_pem, s.ca_pem, KEY_NOT_PEM " (it must start with" },
    { garbage, s.cert_pem, s.ca_pem, KEY_NOT_PEM " (it must start with" },
    { s.cert_pem, s.cert_pem, s.ca_pem, KEY_NOT_PEM " (it must start with" },
    { key_half, s.cert_pem, s.ca_pem, KEY_NOT_PEM " (OpenSSL cannot decode it)" },
    { key_broken, s.cert_pem, s.ca_pem, KEY_NOT_PEM " (OpenSSL cannot decode it)" },

    { s.key_pem, NULL, s.ca_pem, CERT_NOT_PEM " (it must start with" },
    { s.key_pem, "", s.ca_pem, CERT_NOT_PEM " (it must start with" },
    { s.key_pem, garbage, s.ca_pem, CERT_NOT_PEM " (it must start with" },
    { s.key_pem, s.key_pem, s.ca_pem, CERT_NOT_PEM " (it must start with" },
    { s.key_pem, cert_half, s.ca_pem, CERT_NOT_PEM " (OpenSSL: bad end line)" },
    { s.key_pem, cert_broken, s.ca_pem, CERT_NOT_PEM " (OpenSSL: bad base64 decode)" },

    { s.key_pem, s.cert_pem, NULL, "ca_chain holds no PEM certificate" },
    { s.key_pem, s.cert_pem, "", "ca_chain holds no PEM certificate" },
    { s.key_pem, s.cert_pem, garbage, "ca_chain holds no PEM certificate" },
    { s.key_pem, s.cert_pem, s.key_pem, "ca_chain holds no PEM certificate" },
    { s.key_pem, s.cert_pem, ca_half,
      "ca_chain holds a certificate that OpenSSL cannot read (OpenSSL: bad end line)" },
    { s.key_pem, s.cert_pem, ca_broken,
      "ca_chain holds a certificate that OpenSSL cannot read (OpenSSL: bad base64 decode)" },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_test_message ("case %" G_GSIZE_FORMAT, i);
      assert_refused (cases[i].key, cases[i].cert, cases[i].ca, cases[i].needle);
    }
}

/* Accepts any password, the empty one too. */
static int
empty_password (char *buf, int size, int rwflag, void *u)
{
  return 0;
}

static void
test_encrypted_key (void)
{
  g_auto (Set) s = { 0 };
  set_make (&s);
  g_autofree char *pkcs8 = key_pem_as (s.key, FALSE, "secret");
  g_autofree char *traditional = key_pem_as (s.key, TRUE, "secret");
  g_assert_true (g_str_has_prefix (pkcs8, "-----BEGIN ENCRYPTED PRIVATE KEY-----"));
  g_assert_nonnull (strstr (traditional, "Proc-Type: 4,ENCRYPTED"));
  /* Refused at once: a prompt on the terminal would hang this test. */
  assert_refused (pkcs8, s.cert_pem, s.ca_pem, "the private key is encrypted");
  assert_refused (traditional, s.cert_pem, s.ca_pem, "the private key is encrypted");

  /* An empty password opens a key for a callback that answers 0: still an
   * encrypted key, which the device could not open without being told. */
  g_autofree char *pkcs8_empty = key_pem_as (s.key, FALSE, "");
  g_autofree char *traditional_empty = key_pem_as (s.key, TRUE, "");
  BIO *bio = BIO_new_mem_buf (pkcs8_empty, -1);
  EVP_PKEY *opened = PEM_read_bio_PrivateKey (bio, NULL, empty_password, NULL);
  g_assert_nonnull (opened);
  EVP_PKEY_free (opened);
  BIO_free (bio);
  assert_refused (pkcs8_empty, s.cert_pem, s.ca_pem, "the private key is encrypted");
  assert_refused (traditional_empty, s.cert_pem, s.ca_pem, "the private key is encrypted");
}

static void
test_extra_blocks (void)
{
  g_auto (Set) s = { 0 };
  set_make (&s);
  EVP_PKEY *other = ec_key ();
  g_autofree char *other_key = key_pem (other);
  g_autofree char *cert_half = truncated (s.ca_pem);
  static const char garbage[] = "garbage\n";
  g_autofree char *cert_garbage = g_strconcat (s.cert_pem, garbage, NULL);
  g_autofree char *cert_key = g_strconcat (s.cert_pem, s.key_pem, NULL);
  g_autofree char *cert_cut = g_strconcat (s.cert_pem, cert_half, NULL);
  g_autofree char *text_cert = g_strconcat (garbage, s.cert_pem, NULL);
  g_autofree char *key_key = g_strconcat (s.key_pem, other_key, NULL);
  g_autofree char *key_garbage = g_strconcat (s.key_pem, garbage, NULL);
  g_autofree char *key_cert = g_strconcat (s.key_pem, s.cert_pem, NULL);
  g_autofree char *ca_garbage = g_strconcat (s.ca_pem, garbage, NULL);
  g_autofree char *ca_key = g_strconcat (s.ca_pem, s.key_pem, NULL);
  /* A block OpenSSL's key reader would skip to read the next one. */
  g_autoptr (GString) odd = g_string_new (s.key_pem);
  g_string_replace (odd, "BEGIN PRIVATE KEY", "BEGIN ODD PRIVATE KEY", 1);
  g_string_replace (odd, "END PRIVATE KEY", "END ODD PRIVATE KEY", 1);
  g_string_append (odd, s.key_pem);

  static const char after_cert[] =
    "certificate holds something other than PEM certificates after its first certificate";
  assert_refused (s.key_pem, cert_garbage, s.ca_pem, after_cert);
  assert_refused (s.key_pem, cert_key, s.ca_pem, after_cert);
  assert_refused (s.key_pem, cert_cut, s.ca_pem,
                  "certificate holds a further certificate that OpenSSL cannot read");
  assert_refused (s.key_pem, text_cert, s.ca_pem, CERT_NOT_PEM " (it must start with");
  assert_refused (key_key, s.cert_pem, s.ca_pem, "private_key holds something after its private key");
  assert_refused (key_garbage, s.cert_pem, s.ca_pem, "private_key holds something after its private key");
  assert_refused (key_cert, s.cert_pem, s.ca_pem, "private_key holds something after its private key");
  assert_refused (odd->str, s.cert_pem, s.ca_pem,
                  KEY_NOT_PEM " (its first PEM block is not a private key)");
  static const char after_ca[] =
    "ca_chain holds something other than PEM certificates after its first certificate";
  assert_refused (s.key_pem, s.cert_pem, ca_garbage, after_ca);
  assert_refused (s.key_pem, s.cert_pem, ca_key, after_ca);
  EVP_PKEY_free (other);
}

/* @text padded with white space to @size bytes. */
static char *
padded (const char *text, gsize size)
{
  gsize n = strlen (text);
  g_assert_cmpuint (n, <=, size);
  char *out = unit_repeat ('\n', size);
  memcpy (out, text, n);
  return out;
}

static void
test_too_large (void)
{
  g_auto (Set) s = { 0 };
  set_make (&s);
  const gsize max = EP_CREDENTIALS_MAX_PEM_BYTES;
  g_assert_cmpuint (max, ==, 65536);
  g_autofree char *key_max = padded (s.key_pem, max);
  g_autofree char *cert_max = padded (s.cert_pem, max);
  g_autofree char *ca_max = padded (s.ca_pem, max);
  g_autofree char *key_over = padded (s.key_pem, max + 1);
  g_autofree char *cert_over = padded (s.cert_pem, max + 1);
  g_autofree char *ca_over = padded (s.ca_pem, max + 1);
  g_autofree char *huge = unit_repeat ('A', 16 * 1024 * 1024);

  /* Up to the bound: fine. */
  assert_accepted (key_max, cert_max, ca_max, s.cert);
  assert_refused (key_over, s.cert_pem, s.ca_pem, "private_key is larger than 65536 bytes");
  assert_refused (s.key_pem, cert_over, s.ca_pem, "certificate is larger than 65536 bytes");
  assert_refused (s.key_pem, s.cert_pem, ca_over, "ca_chain is larger than 65536 bytes");
  assert_refused (huge, s.cert_pem, s.ca_pem, "private_key is larger than 65536 bytes");

  EpCertificateInfo info = { 0 };
  g_autoptr (GError) error = NULL;
  g_assert_false (ep_certificate_read_info (cert_over, &info, &error));
  g_assert_error (error, EP_ERROR, EP_ERROR_PROTOCOL_ERROR);
  g_assert_cmpstr (error->message, ==, "certificate is larger than 65536 bytes");
}

/* ---- ep_certificate_read_info ------------------------------------------------- */

static void
test_read_info (void)
{
  static const CertSpec spec = { "device", "19500101000000Z", "21000101000000Z", FALSE, NULL };
  g_auto (Set) s = { 0 };
  set_make_with (&s, ec_key (), &spec);
  EpCertificateInfo info = { 0 };
  g_autoptr (GError) error = NULL;
  stale_error ();
  g_assert_true (ep_certificate_read_info (s.cert_pem, &info, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (ERR_peek_error (), ==, 0);
  assert_info (&info, s.cert, G_GINT64_CONSTANT (-631152000), G_GINT64_CONSTANT (4102444800));

  /* The first certificate of a chain; what follows is not looked at. */
  g_autofree char *chain = g_strconcat (s.cert_pem, s.ca_pem, "trailing words\n", NULL);
  EpCertificateInfo first = { 0 };
  g_assert_true (ep_certificate_read_info (chain, &first, &error));
  g_assert_no_error (error);
  g_assert_cmpmem (&first, sizeof first, &info, sizeof info);

  g_autofree char *half = truncated (s.cert_pem);
  const struct {
    const char *text, *message;
  } bad[] = {
    { NULL, CERT_NOT_PEM " (it must start with a -----BEGIN CERTIFICATE----- block)" },
    { "", CERT_NOT_PEM " (it must start with a -----BEGIN CERTIFICATE----- block)" },
    { "junk", CERT_NOT_PEM " (it must start with a -----BEGIN CERTIFICATE----- block)" },
    { s.key_pem, CERT_NOT_PEM " (it must start with a -----BEGIN CERTIFICATE----- block)" },
    { half, CERT_NOT_PEM " (OpenSSL: bad end line)" },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      EpCertificateInfo untouched;
      memset (&untouched, 0x5a, sizeof untouched);
      EpCertificateInfo before = untouched;
      g_autoptr (GError) e = NULL;
      stale_error ();
      g_assert_false (ep_certificate_read_info (bad[i].text, &untouched, &e));
      g_assert_cmpuint (ERR_peek_error (), ==, 0);
      g_assert_error (e, EP_ERROR, EP_ERROR_PROTOCOL_ERROR);
      g_assert_cmpstr (e->message, ==, bad[i].message);
      assert_no_key_text (e->message, s.key_pem);
      g_assert_cmpmem (&untouched, sizeof untouched, &before, sizeof before);
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/credentials/ec-set", test_ec_set);
  g_test_add_func ("/credentials/rsa-set", test_rsa_set);
  g_test_add_func ("/credentials/mismatched-key", test_mismatched_key);
  g_test_add_func ("/credentials/inconsistent-key", test_inconsistent_key);
  g_test_add_func ("/credentials/foreign-ca", test_foreign_ca);
  g_test_add_func ("/credentials/certificate-in-ca-chain", test_certificate_in_ca_chain);
  g_test_add_func ("/credentials/intermediate", test_intermediate);
  g_test_add_func ("/credentials/purpose-not-required", test_purpose_not_required);
  g_test_add_func ("/credentials/clock-ignored", test_clock_ignored);
  g_test_add_func ("/credentials/dates-past-2038", test_dates_past_2038);
  g_test_add_func ("/credentials/not-pem", test_not_pem);
  g_test_add_func ("/credentials/encrypted-key", test_encrypted_key);
  g_test_add_func ("/credentials/extra-blocks", test_extra_blocks);
  g_test_add_func ("/credentials/too-large", test_too_large);
  g_test_add_func ("/credentials/read-info", test_read_info);
  int rc = g_test_run ();
  EVP_PKEY_free (rsa_key);
  return rc;
}
