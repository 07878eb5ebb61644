#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: hakube maintainers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: kubeadm_reset
short_description: Undo kubeadm init or join on a host, when there is something to undo
version_added: 0.1.0
description:
  - Runs C(kubeadm reset -f) when the host holds anything kubeadm leaves behind
    (C(admin.conf), C(kubelet.conf), C(pki/ca.crt), static pod manifests, etcd data), then
    removes O(cleanup_paths), which kubeadm reset leaves alone on purpose (CNI configuration,
    the admin kubeconfig copied to a home directory).
  - A host with none of that, no O(cleanup_paths) to remove, none of
    O(release_addresses) on an interface and none of the netfilter state below is left
    alone (C(changed=false)).
  - kubeadm reset leaves kube-proxy's and the CNI plugins' netfilter rules in place (its
    own output says to clean them by hand). With O(remove_iptables_chains) the module
    removes the iptables chains whose names start with the given prefixes (IPv4 and, with
    C(ip6tables), IPv6), and every rule that jumps to them, through one
    C(iptables-restore --noflush) batch per table, so every other rule stays; with
    O(remove_nftables_tables) it deletes those nftables tables (C(nft delete table)).
  - O(release_addresses) (the apiserver VIP) are removed from the host's interfaces after
    the reset. keepalived in a static pod cannot do that itself, because the reset stops every
    pod sandbox, and the CRI forcibly terminates the containers of a stopped sandbox
    (SIGKILL, no grace period), so a keepalived that held the VIP leaves it on the
    interface while another control plane takes it over, and two hosts answer ARP for
    the VIP.
  - On a control plane, kubeadm reset removes the host's own etcd member while etcd
    answers (its C(remove-etcd-member) phase); when etcd does not, the member stays, and
    M(hakube.cluster.kubeadm_etcd_member) removes it from another control plane. The Node
    object stays in either case (C(kubectl delete node)); the hakube.cluster.reset role
    does both.
author:
  - hakube maintainers (@hakube)
requirements:
  - kubeadm on the host (only when there is something to reset).
attributes:
  check_mode:
    support: full
    details: Reports what would be reset and removed; nothing runs.
  diff_mode:
    support: none
options:
  cri_socket:
    description:
      - CRI socket whose Kubernetes containers kubeadm reset removes
        (C(--cri-socket)); kubeadm detects one when not given.
    type: str
  cleanup_paths:
    description:
      - Files and directories to remove after kubeadm reset; the contents of a directory
        are removed, the directory stays. C(~) is the home directory of the user the module
        runs as. An empty directory or a missing path is nothing to clean up.
    type: list
    elements: path
    default: [/etc/cni/net.d, ~/.kube/config]
  etcd_data_dir:
    description:
      - Data directory of the stacked etcd, looked at to decide whether there is anything
        to reset.
    type: path
    default: /var/lib/etcd
  release_addresses:
    description:
      - IP addresses (IPv4 or IPv6, without prefix length) to remove from whichever
        interface of the host still holds them after the reset, typically the apiserver
        VIP of a keepalived static pod. An address the host does not hold is nothing to do.
      - Needs C(ip) (iproute2) on the host when one is held.
    type: list
    elements: str
    default: []
  remove_iptables_chains:
    description:
      - Prefixes of iptables chain names to remove after the reset, with the rules in
        other chains that jump (or go) to them, in every table of C(iptables-save) and
        C(ip6tables-save); for example C(KUBE-) (kube-proxy in iptables or ipvs mode),
        C(cali-) (Calico), C(CNI-) (the portmap and firewall plugins). Built-in chains
        are never removed.
      - Uses C(iptables-save) and C(iptables-restore) (and the C(ip6tables) ones); a host
        without them is not looked at, with a warning when it was reset.
    type: list
    elements: str
    default: []
  remove_nftables_tables:
    description:
      - nftables tables to delete after the reset, as C(family name), for example
        C(ip kube-proxy) and C(ip6 kube-proxy) (kube-proxy in nftables mode). A table
        the host does not have is nothing to do; without C(nft) on the host there is
        none.
    type: list
    elements: str
    default: []
  timeout:
    description:
      - Seconds that kubeadm reset may take.
    type: int
    default: 300
extends_documentation_fragment:
  - hakube.cluster.attributes
  - hakube.cluster.kubeadm
seealso:
  - module: hakube.cluster.kubeadm_etcd_member
  - name: kubeadm reset
    description: The command this module runs.
    link: https://kubernetes.io/docs/reference/setup-tools/kubeadm/kubeadm-reset/
'''

EXAMPLES = r'''
- name: Reset a node
  hakube.cluster.kubeadm_reset:
    cri_socket: unix:///run/containerd/containerd.sock

