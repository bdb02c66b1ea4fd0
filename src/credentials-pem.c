/* Reading the PEM texts of an MQTTS set into OpenSSL's objects (see
 * credentials-pem.h). Problems are fixed phrases, at most followed by one
 * of OpenSSL's own reason texts, never quoting the input. */
#include "credentials-pem.h"

#include <string.h>

#include <openssl/decoder.h>
#include <openssl/err.h>
#include <openssl/pem.h>

/* Longer labels than any OpenSSL knows are refused before OpenSSL reads the
 * line (see pem_next). */
#define LABEL_MAX 64
#define BEGIN_LINE_MAX 200

char *
ep_openssl_no_memory (void)
{
  return g_strdup ("OpenSSL could not allocate memory");
}

/* The reason of the oldest error in the queue (the cause; later entries
 * only say which caller gave up), from OpenSSL's table. */
const char *
ep_openssl_reason (void)
{
  const char *reason = ERR_reason_error_string (ERR_peek_error ());
  return reason != NULL ? reason : "no reason given";
}

/* Password callback for every PEM read: refuses, so that an encrypted key
 * fails at once instead of OpenSSL prompting on a terminal (its default).
 * -1 and not 0: 0 would be an empty password, which can decrypt a key.
 * @asked records that a password was wanted: that is what tells an
 * encrypted key from a broken one. */
static int
refuse_password (char *buf, int size, int rwflag, void *asked)
{
  if (asked != NULL)
    *(gboolean *) asked = TRUE;
  return -1;
}

/* ---- PEM framing ---------------------------------------------------------- */

typedef enum {
  PEM_NEXT_BLOCK,   /* a "-----BEGIN <label>-----" line comes next */
  PEM_NEXT_END,     /* only white space is left */
  PEM_NEXT_OTHER,   /* anything else */
} PemNext;

/* What comes next in @bio, a memory BIO over PEM text. OpenSSL's readers
 * skip any text before a block and every block of another label; the texts
 * here are only blocks and white space, so this looks first: @start is set
 * to the block's first byte and @label to its label. The BEGIN line is
 * judged as OpenSSL's get_name () judges it (whole line read at once,
 * trailing bytes up to ' ' dropped), so both agree on where the block is. */
static PemNext
pem_next (BIO *bio, const char **start, char label[LABEL_MAX + 1])
{
  static const char begin[] = "-----BEGIN ", dashes[] = "-----";
  char *rest = NULL;
  long n = BIO_get_mem_data (bio, &rest);
  const char *p = rest, *end = rest + MAX (n, 0);
  while (p < end && g_ascii_isspace (*p))
    p++;
  if (p == end)
    return PEM_NEXT_END;
  gsize nb = strlen (begin), nd = strlen (dashes);
  if ((gsize) (end - p) < nb || memcmp (p, begin, nb) != 0)
    return PEM_NEXT_OTHER;
  const char *eol = memchr (p, '\n', (gsize) (end - p));
  if (eol == NULL || eol - p > BEGIN_LINE_MAX)
    return PEM_NEXT_OTHER;
  const char *l = p + nb, *le = eol;
  while (le > l && (unsigned char) le[-1] <= ' ')
    le--;
  if ((gsize) (le - l) <= nd || memcmp (le - nd, dashes, nd) != 0)
    return PEM_NEXT_OTHER;
  gsize len = (gsize) (le - nd - l);
  if (len > LABEL_MAX)
    return PEM_NEXT_OTHER;
  memcpy (label, l, len);
  label[len] = '\0';
  *start = p;
  return PEM_NEXT_BLOCK;
}

/* Whether the read that began at @start consumed that one block: had
 * OpenSSL skipped it (a label it does not take) and read a later one, a
 * second BEGIN line would lie behind @start. */
static gboolean
read_one_block (BIO *bio, const char *start)
{
  char *now = NULL;
  long left = BIO_get_mem_data (bio, &now);
  if (left < 0 || now <= start)
    return FALSE;
  return g_strstr_len (start + 1, now - start - 1, "-----BEGIN") == NULL;
}

/* A memory BIO over @text. BIO_new_mem_buf reads the text in place: the PEM
 * text (the private key among them) is never copied here. */
static BIO *
text_bio (const char *text)
{
  return BIO_new_mem_buf (text != NULL ? text : "", -1);
}

/* ---- reading the texts ------------------------------------------------------ */

/* Only the kinds of key a device certificate has, of a size the check can
 * afford: signing with a huge RSA key takes minutes (80 000 bits fit in
 * 64 KiB), and the API must not be able to stall the daemon's checks. */
