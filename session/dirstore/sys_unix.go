//go:build unix

package dirstore

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// checkPrivate returns an error unless dir, an absolute path with no
// symbolic links, belongs to this process's user and is writable by no one
// else, and each directory above it belongs to this user or root and is
// writable by no one else or sticky.
func checkPrivate(dir string) error {
	uid := os.Getuid()
	for above := false; ; above = true {
		fi, err := os.Stat(dir)
		if err != nil {
			return err
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok {
			return fmt.Errorf("%s: cannot tell its owner", dir)
		}
		owner, mode := int(st.Uid), fi.Mode()
		which := dir
		if above {
			which += ", which holds the session directory,"
		}
		switch {
		case !fi.IsDir():
			return fmt.Errorf("%s is not a directory", which)
		case owner != uid && !(above && owner == 0):
			return fmt.Errorf("%s belongs to uid %d, not to this process's user (uid %d)", which, owner, uid)
		case mode.Perm()&0o022 != 0 && !(above && mode&fs.ModeSticky != 0):
			return fmt.Errorf("%s is writable by its group or others (mode %#o)", which, mode.Perm())
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return nil
		}
		dir = parent
	}
}

// lockFile takes an exclusive lock on f (flock), waiting for it. Every
// process that opens the same file shares the lock.
func lockFile(f *os.File) error {
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if err != syscall.EINTR {
			return err
		}
	}
}

// unlockFile releases lockFile's lock.
func unlockFile(f *os.File) error { return syscall.Flock(int(f.Fd()), syscall.LOCK_UN) }
