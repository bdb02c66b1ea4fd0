"""HarnessTestCase: one harness shared by a test class, and its assertions."""

import os
import time
import unittest

from .bus import Listener
from .checks import ProvisioningChecks
from .constants import ERROR_PREFIX
from .daemon import Harness


class HarnessTestCase(ProvisioningChecks, unittest.TestCase):
    """A test class sharing one harness (bus, stand-ins, daemon) across its
    tests. CONFIG overrides the daemon configuration, GATEWAY=False runs no
    gateway stand-in (and leaves [Gateway] URL empty)."""

    CONFIG = None
    GATEWAY = True
    BUS_EXTRA = ""
    DAEMON_PREEXEC = None
    CLOUD_TLS = False
    H = None
    maxDiff = None

    @classmethod
    def setUpClass(cls):
        cls.H = Harness(config=cls.CONFIG, gateway=cls.GATEWAY, bus_extra=cls.BUS_EXTRA,
                        daemon_preexec=cls.DAEMON_PREEXEC, cloud_tls=cls.CLOUD_TLS)
        try:
            cls.H.start()
        except BaseException:
            cls.H.close(check=False)
            cls.H = None
            raise

    @classmethod
    def tearDownClass(cls):
        h, cls.H = cls.H, None
        if h is not None:
            h.close(check=True)

    def setUp(self):
        H = self.H
        if H.daemon is None or H.daemon_overrides or H.daemon.poll() is not None:
            if H.daemon is not None:
                H.stop_daemon()
            H.start_daemon()
        H.reset_standins()
        self.t0 = time.time()

    def tearDown(self):
        H = self.H
        for child in H.children:
            child.close() if isinstance(child, Listener) else child.kill()
        H.children = []
        rc = H.daemon_died()
        if rc is not None:
            H.daemon = None
            self.fail(f"the daemon died during the test (exit status {rc}):\n"
                      + H.stderr_tail())

    def diagnostics(self):
        if self.H is None:
            return ""
        return "daemon stderr (tail):\n" + self.H.stderr_tail()

    # -- assertions

    def assertOk(self, res, what="the call"):
        """Asserts a (s, a{sv}) reply; returns (device_id, details)."""
        self.assertTrue(res.ok, f"{what} failed: {res.doc}")
        self.assertEqual(len(res.reply), 2, f"reply is not (s, a{{sv}}): {res.doc}")
        device_id, details = res.reply
        self.assertIsInstance(device_id, str)
        self.assertIsInstance(details, dict)
        return device_id, details

    def assertError(self, res, name, what="the call"):
        """Asserts the error com.enapter.Provisioning1.Error.<name> (or a full
        name); returns its message."""
        full = name if "." in name else ERROR_PREFIX + name
        self.assertFalse(res.ok, f"{what} succeeded, expected {full}: {res.doc}")
        self.assertEqual(res.error_name, full, f"{what}: {res.doc}")
        return res.error_message

    def assertNoRequests(self, what=""):
        reqs = self.H.all_requests()
        self.assertEqual(reqs, [], f"the stand-ins saw requests {what}")

    def assertNoSecrets(self, text, where):
        for secret in self.H.secrets():
            self.assertNotIn(secret, text, f"a secret ({secret[:20]}...) leaked into {where}")

    def assertKeystoreClean(self):
        """No temporary ('.'-prefixed) entries anywhere in the keystore."""
        tmp = [p for p in self.H.keystore_tree()
               if any(part.startswith(".") for part in p.split(os.sep))]
        self.assertEqual(tmp, [], "temporary entries left in the keystore")
