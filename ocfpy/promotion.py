"""Promotion scores through crm_attribute --promotion: the instance with the highest score is
promoted. Outside a cluster (ocf-tester) crm_attribute fails; that is logged, not fatal."""

import subprocess


def _crm_attribute(args, request, log):
    timeout = max(1.0, min(10.0, request.timeout_ms / 1000.0 / 2))
    try:
        done = subprocess.run(
            ["crm_attribute", "--promotion", *args], capture_output=True, text=True,
            timeout=timeout, env=request.environ,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        log.warning(f"crm_attribute --promotion {' '.join(args)} failed: {exc}")
        return False
    if done.returncode != 0:
        log.warning(f"crm_attribute --promotion {' '.join(args)} exited {done.returncode}: "
                    f"{done.stderr.strip()}")
        return False
    return True


def set_score(score, request, log):
    return _crm_attribute(["-v", str(int(score))], request, log)


def clear_score(request, log):
    return _crm_attribute(["-D"], request, log)
