# SPDX-License-Identifier: MIT
"""restanza --doctor against real servers: a right server configuration
gives a checklist without FAIL (exit 0); a wrong one names each problem
with its fix (exit 1)."""

import json
import re
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from conftest import Restanza
import servers

TOKEN = "doctor-roster-token-0123"
LINE_RE = re.compile(r"^(OK|WARN|FAIL)\s+([^:]+): (.*)$")


class App:
    """The web app: answers the webhook's OPTIONS and roster GETs."""

    def __init__(self):
        self.requests = []
        app = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def _answer(self, status, body=b"", headers=()):
                self.send_response(status)
                for k, v in headers:
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_OPTIONS(self):
                app.requests.append(("OPTIONS", self.path))
                self._answer(200, headers=[("Accept", "application/json")])

            def do_GET(self):
                app.requests.append(("GET", self.path))
                self._answer(200, json.dumps({}).encode(),
                             [("Content-Type", "application/json")])

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d" % self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def app():
    a = App()
    yield a
    a.close()


def doctor(srv, tmp_path, config):
    """Run restanza --doctor with the fixture's config plus `config`;
    returns (exit status, {check: [(level, text)]}, stdout)."""
    r = Restanza(srv, tmp_path / "doctor", config=config)
    p = subprocess.run([r.binary, "--doctor", "-c", r.conf_path],
                       stdin=subprocess.DEVNULL, capture_output=True,
                       text=True, timeout=40)
    print("--- restanza --doctor (%s) exit %d ---\n%s%s" % (
        srv.name, p.returncode, p.stdout, p.stderr))
    lines = {}
    for ln in p.stdout.splitlines():
        m = LINE_RE.match(ln)
        if m:
            lines.setdefault(m.group(2), []).append((m.group(1), m.group(3)))
    return p.returncode, lines, p.stdout


def levels(lines, check):
    assert check in lines, "no '%s' line in %s" % (check, lines)
    return [lvl for lvl, _ in lines[check]]


def healthy_config(srv, app):
    cfg = {"webhook": {"url": app.url + "/hook/{kind}"},
           "roster": {"url": app.url + "/roster/%s", "token": TOKEN},
           "rest": {"tokens": "doctor-rest-token-0123 alice@localhost"}}
    if srv.name == "ejabberd":
        cfg["roster"].update(writer="ejabberd-api", api_url=srv.api_url,
                             api_user=srv.admin_jid,
                             api_password=srv.admin_password)
    return cfg


def test_doctor_on_a_right_configuration_has_no_fail_and_exits_0(
        server_name, make_server, app, tmp_path):
    # Sync without delegating the roster: the recommended setup.
    srv = make_server(server_name, delegate=["urn:restanza:test:0"])
    code, lines, out = doctor(srv, tmp_path, healthy_config(srv, app))
    assert code == 0, out
    assert all(lvl == "OK" for ls in lines.values() for lvl, _ in ls), out
    assert re.search(r"\n\d+ OK, 0 WARN, 0 FAIL\n$", out), out
    assert lines["handshake"] == [
        ("OK", "connected to 127.0.0.1:%d as rest.localhost"
         % srv.component_port)]
    kind = {"prosody": "Prosody", "ejabberd": "ejabberd"}[server_name]
    assert levels(lines, "server") == ["OK"]
    assert lines["server"][0][1].startswith(kind), lines["server"]
    assert srv.privilege_ns in lines["server"][0][1]
    assert lines["privilege message"][0][1].startswith("outgoing;")
    assert lines["privilege presence"][0][1].startswith("managed_entity;")
    assert lines["delegation"] == [
        ("OK", "urn:restanza:test:0 served by the webhook")]
    assert levels(lines, "webhook") == ["OK"]
    assert "HTTP 200, Accept: application/json" in lines["webhook"][0][1]
    assert levels(lines, "roster app") == ["OK"]
    assert ("OPTIONS", "/hook/meta") in app.requests
    assert ("GET", "/roster/restanza-doctor") in app.requests
    if server_name == "ejabberd":
        assert lines["ejabberd api"] == [
            ("OK", "POST %s/get_roster: HTTP 200" % srv.api_url)]
        assert "quirk ejabberd roster" not in lines


