"""ocfpy.generators.render.corosync: corosync.conf checked by the real `corosync -t`, and the authkey."""

import os
import stat

import pytest

from ocfpy.generators.cli.corosync import verify_on_node
from ocfpy.generators.model.corosync import CorosyncCluster, CorosyncNode, QuorumDevice
from ocfpy.generators.render.corosync import (
    CorosyncConfigError,
    render,
    write_authkey,
)

# corosync and unshare come with dev/bootstrap.sh: without them these tests fail, not skip.
needs_corosync = pytest.mark.skipif(os.geteuid() != 0,
                                    reason="corosync -t inside a network namespace needs root")


def nodes(count, rings=1):
    return [CorosyncNode(i, f"n{i}", tuple(f"10.25{3 + r}.7.{i}" for r in range(rings)))
            for i in range(1, count + 1)]


def corosync_test(conf_path, addresses, keyfile=None):
    """`corosync -t` on the file as the node holding `addresses` (ocfgen corosync --verify)."""
    code, output = verify_on_node(conf_path.read_text(), addresses, keyfile=keyfile)
    return code, output


@needs_corosync
@pytest.mark.parametrize("count,rings", [(1, 1), (2, 1), (3, 1), (3, 2), (5, 2)])
def test_generated_conf_passes_corosync_t_on_every_node(tmp_path, count, rings):
    key = tmp_path / "authkey"
    write_authkey(str(key))
    cluster = CorosyncCluster("ioc-cluster", nodes(count, rings), keyfile=str(key),
                              link_priorities=(20, 10)[:rings] if rings > 1 else (),
                              token_coefficient=0 if rings > 1 else None)
    result = render(cluster)
    assert result.warnings == ()
    conf = tmp_path / "corosync.conf"
    conf.write_text(result.text)
    for node in cluster.nodes:
        code, output = corosync_test(conf, node.addresses, str(key))
        assert code == 0, (node, output)
    # ...and a host that is none of the nodes is refused by the same check.
    code, output = corosync_test(conf, ["10.252.7.99"], str(key))
    assert code == 8 and "No valid name found for local host" in output


@needs_corosync
def test_corosync_t_catches_what_it_should(tmp_path):
    """The check the tests rely on does fail: an invalid token is refused."""
    conf = tmp_path / "corosync.conf"
    conf.write_text(render(CorosyncCluster("c", nodes(1))).text.replace("token: 3000",
                                                                         "token: soon"))
    code, output = corosync_test(conf, ["10.253.7.1"])
    assert code == 8 and "totem.token" in output


def test_rendered_settings():
    text = render(CorosyncCluster("c", nodes(2), token=5000, consensus=6000,
                                  wait_for_all=True)).text
    assert "\ttransport: knet\n" in text
    assert "\tcrypto_cipher: aes256\n\tcrypto_hash: sha256\n" in text
    assert "\ttoken: 5000\n\tconsensus: 6000\n" in text
    assert "\ttwo_node: 1\n" in text and "\twait_for_all: 1\n" in text
    assert "\tlogfile: /var/log/corosync/corosync.log\n" in text
    three = render(CorosyncCluster("c", nodes(3))).text
    assert "two_node" not in three and "consensus" not in three
    assert "token_coefficient" not in three
    assert "\ttoken_coefficient: 0\n" in render(CorosyncCluster("c", nodes(3), token_coefficient=0)).text
    qdevice = render(CorosyncCluster("c", nodes(2), qdevice=QuorumDevice("qnetd.example"))).text
    assert "two_node" not in qdevice and "\t\t\thost: qnetd.example\n" in qdevice
    rings = render(CorosyncCluster("c", nodes(2, 2), link_priorities=(5, 9))).text
    assert "ring1_addr: 10.254.7.2" in rings and "knet_link_priority: 9" in rings
    # Every '{' ends its line: corosync's parser wants it so.
    assert all(line.endswith("{") for line in text.splitlines() if "{" in line)


def test_crypto_off_is_explicit_and_warned():
    result = render(CorosyncCluster("c", nodes(3), crypto=False, origin="site.toml"))
    assert "crypto_cipher: none" in result.text and "crypto_hash: none" in result.text
    assert len(result.warnings) == 1 and result.warnings[0].startswith("site.toml: crypto is off")


