# SPDX-License-Identifier: MIT
"""Private Prosody and ejabberd instances on loopback for the integration tests.

Each instance lives in its own directory (config, data, logs, pid file), listens on
free 127.0.0.1 ports only, has no s2s and no TLS, and accepts the component
``rest.localhost`` with a random secret.  By default it delegates
``jabber:iq:roster`` and ``urn:restanza:test:0`` (XEP-0355) to the component and
grants it roster=both, message=outgoing, presence=managed_entity (XEP-0356);
both are overridable per instance.

Only processes started here are ever signalled, and always by their own process
group (every server runs in a new session), never by name.
"""

import atexit
import base64
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid

DOMAIN = "localhost"
COMPONENT_JID = "rest.localhost"
DEFAULT_USERS = ("alice", "bob", "carol")
DEFAULT_PASSWORD = "pw"
DEFAULT_DELEGATE = ("jabber:iq:roster", "urn:restanza:test:0")
DEFAULT_PRIVILEGES = {"roster": "both", "message": "outgoing",
                      "presence": "managed_entity"}
START_TIMEOUT = 20.0
STOP_TIMEOUT = 15.0


class ServerError(RuntimeError):
    pass


def free_port():
    """A TCP port that was free on 127.0.0.1 a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_accepts(port, host="127.0.0.1", timeout=0.5):
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def pid_alive(pid):
    """True unless the process is gone or a zombie (state Z/X in /proc)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            stat = f.read()
    except OSError:
        return False
    # comm may contain spaces and parentheses: the state follows the last ')'.
    state = stat.rsplit(")", 1)[1].split()[0]
    return state not in ("Z", "X")


def tail(path, lines=60, start=0):
    """Last `lines` lines of `path` (from byte offset `start`), as text."""
    try:
        with open(path, "rb") as f:
            f.seek(start)
            data = f.read()
    except OSError as e:
        return "<cannot read %s: %s>" % (path, e)
    text = data.decode("utf-8", "replace").splitlines()
    return "\n".join(text[-lines:])


def file_size(path):
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


