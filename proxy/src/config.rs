//! Proxy settings: listen addresses, timeouts and limits. Plain data; never reads the environment.
