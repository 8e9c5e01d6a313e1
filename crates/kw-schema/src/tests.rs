use super::*;

const TWO: &[&str] = &["CREATE TABLE a (x INTEGER);", "CREATE TABLE b (y INTEGER);"];
const ONE: &[&str] = &["CREATE TABLE a (x INTEGER);"];
const BROKEN: &[&str] = &["CREATE TABLE a (x INTEGER);", "CREATE TABLE b (y INTEGER); THIS IS NOT SQL;"];

fn file() -> (tempfile::TempDir, Connection) {
    let dir = tempfile::tempdir().unwrap();
    let conn = Connection::open(dir.path().join("index.sqlite3")).unwrap();
    (dir, conn)
}

fn tables(c: &Connection) -> Vec<String> {
    let mut st = c.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").unwrap();
    st.query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect()
}

fn table_rows(c: &Connection, name: &str) -> Vec<i64> {
    let mut st = c.prepare(&format!("SELECT version FROM {name}")).unwrap();
    st.query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect()
}

fn pragma(c: &Connection) -> i64 {
    c.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap()
}

#[test]
fn table_style_creates_upgrades_and_is_idempotent() {
    let (_d, mut c) = file();
    assert_eq!(Schema::table("t_schema", ONE).migrate(&mut c).unwrap(), Migrated { from: 0, to: 1 });
    assert_eq!(table_rows(&c, "t_schema"), [1]);
    // A newer build appends a migration: only that one runs.
    let two = Schema::table("t_schema", TWO);
    assert_eq!(two.latest(), 2);
    assert_eq!(two.migrate(&mut c).unwrap(), Migrated { from: 1, to: 2 });
    assert_eq!(two.migrate(&mut c).unwrap(), Migrated { from: 2, to: 2 });
    assert_eq!(table_rows(&c, "t_schema"), [2], "one row, always");
    assert_eq!(tables(&c), ["a", "b", "t_schema"]);
    assert_eq!(pragma(&c), 0, "user_version is not this owner's");
}

#[test]
fn empty_list_still_writes_version_zero() {
    let (_d, mut c) = file();
    assert_eq!(Schema::table("t_schema", &[]).migrate(&mut c).unwrap(), Migrated { from: 0, to: 0 });
    assert_eq!(table_rows(&c, "t_schema"), [0]);
}

#[test]
fn user_version_style() {
    let (_d, mut c) = file();
    let s = Schema::user_version(TWO);
    assert_eq!(s.versioning(), Versioning::UserVersion);
    assert_eq!(s.migrate(&mut c).unwrap(), Migrated { from: 0, to: 2 });
    assert_eq!(pragma(&c), 2);
    assert_eq!(s.migrate(&mut c).unwrap(), Migrated { from: 2, to: 2 });
    assert_eq!(tables(&c), ["a", "b"], "no version table");
}

#[test]
fn owners_share_a_file_independently() {
    let (_d, mut c) = file();
    Schema::user_version(ONE).migrate(&mut c).unwrap();
    Schema::table("x_schema", &["CREATE TABLE x (v INTEGER);"]).migrate(&mut c).unwrap();
    Schema::table("y_schema", &["CREATE TABLE y (v);", "CREATE INDEX y_v ON y(v);"]).migrate(&mut c).unwrap();
    assert_eq!(pragma(&c), 1);
    assert_eq!(table_rows(&c, "x_schema"), [1]);
    assert_eq!(table_rows(&c, "y_schema"), [2]);
}

#[test]
fn newer_and_invalid_versions_are_refused_untouched() {
    let (_d, mut c) = file();
    Schema::table("t_schema", TWO).migrate(&mut c).unwrap();
    let e = Schema::table("t_schema", ONE).migrate(&mut c).unwrap_err();
    assert!(matches!(e, SchemaError::TooNew { found: 2, supported: 1 }), "{e}");
    assert_eq!(table_rows(&c, "t_schema"), [2]);
    c.execute("UPDATE t_schema SET version = -1", []).unwrap();
    assert!(matches!(Schema::table("t_schema", TWO).migrate(&mut c), Err(SchemaError::Invalid(-1))));

    c.pragma_update(None, "user_version", 5).unwrap();
    let e = Schema::user_version(TWO).migrate(&mut c).unwrap_err();
    assert!(matches!(e, SchemaError::TooNew { found: 5, supported: 2 }), "{e}");
    assert!(e.to_string().contains("newer"), "{e}");
    c.pragma_update(None, "user_version", -3).unwrap();
    assert!(matches!(Schema::user_version(TWO).migrate(&mut c), Err(SchemaError::Invalid(-3))));
}

#[test]
fn a_failing_migration_leaves_the_file_as_it_was() {
    for schema in [Schema::table("t_schema", BROKEN), Schema::user_version(BROKEN)] {
        let (_d, mut c) = file();
        assert!(matches!(schema.migrate(&mut c), Err(SchemaError::Sqlite(_))));
        assert!(tables(&c).iter().all(|t| t != "a" && t != "b"), "{:?}", tables(&c));
        assert_eq!(pragma(&c), 0);
    }
}

#[test]
fn a_second_connection_sees_the_first_ones_work() {
    for schema in [Schema::table("t_schema", TWO), Schema::user_version(TWO)] {
        let (d, mut c) = file();
        let mut other = Connection::open(d.path().join("index.sqlite3")).unwrap();
        assert_eq!(schema.migrate(&mut c).unwrap().from, 0);
        assert_eq!(schema.migrate(&mut other).unwrap(), Migrated { from: 2, to: 2 });
    }
}

#[test]
fn table_names_must_be_identifiers() {
    let (_d, mut c) = file();
    for bad in ["", "a b", "x; DROP TABLE y", "1st", "t\"q"] {
        let leaked: &'static str = Box::leak(bad.to_owned().into_boxed_str());
        assert!(matches!(Schema::table(leaked, ONE).migrate(&mut c), Err(SchemaError::BadTableName(_))), "{bad}");
    }
    assert!(tables(&c).is_empty());
}
