// Package regauth supplies registry credentials for pulling images the way
// the kubelet would: from a Pod's imagePullSecrets (or, when it lists none,
// its ServiceAccount's), from a docker config file for the CLI, and
// anonymously as the fallback.
//
// Pull secrets of type kubernetes.io/dockerconfigjson and
// kubernetes.io/dockercfg are parsed into a Keyring that matches registries
// with the kubelet's rules: the credential's host (with optional "*"
// wildcards per DNS label, e.g. "*.example.com") must have as many labels as
// the image's, the ports must be equal, and the credential's path must be a
// prefix of the repository path. "https://index.docker.io/v1/",
// "index.docker.io" and "docker.io" all name Docker Hub. When several
// credentials match, the most specific key (reverse lexical order, as the
// kubelet sorts them) comes first; Keyring.ResolveAll returns them all.
//
// Missing secrets or service accounts and malformed secrets are skipped with
// a warning (the kubelet also skips missing ones; it fails the pull on a
// malformed one, here the other secrets are still used). Warnings and
// errors name secrets and registries, never their contents.
//
// Objects are read through the small Reader interface (ClientReader wraps a
// controller-runtime client.Reader, ClientsetReader a client-go clientset).
// The admission path wraps it in CachedReader: a short-TTL cache with
// single-flight reads, so Pods sharing a service account or pull secret
// cost one GET per TTL, with get-only RBAC (no cluster-wide Secret watch).
package regauth
