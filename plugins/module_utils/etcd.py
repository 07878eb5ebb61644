# -*- coding: utf-8 -*-
# Copyright: hakube maintainers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""A small client of etcd's v3 JSON gateway (grpc-gateway), standard library only.

etcd serves its gRPC API as JSON on the client port: ``POST /v3/cluster/member/list``
answers an ``etcdserverpb.MemberListResponse``::

    {"header": {"cluster_id": "...", "member_id": "...", "raft_term": "..."},
     "members": [{"ID": "...", "name": "...", "peerURLs": [...],
                  "clientURLs": [...], "isLearner": true}]}

64-bit integers (``ID``, ``member_id``) travel as decimal strings, and fields at
their default value (``isLearner: false``, the empty ``name`` and ``clientURLs`` of
a member that never started) are left out. ``POST /v3/cluster/member/remove`` takes
``{"ID": "<decimal>"}``. Errors come back with an HTTP error status and a body
``{"error": "...", "code": N, "message": "..."}``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import ssl

from urllib.error import HTTPError, URLError
from urllib.request import Request, build_opener, HTTPSHandler


class EtcdError(Exception):
    """etcd could not be reached or refused the request."""


class EtcdGateway:
    """Talks to one etcd endpoint with a client certificate."""

    def __init__(self, endpoint, ca_cert, client_cert, client_key, timeout=30):
        self.endpoint = endpoint.rstrip('/')
        self.timeout = timeout
        try:
            context = ssl.create_default_context(cafile=ca_cert)
            context.load_cert_chain(client_cert, client_key)
        except (IOError, OSError, ssl.SSLError) as exc:
            raise EtcdError('cannot load the etcd client certificate or CA (%s, %s, %s): %s'
                            % (client_cert, client_key, ca_cert, exc))
        self._opener = build_opener(HTTPSHandler(context=context))

    def call(self, path, body=None):
        url = self.endpoint + path
        data = json.dumps(body or {}).encode('utf-8')
        request = Request(url, data=data, headers={'Content-Type': 'application/json'})
        try:
            response = self._opener.open(request, timeout=self.timeout)
            text = response.read().decode('utf-8')
        except HTTPError as exc:
            detail = exc.read().decode('utf-8', 'replace')
            try:
                parsed = json.loads(detail)
                detail = parsed.get('message') or parsed.get('error') or detail
            except ValueError:
                pass
            raise EtcdError('etcd at %s answered %s %s: %s' % (url, exc.code, exc.reason, detail.strip()))
        except (URLError, IOError, OSError, ssl.SSLError) as exc:
            raise EtcdError('cannot reach etcd at %s: %s' % (url, getattr(exc, 'reason', exc)))
        try:
            return json.loads(text) if text.strip() else {}
        except ValueError:
            raise EtcdError('etcd at %s answered something that is not JSON: %s' % (url, text[:200]))

    def member_list(self):
        """(members, id of the member that answered); members are normalised dicts."""
        answer = self.call('/v3/cluster/member/list', {'linearizable': True})
        header = answer.get('header') or {}
        members = [normalise_member(m) for m in answer.get('members') or []]
        return members, str(header.get('member_id', ''))

    def member_remove(self, member_id):
        """Remove a member by its decimal ID; returns the members left."""
        answer = self.call('/v3/cluster/member/remove', {'ID': str(member_id)})
        return [normalise_member(m) for m in answer.get('members') or []]


def normalise_member(raw):
    """A gateway member as {id, id_hex, name, peer_urls, client_urls, is_learner}."""
    member_id = str(raw.get('ID', '0'))
    try:
        id_hex = '%x' % int(member_id)
    except ValueError:
        id_hex = member_id
    return {
        'id': member_id,
        'id_hex': id_hex,
        'name': raw.get('name', ''),
        'peer_urls': list(raw.get('peerURLs') or []),
        'client_urls': list(raw.get('clientURLs') or []),
        'is_learner': bool(raw.get('isLearner', False)),
    }


def same_url(a, b):
    return a.rstrip('/').lower() == b.rstrip('/').lower()
