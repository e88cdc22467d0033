package attest_test

import (
	"context"
	"encoding/base64"
	"fmt"

	"github.com/portcullis/portcullis/internal/attest"
)

func Example() {
	statement := `{
  "_type": "https://in-toto.io/Statement/v1",
  "subject": [{"name": "ghcr.io/example/app", "digest": {"sha256": "74e19dcd5ceecfb9f1579fda3c43a847f3fad01c8606d85caa17242e9bc99f0e"}}],
  "predicateType": "https://slsa.dev/provenance/v1",
  "predicate": {"runDetails": {"builder": {"id": "https://github.com/actions/runner/github-hosted"}}}
}`
	envelope := fmt.Sprintf(`{"payloadType":%q,"payload":%q,"signatures":[]}`,
		attest.PayloadType, base64.StdEncoding.EncodeToString([]byte(statement)))

	st, err := attest.DecodeEnvelope([]byte(envelope))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(st.HasSubjectDigest("sha256:74e19dcd5ceecfb9f1579fda3c43a847f3fad01c8606d85caa17242e9bc99f0e"))
	fmt.Println(st.MatchesPredicateType("slsaprovenance1"))

	policy, err := attest.Compile(attest.KindCEL, `predicate.runDetails.builder.id.startsWith("https://github.com/")`)
	if err != nil {
		fmt.Println(err)
		return
	}
	v, err := policy.Evaluate(context.Background(), st)
	fmt.Println(v.Passed, err)

	policy, err = attest.Compile(attest.KindRego, `package sigstore
isCompliant {
  input.predicate.runDetails.builder.id == "https://gitlab.com/runner"
}`)
	if err != nil {
		fmt.Println(err)
		return
	}
	v, err = policy.Evaluate(context.Background(), st)
	fmt.Println(v.Passed, v.Message, err)
	// Output:
	// true
	// true <nil>
	// true <nil>
	// false isCompliant is undefined <nil>
}
