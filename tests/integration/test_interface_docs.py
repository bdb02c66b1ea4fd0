#!/usr/bin/env python3
"""The interface XML documents itself (dbus/com.enapter.Provisioning1.xml):
every member and argument the running daemon introspects has a non-empty
org.gtk.GDBus.DocString there, gdbus-codegen makes a DocBook reference of it
that names every member with its text, and the details keys the DocStrings
list are, with their types, the keys the daemon returns for a device of
each kind and protocol: a key returned but not listed fails, and so does a
key listed but never returned."""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import (CANARY, IFACE, KINDS, SHIPPED_XML, HarnessTestCase, default_args,  # noqa: E402
                     main, uid)

DOC = "org.gtk.GDBus.DocString"
SHORT = "org.gtk.GDBus.DocString.Short"
XML_NAME = "dbus/com.enapter.Provisioning1.xml"
PROTOCOLS = ("MQTT", "MQTTS")

# "name (t)" or "name (t, ...)": a details key and its D-Bus type, as the
# DocStrings write them.
KEY = re.compile(r"\b([a-z][a-z0-9_]*) \(([bsuxd])[,)]")
# A sentence or clause that lists the keys of one protocol only.
FOR_PROTOCOL = re.compile(r"\bfor (MQTTS?) also\b")


def interface(xml_text):
    root = ET.fromstring(xml_text)
    found = [i for i in root.findall("interface") if i.get("name") == IFACE]
    if len(found) != 1:
        raise AssertionError(f"{len(found)} <interface name='{IFACE}'> elements")
    return found[0]


def annotation(element, name=DOC):
    for a in element.findall("annotation"):
        if a.get("name") == name:
            return a.get("value")
    return None


def element_named(iface, tag, name):
    found = [e for e in iface.findall(tag) if e.get("name") == name]
    return found[0] if len(found) == 1 else None


def args_of(member, tag):
    """(label, arg element) of a member's arguments, in order; methods have
    in and out arguments of the same name (GenerateCredentials' device_id),
    so the label carries the direction."""
    default = "in" if tag == "method" else "out"
    return [(f"{a.get('direction', default)} {a.get('name')}", a) for a in member.findall("arg")]


def undocumented(live_xml, shipped_xml):
    """What the live introspection has that the shipped XML does not
    document: one line per interface, member or argument."""
    live, shipped = interface(live_xml), interface(shipped_xml)
    missing = []
    if not (annotation(shipped) or "").strip():
        missing.append(f"interface {IFACE}")
    for tag in ("method", "signal", "property"):
        for member in live.findall(tag):
            name = member.get("name")
            doc_member = element_named(shipped, tag, name)
            if doc_member is None:
                missing.append(f"{tag} {name} (not in the shipped XML at all)")
                continue
            if not (annotation(doc_member) or "").strip():
                missing.append(f"{tag} {name}")
            shipped_args = args_of(doc_member, tag)
            for i, (label, _) in enumerate(args_of(member, tag)):
                if i >= len(shipped_args) or shipped_args[i][0] != label:
                    missing.append(f"{tag} {name} argument {label} (not in the shipped XML)")
                elif not (annotation(shipped_args[i][1]) or "").strip():
                    missing.append(f"{tag} {name} argument {label}")
    return missing


def documented_keys(doc):
    """{key: (type, protocol or None)} of a details DocString: a key listed
    in a clause 'for MQTT also ...' or 'for MQTTS also ...' belongs to that
    protocol only."""
    keys = {}
    for clause in re.split(r";|\.\s", " ".join(doc.split())):
        m = FOR_PROTOCOL.search(clause)
        for key, sig in KEY.findall(clause):
            keys[key] = (sig, m.group(1) if m else None)
    return keys


def expected(keys, protocol):
    """{key: type} a device of @protocol has, of documented_keys()."""
    return {k: sig for k, (sig, only) in keys.items() if only in (None, protocol)}


def sigs(details):
    """{key: signature} of a typed details dictionary."""
    out = {}
    for key, typed in details.items():
        (sig, _), = typed.items()
        out[key] = sig
    return out


def plain_text(docstring):
    """A DocString as gdbus-codegen's DocBook shows it, white space folded:
    links to members by their names, @argument and %CONSTANT bare."""
    s = re.sub(re.escape(IFACE) + r"\.([A-Za-z0-9_]+)\(\)", r"\1()", docstring)
    s = re.sub("#" + re.escape(IFACE) + r"::([A-Za-z0-9_]+)", r'"\1"', s)
    s = re.sub("#" + re.escape(IFACE) + r":([A-Za-z0-9_]+)", r'"\1"', s)
    s = s.replace("#" + IFACE, IFACE)
    s = re.sub(r"[@%]([A-Za-z0-9_]*)", r"\1", s)
    return " ".join(s.split())


def section_text(element):
    return " ".join("".join(element.itertext()).split())


