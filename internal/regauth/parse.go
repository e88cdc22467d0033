package regauth

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	corev1 "k8s.io/api/core/v1"
)

// ErrInvalidConfig reports docker config data that cannot be used: not
// JSON, or not a docker config. It is returned for a docker config file and
// reported as a warning for a pull secret.
var ErrInvalidConfig = errors.New("invalid docker config")

// entry is one "auths" value of a docker config. Auth, when present, is
// base64("user:password") and overrides Username and Password.
type entry struct {
	Username      string `json:"username"`
	Password      string `json:"password"`
	Auth          string `json:"auth"`
	IdentityToken string `json:"identitytoken"`
	RegistryToken string `json:"registrytoken"`
}

// parseAuths parses a docker config "auths" object (raw is its JSON) and
// adds each usable entry to k. Entries that cannot be used are skipped with
// a warning naming origin and the registry key. It fails only when raw is
// not a JSON object.
func parseAuths(k *Keyring, raw json.RawMessage, origin string) ([]string, error) {
	var auths map[string]json.RawMessage
	if err := json.Unmarshal(raw, &auths); err != nil {
		return nil, fmt.Errorf("%w: %s", ErrInvalidConfig, describeJSONError(err))
	}
	locs := make([]string, 0, len(auths))
	for loc := range auths {
		locs = append(locs, loc)
	}
	sort.Strings(locs) // deterministic warnings and order within one source
	var warns []string
	for _, loc := range locs {
		cfg, err := decodeEntry(auths[loc])
		if err != nil {
			warns = append(warns, fmt.Sprintf("%s: registry %q: %v; entry skipped", origin, loc, err))
			continue
		}
		if !k.add(loc, credential{cfg: cfg, origin: origin}) {
			warns = append(warns, fmt.Sprintf("%s: registry %q is not a registry location; entry skipped", origin, loc))
		}
	}
	return warns, nil
}

// decodeEntry turns one "auths" value into an AuthConfig. Its errors never
// quote the value.
func decodeEntry(raw json.RawMessage) (authn.AuthConfig, error) {
	var e entry
	if err := json.Unmarshal(raw, &e); err != nil {
		return authn.AuthConfig{}, errors.New(describeJSONError(err))
	}
	cfg := authn.AuthConfig{
		Username:      e.Username,
		Password:      e.Password,
		IdentityToken: e.IdentityToken,
		RegistryToken: e.RegistryToken,
	}
	if e.Auth != "" {
		user, pass, err := decodeAuthField(e.Auth)
		if err != nil {
			return authn.AuthConfig{}, err
		}
		cfg.Username, cfg.Password = user, pass
	}
	if cfg.Username == "" && cfg.Password == "" && cfg.IdentityToken == "" && cfg.RegistryToken == "" {
		return authn.AuthConfig{}, errors.New("no credentials (auth, username/password or identitytoken)")
	}
	return cfg, nil
}

// decodeAuthField decodes the "auth" field, base64("user:password"), padded
// or not, as the kubelet does.
func decodeAuthField(field string) (string, string, error) {
	enc := base64.RawStdEncoding
	if strings.HasSuffix(strings.TrimSpace(field), "=") {
		enc = base64.StdEncoding
	}
	b, err := enc.DecodeString(field)
	if err != nil {
		var ce base64.CorruptInputError
		if errors.As(err, &ce) {
			return "", "", fmt.Errorf("auth field is not base64 (bad byte at offset %d)", int64(ce))
		}
		return "", "", errors.New("auth field is not base64")
	}
	user, pass, ok := strings.Cut(string(b), ":")
	if !ok {
		return "", "", errors.New(`auth field must be base64("username:password")`)
	}
	return user, pass, nil
}

// describeJSONError describes a JSON decoding error without quoting the
// input (a syntax error message can echo a character of a secret).
func describeJSONError(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("not valid JSON (syntax error at byte %d)", se.Offset)
	case errors.As(err, &te):
		where := te.Field
		if where == "" {
			where = "top level"
		}
		kind, _, _ := strings.Cut(te.Value, " ") // "number 5" -> "number"
		return fmt.Sprintf("unexpected JSON %s at %s (want %s)", kind, where, te.Type)
	default:
		return "not valid JSON"
	}
}

// addSecret adds the credentials of a pull secret to k. A secret that is
// not a docker config secret, or whose data is malformed, yields warnings
// and adds nothing; a malformed entry is skipped and the others are kept.
func addSecret(k *Keyring, s *corev1.Secret) []string {
	origin := "secret " + s.Namespace + "/" + s.Name
	var raw json.RawMessage
	switch s.Type {
	case corev1.SecretTypeDockerConfigJson:
		b := s.Data[corev1.DockerConfigJsonKey]
		if len(b) == 0 {
			return []string{fmt.Sprintf("%s: type %s but no %q data; skipped", origin, s.Type, corev1.DockerConfigJsonKey)}
		}
		var doc struct {
			Auths json.RawMessage `json:"auths"`
		}
		if err := json.Unmarshal(b, &doc); err != nil {
			return []string{fmt.Sprintf("%s: %s: %s; skipped", origin, ErrInvalidConfig, describeJSONError(err))}
		}
		if len(doc.Auths) == 0 || string(doc.Auths) == "null" {
			return []string{fmt.Sprintf("%s: %s: no \"auths\"; skipped", origin, ErrInvalidConfig)}
		}
		raw = doc.Auths
	case corev1.SecretTypeDockercfg:
		b := s.Data[corev1.DockerConfigKey]
		if len(b) == 0 {
			return []string{fmt.Sprintf("%s: type %s but no %q data; skipped", origin, s.Type, corev1.DockerConfigKey)}
		}
		raw = b
	default:
		return []string{fmt.Sprintf("%s: type %q is not %s or %s (the kubelet ignores it); skipped",
			origin, s.Type, corev1.SecretTypeDockerConfigJson, corev1.SecretTypeDockercfg)}
	}
	warns, err := parseAuths(k, raw, origin)
	if err != nil {
		return []string{fmt.Sprintf("%s: %v; skipped", origin, err)}
	}
	return warns
}
