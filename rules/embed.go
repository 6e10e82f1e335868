// Package pack is bansho's default rule pack (the YAML files of this
// directory), embedded in the binary so that the sensor has rules without
// any file on disk. rules.dir in the configuration replaces it.
package pack

import "embed"

// FS holds the default rule files (their fixtures, in tests/, are not
// embedded: bansho rules test reads them from the source tree).
//
//go:embed *.yaml
var FS embed.FS