- name: Reset a control plane, and take the apiserver VIP off it if its keepalived left it
  hakube.cluster.kubeadm_reset:
    release_addresses:
      - 192.168.1.100

- name: Reset, and also clean the CNI state of Calico
  hakube.cluster.kubeadm_reset:
    cleanup_paths:
      - /etc/cni/net.d
      - /var/lib/calico
      - ~/.kube/config

- name: Reset, and remove kube-proxy's and Calico's netfilter rules
  hakube.cluster.kubeadm_reset:
    remove_iptables_chains: [KUBE-, cali-, CNI-]
    remove_nftables_tables: [ip kube-proxy, ip6 kube-proxy]
'''

RETURN = r'''
found:
  description: What kubeadm had left on the host before the reset.
  returned: always
  type: list
  elements: str
  sample: [/etc/kubernetes/kubelet.conf, /etc/kubernetes/pki/ca.crt]
removed_paths:
  description: Entries of O(cleanup_paths) whose files were (in check mode would be) removed.
  returned: always
  type: list
  elements: str
  sample: [/etc/cni/net.d]
released_addresses:
  description:
    - Entries of O(release_addresses) that were (in check mode would be) removed, as
      C(address/prefix) with the interface that held them.
  returned: always
  type: list
  elements: dict
  sample: [{address: 192.168.1.100, prefix: 32, interface: eth0}]
removed_iptables_chains:
  description:
    - The chains that were (in check mode would be) removed, per command and table.
  returned: always
  type: list
  elements: dict
  sample: [{command: iptables, table: nat, chains: [KUBE-SERVICES, KUBE-POSTROUTING]}]
removed_nftables_tables:
  description: The nftables tables that were (in check mode would be) deleted.
  returned: always
  type: list
  elements: str
  sample: [ip kube-proxy]
stdout:
  description: Output of kubeadm reset.
  returned: when kubeadm reset ran
  type: str
