#!/usr/bin/env python3
"""Local stand-in of the Enapter HTTP API v3 provisioning endpoints.

Used by enapter-provisiond's integration tests, the demo and the benchmarks.
It serves either the cloud or the gateway set of endpoints and
generate_config, checks requests the way the API documentation describes,
hands out real MQTTS credential sets signed by its own test CA
(standin_pki.py) and MQTT passwords carrying greppable canaries, and lets
tests inject faults, change its settings and inspect what it received and
answered through a small control API under /_standin/.  The contract is
README.md beside this file.  Python 3 standard library plus
python3-cryptography.
"""

import argparse
import json
import os
import re
import signal
import socket
import socketserver
import ssl
import sys
import threading
import time
import uuid
from collections import deque
import http.client
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

# The modules beside this file, wherever this file is run from (also with
# python3 -P), and no __pycache__ left beside it.
sys.path.insert(0, os.path.dirname(os.path.realpath(__file__)))
sys.dont_write_bytecode = True
from standin_bodies import (GENERATE_CONFIG, MAX_LIFETIME, SCHEMAS, error,  # noqa: E402
                            loads_or_none, parse_body, parse_faults, parse_settings)
from standin_pki import Authority  # noqa: E402

PREFIX = "/v3/provisioning/"
GENERATE = re.compile(r"/v3/devices/([^/]+)/generate_config")   # both roles serve it
CONTROL = "/_standin/"
MAX_BODY = 1 << 20          # larger request bodies are refused with 413
HANDSHAKE_TIMEOUT = 10.0    # seconds a client gets to complete the TLS handshake
IDLE_TIMEOUT = 300.0        # an idle keep-alive connection is closed after this
DEFAULT_TRICKLE = 0.1       # seconds per body byte for a trickle fault without "delay"

# The endpoints each role serves (their request bodies: standin_bodies.SCHEMAS).
ROLES = {
    "cloud": {"ucm", "embedded", "standalone", "lua_device", "gateway"},
    "gateway": {"ucm", "vucm", "embedded", "link_master", "link_slave", "standalone", "lua_device"},
}
HARDWARE_KEYED = {"ucm", "vucm", "embedded", "link_master", "link_slave", "gateway"}
CHANNELS = {"ucm": "ucm", "embedded": "ucm", "gateway": "gw"}  # kinds answered with a config
SLUGGED = {"ucm", "embedded", "standalone", "lua_device"}       # kinds answered with a slug
DEFAULT_LIFETIME = 365 * 86400      # --cert-lifetime's default, in seconds


# ----------------------------------------------------------------- documents

def json_reply(status, doc, **headers):
    """A reply is (status, body bytes, headers); JSON ones say so."""
    return status, json.dumps(doc).encode(), {"Content-Type": "application/json", **headers}


def fail(status, code, message, headers=None, **details):
    """A reply in the API's error shape, with a single error."""
    return json_reply(status, {"errors": [error(code, message, **details)]}, **(headers or {}))


def slugify(name):
    """Lowercase, runs of anything but [a-z0-9] become "-", trimmed, <= 64 chars."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:64].strip("-") or "device"


def platform_hardware_id(device_id):
    """The hardware id generate_config gives a device that has none of its
    own: its device id without dashes, in capitals."""
    return device_id.replace("-", "").upper()


def device_config(protocol, device_id, known, ticket, authority):
    """A config with fresh credentials for @protocol: MQTT ones with the
    canary password number n, or a real MQTTS set @authority mints. @known is
    what the stand-in keeps of the device, @ticket (n, settings) what the
    State handed out for this answer."""
    n, settings = ticket
    if protocol == "MQTT":
        creds = {"protocol": "MQTT", "username": "user-" + device_id,
                 "password": f"{settings['canary']}-PASSWORD-{n}"}
    else:
        creds = {"protocol": "MQTTS", **authority.mint(device_id, settings["cert_lifetime"],
                                                       settings["not_before_offset"])}
    cfg = {"mqtt_host": "mqtt.standin.invalid", "mqtt_port": 8883 if protocol == "MQTTS" else 1883}
    if settings["protocol_at"] != "credentials":
        cfg["mqtt_protocol"] = protocol
    if settings["protocol_at"] == "config":
        del creds["protocol"]
    cfg.update(mqtt_credentials=creds, time_sync_protocol="HTTP", time_sync_host="127.0.0.1",
               time_sync_port=80)
    # A device without one (standalone, Lua) gets the platform's own: what
    # the Python SDK's MQTT topics are made of.
    cfg["hardware_id"] = known["hardware_id"] or platform_hardware_id(device_id)
    cfg["channel_id"] = CHANNELS.get(known["kind"], "ucm")
    return cfg


def success_doc(kind, req, device, ticket, authority):
    """The seed document's response shape for each endpoint."""
    config = None
    if kind in CHANNELS:   # the gateway endpoint has no protocol: MQTTS
        config = device_config(req.get("protocol", "MQTTS"), device["device_id"], device,
                               ticket, authority)
    if kind == "gateway":
        return {"config": config, "gateway_device_id": device["device_id"]}
    doc = {"config": config} if config else {}
    doc["device_id"] = device["device_id"]
    return {**doc, "slug": device["slug"]} if kind in SLUGGED else doc


