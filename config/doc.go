// Package config owns pgferry's configuration: it reads every *.hcl file of a
// directory, decodes it in stages (variables first, then an evaluation context
// with var.*, env() and the go-cty standard functions, then sources, targets,
// migrations and the state backend) into the plain data types of this package,
// and reports every problem as an HCL diagnostic with a source range and a hint
// that says what to do.
//
// It also owns the canonical formatting of configuration files (fmt), the
// redaction of secrets declared in the configuration, and the fingerprint of a
// migration's settings that saved plans record.
//
// config never opens a connection or touches a database: a Config is data.
package config