#define MAX_RSA_BITS 8192

static char *
check_key_kind (EVP_PKEY *key)
{
  if (EVP_PKEY_is_a (key, "RSA") || EVP_PKEY_is_a (key, "RSA-PSS"))
    return EVP_PKEY_get_bits (key) <= MAX_RSA_BITS
               ? NULL
               : g_strdup_printf ("the private key is an RSA key of %d bits; at most %d are "
                                  "accepted", EVP_PKEY_get_bits (key), MAX_RSA_BITS);
  if (EVP_PKEY_is_a (key, "EC") || EVP_PKEY_is_a (key, "ED25519") ||
      EVP_PKEY_is_a (key, "ED448"))
    return NULL;
  return g_strdup_printf ("the private key is of type %s; RSA, EC and Ed25519 keys are accepted",
                          EVP_PKEY_get0_type_name (key) ? EVP_PKEY_get0_type_name (key) : "?");
}

/* OpenSSL 3.0 searches its providers for a chain of decoders for every key
 * PEM_read_bio_PrivateKey reads: eight times the cost of decoding the key
 * (more than the signature checks). Decoder contexts are made once and
 * kept: a check takes one for its run (checks only use the processor, so
 * no more run at once than there are processors) and gives it back. They
 * live until the daemon is quiet (ep_key_decoders_release_idle, on the
 * main thread), never freed as a thread ends: a thread that ends while the
 * process exits would race with OpenSSL's own clean-up. */
struct EpKeyDecoder {
  OSSL_DECODER_CTX *ctx;
  EVP_PKEY *key;        /* where ctx puts the key it read */
  gboolean asked;       /* refuse_password's record */
};

static GMutex decoders_lock;
static GCond decoder_returned;
static GPtrArray *idle_decoders;   /* EpKeyDecoder */
static guint decoders_made;
static gboolean decoders_failed;   /* OpenSSL could not make one: never again */

static EpKeyDecoder *
make_decoder (void)
{
  EpKeyDecoder *d = g_new0 (EpKeyDecoder, 1);
  d->ctx = OSSL_DECODER_CTX_new_for_pkey (&d->key, "PEM", NULL, NULL, EVP_PKEY_KEYPAIR, NULL,
                                          NULL);
  if (d->ctx != NULL &&
      OSSL_DECODER_CTX_set_pem_password_cb (d->ctx, refuse_password, &d->asked))
    return d;
  OSSL_DECODER_CTX_free (d->ctx);
  g_free (d);
  return NULL;
}

/* A decoder for this check, waiting while every processor runs one; NULL
 * when OpenSSL cannot make one (keys are then read the slow way). */
EpKeyDecoder *
ep_key_decoder_take (void)
{
  g_mutex_lock (&decoders_lock);
  if (idle_decoders == NULL)
    idle_decoders = g_ptr_array_new ();
  while (idle_decoders->len == 0 && !decoders_failed &&
         decoders_made >= g_get_num_processors ())
    g_cond_wait (&decoder_returned, &decoders_lock);
  EpKeyDecoder *d = idle_decoders->len > 0 ? g_ptr_array_steal_index_fast (idle_decoders,
                                                                         idle_decoders->len - 1)
                                         : NULL;
  gboolean make = d == NULL && !decoders_failed;
  decoders_made += make ? 1 : 0;
  g_mutex_unlock (&decoders_lock);
  if (!make)
    return d;
  d = make_decoder ();
  if (d == NULL)
    {
      g_mutex_lock (&decoders_lock);
      decoders_failed = TRUE;
      decoders_made--;
      g_cond_broadcast (&decoder_returned);
      g_mutex_unlock (&decoders_lock);
    }
  return d;
}

void
ep_key_decoder_return (EpKeyDecoder *d)
{
  if (d == NULL)
    return;
  g_clear_pointer (&d->key, EVP_PKEY_free);
  g_mutex_lock (&decoders_lock);
  g_ptr_array_add (idle_decoders, d);
  g_cond_signal (&decoder_returned);
  g_mutex_unlock (&decoders_lock);
}

void
ep_key_decoders_release_idle (void)
{
  g_mutex_lock (&decoders_lock);
  while (idle_decoders != NULL && idle_decoders->len > 0)
    {
      EpKeyDecoder *d = g_ptr_array_steal_index_fast (idle_decoders, idle_decoders->len - 1);
      OSSL_DECODER_CTX_free (d->ctx);
      g_free (d);
      decoders_made--;
    }
  g_mutex_unlock (&decoders_lock);
}

