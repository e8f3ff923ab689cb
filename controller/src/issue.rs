//! `Issue`: a problem found in the input, reported (log line, later an Event) but never fatal.
pub struct Issue;