def fault_reply(fault):
    """The reply a fault with "status" and/or "body" sends instead of the normal one."""
    status = fault.get("status", 200)
    if "body" in fault:
        return status, fault["body"].encode(), {"Content-Type": "application/json"}
    message = f"injected fault: HTTP {status} {http.client.responses.get(status, '')}"
    return fail(status, "injected_fault", message.strip())


# --------------------------------------------------------------------- state

class State:
    """Everything the stand-in remembers. Every access holds self.lock."""

    def __init__(self, max_recorded=0, canary="CANARY", cert_lifetime=DEFAULT_LIFETIME):
        self.lock = threading.Lock()
        self.max_recorded = max_recorded or None
        # The settings after a reset: the command line's. "canary" is not a
        # setting of the control API; it rides along to the configs.
        self.defaults = {"cert_lifetime": cert_lifetime, "not_before_offset": 0,
                         "protocol_at": "credentials"}
        self.canary = canary
        self.authority = Authority()   # kept across resets: GET /_standin/ca stays true
        self.generation = 0
        self.reset()

    def reset(self):
        with self.lock:
            self.generation += 1     # lets a connection know it is new since the reset
            self.records = deque(maxlen=self.max_recorded)
            self.faults = []
            self.devices = {}        # identity key -> {"device_id", "slug", "kind", "hardware_id"}
            self.by_id = {}          # device_id -> the same dict, for generate_config
            self.link_masters = set()
            self.serial = 0          # canary counter: one step per config handed out
            self.settings = dict(self.defaults)
            self.stats = {"connections": 0, "requests": 0, "tls_handshakes": 0,
                          "provisioning_connections": 0}

    def bump(self, counter):
        with self.lock:
            self.stats[counter] += 1

    def record(self, entry, conn_generation):
        """Stores a provisioning request; returns the generation to remember on its connection."""
        with self.lock:
            self.records.append(entry)
            self.stats["requests"] += 1
            if conn_generation != self.generation:
                self.stats["provisioning_connections"] += 1
            return self.generation

    def answered(self, entry, status, body):
        with self.lock:
            entry["status"] = status
            entry["response"] = body.decode("utf-8", "replace")

    def update_settings(self, changes):
        with self.lock:
            self.settings.update(changes)
            return dict(self.settings)

    def ticket(self):
        """(n, settings) for one answer that carries a config; the caller holds self.lock."""
        self.serial += 1
        return self.serial, dict(self.settings, canary=self.canary)

    def add_faults(self, faults):
        with self.lock:
            self.faults.extend(faults)
            return len(self.faults)

    def take_fault(self, path):
        """Consumes one use of the first queued fault matching path, FIFO."""
        with self.lock:
            for i, fault in enumerate(self.faults):
                if fault.get("path", path) == path:
                    if fault["count"] > 0:
                        fault["count"] -= 1
                        if fault["count"] == 0:
                            del self.faults[i]
                    return fault
        return None

    def requests_json(self):
        with self.lock:      # entries are updated in place, so serialise under the lock
            return json.dumps(list(self.records)).encode()

    def stats_doc(self):
        with self.lock:
            return dict(self.stats)

    def provision(self, kind, req):
        """The API's semantics for a well-formed request; returns a reply."""
        with self.lock:
            if kind == "link_slave" and req["master_device_id"] not in self.link_masters:
                return fail(404, "not_found", f"master device {req['master_device_id']} not found",
                            field="master_device_id")
            if kind in HARDWARE_KEYED:
                key = (kind, req["site_id"], req["hardware_id"])
            elif kind == "standalone":
                key = (kind, req["site_id"], req["name"])
            else:
                key = (kind, req["runtime_id"], req["slug"])
            device = self.devices.get(key)
            if device is not None and kind == "lua_device":
                return fail(409, "conflict", "a Lua device with this slug already exists on "
                            "this runtime; Lua devices cannot be reprovisioned",
                            runtime_id=req["runtime_id"], slug=req["slug"])
            if device is None:   # first time: a new device; later: the same one (reprovisioning)
                slug = req["slug"] if kind == "lua_device" else slugify(req.get("name", ""))
                device = self.devices[key] = {"device_id": str(uuid.uuid4()), "slug": slug,
                                              "kind": kind, "hardware_id": req.get("hardware_id")}
                self.by_id[device["device_id"]] = device
                if kind == "link_master":
                    self.link_masters.add(device["device_id"])
            ticket = self.ticket() if kind in CHANNELS else None
        # Minting needs no lock: concurrent answers mint side by side.
        return json_reply(200, success_doc(kind, req, device, ticket, self.authority))

    def generate_config(self, device_id, req):
        """generate_config for a well-formed request; returns a reply."""
        with self.lock:
            device = self.by_id.get(device_id)
            if device is None:
                return fail(404, "not_found", f"device {device_id} not found", device_id=device_id)
            ticket = self.ticket()
        return json_reply(200, {"config": device_config(req["protocol"], device_id, device,
                                                        ticket, self.authority)})


