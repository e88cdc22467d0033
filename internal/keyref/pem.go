package keyref

import (
	"github.com/portcullis/portcullis/internal/keys"
)

// parse decodes public keys from data with package keys; firstOnly keeps
// cosign's behaviour of reading only the first PEM block.
func parse(data []byte, firstOnly bool) ([]keys.PublicKey, error) {
	if firstOnly {
		k, err := keys.ParsePublicKey(data)
		if err != nil {
			return nil, invalid(err)
		}
		return []keys.PublicKey{k}, nil
	}
	ks, err := keys.ParsePublicKeys(data)
	if err != nil {
		return nil, invalid(err)
	}
	return ks, nil
}

// invalid is an ErrInvalidKey without a source; Load fills it in.
func invalid(err error) error { return &Error{Kind: ErrInvalidKey, Msg: err.Error()} }
