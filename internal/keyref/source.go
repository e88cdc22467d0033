package keyref

import (
	"fmt"
	"strings"
)

// CosignPubEntry is the Secret data entry that cosign's k8s:// references
// and Kyverno's keys.secret read.
const CosignPubEntry = "cosign.pub"

// k8sScheme prefixes cosign's Secret references, "k8s://namespace/name".
const k8sScheme = "k8s://"

// kmsPrefixes are the key references cosign resolves through a KMS or a
// hardware token.
var kmsPrefixes = []string{"awskms://", "gcpkms://", "azurekms://", "hashivault://", "pkcs11:"}

// SecretRef names a Secret holding public keys.
type SecretRef struct {
	Namespace string
	Name      string
	// Entry is the data entry holding the key (CosignPubEntry for Kyverno
	// and k8s:// references). Empty means policy-controller's rule: the
	// Secret must hold exactly one entry, of any name.
	Entry string
}

// Source says where keys come from. Exactly one field must be set.
type Source struct {
	// Data is inline PEM: one or more public keys.
	Data string
	// Secret is a Kubernetes Secret.
	Secret *SecretRef
	// File is a path to a PEM file of one or more public keys.
	File string
	// KMS is a KMS or hardware-token URI (awskms://, gcpkms://, azurekms://,
	// hashivault://, pkcs11:); always refused with ErrUnsupported.
	KMS string
}

// PolicyControllerSecret is the source for a ClusterImagePolicy
// key.secretRef; namespace is policy-controller's own namespace, which it
// reads the Secret from whatever the reference says.
func PolicyControllerSecret(namespace, name string) Source {
	return Source{Secret: &SecretRef{Namespace: namespace, Name: name}}
}

// KyvernoSecret is the source for a Kyverno keys.secret {name, namespace}.
func KyvernoSecret(namespace, name string) Source {
	return Source{Secret: &SecretRef{Namespace: namespace, Name: name, Entry: CosignPubEntry}}
}

// String names the source without its contents, for messages.
func (s Source) String() string {
	switch {
	case s.Data != "":
		return "inline data"
	case s.Secret != nil:
		out := "secret " + s.Secret.Namespace + "/" + s.Secret.Name
		if s.Secret.Entry != "" {
			out += " entry " + s.Secret.Entry
		}
		return out
	case s.File != "":
		return "file " + s.File
	case s.KMS != "":
		return "kms " + s.KMS
	default:
		return "empty source"
	}
}

// ParseKeyRef reads a cosign --key style reference: "k8s://namespace/name"
// (the Secret's cosign.pub entry), a KMS or pkcs11 URI, inline PEM, or
// else a file path.
func ParseKeyRef(ref string) (Source, error) {
	switch {
	case strings.TrimSpace(ref) == "":
		return Source{}, &Error{Source: "empty reference", Kind: ErrInvalidSource, Msg: "no key reference given"}
	case strings.HasPrefix(ref, k8sScheme):
		parts := strings.Split(strings.TrimPrefix(ref, k8sScheme), "/")
		if len(parts) != 2 || parts[0] == "" || parts[1] == "" {
			return Source{}, &Error{Source: fmt.Sprintf("reference %q", ref), Kind: ErrInvalidSource,
				Msg: "want k8s://<namespace>/<secret>"}
		}
		return KyvernoSecret(parts[0], parts[1]), nil
	case isKMS(ref):
		return Source{KMS: ref}, nil
	case strings.Contains(ref, "-----BEGIN"):
		return Source{Data: ref}, nil
	default:
		return Source{File: ref}, nil
	}
}

func isKMS(ref string) bool {
	for _, p := range kmsPrefixes {
		if strings.HasPrefix(ref, p) {
			return true
		}
	}
	return false
}

// validate checks that exactly one field is set and the set one is well
// formed.
func (s Source) validate() error {
	n := 0
	for _, set := range []bool{s.Data != "", s.Secret != nil, s.File != "", s.KMS != ""} {
		if set {
			n++
		}
	}
	switch {
	case n == 0:
		return &Error{Source: s.String(), Kind: ErrInvalidSource, Msg: "none of data, secret, file or kms is set"}
	case n > 1:
		return &Error{Source: s.String(), Kind: ErrInvalidSource, Msg: "more than one of data, secret, file and kms is set"}
	case s.Secret != nil && (s.Secret.Name == "" || s.Secret.Namespace == ""):
		return &Error{Source: s.String(), Kind: ErrInvalidSource, Msg: "secret reference needs a namespace and a name"}
	case s.KMS != "" && !isKMS(s.KMS):
		return &Error{Source: s.String(), Kind: ErrInvalidSource,
			Msg: "not a KMS reference (awskms://, gcpkms://, azurekms://, hashivault://, pkcs11:)"}
	}
	return nil
}
