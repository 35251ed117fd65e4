//go:build !unix

package dirstore

import "os"

// checkPrivate checks nothing: this system has no Unix owners and modes to
// read (Windows keeps access in ACLs).
func checkPrivate(string) error { return nil }

// lockFile locks nothing across processes here: the Backend's mutex keeps
// the writes of one process apart.
func lockFile(*os.File) error { return nil }

// unlockFile releases lockFile's lock.
func unlockFile(*os.File) error { return nil }
