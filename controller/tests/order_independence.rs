//! `translate` depends on the set of objects only: every permutation of every vector of
//! the snapshot gives the same table and the same Issues.

mod common;

use controller::{
    snapshot::Snapshot,
    translate::{TranslateConfig, translate},
};

fn permute(snapshot: &Snapshot, how: &mut dyn FnMut(&mut dyn Permutable)) -> Snapshot {
    let mut s = snapshot.clone();
    how(&mut s.ingresses);
    how(&mut s.classes);
    how(&mut s.services);
    how(&mut s.slices);
    how(&mut s.secrets);
    s
}

/// A vector whose order can be changed, whatever its element type.
trait Permutable {
    fn reverse(&mut self);
    fn shuffle(&mut self, rng: &mut common::Rng);
}

impl<T> Permutable for Vec<T> {
    fn reverse(&mut self) {
        self.as_mut_slice().reverse();
    }
    fn shuffle(&mut self, rng: &mut common::Rng) {
        rng.shuffle(self);
    }
}

/// Also shuffles the lists inside slices whose order carries no meaning for routing
/// (endpoints, ports). Issue fields name positions inside the object, so only the table
/// is compared after this.
fn shuffle_slice_internals(snapshot: &mut Snapshot, rng: &mut common::Rng) {
    for slice in &mut snapshot.slices {
        let slice = std::sync::Arc::make_mut(slice);
        rng.shuffle(&mut slice.endpoints);
        if let Some(ports) = &mut slice.ports {
            rng.shuffle(ports);
        }
    }
}

#[test]
fn every_fixture_is_order_independent() {
    let config = TranslateConfig::default();
    for name in common::fixture_names() {
        let snapshot = common::load(&name);
        let expected = translate(&snapshot, &config);
        assert!(
            !expected.0.virtual_hosts.is_empty() || expected.0.default_backend.is_some(),
            "{name}: fixture produces an empty table"
        );

        let reversed = permute(&snapshot, &mut |v| v.reverse());
        common::assert_same(
            &translate(&reversed, &config),
            &expected,
            &format!("{name}: reversed"),
        );

        let mut rng = common::Rng(0x9E37_79B9_7F4A_7C15);
        for round in 0..20 {
            let mut shuffled = permute(&snapshot, &mut |v| v.shuffle(&mut rng));
            common::assert_same(
                &translate(&shuffled, &config),
                &expected,
                &format!("{name}: round {round}"),
            );
            shuffle_slice_internals(&mut shuffled, &mut rng);
            let table = translate(&shuffled, &config).0;
            assert_eq!(
                common::render(&table),
                common::render(&expected.0),
                "{name}: round {round}, slice internals shuffled"
            );
            assert_eq!(
                table, expected.0,
                "{name}: round {round}, slice internals shuffled"
            );
        }
    }
}

#[test]
fn all_fixtures_together_are_order_independent() {
    let union = common::union_of_fixtures();
    let config = TranslateConfig::default();
    let expected = translate(&union, &config);
    assert!(expected.0.virtual_hosts.len() > 10);
    let mut rng = common::Rng(42);
    for round in 0..20 {
        let shuffled = permute(&union, &mut |v| v.shuffle(&mut rng));
        common::assert_same(
            &translate(&shuffled, &config),
            &expected,
            &format!("round {round}"),
        );
    }
}
