#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: hakube maintainers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: kubeadm_init
short_description: Initialise the first control plane of a cluster with kubeadm, once
version_added: 0.1.0
description:
  - Runs C(kubeadm init --config) on the first control plane when, and only when, the
    host holds no cluster yet.
  - "Tells three host states apart by what kubeadm leaves under O(kubernetes_dir) and in
    O(etcd_data_dir): B(initialised and healthy) (C(admin.conf) present and the API server
    answers C(/readyz) through C(kubectl --kubeconfig admin.conf)): nothing is run,
    C(changed=false); B(half-initialised) (static pod manifests, C(kubelet.conf) or etcd data
    present but no C(admin.conf), or C(admin.conf) present but the API server does not
    answer, or it answers but kubeadm init stopped before it finished: C(admin.conf) is
    refused (C(Forbidden): the admin ClusterRoleBinding was never made) or the
    C(kube-system/kubeadm-config) ConfigMap does not exist (C(NotFound)); C(pki/ca.crt)
    alone does not count, a CA may be placed there on purpose): the
    module fails with a list of what it found, or with O(recover=true) runs
    C(kubeadm reset -f), removes what reset left in O(etcd_data_dir) and initialises
    again; B(not initialised): C(kubeadm init) runs."
  - Before it initialises (or, with O(recover=true), resets) a host whose own API server
    does not answer (and did not prove an unfinished init of its own), the module asks
    the control-plane endpoint for C(/version). When a Kubernetes API server answers there, another control plane already runs the cluster
    behind that endpoint (this host was reset or replaced, or another host is the one
    to init), and C(kubeadm init) here would make a second cluster behind the same VIP;
    the module fails instead, in check mode as well, and says to join this host; with
    O(endpoint_in_use=report) it returns RV(state=endpoint_in_use) without changing
    anything, for a role that then joins the host. The endpoint is asked before a
    half-initialised host fails or is recovered, so what such a host has left is not
    reset when another control plane runs the cluster. See O(check_endpoint).
  - A reset keeps the static pod manifests that kubeadm did not write, such as the
    apiserver load balancer's haproxy and keepalived; they are put back after it.
  - On an initialised cluster the module compares the ClusterConfiguration in O(config)
    with the cluster's C(kube-system/kubeadm-config) ConfigMap (read with kubectl) and
    returns the difference in RV(config_drift); fields that kubeadm cannot change on a
    running cluster are listed in RV(drift_not_applicable_in_place). With C(--diff) the
    difference is also shown as a diff. Drift never changes anything.
  - The output of kubeadm (join commands with bootstrap tokens, the certificate key) is
    returned with every token and key replaced by C(<redacted>).
author:
  - hakube maintainers (@hakube)
requirements:
  - kubeadm on the host.
  - kubectl on the host (to ask the API server whether it is healthy and to read the
    kubeadm-config ConfigMap).
  - PyYAML on the host (shipped with ansible-core) to read O(config); without it the
    module cannot compute the endpoint or drift and fails.
attributes:
  check_mode:
    support: full
    details: Reports what would happen; nothing that changes the host runs.
  diff_mode:
    support: full
    details: Shows how O(config) differs from the cluster's kubeadm-config ConfigMap.
