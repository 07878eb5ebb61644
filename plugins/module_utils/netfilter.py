# -*- coding: utf-8 -*-
# Copyright: hakube maintainers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""Find and remove the netfilter state Kubernetes leaves on a host.

kube-proxy (iptables mode) and CNI plugins make iptables chains with well-known name
prefixes (KUBE-, cali-, CNI-) and jumps to them from the built-in chains; kube-proxy's
nftables mode makes whole nftables tables (ip kube-proxy, ip6 kube-proxy). kubeadm reset
removes neither. These helpers read ``iptables-save`` / ``nft list tables`` output and
build the batch that removes exactly those chains and jumps, nothing else, for
``iptables-restore --noflush`` (one atomic commit per table; other rules stay as they
are, also if another program changes them meanwhile).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import shlex


def parse_iptables_save(text):
    """{table: {'chains': [names], 'builtin': [names], 'rules': [(chain, rule text)]}}
    from iptables-save output; ``rule text`` is the line without its ``-A CHAIN``."""
    tables = {}
    current = None
    for line in text.splitlines():
        line = line.rstrip()
        if not line or line.startswith('#'):
            continue
        if line.startswith('*'):
            current = tables.setdefault(line[1:], dict(chains=[], builtin=[], rules=[]))
        elif current is None:
            continue
        elif line.startswith(':'):
            name, policy = (line[1:].split() + ['-'])[:2]
            current['chains'].append(name)
            if policy != '-':
                current['builtin'].append(name)
        elif line.startswith('-A '):
            parts = line.split(None, 2)
            if len(parts) >= 2:
                current['rules'].append((parts[1], parts[2] if len(parts) > 2 else ''))
    return tables


def rule_targets(rule):
    """Chains a rule jumps or goes to (-j/--jump, -g/--goto)."""
    try:
        words = shlex.split(rule)
    except ValueError:
        words = rule.split()
    return [words[i + 1] for i, word in enumerate(words[:-1]) if word in ('-j', '--jump', '-g', '--goto')]


def chain_removal(tables, prefixes):
    """{table: (chains to remove, restore batch lines)} for the user-defined chains whose
    name starts with one of ``prefixes``: every rule elsewhere that jumps to one of them
    is deleted, then they are flushed, then deleted. Tables with nothing to remove are
    left out."""
    plan = {}
    for table, content in sorted(tables.items()):
        doomed = sorted(c for c in content['chains']
                        if c not in content['builtin'] and any(c.startswith(p) for p in prefixes if p))
        if not doomed:
            continue
        batch = ['*' + table]
        for chain, rule in content['rules']:
            if chain not in doomed and set(rule_targets(rule)) & set(doomed):
                batch.append('-D %s %s' % (chain, rule))
        batch += ['-F %s' % c for c in doomed]
        batch += ['-X %s' % c for c in doomed]
        batch.append('COMMIT')
        plan[table] = (doomed, batch)
    return plan


def parse_nft_tables(text):
    """['family name', ...] from ``nft list tables`` ("table ip kube-proxy")."""
    found = []
    for line in text.splitlines():
        words = line.split()
        if len(words) == 3 and words[0] == 'table':
            found.append('%s %s' % (words[1], words[2]))
    return found


__all__ = ['parse_iptables_save', 'rule_targets', 'chain_removal', 'parse_nft_tables']
