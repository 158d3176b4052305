#!/usr/bin/env bash
# Walks through the WRT guide's whole flow with this example, locally, in a
# scratch git repository (nothing here is changed): CI checks and
# verification on main -> staging; a version tag -> production waits for a
# signed approval, then gets staging's exact release; a manual
# certification deploy -> the signed evidence package, verified; the
# deployment ledger and the dashboard. Every step checks its result and the
# script stops at the first surprise.
#
#   bash examples/release-flow/demo.sh [SCRATCH_DIR]
#
# WRT names the wrt binary (default: wrt on PATH). Needs git, cc, z3,
# cppcheck (scripts/setup.sh installs them).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
wrt="${WRT:-wrt}"
work="${1:-$(mktemp -d)}"
mkdir -p "$work" && cd "$work"
[ -z "$(ls -A .)" ] || { echo "demo: $work is not empty" >&2; exit 2; }
cp -r "$here"/. .
rm -f demo.sh
# CI environment variables of the machine running this would override git.
unset GITHUB_ACTIONS GITHUB_REF GITHUB_REF_NAME GITHUB_EVENT_NAME GITHUB_HEAD_REF GITHUB_ACTOR GITLAB_CI CI_COMMIT_BRANCH CI_COMMIT_TAG
export USER=ci-bot  # who asks for the deployments (an approver must be someone else)

step() { printf '\n=== %s\n' "$*"; }
expect() {  # expect FILE TEXT: FILE contains TEXT
  grep -qF -- "$2" "$1" || { echo "demo: expected '$2' in $1:" >&2; cat "$1" >&2; exit 1; }
}

git init -q -b main
git config user.name demo && git config user.email demo@example.com
git commit -q --allow-empty -m "chore: root"
printf '.wrt/\nout/\ndist/\n' > .gitignore
echo 0.0.0 > VERSION
git add -A
git commit -q -m "feat: ring buffer, checksum and event log"

step "push to main: CI checks, verification, gate, staging"
"$wrt" run | tee run1.log
expect run1.log "passed  staging"
expect run1.log "skipped production (0.00s): condition: no tag"
expect run1.log "skipped certification"

step "the release: version from the commits, changelog, annotated tag"
"$wrt" run --target release | tee release.log
expect release.log "passed  release"
[ "$(git cat-file -t v1.0.0)" = tag ] || { echo "demo: no annotated tag v1.0.0" >&2; exit 1; }
expect CHANGELOG.md "## [1.0.0]"
expect VERSION "1.0.0"

step "the version tag: staging has this commit's build, production waits for one signed approval"
"$wrt" run > run2.log 2>&1 && { cat run2.log; echo "demo: production deployed without approval" >&2; exit 1; }
cat run2.log
expect run2.log "waiting for approval: production needs 1 signed approval"
run_id="$(ls dist/registry/approvals/requests | sed -n 's/\.json$//p' | tail -n 1)"

step "the release manager approves run $run_id (the requester could not)"
"$wrt" approve "$run_id" --key keys/DEMO-ONLY-release-manager.pem | tee approve.log
expect approve.log "approved by release-manager"

step "production gets staging's exact release"
"$wrt" run | tee run3.log
expect run3.log "passed  production"
skopeo_ok=""
if command -v skopeo >/dev/null; then
  skopeo inspect --raw oci:dist/registry:staging > staging.json
  skopeo inspect --raw oci:dist/registry:production > production.json
  cmp -s staging.json production.json || { echo "demo: production's manifest is not staging's" >&2; exit 1; }
  skopeo_ok=" (skopeo: the same OCI manifest)"
fi
echo "production == staging$skopeo_ok"

step "manual certification deploy: the signed evidence package"
"$wrt" deploy certification --key keys/DEMO-ONLY-ci.pem | tee cert.log
expect cert.log "passed  certification"
"$wrt" evidence verify dist/certification/certification/evidence --key keys/DEMO-ONLY-ci.pub | tee verify.log
expect verify.log "files intact, signed by 1 key"

step "the deployment ledgers and the dashboard"
"$wrt" deployments | tee ledger.log
expect ledger.log "production"
expect ledger.log "approved by [\"release-manager\"]"
"$wrt" dashboard --out dist/site
expect dist/site/index.html 'data-environment="production"'
echo
echo "demo: done in $work (dashboard: $work/dist/site/index.html)"
