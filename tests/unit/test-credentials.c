/* Unit tests of src/credentials.h, the sets: MQTTS sets made here with
 * OpenSSL (EC P-256 and RSA 2048 keys, CAs, leaves, an intermediate) are
 * checked with ep_credentials_verify. Expected dates are Unix seconds worked
 * out apart from OpenSSL (date -u), expected fingerprints are GLib's SHA-256
 * of the DER. Texts that are not sets: test-credentials-input.c. */
#include "credentials-util.h"

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

/* The decoders freed once quiet are made again by the next checks, which
 * still tell a matching key from another. */
static void
test_decoders_released (void)
{
  g_auto (Set) s = { 0 };
  set_make (&s);
  assert_accepted (s.key_pem, s.cert_pem, s.ca_pem, s.cert);
  ep_credentials_release_idle ();
  ep_credentials_release_idle ();
  assert_accepted (s.key_pem, s.cert_pem, s.ca_pem, s.cert);
  EVP_PKEY *other = ec_key ();
  g_autofree char *other_pem = key_pem (other);
  ep_credentials_release_idle ();
  assert_refused (other_pem, s.cert_pem, s.ca_pem, "the private key does not match the certificate");
  EVP_PKEY_free (other);
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

  /* ...the pairwise check (secret scalar times the generator) does not. */
  assert_refused (pem, s.cert_pem, s.ca_pem,
                  "the private key does not match the certificate (its secret part does not "
                  "belong to the public key it carries, which is the certificate's)");
  EVP_PKEY_free (spliced);
  EVP_PKEY_free (other);
}

/* An RSA key with A's public part (n, e) and B's secret parts: the key
 * types other than EC are checked with a signature, which this spliced
 * key cannot make verify with A's certificate. */
static void
test_inconsistent_rsa_key (void)
{
  g_auto (Set) s = { 0 };
  set_make_with (&s, shared_rsa_key (), NULL);
  EVP_PKEY *b = EVP_PKEY_Q_keygen (NULL, NULL, "RSA", (size_t) 1024);
  g_assert_nonnull (b);
  static const char *const from_a[] = { OSSL_PKEY_PARAM_RSA_N, OSSL_PKEY_PARAM_RSA_E };
  static const char *const from_b[] = {
    OSSL_PKEY_PARAM_RSA_D, OSSL_PKEY_PARAM_RSA_FACTOR1, OSSL_PKEY_PARAM_RSA_FACTOR2,
    OSSL_PKEY_PARAM_RSA_EXPONENT1, OSSL_PKEY_PARAM_RSA_EXPONENT2,
    OSSL_PKEY_PARAM_RSA_COEFFICIENT1,
  };
  OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new ();
  BIGNUM *bn[G_N_ELEMENTS (from_a) + G_N_ELEMENTS (from_b)] = { NULL };
  guint n = 0;
  for (guint i = 0; i < G_N_ELEMENTS (from_a); i++, n++)
    {
      g_assert_true (EVP_PKEY_get_bn_param (s.key, from_a[i], &bn[n]));
      g_assert_true (OSSL_PARAM_BLD_push_BN (bld, from_a[i], bn[n]));
    }
  for (guint i = 0; i < G_N_ELEMENTS (from_b); i++, n++)
    {
      g_assert_true (EVP_PKEY_get_bn_param (b, from_b[i], &bn[n]));
      g_assert_true (OSSL_PARAM_BLD_push_BN (bld, from_b[i], bn[n]));
    }
  OSSL_PARAM *params = OSSL_PARAM_BLD_to_param (bld);
  EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name (NULL, "RSA", NULL);
  EVP_PKEY *spliced = NULL;
  g_assert_cmpint (EVP_PKEY_fromdata_init (ctx), ==, 1);
  g_assert_cmpint (EVP_PKEY_fromdata (ctx, &spliced, EVP_PKEY_KEYPAIR, params), ==, 1);
  g_autofree char *pem = key_pem (spliced);
  /* Comparing public keys alone would let it through... */
  g_assert_cmpint (EVP_PKEY_eq (spliced, s.key), ==, 1);
  /* ...the signature does not verify. */
  assert_refused (pem, s.cert_pem, s.ca_pem,
                  "the private key does not match the certificate (a signature made with it "
                  "does not verify with the certificate's public key)");
  EVP_PKEY_CTX_free (ctx);
  OSSL_PARAM_free (params);
  OSSL_PARAM_BLD_free (bld);
  for (guint i = 0; i < n; i++)
    BN_clear_free (bn[i]);
  EVP_PKEY_free (spliced);
  EVP_PKEY_free (b);
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

/* The certificates of a ca_chain are kept for the next check with the
 * same text (credentials-pem.c): nothing of one check may carry over to the
 * next. */
static void
test_ca_chain_kept (void)
{
  g_auto (Set) s = { 0 };
  g_auto (Set) other = { 0 };
  set_make (&s);
  set_make (&other);
  static const CertSpec second_spec = { "second device", NULL, NULL, FALSE, NULL };
  EVP_PKEY *key = ec_key ();
  X509 *second = make_cert (key, s.ca, s.ca_key, &second_spec);
  g_autofree char *second_pem = cert_pem (second);
  g_autofree char *second_key = key_pem (key);
  /* Two devices of one CA in a row, then one of another CA: refused with
   * the same ca_chain. */
  assert_accepted (s.key_pem, s.cert_pem, s.ca_pem, s.cert);
  assert_accepted (second_key, second_pem, s.ca_pem, second);
  assert_refused (other.key_pem, other.cert_pem, s.ca_pem,
                  "the certificate is not signed by ca_chain (OpenSSL: unable to get local "
                  "issuer certificate)");
  assert_accepted (s.key_pem, s.cert_pem, s.ca_pem, s.cert);
  /* A ca_chain that is a device certificate: an anchor for another
   * device's check (which still fails, unsigned by it), never for its own. */
  assert_refused (other.key_pem, other.cert_pem, s.cert_pem,
                  "the certificate is not signed by ca_chain");
  assert_refused (s.key_pem, s.cert_pem, s.cert_pem,
                  "the certificate is not signed by ca_chain (OpenSSL: unable to get local "
                  "issuer certificate)");
  X509_free (second);
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


/* @text cut in half, and with a base64 character broken in its body. */
int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/credentials/ec-set", test_ec_set);
  g_test_add_func ("/credentials/decoders-released", test_decoders_released);
  g_test_add_func ("/credentials/rsa-set", test_rsa_set);
  g_test_add_func ("/credentials/mismatched-key", test_mismatched_key);
  g_test_add_func ("/credentials/inconsistent-key", test_inconsistent_key);
  g_test_add_func ("/credentials/inconsistent-rsa-key", test_inconsistent_rsa_key);
  g_test_add_func ("/credentials/foreign-ca", test_foreign_ca);
  g_test_add_func ("/credentials/certificate-in-ca-chain", test_certificate_in_ca_chain);
  g_test_add_func ("/credentials/ca-chain-kept", test_ca_chain_kept);
  g_test_add_func ("/credentials/intermediate", test_intermediate);
  g_test_add_func ("/credentials/purpose-not-required", test_purpose_not_required);
  g_test_add_func ("/credentials/clock-ignored", test_clock_ignored);
  g_test_add_func ("/credentials/dates-past-2038", test_dates_past_2038);
  int rc = g_test_run ();
  EVP_PKEY_free (rsa_key);
  return rc;
}
