# -*- coding: utf-8 -*-
"""Unit tests of hakube.cluster.file_set, run as Ansible runs it (a subprocess with its
arguments as JSON on stdin), on real directories and files in a temporary directory."""

import grp
import os
import pwd
import stat

import pytest

from fakes.harness import run_module


def run(args, check=False, diff=True):
    return run_module('file_set', args, check=check, diff=diff)


def mode_of(path):
    return stat.S_IMODE(os.stat(str(path)).st_mode)


def snapshot(root):
    """Every path under ROOT with its inode, mode and modification time."""
    out = {}
    for top, dirs, files in os.walk(str(root)):
        for name in dirs + files:
            st = os.lstat(os.path.join(top, name))
            out[os.path.join(top, name)] = (st.st_ino, st.st_mode, st.st_mtime_ns)
    return out


def layout(root):
    return dict(
        directories=[dict(path=str(root / "etc" / "app"), mode="0755"),
                     dict(path=str(root / "var" / "log" / "journal"), mode="2750")],
        files=[dict(dest=str(root / "etc" / "app" / "a.conf"), content="a = 1\n", mode="0644"),
               dict(dest=str(root / "etc" / "app" / "sub" / "b.conf"), content="b = 2\n", mode="0600")],
    )


def test_new_layout_then_nothing_to_do(tmp_path):
    first = run(layout(tmp_path))
    assert first["changed"] is True, first
    assert first["changed_paths"] == [str(tmp_path / p) for p in (
        "etc/app", "var/log/journal", "etc/app/a.conf", "etc/app/sub/b.conf")]
    assert (tmp_path / "etc" / "app" / "a.conf").read_text() == "a = 1\n"
    assert (tmp_path / "etc" / "app" / "sub" / "b.conf").read_text() == "b = 2\n"
    assert mode_of(tmp_path / "var" / "log" / "journal") == 0o2750
    # Missing parents of a listed directory get its attributes, as ansible.builtin.file does.
    assert mode_of(tmp_path / "var" / "log") == 0o2750
    assert mode_of(tmp_path / "etc" / "app" / "sub" / "b.conf") == 0o600
    assert first["files"][str(tmp_path / "etc" / "app" / "a.conf")]["content_changed"] is True
    before = snapshot(tmp_path)
    second = run(layout(tmp_path))
    assert second["changed"] is False and second["changed_paths"] == [], second
    assert "diff" not in second
    assert snapshot(tmp_path) == before
    assert second["files"][str(tmp_path / "etc" / "app" / "a.conf")] == dict(
        first["files"][str(tmp_path / "etc" / "app" / "a.conf")], content_changed=False)


def test_check_mode_writes_nothing_and_tells_the_truth(tmp_path):
    result = run(layout(tmp_path), check=True)
    assert result["changed"] is True
    assert os.listdir(str(tmp_path)) == []
    assert len(result["changed_paths"]) == 4
    new_dir = [d for d in result["diff"] if d.get("before_header") == str(tmp_path / "etc" / "app")]
    assert new_dir[0]["before"]["state"] == "absent" and new_dir[0]["after"]["state"] == "directory"
    new_attrs = [d for d in result["diff"] if d.get("before_header") == "%s (attributes)" % (tmp_path / "etc" / "app")]
    assert new_attrs[0]["before"] == {} and new_attrs[0]["after"] == {"mode": "0755"}
    new_file = [d for d in result["diff"] if d.get("before_header") == str(tmp_path / "etc" / "app" / "a.conf")]
    assert new_file[0]["before"] == "" and new_file[0]["after"] == "a = 1\n"
    run(layout(tmp_path))
    (tmp_path / "etc" / "app" / "a.conf").write_text("edited\n")
    os.chmod(str(tmp_path / "var" / "log" / "journal"), 0o755)
    before = snapshot(tmp_path)
    drift = run(layout(tmp_path), check=True)
    assert drift["changed_paths"] == [str(tmp_path / "var" / "log" / "journal"), str(tmp_path / "etc" / "app" / "a.conf")]
    assert snapshot(tmp_path) == before
    content = [d for d in drift["diff"] if d["before_header"] == str(tmp_path / "etc" / "app" / "a.conf")]
    assert content == [{"before_header": str(tmp_path / "etc" / "app" / "a.conf"),
                        "after_header": str(tmp_path / "etc" / "app" / "a.conf"),
                        "before": "edited\n", "after": "a = 1\n"}]
    attrs = [d for d in drift["diff"] if d["before_header"].endswith("journal (attributes)")]
    assert attrs[0]["before"] == {"mode": "0755"} and attrs[0]["after"] == {"mode": "02750"}


