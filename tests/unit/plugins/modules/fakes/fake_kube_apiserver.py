"""A tiny stand-in for the Kubernetes API server, for kubernetes.core modules in tests.

It serves only what kubernetes.core.k8s and k8s_info need to read, list and patch
v1 Nodes: the discovery documents (/version, /api, /apis, /api/v1), GET of one Node or
of the NodeList (with an equality-based labelSelector), and PATCH with
``application/strategic-merge-patch+json`` or ``application/merge-patch+json`` (a null
value removes the key, as in both patch types for maps), honouring ``dryRun=All``.
Every PATCH that is not a dry run is recorded in ``patches``.

Start it in the test process with ``FakeKubeAPIServer(nodes)``; ``kubeconfig(path)``
writes a kubeconfig pointing at it (plain HTTP, no credentials).
"""
import copy
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

NODE_RESOURCE = {"name": "nodes", "singularName": "node", "namespaced": False, "kind": "Node",
                 "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"],
                 "shortNames": ["no"]}


def merge_patch(target, patch):
    """RFC 7386 merge patch (strategic merge behaves the same for metadata.labels)."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value)
    return out


def selector_matches(selector, labels):
    labels = labels or {}
    for term in filter(None, (t.strip() for t in selector.split(","))):
        if "!=" in term:
            key, value = term.split("!=", 1)
            if labels.get(key.strip()) == value.strip():
                return False
            continue
        key, sep, value = term.replace("==", "=").partition("=")
        if not sep and key.strip() in labels:
            continue
        if labels.get(key.strip()) != value.strip():
            return False
    return True


class FakeKubeAPIServer:
    def __init__(self, nodes=None):
        self.lock = threading.Lock()
        self.nodes = {}
        self.rv = 100
        self.patches = []
        for node in nodes or []:
            self.add_node(node)
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _send(self, code, body):
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                code, body = server.get(urlparse(self.path))
                self._send(code, body)

            def do_PATCH(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                code, out = server.patch(urlparse(self.path), self.headers.get("Content-Type", ""), body)
                self._send(code, out)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d" % self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()

    def add_node(self, node):
        node = copy.deepcopy(node)
        node.setdefault("apiVersion", "v1")
        node.setdefault("kind", "Node")
        meta = node.setdefault("metadata", {})
        meta.setdefault("labels", {})
        meta.setdefault("uid", "uid-" + meta["name"])
        self.rv += 1
        meta["resourceVersion"] = str(self.rv)
        self.nodes[meta["name"]] = node

    def labels(self, name):
        with self.lock:
            return dict(self.nodes[name]["metadata"].get("labels") or {})

    def kubeconfig(self, path):
        config = {"apiVersion": "v1", "kind": "Config", "current-context": "fake",
                  "clusters": [{"name": "fake", "cluster": {"server": self.url}}],
                  "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "fake"}}],
                  "users": [{"name": "fake", "user": {}}]}
        with open(path, "w") as handle:
            json.dump(config, handle)
        return path

    @staticmethod
    def _status(code, reason, message):
        return code, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                      "message": message, "reason": reason, "code": code}

    def get(self, url):
        path = url.path.rstrip("/")
        if path == "/version":
            return 200, {"major": "1", "minor": "36", "gitVersion": "v1.36.3"}
        if path == "/api":
            return 200, {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []}
        if path == "/apis":
            return 200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": []}
        if path == "/api/v1":
            return 200, {"kind": "APIResourceList", "groupVersion": "v1", "resources": [NODE_RESOURCE]}
        if path == "/api/v1/nodes":
            selector = parse_qs(url.query).get("labelSelector", [""])[0]
            with self.lock:
                items = [copy.deepcopy(n) for n in self.nodes.values()
                         if selector_matches(selector, n["metadata"].get("labels"))]
                return 200, {"kind": "NodeList", "apiVersion": "v1",
                             "metadata": {"resourceVersion": str(self.rv)}, "items": items}
        if path.startswith("/api/v1/nodes/"):
            name = path.rsplit("/", 1)[1]
            with self.lock:
                if name not in self.nodes:
                    return self._status(404, "NotFound", 'nodes "%s" not found' % name)
                return 200, copy.deepcopy(self.nodes[name])
        return self._status(404, "NotFound", "the server could not find the requested resource")

    def patch(self, url, content_type, body):
        path = url.path.rstrip("/")
        if not path.startswith("/api/v1/nodes/"):
            return self._status(404, "NotFound", "the server could not find the requested resource")
        if content_type.split(";")[0] not in ("application/strategic-merge-patch+json",
                                              "application/merge-patch+json"):
            return self._status(415, "UnsupportedMediaType", "unsupported patch type %s" % content_type)
        name = path.rsplit("/", 1)[1]
        dry_run = parse_qs(url.query).get("dryRun", [""])[0] == "All"
        with self.lock:
            if name not in self.nodes:
                return self._status(404, "NotFound", 'nodes "%s" not found' % name)
            before = self.nodes[name]
            after = merge_patch(before, body)
            after["metadata"]["uid"] = before["metadata"]["uid"]
            if after != before and not dry_run:
                self.rv += 1
                after["metadata"]["resourceVersion"] = str(self.rv)
            else:
                after["metadata"]["resourceVersion"] = before["metadata"]["resourceVersion"]
            if not dry_run:
                self.nodes[name] = after
                self.patches.append({"name": name, "patch": body})
            return 200, copy.deepcopy(after)
