//! The command line: `wicket serve | echo | demo`, every flag with an `WICKET_*` environment fallback.

use std::{
    ffi::OsString,
    fmt,
    net::{IpAddr, SocketAddr},
    path::PathBuf,
    str::FromStr,
    time::Duration,
};

use clap::{ArgAction, Args, Parser, Subcommand, error::ErrorKind};
use proxy::{config::ProxyConfig, table::Hsts};

use crate::{
    error::ControllerError,
    logging::LogFormat,
    translate::{
        TranslateConfig,
        tls::{SecretRef, TlsSettings},
    },
};

/// wicket: a Kubernetes Ingress controller and HTTP reverse proxy in one binary.
#[derive(Debug, Parser)]
#[command(name = "wicket", version, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Log filter: a level (error, warn, info, debug, trace) or tracing directives such as
    /// `info,proxy=debug`. RUST_LOG, when set, takes precedence.
    #[arg(long, global = true, env = "WICKET_LOG_LEVEL", default_value = "info")]
    pub log_level: String,
    /// Log line format on stderr.
    #[arg(
        long,
        global = true,
        env = "WICKET_LOG_FORMAT",
        value_enum,
        default_value_t
    )]
    pub log_format: LogFormat,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the controller and the proxy.
    Serve(Box<ServeArgs>),
    /// Run a backend that answers every request with a JSON description of it.
    Echo(EchoArgs),
    /// Run the quickstart: echo backends for the loopback endpoints of a manifests
    /// directory, plus `serve --manifests` on it.
    Demo(Box<DemoArgs>),
    /// Read manifests offline, print every problem and the routing table `serve` would
    /// use; exit 1 when there are errors.
    Check(Box<CheckArgs>),
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Manifest files, or directories searched recursively for `*.yaml`/`*.yml`.
    #[arg(value_name = "PATH", required = true)]
    pub paths: Vec<PathBuf>,
    #[command(flatten)]
    pub class: ClassArgs,
    #[command(flatten)]
    pub tls: TlsArgs,
}

/// How requests are logged on stdout.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum AccessLogArg {
    /// One line per request in the nginx "upstreaminfo" field order.
    #[default]
    Text,
    /// One JSON object per request.
    Json,
    /// No access log.
    Off,
}

impl AccessLogArg {
    /// The proxy's access log format.
    pub fn format(self) -> proxy::access_log::AccessLogFormat {
        use proxy::access_log::AccessLogFormat;
        match self {
            Self::Text => AccessLogFormat::Text,
            Self::Json => AccessLogFormat::Json,
            Self::Off => AccessLogFormat::Off,
        }
    }
}

/// Shutdown timing of `serve`.
#[derive(Debug, Args)]
pub struct ShutdownArgs {
    /// After SIGTERM or SIGINT, /readyz fails at once and listeners stop accepting after
    /// this delay (so that load balancers notice first).
    #[arg(
        long,
        value_name = "DURATION",
        env = "WICKET_SHUTDOWN_DELAY",
        default_value = "5s"
    )]
    pub shutdown_delay: HumanDuration,
    /// Once listeners stop accepting, in-flight requests and upgraded connections
    /// (WebSocket, gRPC streams) get this long to finish; the rest are cut.
    #[arg(
        long,
        value_name = "DURATION",
        env = "WICKET_SHUTDOWN_GRACE",
        default_value = "30s"
    )]
    pub shutdown_grace: HumanDuration,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Read Kubernetes YAML (any layout, multi-document) from this directory instead of an
    /// API server, and re-read it on every change.
    #[arg(long, value_name = "DIR", env = "WICKET_MANIFESTS")]
    pub manifests: Option<PathBuf>,
    /// Address of the plain HTTP listener.
    #[arg(
        long,
        value_name = "ADDR",
        env = "WICKET_HTTP_ADDR",
        default_value = "0.0.0.0:8080"
    )]
    pub http_addr: SocketAddr,
    /// Address of the HTTPS listener (certificates chosen by SNI).
    #[arg(
        long,
        value_name = "ADDR",
        env = "WICKET_HTTPS_ADDR",
        default_value = "0.0.0.0:8443"
    )]
    pub https_addr: SocketAddr,
    /// Address of the admin listener (/healthz, /readyz, /metrics, /debug/routes).
    #[arg(
        long,
        value_name = "ADDR",
        env = "WICKET_ADMIN_ADDR",
        default_value = "0.0.0.0:10254"
    )]
    pub admin_addr: SocketAddr,
    /// Access log on stdout, one line per request.
    #[arg(
        long,
        value_name = "FORMAT",
        env = "WICKET_ACCESS_LOG_FORMAT",
        value_enum,
        default_value_t
    )]
    pub access_log_format: AccessLogArg,
    #[command(flatten)]
    pub shutdown: ShutdownArgs,
    #[command(flatten)]
    pub class: ClassArgs,
    #[command(flatten)]
    pub tls: TlsArgs,
    #[command(flatten)]
    pub proxy: ProxyArgs,
    #[command(flatten)]
    pub kube: KubeArgs,
}

