"""Where the programs under test are (from the environment: see the package's
docstring) and the names and markers the tests share."""

import os
import shlex

# tests/integration (this package's parent): the tests' own files live there.
HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SOURCE_ROOT = os.environ.get("EP_SOURCE_ROOT") or os.path.dirname(os.path.dirname(HERE))
_BUILD = os.path.join(SOURCE_ROOT, "build")
DAEMON = os.environ.get("EP_DAEMON") or os.path.join(_BUILD, "src", "enapter-provisiond")
BUS_CLIENT = os.environ.get("EP_BUS_CLIENT") or os.path.join(_BUILD, "tests", "ep-bus-client")
STANDIN = os.environ.get("EP_STANDIN") or os.path.join(SOURCE_ROOT, "tests", "standin",
                                                        "standin.py")
VERSION = os.environ.get("EP_VERSION") or None
# A command the daemon runs under, e.g. valgrind (scripts/test sets it for the
# memcheck pass over this suite).
DAEMON_WRAPPER = shlex.split(os.environ.get("EP_DAEMON_WRAPPER", ""))
POLICY = os.path.join(SOURCE_ROOT, "policy", "com.enapter.Provisioning1.conf")
SHIPPED_XML = os.path.join(SOURCE_ROOT, "dbus", "com.enapter.Provisioning1.xml")
# A self-signed certificate for 127.0.0.1 (valid 2020-2120) for HTTPS stand-ins.
TLS_CERT = os.path.join(HERE, "tls", "standin-cert.pem")
TLS_KEY = os.path.join(HERE, "tls", "standin-key.pem")

BUS_NAME = "com.enapter.Provisioning1"
OBJECT_PATH = "/com/enapter/Provisioning1"
IFACE = "com.enapter.Provisioning1"
ERROR_PREFIX = IFACE + ".Error."
ACCESS_DENIED = "org.freedesktop.DBus.Error.AccessDenied"

CANARY = "CANARY"
# Strings that must never leave the daemon: private keys (the PEM marker: the
# stand-in's keys are real ones and carry no canary) and the passwords handed
# out by the stand-in (the tokens are added per harness).
SECRET_MARKERS = ("PRIVATE KEY-----", CANARY + "-PASSWORD-", "BEGIN PRIVATE KEY")
