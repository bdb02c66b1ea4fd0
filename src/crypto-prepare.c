#include "crypto-prepare.h"

#include <openssl/decoder.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

/* Each fetch builds OpenSSL's table for its kind of algorithm (all of the
 * provider's, not only the one named); the random bytes instantiate the
 * generators, which fetch their ciphers. */
gboolean
ep_crypto_prepare (char **problem)
{
  EVP_PKEY *key = NULL;
  OSSL_DECODER_CTX *decoder = OSSL_DECODER_CTX_new_for_pkey (&key, "PEM", NULL, NULL,
                                                             EVP_PKEY_KEYPAIR, NULL, NULL);
  EVP_KEYMGMT *keymgmt = EVP_KEYMGMT_fetch (NULL, "EC", NULL);
  EVP_SIGNATURE *signature = EVP_SIGNATURE_fetch (NULL, "ECDSA", NULL);
  EVP_MD *digest = EVP_MD_fetch (NULL, "SHA256", NULL);
  unsigned char byte;
  gboolean random = RAND_priv_bytes (&byte, 1) == 1;
  const char *missing = decoder == NULL     ? "a PEM key decoder"
                        : keymgmt == NULL   ? "EC keys"
                        : signature == NULL ? "ECDSA signatures"
                        : digest == NULL    ? "SHA-256"
                        : !random           ? "random bytes"
                                            : NULL;
  if (missing != NULL)
    *problem = g_strdup_printf ("OpenSSL provides no %s (%s)", missing,
                                ERR_reason_error_string (ERR_peek_last_error ())
                                    ? ERR_reason_error_string (ERR_peek_last_error ())
                                    : "no reason given");
  OSSL_DECODER_CTX_free (decoder);
  EVP_KEYMGMT_free (keymgmt);
  EVP_SIGNATURE_free (signature);
  EVP_MD_free (digest);
  ERR_clear_error ();
  return missing == NULL;
}
