package attest

import (
	"errors"
	"testing"
)

// FuzzDecodeEnvelope checks that DecodeEnvelope never panics, fails only
// with a DecodeError, and yields statements that satisfy its invariants.
func FuzzDecodeEnvelope(f *testing.F) {
	for _, name := range fixtures {
		f.Add(wrap(f, readFixture(f, name)))
	}
	f.Add([]byte(`{"payloadType":"application/vnd.in-toto+json","payload":"e30="}`))
	f.Add([]byte(`{"payloadType":"application/vnd.in-toto+json","payload":"eyJfdHlwZSI6MX0"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		st, err := DecodeEnvelope(b)
		if err != nil {
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("error %v is %T, want *DecodeError", err, err)
			}
			return
		}
		if st.Type != StatementTypeV01 && st.Type != StatementTypeV1 || st.PredicateType == "" || len(st.Subjects) == 0 {
			t.Fatalf("decoded an invalid statement: %+v", st)
		}
		for _, s := range st.Subjects {
			for alg, d := range s.Digest {
				if !st.HasSubjectDigest(alg + ":" + d) {
					t.Fatalf("statement does not match its own subject %s:%s", alg, d)
				}
			}
		}
	})
}
