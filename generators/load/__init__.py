"""Stage 2, loading: takes a cluster description (TOML) or a hosts file; gives the model
(`description.load`/`loads` -> model.cluster.Cluster, `hosts.load` -> HostOutputs), or every
error located at file:line:column with its key path (`reader`, `positions`). The keys each
table accepts are declared once in `keys` (what `ocfgen explain` prints).
"""
