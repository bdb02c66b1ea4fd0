/* MQTTS credentials checked with OpenSSL 3 (README / SPEC "Every MQTTS set is
 * checked before it is stored"): a set from the API (private key, certificate,
 * CA chain) is verified before anything is written, and the dates and
 * fingerprint the details show are read from a certificate. No I/O: callers
 * pass the PEM texts. Failures are EP_ERROR_PROTOCOL_ERROR (errors.h) with a
 * message naming the check that failed and quoting no input; the calls leave
 * the thread's OpenSSL error queue empty (libcurl's TLS shares it). */
#pragma once

#include <glib.h>

/* The largest text of each of the three accepted (a certificate with a few
 * intermediates is a few KiB). */
#define EP_CREDENTIALS_MAX_PEM_BYTES (64 * 1024)

/* What the daemon reads from a certificate. */
typedef struct {
  gint64 not_before;            /* Unix seconds (64-bit, also on 32-bit ARM) */
  gint64 not_after;
  char sha256[65];              /* lowercase hex of the certificate's DER, NUL-terminated */
} EpCertificateInfo;

/* Checks an MQTTS set from the API: @private_key_pem holds exactly one
 * unencrypted private key (one PEM block, PKCS#8 or the traditional RSA/EC
 * form), @certificate_pem one certificate (the first PEM block is the device
 * certificate; more blocks after it are allowed only if they are certificates
 * and are treated as intermediates), the key matches the certificate's public
 * key (the same public key, and a signature made with the private key verifies
 * with the certificate's), and the certificate chains to a certificate of
 * @ca_chain_pem (one or more PEM certificates, all of them trusted as anchors
 * but the device certificate itself, should ca_chain hold it; partial chains
 * allowed: an intermediate in ca_chain is enough), without
 * regard to the clock: an expired or not-yet-valid certificate is still a
 * valid set. No purpose (TLS client) is required of the certificate.
 *
 * Each text is PEM blocks and white space only: text outside the blocks, a
 * block of another kind or a text over EP_CREDENTIALS_MAX_PEM_BYTES is refused.
 * NULL counts as empty.
 *
 * On success fills @info from the device certificate. On failure returns FALSE
 * with EP_ERROR_PROTOCOL_ERROR and "the API answered with credentials that
 * fail a check: " and the check ("the private key does not match the
 * certificate", "the certificate is not signed by ca_chain (OpenSSL: ...)",
 * "private_key is not a PEM private key ...", "the private key is encrypted
 * ...", ...); @info is left as it was. */
gboolean ep_credentials_verify (const char *private_key_pem, const char *certificate_pem,
                                const char *ca_chain_pem, EpCertificateInfo *info,
                                GError **error);

/* ep_credentials_verify () for a set already stored (Diagnose): the same
 * checks, but the problem as a phrase ("the private key does not match the
 * certificate"), newly allocated, without the API in it; NULL when the set
 * holds together. */
char *ep_credentials_check (const char *private_key_pem, const char *certificate_pem,
                            const char *ca_chain_pem, EpCertificateInfo *info);

/* Reads the first certificate of @certificate_pem (a stored certificate.pem;
 * what follows it is not looked at). FALSE with EP_ERROR_PROTOCOL_ERROR when
 * the text does not start with a readable PEM certificate; the message
 * ("certificate is not a PEM certificate ...") names no file or device: the
 * caller prefixes it. */
gboolean ep_certificate_read_info (const char *certificate_pem, EpCertificateInfo *info,
                                   GError **error);

/* For a worker thread that has checked sets, before it goes back to its
 * pool: gives back what OpenSSL keeps per thread (its random generators),
 * which would otherwise live as long as the thread, and which OpenSSL 3.0
 * frees twice should the thread end while the process exits. Checks run
 * at most one per processor at once; more wait for one to finish. */
void ep_credentials_thread_done (void);

/* Once quiet, on the main thread: frees the key decoders no check holds
 * (tens of KiB each); the next checks make them again. */
void ep_credentials_release_idle (void);
