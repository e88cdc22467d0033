// Package report is the sink that turns engine results into output for
// people and programs. A scan is written as it runs, one resource at a
// time (Writer): a grouped table (TableWriter: one group per resource,
// file:line and kind/namespace/name, one line per failed rule with its
// control ID, severity, field line and short message, cut to the
// terminal's width, then the failed controls and the score), streamed
// JSON (JSONWriter) or SARIF 2.1.0 (SARIFWriter). Scan keeps only counts,
// so memory does not grow with the number of findings. Its Table and
// Colorize are the table writer and colours every CLI table uses.
package report
