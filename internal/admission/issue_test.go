package admission

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"testing"
	"time"
)

func TestIssueBundle(t *testing.T) {
	t.Parallel()
	now := time.Now()
	first, err := IssueBundle([]string{"svc.ns.svc", "127.0.0.1"}, time.Hour, nil, now)
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.X509KeyPair(first.Cert, first.Key)
	if err != nil {
		t.Fatalf("cert and key do not pair: %v", err)
	}
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(first.CA) {
		t.Fatal("CA bundle unreadable")
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, DNSName: "svc.ns.svc"}); err != nil {
		t.Fatalf("serving cert does not verify against the bundle: %v", err)
	}
	if len(leaf.IPAddresses) != 1 || !leaf.IPAddresses[0].Equal([]byte{127, 0, 0, 1}) {
		t.Fatalf("IP SANs = %v", leaf.IPAddresses)
	}
	if d := first.RenewAt.Sub(now); d < 35*time.Minute || d > 45*time.Minute {
		t.Fatalf("renew after %v, want about two thirds of an hour", d)
	}
	if got := BundleRenewAt(first.Cert, now); got.Sub(first.RenewAt).Abs() > 2*time.Second {
		t.Fatalf("BundleRenewAt = %v, want %v", got, first.RenewAt)
	}
	// A rotation keeps the previous CA in the bundle.
	second, err := IssueBundle([]string{"svc.ns.svc"}, time.Hour, first.CA, now)
	if err != nil {
		t.Fatal(err)
	}
	both := x509.NewCertPool()
	both.AppendCertsFromPEM(second.CA)
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: both, DNSName: "svc.ns.svc"}); err != nil {
		t.Fatalf("old serving cert not trusted by the rotated bundle: %v", err)
	}
	// Expired CAs and unreadable blocks are dropped; readable, valid ones
	// are kept, whatever surrounds them.
	expired, err := IssueBundle([]string{"svc.ns.svc"}, time.Hour, nil, now.Add(-100*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	prev := string(expired.CA) + "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n" + string(first.CA) + "junk"
	third, err := IssueBundle([]string{"svc.ns.svc"}, time.Hour, []byte(prev), now)
	if err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(third.CA, []byte("-----BEGIN CERTIFICATE-----")); n != 2 || !bytes.HasSuffix(third.CA, first.CA) {
		t.Fatalf("rotated bundle holds %d certificates, want the new CA and the first:\n%s", n, third.CA)
	}
	if _, err := IssueBundle(nil, time.Hour, nil, now); err == nil {
		t.Fatal("no hosts: want an error")
	}
	if got := BundleRenewAt([]byte("garbage"), now); !got.Equal(now) {
		t.Fatalf("unreadable cert renews at %v, want now", got)
	}
}
