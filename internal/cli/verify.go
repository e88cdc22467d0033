//go:build !offline

package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	sigv1 "github.com/portcullis/portcullis/api/sigstore/v1beta1"
	"github.com/portcullis/portcullis/internal/attest"
	"github.com/portcullis/portcullis/internal/engine"
	"github.com/portcullis/portcullis/internal/imagepolicy"
	"github.com/portcullis/portcullis/internal/imageref"
	"github.com/portcullis/portcullis/internal/imageverify"
	"github.com/portcullis/portcullis/internal/keyref"
	"github.com/portcullis/portcullis/internal/manifest"
	"github.com/portcullis/portcullis/internal/policy"
	"github.com/portcullis/portcullis/internal/regauth"
	"github.com/spf13/cobra"
)

func newVerifyCommand() *cobra.Command {
	var (
		policies   []string
		output     string
		timeout    time.Duration
		trustRoots []string
		insecure   bool
		dockerCfg  string
		keyFiles   []string
	)
	cmd := &cobra.Command{
		Use:   "verify IMAGE...",
		Short: "Verify image signatures against ClusterImagePolicies",
		Long: `Verify images against sigstore ClusterImagePolicy files (policy.sigstore.dev/v1beta1):
every policy whose images globs match an image must be satisfied by at least one of its
authorities. Key authorities (inline PEM) are checked against the image's cosign signatures
in its registry (the tag is resolved to a digest); keyless authorities check the signing
certificate against the trust given offline (keyless.ca-cert, or a trusted_root.json named by
trustRootRef and passed with --trust-root NAME=FILE), its identities, SCT and transparency-log
bundle; static authorities pass or fail as written. KMS and secretRef keys are not supported
here: such an authority fails, so a policy relying on it fails closed. Policies in warn mode
only warn. --key FILE checks that every image is signed by one of the keys in the file(s),
like cosign verify --key, with the same output (policy "cli-keys").

Exit codes: 0 every image allowed, 1 an enforce-mode policy failed, 2 invalid input.`,
		Example: `  portcullis verify ghcr.io/org/app:1.2 --policy cip.yaml
  portcullis verify ghcr.io/org/app:1.2 --key cosign.pub
  portcullis verify ghcr.io/org/app@sha256:... --policy ./policies -o json`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if output != "table" && output != "json" {
				return withCode(ExitInvalid, fmt.Errorf("unknown output format %q (want table or json)", output))
			}
			if len(policies) == 0 && len(keyFiles) == 0 {
				return withCode(ExitInvalid, fmt.Errorf("--policy or --key is required"))
			}
			if err := checkImageRefs(args); err != nil {
				return withCode(ExitInvalid, err)
			}
			docs, errs := policy.ReadFiles(policies)
			cipDocs, _ := imagepolicy.Split(docs)
			if len(keyFiles) > 0 {
				doc, err := keyFilePolicy(cmd.Context(), keyFiles)
				if err != nil {
					return withCode(ExitInvalid, err)
				}
				cipDocs = append(cipDocs, doc)
			}
			set, err := policy.Compile(cipDocs, policy.Options{Attestations: attest.Check})
			errs = append(errs, policy.AsErrors(err)...)
			if len(errs) > 0 {
				for _, e := range errs {
					fmt.Fprintln(cmd.ErrOrStderr(), e.Error())
				}
				return withCode(ExitInvalid, fmt.Errorf("invalid policies"))
			}
			if len(set.Images) == 0 {
				return withCode(ExitInvalid, fmt.Errorf("no ClusterImagePolicy found in %s", strings.Join(policies, ", ")))
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			roots, err := readTrustRoots(trustRoots)
			if err != nil {
				return withCode(ExitInvalid, err)
			}
			vopts := imageverify.Options{TrustRoots: roots, Insecure: insecure}
			if dockerCfg != "" {
				kr, warns, err := regauth.FromDockerConfig(cmd.Context(), dockerCfg)
				if err != nil {
					return withCode(ExitInvalid, err)
				}
				for _, w := range warns {
					fmt.Fprintln(cmd.ErrOrStderr(), "warning:", w)
				}
				vopts.Keychain = kr
			}
			eng := engine.New(engine.WithImagePolicyVerifier(imageverify.New(vopts), engine.ImagePolicyOptions{}))
			verdicts := verifyImages(ctx, eng, set, args)
			denied := false
			for _, v := range verdicts {
				denied = denied || !v.Allowed
			}
			if err := renderVerdicts(cmd.OutOrStdout(), output, verdicts); err != nil {
				return withCode(ExitInvalid, err)
			}
			if denied {
				return withCode(ExitFindings, fmt.Errorf("an image failed an enforce-mode ClusterImagePolicy"))
			}
			return nil
		},
	}
	cmd.Flags().StringArrayVarP(&policies, "policy", "p", nil, "ClusterImagePolicy file or directory (repeatable, required)")
	cmd.Flags().StringVarP(&output, "output", "o", "table", "output format: table or json")
	cmd.Flags().DurationVar(&timeout, "timeout", 30*time.Second, "bound on all registry access")
	cmd.Flags().StringArrayVar(&trustRoots, "trust-root", nil, "NAME=FILE: a sigstore trusted_root.json that keyless authorities name in trustRootRef (repeatable)")
	cmd.Flags().StringArrayVar(&keyFiles, "key", nil, "PEM public key `FILE` (repeatable): every image must be signed by one of the keys, as cosign verify --key does (policy \"cli-keys\")")
	cmd.Flags().StringVar(&dockerCfg, "docker-config", "", "docker config.json with registry credentials (auths); default: anonymous")
	cmd.Flags().BoolVar(&insecure, "insecure-registries", false, "allow plain HTTP to registries that are not on loopback or a private network")
	return cmd
}