def test_doctor_names_each_misconfiguration_and_exits_1(
        server_name, make_server, tmp_path):
    # No privileges at all, the roster delegated; restanza wants to write
    # rosters by privilege, send as alice, and reach apps that are down.
    srv = make_server(server_name, privileges={},
                      delegate=["jabber:iq:roster", "urn:restanza:test:0"])
    dead = "http://127.0.0.1:%d" % servers.free_port()
    code, lines, out = doctor(srv, tmp_path, {
        "webhook": {"url": dead + "/hook"},
        "roster": {"url": dead + "/roster/%s", "token": TOKEN,
                   "writer": "privilege"},
        "rest": {"tokens": "doctor-rest-token-0123 alice@localhost"}})
    assert code == 1, out
    assert levels(lines, "handshake") == ["OK"]
    assert levels(lines, "privilege roster") == ["FAIL"]
    assert levels(lines, "privilege message") == ["FAIL"]
    assert levels(lines, "privilege presence") == ["WARN"]
    assert levels(lines, "webhook") == ["FAIL"]
    assert levels(lines, "roster app") == ["FAIL"]
    assert "fix: grant roster \"both\"" in out
    assert "fix: start the web app or correct webhook.url" in out
    assert sorted(t for _, t in lines["delegation"]) == [
        "jabber:iq:roster served from roster.url",
        "urn:restanza:test:0 served by the webhook"]
    if server_name == "prosody":
        assert levels(lines, "quirk prosody roster delegation") == ["WARN"]


@pytest.mark.servers("ejabberd")
def test_doctor_on_ejabberd_flags_the_privileged_roster_set_bug(
        make_server, app, tmp_path):
    # Everything granted, writer auto: it resolves to privilege, which
    # ejabberd 23.01 cannot do.
    srv = make_server("ejabberd", delegate=["urn:restanza:test:0"])
    code, lines, out = doctor(srv, tmp_path, {
        "webhook": {"url": app.url + "/hook"},
        "roster": {"url": app.url + "/roster/%s", "token": TOKEN}})
    assert code == 1, out
    assert levels(lines, "privilege roster") == ["OK"]
    assert levels(lines, "quirk ejabberd roster") == ["FAIL"]
    assert "fix: set roster.writer = ejabberd-api" in out


@pytest.mark.servers("ejabberd")
def test_doctor_reports_refused_ejabberd_api_credentials(
        make_server, app, tmp_path):
    srv = make_server("ejabberd", delegate=[])
    cfg = healthy_config(srv, app)
    cfg["roster"]["api_password"] = "wrong-" + srv.admin_password
    code, lines, out = doctor(srv, tmp_path, cfg)
    assert code == 1, out
    assert levels(lines, "ejabberd api") == ["FAIL"]
    assert "credentials refused" in lines["ejabberd api"][0][1]
    assert lines["delegations"] == [("OK", "none delegated")]


def test_doctor_with_a_wrong_secret_fails_the_handshake(
        server_name, server, tmp_path):
    code, lines, out = doctor(server, tmp_path,
                              {"component": {"secret": "not-the-secret"}})
    assert code == 1, out
    assert levels(lines, "handshake") == ["FAIL"]
    assert "not-authorized" in lines["handshake"][0][1]
    assert "fix: component.secret must equal the server's secret" in out
    assert "privilege roster" not in lines


def test_doctor_without_a_server_fails_fast_with_the_port_fix(tmp_path):
    srv = servers.make("prosody", tmp_path / "never-started")
    code, lines, out = doctor(srv, tmp_path, None)
    assert code == 1, out
    assert lines["handshake"] == [
        ("FAIL", "no stream to 127.0.0.1:%d: connection failed or closed"
         % srv.component_port)]
    assert "server.port" in out
