# The review's tools over a generated project (the working directory), run by Kiln's runners:
# locally in the shared virtualenv, on AWS in a build of the test CodeBuild project
# (infra/buildspec-review.yml). Each tool writes what it found to $KILN_REVIEW_OUT; a tool
# that fails leaves its file empty, which Kiln reports as a finding, never as a pass.
# $KILN_OSV_URL, when set, is the OSV API pip-audit asks instead of osv.dev. The tools run as
# modules of the `python` first on PATH: a virtualenv moved into place whole keeps working
# modules, not console scripts (their first line names where it was made).
out="${KILN_REVIEW_OUT:?KILN_REVIEW_OUT names the directory for the tools' output}"
mkdir -p "$out"
python -m ruff check --no-cache --exit-zero --output-format json --output-file "$out/ruff.json" . \
  >"$out/ruff.log" 2>&1
python -m bandit --recursive . --exclude ./tests,./.kiln --format json --output "$out/bandit.json" \
  --quiet --exit-zero >"$out/bandit.log" 2>&1
set -- --vulnerability-service osv
if [ -n "${KILN_OSV_URL:-}" ]; then
  set -- "$@" --osv-url "$KILN_OSV_URL"
fi
python -m pip_audit --requirement requirements.txt --no-deps --disable-pip "$@" --format json \
  --output "$out/pip-audit.json" --progress-spinner off --timeout 15 \
  --cache-dir "$out/pip-audit-cache" >"$out/pip-audit.log" 2>&1
touch "$out/ruff.json" "$out/bandit.json" "$out/pip-audit.json" "$out/pip-audit.log"
exit 0