'''

import ipaddress
import os
import shutil

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.hakube.cluster.plugins.module_utils.kubeadm import (
    KUBEADM_COMMON_ARGS, detect_state, fail_command, find_tool, redact, run,
)
from ansible_collections.hakube.cluster.plugins.module_utils.netfilter import (
    chain_removal, parse_iptables_save, parse_nft_tables,
)


def has_content(path):
    if os.path.islink(path) or os.path.isfile(path):
        return True
    if os.path.isdir(path):
        return bool(os.listdir(path))
    return False


def remove(path):
    if os.path.islink(path) or os.path.isfile(path):
        os.unlink(path)
        return
    for name in os.listdir(path):
        full = os.path.join(path, name)
        if os.path.isdir(full) and not os.path.islink(full):
            shutil.rmtree(full)
        else:
            os.unlink(full)


def held_addresses(module, ip_bin, wanted):
    """The entries of ``wanted`` (ip_address objects) that an interface holds, as
    dicts of address, prefix and interface, read from ``ip -o addr show``."""
    rc, out, err = module.run_command([ip_bin, '-o', 'addr', 'show'])
    if rc != 0:
        module.fail_json(msg='ip -o addr show failed (rc=%d): %s' % (rc, (err or out).strip()))
    held = []
    for line in out.splitlines():
        # "2: eth0    inet 10.0.0.10/32 scope global eth0\       valid_lft ..."
        fields = line.split()
        if len(fields) < 4 or fields[2] not in ('inet', 'inet6') or '/' not in fields[3]:
            continue
        text, prefix = fields[3].split('/', 1)
        try:
            address = ipaddress.ip_address(text)
        except ValueError:
            continue
        if address in wanted:
            held.append(dict(address=str(address), prefix=int(prefix), interface=fields[1].split('@')[0]))
    return held


def iptables_plan(module, prefixes, warn=False):
    """[{command, restore, table, chains, batch}] for iptables and ip6tables: the restore
    binary and the --noflush batch that removes ``chains`` from ``table``."""
    plan = []
    if not prefixes:
        return plan
    for command in ('iptables', 'ip6tables'):
        save = module.get_bin_path(command + '-save')
        restore = module.get_bin_path(command + '-restore')
        if not save or not restore:
            if command == 'iptables' and warn:
                module.warn('iptables-save/iptables-restore not found: iptables rules that kube-proxy '
                            'or a CNI plugin made (chains %s) were not looked for' % ', '.join(prefixes))
            continue
        rc, out, err = module.run_command([save])
        if rc != 0:
            if command == 'ip6tables':
                continue  # no IPv6 netfilter in this kernel
            module.fail_json(msg='%s failed (rc=%d): %s' % (save, rc, (err or out).strip()))
        for table, (chains, batch) in sorted(chain_removal(parse_iptables_save(out), prefixes).items()):
            plan.append(dict(command=command, restore=restore, table=table, chains=chains, batch=batch))
    return plan


def reported(plan):
    """What RV(removed_iptables_chains) shows of an iptables_plan."""
    return [dict(command=c['command'], table=c['table'], chains=c['chains']) for c in plan]


def nft_plan(module, wanted):
    if not wanted:
        return None, []
    nft = module.get_bin_path('nft')
    if not nft:
        return None, []
    rc, out, err = module.run_command([nft, 'list', 'tables'])
    if rc != 0:
        module.fail_json(msg='nft list tables failed (rc=%d): %s' % (rc, (err or out).strip()))
    present = parse_nft_tables(out)
    return nft, [t for t in (' '.join(w.split()) for w in wanted) if t in present]


def main():
    module = AnsibleModule(
        argument_spec=dict(
            KUBEADM_COMMON_ARGS,
            cri_socket=dict(type='str'),
            cleanup_paths=dict(type='list', elements='path', default=['/etc/cni/net.d', '~/.kube/config']),
            etcd_data_dir=dict(type='path', default='/var/lib/etcd'),
            release_addresses=dict(type='list', elements='str', default=[]),
            remove_iptables_chains=dict(type='list', elements='str', default=[]),
            remove_nftables_tables=dict(type='list', elements='str', default=[]),
            timeout=dict(type='int', default=300),
        ),
        supports_check_mode=True,
    )
    p = module.params
    wanted = set()
    for text in p['release_addresses']:
        try:
            wanted.add(ipaddress.ip_address(text.strip()))
        except ValueError:
            module.fail_json(msg='release_addresses: %r is not an IP address (give the address without '
                                 'a prefix length, e.g. 192.168.1.100)' % (text,))
    ip_bin = module.get_bin_path('ip', required=True) if wanted else None
    host = detect_state(p['kubernetes_dir'], p['etcd_data_dir'])
    cleanup = p['cleanup_paths']  # type path: ~ and $VARS are already expanded
    to_clean = [c for c in cleanup if has_content(c)]
    # Before the reset the address may still be keepalived's to hold; what check mode
    # reports is what a reset would leave behind.
    held = held_addresses(module, ip_bin, wanted) if wanted else []
    chains = iptables_plan(module, p['remove_iptables_chains'])
    nft, tables = nft_plan(module, p['remove_nftables_tables'])
    result = dict(changed=False, found=host['found'], removed_paths=to_clean, released_addresses=held,
                  removed_iptables_chains=reported(chains), removed_nftables_tables=tables)
    if not host['found'] and not to_clean and not held and not chains and not tables:
        module.exit_json(**result)

    result['changed'] = True
    if module.check_mode:
        module.exit_json(**result)

    if host['found']:
        argv = [find_tool(module, p['kubeadm_path']), 'reset', '-f']
        if p['cri_socket']:
            argv += ['--cri-socket', p['cri_socket']]
        reset = run(argv, timeout=p['timeout'])
        if not reset.ok:
            result['removed_paths'] = []
            fail_command(module, 'kubeadm reset -f', reset, **result)
        result['stdout'] = redact(reset.stdout)
    for path in to_clean:
        try:
            remove(path)
        except (IOError, OSError) as exc:
            module.fail_json(msg='kubeadm reset ran, but %s could not be removed: %s' % (path, exc), **result)
    if host['found']:
        # Read again after the reset: it killed keepalived, and what it held is still
        # there; an address that went away meanwhile is not reported. It stopped
        # kube-proxy too, which may have changed its rules since. Without a reset the
        # first readings are still the host's state.
        if wanted:
            result['released_addresses'] = held = held_addresses(module, ip_bin, wanted)
        chains = iptables_plan(module, p['remove_iptables_chains'], warn=True)
        nft, tables = nft_plan(module, p['remove_nftables_tables'])
        result['removed_iptables_chains'] = reported(chains)
        result['removed_nftables_tables'] = tables
    for entry in held:
        spec = '%s/%d' % (entry['address'], entry['prefix'])
        rc, out, err = module.run_command([ip_bin, 'addr', 'del', spec, 'dev', entry['interface']])
        if rc != 0:
            module.fail_json(msg='kubeadm reset ran, but %s could not be removed from %s: %s'
                             % (spec, entry['interface'], (err or out).strip()), **result)
    for entry in chains:
        rc, out, err = module.run_command([entry['restore'], '--noflush'], data='\n'.join(entry['batch']) + '\n')
        if rc != 0:
            module.fail_json(msg='%s --noflush could not remove the chains %s of table %s: %s'
                             % (entry['restore'], ', '.join(entry['chains']), entry['table'], (err or out).strip()),
                             **result)
    for table in tables:
        rc, out, err = module.run_command([nft, 'delete', 'table'] + table.split())
        if rc != 0:
            module.fail_json(msg='nft delete table %s failed: %s' % (table, (err or out).strip()), **result)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
