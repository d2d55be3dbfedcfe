#!/bin/bash
# Build the ocfpy noarch RPMs: rpm/build.sh [OUTDIR]   (default OUTDIR: rpm/dist)
#
# 1. copies the package sources (setup.cfg, pyproject.toml, README.md, ocfpy/, agents/,
#    generators/) to a scratch directory and builds the wheel there, offline, with the system
#    interpreter's setuptools and wheel (no build isolation, no index): the working tree gets
#    no build/ or egg-info;
# 2. tars systemd-units/ with fixed names, owners and times;
# 3. runs rpmbuild --nodeps in a scratch _topdir with the version from ocfpy/__init__.py and the
#    runtime Requires from the wheel's metadata; SOURCE_DATE_EPOCH (default: the last commit's
#    time) pins every timestamp.
# Prints the paths of the two RPMs: ocfpy (cluster nodes), then ocfpy-ocfgen (admin host).
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$src/rpm/dist}
python=${PYTHON:-/usr/bin/python3}

version=$(sed -n 's/^__version__ = "\(.*\)"$/\1/p' "$src/ocfpy/__init__.py")
[ -n "$version" ] || { echo "build.sh: no __version__ in ocfpy/__init__.py" >&2; exit 1; }
if [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
    SOURCE_DATE_EPOCH=$(git -C "$src" log -1 --format=%ct 2>/dev/null || echo 0)
fi
export SOURCE_DATE_EPOCH

work=$(mktemp -d /tmp/ocfpy-rpm.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work"/{src,SOURCES,SPECS,BUILD,RPMS,SRPMS,BUILDROOT}

# 1. the wheel
tar -C "$src" --exclude=__pycache__ --exclude='*.pyc' -cf - \
    setup.cfg pyproject.toml README.md ocfpy agents generators | tar -C "$work/src" -xf -
"$python" -m pip wheel --quiet --no-deps --no-index --no-build-isolation \
    --disable-pip-version-check -w "$work/SOURCES" "$work/src" >"$work/wheel.log" 2>&1 \
    || { cat "$work/wheel.log" >&2; exit 1; }
wheel="$work/SOURCES/ocfpy-$version-py3-none-any.whl"
[ -f "$wheel" ] || { echo "build.sh: pip did not build $wheel" >&2; ls "$work/SOURCES" >&2; exit 1; }

# Requires-Dist -> python3dist() names: the package's own (no marker) on the first line, the
# "ocfgen" extra's on the second; markers that exclude the build's Python (tomli) are dropped.
requires=$("$python" -I - "$wheel" <<'EOF'
import re, sys, zipfile
from email.parser import Parser
wheel = zipfile.ZipFile(sys.argv[1])
name = next(n for n in wheel.namelist() if n.endswith(".dist-info/METADATA"))
metadata = Parser().parsestr(wheel.read(name).decode())
lists = {"": [], "ocfgen": []}
for spec in metadata.get_all("Requires-Dist") or []:
    spec, _, marker = spec.partition(";")
    marker = " ".join(marker.split())
    extra = re.fullmatch(r"""extra == ["']([^"']+)["']""", marker)
    if marker and not extra:
        continue        # tomli for Python < 3.11: not for the system interpreter
    group = extra.group(1) if extra else ""
    if group not in lists:
        continue        # the test extra
    # "click>=8.0" or "click (>=8.0)"
    match = re.match(r"^([A-Za-z0-9_.-]+)\s*\(?\s*(?:(>=|==)\s*([^),\s]+))?\s*\)?$", spec.strip())
    if not match:
        sys.exit(f"build.sh: cannot turn Requires-Dist {spec!r} into an RPM dependency")
    dist, op, ver = match.groups()
    dist = re.sub(r"[-_.]+", "-", dist.lower())
    lists[group].append(f"python3dist({dist})" + (f" {'>=' if op == '>=' else '='} {ver}" if op else ""))
print(", ".join(lists[""]))
print(", ".join(lists["ocfgen"]))
EOF
)
node_requires=$(sed -n 1p <<<"$requires")
ocfgen_requires=$(sed -n 2p <<<"$requires")

# 2. the units
tar -C "$src/systemd-units" --sort=name --mtime="@$SOURCE_DATE_EPOCH" --owner=0 --group=0 \
    --numeric-owner -cf "$work/SOURCES/ocfpy-units-$version.tar" .

# 3. the RPM
rpmbuild -bb --nodeps --quiet \
    --define "_topdir $work" \
    --define "ocfpy_version $version" \
    ${node_requires:+--define "ocfpy_requires $node_requires"} \
    ${ocfgen_requires:+--define "ocfgen_requires $ocfgen_requires"} \
    --define "_buildhost reproducible" \
    --define "use_source_date_epoch_as_buildtime 1" \
    --define "clamp_mtime_to_source_date_epoch 1" \
    "$src/rpm/ocfpy.spec" >"$work/rpmbuild.log" 2>&1 || { cat "$work/rpmbuild.log" >&2; exit 1; }

mkdir -p "$out"
for rpm in "$work"/RPMS/noarch/ocfpy-"$version"-*.noarch.rpm "$work"/RPMS/noarch/ocfpy-ocfgen-"$version"-*.noarch.rpm; do
    cp "$rpm" "$out/"
    echo "$out/$(basename "$rpm")"
done
