"""Stage 4, verification: takes the model and rendered output; gives verdicts: the
description's cross-checks, network sanity, the CIB against Pacemaker's schema and
crm_verify, crm_simulate's placement and capacity, host tools' checks of generated files.
"""
