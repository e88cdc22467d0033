// Package report turns engine results into output: an aligned table
// (optionally coloured) and JSON, with a summary by status and severity.
package report