// checkImageRefs reports every argument that is not an image reference,
// with the reason. An unparseable reference matches no policy glob, so it
// must be refused before evaluation rather than approved for want of a
// matching policy.
func checkImageRefs(images []string) error {
	var errs []error
	for _, img := range images {
		if err := imageRefError(img); err != nil {
			errs = append(errs, fmt.Errorf("invalid image reference %q: %w", img, err))
		}
	}
	return errors.Join(errs...)
}

// imageRefError returns why img is not an image reference, or nil. Validity
// is imageref.Parse's (the parser policies match with); the reason comes
// from go-containerregistry's tag or digest parser, which names the part
// at fault.
func imageRefError(img string) error {
	if _, err := imageref.Parse(img); err == nil {
		return nil
	}
	switch {
	case img == "":
		return errors.New("empty")
	case strings.TrimSpace(img) != img:
		return errors.New("leading or trailing white space")
	}
	var err error
	if strings.Contains(img, "@") {
		_, err = name.NewDigest(img, name.WeakValidation)
	} else {
		_, err = name.NewTag(img, name.WeakValidation)
	}
	if err == nil {
		err = errors.New("not a registry/repository[:tag][@digest] reference")
	}
	return err
}

// keyFilePolicy turns --key files into a ClusterImagePolicy "cli-keys"
// covering every image, with one key authority per public key.
func keyFilePolicy(ctx context.Context, files []string) (manifest.Document, error) {
	var authorities []any
	for _, f := range files {
		keys, err := keyref.Load(ctx, nil, keyref.Source{File: f})
		if err != nil {
			return manifest.Document{}, fmt.Errorf("--key: %w", err)
		}
		for _, k := range keys {
			authorities = append(authorities, map[string]any{
				"name": fmt.Sprintf("key-%d", len(authorities)), "key": map[string]any{"data": string(k.PEM)}})
		}
	}
	return manifest.Document{Source: "--key", Index: 1, Object: map[string]any{
		"apiVersion": sigv1.APIVersion, "kind": sigv1.KindClusterImagePolicy,
		"metadata": map[string]any{"name": "cli-keys"},
		"spec":     map[string]any{"images": []any{map[string]any{"glob": "**"}}, "authorities": authorities},
	}}, nil
}

// readTrustRoots reads --trust-root NAME=FILE values.
func readTrustRoots(specs []string) (map[string][]byte, error) {
	roots := map[string][]byte{}
	for _, spec := range specs {
		name, file, ok := strings.Cut(spec, "=")
		if !ok || name == "" || file == "" {
			return nil, fmt.Errorf("invalid --trust-root %q (want NAME=FILE)", spec)
		}
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("--trust-root %s: %w", name, err)
		}
		roots[name] = b
	}
	return roots, nil
}

// imageVerdict is verify's output for one image: the engine's results
// for it and the decision on them.
type imageVerdict struct {
	Image string `json:"image"`
	// Digest is what the image resolved to ("" when it could not be).
	Digest string `json:"digest,omitempty"`
	// Allowed is false when an enforce-mode policy is not satisfied.
	Allowed bool `json:"allowed"`
	// Warnings are the failures of warn-mode policies.
	Warnings []string `json:"warnings,omitempty"`
	// Results are one per matching policy.
	Results []engine.Result `json:"results"`
}

// verifyImages evaluates each image against the set's
// ClusterImagePolicies and decides on its results, as admission does.
func verifyImages(ctx context.Context, eng *engine.Engine, set *policy.Set, images []string) []imageVerdict {
	out := make([]imageVerdict, 0, len(images))
	for _, img := range images {
		results := eng.EvaluateImages(ctx, set, []string{img})
		d := engine.Decide(set, results)
		v := imageVerdict{Image: img, Allowed: d.Allowed, Warnings: d.Warnings, Results: results}
		if v.Results == nil {
			v.Results = []engine.Result{}
		}
		for _, r := range results {
			if r.Digest != "" {
				v.Digest = r.Digest
			}
		}
		out = append(out, v)
	}
	return out
}

// renderVerdicts writes the verdicts as a table (one row per image and
// policy) or as JSON.
func renderVerdicts(w io.Writer, output string, verdicts []imageVerdict) error {
	if output == "json" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(verdicts)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "IMAGE\tDIGEST\tPOLICY\tMODE\tRESULT\tDETAIL")
	for _, v := range verdicts {
		if len(v.Results) == 0 {
			fmt.Fprintf(tw, "%s\t%s\t-\t-\tallowed\tno ClusterImagePolicy matches\n", v.Image, dashIfEmpty(v.Digest))
		}
		for _, r := range v.Results {
			mode := sigv1.ModeEnforce
			if !r.Enforce {
				mode = sigv1.ModeWarn
			}
			verdict := "fail"
			switch r.Status {
			case engine.StatusPass:
				verdict = "pass"
			case engine.StatusError:
				verdict = "error"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", v.Image, dashIfEmpty(v.Digest), r.Policy, mode, verdict, r.Message)
		}
	}
	return tw.Flush()
}

func dashIfEmpty(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
