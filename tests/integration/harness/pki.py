"""MQTTS credential sets the tests make themselves (python3-cryptography),
for responses a test queues on a stand-in instead of the stand-in's own, and
what a certificate says. The minting is the stand-in's (tests/standin/
standin_pki.py, beside EP_STANDIN), so both make sets of one shape.

    mint_set(ca=None, lifetime=3600, not_before_offset=0, key_mismatch=False)
        -> {"private_key", "certificate", "ca_chain"} (PEM strings)
    make_ca(name) -> a CA to pass to mint_set as @ca
    cert_info(pem) -> (not_before, not_after, sha256 hex of the DER)
"""

import importlib.util
import os

from .constants import STANDIN

FOREIGN_CA = "enapter-provisiond harness foreign CA"


def _standin_pki():
    path = os.path.join(os.path.dirname(os.path.realpath(STANDIN)), "standin_pki.py")
    spec = importlib.util.spec_from_file_location("standin_pki", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_PKI = _standin_pki()


def make_ca(name=FOREIGN_CA):
    """A new throwaway test CA (EC P-256, self-signed, CN @name): pass it to
    mint_set() to sign several sets with it; its .pem is the certificate."""
    return _PKI.Authority(name)


def mint_set(ca=None, lifetime=3600, not_before_offset=0, key_mismatch=False):
    """A real MQTTS set {"private_key", "certificate", "ca_chain"} of PEM
    strings: a fresh EC P-256 key (PKCS#8) and its certificate, signed by
    @ca (make_ca(); None: a new throwaway "foreign" CA, which no stand-in
    knows), valid from now (whole seconds) plus @not_before_offset for
    @lifetime seconds, and ca_chain the CA's certificate. With
    @key_mismatch the private key is another fresh key, not the
    certificate's."""
    ca = ca or make_ca()
    creds = ca.mint("harness-device", lifetime, not_before_offset)
    if key_mismatch:
        creds["private_key"] = _PKI.key_pem(_PKI.ec.generate_private_key(_PKI.ec.SECP256R1()))
    return creds


def cert_info(pem):
    """(notBefore, notAfter) as Unix seconds and the lowercase hex SHA-256
    of the DER of the first certificate in @pem."""
    end = "-----END CERTIFICATE-----"
    first = pem[:pem.index(end) + len(end)]
    cert = _PKI.x509.load_pem_x509_certificate(first.encode())
    return (*_PKI.validity(cert), cert.fingerprint(_PKI.hashes.SHA256()).hex())
