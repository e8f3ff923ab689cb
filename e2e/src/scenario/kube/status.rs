//! Ingress status: the published address appears on owned Ingresses only, leaves an Ingress
//! that switches to another class, and follows `--publish-service`.

use http::StatusCode;
use serde_json::json;

use super::{double, ingress, serve_backend, status_writes, wait_status};
use crate::apicluster::{ELECTION_NAMESPACE, Publish, STATUS_ADDRESS};
use crate::cluster::Cluster;
use crate::error::Result;
use crate::manifest::{CLASS, NAMESPACE, documents, ingress_class};
use crate::testbed::Testbed;

/// What another controller wrote into the status of its own Ingress.
const FOREIGN_ADDRESS: &str = "198.51.100.99";

/// An owned Ingress gets [`STATUS_ADDRESS`]; an Ingress of a foreign class keeps what its
/// controller wrote and is never written to; switching the owned Ingress to the foreign
/// class removes our status (and its route). Every status write is wicket's.
pub async fn owned_only() -> Result<()> {
    let tb = Testbed::kubernetes().await?;
    let api = double(&tb.cluster)?;
    let _backends = serve_backend(&tb, "status-app").await?;
    let classes = [ingress_class("foreign", "example.com/another-controller")];
    tb.cluster.apply("classes", &documents(&classes)).await?;
    let theirs = ingress("theirs", Some("foreign"), "status-app").to_value();
    api.apply(theirs)?;
    api.update_status(
        "networking.k8s.io/v1",
        "Ingress",
        NAMESPACE,
        "theirs",
        json!({ "loadBalancer": { "ingress": [{ "ip": FOREIGN_ADDRESS }] } }),
    )?;
    let mine = ingress("mine", Some(CLASS), "status-app");
    tb.cluster.apply("mine", &mine.to_yaml()).await?;
    tb.wait_for_backend("mine.example", "/", "status-app")
        .await?;
    wait_status(api, "mine", &[STATUS_ADDRESS]).await?;

    let switched = ingress("mine", Some("foreign"), "status-app");
    tb.cluster.apply("mine", &switched.to_yaml()).await?;
    tb.wait_for_status("mine.example", "/", StatusCode::NOT_FOUND)
        .await?;
    wait_status(api, "mine", &[]).await?;

    // A later owned Ingress is written, so the foreign one has been seen long before.
    let later = ingress("later", Some(CLASS), "status-app");
    tb.cluster.apply("later", &later.to_yaml()).await?;
    wait_status(api, "later", &[STATUS_ADDRESS]).await?;
    wait_status(api, "theirs", &[FOREIGN_ADDRESS]).await?;

    let writes = status_writes(api)?;
    let to = |name: &str| format!("/ingresses/{name}/status");
    assert!(
        !writes.iter().any(|w| w.path.ends_with(&to("theirs"))),
        "the foreign Ingress's status was written: {writes:?}"
    );
    for name in ["mine", "later"] {
        assert!(
            writes.iter().any(|w| w.path.ends_with(&to(name))),
            "no status write for {name}: {writes:?}"
        );
    }
    assert!(
        writes.iter().all(|w| w.user == "replica-a"),
        "status written by someone else: {writes:?}"
    );
    Ok(())
}

/// With `--publish-service`, owned Ingresses carry the LoadBalancer Service's addresses and
/// follow them when the load balancer changes.
pub async fn publish_service() -> Result<()> {
    let lb = "wicket-lb";
    let publish = Publish::Service {
        namespace: ELECTION_NAMESPACE.to_owned(),
        name: lb.to_owned(),
    };
    let tb = Testbed::kubernetes_with(&publish).await?;
    let api = double(&tb.cluster)?;
    api.apply(json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": { "name": lb, "namespace": ELECTION_NAMESPACE },
        "spec": {
            "type": "LoadBalancer",
            "selector": { "app": "wicket" },
            "ports": [{ "name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP" }],
        },
    }))?;
    let set_lb = |entry: serde_json::Value| {
        api.update_status(
            "v1",
            "Service",
            ELECTION_NAMESPACE,
            lb,
            json!({ "loadBalancer": { "ingress": [entry] } }),
        )
    };
    set_lb(json!({ "ip": "198.51.100.20" }))?;
    let _backends = serve_backend(&tb, "lb-app").await?;
    let web = ingress("web", Some(CLASS), "lb-app");
    tb.cluster.apply("web", &web.to_yaml()).await?;
    tb.wait_for_backend("web.example", "/", "lb-app").await?;
    wait_status(api, "web", &["198.51.100.20"]).await?;

    set_lb(json!({ "hostname": "lb.example.net" }))?;
    wait_status(api, "web", &["lb.example.net"]).await?;
    let writes = status_writes(api)?;
    assert!(
        writes.iter().all(|w| w.user == "replica-a"),
        "status written by someone else: {writes:?}"
    );
    Ok(())
}