# ------------------------------------------------------------------ handler

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "enapter-standin/1.0"
    sys_version = ""
    timeout = IDLE_TIMEOUT
    wbufsize = -1                    # buffered: headers and body leave in one write...
    disable_nagle_algorithm = True   # ...and at once, not after the client's delayed ACK
    conn_generation = None           # State.generation when this connection last provisioned

    def do_any(self):
        try:
            self.dispatch()
        except OSError:              # client went away, timed out, TLS trouble
            self.close_connection = True
        except Exception as exc:     # a bug here must cost one request, not the server
            self.close_connection = True
            self.log_message("internal error: %r", exc)
            try:
                self.send(*fail(500, "internal", repr(exc)))
            except OSError:
                pass

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_any

    def dispatch(self):
        path = urlsplit(self.path).path
        raw, problem = self.read_body()
        if path.startswith(CONTROL):
            self.send(*(problem or self.control(path[len(CONTROL):], raw)))
        else:
            self.provisioning(path, raw, problem)

    # -- request bodies

    def read_body(self):
        """Returns (body, None), or (b"", error reply) when the body cannot be read."""
        # Clients of this API send Content-Length (libcurl does for a POST body);
        # chunked bodies are refused rather than half understood.
        if "Transfer-Encoding" in self.headers:
            return b"", self.unreadable(411, "send a Content-Length, not Transfer-Encoding")
        length = self.headers.get("Content-Length", "0").strip()
        if not (length.isascii() and length.isdigit()):
            return b"", self.unreadable(400, "bad Content-Length")
        if int(length) > MAX_BODY:
            return b"", self.unreadable(413, "request body too large")
        return self.rfile.read(int(length)), None

    def unreadable(self, status, message):
        self.close_connection = True    # the rest of the stream cannot be framed
        return fail(status, "bad_request", message)

    # -- provisioning

    def provisioning(self, path, raw, problem):
        state = self.server.state
        headers = {}
        for name, value in self.headers.items():
            name = name.lower()
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
        entry = {"method": self.command, "path": self.path, "headers": headers,
                 "body": raw.decode("utf-8", "replace"), "json": loads_or_none(raw),
                 "status": None, "response": None, "time": time.time()}
        self.conn_generation = state.record(entry, self.conn_generation)
        fault = None if problem else state.take_fault(path)
        if fault is not None:
            return self.run_fault(fault, path, raw, entry)
        self.answer(entry, *(problem or self.route(path, raw)))

    def route(self, path, raw):
        """The normal answer to a provisioning request, checks in the documented order."""
        srv = self.server
        kind = path[len(PREFIX):] if path.startswith(PREFIX) else None
        generate = GENERATE.fullmatch(path)
        if kind not in SCHEMAS and generate is None:
            return fail(404, "not_found", f"no such endpoint {path}")
        if generate is None and kind not in ROLES[srv.role]:
            return fail(404, "unsupported_on_target", f"{kind} cannot be provisioned on the "
                        f"{srv.role}", endpoint=kind, role=srv.role)
        if self.command != "POST":
            return fail(405, "method_not_allowed", "use POST", {"Allow": "POST"})
        if self.headers.get("X-Enapter-Auth-Token") != srv.token:
            return fail(401, "unauthorized", "missing or invalid X-Enapter-Auth-Token")
        if srv.ssl_context is None and \
                self.headers.get("X-Enapter-Allow-HTTP", "").strip().lower() != "true":
            return fail(400, "http_not_allowed", "a token over plain HTTP needs "
                        "X-Enapter-Allow-HTTP: true", header="X-Enapter-Allow-HTTP")
        schema = GENERATE_CONFIG if generate else SCHEMAS[kind]
        req, problems = parse_body(schema, self.headers.get("Content-Type"), raw)
        if problems:
            return json_reply(422, {"errors": problems})
        if generate:
            return srv.state.generate_config(unquote(generate.group(1)), req)
        return srv.state.provision(kind, req)

    def run_fault(self, fault, path, raw, entry):
        """Acts out one queued fault instead of, or around, the normal answer."""
        trickle = fault.get("trickle", False)
        if not trickle:                  # for a trickle, "delay" is per body byte
            time.sleep(fault.get("delay", 0))
        if "silence" in fault:
            time.sleep(fault["silence"])
            return self.drop()
        if fault.get("drop"):
            return self.drop()
        if "status" in fault or "body" in fault:
            status, body, headers = fault_reply(fault)
        else:
            status, body, headers = self.route(path, raw)
        self.answer(entry, status, body, {**headers, **fault["headers"]},
                    trickle=fault.get("delay", DEFAULT_TRICKLE) if trickle else None)

    def answer(self, entry, status, body, headers, trickle=None):
        """Records a provisioning request's answer in @entry, then sends it."""
        if status in (204, 304) or self.command == "HEAD":
            body = b""             # what send() writes of it
        self.server.state.answered(entry, status, body)
        self.send(status, body, headers, trickle)

    def drop(self):
        """Closes the connection without a byte of response."""
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    # -- control API

    def control(self, name, raw):
        state = self.server.state
        methods = {"requests": "GET", "stats": "GET", "reset": "POST", "faults": "POST",
                   "settings": "POST", "ca": "GET"}
        if name not in methods:
            return fail(404, "not_found", f"no such control {name!r}")
        if self.command != methods[name]:
            return fail(405, "method_not_allowed", f"use {methods[name]}", {"Allow": methods[name]})
        if name == "requests":
            return 200, state.requests_json(), {"Content-Type": "application/json"}
        if name == "stats":
            return json_reply(200, state.stats_doc())
        if name == "reset":
            state.reset()
            return json_reply(200, {"reset": True})
        if name == "ca":
            return 200, state.authority.pem.encode(), {"Content-Type": "application/x-pem-file"}
        if name == "settings":
            try:
                changes = parse_settings(raw)
            except ValueError as exc:
                return fail(400, "invalid_settings", str(exc))
            return json_reply(200, state.update_settings(changes))
        try:
            faults = parse_faults(raw)
        except ValueError as exc:
            return fail(400, "invalid_fault", str(exc))
        return json_reply(200, {"queued": state.add_faults(faults)})

    # -- responses

    def send(self, status, body, headers, trickle=None):
        """Sends one response; Content-Length always, so the connection can be reused."""
        if status in (204, 304):
            body = b""
        if self.close_connection:
            headers = {**headers, "Connection": "close"}
        self.send_response(status)
        for name, value in headers.items():
            if name.lower() != "content-length":   # ours below is the only true one
                self.send_header(name, value)       # "Connection: close" sets close_connection
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if getattr(self, "command", None) == "HEAD" or not body:
            return
        if trickle is None:
            self.wfile.write(body)
            return
        self.wfile.flush()
        for i in range(len(body)):
            time.sleep(trickle)
            self.wfile.write(body[i:i + 1])
            self.wfile.flush()

    def send_error(self, code, message=None, explain=None):
        """Requests http.server rejects itself get the API's error shape, then a close."""
        self.close_connection = True
        if self.request_version == "HTTP/0.9":   # a garbage request line still gets a status line
            self.request_version = self.protocol_version
        self.send(*fail(code, "bad_request", message or HTTPStatus(code).phrase))
        self.wfile.flush()

    def handle_expect_100(self):
        ok = super().handle_expect_100()
        self.wfile.flush()     # the buffered "100 Continue" must leave now, not after the body
        return ok

    def address_string(self):
        return self.client_address[0]     # never a reverse DNS lookup

    def log_message(self, fmt, *args):
        if not self.server.quiet:
            sys.stderr.write(f"standin: {self.address_string()} {fmt % args}\n")


