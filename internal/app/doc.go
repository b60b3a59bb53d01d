// Package app is Mamori's composition root: the command line (subcommands
// and flags), configuration, and the wiring of the pipeline packages. Only
// cmd/mamori imports it, and it is the only package that knows them all.
package app
