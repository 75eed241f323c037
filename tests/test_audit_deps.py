"""tools/audit_deps.py's decision on pip-audit reports (the audit itself runs in scripts/test.sh)."""
from tools.audit_deps import verdict


def dep(name, vulns=(), skip=None):
    d = {"name": name, "version": "1.0"}
    if skip:
        d["skip_reason"] = skip
    else:
        d["vulns"] = list(vulns)
    return d


def test_a_vulnerability_with_a_fix_fails():
    code, lines = verdict({"dependencies": [
        dep("pillow", [{"id": "PYSEC-1", "aliases": ["CVE-1"], "fix_versions": ["10.3.0"]}]), dep("numpy")]})
    assert code == 1 and any("VULNERABLE pillow" in s and "10.3.0" in s for s in lines)


def test_a_vulnerability_without_a_fix_warns():
    code, lines = verdict({"dependencies": [dep("av", [{"id": "GHSA-x", "fix_versions": []}]), dep("numpy")]})
    assert code == 0 and any(s.startswith("warning: av") for s in lines)


def test_unreachable_service_skips_without_failing():
    skip = "Dependency not found on PyPI and could not be audited"
    code, lines = verdict({"dependencies": [dep("numpy", skip=skip), dep("av", skip=skip)]})
    assert code == 0 and "could not be reached" in lines[0]


def test_clean_report_passes():
    code, lines = verdict({"dependencies": [dep("numpy"), dep("av"), dep("x", skip="local")]})
    assert code == 0 and "audited 2 packages (1 skipped): 0" in lines[-1]
