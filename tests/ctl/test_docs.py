#!/usr/bin/env python3
"""The man pages: groff formats them without a warning, and they document
what the programs really take: every command and option of
enapter-provisionctl (from its --help), every option of enapter-provisiond
(from its --help) and every section and key the daemon's configuration
parser knows (src/config.c). TAP, like the other suites."""

import os
import re
import shutil
import subprocess
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "integration"))

import harness  # noqa: E402

CTL = os.environ.get("EP_CTL") or os.path.join(harness.SOURCE_ROOT, "build", "client",
                                               "enapter-provisionctl")
MAN = os.path.join(harness.SOURCE_ROOT, "man")
PAGES = {"enapter-provisionctl.1": "ENAPTER-PROVISIONCTL", "enapter-provisiond.8":
         "ENAPTER-PROVISIOND", "provisiond.conf.5": "PROVISIOND.CONF"}


def page_text(name):
    """The page's source with the roff escapes that split words removed, so
    that options read as typed (--site-id)."""
    with open(os.path.join(MAN, name), encoding="utf-8") as f:
        text = f.read()
    text = re.sub(r"\\f[BIRP]|\\c|\\%", "", text)
    return text.replace("\\-", "-").replace("\\~", " ").replace("\\ ", " ")


def run(argv):
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=30,
                          env=harness.clean_env())
    if proc.returncode != 0:
        raise AssertionError(f"{argv} exited with {proc.returncode}: {proc.stderr}")
    return proc.stdout


def options_in(help_text):
    """The options a --help lists, without GLib's own --help* ones."""
    options = set(re.findall(r"(?m)^\s+(?:-\w, )?(--[a-z][a-z-]*)", help_text))
    return {o for o in options if not o.startswith("--help")}


class ManPages(unittest.TestCase):

    def test_groff_has_no_warnings(self):
        if shutil.which("groff") is None:
            self.skipTest("groff is not installed")
        for name, title in PAGES.items():
            with self.subTest(page=name):
                path = os.path.join(MAN, name)
                proc = subprocess.run(["groff", "-man", "-Tutf8", "-ww", "-z", path],
                                      capture_output=True, text=True, timeout=30)
                self.assertEqual((proc.returncode, proc.stderr), (0, ""))
                section = name.rsplit(".", 1)[1]
                self.assertRegex(page_text(name),
                                 rf'(?m)^\.TH {re.escape(title)} {section} ')

    def test_meson_installs_every_page(self):
        with open(os.path.join(MAN, "meson.build")) as f:
            build = f.read()
        for name in PAGES:
            self.assertIn(f"'{name}'", build)

    def test_provisionctl_page_covers_the_client(self):
        text = page_text("enapter-provisionctl.1")
        main_help = run([CTL, "--help"])
        commands = re.findall(r"(?m)^  ([a-z][a-z-]*)(?: [A-Z_]+)?\s{2,}\S", main_help)
        self.assertGreaterEqual(len(commands), 12, main_help)
        for option in options_in(main_help):
            self.assertTrue(option in text, f"{option} is not documented")
        for command in commands:
            with self.subTest(command=command):
                self.assertRegex(text, rf"(?m)^\.(B|BI|BR|TP) {re.escape(command)}\b",
                                 f"the command {command} is not documented")
                for option in options_in(run([CTL, command, "--help"])):
                    self.assertTrue(option in text, f"{command} {option} is not documented")
        for status in ("0", "1", "2", "3"):
            self.assertRegex(text, rf"(?s)\.SH EXIT STATUS.*\.B {status}\n")

    def test_json_option_as_help_shows_it(self):
        """--json is shown as --help shows it (--json=MODE), and --json alone
        is documented as short in both."""
        help_text = run([CTL, "--help"])
        line = re.search(r"(?m)^  (--json\S*)\s+(.*)$", help_text)
        self.assertEqual(line.group(1), "--json=MODE")
        self.assertIn("--json alone", line.group(2))
        text = page_text("enapter-provisionctl.1")
        tag = re.search(r"(?m)^\.TP\n(.*--json.*)$", text)
        self.assertIsNotNone(tag, "no item for --json")
        self.assertEqual(tag.group(1), "--json=MODE, --json")

    def test_provisiond_page_covers_the_daemon(self):
        text = page_text("enapter-provisiond.8")
        for option in options_in(run([harness.DAEMON, "--help"])):
            self.assertTrue(option in text, f"enapter-provisiond {option} is not documented")
        with open(harness.SHIPPED_XML) as f:
            xml = f.read()
        for member in re.findall(r'<(?:method|signal|property) name="(\w+)"', xml):
            self.assertTrue(member in text, f"{member} is not documented")
        for error in re.findall(r"\b(?:InvalidArgument|NotSupported|Busy|AuthenticationFailed"
                                r"|Forbidden|NotFound|Conflict|Rejected|Unavailable"
                                r"|ProtocolError|KeystoreError)\b", xml):
            self.assertRegex(text, rf"(?m)^\.B {error}$")

    def test_conf_page_covers_every_key(self):
        text = page_text("provisiond.conf.5")
        with open(os.path.join(harness.SOURCE_ROOT, "src", "config.c")) as f:
            config_c = f.read()
        keys = re.findall(r'^  (?:KEY|NUMBER) \("(\w+)", "(\w+)"', config_c, re.M)
        self.assertGreaterEqual(len(keys), 16, "the key table of src/config.c was not found")
        sections = re.split(r"(?m)^\.SH ", text)
        by_title = {s.split("\n", 1)[0]: s for s in sections}
        for group, key in keys:
            with self.subTest(key=f"[{group}] {key}"):
                self.assertIn(f"[{group}]", by_title, f"no section [{group}]")
                self.assertRegex(by_title[f"[{group}]"], rf"(?m)^\.B[IR]? {key}=",
                                 f"[{group}] {key} is not documented")


if __name__ == "__main__":
    harness.main()
