// Package posture owns the framework view of a scan: what a control
// library tells about its controls and frameworks (Catalog: frameworks ->
// control IDs, control ID -> name, severity, description, remediation),
// the selection of controls by framework and control ID (Select), and the
// compliance scores computed the way Kubescape computes them
// (ControlScore, FrameworkScore). The built-in library
// (internal/controls) and a Kubescape control library both satisfy
// Catalog; the report sink reads it. The package is a leaf: it imports
// nothing of Portcullis.
package posture
