// Package report is the sink that turns engine results into output for
// people and programs: a scan's aligned table (optionally coloured) and
// JSON, with a summary by status and severity and a score. Its Table and
// Colorize are the table writer and colours every CLI table uses.
package report
