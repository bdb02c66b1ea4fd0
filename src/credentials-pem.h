/* The three PEM texts of an MQTTS set read into OpenSSL's objects, for
 * credentials.c's checks. Each text is PEM blocks and white space only;
 * anything else is a problem. The readers return NULL, or the problem: a
 * newly allocated phrase naming the field ("private_key is not a PEM
 * private key ...") that never quotes the input. They leave OpenSSL's
 * error queue to the caller, who empties it. */
#pragma once

#include <glib.h>

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

/* "OpenSSL could not allocate memory", newly allocated. */
char *ep_openssl_no_memory (void);

/* The reason of the oldest error in OpenSSL's queue, from OpenSSL's table. */
const char *ep_openssl_reason (void);

/* A key decoder kept for reuse: OpenSSL 3.0 searches its decoders for every
 * key it reads unless a decoder context is kept. Take one for a check (it
 * waits while one per processor is taken), give it back after. NULL when
 * OpenSSL cannot make one: keys are then read the slow way. */
typedef struct EpKeyDecoder EpKeyDecoder;
EpKeyDecoder *ep_key_decoder_take (void);
void ep_key_decoder_return (EpKeyDecoder *decoder);   /* NULL: nothing */

/* On the main thread once quiet: frees the decoders nobody holds. */
void ep_key_decoders_release_idle (void);

/* The one unencrypted private key of @text (PKCS#8 or the traditional RSA
 * and EC forms), of a kind and size the checks accept: RSA up to 8192 bits,
 * EC, Ed25519 or Ed448. @decoder may be NULL. */
char *ep_pem_read_private_key (EpKeyDecoder *decoder, const char *text, EVP_PKEY **key);

/* The device certificate (the first block of @text) into @cert, and the
 * certificates after it pushed onto @intermediates. */
char *ep_pem_read_certificates (const char *text, X509 **cert, STACK_OF (X509) *intermediates);

/* Only the first certificate of @text; what follows is not looked at. */
char *ep_pem_read_first_certificate (const char *text, X509 **cert);

/* Every certificate of ca_chain @text added to @store as a trust anchor,
 * except @cert itself (so the device certificate can never vouch for
 * itself). The certificates of the last text read are kept with it, and
 * the same text again is not read again. */
char *ep_pem_read_ca_chain (const char *text, X509_STORE *store, X509 *cert);
