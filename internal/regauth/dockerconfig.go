package regauth

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
)

// maxConfigSize bounds a docker config file read into memory.
const maxConfigSize = 4 << 20

// FromDockerConfig builds a keyring from a docker config file such as
// ~/.docker/config.json: its "auths" entries with a base64 "auth" or
// username/password, and identitytoken/registrytoken. Credential helpers
// ("credsStore", "credHelpers") are not run: their presence is reported as
// a warning, as are unusable entries (which are skipped). A file that
// cannot be read, or is not a JSON docker config, is an error (wrapping
// ErrInvalidConfig in the second case). Registries are matched with the
// same rules as pull secrets.
func FromDockerConfig(ctx context.Context, path string) (*Keyring, []string, error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("docker config: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxConfigSize+1))
	if err != nil {
		return nil, nil, fmt.Errorf("docker config %s: %w", path, err)
	}
	if len(b) > maxConfigSize {
		return nil, nil, fmt.Errorf("docker config %s: %w: larger than %d bytes", path, ErrInvalidConfig, maxConfigSize)
	}
	return parseDockerConfig(b, "file "+path)
}

// ParseDockerConfig builds a keyring from the bytes of a docker config
// file; origin names them in warnings and errors.
func ParseDockerConfig(data []byte, origin string) (*Keyring, []string, error) {
	return parseDockerConfig(data, origin)
}

func parseDockerConfig(b []byte, origin string) (*Keyring, []string, error) {
	var doc struct {
		Auths       json.RawMessage   `json:"auths"`
		CredsStore  string            `json:"credsStore"`
		CredHelpers map[string]string `json:"credHelpers"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, nil, fmt.Errorf("%s: %w: %s", origin, ErrInvalidConfig, describeJSONError(err))
	}
	k := &Keyring{}
	var warns []string
	if doc.CredsStore != "" {
		warns = append(warns, fmt.Sprintf("%s: credential store %q is not used (only \"auths\" is read)", origin, doc.CredsStore))
	}
	if len(doc.CredHelpers) > 0 {
		warns = append(warns, fmt.Sprintf("%s: %d credential helper(s) not used (only \"auths\" is read)", origin, len(doc.CredHelpers)))
	}
	if len(doc.Auths) == 0 || string(doc.Auths) == "null" {
		return k, warns, nil
	}
	w, err := parseAuths(k, doc.Auths, origin)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", origin, err)
	}
	return k, append(warns, w...), nil
}
