"""ocfgen: one cluster description to checked configuration (CIB, corosync, units, ...).

A pipeline in stage folders, each importing only from the stages before it (the order
tests/test_ocfgen_layout.py holds): model -> load -> render -> verify -> live -> cli.

- model/: the checked cluster the description becomes (dataclasses, no I/O).
- load/: the description (TOML) and the hosts file -> the model, every error located.
- render/: the model -> text: CIB, corosync.conf, units, keepalived, nftables, graphs, docs.
- verify/: rendered output and the model -> verdicts (crm_verify, crm_simulate, tool checks).
- live/: the model and rendered CIB <-> a running cluster (diff, push, history, drills).
- cli/: the `ocfgen` command: all click code and all printing.

errors.py (exit codes and CommandFailed) is shared by every stage.
"""