# ------------------------------------------------------------------- server

class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128    # benchmarks open up to 64 connections at once

    def __init__(self, address, state, role, token, ssl_context, quiet):
        self.state, self.role, self.token = state, role, token
        self.ssl_context, self.quiet = ssl_context, quiet
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, Handler)

    def server_bind(self):
        # HTTPServer.server_bind resolves the host name (getfqdn), which can stall on DNS.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def get_request(self):
        sock, addr = self.socket.accept()
        self.state.bump("connections")
        if self.ssl_context is not None:
            # The handshake happens in the connection's own thread (finish_request),
            # so a slow or broken client cannot stall accept().
            try:
                sock = self.ssl_context.wrap_socket(sock, server_side=True,
                                                    do_handshake_on_connect=False)
            except OSError:
                sock.close()
                raise
        return sock, addr

    def finish_request(self, request, client_address):
        if self.ssl_context is not None:
            request.settimeout(HANDSHAKE_TIMEOUT)
            try:
                request.do_handshake()
            except OSError:          # ssl.SSLError included; the caller closes the socket
                return
            self.state.bump("tls_handshakes")
        super().finish_request(request, client_address)

    def handle_error(self, request, client_address):
        exc = sys.exc_info()[1]
        if not self.quiet and not isinstance(exc, OSError):   # disconnects are routine
            sys.stderr.write(f"standin: error serving {client_address[0]}: {exc!r}\n")


