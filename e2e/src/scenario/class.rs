//! Which Ingresses are ours: `ingressClassName: wicket`, or a class whose controller is
//! wicket's; everything else stays invisible.

use http::StatusCode;

use crate::cluster::Cluster;
use crate::error::Result;
use crate::manifest::{CONTROLLER, Ingress, PathType, Rule, documents, ingress_class};
use crate::testbed::Testbed;

/// Ingresses of a foreign class or of no class are not served; one naming an IngressClass
/// whose controller is wicket's is.
pub async fn ownership<C: Cluster>(tb: &Testbed<C>) -> Result<()> {
    let echoes = tb.backends(&["owned"]).await?;
    tb.apply_echo_services("backends", &echoes).await?;
    let ingress = |name: &str, class: Option<&str>| {
        Ingress::new(name)
            .class(class)
            .rule(Rule::host(&format!("{name}.example")).path("/", PathType::Prefix, "owned"))
            .to_value()
    };
    // The ignored objects come first and in the same bundle as the marker, so once the
    // marker is served they have been seen too.
    let objects = [
        ingress_class("custom", CONTROLLER),
        ingress_class("foreign", "example.com/another-controller"),
        ingress("theirs", Some("foreign")),
        ingress("unclassed", None),
        ingress("undeclared", Some("no-such-class")),
        ingress("mine", Some("custom")),
        ingress("marker", Some(crate::manifest::CLASS)),
    ];
    tb.cluster.apply("ingresses", &documents(&objects)).await?;
    tb.wait_for_backend("marker.example", "/", "owned").await?;

    let mine = tb.get("mine.example", "/").await?;
    assert_eq!(
        mine.backend(),
        Ok("owned".to_owned()),
        "class naming wicket's controller"
    );
    for name in ["theirs", "unclassed", "undeclared"] {
        let reply = tb.get(&format!("{name}.example"), "/").await?;
        assert_eq!(
            reply.status,
            StatusCode::NOT_FOUND,
            "Ingress {name} must be ignored: {}",
            reply.describe()
        );
    }
    Ok(())
}