class Docs(HarnessTestCase):

    def shipped(self):
        with open(SHIPPED_XML) as f:
            return f.read()

    def test_every_live_member_and_argument_is_documented(self):
        missing = undocumented(self.H.introspect(), self.shipped())
        self.assertFalse(missing, f"{XML_NAME} has no (or an empty) {DOC} annotation for "
                         "these parts of the running daemon's interface; give each one, "
                         "written for a user of the API:\n  " + "\n  ".join(missing))

    def test_the_check_sees_a_missing_docstring(self):
        """The check above can fail: the shipped XML without one argument's
        DocString, or without the interface's, is reported."""
        live = self.H.introspect()

        def without(tag, name, arg=None):
            root = ET.fromstring(self.shipped())
            element = element_named(root.find("interface"), tag, name) if tag else \
                root.find("interface")
            if arg is not None:
                element = [a for label, a in args_of(element, tag) if label == arg][0]
            for a in element.findall("annotation"):
                if a.get("name") == DOC:
                    element.remove(a)
            return ET.tostring(root, encoding="unicode")

        self.assertEqual(undocumented(live, without("method", "ProvisionLinkSlave",
                                                    "in master_device_id")),
                         ["method ProvisionLinkSlave argument in master_device_id"])
        self.assertEqual(undocumented(live, without("signal", "CredentialsExpiring")),
                         ["signal CredentialsExpiring"])
        self.assertEqual(undocumented(live, without(None, None)), [f"interface {IFACE}"])

    def test_docbook_reference(self):
        """gdbus-codegen --generate-docbook makes well-formed DocBook of the
        file, with every member's section holding its DocString and its
        arguments' (a gtk-doc comment 'Name: ...' would replace them)."""
        codegen = shutil.which("gdbus-codegen")
        if codegen is None:
            self.fail("gdbus-codegen is missing: install libglib2.0-dev-bin (apt-get install "
                      "libglib2.0-dev-bin; debian/control lists it in Build-Depends)")
        with tempfile.TemporaryDirectory() as out:
            proc = subprocess.run([codegen, "--generate-docbook", "doc", "--output-directory",
                                   out, SHIPPED_XML], capture_output=True, text=True,
                                  timeout=60)
            self.assertEqual(proc.returncode, 0, f"gdbus-codegen failed: {proc.stderr}")
            path = os.path.join(out, f"doc-{IFACE}.xml")
            self.assertTrue(os.path.exists(path), f"no {path}: {os.listdir(out)}")
            with open(path) as f:
                docbook = f.read()
        try:
            book = ET.fromstring(docbook)
        except ET.ParseError as e:
            self.fail(f"the DocBook gdbus-codegen made of {XML_NAME} is not well-formed XML "
                      f"({e}): a DocString holds a '<' or '&'; write it in words")
        sections = {e.get("id"): e for e in book.iter() if e.get("id")}
        dashed = IFACE.replace(".", "-")
        shipped = interface(self.shipped())
        live = interface(self.H.introspect())

        purpose = section_text(next(book.iter("refpurpose")))
        self.assertEqual(purpose, plain_text(annotation(shipped, SHORT) or ""))
        self.assertTrue(purpose, f"{XML_NAME}: the interface has no {SHORT}")
        description = sections.get(f"gdbus-interface-{dashed}")
        self.assertIsNotNone(description, "the DocBook has no description of the interface")
        self.assertIn(plain_text(annotation(shipped) or ""), section_text(description))

        for tag in ("method", "signal", "property"):
            for member in live.findall(tag):
                name = member.get("name")
                with self.subTest(f"{tag} {name}"):
                    section = sections.get(f"gdbus-{tag}-{dashed}.{name}")
                    self.assertIsNotNone(section, f"the DocBook has no section for {tag} {name}")
                    text = section_text(section)
                    doc_member = element_named(shipped, tag, name)
                    docs = [annotation(doc_member)] + [annotation(a) for _, a in
                                                       args_of(doc_member, tag)]
                    for doc in docs:
                        self.assertTrue((doc or "").strip(), f"{tag} {name}: an empty DocString")
                        self.assertIn(plain_text(doc), text,
                                      f"the DocBook section of {tag} {name} lacks its DocString "
                                      "(does a comment 'Name: ...' before it replace it?)")

    # -- the details keys

    def details_doc(self, method):
        member = element_named(interface(self.shipped()), "method", method)
        self.assertIsNotNone(member, f"{XML_NAME} has no method {method}")
        for label, arg in args_of(member, "method"):
            if label == "out details":
                keys = documented_keys(annotation(arg) or "")
                self.assertTrue(keys, f"{XML_NAME}: the DocString of {method}'s details lists "
                                "no keys; list them as 'name (t)'")
                return keys
        self.fail(f"{XML_NAME}: {method} has no out argument details")

    def assertKeys(self, got, want, where, method):
        """@got ({key: signature}) holds exactly the keys and types of @want."""
        extra = sorted(set(got) - set(want))
        self.assertFalse(extra, f"{where} returned details keys that the DocString of "
                         f"{method}'s details in {XML_NAME} does not list: {extra}; document "
                         "them there (and at GetDevice)")
        absent = sorted(set(want) - set(got))
        self.assertFalse(absent, f"{where}: the DocString of {method}'s details lists keys "
                         f"the daemon did not return: {absent}; correct the DocString")
        for key, sig in got.items():
            self.assertEqual(sig, want[key], f"{where}: details[{key!r}] is {sig}, the "
                             f"DocString of {method}'s details says {want[key]}")

    def gateway_mqtt_answer(self, args):
        """The cloud's next gateway answer carries MQTT credentials (the API
        chooses the gateway's protocol; the stand-in's own is MQTTS)."""
        body = {"config": {"mqtt_host": "mqtt.example.invalid", "mqtt_port": 1883,
                           "mqtt_credentials": {"protocol": "MQTT", "username": "gw-user",
                                                "password": CANARY + "-docs"},
                           "hardware_id": args["hardware_id"], "channel_id": "gw"},
                "gateway_device_id": uid("gw-")}
        self.H.cloud.faults({"path": KINDS["gateway"].endpoint, "status": 200,
                             "body": json.dumps(body)})

    def provision(self, kind, protocol):
        """A fresh device of @kind (with @protocol where the kind has one);
        returns (device_id, typed details)."""
        values = {"protocol": protocol} if "protocol" in KINDS[kind].args else {}
        if kind == "link_slave":
            master = self.assertOk(self.H.provision("link_master", default_args("link_master")))
            values["master_device_id"] = master[0]
        args = default_args(kind, **values)
        if kind == "gateway" and protocol == "MQTT":
            self.gateway_mqtt_answer(args)
        res = self.H.provision(kind, args, typed=True)
        self.assertTrue(res.ok, f"{KINDS[kind].method}: {res.doc}")
        return res.reply

    def test_details_keys_match_the_daemon(self):
        """For each kind, each protocol: the keys its Provision method's
        DocString lists, those GenerateCredentials' adds, and GetDevice's
        (all keys, with types) against what the daemon returns."""
        H = self.H
        get_doc = self.details_doc("GetDevice")
        generate_doc = self.details_doc("GenerateCredentials")
        seen = {}
        for kind, k in KINDS.items():
            provision_doc = self.details_doc(k.method)
            has_protocols = any(only for _, only in provision_doc.values())
            last = None
            for protocol in PROTOCOLS if has_protocols else (None,):
                where = f"{k.method} ({kind}{', ' + protocol if protocol else ''})"
                with self.subTest(where):
                    device_id, details = self.provision(kind, protocol)
                    last = device_id
                    self.assertKeys(sigs(details), expected(provision_doc, protocol), where,
                                    k.method)
                    stored = H.call("GetDevice", "s", device_id, typed=True)
                    self.assertTrue(stored.ok, stored.doc)
                    self.assertEqual(sorted(stored.reply[0]), sorted(details),
                                     f"GetDevice of a {kind} device and its {k.method} reply")
                    seen.update(sigs(details))
            # New credentials (for the last device: the stand-in knows it, not a canned
            # answer's): the kind's own keys and those GenerateCredentials lists.
            own = expected(provision_doc, None)
            if last is None:
                continue        # its Provision call failed, reported above
            for protocol in PROTOCOLS:
                where = f"GenerateCredentials ({kind} device, {protocol})"
                with self.subTest(where):
                    res = H.call("GenerateCredentials", "ss", last, protocol, typed=True)
                    self.assertTrue(res.ok, f"{where}: {res.doc}")
                    want = {**own, **expected(generate_doc, protocol)}
                    self.assertKeys(sigs(res.reply[1]), want, where, "GenerateCredentials")
                    seen.update(sigs(res.reply[1]))

        listed = H.call("ListDevices", "", typed=True)
        self.assertTrue(listed.ok, listed.doc)
        self.assertGreater(len(listed.reply[0]), 0)
        for entry in listed.reply[0]:
            seen.update(sigs(entry))
        # GetDevice's DocString explains every key any device has.
        self.assertKeys(seen, {k: sig for k, (sig, _) in get_doc.items()},
                        "the devices of every kind", "GetDevice")

    def test_key_lists_are_read_as_written(self):
        """documented_keys() reads types and protocol clauses, and no prose."""
        doc = ("The details (see GetDevice()): kind (s), mqtt_port (u) and, when the API "
               "names one, channel_id (s); for MQTT also username (s); for MQTTS also "
               "certificate_not_after (x) and certificate_sha256 (s). A standalone device "
               "also gets hardware_id (s), when the API (once asked) names one.")
        self.assertEqual(documented_keys(doc), {
            "kind": ("s", None), "mqtt_port": ("u", None), "channel_id": ("s", None),
            "username": ("s", "MQTT"), "certificate_not_after": ("x", "MQTTS"),
            "certificate_sha256": ("s", "MQTTS"), "hardware_id": ("s", None)})
        self.assertEqual(expected(documented_keys(doc), "MQTT"),
                         {"kind": "s", "mqtt_port": "u", "channel_id": "s", "username": "s",
                          "hardware_id": "s"})


if __name__ == "__main__":
    main()
