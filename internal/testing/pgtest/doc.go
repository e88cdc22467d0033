// Package pgtest starts a real PostgreSQL server for tests: initdb and
// pg_ctl from the Debian postgresql package (/usr/lib/postgresql/N/bin,
// or PORTCULLIS_PG_BIN), a cluster in a temporary directory listening on
// 127.0.0.1 only (no Unix socket), trust authentication for the local
// test user, stopped and removed when the test ends. When the process
// runs as root (initdb refuses to), the server runs as the postgres user
// (or nobody).
//
// Without the binaries a test is skipped with a message naming the
// package to install, except in CI (CI=true), where it fails.
package pgtest