/* The key of the PEM block at the start of @bio, as PEM_read_bio_PrivateKey
 * would read it; @asked: a password was wanted. What @d cannot read is read
 * again by PEM_read_bio_PrivateKey itself (its legacy readers too), so both
 * agree on every text. */
static EVP_PKEY *
decode_private_key (EpKeyDecoder *d, BIO *bio, gboolean *asked)
{
  if (d != NULL)
    {
      d->asked = FALSE;
      int ok = OSSL_DECODER_from_bio (d->ctx, bio);
      *asked = d->asked;
      if (ok && d->key != NULL)
        return g_steal_pointer (&d->key);
      g_clear_pointer (&d->key, EVP_PKEY_free);
      if (*asked || BIO_reset (bio) != 1)
        return NULL;
      ERR_clear_error ();
    }
  return PEM_read_bio_PrivateKey (bio, NULL, refuse_password, asked);
}

char *
ep_pem_read_private_key (EpKeyDecoder *decoder, const char *text, EVP_PKEY **key)
{
  BIO *bio = text_bio (text);
  if (bio == NULL)
    return ep_openssl_no_memory ();
  const char *start = NULL;
  char label[LABEL_MAX + 1];
  char *problem = NULL;
  if (pem_next (bio, &start, label) != PEM_NEXT_BLOCK || !g_str_has_suffix (label, "PRIVATE KEY"))
    problem = g_strdup ("private_key is not a PEM private key (it must start with a "
                        "-----BEGIN PRIVATE KEY----- block)");
  if (problem == NULL)
    {
      gboolean asked = FALSE;
      *key = decode_private_key (decoder, bio, &asked);
      /* Asked for a password: encrypted, also should it have opened (an
       * empty password). OpenSSL's reasons here are its decoders'
       * ("unsupported"), no help. */
      if (asked)
        problem = g_strdup ("the private key is encrypted (the device needs it unencrypted)");
      else if (*key == NULL)
        problem = g_strdup ("private_key is not a PEM private key (OpenSSL cannot decode it)");
      else if (!read_one_block (bio, start))
        problem = g_strdup ("private_key is not a PEM private key (its first PEM block is not "
                            "a private key)");
      else if (pem_next (bio, &start, label) != PEM_NEXT_END)
        problem = g_strdup ("private_key holds something after its private key");
      else
        problem = check_key_kind (*key);
    }
  BIO_free (bio);
  if (problem != NULL)
    g_clear_pointer (key, EVP_PKEY_free);
  return problem;
}

typedef enum {
  CERT_READ,     /* a certificate was read */
  CERT_END,      /* only white space is left */
  CERT_NOT_PEM,  /* text or a block other than a certificate comes next */
  CERT_BROKEN,   /* a certificate block OpenSSL cannot read */
} CertNext;

static CertNext
next_certificate (BIO *bio, X509 **cert)
{
  const char *start = NULL;
  char label[LABEL_MAX + 1];
  PemNext next = pem_next (bio, &start, label);
  if (next == PEM_NEXT_END)
    return CERT_END;
  if (next == PEM_NEXT_OTHER || strcmp (label, PEM_STRING_X509) != 0)
    return CERT_NOT_PEM;
  /* The callback refuses the password of a block with encryption headers. */
  *cert = PEM_read_bio_X509 (bio, NULL, refuse_password, NULL);
  if (*cert == NULL)
    return CERT_BROKEN;
  if (!read_one_block (bio, start))
    {
      g_clear_pointer (cert, X509_free);
      return CERT_NOT_PEM;
    }
  return CERT_READ;
}

#define NOT_A_CERTIFICATE "certificate is not a PEM certificate"
#define MUST_START " (it must start with a -----BEGIN CERTIFICATE----- block)"

/* The first certificate of @bio, for both entry points. */
static char *
read_device_certificate (BIO *bio, X509 **cert)
{
  switch (next_certificate (bio, cert))
    {
    case CERT_READ:
      return NULL;
    case CERT_BROKEN:
      return g_strdup_printf (NOT_A_CERTIFICATE " (OpenSSL: %s)", ep_openssl_reason ());
    case CERT_END:
    case CERT_NOT_PEM:
      break;
    }
  return g_strdup (NOT_A_CERTIFICATE MUST_START);
}