@pytest.mark.parametrize("cluster,message", [
    (CorosyncCluster("c", [CorosyncNode(1, "a", ("10.0.0.1",)), CorosyncNode(1, "b", ("10.0.0.2",))]),
     "node 2: node b: node id 1 is already used by node a"),
    (CorosyncCluster("c", [CorosyncNode(1, "a", ("10.0.0.1",)),
                           CorosyncNode(2, "a", ("10.0.0.2",), origin="cluster.toml:14")]),
     "cluster.toml:14: node a: node name 'a' is already used by node id 1"),
    (CorosyncCluster("c", [CorosyncNode(1, "a", ("10.0.0.300",))]),
     "node 1: ring0_addr of node a: '10.0.0.300' is not an IP address"),
    (CorosyncCluster("c", [CorosyncNode(1, "a", ("node-a.example",))]),
     "node 1: ring0_addr of node a: 'node-a.example' is not an IP address"),
    (CorosyncCluster("c", nodes(3), two_node=True, origin="cluster.toml"),
     "cluster.toml: two_node is set but the cluster has 3 node(s), not two"),
    (CorosyncCluster("c", nodes(1), two_node=True), "two_node is set but the cluster has 1 node(s)"),
    (CorosyncCluster("c", [CorosyncNode(1, "a", ("10.0.0.1",)), CorosyncNode(2, "b", ("10.0.0.1",))]),
     "node 2: ring0_addr of node b: address 10.0.0.1 is already used by node a"),
    (CorosyncCluster("c", [CorosyncNode(1, "a", ("10.0.0.1", "10.1.0.1")),
                           CorosyncNode(2, "b", ("10.0.0.2",))]),
     "node 2: node b: 1 ring addresses, node a has 2: every node needs one on each link"),
    (CorosyncCluster("c", [CorosyncNode(1, "a", ())]),
     "node 1: node a: has no ring addresses: corosync needs one for every node"),
    (CorosyncCluster("c", [CorosyncNode(0, "a", ("10.0.0.1",))]), "nodeid must be an integer of at least 1"),
    (CorosyncCluster("c", nodes(1), token="3s"), "totem token must be an integer"),
    (CorosyncCluster("c", nodes(1), token_coefficient=-1), "token_coefficient must be an integer"),
    (CorosyncCluster("c", nodes(3), consensus=100), "totem consensus 100 must be at least 1.2 * token"),
    (CorosyncCluster("c c", nodes(1)), "cluster name 'c c' must be a non-empty word"),
    (CorosyncCluster("c", []), "the cluster has no nodes"),
    (CorosyncCluster("c", nodes(1), cipher="des"), "crypto cipher 'des' is not one of"),
    (CorosyncCluster("c", nodes(2), two_node=True, qdevice=QuorumDevice("q")),
     "two_node and a quorum device exclude each other"),
    (CorosyncCluster("c", nodes(1), qdevice=QuorumDevice("q", "best")),
     "quorum device algorithm 'best' is not one of ffsplit, lms"),
    (CorosyncCluster("c", nodes(2, 2), link_priorities=(1,)), "1 link priorities for 2 link(s)"),
])
def test_bad_descriptions_get_one_located_line(cluster, message):
    with pytest.raises(CorosyncConfigError) as caught:
        render(cluster)
    text = str(caught.value)
    assert message in text and "\n" not in text


def test_authkey_is_fresh_private_and_never_overwritten(tmp_path):
    first, second = tmp_path / "k1", tmp_path / "k2"
    write_authkey(str(first))
    write_authkey(str(second))
    for key in (first, second):
        assert stat.S_IMODE(key.stat().st_mode) == 0o400
        assert key.stat().st_size == 256
    assert first.read_bytes() != second.read_bytes()
    before = first.read_bytes()
    with pytest.raises(FileExistsError):
        write_authkey(str(first))
    assert first.read_bytes() == before
    write_authkey(str(first), replace=True)
    assert first.read_bytes() != before and stat.S_IMODE(first.stat().st_mode) == 0o400
    assert sorted(p.name for p in tmp_path.iterdir()) == ["k1", "k2"]


def test_authkey_ignores_a_permissive_umask(tmp_path):
    old = os.umask(0)
    try:
        write_authkey(str(tmp_path / "k"))
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "k").stat().st_mode) == 0o400
