"""Concrete OCF agents built on the ocfpy contract (installed as ocf:ocfpy:<name>)."""