options:
  config:
    description:
      - Path on the host of the kubeadm config file (InitConfiguration, ClusterConfiguration,
        KubeletConfiguration, KubeProxyConfiguration documents) to initialise with.
    type: path
    required: true
  upload_certs:
    description:
      - Pass C(--upload-certs) so that the control plane certificates are stored, encrypted,
        in the C(kubeadm-certs) Secret for other control planes to join with.
    type: bool
    default: true
  recover:
    description:
      - When the host is half-initialised, run C(kubeadm reset -f) and initialise again
        instead of failing. Destroys what the failed attempt left, including etcd data.
      - A host whose C(admin.conf) exists but whose API server does not answer within
        O(api_server_wait) counts as half-initialised, so enable this only for the first
        creation of a cluster, never on one that holds workloads.
      - An API server that answers counts as half-initialised only on positive evidence
        that init did not finish (C(Forbidden) or C(NotFound) for the kubeadm-config
        ConfigMap); any other error reading it is a warning and the cluster counts as
        initialised, so a passing fault never leads to a reset.
    type: bool
    default: false
  ignore_preflight_errors:
    description:
      - Preflight checks whose errors kubeadm is to treat as warnings
        (C(--ignore-preflight-errors)), for example C(NumCPU) or C(all).
    type: list
    elements: str
    default: []
  etcd_data_dir:
    description:
      - Data directory of the stacked etcd (C(etcd.local.dataDir) in O(config)).
    type: path
    default: /var/lib/etcd
  kubectl_path:
    description:
      - Name or path of the kubectl executable.
    type: str
    default: kubectl
  timeout:
    description:
      - Seconds that C(kubeadm init) (and C(kubeadm reset)) may take before it is stopped
        and the module fails.
    type: int
    default: 900
  api_server_wait:
    description:
      - When C(admin.conf) exists, seconds to keep asking the API server (every 5 seconds)
        before the host counts as half-initialised. A control plane that is just booting
        is thereby not mistaken for a failed init (and, with O(recover=true), reset).
    type: int
    default: 60
  check_endpoint:
    description:
      - Ask the control-plane endpoint (C(controlPlaneEndpoint) of O(config), else the
        advertise address and bind port) whether a Kubernetes API server already answers
        before initialising, and fail if one does (see the description). Nothing
        answering within O(endpoint_timeout) seconds, a failed TLS handshake or an answer
        that is not Kubernetes all count as no cluster.
    type: bool
    default: true
  endpoint_timeout:
    description:
      - Seconds to wait for the control-plane endpoint to answer (O(check_endpoint)). A
        VIP that no host holds yet costs this much once, on the first initialisation.
    type: int
    default: 5
  endpoint_in_use:
    description:
      - What to do when O(check_endpoint) finds a Kubernetes API server answering at the
        control-plane endpoint while this host runs none.
      - C(fail) stops with a message that says to join this host instead.
      - C(report) succeeds with C(changed=false) and RV(state=endpoint_in_use), and
        initialises nothing; the caller joins the host to the cluster that answers (the
        hakube.cluster.control_plane role does so when a control plane of that cluster
        is in the play).
    type: str
    choices: [fail, report]
    default: fail
extends_documentation_fragment:
  - hakube.cluster.attributes
  - hakube.cluster.kubeadm
seealso:
  - module: hakube.cluster.kubeadm_token
  - module: hakube.cluster.kubeadm_join
  - name: kubeadm init
    description: The command this module runs.
    link: https://kubernetes.io/docs/reference/setup-tools/kubeadm/kubeadm-init/
notes:
  - The module runs kubeadm as the user Ansible becomes; kubeadm needs root.
'''

EXAMPLES = r'''
- name: Initialise the first control plane
  hakube.cluster.kubeadm_init:
    config: /etc/kubernetes/kubeadm-init.yaml
  register: init

- name: Initialise, starting over when an earlier attempt was interrupted
  hakube.cluster.kubeadm_init:
    config: /etc/kubernetes/kubeadm-init.yaml
    recover: true
    ignore_preflight_errors: [NumCPU]

- name: Show what differs from the running cluster's configuration
  hakube.cluster.kubeadm_init:
    config: /etc/kubernetes/kubeadm-init.yaml
  check_mode: true
  diff: true
  register: init_check

- name: Warn about drift kubeadm cannot apply in place
  ansible.builtin.debug:
    msg: "Cannot change in place: {{ init_check.drift_not_applicable_in_place }}"
  when: init_check.drift_not_applicable_in_place | length > 0

- name: Initialise unless another control plane already runs the cluster at the endpoint
  hakube.cluster.kubeadm_init:
    config: /etc/kubernetes/kubeadm-init.yaml
    endpoint_in_use: report
  register: init

- name: This host was reset or replaced; join it to the running cluster instead
  ansible.builtin.debug:
    msg: "{{ init.endpoint_answered }} answers at {{ init.api_server_endpoint }}"
  when: init.state == 'endpoint_in_use'
