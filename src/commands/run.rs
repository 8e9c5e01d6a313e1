//! `keepwatch run`: the composition root of the daemon. It opens and recovers the store, wires the parts
//! together (events, alerts, the HTTP API, the running set of cameras, retention, health) and then
//! follows the config file (polled, at once after an API edit or a SIGHUP) and Home Assistant's switches
//! until Ctrl-C or SIGTERM.
//!
//! Nothing here does the work itself; each part is a named module: [`crate::config_watch`] publishes the
//! effective config, [`crate::cameras`] keeps the running set in step with it, [`crate::retention`] and
//! [`crate::health`] are tasks, [`crate::alerting`] forwards events to `kw_notify`. A config that fails to
//! parse is reported and the running setup is kept.

use crate::cameras::Cameras;
use crate::config_watch::{ConfigWatcher, Effective};
use crate::events::{EventSink, EventStore};
use crate::supervisor::Status;
use crate::Failure;
use kw_config::Config;
use kw_media::clock::{SharedClock, SystemClock};
use kw_store::Store;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// `keepwatch run`.
pub fn run(config: &Path) -> Result<(), Failure> {
    let cfg = kw_config::load(config)?;
    super::runtime()?.block_on(serve(config.to_path_buf(), cfg, |_| {}))
}

/// Serves until Ctrl-C or SIGTERM. `tick` is called every few seconds with the camera statuses (the demo
/// prints them).
pub(super) async fn serve(
    config: PathBuf,
    cfg: Config,
    mut tick: impl FnMut(&[(String, Status, u64)]),
) -> Result<(), Failure> {
    // Before anything slow: from here on a SIGHUP reloads the config instead of ending the process.
    let mut hangups = crate::config_watch::Hangups::listen();
    let nofile = raise_nofile();
    let (limits, budget) = crate::http::limits::Limits::size(&cfg.server, nofile, cfg.cameras.len());
    limits.log(&budget);
    let bound = crate::http::bind(cfg.server.listen)?;
    let restream = cfg.restream.listen.map(crate::restream::bind).transpose().map_err(Failure::runtime)?;
    let restream_tls = match (cfg.restream.tls_listen, &cfg.server.tls) {
        (Some(addr), Some(tls)) => {
            let acceptor = crate::http::server::tls_acceptor_for(tls, &[]).map_err(Failure::runtime)?;
            Some((crate::restream::bind(addr).map_err(Failure::runtime)?, acceptor))
        }
        _ => None,
    };
    let store = open_store(&config, &cfg).await?;
    let clock: SharedClock = Arc::new(SystemClock);
    let index_file = cfg.storage.path.join(kw_store::INDEX_FILE);
    let sink = EventSink::new(open_events(&index_file, &clock)?);
    let mut cameras = Cameras::new(store.clone(), clock.clone(), sink.clone());
    let link_key = crate::http::links::LinkKey::load_or_create(&cfg.storage.path).map_err(|e| {
        Failure::runtime(format!("cannot read or make the link key in {}: {e}", cfg.storage.path.display()))
    })?;
    let alerts = Arc::new(open_alerts(&index_file, &cfg, &clock, link_key.clone())?);
    set_alert_scope(&alerts, &cfg);
    let alerts_task = alerts.clone().spawn();
    let mut commands = alerts.commands();
    let (mut watcher, config_rx) = ConfigWatcher::new(&config, cfg.clone());
    let forward_task = tokio::spawn(crate::alerting::forward(
        alerts.clone(),
        sink.store().clone(),
        sink.subscribe(),
        config_rx.clone(),
    ));
    let watched = crate::health::Watched {
        cameras: cameras.directory(),
        store: store.clone(),
        store_dir: cfg.storage.path.clone(),
    };
    let health_task = tokio::spawn(crate::health::watch(sink.clone(), watched, clock.clone()));
    let config_changed = Arc::new(tokio::sync::Notify::new());
    let offsite = open_offsite(&index_file, &cfg)?;
    let offsite_task = tokio::spawn(crate::offsite::run(crate::offsite::Parts {
        handle: offsite.clone(),
        spool_dir: cfg.storage.path.join(OFFSITE_SPOOL),
        source: Arc::new(crate::offsite::StoreSource { store: store.clone(), events: sink.store().clone() }),
        sink: sink.clone(),
        notices: sink.subscribe(),
        config: config_rx.clone(),
    }));
    let parts = crate::http::Parts {
        store: store.clone(),
        cameras: cameras.directory(),
        clock: clock.clone(),
        events: sink.store().clone(),
        alerts: alerts.clone(),
        links: link_key,
        config: config_rx.clone(),
        config_changed: config_changed.clone(),
        limits,
        offsite,
    };
    let state = Arc::new(crate::http::AppState::new(parts, &index_file, config.clone())?);
    warn_without_users(&state, &config).await?;
    let handle = crate::http::server::Handle::new();
    let slots = Arc::new(tokio::sync::Semaphore::new(cfg.restream.max_clients));
    let restream_task = restream.map(|l| tokio::spawn(crate::restream::serve(l, state.clone(), slots.clone(), None)));
    let restream_tls_task =
        restream_tls.map(|(l, tls)| tokio::spawn(crate::restream::serve(l, state.clone(), slots.clone(), Some(tls))));
    let server = tokio::spawn(crate::http::serve(bound, cfg.server.tls.clone(), state, handle.clone()));
    tokio::pin!(server);
    apply(&mut cameras, &alerts, &watcher.current());
    if cfg.cameras.is_empty() {
        tracing::warn!("no cameras configured: add a [[cameras]] section to {}", config.display());
    }
    let retention_task =
        tokio::spawn(crate::retention::run(store.clone(), sink.store().clone(), config_rx, clock.clone()));

    let mut poll = tokio::time::interval(crate::config_watch::POLL);
    let mut ticks = 0u64;
    let shutdown = shutdown_signal();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            // An API edit saved the file: look at it now.
            _ = config_changed.notified() => poll.reset_immediately(),
            // `systemctl reload` (SIGHUP): the same, asked by the administrator.
            _ = hangups.recv() => {
                tracing::info!("SIGHUP: reading the config file {} now", config.display());
                poll.reset_immediately();
            }
            Some(cmd) = commands.recv() => {
                tracing::info!(camera = %cmd.camera, "switch {} turned {} (Home Assistant or API)", cmd.what.as_str(), if cmd.on { "on" } else { "off" });
                apply(&mut cameras, &alerts, &watcher.current());
            }
            r = &mut server => {
                retention_task.abort();
                tokio::task::block_in_place(|| cameras.stop_all());
                return match r {
                    Ok(Err(e)) => Err(e),
                    Ok(Ok(())) => Err(Failure::runtime("the HTTP server stopped")),
                    Err(e) => Err(Failure::runtime(format!("the HTTP server failed: {e}"))),
                };
            }
            _ = poll.tick() => {
                ticks += 1;
                if ticks.is_multiple_of(5) {
                    tick(&cameras.statuses());
                }
                if let Some(new) = watcher.poll() {
                    alerts.update_notifiers(&new.notify);
                    apply(&mut cameras, &alerts, &new);
                }
            }
        }
    }
    tracing::info!("shutting down: finishing open segments");
    handle.graceful_shutdown(crate::http::SHUTDOWN_GRACE);
    for t in restream_task.iter().chain(&restream_tls_task) {
        t.abort();
    }
    retention_task.abort();
    health_task.abort();
    tokio::task::block_in_place(|| cameras.stop_all());
    // Motion events ended by the cameras' stop reach the outbox (and the off-site queue) before the
    // workers go.
    tokio::time::sleep(Duration::from_millis(200)).await;
    offsite_task.abort();
    forward_task.abort();
    alerts_task.abort();
    Ok(())
}