def test_drift_is_repaired(tmp_path):
    run(layout(tmp_path))
    (tmp_path / "etc" / "app" / "a.conf").write_text("edited\n")
    os.chmod(str(tmp_path / "etc" / "app"), 0o700)
    os.chmod(str(tmp_path / "etc" / "app" / "sub" / "b.conf"), 0o644)
    result = run(layout(tmp_path))
    assert result["changed_paths"] == [str(tmp_path / "etc" / "app"), str(tmp_path / "etc" / "app" / "a.conf"),
                                       str(tmp_path / "etc" / "app" / "sub" / "b.conf")]
    assert result["files"][str(tmp_path / "etc" / "app" / "sub" / "b.conf")]["content_changed"] is False
    assert mode_of(tmp_path / "etc" / "app") == 0o755
    assert (tmp_path / "etc" / "app" / "a.conf").read_text() == "a = 1\n"
    assert mode_of(tmp_path / "etc" / "app" / "sub" / "b.conf") == 0o600
    assert run(layout(tmp_path))["changed"] is False


def test_content_from_a_command(tmp_path):
    dest = tmp_path / "completion"
    args = dict(files=[dict(dest=str(dest), command=["printf", "complete -F _x x\\n%s\\n", "é"], mode="0644")])
    first = run(args)
    assert first["changed"] is True and dest.read_bytes() == "complete -F _x x\né\n".encode()
    assert run(args)["changed"] is False
    # In check mode the command runs (its output is what the file would hold), nothing is written.
    dest.write_text("old\n")
    check = run(args, check=True)
    assert check["changed"] is True and check["diff"][0]["after"] == "complete -F _x x\né\n"
    assert dest.read_text() == "old\n"
    # No shell: arguments are passed as they are.
    literal = run(dict(files=[dict(dest=str(dest), command=["echo", "$HOME", "~"])]))
    assert dest.read_text() == "$HOME ~\n" and literal["changed"] is True


def test_failing_command_names_the_file_and_leaves_it(tmp_path):
    dest = tmp_path / "completion"
    dest.write_text("kept\n")
    result = run(dict(directories=[dict(path=str(tmp_path / "d"))],
                      files=[dict(dest=str(dest), command=["sh", "-c", "echo broken >&2; exit 3"])]))
    assert result["failed"] is True
    assert result["msg"] == "the command for %s (sh -c echo broken >&2; exit 3) exited with 3: broken" % dest
    assert result["path"] == str(dest)
    # What came before the failure was done, and says so.
    assert result["changed"] is True and result["changed_paths"] == [str(tmp_path / "d")]
    assert dest.read_text() == "kept\n"


def test_bad_paths_fail_and_name_the_path(tmp_path):
    (tmp_path / "file").write_text("")
    not_dir = run(dict(directories=[dict(path=str(tmp_path / "file"))]))
    assert not_dir["failed"] is True and not_dir["msg"] == "%s exists and is not a directory" % (tmp_path / "file")
    under_file = run(dict(directories=[dict(path=str(tmp_path / "file" / "sub"))]))
    assert under_file["failed"] is True and "%s is not a directory" % (tmp_path / "file") in under_file["msg"]
    file_on_dir = run(dict(files=[dict(dest=str(tmp_path), content="x")]))
    assert file_on_dir["failed"] is True and "is a directory" in file_on_dir["msg"]
    relative = run(dict(directories=[dict(path="relative/dir")]))
    assert relative["failed"] is True and "absolute path" in relative["msg"]
    relative_file = run(dict(files=[dict(dest="relative.conf", content="x")]))
    assert relative_file["failed"] is True and "absolute path" in relative_file["msg"]
    assert os.listdir(str(tmp_path)) == ["file"]