'''

RETURN = r'''
state:
  description:
    - C(initialized) when kubeadm init ran, C(recovered) when a half-initialised host was
      reset and initialised, C(already_initialized) when the cluster was up,
      C(would_initialize) in check mode when init (or a reset and init) would run,
      C(endpoint_in_use) with O(endpoint_in_use=report) when another control plane's API
      server answers at the endpoint and nothing was done.
  returned: always
  type: str
  sample: initialized
api_server_endpoint:
  description:
    - The controlPlaneEndpoint of O(config) as host:port (the port defaults to the
      bindPort, 6443); without one, the advertise address and bind port.
  returned: always
  type: str
  sample: 192.0.2.10:6443
discovery_token_ca_cert_hash:
  description:
    - C(sha256:<hex>) of the public key of C(<kubernetes_dir>/pki/ca.crt), as
      C(kubeadm join --discovery-token-ca-cert-hash) expects. Absent in check mode
      before the CA exists.
  returned: when pki/ca.crt exists
  type: str
  sample: sha256:7c4a2e5f0cb2c3a9d8f4b1e6a0f9d3c2b1a0e9f8d7c6b5a4f3e2d1c0b9a8f7e6
config_drift:
  description:
    - Fields of the ClusterConfiguration in O(config) that differ from the cluster's
      kubeadm-config ConfigMap, keyed by dotted path, each with the C(wanted) and the
      C(current) value. Fields that O(config) leaves out are not compared.
    - Empty when nothing differs or the cluster is not initialised.
  returned: always
  type: dict
  sample: {"networking.podSubnet": {"wanted": "10.245.0.0/16", "current": "10.244.0.0/16"}}
drift_not_applicable_in_place:
  description:
    - The paths of RV(config_drift) that kubeadm cannot change on a running cluster
      (networking subnets and DNS domain, etcd data directory, controlPlaneEndpoint, ...).
  returned: always
  type: list
  elements: str
  sample: [networking.podSubnet]
stale_state_found:
  description:
    - What a half-initialised host had (files and directories); empty otherwise.
  returned: always
  type: list
  elements: str
  sample: [/etc/kubernetes/manifests/etcd.yaml, /var/lib/etcd/member]
endpoint_answered:
  description:
    - The version of the Kubernetes API server that already answered at the control-plane
      endpoint, when that stopped the init (O(check_endpoint)).
  returned: when the module failed for that reason, or returned RV(state=endpoint_in_use)
  type: str
  sample: v1.36.3
stdout:
  description: Output of kubeadm init with bootstrap tokens and certificate keys redacted.
  returned: when kubeadm init ran
  type: str
