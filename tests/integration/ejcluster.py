# SPDX-License-Identifier: MIT
"""A two-node ejabberd cluster on loopback, and HAProxy in front of restanza
instances (test_cluster.py, tests/bench/cluster.py; doc/scaling.md).

Two Erlang nodes on one host need a name service that tells them apart: a
private ``epmd`` on a free loopback port (``ERL_EPMD_PORT``), not the no-epmd
trick of servers.Ejabberd (with it every node assumes the others listen on
its own distribution port). The nodes share a cookie; each has its own
config, spool, logs and listeners.

The second node joins at boot: ``-mnesia extra_db_nodes`` names the first,
and before ejabberd starts the node makes its schema copy a disc copy, so
that ejabberd then adds a local copy of every table (what ``ejabberdctl
join_cluster`` does by stopping and restarting ejabberd on the joining node,
which costs a restart and races with a node still loading its modules).

Each node has one extra ejabberd_service listener serving the shared
component domain plus the domain of the instance that connects to it
(doc/scaling.md): ``node.extra_service_ports[0]``, ``node.own_domain``.

Only processes started here are signalled, by their own process group.
"""

import os
import re
import signal
import subprocess
import time
import uuid

import servers

SHARED = "rest.localhost"
REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
HAPROXY_CFG = os.path.join(REPO, "contrib", "haproxy", "haproxy.cfg")
HAPROXY = "/usr/sbin/haproxy"


class ClusterError(RuntimeError):
    pass


def _wait(cond, timeout, what, diag=lambda: ""):
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise ClusterError("%s: not within %.0f s\n%s" % (
                what, timeout, diag()))
        time.sleep(0.05)


def _kill_group(proc):
    """SIGKILL a process started in its own session, and reap it."""
    if proc is not None and proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(10)


class Epmd:
    """A private Erlang port mapper on 127.0.0.1:port."""

    def __init__(self, logdir):
        self.port = servers.free_port()
        self.log = os.path.join(logdir, "epmd.log")
        self.proc = None

    def start(self):
        out = open(self.log, "ab")
        self.proc = subprocess.Popen(
            ["epmd", "-address", "127.0.0.1", "-port", str(self.port)],
            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True)
        out.close()
        _wait(lambda: servers.port_accepts(self.port) or
              self.proc.poll() is not None, 10, "epmd listening")
        if self.proc.poll() is not None:
            raise ClusterError("epmd exited: %s" % servers.tail(self.log))

    def stop(self):
        _kill_group(self.proc)


class Node(servers.Ejabberd):
    """One ejabberd node of the cluster, named sname@localhost."""

    def __init__(self, basedir, sname, epmd, cookie, own_domain, seed=None,
                 **kw):
        kw.setdefault("delegate", ())
        kw.setdefault("privileges", {})
        super().__init__(basedir, component_jid=SHARED,
                         extra_services=[[SHARED, own_domain]], **kw)
        self.node = "%s@localhost" % sname
        self.epmd = epmd
        self.cookie = cookie
        self.own_domain = own_domain
        self.seed = seed
        # Mnesia's schema records the node name: no shared spool template,
        # the first node builds its own and registers the users.
        self._template_build = True
        if seed is not None:
            self.admin_password = seed.admin_password

    @property
    def service_port(self):
        """The listener for the shared domain and this node's instance."""
        return self.extra_service_ports[0]

    def _env(self):
        env = super()._env()
        env["ERL_EPMD_PORT"] = str(self.epmd.port)
        return env

    def _command(self, spool=None):
        # -start_epmd false: never a system-wide epmd daemon left behind.
        cmd = ["erl", "-sname", self.node, "-setcookie", self.cookie,
               "-start_epmd", "false",
               "-kernel", "inet_dist_use_interface", "{127,0,0,1}",
               "-noinput", "+K", "true",
               "-mnesia", "dir", '"%s"' % self.spool]
        if self.seed is not None and not os.listdir(self.spool):
            # First start: join the seed's database with a disc schema.
            cmd += ["-mnesia", "extra_db_nodes", "['%s']" % self.seed.node,
                    "-eval", "ok = mnesia:start(), {atomic, ok} = "
                    "mnesia:change_table_copy_type(schema, node(), "
                    "disc_copies)"]
        return cmd + ["-s", "ejabberd", "-ejabberd", "quiet", "true"]

    def _after_first_start(self):
        if self.seed is None:
            super()._after_first_start()   # admin and users, cluster-wide

    def cluster_nodes(self):
        """Running nodes of the cluster, as this node sees them."""
        status, nodes = self.api("list_cluster", timeout=5)
        return sorted(nodes) if status == 200 else []


