#!/usr/bin/env bash
# Keeps releases/ off a GPU machine that receives the working tree (tracked and untracked-not-ignored
# files) with each command under a size limit: this project's lent machine takes 64 MiB a call,
# together with the carried CIFAR-10 part (about 61 MB), so the weights in releases/ would leave no
# room for the data. (Over ssh with rsync or git, nothing needs parking.)
#   scripts/releases-park.sh park     untrack releases/ in the index and ignore it (files stay on disk)
#   scripts/releases-park.sh unpark   undo both; `git status` is clean again
# Nothing is committed or moved either way; run `unpark` before committing.
set -euo pipefail
cd "$(git rev-parse --show-toplevel)"
exclude=.git/info/exclude
case "${1:-}" in
  park)
    git rm -r -q --cached releases
    grep -qxF '/releases/' "$exclude" 2>/dev/null || echo '/releases/' >> "$exclude"
    echo "releases/ parked: $(git ls-files -z | xargs -0 cat | wc -c) bytes of tracked files travel" ;;
  unpark)
    if [ -f "$exclude" ]; then sed -i '\#^/releases/$#d' "$exclude"; fi
    git reset -q -- releases
    echo "releases/ tracked again" ;;
  *) echo "usage: $0 park|unpark" >&2; exit 2 ;;
esac