'''

import os
import time

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible_collections.hakube.cluster.plugins.module_utils.kubeadm import (
    KUBEADM_COMMON_ARGS, HAS_YAML, ca_cert_hash, compute_drift, describe_failure, detect_state,
    endpoint_from_config, fail_command, find_tool, kubernetes_api_at, load_config_documents, load_yaml,
    redact, reset_keeping_manifests, run, server_from_kubeconfig,
)


def api_server_healthy(kubectl, admin_conf, wait):
    """(healthy, what kubectl said), asking again every 5 seconds for up to wait seconds."""
    deadline = time.time() + wait
    while True:
        result = run([kubectl, '--kubeconfig', admin_conf, 'get', '--raw=/readyz',
                      '--request-timeout=10s'], timeout=30)
        if result.ok or time.time() >= deadline:
            return result.ok, (result.stderr or result.stdout).strip()
        time.sleep(5)


# kubectl's messages for an answer that proves `kubeadm init` stopped before its end: the
# admin user was never bound to cluster-admin (kubeadm makes that binding at the end of
# wait-control-plane), or upload-config never stored the kubeadm-config ConfigMap.
UNFINISHED_INIT = ('Error from server (Forbidden)', 'Error from server (NotFound)')


def cluster_configuration(module, kubectl, admin_conf, wait):
    """(doc or None, why init is unfinished or '') from kube-system/kubeadm-config.

    Asks again every 5 seconds for up to ``wait`` seconds while the answer is neither the
    ConfigMap nor proof of an unfinished init; then warns and returns (None, '').
    """
    deadline = time.time() + wait
    while True:
        result = run([kubectl, '--kubeconfig', admin_conf, '-n', 'kube-system', 'get', 'configmap',
                      'kubeadm-config', '-o', 'jsonpath={.data.ClusterConfiguration}'], timeout=60)
        if result.ok:
            break
        said = (result.stderr or result.stdout).strip()
        if any(marker in said for marker in UNFINISHED_INIT):
            return None, said
        if time.time() >= deadline:
            module.warn(describe_failure('reading the kubeadm-config ConfigMap', result))
            return None, ''
        time.sleep(5)
    try:
        doc = load_yaml(result.stdout)
    except Exception as exc:  # pylint: disable=broad-except
        module.warn('the kubeadm-config ConfigMap holds no readable ClusterConfiguration: %s' % exc)
        return None, ''
    return (doc if isinstance(doc, dict) else None), ''


def remove_tree_contents(path):
    for root, dirs, files in os.walk(path, topdown=False):
        for name in files:
            os.unlink(os.path.join(root, name))
        for name in dirs:
            full = os.path.join(root, name)
            if os.path.islink(full):
                os.unlink(full)
            else:
                os.rmdir(full)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            KUBEADM_COMMON_ARGS,
            config=dict(type='path', required=True),
            upload_certs=dict(type='bool', default=True),
            recover=dict(type='bool', default=False),
            ignore_preflight_errors=dict(type='list', elements='str', default=[]),
            etcd_data_dir=dict(type='path', default='/var/lib/etcd'),
            kubectl_path=dict(type='str', default='kubectl'),
            timeout=dict(type='int', default=900),
            api_server_wait=dict(type='int', default=60),
            check_endpoint=dict(type='bool', default=True),
            endpoint_timeout=dict(type='int', default=5),
            endpoint_in_use=dict(type='str', choices=['fail', 'report'], default='fail'),
        ),
        supports_check_mode=True,
    )
    p = module.params
    if not HAS_YAML:
        module.fail_json(msg=missing_required_lib('PyYAML', reason='to read the kubeadm config file'))
    if not os.path.isfile(p['config']):
        module.fail_json(msg='kubeadm config file %s does not exist' % p['config'])
    try:
        docs = load_config_documents(p['config'])
    except Exception as exc:  # pylint: disable=broad-except
        module.fail_json(msg='cannot read kubeadm config file %s: %s' % (p['config'], exc))
    if 'ClusterConfiguration' not in docs:
        module.fail_json(msg='%s holds no ClusterConfiguration document' % p['config'])

    kdir = p['kubernetes_dir']
    admin_conf = os.path.join(kdir, 'admin.conf')
    ca_path = os.path.join(kdir, 'pki', 'ca.crt')
    kubeadm = find_tool(module, p['kubeadm_path'])
    kubectl = find_tool(module, p['kubectl_path'], required=False)
    endpoint = endpoint_from_config(docs)

    result = dict(changed=False, api_server_endpoint=endpoint, config_drift={},
                  drift_not_applicable_in_place=[], stale_state_found=[])

    def finish(state, **extra):
        result.update(extra)
        result['state'] = state
        if os.path.isfile(ca_path):
            try:
                result['discovery_token_ca_cert_hash'] = ca_cert_hash(ca_path)
            except (IOError, OSError, ValueError) as exc:
                module.fail_json(msg='cannot read the cluster CA %s: %s' % (ca_path, exc), **result)
        if not result['api_server_endpoint']:
            result['api_server_endpoint'] = server_from_kubeconfig(admin_conf)
        module.exit_json(**result)

    host = detect_state(kdir, p['etcd_data_dir'])
    healthy = False
    why_unhealthy = ''
    if host['admin_conf']:
        if kubectl is None:
            module.fail_json(msg='%s exists but kubectl (%s) was not found: without it the module cannot tell '
                                 'a healthy cluster from a failed init' % (admin_conf, p['kubectl_path']), **result)
        healthy, why_unhealthy = api_server_healthy(kubectl, admin_conf, p['api_server_wait'])

    unfinished = ''
    if healthy:
        current, unfinished = cluster_configuration(module, kubectl, admin_conf, p['api_server_wait'])
    if healthy and not unfinished:
        if current is not None:
            drift, not_in_place = compute_drift(docs['ClusterConfiguration'], current)
            result['config_drift'] = drift
            result['drift_not_applicable_in_place'] = not_in_place
            if module._diff and drift:
                result['diff'] = dict(
                    before_header='kube-system/kubeadm-config ClusterConfiguration',
                    after_header=p['config'],
                    before=''.join('%s: %r\n' % (k, v['current']) for k, v in sorted(drift.items())),
                    after=''.join('%s: %r\n' % (k, v['wanted']) for k, v in sorted(drift.items())),
                )
        finish('already_initialized')

    # pki/ca.crt alone is no sign of a failed init: a CA may be placed there on purpose.
    stale = [f for f in host['found'] if f != ca_path]
    half = bool(stale)
    if half:
        result['stale_state_found'] = stale

    # This host's API server does not answer: if one answers at the endpoint anyway, it
    # is another control plane's, and the cluster is already there. Asked before a
    # half-initialised host fails or is reset: its leftovers are then a join's to clean.
    # Not when this host's admin.conf got Forbidden/NotFound: that answer came from this
    # host's own unfinished cluster (another cluster's CA would fail the TLS handshake).
    if p['check_endpoint'] and endpoint and not unfinished:
        other = kubernetes_api_at(endpoint, p['endpoint_timeout'])
        if other and p['endpoint_in_use'] == 'report':
            finish('endpoint_in_use', endpoint_answered=other)
        if other:
            module.fail_json(
                msg='this host runs no cluster, but a Kubernetes API server (%s) already answers at '
                    'the control-plane endpoint %s: kubeadm init here would make a second cluster '
                    'behind the same endpoint. Join this host to that cluster instead (hakube: run '
                    'site.yml with a control plane of that cluster in the play; it joins this host), '
                    'or reset that cluster first. Nothing was changed.' % (other, endpoint),
                endpoint_answered=other, **result)

    if half:
        if unfinished:
            reason = 'the API server answers, but kubeadm init did not finish (%s)' % unfinished
        elif host['admin_conf']:
            reason = 'admin.conf exists but the API server does not answer (%s)' % why_unhealthy
        else:
            reason = 'no admin.conf, but kubeadm left files behind'
        if not p['recover']:
            module.fail_json(
                msg='the host is half-initialised: %s. Found: %s. Run again with recover=true to '
                    'reset it with kubeadm reset -f and initialise again (this wipes the etcd data), '
                    'or clean up by hand.' % (reason, ', '.join(stale)),
                **result)

    result['changed'] = True
    if module.check_mode:
        finish('would_initialize')

    if half:
        reset = reset_keeping_manifests([kubeadm, 'reset', '-f'], kdir, p['timeout'])
        if not reset.ok:
            fail_command(module, 'kubeadm reset -f (to recover a half-initialised host)', reset, **result)
        etcd_member = os.path.join(p['etcd_data_dir'], 'member')
        if os.path.isdir(etcd_member):
            remove_tree_contents(p['etcd_data_dir'])

    argv = [kubeadm, 'init', '--config', p['config']]
    if p['upload_certs']:
        argv.append('--upload-certs')
    if p['ignore_preflight_errors']:
        argv.append('--ignore-preflight-errors=%s' % ','.join(p['ignore_preflight_errors']))
    init = run(argv, timeout=p['timeout'])
    if not init.ok:
        # Honest changed: a preflight failure leaves the host as it was, a later one does not.
        after = detect_state(kdir, p['etcd_data_dir'])['found']
        result['changed'] = half or after != host['found']
        fail_command(module, 'kubeadm init', init, **result)
    finish('recovered' if half else 'initialized', stdout=redact(init.stdout))


if __name__ == '__main__':
    main()
