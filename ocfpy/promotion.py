"""Promotion scores through crm_attribute --promotion: the instance with the highest score is
promoted. Outside a cluster (ocf-tester) crm_attribute fails; that is logged, not fatal."""


def _crm_attribute(args, request, log):
    from .command import SpawnError, run

    timeout = max(1.0, min(10.0, request.timeout_ms / 1000.0 / 2))
    what = f"crm_attribute --promotion {' '.join(args)}"
    try:
        finished = run(["crm_attribute", "--promotion", *args], timeout=timeout,
                       env=dict(request.environ))
    except SpawnError as exc:
        log.warning(f"{what} failed: {exc}")
        return False
    if finished.status != 0:
        said = f": {finished.gist}" if finished.gist else ""
        log.warning(f"{what} {finished.how}{said}")
        return False
    return True


def set_score(score, request, log):
    return _crm_attribute(["-v", str(int(score))], request, log)


def clear_score(request, log):
    return _crm_attribute(["-D"], request, log)
