/* Unit tests of src/credentials.h, the texts that are not sets: not PEM,
 * encrypted keys, extra blocks, sizes, kinds of key; and
 * ep_certificate_read_info. The sets themselves: test-credentials.c. */
#include "credentials-util.h"

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

/* Only RSA (up to 8192 bits), EC and Ed25519 keys: signing with a huge RSA
 * key would stall the daemon's loop for minutes. The 8400-bit key is a
 * fixture (made once with openssl genpkey: 40 s), a DSA key is made here. */
static void
test_key_kinds (void)
{
  Set ok = { 0 };
  set_make (&ok);
  g_autofree char *big = NULL;
  g_autoptr (GError) read_error = NULL;
  g_file_get_contents (g_test_get_filename (G_TEST_DIST, "data", "rsa-8400-key.pem", NULL), &big,
                       NULL, &read_error);
  g_assert_no_error (read_error);
  assert_refused (big, ok.cert_pem, ok.ca_pem, "RSA key of 8400 bits");

  EVP_PKEY_CTX *pctx = EVP_PKEY_CTX_new_from_name (NULL, "DSA", NULL);
  EVP_PKEY *params = NULL;
  g_assert_nonnull (pctx);
  g_assert_cmpint (EVP_PKEY_paramgen_init (pctx), ==, 1);
  g_assert_cmpint (EVP_PKEY_CTX_set_dsa_paramgen_bits (pctx, 1024), ==, 1);
  g_assert_cmpint (EVP_PKEY_paramgen (pctx, &params), ==, 1);
  EVP_PKEY_CTX *kctx = EVP_PKEY_CTX_new_from_pkey (NULL, params, NULL);
  EVP_PKEY *dsa = NULL;
  g_assert_cmpint (EVP_PKEY_keygen_init (kctx), ==, 1);
  g_assert_cmpint (EVP_PKEY_keygen (kctx, &dsa), ==, 1);
  g_autofree char *dsa_pem = key_pem (dsa);
  assert_refused (dsa_pem, ok.cert_pem, ok.ca_pem, "of type DSA");
  EVP_PKEY_free (dsa);
  EVP_PKEY_free (params);
  EVP_PKEY_CTX_free (kctx);
  EVP_PKEY_CTX_free (pctx);
  set_clear (&ok);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/credentials/not-pem", test_not_pem);
  g_test_add_func ("/credentials/encrypted-key", test_encrypted_key);
  g_test_add_func ("/credentials/extra-blocks", test_extra_blocks);
  g_test_add_func ("/credentials/too-large", test_too_large);
  g_test_add_func ("/credentials/key-kinds", test_key_kinds);
  g_test_add_func ("/credentials/read-info", test_read_info);
  int rc = g_test_run ();
  EVP_PKEY_free (rsa_key);
  return rc;
}
