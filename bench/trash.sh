# Sourced by the bench scripts (after WORK is set): trash PATH... moves
# paths into $WORK.trash (a rename, no inode freed), which the caller
# deletes when it exits. On ext4 without a journal (this machine's disk) an
# inode freed in the last 60 s -- 360 s while its inode-table block is
# dirty -- is skipped, with a buffer lookup, by every file creation in its
# group (ext4's recently_deleted, RECENTCY_MIN / RECENTCY_DIRTY in
# fs/ext4/ialloc.c): a deletion just before a timed run taxes each file the
# run creates, a cost no fresh CI checkout has.
TRASH=$WORK.trash
trash() {
  mkdir -p "$TRASH"
  local p
  for p in "$@"; do
    if [[ -e $p ]]; then mv "$p" "$TRASH/$(date +%s%N)-$(basename "$p")"; fi
  done
}
