"""Stage 3, rendering: takes the model; gives text: the CIB (`cib`), corosync.conf, systemd
units (templates/), keepalived, nftables, graphs, appliances.xml and the description
reference (`reference`), and writes output files (`output_files`).
"""