/// The Kubernetes API source, status publishing and leader election (without `--manifests`).
#[derive(Debug, Args)]
pub struct KubeArgs {
    /// Kubeconfig file(s) to use (a `:`-separated list is merged). Without it: in-cluster
    /// configuration, else `~/.kube/config`.
    #[arg(long, value_name = "PATH", env = "KUBECONFIG")]
    pub kubeconfig: Option<OsString>,
    /// Watch Ingresses, Services, EndpointSlices and Secrets in this namespace only
    /// (IngressClasses are cluster-scoped and always watched cluster-wide).
    #[arg(long, value_name = "NS", env = "WICKET_WATCH_NAMESPACE")]
    pub watch_namespace: Option<String>,
    /// Copy this Service's `status.loadBalancer.ingress` into every owned Ingress's status.
    #[arg(long, value_name = "NS/NAME", env = "WICKET_PUBLISH_SERVICE",
          value_parser = parse_namespaced_name)]
    pub publish_service: Option<NamespacedName>,
    /// Write these addresses into owned Ingresses' status instead (IPs become `ip`, names
    /// become `hostname`); overrides --publish-service.
    #[arg(long, value_name = "ADDR[,ADDR]", env = "WICKET_PUBLISH_STATUS_ADDRESS",
          value_delimiter = ',', value_parser = parse_status_address)]
    pub publish_status_address: Vec<StatusAddress>,
    /// Name of the coordination.k8s.io/v1 Lease whose holder writes status and Events.
    #[arg(
        long,
        value_name = "NAME",
        env = "WICKET_ELECTION_ID",
        default_value = "wicket-leader"
    )]
    pub election_id: String,
    /// Namespace of the election Lease [default: $POD_NAMESPACE, else `wicket`].
    #[arg(long, value_name = "NS", env = "WICKET_ELECTION_NAMESPACE")]
    pub election_namespace: Option<String>,
    /// This replica's name in the Lease [default: hostname plus a random suffix].
    #[arg(long, value_name = "NAME", env = "POD_NAME")]
    pub election_identity: Option<String>,
    /// A Lease not renewed for this long may be taken over by another replica.
    #[arg(
        long,
        value_name = "DURATION",
        env = "WICKET_LEASE_DURATION",
        default_value = "15s"
    )]
    pub lease_duration: HumanDuration,
    /// How often the leader renews its Lease (and others retry); shorter than --lease-duration.
    #[arg(
        long,
        value_name = "DURATION",
        env = "WICKET_RENEW_PERIOD",
        default_value = "2s"
    )]
    pub renew_period: HumanDuration,
}

/// `namespace/name` of an object.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NamespacedName {
    pub namespace: String,
    pub name: String,
}

impl fmt::Display for NamespacedName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

