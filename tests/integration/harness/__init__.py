"""Integration test harness for enapter-provisiond (Python standard library
plus python3-cryptography).

A Harness owns, in a fresh temporary directory: a private dbus-daemon of type
system that loads the repository's bus policy, two stand-ins of the Enapter
API (roles cloud and gateway), and the daemon itself, configured to use them.
Tests talk to the daemon through ep-bus-client, exactly as a caller on the
system bus would, and inspect what the stand-ins saw and what the keystore
holds.

main() runs the calling module's unittest tests and prints TAP 13.

Paths come from the environment (tests/meson.build sets them):
  EP_DAEMON      build/src/enapter-provisiond
  EP_BUS_CLIENT  build/tests/ep-bus-client
  EP_SOURCE_ROOT the source tree (policy/, dbus/)
  EP_STANDIN     tests/standin/standin.py
  EP_VERSION     the project's version (optional)
Set EP_KEEP_TMP=1 to keep the temporary directories for inspection.

The package, one module a concern (every name is re-exported here, so that
`from harness import X` and `harness.X` work for all of them):
  constants  the paths above, bus names, CANARY and the secret markers
  kinds      KINDS and valid arguments, request bodies
  processes  waiting, stopping, clean_env, ep-bus-client calls, AsyncCall
  standin    StandIn, one stand-in of the Enapter API
  pki        mint_set, make_ca, cert_info: MQTTS sets the tests make themselves
  bus        BUS_CONFIG, Listener (the service's signals)
  daemon     Harness (bus, stand-ins and daemon), _LIVE
  checks     ProvisioningChecks, the end-to-end checks of one call
  testcase   HarnessTestCase and its assertions
  tap        TapResult, main()
"""

from .bus import BUS_CONFIG, Listener
from .checks import DETAIL_TYPES, RFC3339_UTC, ProvisioningChecks, slugify
from .constants import (ACCESS_DENIED, BUS_CLIENT, BUS_NAME, CANARY, DAEMON, DAEMON_WRAPPER,
                        ERROR_PREFIX, HERE, IFACE, OBJECT_PATH, POLICY, SECRET_MARKERS,
                        SHIPPED_XML, SOURCE_ROOT, STANDIN, TLS_CERT, TLS_KEY, VERSION)
from .daemon import _LIVE, Harness
from .kinds import KINDS, Kind, default_args, format_arg, request_body, uid
from .processes import (LIBFAKETIME, AsyncCall, Result, clean_env, faketime_env, free_port,
                        parse_result, preloaded, run_client, stop_process, wait_until)
from .pki import cert_info, make_ca, mint_set
from .standin import StandIn
from .tap import TapResult, main
from .testcase import HarnessTestCase

__all__ = [
    # constants
    "ACCESS_DENIED", "BUS_CLIENT", "BUS_NAME", "CANARY", "DAEMON", "DAEMON_WRAPPER",
    "ERROR_PREFIX", "HERE", "IFACE", "OBJECT_PATH", "POLICY", "SECRET_MARKERS", "SHIPPED_XML",
    "SOURCE_ROOT", "STANDIN", "TLS_CERT", "TLS_KEY", "VERSION",
    # kinds
    "KINDS", "Kind", "default_args", "format_arg", "request_body", "uid",
    # processes
    "LIBFAKETIME", "AsyncCall", "Result", "clean_env", "faketime_env", "free_port",
    "parse_result", "preloaded", "run_client", "stop_process", "wait_until",
    # pki, standin, bus, daemon
    "cert_info", "make_ca", "mint_set", "StandIn", "BUS_CONFIG", "Listener", "Harness", "_LIVE",
    # checks, testcase, tap
    "DETAIL_TYPES", "RFC3339_UTC", "ProvisioningChecks", "slugify",
    "HarnessTestCase", "TapResult", "main",
]
