// Package planfile owns saved plans: writing and reading plan files (pgferry plan --out FILE,
// pgferry apply FILE), the digests and fingerprints a plan records of both catalogs, and
// Stale, which says why a saved plan no longer fits the servers, the configuration or the state.
// It is pure: it reads no server, and its tests need none.
package planfile
