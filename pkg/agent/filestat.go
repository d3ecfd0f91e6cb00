package agent

import (
	"fmt"
	"os"
	"syscall"
	"time"
)

// A backup of unchanged data must not read it. Data.db is taken for the object under its
// key by its size (Cassandra never rewrites it, and the key holds the SSTable's digest),
// but the other components can be rewritten in place, so without more they are read and
// hashed by every backup. Instead, each manifest entry records the identity of the file
// its hash was computed from (layout.Entry.Stat: device, inode, size and modification time
// in nanoseconds), and the next backup trusts the recorded hash for a file of the same
// identity without opening it, as rclone and rsync trust size and modification time:
//   - a write in place changes the modification time; a rewrite into a new file (how
//     Cassandra rewrites Statistics.db and Summary.db) changes it and, unless the number
//     is reused, the inode; a copy from elsewhere changes the inode or the device;
//   - the change time is not part of it: a snapshot's hard link, and its removal, change
//     the inode's change time at every backup;
//   - a file modified less than a settling time before the backup listed it is not given
//     an identity (so the next backup hashes it again): a write in the same tick of the
//     filesystem's clock, after the stat, would leave the same modification time (git's
//     "racily clean" entries). The settling time covers the tick: statSettleFine for a
//     modification time with a fraction of a second (ext4 and xfs keep nanoseconds and
//     tick at most every 10 ms), statSettle for a whole second (a filesystem that keeps
//     seconds, or a time set by a tool);
//   - only a deliberate reset of the modification time, to the nanosecond, after a
//     same-size change in place defeats it.

// statSettle and statSettleFine are how long before a backup's listing a file must have
// last been modified for its identity to be recorded: for a modification time in whole
// seconds, and for one with a fraction of a second.
const (
	statSettle     = 2 * time.Second
	statSettleFine = 100 * time.Millisecond
)

// fileStat returns the identity of the file at path, as recorded in a manifest entry, or
// "" when the file was modified less than the settling time before now, or its identity
// is unknown (a filesystem without inode numbers).
func fileStat(path string, now time.Time) (string, error) {
	fi, err := os.Lstat(path)
	if err != nil {
		return "", err
	}
	return statOf(fi, now), nil
}

// statOf is fileStat of a file's information.
func statOf(fi os.FileInfo, now time.Time) string {
	st, ok := fi.Sys().(*syscall.Stat_t)
	settle := statSettle
	if fi.ModTime().Nanosecond() != 0 {
		settle = statSettleFine
	}
	if !ok || st.Ino == 0 || !fi.ModTime().Before(now.Add(-settle)) {
		return ""
	}
	return fmt.Sprintf("%d:%d:%d:%d", uint64(st.Dev), st.Ino, fi.Size(), fi.ModTime().UnixNano())
}
