#!/usr/bin/env python3
"""Who may call (SPEC section 4): the repository's bus policy lets everyone
introspect and read properties but only root (and the operators' group) call
the methods; and the daemon checks the caller itself, so a loose bus policy
opens nothing."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import ACCESS_DENIED, BUS_NAME, IFACE, HarnessTestCase, default_args, main

NOBODY = 65534


class BusPolicy(HarnessTestCase):

    def test_unprivileged_caller_may_read_but_not_call(self):
        H = self.H
        for kind in ("ucm", "standalone", "gateway"):
            with self.subTest(kind=kind):
                res = H.provision(kind, default_args(kind), uid_=NOBODY)
                self.assertError(res, ACCESS_DENIED)
        self.assertNoRequests("for an unprivileged caller")
        version = H.get_property("Version", uid_=NOBODY)
        self.assertTrue(version.ok, version.doc)
        self.assertEqual(version.reply, H.get_property("Version").reply)
        self.assertTrue(H.get_property("ActiveRequests", uid_=NOBODY).ok)
        self.assertIn(IFACE, H.introspect(uid_=NOBODY))

    def test_root_may_call(self):
        args = default_args("ucm")
        self.check_provisioned("ucm", args, self.H.provision("ucm", args))


class LooseBusPolicy(HarnessTestCase):
    """A bus configuration that lets anyone send anything to the service."""
    BUS_EXTRA = f"""  <policy context="mandatory">
    <allow send_destination="{BUS_NAME}"/>
  </policy>"""

    def test_daemon_refuses_unprivileged_caller(self):
        H = self.H
        listener = H.listen()
        for kind in ("ucm", "lua_device"):
            with self.subTest(kind=kind):
                res = H.provision(kind, default_args(kind), uid_=NOBODY)
                msg = self.assertError(res, ACCESS_DENIED)
                # dbus-daemon's own refusals read "Rejected send message ..."
                self.assertNotIn("Rejected send message", msg or "",
                                 "the bus refused the call: the policy is not loose")
        self.assertNoRequests("for an unprivileged caller")
        self.assertFalse(listener.signals("DeviceProvisioned"))
        # root still may
        args = default_args("ucm")
        self.check_provisioned("ucm", args, self.H.provision("ucm", args))


if __name__ == "__main__":
    main()
