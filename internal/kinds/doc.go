// Package kinds maps Kubernetes kinds to their API resources without a
// cluster: the built-in kinds from a static table, anything else by the
// API server's own pluralisation rule.
package kinds
