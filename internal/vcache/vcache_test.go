package vcache

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"
)

const (
	digestA = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	digestB = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
)

var (
	t0      = time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	cip     = PolicyID{Kind: "ClusterImagePolicy", Name: "team-signed"}
	kyv     = PolicyID{Kind: "ClusterPolicy", Name: "kyverno-signed"}
	refA    = "reg.example/team/app:v1@" + digestA
	current = map[PolicyID]string{cip: "hash-1", kyv: "hash-k"}
)

func testRecord() Record {
	return Record{
		Namespace: "shop",
		Images:    []Image{{Ref: refA, Digest: digestA}},
		Policies: []Policy{{PolicyID: cip, Hash: "hash-1"},
			{PolicyID: kyv, Hash: "hash-k", Rules: []string{"check-signature"}}},
		Results: []Result{
			{Image: refA, PolicyID: cip, Status: StatusPass, Message: "signed by team-key", Enforce: true},
			{Image: refA, PolicyID: kyv, Rule: "check-signature", Status: StatusWarn, Message: "attestation missing"},
		},
		VerifiedAt: t0.Unix(),
		ExpiresAt:  t0.Add(time.Hour).Unix(),
	}
}

func keys(t *testing.T) KeySet {
	t.Helper()
	ks, err := NewKeySet(t0)
	if err != nil {
		t.Fatal(err)
	}
	return ks
}

func child(images ...string) Child {
	return Child{Namespace: "shop", Images: images, Policies: current, Now: t0.Add(time.Minute)}
}

// open opens and checks value for c, returning the reason ("" on a full hit).
func open(t *testing.T, value string, ks KeySet, c Child) (*Verdicts, Reason) {
	t.Helper()
	r, reason, err := Open(value, ks, c.Now)
	if reason != "" {
		if err == nil {
			t.Errorf("Open gave reason %s without a detail", reason)
		}
		return nil, reason
	}
	return Check(r, c)
}

func TestSealOpenHit(t *testing.T) {
	ks := keys(t)
	v, err := Seal(testRecord(), ks)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(v, "v1."+ks.Current.ID+".") {
		t.Fatalf("value %q lacks the version and key id", v)
	}
	got, reason := open(t, v, ks, child(refA))
	if reason != "" || !got.All() {
		t.Fatalf("reason = %q, all = %v; want a full hit", reason, got.All())
	}
	res, ok := got.ImagePolicy(refA, cip.Kind, cip.Name)
	if !ok || res.Status != StatusPass || res.Message != "signed by team-key" {
		t.Fatalf("ImagePolicy = %+v, %v", res, ok)
	}
	rule, ok := got.Rule(kyv.Kind, kyv.Name, "check-signature")
	if !ok || len(rule) != 1 || rule[0].Status != StatusWarn || rule[0].Image != refA {
		t.Fatalf("Rule = %+v, %v", rule, ok)
	}
	if _, ok := got.Rule(kyv.Kind, kyv.Name, "other"); ok {
		t.Fatal("a rule that was not applied answered")
	}
	// The tag alone resolves to the signed digest by the record.
	got, reason = open(t, v, ks, child("reg.example/team/app:v1"))
	if d, ok := got.Digest("reg.example/team/app:v1"); reason != "" || !ok || d != digestA {
		t.Fatalf("tag: reason %q, digest %q %v", reason, d, ok)
	}
	if _, ok := got.Rule(kyv.Kind, kyv.Name, "check-signature"); ok {
		t.Fatal("a Kyverno rule answered for a tag it would have to pin")
	}
	// Sealing is deterministic whatever the list order.
	r := testRecord()
	r.Results[0], r.Results[1] = r.Results[1], r.Results[0]
	r.Policies[0], r.Policies[1] = r.Policies[1], r.Policies[0]
	v2, err := Seal(r, ks)
	if err != nil || v2 != v {
		t.Fatalf("reordered record sealed differently: %v", err)
	}
}

