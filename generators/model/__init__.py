"""Stage 1, the model: takes nothing; gives the checked cluster a description becomes
(`cluster.Cluster` with its nodes, resources, constraints, corosync settings), corosync's
input and its rules across a nodelist (`corosync`), and the mapping of the one onto the other
(`corosync_map`), and the hosts' VIP pairs and the vocabularies of units and firewall rules
(`hosts`). No I/O.
"""
