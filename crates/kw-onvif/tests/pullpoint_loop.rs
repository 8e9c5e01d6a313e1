//! The PullPoint loop against a scripted camera: the replay after each subscription is ignored, a failed
//! pull leads to a fresh subscription, the subscription is renewed before it ends, and stopping
//! unsubscribes.

use kw_onvif::pullpoint::{watch, WatchOptions};
use kw_onvif::{Camera, MotionChange};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

mod common;

#[derive(Default)]
struct Script {
    subscriptions: AtomicU32,
    pulls: Mutex<Vec<u32>>,
    renews: AtomicU32,
    unsubscribes: AtomicU32,
}

fn env(body: &str) -> String {
    format!(
        r#"<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://www.w3.org/2003/05/soap-envelope" xmlns:d="http://www.onvif.org/ver10/device/wsdl" xmlns:e="http://www.onvif.org/ver10/events/wsdl" xmlns:n="http://docs.oasis-open.org/wsn/b-2" xmlns:a="http://www.w3.org/2005/08/addressing" xmlns:s="http://www.onvif.org/ver10/schema" xmlns:tp="http://www.onvif.org/ver10/topics"><SOAP-ENV:Body>{body}</SOAP-ENV:Body></SOAP-ENV:Envelope>"#
    )
}

fn utc(offset_s: i64) -> String {
    let t = time::OffsetDateTime::now_utc() + time::Duration::seconds(offset_s);
    t.format(&time::format_description::well_known::Rfc3339).unwrap()
}

fn note(op: &str, on: bool) -> String {
    format!(
        r#"<n:NotificationMessage><n:Topic Dialect="x">tp:RuleEngine/CellMotionDetector/Motion</n:Topic><n:Message><s:Message UtcTime="{}" PropertyOperation="{op}"><s:Source><s:SimpleItem Name="Rule" Value="R1"/></s:Source><s:Data><s:SimpleItem Name="IsMotion" Value="{on}"/></s:Data></s:Message></n:Message></n:NotificationMessage>"#,
        utc(0)
    )
}

fn answer(s: &Script, base: &str, path: &str, body: &str) -> common::Reply {
    let ok = |b: String, delay_ms| common::Reply { status: 200, headers: String::new(), body: env(&b), delay_ms };
    if body.contains("GetServices") {
        let svc = |ns: &str, p: &str| {
            format!("<d:Service><d:Namespace>{ns}</d:Namespace><d:XAddr>{base}{p}</d:XAddr></d:Service>")
        };
        return ok(
            format!(
                "<d:GetServicesResponse>{}{}</d:GetServicesResponse>",
                svc("http://www.onvif.org/ver10/media/wsdl", "/media"),
                svc("http://www.onvif.org/ver10/events/wsdl", "/events")
            ),
            0,
        );
    }
    if body.contains("CreatePullPointSubscription") {
        let n = s.subscriptions.fetch_add(1, Ordering::Relaxed);
        // A camera that names another address for itself: the client must use the one it knows.
        return ok(
            format!(
                "<e:CreatePullPointSubscriptionResponse><e:SubscriptionReference><a:Address>http://10.255.255.1:1/pp/{n}</a:Address></e:SubscriptionReference><n:CurrentTime>{}</n:CurrentTime><n:TerminationTime>{}</n:TerminationTime></e:CreatePullPointSubscriptionResponse>",
                utc(0),
                utc(12)
            ),
            0,
        );
    }
    if body.contains("PullMessages") {
        let sub: u32 = path.trim_start_matches("/pp/").parse().unwrap();
        let k = {
            let mut pulls = s.pulls.lock().unwrap();
            while pulls.len() <= sub as usize {
                pulls.push(0);
            }
            pulls[sub as usize] += 1;
            pulls[sub as usize]
        };
        let notes = match (sub, k) {
            (0, 1) => note("Initialized", true) + &note("Changed", true),
            (0, _) => return common::Reply { status: 500, headers: String::new(), body: "boom".into(), delay_ms: 0 },
            (_, 1) => note("Initialized", true),
            (_, 2) => note("Changed", false),
            _ => String::new(),
        };
        let delay = if notes.is_empty() { 300 } else { 0 };
        return ok(format!("<e:PullMessagesResponse><e:CurrentTime>{}</e:CurrentTime><e:TerminationTime>{}</e:TerminationTime>{notes}</e:PullMessagesResponse>", utc(0), utc(12)), delay);
    }
    if body.contains("Renew") {
        s.renews.fetch_add(1, Ordering::Relaxed);
        return ok(format!("<n:RenewResponse><n:TerminationTime>{}</n:TerminationTime><n:CurrentTime>{}</n:CurrentTime></n:RenewResponse>", utc(12), utc(0)), 0);
    }
    if body.contains("Unsubscribe") {
        s.unsubscribes.fetch_add(1, Ordering::Relaxed);
        return ok("<n:UnsubscribeResponse/>".into(), 0);
    }
    common::Reply { status: 400, headers: String::new(), body: "?".into(), delay_ms: 0 }
}

async fn next(rx: &mut tokio::sync::mpsc::Receiver<MotionChange>) -> MotionChange {
    tokio::time::timeout(Duration::from_secs(10), rx.recv()).await.unwrap().unwrap()
}

#[tokio::test]
async fn replay_ignored_errors_resubscribe_renew_and_unsubscribe() {
    let script = Arc::new(Script::default());
    let base = Arc::new(Mutex::new(String::new()));
    let (s2, b2) = (script.clone(), base.clone());
    let url = common::serve(Arc::new(move |_h: &str, path: &str, body: &str| {
        let base = b2.lock().unwrap().clone();
        answer(&s2, &base, path, body)
    }))
    .await;
    *base.lock().unwrap() = url.trim_end_matches("/onvif/device_service").to_owned();
    let cam = Camera::connect(&url, None).await.unwrap();
    assert!(cam.services().events.is_some());
    let opts = WatchOptions {
        pull_timeout: Duration::from_secs(1),
        termination: Duration::from_secs(12),
        max_backoff: Duration::from_millis(200),
        ..WatchOptions::default()
    };
    let (tx, mut rx) = tokio::sync::mpsc::channel(8);
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(async move { watch(&cam, &opts, &tx, stop_rx).await });
    let first = next(&mut rx).await;
    assert!(first.on, "{first:?}");
    let second = next(&mut rx).await;
    assert!(!second.on, "the second subscription's replay is not motion; its Changed false ends it: {second:?}");
    assert_eq!(script.subscriptions.load(Ordering::Relaxed), 2, "a failed pull leads to a new subscription");
    // Empty long polls go on; the 12 s subscription is renewed well before it ends.
    tokio::time::timeout(Duration::from_secs(10), async {
        while script.renews.load(Ordering::Relaxed) == 0 {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .expect("a Renew");
    let before = script.unsubscribes.load(Ordering::Relaxed);
    stop_tx.send(true).unwrap();
    let r = tokio::time::timeout(Duration::from_secs(5), task).await.unwrap().unwrap();
    assert_eq!(r, Ok(()));
    assert_eq!(script.unsubscribes.load(Ordering::Relaxed), before + 1, "stopping unsubscribes");
    assert!(rx.try_recv().is_err(), "no other changes");
}
