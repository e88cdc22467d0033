package kyvernoimages

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"

	kyvernov1 "github.com/portcullis/portcullis/api/kyverno/v1"
	"github.com/portcullis/portcullis/internal/lang/conditions"
	"github.com/portcullis/portcullis/internal/lang/variables"
)

// attestationEntry returns the leaf check of an attestation's attestors:
// the attestations must verify with the attestor, and every statement of
// the attestation's type must satisfy its conditions.
func (r *run) attestationEntry(att *kyvernov1.Attestation) leafFunc {
	return func(ctx context.Context, a *kyvernov1.Attestor, path string, im image) (string, error) {
		check, sub, err := r.buildCheck(ctx, a)
		if err != nil {
			return "", &entryError{path: path + sub, msg: err.Error(), hard: true}
		}
		check.Attestations = true
		res, err := r.v.check.Verify(ctx, im.name, check)
		if err != nil {
			return "", verifyError(path+sub, err, true)
		}
		if !res.Verified {
			return "", &entryError{path: path + sub, msg: "no matching attestations"}
		}
		statements, err := decodeStatements(res.Attestations)
		if err != nil {
			return "", &entryError{path: path + sub, msg: err.Error()}
		}
		if att.Name != "" {
			// Kyverno makes the first predicate available under the name.
			for _, s := range statements {
				if p, ok := s["predicate"].(map[string]any); ok {
					if err := r.vars.Replace(quoteField(att.Name), p); err != nil {
						return "", &entryError{path: path + sub, msg: err.Error(), hard: true}
					}
					break
				}
			}
		}
		if err := r.checkStatements(statements, att, im); err != nil {
			return "", &entryError{path: path + sub, msg: err.Error()}
		}
		return res.Digest, nil
	}
}

// decodeStatements decodes verified DSSE envelopes into in-toto statements,
// adding Kyverno's "type" key (the predicateType).
func decodeStatements(envelopes [][]byte) ([]map[string]any, error) {
	out := make([]map[string]any, 0, len(envelopes))
	for i, env := range envelopes {
		var e struct {
			Payload *string `json:"payload"`
		}
		if err := json.Unmarshal(env, &e); err != nil {
			return nil, fmt.Errorf("decode attestation %d: %w", i, err)
		}
		if e.Payload == nil {
			return nil, fmt.Errorf("decode attestation %d: missing payload", i)
		}
		raw, err := base64.StdEncoding.DecodeString(*e.Payload)
		if err != nil {
			return nil, fmt.Errorf("decode attestation %d: base64 payload: %w", i, err)
		}
		var st map[string]any
		if err := json.Unmarshal(raw, &st); err != nil {
			return nil, fmt.Errorf("decode attestation %d: statement: %w", i, err)
		}
		st["type"] = st["predicateType"]
		out = append(out, st)
	}
	return out, nil
}

// checkStatements evaluates the attestation's conditions against each of
// the statements of its type (Kyverno's verifyAttestation).
func (r *run) checkStatements(statements []map[string]any, att *kyvernov1.Attestation, im image) error {
	typ := att.PredicateTypeName()
	var matching []map[string]any
	for _, s := range statements {
		if t, _ := s["type"].(string); t == typ {
			matching = append(matching, s)
		}
	}
	if len(matching) == 0 {
		// Kyverno's wording, typo included.
		return fmt.Errorf("attestions not found for predicate type %s", typ)
	}
	for _, s := range matching {
		ok, msg, err := r.statementHolds(att.Conditions, s)
		if err != nil {
			return fmt.Errorf("failed to check attestations: %w", err)
		}
		if !ok {
			return fmt.Errorf("attestation checks failed for %s and predicate %s: %s", im.name, typ, msg)
		}
	}
	return nil
}

// statementHolds evaluates condition blocks with the statement's predicate
// merged into the variables' root, so {{ builder.id }} names a predicate
// field.
func (r *run) statementHolds(blocks []any, s map[string]any) (bool, string, error) {
	if len(blocks) == 0 {
		return true, "", nil
	}
	predicate, ok := s["predicate"].(map[string]any)
	if !ok {
		return false, "", fmt.Errorf("statement has no predicate object")
	}
	r.vars.Checkpoint()
	defer r.vars.Restore()
	for k, v := range predicate {
		if err := r.vars.Set(quoteField(k), v); err != nil {
			return false, "", fmt.Errorf("add predicate field %q: %w", k, err)
		}
	}
	for _, b := range blocks {
		sub, err := variables.SubstituteConditions(r.vars, b)
		if err != nil {
			return false, "", fmt.Errorf("failed to substitute variables in attestation conditions: %w", err)
		}
		ok, msg, err := conditions.EvaluateRaw(sub)
		if err != nil || !ok {
			return ok, msg, err
		}
	}
	return true, "", nil
}

// deny evaluates validate.deny after the attestations.
func (r *run) deny(val *kyvernov1.ValidateImageVerification) (bool, string, error) {
	sub, err := variables.SubstituteConditions(r.vars, val.Deny.Conditions)
	if err != nil {
		return false, "", err
	}
	denied, condMsg, err := conditions.EvaluateRaw(sub)
	if err != nil || !denied {
		return false, "", err
	}
	var parts []string
	if val.Message != "" {
		m, err := variables.Substitute(r.vars, val.Message)
		if s, ok := m.(string); err == nil && ok {
			parts = append(parts, s)
		} else {
			parts = append(parts, val.Message)
		}
	}
	if condMsg != "" {
		parts = append(parts, condMsg)
	}
	if len(parts) == 0 {
		return true, "validation error: imageVerify  failed", nil
	}
	return true, strings.Join(parts, "; "), nil
}

// quoteField makes a predicate key one variable path segment.
func quoteField(k string) string {
	return `"` + strings.ReplaceAll(k, `"`, `""`) + `"`
}
