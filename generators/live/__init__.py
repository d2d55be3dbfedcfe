"""Stage 5, live-cluster operations: takes the model and rendered CIB and a running cluster;
gives the difference and the push that keeps what operators own (`live`, `ownership`), the
CIB history and rollback, import of a live CIB, alerts applied, drills, rollouts and the
operations history.
"""
