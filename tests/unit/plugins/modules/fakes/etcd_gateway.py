# -*- coding: utf-8 -*-
"""A stand-in for etcd's v3 JSON gateway: a real HTTPS server that requires a client certificate.

It answers the two calls kubeadm_etcd_member makes, in the format of etcd's grpc-gateway as
described by etcd's swagger (Documentation/dev-guide/apispec/swagger/rpc.swagger.json in
etcd-io/etcd: ``etcdserverpbMemberListResponse`` = ``{header, members}``,
``etcdserverpbMember`` = ``{ID, name, peerURLs, clientURLs, isLearner}``, ``ID`` and the header's
``cluster_id``/``member_id``/``raft_term`` are uint64 written as strings; the request
``etcdserverpbMemberRemoveRequest`` is ``{"ID": "<uint64>"}``):

* ``POST /v3/cluster/member/list`` -> MemberListResponse.
* ``POST /v3/cluster/member/remove`` -> MemberRemoveResponse (the members left), or, for an
  unknown ID, HTTP 404 with ``{"error": "etcdserver: member not found", "code": 5, "message": ...}``
  (grpc-gateway maps gRPC NotFound to 404).

Like etcd, it leaves fields at their default value out (``isLearner: false``, the empty name
and clientURLs of a member that never started).
"""

import json
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class EtcdState:
    def __init__(self, members, self_id, cluster_id='14841639068965178418'):
        self.members = [dict(m) for m in members]
        self.self_id = str(self_id)
        self.cluster_id = cluster_id
        self.requests = []
        self.lock = threading.Lock()

    def header(self):
        return {'cluster_id': self.cluster_id, 'member_id': self.self_id, 'raft_term': '7'}

    def wire_members(self):
        out = []
        for m in self.members:
            wire = {'ID': str(m['ID']), 'peerURLs': m['peerURLs']}
            if m.get('name'):
                wire['name'] = m['name']
            if m.get('clientURLs'):
                wire['clientURLs'] = m['clientURLs']
            if m.get('isLearner'):
                wire['isLearner'] = True
            out.append(wire)
        return out


def make_handler(state):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):  # pylint: disable=arguments-differ
            pass

        def reply(self, code, body):
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header('Content-Type', 'application/json')
            self.send_header('Content-Length', str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self):  # pylint: disable=invalid-name
            length = int(self.headers.get('Content-Length') or 0)
            body = json.loads(self.rfile.read(length) or b'{}')
            peer = self.connection.getpeercert()
            with state.lock:
                state.requests.append({'path': self.path, 'body': body, 'client_cert': bool(peer)})
                if self.path == '/v3/cluster/member/list':
                    self.reply(200, {'header': state.header(), 'members': state.wire_members()})
                elif self.path == '/v3/cluster/member/remove':
                    wanted = str(body.get('ID'))
                    if not any(str(m['ID']) == wanted for m in state.members):
                        msg = 'etcdserver: member not found'
                        self.reply(404, {'error': msg, 'code': 5, 'message': msg})
                        return
                    state.members = [m for m in state.members if str(m['ID']) != wanted]
                    self.reply(200, {'header': state.header(), 'members': state.wire_members()})
                else:
                    self.reply(404, {'error': 'Not Found', 'code': 5, 'message': 'Not Found'})

    return Handler


class EtcdGatewayServer:
    """Serves state on 127.0.0.1:<free port> over TLS, requiring a client cert signed by ca."""

    def __init__(self, state, server_cert, server_key, ca_cert):
        self.state = state
        self.httpd = ThreadingHTTPServer(('127.0.0.1', 0), make_handler(state))
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(server_cert, server_key)
        context.load_verify_locations(ca_cert)
        context.verify_mode = ssl.CERT_REQUIRED
        self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def endpoint(self):
        return 'https://127.0.0.1:%d' % self.httpd.server_address[1]

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()