/// The off-site spool directory inside the store (encrypted copies waiting to be uploaded).
const OFFSITE_SPOOL: &str = "offsite-spool";

/// The off-site queue in the index and its spool directory (0700).
fn open_offsite(index_file: &Path, cfg: &Config) -> Result<crate::offsite::Handle, Failure> {
    let queue = kw_offsite::Queue::open(index_file)
        .map_err(|e| Failure::runtime(format!("cannot open the off-site queue in {}: {e}", index_file.display())))?;
    let spool = cfg.storage.path.join(OFFSITE_SPOOL);
    kw_offsite::worker::spool_dir(&spool).map_err(|e| Failure::runtime(e.to_string()))?;
    Ok(crate::offsite::Handle { health: kw_offsite::Health::default(), queue, reopen: Default::default() })
}

/// The soft limit on open files above which it is not raised (some code still walks every descriptor).
const NOFILE_CEILING: u64 = 1 << 20;

/// Raises the soft limit on open files to the hard limit (at most [`NOFILE_CEILING`]) and logs it: the HTTP
/// caps are sized from it, after what recording needs is set aside (`http::limits`). Returns the soft limit
/// in force; `None` when there is none.
fn raise_nofile() -> Option<u64> {
    #[cfg(unix)]
    {
        use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
        let lim = getrlimit(Resource::Nofile);
        let soft = lim.current?;
        let hard = lim.maximum;
        let target = hard.unwrap_or(NOFILE_CEILING).min(NOFILE_CEILING).max(soft);
        let shown = |h: Option<u64>| h.map_or("unlimited".to_owned(), |h| h.to_string());
        if target > soft {
            match setrlimit(Resource::Nofile, Rlimit { current: Some(target), maximum: hard }) {
                Ok(()) => {
                    tracing::info!("open file limit {target} (raised from {soft}; hard limit {})", shown(hard));
                    return Some(target);
                }
                Err(e) => tracing::warn!("cannot raise the open file limit from {soft} to {target}: {e}"),
            }
        } else {
            tracing::info!("open file limit {soft} (hard limit {})", shown(hard));
        }
        Some(soft)
    }
    #[cfg(not(unix))]
    None
}

