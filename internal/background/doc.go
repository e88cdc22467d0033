// Package background is the continuous-verification controller: it watches
// the objects the loaded policies can match (Pods and pod controllers
// always), evaluates each existing object through the same engine and
// result model as admission (engine.Input.Background: Kyverno's background
// semantics), re-evaluates an object when it changes, the objects of the
// kinds a changed policy matches when policies change, and everything on
// a schedule, and keeps the results as PolicyReports (internal/sink/
// policyreport), written at most once per flush interval and only when
// their content changed. Compliance changes go to an Observer (the
// CloudEvents sink).
//
// It runs on the elected leader only (a controller-runtime Runnable that
// needs leader election), on the manager's cache.
package background
