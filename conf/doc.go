// Package conf reads parleyd's HCL configuration file into typed, validated
// structs.
//
// A configuration is built in three layers: the embedded default.hcl (which
// alone is a complete, working configuration), then the admin's file, which
// overrides any attribute it sets, then command-line overrides passed as
// Options (-data-dir, -plugin-dir). Every problem found is reported at once
// in an *Error whose lines name file:line,column of the offending attribute
// or block, e.g.
//
//	conf: parley.hcl:12,17-22: Invalid duration; "30x" is not a duration ...
//
// Unknown attributes and blocks are errors. Relative file paths in the
// configuration are resolved against data_dir after all layers are applied,
// so every path in a loaded Config is absolute.
//
// A backend's settings block is never interpreted here: it is converted to a
// JSON object and handed to the backend plugin as it is.
//
// The field comments of Config and the types it contains are the reference
// for every attribute; conf/examples holds complete files.
package conf
