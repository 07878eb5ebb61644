"""A second run of site.yml on the converged lab changes nothing, on every host; so does
a tagged partial run of one stage."""
import time

ORDER = 20


def _assert_no_change(cluster, proc, recap):
    assert proc.returncode == 0, proc.stdout[-6000:]
    assert sorted(h for h in recap if h != "localhost") == sorted(cluster.NODES), recap
    changed = {h: r["changed"] for h, r in recap.items() if r["changed"] or r["failed"] or r["unreachable"]}
    assert changed == {}, "hosts that changed or failed: %s\n%s" % (changed, proc.stdout[-6000:])


def test_second_site_run_changes_nothing(cluster):
    start = time.monotonic()
    proc, recap = cluster.playbook()
    cluster.record("site.yml no-op rerun, s", round(time.monotonic() - start, 1))
    _assert_no_change(cluster, proc, recap)


def test_tags_lb_alone_changes_nothing(cluster, tmp_path):
    # From a controller with no fact cache (a new checkout, or the cache expired): the
    # stages that --tags leaves out must not need facts they did not gather.
    start = time.monotonic()
    proc, recap = cluster.playbook("--tags", "lb", env={"ANSIBLE_CACHE_PLUGIN_CONNECTION": str(tmp_path / "facts")})
    cluster.record("site.yml --tags lb no-op, s", round(time.monotonic() - start, 1))
    _assert_no_change(cluster, proc, recap)


def test_check_mode_diff_on_the_converged_cluster_reports_nothing(cluster):
    proc, recap = cluster.playbook("--check", "--diff")
    _assert_no_change(cluster, proc, recap)
