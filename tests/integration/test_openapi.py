# SPDX-License-Identifier: MIT
"""doc/openapi.yaml: it parses, documents every route the C sources register
with httpd_route() (and no route that does not exist), its references
resolve, and it passes an OpenAPI validator when one is installed. Needs no
XMPP server and no daemon."""

import glob
import os
import re
import warnings

import pytest

yaml = pytest.importorskip("yaml")

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SPEC = os.path.join(REPO, "doc", "openapi.yaml")
METHODS = ("get", "put", "post", "delete", "options", "head", "patch",
           "trace")
ROUTE_RE = re.compile(
    r'httpd_route\(\s*\w+\s*,\s*"([A-Z]+)"\s*,\s*("[^"]*"|\w+)\s*,'
    r'\s*(true|false)\s*,')
DEFINE_RE = re.compile(r'^#define\s+(\w+)\s+"([^"]*)"\s*$', re.M)


@pytest.fixture(scope="module")
def spec():
    with open(SPEC) as f:
        return yaml.safe_load(f)


def registered_routes():
    """(method, path, prefix) for every httpd_route() call in src/*.c."""
    routes = []
    for path in sorted(glob.glob(os.path.join(REPO, "src", "*.c"))):
        if os.path.basename(path) == "httpd.c":
            continue  # the definition, not a route
        with open(path) as f:
            text = f.read()
        defines = dict(DEFINE_RE.findall(text))
        calls = text.count("httpd_route(")
        found = ROUTE_RE.findall(text)
        assert len(found) == calls, \
            "%s: cannot read every httpd_route() call" % path
        for method, route, prefix in found:
            if route.startswith('"'):
                route = route[1:-1]
            else:
                assert route in defines, \
                    "%s: %s is not a string #define" % (path, route)
                route = defines[route]
            routes.append((method.lower(), route, prefix == "true"))
    return routes


def covers(route, template):
    """Whether an OpenAPI path template serves a registered route."""
    method, path, prefix = route
    if not prefix:
        return template == path
    # A prefix route serves path/<more>: a template below it.
    return template.startswith(path + "/") and "{" in template[len(path):]


def test_spec_parses(spec):
    assert spec["openapi"] == "3.1.0"
    assert spec["info"]["title"] and spec["info"]["version"]
    assert {"bearer", "basic"} <= set(spec["components"]["securitySchemes"])
    for name in ("Stanza", "Error", "HttpError"):
        assert name in spec["components"]["schemas"], name


def test_every_registered_route_is_documented(spec):
    routes = registered_routes()
    assert ("post", "/rest", False) in routes  # sanity of the scan
    documented = [(m, p) for p, item in spec["paths"].items()
                  for m in item if m in METHODS]
    for route in routes:
        assert any(m == route[0] and covers(route, p)
                   for m, p in documented), \
            "route %s %s%s is not in doc/openapi.yaml" % (
                route[0].upper(), route[1], "/..." if route[2] else "")
    # And nothing is documented that restanza does not serve.
    for m, p in documented:
        assert any(m == r[0] and covers(r, p) for r in routes), \
            "doc/openapi.yaml documents %s %s, which no route serves" % (
                m.upper(), p)


def test_refresh_routes_follow_the_source(spec):
    has_refresh = os.path.exists(os.path.join(REPO, "src", "refresh.c"))
    documented = "/roster_admin/refresh" in spec["paths"]
    assert documented == has_refresh


def _walk(node, where=""):
    if isinstance(node, dict):
        yield where, node
        for k, v in node.items():
            yield from _walk(v, "%s/%s" % (where, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _walk(v, "%s/%d" % (where, i))


def _resolve(spec, ref):
    assert ref.startswith("#/"), ref
    node = spec
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        assert isinstance(node, dict) and part in node, "dangling " + ref
        node = node[part]
    return node


def test_references_and_path_parameters(spec):
    for where, node in _walk(spec):
        ref = node.get("$ref")
        if isinstance(ref, str):
            _resolve(spec, ref)
    ids = []
    for path, item in spec["paths"].items():
        wanted = set(re.findall(r"{([^}]+)}", path))
        for method in METHODS:
            op = item.get(method)
            if op is None:
                continue
            ids.append(op["operationId"])
            assert op["responses"], (method, path)
            params = [_resolve(spec, p["$ref"]) if "$ref" in p else p
                      for p in item.get("parameters", []) +
                      op.get("parameters", [])]
            in_path = {p["name"] for p in params if p["in"] == "path"}
            assert in_path == wanted, (method, path, in_path)
            assert all(p.get("required") for p in params
                       if p["in"] == "path"), (method, path)
    assert len(ids) == len(set(ids)), "duplicate operationId"


def test_json_examples_match_their_schemas(spec):
    jsonschema = pytest.importorskip("jsonschema")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        resolver = jsonschema.RefResolver.from_schema(spec)
    cls = jsonschema.Draft202012Validator
    for name, schema in spec["components"]["schemas"].items():
        cls.check_schema(schema)
    checked = 0
    for where, node in _walk(spec):
        if "schema" not in node or not re.search(r"/application~1json$|"
                                                 r"/application/json$",
                                                 where):
            continue
        values = []
        if "example" in node:
            values.append(node["example"])
        for ex in node.get("examples", {}).values():
            if "value" in ex:
                values.append(ex["value"])
        validator = cls(node["schema"], resolver=resolver)
        for v in values:
            errors = list(validator.iter_errors(v))
            assert not errors, "%s: %s" % (where, errors[0].message)
            checked += 1
    assert checked > 20

