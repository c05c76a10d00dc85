// Package config is the vocabulary packages use to check the settings they
// own. Each package that reads settings from the config file declares them
// as a struct with mapstructure tags, its defaults next to the code that
// uses them, and a Validate method that returns an *Error naming the bad
// key relative to its section ("batch_size"); the region that composes the
// sections puts the error under its section with In ("sync.batch_size"), so
// an operator always reads the full key.
//
// The package holds no state and does no I/O.
package config