class Cluster:
    """Two ejabberd nodes, ejabberd1@localhost and ejabberd2@localhost, one
    per instance domain in `own_domains`."""

    def __init__(self, basedir, own_domains=("a." + SHARED, "b." + SHARED),
                 loglevel="warning", **kw):
        self.dir = str(basedir)
        os.makedirs(self.dir, exist_ok=True)
        self.epmd = Epmd(self.dir)
        cookie = uuid.uuid4().hex
        self.nodes = []
        for i, domain in enumerate(own_domains):
            self.nodes.append(Node(
                os.path.join(self.dir, "ejabberd%d" % (i + 1)),
                "ejabberd%d" % (i + 1), self.epmd, cookie, domain,
                seed=self.nodes[0] if self.nodes else None,
                loglevel=loglevel, **kw))
        self.start_seconds = None

    def start(self):
        t0 = time.monotonic()
        self.epmd.start()
        for node in self.nodes:
            node.start()
        want = sorted(n.node for n in self.nodes)
        first = self.nodes[0]
        _wait(lambda: first.cluster_nodes() == want, 30,
              "cluster of %s" % want,
              lambda: "\n".join(n.diagnostics(30) for n in self.nodes))
        self.start_seconds = time.monotonic() - t0
        return self

    def stop(self):
        for node in reversed(self.nodes):
            try:
                node.stop()
            except servers.ServerError as e:
                print(e)
        self.epmd.stop()

    def diagnostics(self, lines=60):
        return "\n".join(n.diagnostics(lines) for n in self.nodes)


def haproxy_config(port, backends):
    """contrib/haproxy/haproxy.cfg listening on 127.0.0.1:port, with one
    `server` line per backend port (names a, b, ...)."""
    with open(HAPROXY_CFG) as f:
        cfg = f.read()
    cfg, n = re.subn(r"bind 127\.0\.0\.1:\d+", "bind 127.0.0.1:%d" % port, cfg)
    assert n == 1, "no bind line in " + HAPROXY_CFG
    lines = cfg.splitlines()
    at = [i for i, ln in enumerate(lines) if ln.strip().startswith("server ")]
    assert at, "no server line in " + HAPROXY_CFG
    servers_ = ["    server %s 127.0.0.1:%d check" % (chr(ord("a") + i), p)
                for i, p in enumerate(backends)]
    lines[at[0]:at[-1] + 1] = servers_
    return "\n".join(lines) + "\n"


class Haproxy:
    """HAProxy with contrib/haproxy/haproxy.cfg in front of `backends`
    (HTTP ports on 127.0.0.1)."""

    def __init__(self, workdir, backends):
        if not os.access(HAPROXY, os.X_OK):
            raise ClusterError("haproxy is not installed "
                               "(tests/run.sh installs it)")
        self.dir = str(workdir)
        self.port = servers.free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        self.cfg = os.path.join(self.dir, "haproxy.cfg")
        self.log = os.path.join(self.dir, "haproxy.log")
        with open(self.cfg, "w") as f:
            f.write(haproxy_config(self.port, backends))
        self.proc = None

    def start(self):
        out = open(self.log, "ab")
        self.proc = subprocess.Popen([HAPROXY, "-db", "-f", self.cfg],
                                     stdin=subprocess.DEVNULL, stdout=out,
                                     stderr=subprocess.STDOUT,
                                     start_new_session=True)
        out.close()
        _wait(lambda: servers.port_accepts(self.port) or
              self.proc.poll() is not None, 10, "haproxy listening")
        if self.proc.poll() is not None:
            raise ClusterError("haproxy exited: %s" % servers.tail(self.log))
        return self

    @property
    def pid(self):
        return self.proc.pid

    def stop(self):
        _kill_group(self.proc)

    def diagnostics(self):
        return "--- haproxy %s ---\n%s" % (self.log, servers.tail(self.log))