class Server:
    """Common part: process handling, ports, waiting, logs."""

    name = None
    delegation_ns = None
    privilege_ns = None

    def __init__(self, basedir=None, delegate=DEFAULT_DELEGATE,
                 privileges=None, users=DEFAULT_USERS,
                 password=DEFAULT_PASSWORD, loglevel=None, secret=None,
                 component_jid=COMPONENT_JID, domain=DOMAIN):
        if basedir is None:
            basedir = tempfile.mkdtemp(prefix="restanza-%s-" % self.name)
        self.dir = os.path.abspath(str(basedir))
        os.makedirs(self.dir, exist_ok=True)
        self.domain = domain
        # MUC service (XEP-0045): anyone may create rooms, components join.
        self.muc_domain = "conference." + domain
        self.component_jid = component_jid
        self.secret = secret or uuid.uuid4().hex[:16]
        self.delegated = list(delegate)
        self.privileges = dict(DEFAULT_PRIVILEGES if privileges is None
                               else privileges)
        self.users = list(users)
        self.password = password
        self.loglevel = loglevel
        self.c2s_port = free_port()
        self.component_port = free_port()
        self.http_port = None
        self.proc = None
        self._prepared = False
        self.start_seconds = None   # duration of the last start()

    # --- to be provided by subclasses ---
    def _write_config(self):
        raise NotImplementedError

    def _command(self):
        raise NotImplementedError

    def _env(self):
        return dict(os.environ)

    def _prepare(self):
        """Called once before the first start (data dirs, spool...)."""

    def _after_first_start(self):
        """Called once after the first successful start (register users)."""

    # --- common interface ---
    @property
    def log_path(self):
        raise NotImplementedError

    @property
    def ports(self):
        """Every TCP port the server listens on (all must accept)."""
        ports = [self.c2s_port, self.component_port]
        if self.http_port:
            ports.append(self.http_port)
        return ports

    @property
    def component_address(self):
        return "127.0.0.1:%d" % self.component_port

    def jid(self, user):
        return "%s@%s" % (user, self.domain)

    def start(self, timeout=START_TIMEOUT):
        """Start and return once every listener accepts TCP connections."""
        if self.is_running():
            raise ServerError("%s already running" % self.name)
        if self.proc is not None and self.proc.returncode is None:
            self._finish()      # died on its own: reap it and its group
        first = not self._prepared
        if first:
            self._write_config()
            self._prepare()
            self._prepared = True
        t0 = time.monotonic()
        out = open(os.path.join(self.dir, "console.log"), "ab")
        self.proc = subprocess.Popen(
            self._command(), cwd=self._cwd(), env=self._env(),
            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True)
        out.close()
        deadline = t0 + timeout
        pending = list(self.ports)
        while pending:
            if self._wait_exit(0):
                self._finish()
                raise ServerError("%s exited with %s during startup\n%s" % (
                    self.name, self.proc.returncode, self.diagnostics()))
            if time.monotonic() > deadline:
                self.kill()
                raise ServerError(
                    "%s did not listen on %s within %.0f s\n%s" % (
                        self.name, pending, timeout, self.diagnostics()))
            if port_accepts(pending[0]):
                pending.pop(0)
            else:
                time.sleep(0.05)
        if first:
            self._after_first_start()
        self.start_seconds = time.monotonic() - t0
        return self

    def _cwd(self):
        return self.dir

    def is_running(self):
        return self.proc is not None and self.proc.returncode is None \
            and pid_alive(self.proc.pid)

    def _signal_group(self, sig):
        """Signal our process group. Only while the leader is not reaped:
        until then its pid, hence the group id, cannot be reused."""
        if self.proc is None or self.proc.returncode is not None:
            return
        try:
            os.killpg(self.proc.pid, sig)
        except ProcessLookupError:
            pass

    def _wait_exit(self, timeout):
        """Wait until the leader has exited (or is a zombie), without
        reaping it; True if it has."""
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.returncode is not None:
                return True
            try:
                info = os.waitid(os.P_PID, self.proc.pid,
                                 os.WEXITED | os.WNOHANG | os.WNOWAIT)
            except ChildProcessError:
                info = True
            if info is not None or not pid_alive(self.proc.pid):
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.02)

    def _finish(self):
        """The leader has exited: kill what is left of its group (e.g.
        erl_child_setup) while the zombie still holds the group id, then
        reap it."""
        self._signal_group(signal.SIGKILL)
        self.proc.wait()

    def _wait_ports_closed(self, timeout=5.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not any(port_accepts(p, timeout=0.2) for p in self.ports):
                return True
            time.sleep(0.05)
        return False

    def stop(self, timeout=STOP_TIMEOUT):
        """Graceful stop (SIGTERM), SIGKILL if it takes longer than timeout."""
        if self.proc is None or self.proc.returncode is not None:
            return
        self._signal_group(signal.SIGTERM)
        self._signal_group(signal.SIGCONT)   # in case it was paused
        if not self._wait_exit(timeout):
            self.kill()
            return
        self._finish()

    def kill(self):
        """SIGKILL the whole process group; return when it is really dead
        and its ports are closed."""
        if self.proc is None or self.proc.returncode is not None:
            return
        self._signal_group(signal.SIGKILL)
        if not self._wait_exit(10.0):
            raise ServerError("%s pid %d survived SIGKILL" % (
                self.name, self.proc.pid))
        self._finish()
        self._wait_ports_closed()

    def restart(self, timeout=START_TIMEOUT):
        self.stop()
        return self.start(timeout)

    def register(self, user, password=None):
        raise NotImplementedError

    def pause(self):
        """SIGSTOP the server: sockets stay open but nothing is answered."""
        self._signal_group(signal.SIGSTOP)

    def resume(self):
        self._signal_group(signal.SIGCONT)

    def count_log(self, regex, start=0):
        return len(re.findall(regex, self.log_text(start)))

    def component_auth_failures(self, start=0):
        """Failed component handshakes the server logged since `start`."""
        return self.count_log(self.AUTH_FAILURE_RE, start)

    def log_offset(self):
        return file_size(self.log_path)

    def log_text(self, start=0):
        try:
            with open(self.log_path, "rb") as f:
                f.seek(start)
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def log_tail(self, lines=60, start=0):
        return tail(self.log_path, lines, start)

    def diagnostics(self, lines=60, start=0):
        console = os.path.join(self.dir, "console.log")
        return "--- %s log %s ---\n%s\n--- console %s ---\n%s" % (
            self.name, self.log_path, self.log_tail(lines, start),
            console, tail(console, 20))

    def __repr__(self):
        return "<%s c2s=%d component=%d http=%s dir=%s>" % (
            self.name, self.c2s_port, self.component_port, self.http_port,
            self.dir)


def _lua_str(s):
    return json.dumps(str(s))   # a JSON string is a valid Lua string literal


def _lua_value(v):
    """A string, or a table of strings ({"urn:xmpp:mam:2": "set"} for the
    iq privilege)."""
    if isinstance(v, dict):
        return "{ %s}" % "".join("[%s] = %s; " % (_lua_str(k), _lua_str(x))
                                 for k, x in v.items())
    return _lua_str(v)


class Prosody(Server):
    name = "prosody"
    delegation_ns = "urn:xmpp:delegation:2"
    privilege_ns = "urn:xmpp:privilege:2"
    AUTH_FAILURE_RE = r"Component authentication failed for "

    def __init__(self, basedir=None, modules=(), plugin_paths=(), **kw):
        kw.setdefault("loglevel", "debug")
        super().__init__(basedir, **kw)
        self.modules = list(modules)            # more global modules ("mam")
        self.plugin_paths = list(plugin_paths)  # searched before Debian's
        self.data_dir = os.path.join(self.dir, "data")
        self.config_path = os.path.join(self.dir, "prosody.cfg.lua")

    @property
    def log_path(self):
        return os.path.join(self.dir, "prosody.log")

    def _write_config(self):
        delegations = "".join(
            "  [%s] = { jid = %s };\n" % (_lua_str(ns), _lua_str(self.component_jid))
            for ns in self.delegated)
        privs = "".join("%s = %s; " % (k, _lua_value(v))
                        for k, v in self.privileges.items())
        privileged = ("  [%s] = { %s};\n" % (_lua_str(self.component_jid), privs)
                      if self.privileges else "")
        paths = ("plugin_paths = { %s }\n" % "; ".join(
            _lua_str(p) for p in self.plugin_paths)
            if self.plugin_paths else "")
        cfg = f"""-- generated by tests/integration/servers.py
run_as_root = true
pidfile = {_lua_str(os.path.join(self.dir, "prosody.pid"))}
data_path = {_lua_str(self.data_dir)}
log = {{ {{ levels = {{ min = {_lua_str(self.loglevel)} }}, to = "file", filename = {_lua_str(self.log_path)} }} }}
interfaces = {{ "127.0.0.1" }}
local_interfaces = {{ "127.0.0.1" }}
c2s_interfaces = {{ "127.0.0.1" }}
component_interfaces = {{ "127.0.0.1" }}
c2s_ports = {{ {self.c2s_port} }}
c2s_direct_tls_ports = {{ }}
legacy_ssl_ports = {{ }}
s2s_ports = {{ }}
component_ports = {{ {self.component_port} }}
http_ports = {{ }}
https_ports = {{ }}
modules_enabled = {{ "roster"; "saslauth"; "disco"; "ping"; "delegation"; "privilege"{"".join("; " + _lua_str(m) for m in self.modules)} }}
{paths}modules_disabled = {{ "s2s"; "tls" }}
c2s_require_encryption = false
s2s_require_encryption = false
allow_unencrypted_plain_auth = true
authentication = "internal_plain"
storage = "internal"
allow_registration = false

VirtualHost {_lua_str(self.domain)}
delegations = {{
{delegations}}}
privileged_entities = {{
{privileged}}}

Component {_lua_str(self.component_jid)}
component_secret = {_lua_str(self.secret)}
modules_enabled = {{ "delegation"; "privilege" }}

Component {_lua_str(self.muc_domain)} "muc"
muc_room_locking = false
restrict_room_creation = false
"""
        with open(self.config_path, "w") as f:
            f.write(cfg)

    def _prepare(self):
        os.makedirs(self.data_dir, exist_ok=True)
        os.makedirs(os.path.join(self.dir, "certs"), exist_ok=True)
        # Accounts exist before the server starts: no prosodyctl round trips.
        for user in self.users:
            self.register(user)

    def _command(self):
        return ["prosody", "-F", "--config", self.config_path]

    def register(self, user, password=None):
        """Create or reset an account (works whether running or not).

        Writes the internal_plain account file directly, which is what
        `prosodyctl register` ends up doing, without its ~0.3 s start-up.
        """
        password = self.password if password is None else password

        def enc(s):   # util.datamanager's path encoding
            return "".join(c if c.isalnum() else "%%%02x" % ord(c) for c in s)
        d = os.path.join(self.data_dir, enc(self.domain), "accounts")
        os.makedirs(d, exist_ok=True)
        path = os.path.join(d, enc(user) + ".dat")
        with open(path + ".tmp", "w") as f:
            f.write("return {\n\t[\"password\"] = %s;\n};\n" % _lua_str(password))
        os.replace(path + ".tmp", path)
        if user not in self.users:
            self.users.append(user)


# ---------------------------------------------------------------------------
# ejabberd

EJABBERD_EBIN_ROOT = "/usr/lib/x86_64-linux-gnu"   # ERL_LIBS as Debian's ejabberdctl
_spool_lock = threading.Lock()
_spool_templates = {}


def _yaml(v):
    return json.dumps(v)   # JSON scalars are valid YAML


class Ejabberd(Server):
    name = "ejabberd"
    delegation_ns = "urn:xmpp:delegation:1"
    privilege_ns = "urn:xmpp:privilege:1"
    AUTH_FAILURE_RE = r"Failed external component handshake authentication"
    admin_user = "admin"
    # Mnesia's schema records the node name, so every instance uses the same
    # node name and a spool built once can be copied.  Without epmd the name
    # is not registered anywhere: nodes are told apart by their dist port.
    node = "restanza_test@localhost"

    def __init__(self, basedir=None, extra_services=(), **kw):
        """extra_services: one more ejabberd_service listener per entry, a
        list of the component domains it serves (all with self.secret);
        their ports are in self.extra_service_ports, in the same order."""
        kw.setdefault("loglevel", "info")
        super().__init__(basedir, **kw)
        self.extra_services = [list(hosts) for hosts in extra_services]
        self.extra_service_ports = [free_port() for _ in self.extra_services]
        self.http_port = free_port()
        self.dist_port = free_port()
        self.cookie = uuid.uuid4().hex
        self.admin_password = uuid.uuid4().hex[:12]
        self.spool = os.path.join(self.dir, "spool")
        self.config_path = os.path.join(self.dir, "ejabberd.yml")
        self.api_url = "http://127.0.0.1:%d/api" % self.http_port
        self.admin_jid = "%s@%s" % (self.admin_user, self.domain)

    @property
    def ports(self):
        return super().ports + self.extra_service_ports

    @property
    def log_path(self):
        return os.path.join(self.dir, "logs", "ejabberd.log")

    @property
    def error_log_path(self):
        return os.path.join(self.dir, "logs", "error.log")

    def _config_text(self):
        d = self.domain
        mods = {
            "mod_admin_extra": {},
            "mod_disco": {},
            "mod_http_api": {},
            "mod_ping": {},
            "mod_roster": {},
            "mod_privilege": {},
            "mod_muc": {"host": self.muc_domain, "access": "all",
                        "access_create": "all", "access_admin": "none",
                        "default_room_options": {
                            "members_by_default": False}},
        }
        if self.delegated:
            mods["mod_delegation"] = {"namespaces": {
                ns: {"access": "restanza_component"} for ns in self.delegated}}
        privmap = {"roster": "roster", "message": "message",
                   "presence": "presence"}
        for key, value in self.privileges.items():
            if key in privmap and value != "none":
                mods["mod_privilege"][key] = {value: "restanza_component"}
        cfg = {
            "hosts": [d],
            "loglevel": self.loglevel,
            "log_rotate_count": 0,
            "hide_sensitive_log_data": False,
            "s2s_access": "none",
            "auth_method": "internal",
            "auth_password_format": "plain",
            "listen": [
                {"port": self.c2s_port, "ip": "127.0.0.1",
                 "module": "ejabberd_c2s", "backlog": 1024,
                 "max_stanza_size": 262144, "shaper": "none",
                 "access": "c2s", "starttls_required": False},
                {"port": self.component_port, "ip": "127.0.0.1",
                 "module": "ejabberd_service", "backlog": 1024,
                 "hosts": {self.component_jid: {"password": self.secret}}},
                {"port": self.http_port, "ip": "127.0.0.1",
                 "module": "ejabberd_http", "backlog": 1024,
                 "request_handlers": {"/api": "mod_http_api"}},
            ] + [
                {"port": port, "ip": "127.0.0.1",
                 "module": "ejabberd_service", "backlog": 1024,
                 "hosts": {h: {"password": self.secret} for h in hosts}}
                for port, hosts in zip(self.extra_service_ports,
                                       self.extra_services)],
            "acl": {
                "admin": {"user": [self.jid(self.admin_user)]},
                "loopback": {"ip": ["127.0.0.0/8"]},
                "restanza_component": {"server": [self.component_jid]},
            },
            "access_rules": {
                "c2s": {"allow": "all"},
                "restanza_component": {"allow": "restanza_component"},
            },
            "api_permissions": {
                "console commands": {"from": ["ejabberd_ctl"], "who": "all",
                                     "what": "*"},
                # The admin account (HTTP Basic) may call every command:
                # what restanza's roster.writer = ejabberd-api uses.
                "admin access": {
                    "who": {"access": {"allow": [{"acl": "admin"}]}},
                    "what": ["*", "!stop", "!start"]},
                # Unauthenticated from loopback: account management only
                # (the test machinery registers users before any admin
                # exists); anything else needs the admin's credentials.
                "loopback accounts": {
                    "who": [{"ip": "127.0.0.0/8"}],
                    "what": ["register", "unregister", "change_password",
                             "registered_users", "check_account"]},
            },
            "modules": mods,
        }
        # JSON is YAML; ejabberd's YAML parser takes it as is.
        return json.dumps(cfg, indent=1) + "\n"

    def _write_config(self):
        os.makedirs(os.path.dirname(self.log_path), exist_ok=True)
        with open(self.config_path, "w") as f:
            f.write(self._config_text())

    def _env(self):
        env = dict(os.environ)
        env.update({
            "EJABBERD_CONFIG_PATH": self.config_path,
            "EJABBERD_LOG_PATH": self.log_path,
            "EJABBERD_PID_PATH": os.path.join(self.dir, "ejabberd.pid"),
            "ERL_LIBS": EJABBERD_EBIN_ROOT,
            "ERL_CRASH_DUMP": os.path.join(self.dir, "erl_crash.dump"),
            "ERL_CRASH_DUMP_BYTES": "0",
            "CONTRIB_MODULES_PATH": os.path.join(self.dir, "contrib"),
            "CONTRIB_MODULES_CONF_DIR": os.path.join(self.dir, "contrib"),
            "HOME": self.dir,
        })
        return env

    def _command(self, spool=None):
        return ["erl", "-sname", self.node, "-setcookie", self.cookie,
                "-erl_epmd_port", str(self.dist_port), "-start_epmd", "false",
                "-kernel", "inet_dist_use_interface", "{127,0,0,1}",
                "-noinput", "+K", "true",
                "-mnesia", "dir", '"%s"' % (spool or self.spool),
                "-s", "ejabberd", "-ejabberd", "quiet", "true"]

    def _cwd(self):
        return self.spool

    def _prepare(self):
        if os.path.isdir(self.spool):
            return
        template = None
        if not getattr(self, "_template_build", False):
            template = self._spool_template()
        if template:
            shutil.copytree(template, self.spool)
        else:
            os.makedirs(self.spool)

    def _spool_template(self):
        """A Mnesia spool with schema, tables and default users, built once
        per process (per set of users) by a throwaway instance."""
        key = (tuple(self.users), self.password)
        with _spool_lock:
            path = _spool_templates.get(key)
            if path and os.path.isdir(path):
                return path
            tmp = tempfile.mkdtemp(prefix="restanza-ejspool-")
            atexit.register(shutil.rmtree, tmp, True)
            builder = Ejabberd(tmp,
                               users=self.users, password=self.password,
                               delegate=(), privileges={})
            builder._template_build = True
            try:
                builder.start()
                builder.stop()
            finally:
                builder.kill()
            path = builder.spool
            _spool_templates[key] = path
            return path

    def _after_first_start(self):
        if getattr(self, "_template_build", False):
            self.register(self.admin_user, self.admin_password)
            for user in self.users:
                self.register(user)
        else:
            # The template has the users; the admin password is per instance.
            self.register(self.admin_user, self.admin_password)

    def api(self, command, args=None, auth=True, timeout=10):
        """POST /api/<command> on the loopback mod_http_api; returns
        (status, decoded JSON or text)."""
        body = json.dumps(args or {}).encode()
        req = urllib.request.Request(
            "%s/%s" % (self.api_url, command), data=body, method="POST",
            headers={"Content-Type": "application/json"})
        if auth:
            cred = "%s:%s" % (self.jid(self.admin_user), self.admin_password)
            req.add_header("Authorization", "Basic " +
                           base64.b64encode(cred.encode()).decode())
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                status, data = r.status, r.read()
        except urllib.error.HTTPError as e:
            status, data = e.code, e.read()
        try:
            return status, json.loads(data.decode() or "null")
        except ValueError:
            return status, data.decode("utf-8", "replace")

    def register(self, user, password=None):
        """Create (or reset the password of) an account through the API."""
        password = self.password if password is None else password
        args = {"user": user, "host": self.domain, "password": password}
        # Unauthenticated from loopback: works before the admin exists.
        status, data = self.api("register", args, auth=False)
        if status != 200:
            if status == 409 or "already" in str(data):
                status, data = self.api("change_password", {
                    "user": user, "host": self.domain, "newpass": password},
                    auth=False)
            if status != 200:
                raise ServerError("ejabberd register %s: %s %s" % (
                    user, status, data))
        if user not in self.users and user != self.admin_user:
            self.users.append(user)


SERVERS = {"prosody": Prosody, "ejabberd": Ejabberd}


def make(name, basedir=None, **opts):
    return SERVERS[name](basedir, **opts)
