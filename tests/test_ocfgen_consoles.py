"""ocfgen check and EPICS IOC consoles as procServ binds them: on 127.0.0.1 whatever address a
console names (procServ has no --allow here), so two IOCs cannot share a console port however
it is spelled, and a console that names another address is refused with the reason."""

import subprocess

from ocfrun import OCFGEN

HEAD = ('[cluster]\nname = "c"\n[nodes.n1]\nid = 1\naddresses = ["192.0.2.11"]\n'
        '[nodes.n2]\nid = 2\naddresses = ["192.0.2.12"]\n'
        '[properties]\nstonith-enabled = false\n')


def ioc(rid, **params):
    text = ", ".join(f'{k} = "{v}"' for k, v in params.items())
    return (f'[resources.{rid}]\nagent = "ocf:ocfpy:epics-ioc"\n'
            f'params = {{ ioc_name = "{rid}", boot_dir = "/epics/{rid}"{", " if text else ""}'
            f'{text} }}\n')


def check(tmp_path, text):
    path = tmp_path / "c.toml"
    path.write_text(HEAD + text)
    return subprocess.run([*OCFGEN, "check", str(path)], capture_output=True, text=True,
                          timeout=120)


def test_default_consoles_and_distinct_ports_pass(tmp_path):
    done = check(tmp_path, ioc("ioc-a") + ioc("ioc-b") + ioc("ioc-c", console="7003")
                 + ioc("ioc-d", console="127.0.0.1:7004") + ioc("ioc-e", console="unix:/run/e"))
    assert done.returncode == 0, done.stderr


def test_one_console_port_spelled_two_ways_is_refused_naming_both(tmp_path):
    done = check(tmp_path, ioc("ioc-a", console="7001") + ioc("ioc-b", console="127.0.0.1:7001"))
    assert done.returncode == 2
    assert ("resources.ioc-b.params.console: console port 7001 is also 'ioc-a''s ('7001'): "
            "procServ binds both to 127.0.0.1") in done.stderr, done.stderr
    assert "Traceback" not in done.stderr


def test_a_console_naming_another_address_is_refused_with_the_reason(tmp_path):
    done = check(tmp_path, ioc("ioc-a", console="192.0.2.101:7001"))
    assert done.returncode == 2
    assert ("resources.ioc-a.params.console: '192.0.2.101:7001' names 192.0.2.101, but procServ "
            "binds its console to 127.0.0.1 whatever address it names") in done.stderr, done.stderr
