# SPDX-License-Identifier: MIT
"""contrib/prometheus and contrib/grafana: the alerting rules pass promtool
(syntax and their unit tests), and every metric name (and label value
matched exactly) that the rules and the dashboard use is one a running
restanza serves on GET /metrics."""

import json
import os
import re
import shutil
import subprocess

import pytest

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PROM = os.path.join(REPO, "contrib", "prometheus")
RULES = os.path.join(PROM, "restanza.rules.yml")
RULES_TEST = os.path.join(PROM, "restanza.rules.test.yml")
DASHBOARD = os.path.join(REPO, "contrib", "grafana", "restanza.json")
# name{matchers} in PromQL; names start with restanza_ (up is Prometheus').
SELECTOR_RE = re.compile(r'\b(restanza_[a-zA-Z0-9_]+)(\{[^}]*\})?')
MATCHER_RE = re.compile(r'([a-zA-Z_]\w*)\s*(=~|!=|!~|=)\s*"([^"]*)"')


def promtool():
    path = shutil.which("promtool")
    if path is None:
        pytest.fail("promtool is missing: install the Debian package "
                    "prometheus (tests/run.sh does)")
    return path


def test_alerting_rules_pass_promtool_check():
    p = subprocess.run([promtool(), "check", "rules", RULES],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "SUCCESS: 10 rules found" in p.stdout, p.stdout


def test_alerting_rules_fire_in_promtool_unit_tests():
    p = subprocess.run([promtool(), "test", "rules", RULES_TEST],
                       capture_output=True, text=True, timeout=60, cwd=PROM)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "SUCCESS" in p.stdout, p.stdout


def rule_exprs():
    import yaml
    with open(RULES) as f:
        doc = yaml.safe_load(f)
    return [r["expr"] for g in doc["groups"] for r in g["rules"]]


def dashboard_exprs():
    """Every PromQL text of the dashboard: targets and template queries."""
    with open(DASHBOARD) as f:
        doc = json.load(f)
    out = []

    def walk(node):
        if isinstance(node, dict):
            for k, v in node.items():
                if k in ("expr", "definition") and isinstance(v, str):
                    out.append(v)
                elif k == "query" and isinstance(v, str):
                    out.append(v)
                else:
                    walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)
    walk(doc)
    return out


def scrape(r):
    """{metric name: [ {label: value} per sample ]} from GET /metrics."""
    resp = r.get("/metrics")
    assert resp.status == 200, resp
    samples = {}
    for line in resp.text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.match(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})? ', line)
        assert m, "unparsable /metrics line %r" % line
        labels = {k: v for k, _, v in MATCHER_RE.findall(m.group(3) or "")}
        samples.setdefault(m.group(1), []).append(labels)
    return samples


def check_names(exprs, samples, what):
    used = set()
    for expr in exprs:
        for name, matchers in SELECTOR_RE.findall(expr):
            used.add(name)
            assert name in samples, "%s uses %s, not in /metrics: %s" % (
                what, name, sorted(samples))
            for label, op, value in MATCHER_RE.findall(matchers or ""):
                if op != "=" or label == "instance":
                    continue
                assert any(s.get(label) == value for s in samples[name]), \
                    "%s matches %s{%s=\"%s\"}, never served" % (
                        what, name, label, value)
    return used


@pytest.mark.servers("prosody")
def test_dashboard_and_rules_use_only_metrics_restanza_serves(
        server, restanza, tmp_path):
    r = restanza(server, config={
        "webhook": {"url": "http://127.0.0.1:9/hook"}})
    r.wait_connected()
    # One request so that restanza_http_requests_total has a sample.
    assert r.get("/status").status == 200
    samples = scrape(r)
    used = check_names(dashboard_exprs(), samples, "contrib/grafana")
    # The dashboard covers the stream, HTTP, webhook and roster families.
    for name in ("restanza_xmpp_connected", "restanza_http_requests_total",
                 "restanza_http_parked", "restanza_http_max_connections",
                 "restanza_webhook_failures_total", "restanza_webhook_queued",
                 "restanza_webhook_latency_seconds_sum",
                 "restanza_roster_fetch_failures_total"):
        assert name in used, "dashboard has no panel with " + name
    used = check_names(rule_exprs(), samples, "contrib/prometheus")
    assert len(used) >= 10, used


def test_the_name_check_catches_an_unknown_metric():
    samples = {"restanza_a_total": [{"reason": "x"}]}
    check_names(['rate(restanza_a_total{reason="x"}[5m])'], samples, "t")
    with pytest.raises(AssertionError):
        check_names(["restanza_b_total"], samples, "t")
    with pytest.raises(AssertionError):
        check_names(['restanza_a_total{reason="y"}'], samples, "t")
