#!/usr/bin/env bash
# The formatting of the C/C++ lines changed since the merge base with main
# (scripts/check-format says how "changed" is found and its fallback).
set -euo pipefail
exec bash "$(dirname "$0")/../check-format"