fn parse_namespaced_name(s: &str) -> Result<NamespacedName, String> {
    match s.trim().split_once('/') {
        Some((namespace, name))
            if is_dns_name(namespace) && is_dns_name(name) && !name.contains('.') =>
        {
            Ok(NamespacedName {
                namespace: namespace.to_owned(),
                name: name.to_owned(),
            })
        }
        _ => Err(format!("'{s}' is not NAMESPACE/NAME")),
    }
}

/// One address for Ingress status: an IP or a DNS name.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum StatusAddress {
    Ip(IpAddr),
    Hostname(String),
}

fn parse_status_address(s: &str) -> Result<StatusAddress, String> {
    let s = s.trim();
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Ok(StatusAddress::Ip(ip));
    }
    if is_dns_name(s) {
        return Ok(StatusAddress::Hostname(s.to_ascii_lowercase()));
    }
    Err(format!("'{s}' is neither an IP address nor a DNS name"))
}

/// A DNS-1123 subdomain (lowercase letters, digits, `-` and `.`, at most 253 characters);
/// upper case is accepted and means the same.
fn is_dns_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

/// Which Ingresses are ours.
#[derive(Debug, Args)]
pub struct ClassArgs {
    /// Name of the IngressClass this controller serves.
    #[arg(
        long,
        value_name = "NAME",
        env = "WICKET_INGRESS_CLASS",
        default_value = "wicket"
    )]
    pub ingress_class: String,
    /// Controller name an IngressClass must carry in `spec.controller` to be ours.
    #[arg(
        long,
        value_name = "NAME",
        env = "WICKET_CONTROLLER_NAME",
        default_value = "wicket.dev/ingress-controller"
    )]
    pub controller_name: String,
    /// Also serve Ingresses that name no IngressClass at all.
    #[arg(long, env = "WICKET_WATCH_INGRESS_WITHOUT_CLASS")]
    pub watch_ingress_without_class: bool,
}

impl ClassArgs {
    /// The translate settings of these flags and of the TLS flags.
    pub fn translate_config(&self, tls: &TlsArgs) -> TranslateConfig {
        TranslateConfig {
            ingress_class: self.ingress_class.clone(),
            controller_name: self.controller_name.clone(),
            watch_ingress_without_class: self.watch_ingress_without_class,
            tls: tls.settings(),
        }
    }
}

/// The default certificate and the HSTS defaults.
#[derive(Debug, Args)]
pub struct TlsArgs {
    /// The certificate for handshakes whose SNI names no Ingress TLS host, or that send
    /// none: a `kubernetes.io/tls` Secret. Without it, or while it is missing or unusable,
    /// a self-signed certificate made at start.
    #[arg(long, value_name = "NS/NAME", env = "WICKET_DEFAULT_SSL_CERTIFICATE",
          value_parser = parse_secret_ref)]
    pub default_ssl_certificate: Option<SecretRef>,
    /// Send `Strict-Transport-Security` on HTTPS responses for hosts with TLS (an Ingress
    /// can turn it off with `wicket.dev/hsts: "false"`).
    #[arg(long, value_name = "BOOL", env = "WICKET_HSTS", default_value_t = true,
          action = ArgAction::Set)]
    pub hsts: bool,
    /// HSTS `max-age` in seconds.
    #[arg(long, value_name = "SECONDS", env = "WICKET_HSTS_MAX_AGE",
          default_value_t = Hsts::default().max_age_seconds)]
    pub hsts_max_age: u64,
    /// Add `includeSubDomains` to HSTS.
    #[arg(long, value_name = "BOOL", env = "WICKET_HSTS_INCLUDE_SUBDOMAINS",
          default_value_t = Hsts::default().include_subdomains, action = ArgAction::Set)]
    pub hsts_include_subdomains: bool,
    /// Add `preload` to HSTS.
    #[arg(long, value_name = "BOOL", env = "WICKET_HSTS_PRELOAD",
          default_value_t = Hsts::default().preload, action = ArgAction::Set)]
    pub hsts_preload: bool,
}

