//! Pods made the way a CNI plugin makes them: the host reaches `wicket echo` in each pod
//! at its pod IP, and nothing of them is left afterwards, also when the test body panics.
//! These tests need root (CAP_NET_ADMIN); without it they fail saying so.

use std::ffi::OsStr;
use std::net::SocketAddr;
use std::time::Duration;

use e2e::binary::wicket_binary;
use e2e::client::get_fresh;
use e2e::netns::{Pod, PodNetwork, link_names, netns_names};
use e2e::process::ChildProcess;

const STARTUP: Duration = Duration::from_secs(30);
const ECHO_PORT: u16 = 8080;

/// What a pod network consisted of, to look for after it is gone.
#[derive(Debug, Default)]
struct Created {
    netns: Vec<String>,
    links: Vec<String>,
}

impl Created {
    fn record(&mut self, network: &PodNetwork, pods: &[&Pod]) {
        self.links.push(network.bridge().to_owned());
        for pod in pods {
            self.netns.push(pod.netns().to_owned());
            self.links.push(pod.host_veth().to_owned());
        }
    }

    /// Asserts that every recorded name is present (`true`) or absent (`false`).
    fn assert_present(&self, present: bool) -> e2e::Result<()> {
        let netns = netns_names()?;
        let links = link_names()?;
        for name in &self.netns {
            assert_eq!(
                netns.contains(name),
                present,
                "netns {name} in `ip netns list`: {netns:?}"
            );
        }
        for name in &self.links {
            assert_eq!(
                links.contains(name),
                present,
                "link {name} in `ip link`: {links:?}"
            );
        }
        Ok(())
    }
}

/// Starts `wicket echo --listen 0.0.0.0:8080 --name <pod name>` inside the pod.
async fn start_echo(pod: &Pod) -> e2e::Result<ChildProcess> {
    let listen = format!("0.0.0.0:{ECHO_PORT}");
    let args = ["echo", "--listen", &listen, "--name", pod.name()].map(OsStr::new);
    let what = format!("wicket echo in pod {}", pod.name());
    let mut echo = pod.spawn(&what, &wicket_binary()?, &args)?;
    echo.listen_addr("echo", STARTUP).await?;
    Ok(echo)
}

/// GETs `/` from the host at the pod's IP; returns the name the echo answered with.
async fn echo_name_at(pod: &Pod) -> e2e::Result<String> {
    let addr = SocketAddr::from((pod.ip(), ECHO_PORT));
    let reply = get_fresh(addr, "pod.test", "/").await?;
    Ok(reply.echo()?.name)
}

#[tokio::test]
async fn host_reaches_echo_in_each_pod_and_drop_removes_everything() -> e2e::Result<()> {
    let mut created = Created::default();
    {
        let network = PodNetwork::create()?;
        let pod_a = network.pod("poda")?;
        let pod_b = network.pod("podb")?;
        created.record(&network, &[&pod_a, &pod_b]);
        created.assert_present(true)?;

        assert_ne!(pod_a.ip(), pod_b.ip());
        assert!(
            network.gateway().octets()[..3] == pod_a.ip().octets()[..3],
            "pod {} outside {}",
            pod_a.ip(),
            network.cidr()
        );

        let _echo_a = start_echo(&pod_a).await?;
        let _echo_b = start_echo(&pod_b).await?;
        assert_eq!(echo_name_at(&pod_a).await?, "poda");
        assert_eq!(echo_name_at(&pod_b).await?, "podb");
        assert!(!pod_a.pids()?.is_empty(), "echo runs inside pod a's netns");
    }
    created.assert_present(false)
}

/// Creates a pod with echo running in it, reports what it made, then panics.
async fn panicking_body(report: std::sync::mpsc::Sender<Created>) -> e2e::Result<()> {
    let network = PodNetwork::create()?;
    let pod = network.pod("doomed")?;
    let mut created = Created::default();
    created.record(&network, &[&pod]);
    let _echo = start_echo(&pod).await?;
    assert_eq!(echo_name_at(&pod).await?, "doomed");
    let _ = report.send(created);
    panic!("the test body fails while its pod is running");
}

#[test]
fn a_panicking_test_body_still_cleans_up() -> e2e::Result<()> {
    let (report, created) = std::sync::mpsc::channel();
    let body = std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map(|runtime| runtime.block_on(panicking_body(report)))
    });
    let outcome = body.join();
    assert!(outcome.is_err(), "the body was meant to panic: {outcome:?}");
    let created = created.recv().map_err(|_| e2e::Error::Unexpected {
        what: "the body failed before it had a running pod".to_owned(),
        detail: format!("{outcome:?}"),
    })?;
    assert!(!created.netns.is_empty() && !created.links.is_empty());
    created.assert_present(false)
}