/* The device certificate and the intermediates after it. */
char *
ep_pem_read_certificates (const char *text, X509 **cert, STACK_OF (X509) *intermediates)
{
  BIO *bio = text_bio (text);
  if (bio == NULL)
    return ep_openssl_no_memory ();
  char *problem = read_device_certificate (bio, cert);
  while (problem == NULL)
    {
      X509 *more = NULL;
      CertNext next = next_certificate (bio, &more);
      if (next == CERT_END)
        break;
      if (next == CERT_NOT_PEM)
        problem = g_strdup ("certificate holds something other than PEM certificates after "
                            "its first certificate");
      else if (next == CERT_BROKEN)
        problem = g_strdup_printf ("certificate holds a further certificate that OpenSSL cannot "
                                   "read (OpenSSL: %s)", ep_openssl_reason ());
      else if (!sk_X509_push (intermediates, more))
        {
          X509_free (more);
          problem = ep_openssl_no_memory ();
        }
    }
  BIO_free (bio);
  return problem;
}

/* Every answer of one API carries the same ca_chain: its certificates,
 * once read whole, are kept with the text they came from, for the checks
 * that get that text again (reading a certificate costs OpenSSL 3.0 a
 * search for decoders of its key, a quarter of a check). Certificates are
 * public, and OpenSSL shares them between threads and stores. */
static GMutex ca_lock;
static char *ca_text;
static STACK_OF (X509) *ca_certs;

/* Reads the certificates of ca_chain @text into @certs: NULL, or the
 * problem. */
static char *
read_ca_certificates (const char *text, STACK_OF (X509) *certs)
{
  BIO *bio = text_bio (text);
  if (bio == NULL)
    return ep_openssl_no_memory ();
  char *problem = NULL;
  for (int count = 0; problem == NULL; count++)
    {
      X509 *ca = NULL;
      CertNext next = next_certificate (bio, &ca);
      if (next == CERT_END && count > 0)
        break;
      if ((next == CERT_END || next == CERT_NOT_PEM) && count == 0)
        problem = g_strdup ("ca_chain holds no PEM certificate" MUST_START);
      else if (next == CERT_NOT_PEM)
        problem = g_strdup ("ca_chain holds something other than PEM certificates after its "
                            "first certificate");
      else if (next == CERT_BROKEN)
        problem = g_strdup_printf ("ca_chain holds a certificate that OpenSSL cannot read "
                                   "(OpenSSL: %s)", ep_openssl_reason ());
      else if (sk_X509_push (certs, ca) > 0)
        continue;
      else
        problem = ep_openssl_no_memory ();
      X509_free (ca);
    }
  BIO_free (bio);
  return problem;
}

/* Every certificate of @certs, each one a trust anchor of @store, but
 * @cert itself: with partial chains any certificate of the store is an
 * anchor, so a ca_chain holding the device certificate (the API mixing up
 * its fields) would pass by trusting the certificate itself. A "full chain"
 * that starts with it still passes on its CAs. The store takes its own
 * references; a duplicate is no error. */
static char *
add_anchors (STACK_OF (X509) *certs, X509_STORE *store, X509 *cert)
{
  for (int i = 0; i < sk_X509_num (certs); i++)
    {
      X509 *ca = sk_X509_value (certs, i);
      if (X509_cmp (ca, cert) != 0 && !X509_STORE_add_cert (store, ca))
        return ep_openssl_no_memory ();
    }
  return NULL;
}

/* ca_chain's certificates as anchors of @store (add_anchors), read from
 * @text or kept from the last time it was read. */
char *
ep_pem_read_ca_chain (const char *text, X509_STORE *store, X509 *cert)
{
  text = text != NULL ? text : "";
  char *problem = NULL;
  g_mutex_lock (&ca_lock);
  gboolean kept = ca_text != NULL && strcmp (ca_text, text) == 0;
  if (kept)
    problem = add_anchors (ca_certs, store, cert);
  g_mutex_unlock (&ca_lock);
  if (kept)
    return problem;
  STACK_OF (X509) *certs = sk_X509_new_null ();
  problem = certs != NULL ? read_ca_certificates (text, certs) : ep_openssl_no_memory ();
  if (problem == NULL)
    problem = add_anchors (certs, store, cert);
  if (problem != NULL)
    {
      sk_X509_pop_free (certs, X509_free);
      return problem;
    }
  g_mutex_lock (&ca_lock);
  g_free (ca_text);
  ca_text = g_strdup (text);
  sk_X509_pop_free (ca_certs, X509_free);
  ca_certs = certs;
  g_mutex_unlock (&ca_lock);
  return NULL;
}

char *
ep_pem_read_first_certificate (const char *text, X509 **cert)
{
  BIO *bio = text_bio (text);
  if (bio == NULL)
    return ep_openssl_no_memory ();
  char *problem = read_device_certificate (bio, cert);
  BIO_free (bio);
  return problem;
}