func TestForgedAndStaleRecordsMiss(t *testing.T) {
	ks := keys(t)
	other := keys(t)
	sealed, err := Seal(testRecord(), ks)
	if err != nil {
		t.Fatal(err)
	}
	seal := func(edit func(*Record)) string {
		r := testRecord()
		edit(&r)
		v, err := Seal(r, ks)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	byOther, err := Seal(testRecord(), other)
	if err != nil {
		t.Fatal(err)
	}
	// Same key id, other secret: a forger who knows the id.
	sameID := other
	sameID.Current.ID = ks.Current.ID
	forgedSameID, err := Seal(testRecord(), sameID)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(sealed, ".")
	payload, _ := base64.RawURLEncoding.DecodeString(parts[2])
	edited := strings.Replace(string(payload), `"namespace":"shop"`, `"namespace":"shoq"`, 1)
	editedPayload := strings.Join([]string{parts[0], parts[1], base64.RawURLEncoding.EncodeToString([]byte(edited)), parts[3]}, ".")

	for _, tc := range []struct {
		name  string
		value string
		child Child
		want  Reason
	}{
		{"one byte of the signature edited", sealed[:len(sealed)-2] + flip(sealed[len(sealed)-2]) + sealed[len(sealed)-1:], child(refA), ReasonBadSignature},
		{"one byte of the payload edited", editedPayload, child(refA), ReasonBadSignature},
		{"one byte of the key id edited", "v1." + flipID(parts[1]) + "." + parts[2] + "." + parts[3], child(refA), ReasonUnknownKey},
		{"signed by another key", byOther, child(refA), ReasonUnknownKey},
		{"signed by another secret under the same key id", forgedSameID, child(refA), ReasonBadSignature},
		{"not a sealed record", "passed", child(refA), ReasonMalformed},
		{"another version", "v2" + sealed[2:], child(refA), ReasonMalformed},
		{"truncated signature", sealed[:len(sealed)-4], child(refA), ReasonMalformed},
		{"replayed into another namespace", sealed, Child{Namespace: "other", Images: []string{refA}, Policies: current, Now: t0}, ReasonNamespace},
		{"expired", sealed, Child{Namespace: "shop", Images: []string{refA}, Policies: current, Now: t0.Add(time.Hour)}, ReasonExpired},
		{"older policy hash", sealed, Child{Namespace: "shop", Images: []string{refA}, Now: t0,
			Policies: map[PolicyID]string{cip: "hash-2", kyv: "hash-k"}}, ReasonPolicyChanged},
		{"copied to a Pod with another image", sealed, child("reg.example/evil/app@" + digestB), ReasonImageNotCovered},
		{"copied to a Pod with another digest", sealed, child("reg.example/team/app:v1@" + digestB), ReasonDigestMismatch},
		{"other tag of the same repository", sealed, child("reg.example/team/app:v2"), ReasonImageNotCovered},
		{"record sealed for another namespace", seal(func(r *Record) { r.Namespace = "other" }), child(refA), ReasonNamespace},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, reason := open(t, tc.value, ks, tc.child)
			if reason != tc.want {
				t.Fatalf("reason = %q, want %q", reason, tc.want)
			}
			if v.All() {
				t.Fatal("a miss covers every image")
			}
			for _, img := range tc.child.Images {
				if _, ok := v.ImagePolicy(img, cip.Kind, cip.Name); ok {
					t.Fatalf("a miss answered for %s", img)
				}
			}
		})
	}
}

// flip changes one base64url character into another.
func flip(c byte) string {
	if c == 'A' {
		return "B"
	}
	return "A"
}

func flipID(id string) string { return flip(id[0]) + id[1:] }

func TestPartialCoverage(t *testing.T) {
	ks := keys(t)
	v, err := Seal(testRecord(), ks)
	if err != nil {
		t.Fatal(err)
	}
	other := "reg.example/team/sidecar@" + digestB
	got, reason := open(t, v, ks, child(refA, other))
	if reason != ReasonImageNotCovered || got.All() {
		t.Fatalf("reason = %q, all %v", reason, got.All())
	}
	if _, ok := got.ImagePolicy(refA, cip.Kind, cip.Name); !ok {
		t.Fatal("the covered image lost its verdict")
	}
	if _, ok := got.ImagePolicy(other, cip.Kind, cip.Name); ok {
		t.Fatal("an image not covered got a verdict")
	}
	if _, ok := got.Rule(kyv.Kind, kyv.Name, "check-signature"); ok {
		t.Fatal("a Kyverno rule answered for a child whose images are not all covered")
	}
	// A deleted policy does not void the record; a new one has no verdict.
	c := child(refA)
	c.Policies = map[PolicyID]string{{Kind: "ClusterImagePolicy", Name: "new"}: "h"}
	got, reason = open(t, v, ks, c)
	if reason != "" {
		t.Fatalf("reason = %q", reason)
	}
	if _, ok := got.ImagePolicy(refA, "ClusterImagePolicy", "new"); ok {
		t.Fatal("a policy the record never applied answered")
	}
}

func TestDigestOnlyRefDoesNotResolveLatest(t *testing.T) {
	ks := keys(t)
	r := testRecord()
	r.Images = []Image{{Ref: "reg.example/team/app@" + digestA, Digest: digestA}}
	for i := range r.Results {
		r.Results[i].Image = r.Images[0].Ref
	}
	v, err := Seal(r, ks)
	if err != nil {
		t.Fatal(err)
	}
	if _, reason := open(t, v, ks, child("reg.example/team/app")); reason != ReasonImageNotCovered {
		t.Fatalf("reason = %q: a digest reference must not resolve repo:latest", reason)
	}
}

