#!/usr/bin/env bash
# `make collection`: the repository's Ansible content as the collection cdn.infra. Assembles the collection
# layout from the sources (nothing of it is kept in git) in build/collection/ansible_collections/cdn/infra,
# then builds the tarball with ansible-galaxy into build/. Prints the tarball's path last.
# COLLECTION_BUILD_DIR=DIR builds in DIR instead of build/ (the tests build in a directory of their own).
#   library/        -> plugins/modules/         module_utils/ -> plugins/module_utils/
#   plugins/*       -> plugins/*                roles/, playbooks/, galaxy.yml, meta/ as they are
#   packaging/collection/ (README.md, requirements.txt, tests/: ansible-test's config and unit tests)
source "$(dirname "$0")/lib.sh"

namespace="$(python3 -c 'import sys, yaml; print(yaml.safe_load(open(sys.argv[1]))["namespace"])' galaxy.yml)"
name="$(python3 -c 'import sys, yaml; print(yaml.safe_load(open(sys.argv[1]))["name"])' galaxy.yml)"
out="${COLLECTION_BUILD_DIR:-$REPO_ROOT/build}"
build="$out/collection/ansible_collections/$namespace/$name"

step "assemble $namespace.$name in ${build#"$REPO_ROOT"/}"
rm -rf "$out/collection"
mkdir -p "$build/plugins"
# Tracked files only (no __pycache__, no editor debris), copied, never linked: the tarball must not
# depend on this checkout.
copy() {  # copy SOURCE_DIR DEST_DIR
  local file
  while IFS= read -r -d '' file; do
    mkdir -p "$2/$(dirname "${file#"$1"/}")"
    cp -p "$file" "$2/${file#"$1"/}"
  done < <(git ls-files -z --cached --others --exclude-standard -- "$1")
}
copy library "$build/plugins/modules"
copy module_utils "$build/plugins/module_utils"
for kind in doc_fragments inventory callback; do copy "plugins/$kind" "$build/plugins/$kind"; done
copy roles "$build/roles"
copy playbooks "$build/playbooks"
copy meta "$build/meta"
copy packaging/collection "$build"
cp -p galaxy.yml CHANGELOG.md "$build/"

step "ansible-galaxy collection build"
ansible-galaxy collection build --force --output-path "$out" "$build" >&2
tarball="$out/$namespace-$name-$(python3 -c 'import sys, yaml; print(yaml.safe_load(open(sys.argv[1]))["version"])' galaxy.yml).tar.gz"
[ -f "$tarball" ] || { echo "collection: $tarball was not built" >&2; exit 1; }
echo "$tarball"
