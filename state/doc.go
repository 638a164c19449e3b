// Package state persists and locks what pgferry knows about each migration.
//
// A State is plain data: the identity of both servers (never a password), the
// status and substatus shown by `show` and `list`, the validation results, the
// status of every plan action, and the ordered list of objects the migration
// created or changed on the target (which `destroy` undoes in reverse). It is a
// versioned JSON document: FormatVersion says how to read it, Lineage (a UUID
// fixed when the state is created) says which history it belongs to, and Serial
// grows with every write, so a saved plan can tell that the state moved on.
//
// A Backend stores states and serialises operations on them:
//
//   - Local (the default) keeps <dir>/<migration>/state.json, written
//     atomically with the previous version kept as state.json.backup, and locks
//     a migration with flock(2) on <dir>/<migration>/lock, so the kernel frees
//     the lock of a holder that dies, however it dies.
//   - PG keeps states in a table of a PostgreSQL database shared by several
//     hosts (release pipelines) and locks a migration with a session advisory
//     lock held on a dedicated connection, which the server frees when the
//     holder's session ends.
//
// While a migration is In progress, both backends append each write's changes (the actions that
// changed, and the rest of the document when it changed) to a journal beside the document —
// <dir>/<migration>/state.journal, fsynced per write, or rows of <schema>.journal — instead of
// rewriting a document of tens of thousands of actions several times a second. Every reader
// replays the journal; it is folded into the document once it grows as large as the document,
// when the state leaves In progress, and whenever the stored state is not the one the writer
// stored last (journal.go). A record whose write was cut short is ignored: it was never confirmed.
//
// Both backends describe the holder of a lock (LockInfo) so that a conflict can
// say who holds it, and both can be forced open (`pgferry force-unlock ID`).
//
// Reading a state written by an older pgferry upgrades it in memory through a
// chain of upgrade functions, one per format version; a state written by a newer
// pgferry is refused rather than misread. This package never logs or prints: it
// returns errors that say what to do.
//
// The design follows Terraform's statemgr (small read/write/lock surface,
// lineage and serial, versioned upgrades) and its pg backend (advisory locks),
// with per-migration lock keys and kernel locks for the local case.
package state