/// Takes the run lock, opens the store (creating it on the first run) and recovers it, off the reactor.
async fn open_store(config: &Path, cfg: &Config) -> Result<Arc<Store>, Failure> {
    let store = {
        let (config, cfg) = (config.to_path_buf(), cfg.clone());
        tokio::task::spawn_blocking(move || crate::store_open::open_for_run(&config, &cfg))
            .await
            .map_err(|e| Failure::runtime(format!("store open task failed: {e}")))??
    };
    let store = Arc::new(store);
    let s = store.clone();
    let recovered =
        tokio::task::spawn_blocking(move || s.recover()).await.map_err(|e| Failure::runtime(e.to_string()))?;
    match recovered {
        Ok(r) => {
            tracing::info!(
                "store {} at {} opened; {}",
                store.id(),
                cfg.storage.path.display(),
                r.to_string().trim_end()
            );
            Ok(store)
        }
        Err(e) => Err(Failure::runtime(format!("recovery of the store failed: {e}"))),
    }
}

/// The events table, with events a crash left open ended now.
fn open_events(index_file: &Path, clock: &SharedClock) -> Result<Arc<EventStore>, Failure> {
    let events = EventStore::open(index_file)
        .map_err(|e| Failure::runtime(format!("cannot open the events tables in {}: {e}", index_file.display())))?;
    match events.finish_open(clock.wall()) {
        Ok(n) if n > 0 => tracing::info!("ended {n} event(s) left open by the last run"),
        Ok(_) => {}
        Err(e) => tracing::warn!("cannot end events left open: {e}"),
    }
    Ok(Arc::new(events))
}

/// The alerts engine, with links in alerts signed by the store's link key.
fn open_alerts(
    index_file: &Path,
    cfg: &Config,
    clock: &SharedClock,
    link_key: crate::http::links::LinkKey,
) -> Result<kw_notify::Alerts, Failure> {
    let c2 = clock.clone();
    let signer: kw_notify::LinkSigner = Arc::new(move |path: &str| {
        link_key.sign(path, c2.wall().div_euclid(1_000_000) + crate::http::links::LINK_TTL_SECS)
    });
    let options = kw_notify::Options {
        language: cfg.server.language.unwrap_or(kw_config::Language::En),
        timezone: cfg.server.timezone.clone(),
        clock: clock.clone(),
        base_url: cfg.alerts.public_url.clone(),
        link_signer: Some(signer),
    };
    kw_notify::Alerts::open(index_file, &cfg.notify, options)
        .map_err(|e| Failure::runtime(format!("cannot open the alerts outbox in {}: {e}", index_file.display())))
}

/// Brings alerts and the running cameras in line with the effective config and Home Assistant's switches.
/// Stopping a camera joins its recorder and motion threads: not on the reactor.
fn apply(cameras: &mut Cameras, alerts: &kw_notify::Alerts, cfg: &Effective) {
    set_alert_scope(alerts, cfg);
    let wanted = crate::alerting::effective_cameras(alerts, &cfg.cameras);
    cameras.set_objects_budget(&cfg.objects);
    tokio::task::block_in_place(|| cameras.apply(&wanted));
}

/// Tells alerts the cameras there are (Home Assistant discovery) and the `home`-mode schedule.
fn set_alert_scope(alerts: &kw_notify::Alerts, cfg: &Config) {
    alerts.set_schedule(schedule_of(cfg));
    alerts.set_cameras(&cfg.cameras.iter().map(|c| c.name.clone()).collect::<Vec<_>>());
}

/// The `home`-mode windows of `[alerts] schedule` (validated when the config was read).
fn schedule_of(cfg: &Config) -> Option<kw_notify::Schedule> {
    cfg.alerts.schedule.as_deref().and_then(|s| kw_notify::Schedule::parse(s).ok())
}

async fn warn_without_users(state: &crate::http::Shared, config: &Path) -> Result<(), Failure> {
    match state.with_auth(|db| db.list_users()).await {
        Ok(users) if users.is_empty() => tracing::warn!(
            "no users yet, so nobody can log in. Create the first admin with: keepwatch user add admin --role admin --config {} (it reads the password from stdin)",
            config.display()
        ),
        Ok(_) => {}
        Err(e) => return Err(Failure::runtime(format!("cannot read the users: {}", e.message))),
    }
    Ok(())
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
                return;
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
