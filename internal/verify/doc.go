// Package verify compares a migrated target database with its source: the inventory of
// objects by name and definition, sequence positions, and per table the row count and an
// order-independent checksum, naming the differing rows of a table with a primary key.
package verify