impl TlsArgs {
    pub fn settings(&self) -> TlsSettings {
        TlsSettings {
            hsts: self.hsts.then_some(Hsts {
                max_age_seconds: self.hsts_max_age,
                include_subdomains: self.hsts_include_subdomains,
                preload: self.hsts_preload,
            }),
            default_ssl_certificate: self.default_ssl_certificate.clone(),
        }
    }
}

/// `namespace/name` of a Secret: a DNS label, then a DNS subdomain.
fn parse_secret_ref(s: &str) -> Result<SecretRef, String> {
    match s.trim().split_once('/') {
        Some((namespace, name))
            if is_dns_name(namespace) && !namespace.contains('.') && is_dns_name(name) =>
        {
            Ok(SecretRef::new(namespace, name))
        }
        _ => Err(format!("'{s}' is not NAMESPACE/NAME")),
    }
}

/// Data-plane timeouts and limits.
#[derive(Debug, Args)]
pub struct ProxyArgs {
    /// A client must send a complete request head within this time.
    #[arg(long, value_name = "DURATION", env = "WICKET_HEADER_READ_TIMEOUT",
          default_value_t = HumanDuration(ProxyConfig::default().header_read_timeout))]
    pub header_read_timeout: HumanDuration,
    /// Largest accepted request header section in bytes; above it the client gets 431.
    #[arg(long, value_name = "BYTES", env = "WICKET_MAX_HEADER_BYTES",
          default_value_t = ProxyConfig::default().max_header_bytes)]
    pub max_header_bytes: usize,
    /// Time allowed to open a connection to an endpoint.
    #[arg(long, value_name = "DURATION", env = "WICKET_CONNECT_TIMEOUT",
          default_value_t = HumanDuration(ProxyConfig::default().connect_timeout))]
    pub connect_timeout: HumanDuration,
    /// Time from sending a request upstream to receiving its response head (then 504).
    #[arg(long, value_name = "DURATION", env = "WICKET_RESPONSE_TIMEOUT",
          default_value_t = HumanDuration(ProxyConfig::default().response_timeout))]
    pub response_timeout: HumanDuration,
    /// Idle upstream connections older than this are closed.
    #[arg(long, value_name = "DURATION", env = "WICKET_UPSTREAM_IDLE_TIMEOUT",
          default_value_t = HumanDuration(ProxyConfig::default().upstream_idle_timeout))]
    pub upstream_idle_timeout: HumanDuration,
    /// Most idle upstream connections kept per endpoint.
    #[arg(long, value_name = "N", env = "WICKET_MAX_IDLE_PER_ENDPOINT",
          default_value_t = ProxyConfig::default().max_idle_per_endpoint)]
    pub max_idle_per_endpoint: usize,
    /// Endpoints tried per request when connecting fails, the first try included.
    #[arg(long, value_name = "N", env = "WICKET_MAX_TRIES",
          default_value_t = ProxyConfig::default().max_tries,
          value_parser = at_least_one)]
    pub max_tries: usize,
}

impl ProxyArgs {
    pub fn proxy_config(&self) -> ProxyConfig {
        ProxyConfig {
            header_read_timeout: self.header_read_timeout.0,
            max_header_bytes: self.max_header_bytes,
            connect_timeout: self.connect_timeout.0,
            response_timeout: self.response_timeout.0,
            upstream_idle_timeout: self.upstream_idle_timeout.0,
            max_idle_per_endpoint: self.max_idle_per_endpoint,
            max_tries: self.max_tries,
            ..ProxyConfig::default()
        }
    }
}

