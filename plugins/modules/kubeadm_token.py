#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: hakube maintainers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: kubeadm_token
short_description: Get a bootstrap token (and a certificate key) for joining nodes
version_added: 0.1.0
description:
  - Runs on an initialised control plane and returns what C(kubeadm join) needs, a
    bootstrap token, the CA public key pin and the API server endpoint, and on request a
    fresh certificate key for control planes.
  - An existing token is reused when it is a default node token (usages C(authentication)
    and C(signing), group C(system:bootstrappers:kubeadm:default-node-token)), carries
    O(description) and has at least O(min_ttl) left; otherwise C(kubeadm token create)
    makes one that lives O(ttl). Reusing changes nothing (C(changed=false)).
  - With O(certificate_key=true) the module also runs
    C(kubeadm init phase upload-certs --upload-certs), which re-encrypts the control plane
    certificates in the C(kubeadm-certs) Secret with a new key and prints it. A key cannot
    be read back from the cluster, so this is always C(changed=true); ask for it only when
    a control plane still has to join.
  - The token and the certificate key are secrets. They are returned in RV(token) and
    RV(certificate_key) only, never in C(msg) or C(stdout); give the task C(no_log=true)
    so that Ansible does not print them.
author:
  - hakube maintainers (@hakube)
requirements:
  - kubeadm on the host.
attributes:
  check_mode:
    support: full
    details: Lists tokens (read only) but creates none and uploads no certificates; RV(token)
      is returned only when one would be reused.
  diff_mode:
    support: none
options:
  kubeconfig:
    description:
      - Admin kubeconfig kubeadm talks to the cluster with. Defaults to
        C(<kubernetes_dir>/admin.conf).
    type: path
  ttl:
    description:
      - Lifetime of a new token, as a Go duration (C(2h), C(90m)); C(0) never expires.
    type: str
    default: 2h
  min_ttl:
    description:
      - An existing token with less than this left is not reused.
    type: str
    default: 30m
  description:
    description:
      - Description of the tokens this module makes and reuses; tokens with another
        description are left alone.
    type: str
    default: hakube join token
  certificate_key:
    description:
      - Also upload the control plane certificates with a fresh key and return the key.
    type: bool
    default: false
  config:
    description:
      - kubeadm config file passed to C(kubeadm init phase upload-certs --config), for
        clusters whose certificatesDir or etcd settings differ from kubeadm's defaults.
    type: path
  timeout:
    description:
      - Seconds each kubeadm command may take.
    type: int
    default: 120
extends_documentation_fragment:
  - hakube.cluster.attributes
  - hakube.cluster.kubeadm
seealso:
  - module: hakube.cluster.kubeadm_join
  - name: kubeadm token
    description: The commands this module runs.
    link: https://kubernetes.io/docs/reference/setup-tools/kubeadm/kubeadm-token/
'''

EXAMPLES = r'''
- name: Get a join token for workers
  hakube.cluster.kubeadm_token:
  register: join_token
  no_log: true

- name: Get a token and a certificate key for a joining control plane
  hakube.cluster.kubeadm_token:
    certificate_key: true
    ttl: 1h
  register: join_cp
  no_log: true

- name: Join a worker with it
  hakube.cluster.kubeadm_join:
    api_server_endpoint: "{{ join_token.api_server_endpoint }}"
    token: "{{ join_token.token }}"
    discovery_token_ca_cert_hash: "{{ join_token.discovery_token_ca_cert_hash }}"
'''

RETURN = r'''
token:
  description: The bootstrap token (secret). Absent in check mode when a new one would be made.
  returned: success, except in check mode without a token to reuse
  type: str
  sample: abcdef.0123456789abcdef
token_reused:
  description: Whether an existing token was returned rather than a new one made.
  returned: always
  type: bool
  sample: true
token_expires:
  description: When the returned token expires (RFC 3339), C(null) if never.
  returned: when a token is returned
  type: str
  sample: '2026-11-23T12:00:00Z'
certificate_key:
  description: The fresh certificate key (secret), when O(certificate_key=true) and not in check mode.
  returned: when asked, except in check mode
  type: str
discovery_token_ca_cert_hash:
  description: C(sha256:<hex>) of the public key of C(<kubernetes_dir>/pki/ca.crt).
  returned: always
  type: str
  sample: sha256:7c4a2e5f0cb2c3a9d8f4b1e6a0f9d3c2b1a0e9f8d7c6b5a4f3e2d1c0b9a8f7e6
api_server_endpoint:
  description: host:port of the API server in the admin kubeconfig (the controlPlaneEndpoint).
  returned: always
  type: str
  sample: 192.0.2.10:6443
