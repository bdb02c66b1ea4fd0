"""Real MQTTS credential sets for the Enapter API stand-in (standin.py beside
this file): its own test CA, made once at start, and for every set a fresh
EC P-256 key with a leaf certificate that CA signs. The contract is
README.md beside this file. The integration harness mints its own sets with
it too (tests/integration/harness/pki.py). Python 3 standard library plus
python3-cryptography (Debian's 38.0.4 or later).
"""

import datetime
import time

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_NAME = "enapter-provisiond stand-in test CA"
UTC = datetime.timezone.utc
# The CA is valid far beyond any clock a test sets (faketime included); the
# leaf certificates carry the validity the tests ask for.
CA_NOT_BEFORE = datetime.datetime(2000, 1, 1, tzinfo=UTC)
CA_NOT_AFTER = datetime.datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)
KEY_USAGES = ("digital_signature", "content_commitment", "key_encipherment",
              "data_encipherment", "key_agreement", "key_cert_sign", "crl_sign",
              "encipher_only", "decipher_only")


def common_name(text):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, text)])


def key_usage(*on):
    """A KeyUsage extension with the usages named in @on set, the others not."""
    return x509.KeyUsage(**{name: name in on for name in KEY_USAGES})


def utc(seconds):
    return datetime.datetime.fromtimestamp(seconds, UTC)


def key_pem(key):
    """PKCS#8 PEM, unencrypted: "-----BEGIN PRIVATE KEY-----"."""
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def cert_pem(cert):
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def validity(cert):
    """(notBefore, notAfter) of @cert as Unix seconds, with cryptography 38
    (naive UTC datetimes) and with 42 or later (aware ones, *_utc)."""
    def seconds(aware, naive):
        when = getattr(cert, aware, None) or getattr(cert, naive).replace(tzinfo=UTC)
        return int(when.timestamp())
    return (seconds("not_valid_before_utc", "not_valid_before"),
            seconds("not_valid_after_utc", "not_valid_after"))


class Authority:
    """A test CA (the stand-in's: CN @name = CA_NAME): an EC P-256 key and
    its self-signed certificate (basicConstraints CA:TRUE, keyUsage
    keyCertSign and cRLSign)."""

    def __init__(self, name=CA_NAME):
        self.name = common_name(name)
        self.key = ec.generate_private_key(ec.SECP256R1())
        public = self.key.public_key()
        ski = x509.SubjectKeyIdentifier.from_public_key(public)
        cert = (x509.CertificateBuilder()
                .subject_name(self.name).issuer_name(self.name)
                .public_key(public).serial_number(x509.random_serial_number())
                .not_valid_before(CA_NOT_BEFORE).not_valid_after(CA_NOT_AFTER)
                .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                .add_extension(key_usage("key_cert_sign", "crl_sign"), critical=True)
                .add_extension(ski, critical=False)
                .sign(self.key, hashes.SHA256()))
        self.pem = cert_pem(cert)
        self.aki = x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski)

    def mint(self, device_id, lifetime, not_before_offset=0):
        """A fresh set {"private_key", "certificate", "ca_chain"} of PEM
        strings: a new key, a certificate for it with subject CN @device_id
        and a random serial, valid from now (whole seconds) plus
        @not_before_offset for @lifetime seconds, and this CA's certificate."""
        key = ec.generate_private_key(ec.SECP256R1())
        public = key.public_key()
        start = int(time.time()) + not_before_offset
        cert = (x509.CertificateBuilder()
                .subject_name(common_name(device_id)).issuer_name(self.name)
                .public_key(public).serial_number(x509.random_serial_number())
                .not_valid_before(utc(start)).not_valid_after(utc(start + lifetime))
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .add_extension(key_usage("digital_signature"), critical=True)
                .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]),
                               critical=False)
                .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
                .add_extension(self.aki, critical=False)
                .sign(self.key, hashes.SHA256()))
        return {"private_key": key_pem(key), "certificate": cert_pem(cert), "ca_chain": self.pem}