@pytest.mark.parametrize("entry, words", [
    (dict(content="x", command=["true"]), "mutually exclusive"),
    (dict(), "one of the following is required"),
])
def test_content_xor_command(tmp_path, entry, words):
    result = run(dict(files=[dict(dest=str(tmp_path / "f"), **entry)]))
    assert result["failed"] is True and words in result["msg"]
    assert not (tmp_path / "f").exists()


def test_validate(tmp_path):
    dest = tmp_path / "haproxy.cfg"
    dest.write_text("good\n")
    bad = run(dict(files=[dict(dest=str(dest), content="bad\n", validate="grep -q good %s")]))
    assert bad["failed"] is True and "validate failed for %s" % dest in bad["msg"]
    assert dest.read_text() == "good\n" and sorted(os.listdir(str(tmp_path))) == ["haproxy.cfg"]
    ok = run(dict(files=[dict(dest=str(dest), content="good too\n", validate="grep -q good %s")]))
    assert ok["changed"] is True and dest.read_text() == "good too\n"


def test_no_diff_when_not_asked(tmp_path):
    result = run(dict(files=[dict(dest=str(tmp_path / "secret"), content="s3cr3t\n", mode="0600")]), diff=False)
    assert result["changed"] is True and "diff" not in result
    assert mode_of(tmp_path / "secret") == 0o600


@pytest.mark.skipif(os.geteuid() != 0, reason="changing an owner needs root")
def test_owner_and_group(tmp_path):
    nobody = pwd.getpwnam("nobody")
    group = grp.getgrgid(nobody.pw_gid).gr_name
    args = dict(directories=[dict(path=str(tmp_path / "d"), owner="nobody", group=group, mode="0750")],
                files=[dict(dest=str(tmp_path / "d" / "f"), content="z\n", owner="nobody", group=group, mode="0640")])
    assert run(args)["changed"] is True
    for path in (tmp_path / "d", tmp_path / "d" / "f"):
        st = os.stat(str(path))
        assert (st.st_uid, st.st_gid) == (nobody.pw_uid, nobody.pw_gid)
    assert run(args)["changed"] is False
    os.chown(str(tmp_path / "d" / "f"), 0, 0)
    fixed = run(args)
    assert fixed["changed_paths"] == [str(tmp_path / "d" / "f")]
    assert fixed["files"][str(tmp_path / "d" / "f")]["content_changed"] is False
    unknown = run(dict(directories=[dict(path=str(tmp_path / "d"), owner="no-such-user-hakube")]))
    assert unknown["failed"] is True and "no-such-user-hakube" in unknown["msg"]


def test_check_mode_with_a_command_not_installed_yet(tmp_path):
    """In check mode the binary that prints a file may not be there yet (an earlier task
    would install it): the file counts as changed and is named; for real it fails."""
    dest = tmp_path / "completion"
    args = dict(directories=[dict(path=str(tmp_path / "d"))],
                files=[dict(dest=str(dest), command=[str(tmp_path / "bin" / "kubectl"), "completion", "bash"]),
                       dict(dest=str(tmp_path / "other"), command=["no-such-command-hakube"]),
                       dict(dest=str(tmp_path / "plain"), content="x\n")])
    check = run(args, check=True)
    assert check.get("failed") is not True, check
    assert check["changed"] is True
    assert check["content_unknown"] == [str(dest), str(tmp_path / "other")]
    assert check["changed_paths"] == [str(tmp_path / "d"), str(dest), str(tmp_path / "other"), str(tmp_path / "plain")]
    assert "not installed yet" in [d for d in check["diff"] if d["before_header"] == str(dest)][0]["after"]
    assert os.listdir(str(tmp_path)) == []
    real = run(args)
    assert real["failed"] is True
    assert real["msg"] == "the command for %s (%s completion bash) is not installed" % (dest, tmp_path / "bin" / "kubectl")
    assert run(dict(files=[dict(dest=str(tmp_path / "plain"), content="x\n")]), check=True)["content_unknown"] == []
