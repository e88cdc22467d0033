package cli

import "github.com/spf13/cobra"

func newScanCommand() *cobra.Command {
	return &cobra.Command{Use: "scan PATH...", Short: "Scan manifests (not implemented yet)", Hidden: true}
}
