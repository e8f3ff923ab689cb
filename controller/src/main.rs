//! The `wicket` binary: parses the command line and runs a subcommand.

fn main() {}
