package pgtest

import (
	"context"
	"database/sql"
	"testing"
)

func TestStartServesQueries(t *testing.T) {
	s := Start(t)
	url := s.Database(t)
	db, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRowContext(context.Background(), "SELECT $1::int + 1", 41).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 42 {
		t.Fatalf("got %d, want 42", n)
	}
	var addr string
	if err := db.QueryRowContext(context.Background(), "SELECT host(inet_server_addr())").Scan(&addr); err != nil {
		t.Fatal(err)
	}
	if addr != "127.0.0.1" {
		t.Fatalf("server address %q, want 127.0.0.1", addr)
	}
}
