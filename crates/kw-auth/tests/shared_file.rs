//! Two `AuthDb` connections on one file, as the running server and the CLI have: each sees the
//! other's writes at once (WAL mode; nothing is cached).

use std::time::Duration;

use kw_auth::{AuthDb, Hasher, Role};

fn open(path: &std::path::Path) -> AuthDb {
    AuthDb::open_with(path, Hasher::insecure_for_tests()).unwrap()
}

#[test]
fn two_connections_see_each_others_writes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("index.sqlite3");
    let mut server = open(&path);
    let mut cli = open(&path);

    cli.add_user("admin", Role::Admin, None, "first-password").unwrap();
    assert_eq!(server.list_users().unwrap().len(), 1);
    let user = server.authenticate("admin", "first-password").unwrap().unwrap();
    let (sid, _csrf) = server.create_session(&user.name, Duration::from_secs(3600)).unwrap();
    assert!(server.session(&sid).unwrap().is_some());

    // `keepwatch user passwd admin` while the server runs: the old password and session stop working.
    cli.set_password("admin", "second-password").unwrap();
    assert!(server.session(&sid).unwrap().is_none());
    assert!(server.authenticate("admin", "first-password").unwrap().is_none());
    assert!(server.authenticate("admin", "second-password").unwrap().is_some());

    // `keepwatch token create/revoke` while the server runs.
    let token = cli.create_token("ha", Role::Viewer, Some(vec!["garden".into()])).unwrap();
    assert!(server.token(&token).unwrap().unwrap().may_see("garden"));
    cli.revoke_token("ha").unwrap();
    assert!(server.token(&token).unwrap().is_none());

    // And the other way round.
    server.add_user("viewer", Role::Viewer, None, "viewer-password").unwrap();
    assert!(cli.get_user("viewer").unwrap().is_some());

    let mode: String =
        rusqlite::Connection::open(&path).unwrap().query_row("PRAGMA journal_mode", [], |r| r.get(0)).unwrap();
    assert_eq!(mode, "wal");
}
