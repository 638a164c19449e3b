// Package pgio runs work over pgx connections: tasks spread over a few connections, and large
// objects read in pieces. It holds no state and knows nothing of plans or migrations.
package pgio