#[derive(Debug, Args)]
pub struct EchoArgs {
    /// Address to listen on (port 0 picks a free port; the log line shows it).
    #[arg(long, value_name = "ADDR", env = "WICKET_ECHO_LISTEN")]
    pub listen: SocketAddr,
    /// Name reported in the JSON answer and the `x-echo-name` header.
    #[arg(
        long,
        value_name = "NAME",
        env = "WICKET_ECHO_NAME",
        default_value = "echo"
    )]
    pub name: String,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Directory of manifests to serve; echo backends start on its loopback endpoints.
    #[arg(long, value_name = "DIR", default_value = "examples/quickstart")]
    pub manifests: PathBuf,
    /// Address of the plain HTTP listener.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    pub http_addr: SocketAddr,
    /// Address of the HTTPS listener.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8443")]
    pub https_addr: SocketAddr,
    /// Address of the admin listener (/healthz, /readyz, /metrics, /debug/routes).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:10254")]
    pub admin_addr: SocketAddr,
    /// Access log on stdout, one line per request.
    #[arg(long, value_name = "FORMAT", value_enum, default_value_t)]
    pub access_log_format: AccessLogArg,
    /// After SIGTERM or SIGINT, listeners stop accepting after this delay.
    #[arg(long, value_name = "DURATION", default_value = "0s")]
    pub shutdown_delay: HumanDuration,
    /// Time in-flight requests and upgraded connections get to finish after that.
    #[arg(long, value_name = "DURATION", default_value = "30s")]
    pub shutdown_grace: HumanDuration,
    #[command(flatten)]
    pub class: ClassArgs,
    #[command(flatten)]
    pub tls: TlsArgs,
    #[command(flatten)]
    pub proxy: ProxyArgs,
}

/// Why the command line did not yield a command to run.
#[derive(Debug)]
pub enum ParseFailure {
    /// `--help` or `--version`: print it (`clap::Error::print`) and exit 0.
    Info(clap::Error),
    /// Bad input: a one-line reason, exit code 2.
    Usage(ControllerError),
}

/// Parses `args` (the first item is the program name) without printing or exiting.
pub fn parse<I, T>(args: I) -> Result<Cli, ParseFailure>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    Cli::try_parse_from(args).map_err(|error| match error.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => ParseFailure::Info(error),
        _ => ParseFailure::Usage(ControllerError::Usage(first_line(&error.to_string()))),
    })
}

/// The first paragraph of a clap message on one line, without its `error: ` label
/// (e.g. "the following required arguments were not provided: --listen <ADDR>").
fn first_line(message: &str) -> String {
    let paragraph: Vec<&str> = message
        .lines()
        .map(str::trim)
        .skip_while(|l| l.is_empty())
        .take_while(|l| !l.is_empty())
        .collect();
    let line = paragraph.join(" ");
    match line.strip_prefix("error:") {
        Some(rest) => rest.trim_start().to_owned(),
        None if line.is_empty() => "invalid usage".to_owned(),
        None => line,
    }
}

fn at_least_one(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(format!("'{s}' is not a whole number of at least 1")),
    }
}

/// A duration on the command line: `250ms`, `10s`, `5m`, `1h`, or a bare number of seconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HumanDuration(pub Duration);

impl FromStr for HumanDuration {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
        let (number, unit) = s.split_at(split);
        let n: u64 = number
            .parse()
            .map_err(|_| format!("'{s}' is not a duration (use e.g. 500ms, 10s, 5m, 1h)"))?;
        let per_unit = match unit {
            "ms" => return Ok(Self(Duration::from_millis(n))),
            "" | "s" => 1,
            "m" => 60,
            "h" => 3600,
            _ => return Err(format!("'{s}' has an unknown unit (use ms, s, m or h)")),
        };
        n.checked_mul(per_unit)
            .map(|secs| Self(Duration::from_secs(secs)))
            .ok_or_else(|| format!("'{s}' is too long"))
    }
}

