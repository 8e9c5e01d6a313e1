//! The index behaviour checks of `kw_store::index::conformance` (the ones the SQLite index passes), run
//! against a real PostgreSQL: each check on a database of its own.

use kw_store::index::conformance::CHECKS;
use kw_store_pg::testing::TestCluster;
use kw_store_pg::{PgIndex, PgOptions};

#[test]
fn pg_index_passes_every_conformance_check() {
    let Some(pg) = TestCluster::start_or_skip() else { return };
    for (name, check) in CHECKS {
        let url = pg.new_database();
        let ix = PgIndex::open(&url, uuid::Uuid::new_v4(), PgOptions::default()).expect("open the index");
        eprintln!("conformance check {name}");
        check(&ix);
    }
}
