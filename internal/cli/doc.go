// Package cli holds the portcullis cobra commands. Commands are
// constructors returning *cobra.Command that write to the command's
// output streams, so they are testable; Main maps errors to exit codes.
package cli
