#!/usr/bin/env bash
# Runs a monitoring tool (promtool, amtool) on Loka's monitoring assets:
#   tool.sh TOOL ARGS...
# Exits 77 (ctest's skip) when TOOL is not installed (Debian packages
# prometheus and prometheus-alertmanager; scripts/setup.sh installs them).
set -u
tool=$1
shift
if ! command -v "$tool" >/dev/null 2>&1; then
	echo "# skipped: $tool is not installed"
	exit 77
fi
echo "+ $tool $*"
exec "$tool" "$@"
