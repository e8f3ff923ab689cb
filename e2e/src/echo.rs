//! `wicket echo` backends and the JSON they answer with.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::net::SocketAddr;
use std::time::Duration;

use serde::Deserialize;

use crate::binary::wicket_binary;
use crate::error::Result;
use crate::process::ChildProcess;

const STARTUP: Duration = Duration::from_secs(30);

/// A running `wicket echo --name NAME`, stopped when dropped.
#[derive(Debug)]
pub struct Echo {
    name: String,
    addr: SocketAddr,
    _process: ChildProcess,
}

impl Echo {
    /// Starts an echo backend on a loopback port chosen by the kernel.
    pub async fn start(name: &str) -> Result<Self> {
        let binary = wicket_binary()?;
        let args = ["echo", "--listen", "127.0.0.1:0", "--name", name].map(OsStr::new);
        let mut process = ChildProcess::spawn(&format!("wicket echo {name}"), &binary, &args)?;
        let addr = process.listen_addr("echo", STARTUP).await?;
        Ok(Self {
            name: name.to_owned(),
            addr,
            _process: process,
        })
    }

    /// Starts one echo backend per name.
    pub async fn start_all(names: &[&str]) -> Result<Vec<Self>> {
        let mut echoes = Vec::with_capacity(names.len());
        for name in names {
            echoes.push(Self::start(name).await?);
        }
        Ok(echoes)
    }

    /// The name it reports in every answer.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

/// What an echo backend saw, as it reports it.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct EchoReply {
    pub name: String,
    pub listen: String,
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    pub host: Option<String>,
    pub version: String,
    /// Lower-case header name → every value, in order.
    pub headers: BTreeMap<String, Vec<String>>,
    pub body_bytes: u64,
}

impl EchoReply {
    /// The values of one (lower-case) header; empty when absent.
    pub fn header(&self, name: &str) -> &[String] {
        self.headers.get(name).map_or(&[], Vec::as_slice)
    }
}
