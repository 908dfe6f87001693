// Package headercodec encodes HTTP headers into the compact byte form that the
// Redis and Postgres idempotency stores keep: lengths as unsigned varints,
// names in sorted order, so equal headers encode to equal bytes.
package headercodec