impl fmt::Display for HumanDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.subsec_nanos() == 0 {
            write!(f, "{}s", self.0.as_secs())
        } else {
            write!(f, "{}ms", self.0.as_millis())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usage(args: &[&str]) -> String {
        match parse(args) {
            Err(ParseFailure::Usage(error)) => {
                assert_eq!(error.exit_code(), 2);
                error.to_string()
            }
            other => panic!("expected a usage error, got {other:?}"),
        }
    }

    #[test]
    fn bad_input_is_one_line_without_the_error_label() {
        for args in [
            &["wicket", "serve", "--nope"][..],
            &["wicket", "serve", "--http-addr", "not-an-address"],
            &["wicket", "serve", "--header-read-timeout", "10 parsecs"],
            &["wicket", "echo"],
            &["wicket"],
            &["wicket", "fly"],
        ] {
            let message = usage(args);
            assert!(!message.contains('\n'), "{args:?}: {message:?}");
            assert!(!message.starts_with("error"), "{args:?}: {message:?}");
            assert!(!message.contains('\u{1b}'), "{args:?}: {message:?}");
            assert!(!message.is_empty());
        }
        assert!(usage(&["wicket", "serve", "--nope"]).contains("--nope"));
        assert!(usage(&["wicket", "serve", "--http-addr", "x"]).contains("--http-addr"));
        assert!(usage(&["wicket", "echo"]).contains("--listen"));
    }

    #[test]
    fn help_and_version_are_not_errors() {
        for args in [
            &["wicket", "--help"][..],
            &["wicket", "serve", "--help"],
            &["wicket", "--version"],
        ] {
            assert!(
                matches!(parse(args), Err(ParseFailure::Info(_))),
                "{args:?}"
            );
        }
    }

    #[test]
    fn serve_defaults_follow_the_proxy_and_translate_defaults() {
        let Ok(cli) = parse(["wicket", "serve", "--manifests", "m"]) else {
            panic!("serve should parse");
        };
        let Command::Serve(serve) = cli.command else {
            panic!("expected serve")
        };
        assert_eq!(serve.manifests, Some(PathBuf::from("m")));
        assert_eq!(serve.http_addr, SocketAddr::from(([0, 0, 0, 0], 8080)));
        assert_eq!(serve.https_addr, SocketAddr::from(([0, 0, 0, 0], 8443)));
        assert_eq!(serve.admin_addr, SocketAddr::from(([0, 0, 0, 0], 10254)));
        assert_eq!(serve.proxy.proxy_config(), ProxyConfig::default());
        let t = serve.class.translate_config(&serve.tls);
        let d = TranslateConfig::default();
        assert_eq!(
            (
                t.ingress_class,
                t.controller_name,
                t.watch_ingress_without_class,
                t.tls
            ),
            (
                d.ingress_class,
                d.controller_name,
                d.watch_ingress_without_class,
                d.tls
            )
        );
        assert_eq!(cli.log_format, LogFormat::Text);
    }

    #[test]
    fn flags_override_defaults() {
        let Ok(cli) = parse([
            "wicket",
            "serve",
            "--manifests",
            "m",
            "--connect-timeout",
            "250ms",
            "--max-tries",
            "5",
            "--watch-ingress-without-class",
            "--log-format",
            "json",
        ]) else {
            panic!("serve should parse");
        };
        let Command::Serve(serve) = cli.command else {
            panic!("expected serve")
        };
        let config = serve.proxy.proxy_config();
        assert_eq!(config.connect_timeout, Duration::from_millis(250));
        assert_eq!(config.max_tries, 5);
        assert!(serve.class.watch_ingress_without_class);
        assert_eq!(cli.log_format, LogFormat::Json);
    }

    fn serve(args: &[&str]) -> ServeArgs {
        let mut all = vec!["wicket", "serve"];
        all.extend_from_slice(args);
        match parse(all) {
            Ok(Cli {
                command: Command::Serve(serve),
                ..
            }) => *serve,
            other => panic!("expected serve, got {other:?}"),
        }
    }

    #[test]
    fn kubernetes_flags_and_their_defaults() {
        let s = serve(&[]);
        assert_eq!(s.manifests, None);
        assert_eq!(s.kube.election_id, "wicket-leader");
        assert_eq!(
            s.kube.lease_duration,
            HumanDuration(Duration::from_secs(15))
        );
        assert_eq!(s.kube.renew_period, HumanDuration(Duration::from_secs(2)));
        assert!(s.kube.publish_status_address.is_empty());

        let s = serve(&[
            "--kubeconfig",
            "/tmp/kc",
            "--watch-namespace",
            "apps",
            "--publish-service",
            "wicket/wicket-lb",
            "--election-id",
            "edge",
            "--election-namespace",
            "infra",
            "--lease-duration",
            "30s",
            "--renew-period",
            "500ms",
        ]);
        assert_eq!(s.kube.kubeconfig, Some(OsString::from("/tmp/kc")));
        assert_eq!(s.kube.watch_namespace.as_deref(), Some("apps"));
        assert_eq!(
            s.kube.publish_service,
            Some(NamespacedName {
                namespace: "wicket".to_owned(),
                name: "wicket-lb".to_owned()
            })
        );
        assert_eq!(s.kube.election_id, "edge");
        assert_eq!(s.kube.election_namespace.as_deref(), Some("infra"));
        assert_eq!(s.kube.lease_duration.0, Duration::from_secs(30));
        assert_eq!(s.kube.renew_period.0, Duration::from_millis(500));
    }

    #[test]
    fn tls_flags() {
        let s = serve(&[
            "--https-addr",
            "127.0.0.1:0",
            "--default-ssl-certificate",
            "kube-system/wildcard.example.com",
            "--hsts-max-age",
            "600",
            "--hsts-include-subdomains=false",
            "--hsts-preload",
            "true",
        ]);
        assert_eq!(s.https_addr, SocketAddr::from(([127, 0, 0, 1], 0)));
        assert_eq!(
            s.tls.settings(),
            TlsSettings {
                hsts: Some(Hsts {
                    max_age_seconds: 600,
                    include_subdomains: false,
                    preload: true,
                }),
                default_ssl_certificate: Some(SecretRef::new(
                    "kube-system",
                    "wildcard.example.com"
                )),
            }
        );
        assert_eq!(serve(&["--hsts=false"]).tls.settings().hsts, None);
        for bad in ["wildcard", "a.b/c", "ns/", "ns/a b"] {
            let message = usage(&["wicket", "serve", "--default-ssl-certificate", bad]);
            assert!(
                message.contains("--default-ssl-certificate"),
                "{bad}: {message}"
            );
        }
        assert!(usage(&["wicket", "serve", "--hsts", "maybe"]).contains("--hsts"));
    }

    #[test]
    fn status_addresses_are_ips_or_hostnames() {
        let s = serve(&[
            "--publish-status-address",
            "10.0.0.1, LB.example.com,2001:db8::1",
        ]);
        assert_eq!(
            s.kube.publish_status_address,
            vec![
                StatusAddress::Ip(IpAddr::from([10, 0, 0, 1])),
                StatusAddress::Hostname("lb.example.com".to_owned()),
                StatusAddress::Ip("2001:db8::1".parse().expect("ipv6")),
            ]
        );
        for bad in ["not an address", "a..b", "x-.example.com", "1.2.3.4:80"] {
            let message = usage(&["wicket", "serve", "--publish-status-address", bad]);
            assert!(
                message.contains("--publish-status-address"),
                "{bad}: {message}"
            );
        }
    }

    #[test]
    fn publish_service_needs_namespace_and_name() {
        for bad in ["wicket", "/wicket", "wicket/", "a/b/c", "a/b.c"] {
            let message = usage(&["wicket", "serve", "--publish-service", bad]);
            assert!(message.contains("--publish-service"), "{bad}: {message}");
        }
    }

    #[test]
    fn durations_round_trip() {
        for (text, duration) in [
            ("250ms", Duration::from_millis(250)),
            ("10s", Duration::from_secs(10)),
            ("7", Duration::from_secs(7)),
            ("5m", Duration::from_secs(300)),
            ("1h", Duration::from_secs(3600)),
        ] {
            assert_eq!(text.parse::<HumanDuration>(), Ok(HumanDuration(duration)));
        }
        assert_eq!(
            HumanDuration(Duration::from_millis(1500)).to_string(),
            "1500ms"
        );
        assert_eq!(HumanDuration(Duration::from_secs(60)).to_string(), "60s");
        for bad in ["", "ms", "-1s", "1d", "99999999999999999999h"] {
            assert!(bad.parse::<HumanDuration>().is_err(), "{bad}");
        }
    }
}
