"""ocfgen: one cluster description to checked configuration (CIB, corosync, units, ...)."""
