package verify

import (
	"context"
	"crypto/sha256"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/pgferry/pgferry/internal/pgio"
)

// compareLargeObjects compares the digests of both sides' large objects: nil when they agree.
func compareLargeObjects(ctx context.Context, db string, openSrc, openTgt Opener) (*Difference, error) {
	var sd, td string
	digest := func(open Opener, out *string) error {
		c, err := open(ctx)
		if err != nil {
			return err
		}
		defer c.Close(context.WithoutCancel(ctx))
		*out, err = largeObjectsDigest(ctx, c)
		return err
	}
	if err := both(func() error { return digest(openSrc, &sd) }, func() error { return digest(openTgt, &td) }); err != nil {
		return nil, err
	}
	if sd == td {
		return nil, nil
	}
	return &Difference{Database: db, Object: "large objects", Kind: "checksum", Source: sd, Target: td}, nil
}

// largeObjectsDigest hashes every large object's OID and contents, in OID order. Owners are left out, as for tables: with roles = false
// the target login owns everything.
func largeObjectsDigest(ctx context.Context, c *pgx.Conn) (string, error) {
	rows, err := c.Query(ctx, `SELECT oid FROM pg_catalog.pg_largeobject_metadata ORDER BY oid`)
	if err != nil {
		return "", err
	}
	oids, err := pgx.CollectRows(rows, pgx.RowTo[uint32])
	if err != nil {
		return "", err
	}
	h := sha256.New()
	for _, oid := range oids {
		fmt.Fprintf(h, "%d\n", oid)
		if err := pgio.ReadLargeObject(ctx, c, oid, func(_ int64, b []byte) error { h.Write(b); return nil }); err != nil {
			return "", err
		}
		h.Write([]byte{0})
	}
	return fmt.Sprintf("%d objects, sha256 %x", len(oids), h.Sum(nil)[:8]), nil
}
