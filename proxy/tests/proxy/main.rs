//! The proxy in-process on 127.0.0.1:0 with hand-built tables and in-process backends.

mod balance;
mod edge;
mod forward;
mod policy;
mod shutdown;
mod slow;
mod streaming;
mod support;
mod telemetry;
mod upgrade;
