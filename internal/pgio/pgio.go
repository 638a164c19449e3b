package pgio

import (
	"context"
	"fmt"
	"sync/atomic"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Parallel runs n tasks on up to jobs connections, each opened once by open and closed when its
// worker ends. The first task error cancels the others and is returned.
func Parallel(ctx context.Context, jobs, n int, open func() (*pgx.Conn, error), task func(context.Context, *pgx.Conn, int) error) error {
	if n == 0 {
		return nil
	}
	jobs = min(jobs, n)
	next := atomic.Int64{}
	errs := make(chan error, jobs)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for j := 0; j < jobs; j++ {
		go func() {
			c, err := open()
			if err != nil {
				errs <- err
				return
			}
			defer c.Close(context.WithoutCancel(ctx))
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					errs <- ctx.Err()
					return
				}
				if err := task(ctx, c, i); err != nil {
					cancel()
					errs <- err
					return
				}
			}
		}()
	}
	var first error
	for j := 0; j < jobs; j++ {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return first
}

// DescribePgError adds the server's detail and hint to an error message.
func DescribePgError(err error) error {
	if pe, ok := err.(*pgconn.PgError); ok {
		msg := pe.Message
		if pe.Detail != "" {
			msg += " (" + pe.Detail + ")"
		}
		if pe.Hint != "" {
			msg += "; hint: " + pe.Hint
		}
		return fmt.Errorf("%s (SQLSTATE %s)", msg, pe.Code)
	}
	return err
}

// LOChunk is how much of a large object one round trip moves.
const LOChunk = 1 << 20

// ReadLargeObject reads large object oid in LOChunk pieces and hands each non-empty one, with its
// offset, to each: no object has to fit in one value.
func ReadLargeObject(ctx context.Context, c *pgx.Conn, oid uint32, each func(off int64, b []byte) error) error {
	for off := int64(0); ; off += LOChunk {
		var b []byte
		if err := c.QueryRow(ctx, "SELECT pg_catalog.lo_get($1, $2, $3)", oid, off, LOChunk).Scan(&b); err != nil {
			return fmt.Errorf("reading large object %d: %w", oid, DescribePgError(err))
		}
		if len(b) > 0 {
			if err := each(off, b); err != nil {
				return err
			}
		}
		if len(b) < LOChunk {
			return nil
		}
	}
}
