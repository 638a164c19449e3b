//go:build !linux

package main

// evict is a no-op where posix_fadvise is not available.
func evict(dir string) {}
