//! Black-box test support: starts the real `wicket` binary and its backends.
