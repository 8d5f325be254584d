//go:build tools

// Package tools pins the Pulumi CLI that the real-engine tests run. scripts/build-pulumi
// builds the `pulumi` binary from this module; go.sum fixes every dependency.
package tools

import (
	_ "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi"
)
