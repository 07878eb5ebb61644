# -*- coding: utf-8 -*-
"""Unit tests of hakube.cluster.file_content, run as Ansible runs it (a subprocess with
its arguments as JSON on stdin), on real files in a temporary directory; and one
playbook that shows a template lookup through the module writes the same bytes as
ansible.builtin.template."""

import grp
import hashlib
import os
import pwd
import stat
import subprocess
import sys
import textwrap

import pytest

from fakes.harness import COLLECTIONS, run_module

TOP = os.path.dirname(COLLECTIONS)
ANSIBLE_PLAYBOOK = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")


def run(args, check=False, diff=True):
    return run_module('file_content', args, check=check, diff=diff)


def mode_of(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def leftovers(directory):
    return [n for n in os.listdir(directory) if n.startswith(".")]


def test_new_file_then_nothing_to_do(tmp_path):
    dest = str(tmp_path / "a.conf")
    first = run(dict(dest=dest, content="a = 1\n", mode="0640"))
    assert first["changed"] is True and first["content_changed"] is True, first
    assert open(dest).read() == "a = 1\n"
    assert mode_of(dest) == 0o640
    assert first["diff"][0]["before"] == "" and first["diff"][0]["after"] == "a = 1\n"
    inode, mtime = os.stat(dest).st_ino, os.stat(dest).st_mtime_ns
    second = run(dict(dest=dest, content="a = 1\n", mode="0640"))
    assert second["changed"] is False and second["content_changed"] is False, second
    assert "diff" not in second
    # Untouched: the same inode and modification time.
    assert (os.stat(dest).st_ino, os.stat(dest).st_mtime_ns) == (inode, mtime)
    assert second["checksum"] == first["checksum"] == hashlib.sha1(b"a = 1\n").hexdigest()
    assert second["sha256"] == hashlib.sha256(b"a = 1\n").hexdigest()


def test_other_content_is_replaced_atomically_and_diffed(tmp_path):
    dest = tmp_path / "b.conf"
    dest.write_text("old\n")
    os.chmod(str(dest), 0o600)
    inode = os.stat(str(dest)).st_ino
    result = run(dict(dest=str(dest), content="new\n"))
    assert result["changed"] is True and result["content_changed"] is True
    assert dest.read_text() == "new\n"
    # A rename over the old file (a new inode), which keeps the old file's mode when the
    # task names none.
    assert os.stat(str(dest)).st_ino != inode
    assert mode_of(str(dest)) == 0o600
    assert result["diff"] == [{"before_header": str(dest), "after_header": str(dest),
                               "before": "old\n", "after": "new\n"}]
    assert leftovers(str(tmp_path)) == []


def test_check_mode_writes_nothing_and_tells_the_truth(tmp_path):
    dest = tmp_path / "c.conf"
    new = run(dict(dest=str(dest), content="x\n", mode="0644"), check=True)
    assert new["changed"] is True and new["content_changed"] is True
    assert not dest.exists()
    assert new["diff"][1]["after"] == {"mode": "0644"}
    dest.write_text("y\n")
    os.chmod(str(dest), 0o644)
    other = run(dict(dest=str(dest), content="x\n", mode="0644"), check=True)
    assert other["changed"] is True and dest.read_text() == "y\n"
    assert other["diff"][0]["before"] == "y\n" and other["diff"][0]["after"] == "x\n"
    same = run(dict(dest=str(dest), content="y\n", mode="0644"), check=True)
    assert same["changed"] is False
    mode_only = run(dict(dest=str(dest), content="y\n", mode="0600"), check=True)
    assert mode_only["changed"] is True and mode_only["content_changed"] is False
    assert mode_of(str(dest)) == 0o644


def test_attributes_only(tmp_path):
    dest = tmp_path / "d.conf"
    dest.write_text("same\n")
    os.chmod(str(dest), 0o666)
    result = run(dict(dest=str(dest), content="same\n", mode="0644"))
    assert result["changed"] is True and result["content_changed"] is False
    assert mode_of(str(dest)) == 0o644
    assert len(result["diff"]) == 1
    assert result["diff"][0]["before"] == {"mode": "0666"} and result["diff"][0]["after"] == {"mode": "0644"}


@pytest.mark.skipif(os.geteuid() != 0, reason="changing a file's owner needs root")
def test_owner_and_group(tmp_path):
    dest = tmp_path / "e.conf"
    dest.write_text("z\n")
    nobody = pwd.getpwnam("nobody")
    group = grp.getgrgid(nobody.pw_gid).gr_name
    result = run(dict(dest=str(dest), content="z\n", owner="nobody", group=group))
    assert result["changed"] is True and result["content_changed"] is False
    st = os.stat(str(dest))
    assert (st.st_uid, st.st_gid) == (nobody.pw_uid, nobody.pw_gid)
    again = run(dict(dest=str(dest), content="z\n", owner="nobody", group=group))
    assert again["changed"] is False


def test_validate(tmp_path):
    dest = tmp_path / "f.conf"
    dest.write_text("good\n")
    bad = run(dict(dest=str(dest), content="bad\n", validate="grep -q good %s"))
    assert bad.get("failed") is True
    assert "validate failed for %s" % dest in bad["msg"]
    assert dest.read_text() == "good\n"
    assert leftovers(str(tmp_path)) == []
    ok = run(dict(dest=str(dest), content="good too\n", validate="grep -q good %s"))
    assert ok["changed"] is True and dest.read_text() == "good too\n"
    no_placeholder = run(dict(dest=str(dest), content="x\n", validate="true"))
    assert no_placeholder.get("failed") is True and "%s" in no_placeholder["msg"]
    assert dest.read_text() == "good too\n"


def test_missing_directories_are_created(tmp_path):
    dest = tmp_path / "a" / "b" / "g.conf"
    check = run(dict(dest=str(dest), content="x\n"), check=True)
    assert check["changed"] is True and not (tmp_path / "a").exists()
    result = run(dict(dest=str(dest), content="x\n", mode="0600"))
    assert result["changed"] is True and dest.read_text() == "x\n"
    assert mode_of(str(tmp_path / "a" / "b")) & 0o700 == 0o700 and mode_of(str(dest)) == 0o600


def test_bad_destinations(tmp_path):
    (tmp_path / "file").write_text("")
    under_file = run(dict(dest=str(tmp_path / "file" / "g.conf"), content="x\n"))
    assert under_file.get("failed") is True
    assert "%s is not a directory" % (tmp_path / "file") in under_file["msg"]
    directory = run(dict(dest=str(tmp_path), content="x\n"))
    assert directory.get("failed") is True and "is a directory" in directory["msg"]
    relative = run(dict(dest="relative.conf", content="x\n"))
    assert relative.get("failed") is True and "absolute path" in relative["msg"]


def test_no_diff_when_not_asked(tmp_path):
    result = run(dict(dest=str(tmp_path / "h.conf"), content="secret\n"), diff=False)
    assert result["changed"] is True and "diff" not in result


def test_same_bytes_as_the_template_action(tmp_path):
    """The roles replace ansible.builtin.template with this module fed by a template
    lookup: both must write the same bytes (ansible_managed, trailing newlines, JSON that
    must stay text), or the first run after the change would rewrite every file and
    restart what depends on it."""
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "t.j2").write_text(textwrap.dedent("""\
        # {{ ansible_managed }}
        {
          "a": {{ x }},
        {% for i in [1, 2] %}
          "k{{ i }}": "{{ i }}",
        {% endfor %}
          "end": true
        }

        """))
    playbook = tmp_path / "pb.yml"
    playbook.write_text(textwrap.dedent("""\
        - hosts: localhost
          gather_facts: false
          vars: {x: 1, out: "%s"}
          tasks:
            - ansible.builtin.template: {src: t.j2, dest: "{{ out }}/by_action", mode: "0644"}
            - hakube.cluster.file_content:
                dest: "{{ out }}/by_lookup"
                content: "{{ lookup('ansible.builtin.template', 't.j2') }}"
                mode: "0644"
            - hakube.cluster.file_content:
                dest: "{{ out }}/by_action"
                content: "{{ lookup('ansible.builtin.template', 't.j2') }}"
                mode: "0644"
              register: over_action
            - ansible.builtin.assert:
                that: over_action is not changed
        """ % tmp_path))
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(TOP, "ansible.cfg"),
               ANSIBLE_LOCALHOST_WARNING="false")
    proc = subprocess.run([ANSIBLE_PLAYBOOK, "-i", "localhost,", "-c", "local",
                           "-e", "ansible_python_interpreter=" + sys.executable, str(playbook)],
                          capture_output=True, text=True, env=env, cwd=TOP, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (tmp_path / "by_action").read_bytes() == (tmp_path / "by_lookup").read_bytes()
    assert (tmp_path / "by_lookup").read_text().endswith("}\n\n")
