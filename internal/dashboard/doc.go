// Package dashboard is the findings store's web front: a JSON HTTP API
// (/api/v1/...) for everything the dashboard shows, and the dashboard
// itself, server-rendered HTML (html/template) with a little embedded CSS
// and JavaScript (go:embed; no external assets, so it works offline and
// inside a cluster): the overview (posture by cluster, namespace, policy,
// control and severity), a namespace's drill-down, the violations list
// (failing field path, message, remediation), a resource's history, the
// trends chart (violations and compliance score per day, an SVG rendered
// on the server), images with their verification status, and scans.
//
// Every query parameter is hostile: values reach the store only as
// parameters of its parameterised SQL, are bounded in size and number,
// and everything written out is escaped by html/template or
// encoding/json. The pages send a Content-Security-Policy that allows
// only the dashboard's own script and style.
//
// There is no anonymous access. A caller presents a bearer token, in the
// Authorization header or, for a browser, through the login form, which
// keeps it in an HttpOnly, Secure, SameSite=Strict cookie (the form and
// logout accept same-origin posts only). An Authenticator turns the token
// into a Principal, the clusters and namespaces the caller may see, and
// every query is restricted to them: TokenFile compares it with a token
// file (standalone `portcullis dashboard`), Kubernetes checks it with a
// TokenReview and lets the caller see the namespaces where a
// SubjectAccessReview allows `list policyreports.wgpolicyk8s.io`
// (everything only when allowed cluster-wide), caching both briefly.
//
// Serve runs the handler over HTTPS (certificate files, or a generated
// self-signed certificate whose fingerprint the caller prints), or over
// plain HTTP on a loopback address only when asked to.
package dashboard