func TestRotationOverlap(t *testing.T) {
	ks := keys(t)
	old, err := Seal(testRecord(), ks)
	if err != nil {
		t.Fatal(err)
	}
	rotated, err := ks.Rotate(t0, 30*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if rotated.Current.ID == ks.Current.ID {
		t.Fatal("rotation kept the key")
	}
	if _, reason := open(t, old, rotated, child(refA)); reason != "" {
		t.Fatalf("inside the overlap: reason %q", reason)
	}
	late := child(refA)
	late.Now = t0.Add(31 * time.Minute)
	if _, reason := open(t, old, rotated, late); reason != ReasonUnknownKey {
		t.Fatalf("after the overlap: reason %q, want unknown_key", reason)
	}
	fresh, err := Seal(testRecord(), rotated)
	if err != nil {
		t.Fatal(err)
	}
	if _, reason := open(t, fresh, rotated, child(refA)); reason != "" {
		t.Fatalf("new key: reason %q", reason)
	}
	if _, reason := open(t, fresh, ks, child(refA)); reason != ReasonUnknownKey {
		t.Fatalf("the old set verified the new key: %q", reason)
	}
	// A second rotation after the overlap drops the retired key.
	again, err := rotated.Rotate(t0.Add(time.Hour), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if len(again.Previous) != 1 || again.Previous[0].ID != rotated.Current.ID {
		t.Fatalf("previous keys = %+v", again.Previous)
	}
	data, err := MarshalKeySet(again)
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParseKeySet(data)
	if err != nil || back.Current.ID != again.Current.ID || !back.Previous[0].RetiresAt.Equal(again.Previous[0].RetiresAt) {
		t.Fatalf("round trip: %+v, %v", back, err)
	}
	if _, err := ParseKeySet([]byte(`{"current":{"id":"x","secret":"c2hvcnQ="}}`)); err == nil {
		t.Fatal("a short key was accepted")
	}
}

func TestSealRefusesUncacheable(t *testing.T) {
	ks := keys(t)
	for name, edit := range map[string]func(*Record){
		"enforced failure":      func(r *Record) { r.Results[0].Status = "fail" },
		"error":                 func(r *Record) { r.Results[0].Status = "error" },
		"tag without digest":    func(r *Record) { r.Images[0].Ref = "reg.example/team/app:v1" },
		"bad digest":            func(r *Record) { r.Images[0].Digest = "sha256:xyz" },
		"no namespace":          func(r *Record) { r.Namespace = "" },
		"result of no image":    func(r *Record) { r.Results[0].Image = "reg.example/x@" + digestB },
		"result of no policy":   func(r *Record) { r.Results[0].Name = "ghost" },
		"expires before issued": func(r *Record) { r.ExpiresAt = r.VerifiedAt },
	} {
		r := testRecord()
		edit(&r)
		if _, err := Seal(r, ks); err == nil {
			t.Errorf("%s: sealed", name)
		}
	}
}

func FuzzOpen(f *testing.F) {
	ks, err := NewKeySet(t0)
	if err != nil {
		f.Fatal(err)
	}
	v, err := Seal(testRecord(), ks)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(v)
	f.Add("v1.x.e30.AAAA")
	f.Add("")
	f.Fuzz(func(t *testing.T, value string) {
		r, reason, err := Open(value, ks, t0)
		if reason != "" {
			if r != nil || err == nil {
				t.Fatalf("reason %q with record %v, err %v", reason, r, err)
			}
			return
		}
		// Only values we sealed open: re-sealing gives the same value.
		again, err := Seal(*r, ks)
		if err != nil || again != value {
			t.Fatalf("opened a value Seal does not produce: %q (%v)", value, err)
		}
		_, _ = Check(r, child(refA))
	})
}

func FuzzDecodePayload(f *testing.F) {
	data, err := CanonicalBytes(testRecord())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, payload []byte) {
		r, err := decodePayload(payload)
		if err != nil {
			return
		}
		if err := r.validate(); err != nil {
			t.Fatalf("decoded an invalid record: %v", err)
		}
		v, _ := Check(r, child(refA, "reg.example/x:1", "reg.example/y@"+digestB))
		for _, res := range r.Results {
			if res.Status != StatusPass && res.Status != StatusWarn && !(res.Status == StatusFail && !res.Enforce) {
				t.Fatalf("decoded an uncacheable status %q", res.Status)
			}
		}
		_ = v.All()
	})
}

// TestSignatureNotMalleable: the unused low bits of the signature's last
// base64url character must not give a second valid encoding.
func TestSignatureNotMalleable(t *testing.T) {
	ks := keys(t)
	v, err := Seal(testRecord(), ks)
	if err != nil {
		t.Fatal(err)
	}
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	last := strings.IndexByte(alphabet, v[len(v)-1])
	for low := range 4 { // 32 bytes in 43 characters leave 2 bits unused
		c := alphabet[last&^3|low]
		if c == v[len(v)-1] {
			continue
		}
		if _, reason, _ := Open(v[:len(v)-1]+string(c), ks, t0); reason == "" {
			t.Fatalf("a second encoding of the signature opened")
		}
	}
}
