// Package workdir gives a pgferry process a directory of its own for temporary files (pg_dump's
// schema archives, lists for pg_restore), and removes the directories that processes which died
// (kill -9, a crash, a closed terminal) left behind.
//
// A directory is <parent>/pgferry-run-<pid>-<random> (parent: os.TempDir() unless given) and
// holds a file "owner" that its process keeps flock(2)ed for as long as it lives. The kernel
// drops that lock when the process dies, however it dies, so Sweep can tell a dead process's
// directory (nobody holds its owner file) from a live one's without trusting process ids, which
// the system reuses. The state backend is no help here: the pg backend has no local directory, and
// a temporary file belongs to the machine, not to the migration.
package workdir