# --------------------------------------------------------------------- main

def parse_args(argv):
    p = argparse.ArgumentParser(description="Local stand-in of the Enapter HTTP API v3.")
    p.add_argument("--role", required=True, choices=sorted(ROLES))
    p.add_argument("--token", required=True, help="the X-Enapter-Auth-Token to accept")
    p.add_argument("--listen", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=0, help="port to bind (default 0: any free port)")
    p.add_argument("--port-file", help="write the bound port here (atomically)")
    p.add_argument("--tls-cert", help="PEM certificate: serve HTTPS only")
    p.add_argument("--tls-key", help="PEM private key for --tls-cert")
    p.add_argument("--canary", default="CANARY", help="prefix of the passwords' canaries")
    p.add_argument("--cert-lifetime", type=int, default=DEFAULT_LIFETIME, metavar="SECONDS",
                   help="validity of the MQTTS certificates handed out "
                        f"(default {DEFAULT_LIFETIME}: 365 days)")
    p.add_argument("--max-recorded", type=int, default=0,
                   help="keep only the newest N requests for /_standin/requests (0: all)")
    p.add_argument("--quiet", action="store_true", help="no per-request log line on stderr")
    args = p.parse_args(argv)
    if args.max_recorded < 0:
        p.error("--max-recorded must be >= 0")
    if not 1 <= args.cert_lifetime <= MAX_LIFETIME:
        p.error(f"--cert-lifetime must be within 1..{MAX_LIFETIME}")
    if bool(args.tls_cert) != bool(args.tls_key):
        p.error("--tls-cert and --tls-key go together")
    return args


def write_port_file(path, port):
    # Write then rename, so a reader polling for the file never sees half of it.
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w") as f:
        f.write(f"{port}\n")
    os.replace(tmp, path)


def main(argv=None):
    args = parse_args(argv)
    context = None
    if args.tls_cert:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(args.tls_cert, args.tls_key)
    state = State(args.max_recorded, args.canary, args.cert_lifetime)
    server = Server((args.listen, args.port), state, args.role, args.token, context, args.quiet)
    port = server.server_address[1]
    if args.port_file:
        write_port_file(args.port_file, port)
    host = f"[{args.listen}]" if ":" in args.listen else args.listen
    print(f"standin: listening on {'https' if context else 'http'}://{host}:{port} "
          f"role={args.role}", flush=True)

    def stop(signum, frame):
        # shutdown() waits for serve_forever() to return, so it cannot run in this
        # (the serving) thread.
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    server.serve_forever(poll_interval=0.1)
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