'''

import datetime
import json
import os
import re

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.hakube.cluster.plugins.module_utils.kubeadm import (
    KUBEADM_COMMON_ARGS, ca_cert_hash, fail_command, find_tool, parse_duration, run, server_from_kubeconfig,
)

DEFAULT_GROUP = 'system:bootstrappers:kubeadm:default-node-token'
JOIN_RE = re.compile(r'kubeadm join (\S+) --token (\S+)')
CERT_KEY_RE = re.compile(r'Using certificate key:\s*\n\s*([0-9a-fA-F]{64})')


def parse_token_objects(text):
    """The objects of `kubeadm token list -o json`: one JSON object per token, one after another."""
    decoder = json.JSONDecoder()
    objects = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos >= len(text):
            break
        obj, pos = decoder.raw_decode(text, pos)
        if isinstance(obj, list):
            objects.extend(obj)
        elif isinstance(obj, dict) and obj.get('kind') == 'List':
            objects.extend(obj.get('items') or [])
        else:
            objects.append(obj)
    return objects


def parse_time(value):
    if not value:
        return None
    value = value.replace('Z', '+00:00')
    return datetime.datetime.fromisoformat(value)


def reusable(tokens, description, min_left, now):
    """The usable token with the most time left, as (token, expires) or (None, None)."""
    best = None
    for tok in tokens:
        usages = set(tok.get('usages') or [])
        if not {'authentication', 'signing'} <= usages:
            continue
        if DEFAULT_GROUP not in (tok.get('groups') or []):
            continue
        if (tok.get('description') or '') != description:
            continue
        expires = parse_time(tok.get('expires'))
        if expires is not None and (expires - now).total_seconds() < min_left:
            continue
        key = datetime.datetime.max.replace(tzinfo=datetime.timezone.utc) if expires is None else expires
        if best is None or key > best[0]:
            best = (key, tok.get('token'), tok.get('expires'))
    return (best[1], best[2]) if best else (None, None)


def public(result):
    """result without its secrets, for failures."""
    return dict((k, v) for k, v in result.items() if k not in ('token', 'certificate_key'))


def main():
    module = AnsibleModule(
        argument_spec=dict(
            KUBEADM_COMMON_ARGS,
            kubeconfig=dict(type='path'),
            ttl=dict(type='str', default='2h'),
            min_ttl=dict(type='str', default='30m'),
            description=dict(type='str', default='hakube join token'),
            certificate_key=dict(type='bool', default=False, no_log=False),
            config=dict(type='path'),
            timeout=dict(type='int', default=120),
        ),
        supports_check_mode=True,
    )
    p = module.params
    kdir = p['kubernetes_dir']
    kubeconfig = p['kubeconfig'] or os.path.join(kdir, 'admin.conf')
    ca_path = os.path.join(kdir, 'pki', 'ca.crt')
    try:
        ttl = parse_duration(p['ttl'])
        min_left = parse_duration(p['min_ttl'])
    except ValueError as exc:
        module.fail_json(msg=str(exc))
    if ttl and min_left >= ttl:
        module.fail_json(msg='min_ttl (%s) must be shorter than ttl (%s)' % (p['min_ttl'], p['ttl']))
    if not os.path.isfile(kubeconfig):
        module.fail_json(msg='%s does not exist: is this an initialised control plane?' % kubeconfig)
    try:
        ca_hash = ca_cert_hash(ca_path)
    except (IOError, OSError, ValueError) as exc:
        module.fail_json(msg='cannot read the cluster CA %s: %s' % (ca_path, exc))
    kubeadm = find_tool(module, p['kubeadm_path'])

    result = dict(changed=False, token_reused=False, discovery_token_ca_cert_hash=ca_hash,
                  api_server_endpoint=server_from_kubeconfig(kubeconfig))

    listed = run([kubeadm, 'token', 'list', '--kubeconfig', kubeconfig, '-o', 'json'], timeout=p['timeout'])
    if not listed.ok:
        fail_command(module, 'kubeadm token list', listed, **result)
    try:
        tokens = parse_token_objects(listed.stdout)
    except ValueError as exc:
        module.fail_json(msg='cannot parse the output of kubeadm token list -o json: %s' % exc, **result)
    now = datetime.datetime.now(datetime.timezone.utc)
    token, expires = reusable(tokens, p['description'], min_left, now)

    if token:
        result.update(token=token, token_reused=True, token_expires=expires)
    else:
        result['changed'] = True
        if not module.check_mode:
            created = run([kubeadm, 'token', 'create', '--kubeconfig', kubeconfig, '--ttl', p['ttl'],
                           '--description', p['description'], '--print-join-command'],
                          timeout=p['timeout'])
            if not created.ok:
                fail_command(module, 'kubeadm token create', created, **result)
            match = JOIN_RE.search(created.stdout)
            if not match:
                module.fail_json(msg='kubeadm token create --print-join-command printed no join command', **result)
            result['api_server_endpoint'] = match.group(1)
            result['token'] = match.group(2)
            expiry = None
            if ttl:
                expiry = (now + datetime.timedelta(seconds=ttl)).strftime('%Y-%m-%dT%H:%M:%SZ')
            result['token_expires'] = expiry

    if p['certificate_key']:
        result['changed'] = True
        if not module.check_mode:
            argv = [kubeadm, 'init', 'phase', 'upload-certs', '--upload-certs', '--kubeconfig', kubeconfig]
            if p['config']:
                argv += ['--config', p['config']]
            uploaded = run(argv, timeout=p['timeout'])
            if not uploaded.ok:
                fail_command(module, 'kubeadm init phase upload-certs', uploaded,
                             secrets=[result.get('token')], **public(result))
            match = CERT_KEY_RE.search(uploaded.stdout)
            if not match:
                module.fail_json(msg='kubeadm init phase upload-certs printed no certificate key', **public(result))
            result['certificate_key'] = match.group(1)

    module.exit_json(**result)


if __name__ == '__main__':
    main()
